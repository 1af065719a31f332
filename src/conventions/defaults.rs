//! Built-in path lists: what counts as a test, CI configuration, infra,
//! a dependency manifest, documentation. A rule whose `globs` key is left out
//! uses these; `extra_globs` adds to them. Patterns follow `globs.rs`.

pub const TEST_FILES: &[&str] = &[
    "tests/",
    "test/",
    "spec/",
    "__tests__/",
    "testdata/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "*_test.go",
    "*.test.js",
    "*.test.jsx",
    "*.test.ts",
    "*.test.tsx",
    "*.spec.js",
    "*.spec.jsx",
    "*.spec.ts",
    "*.spec.tsx",
    "*_spec.rb",
    "*Test.java",
    "*Tests.java",
    "*Test.kt",
];

/// CI pipelines, and the files that decide what a pull request may do
/// (the gate's own configuration, code owners): an edit here changes the
/// rules the change itself is judged by.
pub const CI_CONFIG: &[&str] = &[
    ".github/workflows/",
    ".github/actions/",
    "/.gitlab-ci.yml",
    "/.gitlab-ci/",
    "/.ci/",
    "/.circleci/",
    "/.buildkite/",
    "/.travis.yml",
    "/.drone.yml",
    "/Jenkinsfile",
    "/azure-pipelines.yml",
    "/bitbucket-pipelines.yml",
    "/mergebench.toml",
    "CODEOWNERS",
];

pub const INFRA: &[&str] = &[
    "deploy/",
    "deployment/",
    "deployments/",
    "infra/",
    "infrastructure/",
    "terraform/",
    "*.tf",
    "*.tfvars",
    "k8s/",
    "kubernetes/",
    "helm/",
    "charts/",
    "ansible/",
    "pulumi/",
    "Dockerfile",
    "Dockerfile.*",
    "*.dockerfile",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "Procfile",
    "*.nomad",
    "serverless.yml",
    "fly.toml",
];

pub const MANIFESTS: &[&str] = &[
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements*.txt",
    "requirements/*.txt",
    "constraints*.txt",
    "Pipfile",
    "go.mod",
    "Gemfile",
    "*.gemspec",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "composer.json",
    "*.csproj",
    "packages.config",
    "mix.exs",
    "pubspec.yaml",
    "Package.swift",
    "environment.yml",
    "vcpkg.json",
    "deno.json",
];

pub const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "go.sum",
    "Gemfile.lock",
    "composer.lock",
    "mix.lock",
    "pubspec.lock",
    "Package.resolved",
    "packages.lock.json",
    "gradle.lockfile",
    "flake.lock",
];

/// Runtime configuration: a wrong value here breaks production without a
/// failing test.
pub const CONFIG: &[&str] = &[
    "/config/",
    "/conf/",
    ".env",
    ".env.*",
    "settings.py",
    "application.yml",
    "application.yaml",
    "application.properties",
    "application-*.yml",
    "application-*.properties",
    "appsettings*.json",
];

pub const AUTH: &[&str] = &[
    "auth/",
    "authn/",
    "authz/",
    "oauth/",
    "security/",
    "auth.*",
    "*_auth.*",
    "auth_*.*",
    "permissions.*",
];

pub const MIGRATIONS: &[&str] = &[
    "migrations/",
    "migration/",
    "migrate/",
    "alembic/",
    "flyway/",
    "liquibase/",
];

pub const DOCS: &[&str] = &[
    "docs/",
    "doc/",
    "*.md",
    "*.markdown",
    "*.rst",
    "*.adoc",
    "LICENSE",
    "LICENSE.*",
    "COPYING",
    "AUTHORS",
    "CHANGELOG",
    "CHANGES",
    "NOTICE",
];

pub const SHARED: &[&str] = &["libs/", "shared/", "common/"];

/// Files whose presence in a patch is a leak by itself.
pub const SENSITIVE_FILES: &[&str] = &[
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".pypirc",
    ".netrc",
    "credentials.json",
    "*.kdbx",
];

/// Templates that are meant to be committed despite matching the above.
pub const SENSITIVE_FILE_TEMPLATES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    "*.example.pem",
];

/// Where long random-looking tokens are expected (hashes, embedded images),
/// so the entropy check stays quiet there.
pub const ENTROPY_EXCLUDE: &[&str] = &["*.svg", "*.min.js", "*.min.css", "*.map", "*.snap"];

/// The critical-tier groups of dependency manifests and of lockfiles.
pub const MANIFEST_GROUP: &str = "dependency manifest";
pub const LOCKFILE_GROUP: &str = "dependency lockfile";

/// The critical-tier groups, each with the reason a reviewer is told.
pub fn critical_groups() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("CI configuration", CI_CONFIG),
        ("infrastructure or deployment", INFRA),
        ("runtime configuration", CONFIG),
        ("authentication or authorisation", AUTH),
        ("database migrations", MIGRATIONS),
        (MANIFEST_GROUP, MANIFESTS),
        (LOCKFILE_GROUP, LOCKFILES),
    ]
}

pub fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::globs::PathSet;
    use super::*;

    #[test]
    fn every_builtin_list_compiles() {
        for list in [
            TEST_FILES,
            CI_CONFIG,
            INFRA,
            MANIFESTS,
            LOCKFILES,
            CONFIG,
            AUTH,
            MIGRATIONS,
            DOCS,
            SHARED,
            SENSITIVE_FILES,
            SENSITIVE_FILE_TEMPLATES,
            ENTROPY_EXCLUDE,
        ] {
            PathSet::new(list).unwrap();
        }
    }

    #[test]
    fn builtin_lists_classify_common_paths() {
        let ci = PathSet::new(CI_CONFIG).unwrap();
        assert!(ci.is_match(".github/workflows/ci.yml"));
        assert!(ci.is_match(".gitlab-ci.yml"));
        assert!(ci.is_match(".ci/build.sh"));
        assert!(!ci.is_match("src/ci.rs"));
        let infra = PathSet::new(INFRA).unwrap();
        assert!(infra.is_match("deploy/run.sh"));
        assert!(infra.is_match("services/api/Dockerfile"));
        assert!(infra.is_match("modules/vpc/main.tf"));
        let tests = PathSet::new(TEST_FILES).unwrap();
        assert!(tests.is_match("tests/test_stock.py"));
        assert!(tests.is_match("pkg/store/store_test.go"));
        assert!(!tests.is_match("src/testing_utils.py"));
        let man = PathSet::new(MANIFESTS).unwrap();
        assert!(man.is_match("crates/x/Cargo.toml"));
        assert!(man.is_match("requirements-dev.txt"));
    }
}
