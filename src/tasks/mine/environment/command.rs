//! The test command a repository states for itself: the shell lines its CI and task files
//! run (GitHub workflows, GitLab CI, tox, nox, the Makefile's `test` target), split into
//! simple commands that each language maps onto a runner mergebench can read.
//!
//! YAML is read by lines rather than parsed: only `run:` and `script:` values matter, and a
//! malformed or exotic file must cost the proposal a default command, never an error.

use super::Repo;

/// A shell line found in one of the repository's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// The file it came from.
    pub source: String,
}

/// The first simple command, in the order the files are read, that `map` turns into a
/// test command, with the file it came from.
pub fn first_mapped<T>(repo: &Repo, map: impl Fn(&[String]) -> Option<T>) -> Option<(T, String)> {
    for line in lines(repo) {
        for segment in segments(&without_expressions(&line.text)) {
            let Some(words) = words(&segment) else {
                continue;
            };
            if let Some(command) = map(&words) {
                return Some((command, line.source));
            }
        }
    }
    None
}

/// The line with each CI expression (`${{ matrix.python }}`) made a variable, whose value
/// is unknown here: one word, which the maps then drop.
fn without_expressions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(len) => {
                out.push_str("$expression");
                rest = &rest[start + len + 2..];
            }
            None => {
                out.push_str("$expression");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The shell lines of the repository's CI and task files: GitHub workflows (by name),
/// `.gitlab-ci.yml`, tox.ini's `commands`, nox sessions' `session.run`, then the Makefile's
/// `test` target.
pub fn lines(repo: &Repo) -> Vec<Line> {
    let mut out = Vec::new();
    let workflows: Vec<&str> = repo
        .paths()
        .filter(|p| {
            p.strip_prefix(".github/workflows/")
                .is_some_and(|n| !n.contains('/') && (n.ends_with(".yml") || n.ends_with(".yaml")))
        })
        .collect();
    for path in workflows {
        if let Some(text) = repo.command_text(path) {
            out.extend(yaml_commands(&text, &["run"]).into_iter().map(|t| Line {
                text: t,
                source: path.to_string(),
            }));
        }
    }
    if let Some(text) = repo.command_text(".gitlab-ci.yml") {
        out.extend(yaml_commands(&text, &["script"]).into_iter().map(|t| Line {
            text: t,
            source: ".gitlab-ci.yml".into(),
        }));
    }
    if let Some(text) = repo.command_text("tox.ini") {
        out.extend(tox_commands(&text).into_iter().map(|t| Line {
            text: t,
            source: "tox.ini".into(),
        }));
    }
    if let Some(text) = repo.command_text("noxfile.py") {
        out.extend(nox_commands(&text).into_iter().map(|t| Line {
            text: t,
            source: "noxfile.py".into(),
        }));
    }
    if let Some(text) = repo.command_text("Makefile") {
        out.extend(make_commands(&text, "test").into_iter().map(|t| Line {
            text: t,
            source: "Makefile".into(),
        }));
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A YAML scalar's text: quotes removed, a trailing comment dropped.
fn scalar(value: &str) -> String {
    let v = value.trim();
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return inner.replace("''", "'");
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

/// The commands under each `key:` of a YAML file: a scalar, a block scalar (`|`, `>`), or a
/// list of either. A block's lines are commands of their own, joined where they end in `\`
/// (and all joined for a folded `>` block).
pub fn yaml_commands(text: &str, keys: &[&str]) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let body = line.trim_start();
        let body = body.strip_prefix("- ").unwrap_or(body).trim_start();
        let key_indent = line.len() - body.len();
        let Some((key, value)) = body.split_once(':') else {
            i += 1;
            continue;
        };
        if !keys.contains(&key.trim()) || key.contains(' ') {
            i += 1;
            continue;
        }
        let value = value.trim();
        i += 1;
        if value.is_empty() {
            // A list of items, each a scalar or a block of its own.
            while i < lines.len() {
                let l = lines[i];
                if l.trim().is_empty() || l.trim_start().starts_with('#') {
                    i += 1;
                    continue;
                }
                if indent(l) < key_indent {
                    break;
                }
                let Some(item) = l.trim_start().strip_prefix("- ") else {
                    break;
                };
                let item_indent = indent(l);
                i += 1;
                if is_block(item) {
                    let (block, next) = block_lines(&lines, i, item_indent);
                    out.extend(join_block(&block, item.trim().starts_with('>')));
                    i = next;
                } else {
                    out.push(scalar(item));
                }
            }
        } else if is_block(value) {
            let (block, next) = block_lines(&lines, i, key_indent);
            out.extend(join_block(&block, value.starts_with('>')));
            i = next;
        } else if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            out.extend(inner.split(',').map(scalar).filter(|s| !s.is_empty()));
        } else {
            out.push(scalar(value));
        }
    }
    out
}

fn is_block(value: &str) -> bool {
    let v = value.trim();
    (v.starts_with('|') || v.starts_with('>')) && v.len() <= 3
}

/// The lines of a block scalar that starts at `start`: those indented deeper than its key.
fn block_lines<'a>(lines: &[&'a str], start: usize, key_indent: usize) -> (Vec<&'a str>, usize) {
    let mut i = start;
    let mut block = Vec::new();
    while i < lines.len() {
        let l = lines[i];
        if !l.trim().is_empty() && indent(l) <= key_indent {
            break;
        }
        block.push(l.trim());
        i += 1;
    }
    (block, i)
}

