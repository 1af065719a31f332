//! Go: Debian's Go (bookworm's 1.19, or 1.23 from bookworm-backports for newer go.mod
//! files), modules from `vendor/` where the repository has them. Without a vendor folder
//! modules need a Go module proxy, which this network does not reach: the Dockerfile takes
//! one as a build argument, so a team with a mirror sets only that.

use super::command::{self, first_mapped, split_env, unknowable};
use super::version;
use super::MANIFESTS_DIR;
use super::{dockerfile_head, strings, Apt, Language, Proposal, Repo, Toolchain};
use crate::testparse::Format;

/// bookworm's golang-go.
const BOOKWORM_GO: &[u64] = &[1, 19];
/// The newest golang-1.x-go in bookworm-backports.
const BACKPORTS_GO: &[u64] = &[1, 23];
const DEFAULT_COMMAND: &str = "go test -json ./...";

pub fn propose(repo: &Repo) -> Proposal {
    let mut notes = Vec::new();
    let go_mod = repo.text("go.mod").unwrap_or_default();
    let go_line = directive(&go_mod, "go").and_then(|v| version::parse(&v));
    let vendored = repo.has("vendor/modules.txt");
    let sums = repo
        .text("go.sum")
        .is_some_and(|s| s.lines().any(|l| !l.trim().is_empty()));
    let requires = go_mod
        .lines()
        .any(|l| l.trim_start().starts_with("require"));
    let needs_modules = !vendored && (sums || requires);
    let use_backports = go_line
        .as_ref()
        .is_some_and(|v| version::cmp(v, BOOKWORM_GO).is_gt());
    let toolchain = toolchain(go_line.as_deref(), use_backports, &mut notes);
    if repo.has("go.work") {
        notes.push(
            "go.work joins several modules; only the top-level go.mod's modules are prepared, \
             so tests of the other modules may lack theirs"
                .into(),
        );
    }
    let manifests = if needs_modules {
        notes.push(
            "go.sum lists modules and there is no vendor/ folder: modules come from a Go module \
             proxy, which the image build cannot reach here, so packages that import them will \
             not build. A team with a mirror sets `ARG GOPROXY=https://their-mirror` in \
             env/Dockerfile (and GONOSUMDB or GOPRIVATE for private modules); committing \
             vendor/ (go mod vendor) also works"
                .into(),
        );
        ["go.mod", "go.sum"]
            .iter()
            .filter(|f| repo.has(f))
            .map(|f| f.to_string())
            .collect()
    } else {
        Vec::new()
    };
    let (command, command_source) = first_mapped(repo, go_command)
        .unwrap_or_else(|| (DEFAULT_COMMAND.to_string(), "default for go".to_string()));
    Proposal {
        language: Language::Go,
        command,
        format: Format::GoJson,
        command_source,
        test_globs: strings(&["**/*_test.go", "**/testdata/**"]),
        dockerfile: dockerfile(use_backports, vendored, &manifests),
        dockerfile_key: None,
        manifests,
        sources: Vec::new(),
        toolchain,
        notes,
    }
}

fn dockerfile(backports: bool, vendored: bool, manifests: &[String]) -> String {
    let go = if backports {
        Apt {
            backports: true,
            ..Apt::unless("command -v go >/dev/null 2>&1", "golang-1.23-go")
        }
    } else {
        Apt::unless("command -v go >/dev/null 2>&1", "golang-go")
    };
    let mut text = dockerfile_head(Language::Go, &[go, Apt::always("gcc libc6-dev")]);
    let path = if backports {
        "PATH=/usr/lib/go-1.23/bin:$PATH "
    } else {
        ""
    };
    let mode = if vendored { "vendor" } else { "mod" };
    text.push_str(&format!(
        "# The build cache lives in /tmp, writable at test time; modules in /opt/go, read-only.\n\
# Test binaries are built in GOTMPDIR and run from there, and the test run's /tmp is\n\
# mounted noexec, so GOTMPDIR is a folder of the image anyone may write. GOTOOLCHAIN=local:\n\
# Go must not try to download another toolchain.\n\
ENV {path}GOTOOLCHAIN=local GOPATH=/tmp/go GOMODCACHE=/opt/go/pkg/mod GOCACHE=/tmp/go-cache GOTMPDIR=/opt/go/tmp CGO_ENABLED=1\n"
    ));
    if manifests.is_empty() {
        text.push_str(
            "RUN mkdir -p /opt/go/pkg/mod /opt/go/tmp && chmod 1777 /opt/go/tmp && go version\n",
        );
    } else {
        text.push_str(&format!(
            "# No Go module proxy is reachable from here, so modules are downloaded only when\n\
# GOPROXY names one: set it to your mirror (and GONOSUMDB or GOPRIVATE for private modules).\n\
ARG GOPROXY=off\n\
ARG GONOSUMDB=\n\
ARG GOPRIVATE=\n\
COPY {MANIFESTS_DIR}/ /opt/manifests/\n\
RUN set -eu; \\\n    \
mkdir -p /opt/go/pkg/mod /opt/go/tmp; \\\n    \
if [ \"$GOPROXY\" != off ]; then cd /opt/manifests && go mod download && cd /; fi; \\\n    \
rm -rf /opt/manifests; \\\n    \
chmod -R a+rX /opt/go; \\\n    \
chmod 1777 /opt/go/tmp; \\\n    \
go version\n"
        ));
    }
    text.push_str(&format!(
        "# Tests run with no network: modules come from {} only.\n\
ENV GOFLAGS=-mod={mode} GOPROXY=off GOSUMDB=off\n",
        if vendored {
            "vendor/"
        } else {
            "the module cache"
        }
    ));
    text
}

