//! A mined task's folder: its files, written into a hidden folder beside the final one and
//! renamed into place, so the folder appears whole or not at all (`load_suite` skips hidden
//! folders, and a killed run leaves no task behind).

use crate::error::Error;
use std::path::{Path, PathBuf};

/// Everything a mined task folder holds.
#[derive(Debug, Clone)]
pub struct TaskFiles {
    pub id: String,
    pub title: String,
    /// Who rewrote the problem statement (`--rewrite`), if anyone did.
    pub rewritten_by: Option<String>,
    /// YYYY-MM-DD: the day the commit landed.
    pub created: String,
    pub tags: Vec<String>,
    pub commit: String,
    pub base: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub problem: String,
    pub gold: Vec<u8>,
    pub tests: Vec<u8>,
    /// The Dockerfile of the task's own environment, relative to its folder, when its
    /// parent commit's dependencies differ from the suite's; None: the suite's.
    pub environment: Option<String>,
}

/// The text of task.toml.
pub fn task_toml(t: &TaskFiles) -> String {
    let q = |v: &str| toml::Value::String(v.to_string()).to_string();
    let list = |v: &[String]| {
        if v.is_empty() {
            "[]".to_string()
        } else {
            format!(
                "[\n{}]",
                v.iter()
                    .map(|x| format!("    {},\n", q(x)))
                    .collect::<String>()
            )
        }
    };
    let rewritten = t
        .rewritten_by
        .as_ref()
        .map(|by| {
            let by = by.replace(['\n', '\r'], " ");
            format!("# Problem statement rewritten by {by}, leak-checked.\n")
        })
        .unwrap_or_default();
    format!(
        "# Mined by `mergebench tasks mine` from commit {commit}.\n\
{rewritten}\
id = {id}\n\
title = {title}\n\
created = {created}\n\
tags = [{tags}]\n\
problem = \"problem.md\"\n\
\n\
[repo]\n\
# The parent of that commit; {from}\n\
base = {base}\n\
\n\
{environment}\
[tests]\n\
patch = \"tests.patch\"\n\
fail_to_pass = {f2p}\n\
pass_to_pass = {p2p}\n\
\n\
[gold]\n\
patch = \"gold.patch\"\n",
        commit = t.commit,
        id = q(&t.id),
        title = q(&t.title),
        created = t.created,
        tags = t.tags.iter().map(|x| q(x)).collect::<Vec<_>>().join(", "),
        base = q(&t.base),
        from = if t.environment.is_some() {
            "source and test command come from ../suite.toml."
        } else {
            "source, environment and test command come from ../suite.toml."
        },
        environment = t
            .environment
            .as_ref()
            .map(|df| format!(
                "[environment]\n\
# The parent commit's dependencies differ from the suite's: an environment of their own,\n\
# shared by every task whose dependencies are the same.\n\
dockerfile = {}\n\
\n",
                q(df)
            ))
            .unwrap_or_default(),
        f2p = list(&t.fail_to_pass),
        p2p = list(&t.pass_to_pass),
    )
}

/// A task folder written but not yet in place.
pub struct Staged {
    dir: tempfile::TempDir,
}

impl Staged {
    pub fn task_file(&self) -> PathBuf {
        self.dir.path().join("task.toml")
    }
}

/// Writes the task's files into a new hidden folder inside `suite`.
pub fn stage(suite: &Path, t: &TaskFiles) -> Result<Staged, Error> {
    let dir = tempfile::Builder::new()
        .prefix(&format!(".mine-{}-", t.id))
        .tempdir_in(suite)
        .map_err(|e| Error::infra_from(format!("temporary folder in {}", suite.display()), e))?;
    for (name, bytes) in [
        ("task.toml", task_toml(t).into_bytes()),
        ("problem.md", t.problem.clone().into_bytes()),
        ("gold.patch", t.gold.clone()),
        ("tests.patch", t.tests.clone()),
    ] {
        std::fs::write(dir.path().join(name), bytes).map_err(|e| {
            Error::infra_from(format!("writing {}", dir.path().join(name).display()), e)
        })?;
    }
    Ok(Staged { dir })
}