fn join_block(block: &[&str], folded: bool) -> Vec<String> {
    if folded {
        let all = block
            .iter()
            .filter(|l| !l.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        return vec![all];
    }
    join_continued(block.iter().copied())
}

/// Lines with those ending in `\` joined to the next; blank lines and comments left out.
fn join_continued<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for l in lines {
        let l = l.trim();
        if current.is_empty() && (l.is_empty() || l.starts_with('#')) {
            continue;
        }
        match l.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(l);
                out.push(std::mem::take(&mut current).trim().to_string());
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// The `commands` of tox.ini's test environments, `{posargs}` and `{toxinidir}` resolved.
pub fn tox_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (section, key, value) in ini_values(text) {
        if key != "commands" || !(section == "testenv" || section.starts_with("testenv:")) {
            continue;
        }
        for line in join_continued(value.lines()) {
            // A leading `-` tells tox to ignore the command's exit status.
            let line = line.trim_start_matches('-').trim();
            out.push(tox_substitute(line));
        }
    }
    out
}

fn tox_substitute(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 1..start + len];
        let replaced = match inner.split_once(':') {
            Some(("posargs", default)) => default.to_string(),
            _ => match inner {
                "posargs" => String::new(),
                "toxinidir" | "tox_root" => ".".into(),
                "envpython" => "python".into(),
                // Anything else cannot be resolved here; `$` makes the word dropped later.
                _ => format!("${inner}"),
            },
        };
        out.push_str(&replaced);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `(section, key, value)` of an INI file, values continued on indented lines.
pub fn ini_values(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_string();
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut().filter(|l| l.0 == section) {
                if !trimmed.is_empty() {
                    last.2.push('\n');
                    last.2.push_str(trimmed);
                }
            }
            continue;
        }
        if let Some((k, v)) = trimmed.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// `session.run("pytest", "-q", ...)` in a noxfile, its string arguments as a command line.
pub fn nox_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("session.run(") {
        rest = &rest[at + "session.run(".len()..];
        let end = rest.find(')').unwrap_or(rest.len());
        let args = &rest[..end];
        let mut words = Vec::new();
        for part in args.split(',') {
            let p = part.trim();
            let quoted = (p.starts_with('"') && p.ends_with('"'))
                || (p.starts_with('\'') && p.ends_with('\''));
            if quoted && p.len() >= 2 {
                words.push(super::shell_quote(&p[1..p.len() - 1]));
            } else if !p.is_empty() && !p.starts_with('*') && !p.contains('=') {
                // A variable: its value is unknown.
                words.push("$unknown".into());
            }
        }
        if !words.is_empty() {
            out.push(words.join(" "));
        }
    }
    out
}