/// The value of a go.mod directive such as `go 1.22` or `toolchain go1.22.3`.
fn directive(go_mod: &str, name: &str) -> Option<String> {
    go_mod.lines().find_map(|l| {
        let l = l.split("//").next().unwrap_or("").trim();
        let (key, value) = l.split_once(char::is_whitespace)?;
        (key == name).then(|| value.trim().to_string())
    })
}

fn toolchain(go_line: Option<&[u64]>, backports: bool, notes: &mut Vec<String>) -> Toolchain {
    let provided = if backports {
        "go 1.23 (golang-1.23-go from bookworm-backports)"
    } else {
        "go 1.19 (Debian bookworm's golang-go)"
    };
    let available = go_line.is_none_or(|v| version::cmp(v, BACKPORTS_GO).is_le());
    if let (false, Some(v)) = (available, go_line) {
        let v = version::show(&v[..v.len().min(2)]);
        notes.push(format!(
            "go.mod asks for go {v}; bookworm-backports has 1.23 at most: set [environment] base \
             to an image with Go {v} (such as golang:{v}-bookworm)"
        ));
    }
    Toolchain {
        provided: provided.into(),
        wanted: go_line.map(|v| format!("go {}", version::show(v))),
        wanted_by: go_line.map(|_| "go.mod".to_string()),
        available,
    }
}