/// Moves a staged folder to `dest` in one rename; refuses when `dest` exists.
pub fn commit(staged: Staged, dest: &Path) -> Result<(), Error> {
    if dest.exists() {
        return Err(Error::infra(format!("{} already exists", dest.display())));
    }
    let tmp = staged.dir.keep();
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        Error::infra_from(format!("moving the task into {}", dest.display()), e)
    })
}

/// A task id from a commit: its title as a slug (at most 40 characters, cut at a word) and
/// the commit's first seven hex digits, so a later run finds the task it wrote before.
pub fn task_id(title: &str, commit: &str) -> String {
    let mut slug = String::new();
    for word in title
        .replace("[redacted]", " ")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = word.to_ascii_lowercase();
        if !slug.is_empty() && slug.len() + 1 + w.len() > 40 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&w[..w.len().min(40)]);
    }
    let short = &commit[..commit.len().min(7)];
    if slug.is_empty() {
        format!("commit-{short}")
    } else {
        format!("{slug}-{short}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> TaskFiles {
        TaskFiles {
            id: "fix-add-0123456".into(),
            title: "Fix \"add\"".into(),
            rewritten_by: None,
            created: "2026-03-01".into(),
            tags: vec!["mined".into()],
            commit: "0123456789".into(),
            base: "abcdef0".into(),
            fail_to_pass: vec!["tests/test_calc.py::test_add".into()],
            pass_to_pass: vec![],
            problem: "# Fix add\n".into(),
            gold: b"gold".to_vec(),
            tests: b"tests".to_vec(),
            environment: None,
        }
    }

    #[test]
    fn ids_are_slugs_of_the_title_and_the_short_commit() {
        // (title, id)
        let cases = [
            (
                "Round VAT half up, like every other amount",
                "round-vat-half-up-like-every-other-0123456",
            ),
            (
                "Make [redacted] reject strings",
                "make-reject-strings-0123456",
            ),
            (
                "Decide free shipping on the discounted order value, from €50.00 on",
                "decide-free-shipping-on-the-discounted-0123456",
            ),
            ("!!!", "commit-0123456"),
        ];
        for (title, id) in cases {
            assert_eq!(task_id(title, "0123456789abcdef"), id, "{title}");
        }
    }

    #[test]
    fn a_task_with_an_environment_of_its_own_names_its_dockerfile() {
        let plain: toml::Value = toml::from_str(&task_toml(&files())).unwrap();
        assert!(plain.get("environment").is_none());
        let own = TaskFiles {
            environment: Some("../envs/0123456789ab/Dockerfile".into()),
            ..files()
        };
        let v: toml::Value = toml::from_str(&task_toml(&own)).unwrap();
        assert_eq!(
            v["environment"]["dockerfile"].as_str(),
            Some("../envs/0123456789ab/Dockerfile")
        );
        assert_eq!(v["tests"]["patch"].as_str(), Some("tests.patch"));
    }

    #[test]
    fn a_staged_task_appears_whole_or_not_at_all() {
        let suite = tempfile::tempdir().unwrap();
        let staged = stage(suite.path(), &files()).unwrap();
        let text = std::fs::read_to_string(staged.task_file()).unwrap();
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["title"].as_str(), Some("Fix \"add\""));
        assert_eq!(v["tests"]["pass_to_pass"].as_array().unwrap().len(), 0);
        let dest = suite.path().join("fix-add-0123456");
        commit(staged, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("gold.patch")).unwrap(), b"gold");
        // Nothing but the task is left in the suite.
        assert_eq!(std::fs::read_dir(suite.path()).unwrap().count(), 1);
        // A second copy never overwrites the first, and leaves nothing behind.
        let again = stage(suite.path(), &files()).unwrap();
        assert!(commit(again, &dest).is_err());
        assert_eq!(std::fs::read_dir(suite.path()).unwrap().count(), 1);
    }
}
