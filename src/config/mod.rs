//! Reading the files users write: suites, tasks and agent specs.
//!
//! Every error names the file, the line where there is one, and the fix. Paths inside a file
//! are relative to that file.

pub mod agent;
pub mod expand;
pub mod gateway;
pub mod limits;
pub mod suite;
pub mod units;

use crate::error::Error;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Parses TOML text into `T`, turning serde's complaint into a located, actionable error.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str, what: &str) -> Result<T, Error> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_at(text, s.start));
        let message = e.message().trim().to_string();
        // The reference page that documents this kind of file.
        let doc = if what.contains("agent") {
            "agents.md"
        } else if what.contains("nightly") {
            "reports.md"
        } else if what.contains("judge") {
            "judging.md"
        } else {
            "tasks.md"
        };
        let fix = if message.contains("unknown field") {
            format!("remove or rename the key; the accepted keys of {what} are listed above")
        } else if message.contains("missing field") {
            format!("add the missing key to {what} (see docs/{doc})")
        } else if message.contains("invalid type") {
            "give the value the type shown above (strings in quotes, lists in [ ])".to_string()
        } else {
            "correct the TOML syntax at that line".to_string()
        };
        Error::input(path, line, format!("{what}: {message}"), fix)
    })
}

/// 1-based line number of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `key` is set inside `[section]` (or at the top level when `section` is
/// None); used to point at the value of a key whose content turned out to be wrong.
pub fn line_of_key(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            // `[name]`, `[[name]]`, either with a comment after it.
            current = Some(
                line.trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            );
            continue;
        }
        let in_section = match (section, &current) {
            (None, None) => true,
            (Some(s), Some(c)) => s == c,
            _ => false,
        };
        if !in_section {
            continue;
        }
        if let Some(rest) = line.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(i + 1);
            }
        }
    }
    None
}

/// The largest file a suite, task or agent spec may name: far above any patch, problem or
/// script, and a stop for `/dev/zero` and the like.
pub const MAX_NAMED_FILE: u64 = 64 << 20;

/// `path`, named in `file` at `line`, when it lies inside `root` once links are followed
/// (returned as named, so file names and build contexts stay what the author wrote); a
/// path that does not exist is returned too, for the read to report.
pub fn inside(
    root: &Path,
    path: &Path,
    what: &str,
    file: &Path,
    line: Option<usize>,
) -> Result<PathBuf, Error> {
    let (Ok(real), Ok(root_real)) = (std::fs::canonicalize(path), std::fs::canonicalize(root))
    else {
        return Ok(path.to_path_buf());
    };
    if !real.starts_with(&root_real) {
        return Err(Error::input(
            file,
            line,
            format!(
                "{what} {} is outside {} (it resolves to {})",
                path.display(),
                root_real.display(),
                real.display()
            ),
            "keep the files this file names inside its folder: copy them in and name them by a relative path",
        ));
    }
    Ok(path.to_path_buf())
}

/// Refuses a path that is not UTF-8: tasks and agent specs are stored as JSON, which holds
/// only UTF-8 paths.
pub fn utf8_path(path: &Path, what: &str) -> Result<(), Error> {
    if path.to_str().is_none() {
        return Err(Error::input(
            path,
            None,
            format!("the path of this {what} is not valid UTF-8"),
            "rename the file and the folders above it with UTF-8 names",
        ));
    }
    Ok(())
}

pub fn read_file(
    path: &Path,
    what: &str,
    referenced_from: Option<(&Path, Option<usize>)>,
) -> Result<Vec<u8>, Error> {
    if let Ok(meta) = std::fs::metadata(path) {
        let (file, line) = referenced_from.unwrap_or((path, None));
        if !meta.is_file() {
            return Err(Error::input(
                file,
                line,
                format!("{what} {} is not a regular file", path.display()),
                "name a plain file",
            ));
        }
        if meta.len() > MAX_NAMED_FILE {
            return Err(Error::input(
                file,
                line,
                format!(
                    "{what} {} is {} bytes, more than the {MAX_NAMED_FILE}-byte limit",
                    path.display(),
                    meta.len()
                ),
                "name a smaller file",
            ));
        }
    }
    std::fs::read(path).map_err(|e| match referenced_from {
        Some((file, line)) => Error::input(
            file,
            line,
            format!("{what} {} cannot be read: {e}", path.display()),
            "create the file or correct the path (paths are relative to the file that names them)",
        ),
        None => Error::input(
            path,
            None,
            format!("cannot read {what}: {e}"),
            "check that the path exists",
        ),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hashes a folder's files (paths and contents, sorted) for cache keys and image tags.
pub fn hash_dir(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    for rel in files {
        let p = dir.join(&rel);
        h.update(rel.as_bytes());
        h.update([0]);
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.file_type().is_symlink() {
            h.update(std::fs::read_link(&p)?.to_string_lossy().as_bytes());
        } else {
            h.update(std::fs::read(&p)?);
        }
        h.update([0]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_by_section() {
        let text = "id = \"a\"\n[tests]\npatch = \"t.patch\"\n[gold]\npatch = \"g.patch\"\n";
        assert_eq!(line_of_key(text, None, "id"), Some(1));
        assert_eq!(line_of_key(text, Some("tests"), "patch"), Some(3));
        assert_eq!(line_of_key(text, Some("gold"), "patch"), Some(5));
        assert_eq!(line_of_key(text, Some("repo"), "base"), None);
    }

    #[test]
    fn toml_errors_name_the_line() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            id: String,
        }
        let err = parse_toml::<T>(
            Path::new("x/task.toml"),
            "id = \"a\"\ntitel = \"b\"\n",
            "task",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("x/task.toml:2:"), "{err}");
        assert!(err.contains("unknown field `titel`"), "{err}");
        assert!(err.contains("fix:"), "{err}");
    }
}