/// A `go test` (or `gotestsum -- ...`) from the repository's CI, as JSON and to the end:
/// what selects tests or stops early is left out.
fn go_command(words: &[String]) -> Option<String> {
    let (env, rest) = split_env(words);
    let args: &[String] = match rest {
        [g, t, tail @ ..] if g == "go" && t == "test" => tail,
        [g, tail @ ..] if g == "gotestsum" => match tail.iter().position(|w| w == "--") {
            Some(i) => &tail[i + 1..],
            None => &tail[tail.len()..],
        },
        _ => return None,
    };
    const WITH_VALUE: &[&str] = &[
        "-run",
        "-skip",
        "-bench",
        "-benchtime",
        "-count",
        "-cpu",
        "-parallel",
        "-timeout",
        "-tags",
        "-coverprofile",
        "-covermode",
        "-coverpkg",
        "-o",
        "-exec",
        "-ldflags",
        "-gcflags",
        "-mod",
        "-p",
        "-vet",
        "-shuffle",
        "-modfile",
        "-outputdir",
        "-blockprofile",
        "-cpuprofile",
        "-memprofile",
        "-mutexprofile",
        "-trace",
    ];
    const KEEP: &[&str] = &[
        "-race",
        "-short",
        "-cover",
        "-covermode",
        "-coverpkg",
        "-count",
        "-timeout",
        "-tags",
        "-ldflags",
        "-gcflags",
        "-trimpath",
        "-p",
        "-parallel",
        "-cpu",
        "-vet",
        "-shuffle",
    ];
    let mut kept = Vec::new();
    let mut packages = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        i += 1;
        if w == "-args" {
            break;
        }
        if !w.starts_with('-') {
            if !unknowable(w) {
                packages.push(w.clone());
            }
            continue;
        }
        // Go accepts `-flag` and `--flag`, `-flag value` and `-flag=value`.
        let bare = format!("-{}", w.trim_start_matches('-'));
        let (flag, inline) = match bare.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (bare.clone(), None),
        };
        let value = if inline.is_none() && WITH_VALUE.contains(&flag.as_str()) {
            i += 1;
            args.get(i - 1).cloned()
        } else {
            None
        };
        if !KEEP.contains(&flag.as_str())
            || unknowable(w)
            || value.as_deref().is_some_and(unknowable)
        {
            continue;
        }
        kept.push(bare);
        kept.extend(value);
    }
    if packages.is_empty() {
        packages.push("./...".into());
    }
    let mut out = env;
    out.extend(strings(&["go", "test", "-json"]));
    out.extend(kept);
    out.extend(packages);
    Some(command::render(&out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_invocations, repo_of};
    use super::*;

    fn propose_files(files: &[(&str, &str)]) -> Proposal {
        let (paths, read) = repo_of(files);
        propose(&Repo::new(&paths, &*read))
    }

    const GO_MOD: &str =
        "module example.com/shop\n\ngo 1.22 // minimum\n\nrequire github.com/google/uuid v1.6.0\n";

    #[test]
    fn a_vendored_module_builds_from_vendor_with_backports_go() {
        let p = propose_files(&[
            ("go.mod", GO_MOD),
            ("go.sum", "github.com/google/uuid v1.6.0 h1:x\n"),
            ("vendor/modules.txt", "# github.com/google/uuid v1.6.0\n"),
            ("main.go", "package main"),
        ]);
        let df = &p.dockerfile;
        for want in [
            "golang-1.23-go",
            "backports=1",
            "bookworm-backports main",
            "gcc libc6-dev",
            "PATH=/usr/lib/go-1.23/bin:$PATH",
            "GOCACHE=/tmp/go-cache",
            "GOPATH=/tmp/go",
            "GOTMPDIR=/opt/go/tmp",
            "chmod 1777 /opt/go/tmp",
            "CGO_ENABLED=1",
            "GOTOOLCHAIN=local",
            "ENV GOFLAGS=-mod=vendor GOPROXY=off",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        assert!(!df.contains("COPY"), "{df}");
        assert!(p.manifests.is_empty());
        assert_eq!(p.command, "go test -json ./...");
        assert_eq!(p.command_source, "default for go");
        assert_eq!(p.toolchain.wanted.as_deref(), Some("go 1.22"));
        assert!(p.toolchain.available);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn modules_without_vendor_wait_for_a_proxy() {
        let p = propose_files(&[
            ("go.mod", GO_MOD),
            ("go.sum", "github.com/google/uuid v1.6.0 h1:x\n"),
        ]);
        let df = &p.dockerfile;
        for want in [
            "ARG GOPROXY=off",
            "ARG GONOSUMDB=",
            "ARG GOPRIVATE=",
            "COPY manifests/ /opt/manifests/",
            "if [ \"$GOPROXY\" != off ]; then cd /opt/manifests && go mod download",
            "ENV GOFLAGS=-mod=mod GOPROXY=off",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        assert_eq!(p.manifests, vec!["go.mod", "go.sum"]);
        assert_eq!(p.notes.len(), 1);
        assert!(
            p.notes[0].contains("GOPROXY=https://their-mirror"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn go_versions_pick_the_package_or_a_note() {
        // (go.mod, package, available, note mentions)
        let cases = [
            ("module a\n\ngo 1.16\n", "golang-go", true, None),
            ("module a\n", "golang-go", true, None),
            ("module a\ngo 1.21.0\ntoolchain go1.22.1\n", "golang-1.23-go", true, None),
            ("module a\n\ngo 1.24\n", "golang-1.23-go", false, Some("go.mod asks for go 1.24; bookworm-backports has 1.23 at most: set [environment] base to an image with Go 1.24")),
        ];
        for (go_mod, package, available, note) in cases {
            let p = propose_files(&[("go.mod", go_mod)]);
            assert!(p.dockerfile.contains(package), "{go_mod}: {}", p.dockerfile);
            assert_eq!(p.toolchain.available, available, "{go_mod}");
            assert_eq!(
                p.notes.first().map(|n| n.contains(note.unwrap_or("?"))),
                note.map(|_| true),
                "{go_mod}: {:?}",
                p.notes
            );
        }
    }

    #[test]
    fn go_test_invocations_run_everything_as_json() {
        let table = include_str!("testdata/go_invocations.txt");
        check_invocations(&Format::GoJson, table, |words| go_command(&words));
    }
}