/// The recipe of a Makefile target, `$(VAR)` for tools mapped to the tool's name.
pub fn make_commands(text: &str, target: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    let recipe: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    for line in recipe {
        if inside {
            if let Some(cmd) = line.strip_prefix('\t') {
                lines.push(cmd.trim_start_matches(['@', '-', '+']).trim());
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            break;
        }
        let head = line.split(':').next().unwrap_or("");
        if !line.starts_with(['\t', ' ', '#'])
            && line.contains(':')
            && !line.contains(":=")
            && head.split_whitespace().any(|t| t == target)
        {
            inside = true;
        }
    }
    for l in join_continued(lines.into_iter()) {
        out.push(make_variables(&l));
    }
    out
}

fn make_variables(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            let name = w
                .strip_prefix("$(")
                .and_then(|n| n.strip_suffix(')'))
                .or_else(|| w.strip_prefix("${").and_then(|n| n.strip_suffix('}')));
            match name.map(|n| n.to_ascii_uppercase()) {
                Some(n) if n.starts_with("PYTHON") || n == "PY" => "python".to_string(),
                Some(n) if n == "GO" || n == "GOCMD" => "go".to_string(),
                Some(n) if n == "CARGO" => "cargo".to_string(),
                Some(n) if n == "NPM" => "npm".to_string(),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A shell line's simple commands: split at `&&`, `||`, `;` and `|` outside quotes.
pub fn segments(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';' | '|') => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(std::mem::take(&mut current));
            }
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A simple command's words as the shell splits them (quotes removed). None when it uses
/// what cannot be followed here: an unclosed quote, a subshell, redirections.
pub fn words(segment: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut started = false;
    let mut quote: Option<char> = None;
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => current.push(chars.next()?),
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, '\\') => {
                current.push(chars.next()?);
                started = true;
            }
            (None, '(' | ')' | '<' | '>' | '`') => return None,
            (None, c) if c.is_whitespace() => {
                if started || !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, c) => current.push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    if started || !current.is_empty() {
        out.push(current);
    }
    Some(out)
}

/// `NAME=value` words at the start of a command (kept as the command's environment), and
/// the rest. Assignments whose value cannot be known here are dropped.
pub fn split_env(words: &[String]) -> (Vec<String>, &[String]) {
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let n = words.iter().take_while(|w| is_assignment(w)).count();
    let env = words[..n]
        .iter()
        .filter(|w| !w.contains('$'))
        .cloned()
        .collect();
    (env, &words[n..])
}

/// Words that cannot be known outside the CI run: variables and expressions.
pub fn unknowable(word: &str) -> bool {
    word.contains('$') || word.contains("{{")
}

/// Words joined into a shell line, each quoted where it needs it.
pub fn render(words: &[String]) -> String {
    words
        .iter()
        .map(|w| super::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_commands_come_from_scalars_blocks_and_lists() {
        let workflow = "\
name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -e .[test]   # editable
      - name: Test
        run: |
          python -m pip list
          python -m pytest -x \\
            tests/
      - name: Folded
        run: >
          echo one
          two
      - run: \"make lint\"
";
        assert_eq!(
            yaml_commands(workflow, &["run"]),
            vec![
                "pip install -e .[test]",
                "python -m pip list",
                "python -m pytest -x tests/",
                "echo one two",
                "make lint",
            ]
        );
        let gitlab = "\
test:
  image: python:3.11
  script:
    - pip install -r requirements.txt
    - |
      pytest -q
      echo done
  after_script: [echo bye]
lint:
  script: ruff check .
other:
  script: [make a, make b]
";
        assert_eq!(
            yaml_commands(gitlab, &["script"]),
            vec![
                "pip install -r requirements.txt",
                "pytest -q",
                "echo done",
                "ruff check .",
                "make a",
                "make b",
            ]
        );
    }

    #[test]
    fn yaml_that_is_not_as_expected_gives_nothing_or_what_it_can() {
        let cases = [
            "",
            "run:",
            "run: |",
            ":::",
            "- - run:\n  - ",
            "\u{feff}run: x",
        ];
        for text in cases {
            let _ = yaml_commands(text, &["run", "script"]);
        }
        assert_eq!(yaml_commands("run: |\n", &["run"]), Vec::<String>::new());
    }

    #[test]
    fn tox_nox_and_make_commands() {
        let tox = "[tox]\nenvlist = py311\n\n[testenv]\ndeps = -r requirements-dev.txt\ncommands =\n    -python -m pip list\n    pytest {posargs:tests} --basetemp={envtmpdir}\n";
        assert_eq!(
            tox_commands(tox),
            vec!["python -m pip list", "pytest tests --basetemp=$envtmpdir"]
        );
        let nox = "@nox.session\ndef tests(session):\n    session.install(\".[test]\")\n    session.run(\"pytest\", \"-q\", *session.posargs)\n";
        assert_eq!(nox_commands(nox), vec!["pytest -q"]);
        let make = ".PHONY: test lint\nVAR := x\nlint:\n\truff .\ntest: deps\n\t@$(PYTHON) -m pytest \\\n\t  tests\n\nbuild:\n\tgo build\n";
        assert_eq!(make_commands(make, "test"), vec!["python -m pytest tests"]);
    }

    #[test]
    fn lines_split_into_simple_commands_and_words() {
        assert_eq!(
            segments("cd app && pytest -q 'a b' | tee out; echo \"x && y\" || true"),
            vec![
                "cd app",
                "pytest -q 'a b'",
                "tee out",
                "echo \"x && y\"",
                "true"
            ]
        );
        // (segment, words)
        let cases: &[(&str, Option<&[&str]>)] = &[
            (
                "pytest -k 'not slow' tests",
                Some(&["pytest", "-k", "not slow", "tests"]),
            ),
            ("A=1 go test ./...", Some(&["A=1", "go", "test", "./..."])),
            ("echo \"a\\\"b\"", Some(&["echo", "a\"b"])),
            ("pytest $(ls tests)", None),
            ("pytest > out.txt", None),
            ("echo 'open", None),
            ("x ''", Some(&["x", ""])),
        ];
        for (seg, want) in cases {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(words(seg), want, "{seg}");
        }
    }
}
