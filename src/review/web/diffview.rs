//! A patch laid out for reading: files, hunks and numbered lines, the unified view and the
//! split (side-by-side) view, cut into pages so a huge diff never lands on one page. Text only:
//! escaping is the template's job, so no byte of a patch reaches the page as markup.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    /// ctx, add, del or note (`\ No newline at end of file`).
    pub kind: &'static str,
    pub old: Option<u32>,
    pub new: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub left: Option<Line>,
    pub right: Option<Line>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<Line>,
    /// The same lines side by side: removals on the left, additions on the right.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub path: String,
    /// `new file mode`, `rename from`, `Binary files differ` and the like.
    pub meta: Vec<String>,
    pub hunks: Vec<Hunk>,
    pub added: usize,
    pub removed: usize,
    /// Bidirectional controls and zero-width characters in the file's lines, shown marked.
    pub hidden_chars: usize,
}

fn hunk_start(header: &str) -> (u32, u32) {
    // @@ -a,b +c,d @@
    let mut old = 0;
    let mut new = 0;
    for part in header.split_whitespace().skip(1).take(2) {
        // By character, not byte: a stored patch may put anything after `@@` (bug pinned:
        // `@@ éé +1 @@` sliced inside a character and panicked the handler).
        let mut chars = part.chars();
        chars.next();
        let n = chars
            .as_str()
            .split(',')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if part.starts_with('-') {
            old = n;
        } else if part.starts_with('+') {
            new = n;
        }
    }
    (old, new)
}

fn split_rows(lines: &[Line]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        match lines[i].kind {
            "del" | "add" => {
                let dels: Vec<&Line> = lines[i..].iter().take_while(|l| l.kind == "del").collect();
                let adds: Vec<&Line> = lines[i + dels.len()..]
                    .iter()
                    .take_while(|l| l.kind == "add")
                    .collect();
                for k in 0..dels.len().max(adds.len()) {
                    rows.push(Row {
                        left: dels.get(k).map(|l| (*l).clone()),
                        right: adds.get(k).map(|l| (*l).clone()),
                    });
                }
                i += dels.len() + adds.len();
            }
            _ => {
                rows.push(Row {
                    left: Some(lines[i].clone()),
                    right: Some(lines[i].clone()),
                });
                i += 1;
            }
        }
    }
    rows
}

fn path_of(diff_git: &str) -> String {
    // diff --git a/x b/x: the b side, which is where the file ends up.
    diff_git
        .rsplit_once(" b/")
        .map(|(_, b)| b.to_string())
        .unwrap_or_else(|| diff_git.trim_start_matches("diff --git ").to_string())
}

pub fn parse(patch: &str) -> Vec<File> {
    let mut files: Vec<File> = Vec::new();
    let (mut old, mut new) = (0u32, 0u32);
    for line in patch.lines() {
        if line.starts_with("diff --git ") || files.is_empty() && line.starts_with("--- ") {
            files.push(File {
                path: path_of(line),
                meta: Vec::new(),
                hunks: Vec::new(),
                added: 0,
                removed: 0,
                hidden_chars: 0,
            });
            if !line.starts_with("--- ") {
                continue;
            }
        }
        let Some(f) = files.last_mut() else {
            continue;
        };
        if line.starts_with("@@") {
            (old, new) = hunk_start(line);
            f.hunks.push(Hunk {
                header: line.to_string(),
                lines: Vec::new(),
                rows: Vec::new(),
            });
            continue;
        }
        let Some(h) = f.hunks.last_mut() else {
            if let Some(p) = line.strip_prefix("+++ b/") {
                f.path = p.to_string();
            } else if !line.starts_with("--- ")
                && !line.starts_with("+++ ")
                && !line.starts_with("index ")
                && !line.is_empty()
            {
                f.meta.push(line.to_string());
            }
            continue;
        };
        let (kind, text) = match line.chars().next() {
            Some('+') => ("add", &line[1..]),
            Some('-') => ("del", &line[1..]),
            Some(' ') => ("ctx", &line[1..]),
            Some('\\') => ("note", line),
            None => ("ctx", ""),
            _ => ("note", line),
        };
        let l = Line {
            kind,
            old: matches!(kind, "del" | "ctx").then_some(old),
            new: matches!(kind, "add" | "ctx").then_some(new),
            // Invisible and direction-changing characters are shown as marks naming their
            // code point: a reviewer must see what is there, not what it renders as.
            text: crate::conventions::unicode::mark(text),
        };
        f.hidden_chars += crate::conventions::unicode::count(text);
        match kind {
            // Saturating: a stored patch's header may start a hunk at u32::MAX (bug pinned:
            // `@@ -4294967295 +4294967295 @@` and two lines overflowed and panicked).
            "add" => {
                new = new.saturating_add(1);
                f.added += 1;
            }
            "del" => {
                old = old.saturating_add(1);
                f.removed += 1;
            }
            "ctx" => {
                old = old.saturating_add(1);
                new = new.saturating_add(1);
            }
            _ => {}
        }
        h.lines.push(l);
    }
    for f in &mut files {
        for h in &mut f.hunks {
            h.rows = split_rows(&h.lines);
        }
    }
    files
}

/// A page: hunks of one or more files, at most about `max_lines` lines; a longer hunk is cut
/// into pieces. A file cut across pages says so (`continued`).
#[derive(Debug, Clone, Serialize)]
pub struct PageFile {
    pub path: String,
    pub meta: Vec<String>,
    pub hunks: Vec<Hunk>,
    pub added: usize,
    pub removed: usize,
    pub continued: bool,
    /// Invisible or direction-changing characters in the whole file, shown marked.
    pub hidden_chars: usize,
}

/// A hunk longer than a page, in page-sized pieces (a new 10,000-line file is one hunk).
fn cut_hunk(h: Hunk, max_lines: usize) -> Vec<Hunk> {
    if h.lines.len() <= max_lines {
        return vec![h];
    }
    h.lines
        .chunks(max_lines.max(1))
        .enumerate()
        .map(|(i, lines)| Hunk {
            header: if i == 0 {
                h.header.clone()
            } else {
                format!("{} (continued)", h.header)
            },
            rows: split_rows(lines),
            lines: lines.to_vec(),
        })
        .collect()
}

pub fn paginate(files: Vec<File>, max_lines: usize) -> Vec<Vec<PageFile>> {
    let mut pages: Vec<Vec<PageFile>> = vec![Vec::new()];
    let mut used = 0;
    for f in files {
        let mut first = true;
        let mut hunks = f.hunks.into_iter().peekable();
        if hunks.peek().is_none() {
            // cannot fail: `pages` starts with one page and only grows.
            pages.last_mut().expect("one page").push(PageFile {
                path: f.path.clone(),
                meta: f.meta.clone(),
                hunks: Vec::new(),
                added: f.added,
                removed: f.removed,
                continued: false,
                hidden_chars: f.hidden_chars,
            });
            used += 1;
            continue;
        }
        for h in hunks.flat_map(|h| cut_hunk(h, max_lines)) {
            let size = h.lines.len() + 1;
            if used > 0 && used + size > max_lines {
                pages.push(Vec::new());
                used = 0;
            }
            // cannot fail: `pages` starts with one page and only grows.
            let page = pages.last_mut().expect("one page");
            let same_file = page.last().is_some_and(|p| p.path == f.path) && !first;
            if !same_file || page.is_empty() {
                page.push(PageFile {
                    path: f.path.clone(),
                    meta: if first { f.meta.clone() } else { Vec::new() },
                    hunks: Vec::new(),
                    added: f.added,
                    removed: f.removed,
                    continued: !first,
                    hidden_chars: f.hidden_chars,
                });
            }
            // cannot fail: a file was pushed just above when the page had none.
            page.last_mut().expect("pushed").hunks.push(h);
            used += size;
            first = false;
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_numbers_at_u32_max_saturate() {
        // Bug pinned (found by tests/fuzz.rs): a hunk starting at u32::MAX overflowed the
        // line counter on its second line and panicked the handler.
        let files = parse("diff --git a/x b/x\n@@ -4294967295 +4294967295 @@\n a\n+b\n-c\n");
        let lines = &files[0].hunks[0].lines;
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].old, lines[0].new),
            (Some(u32::MAX), Some(u32::MAX))
        );
        assert_eq!(lines[1].new, Some(u32::MAX));
        assert_eq!(lines[2].old, Some(u32::MAX));
    }

    use super::*;

    const PATCH: &str = "diff --git a/calc.py b/calc.py\nindex 1..2 100644\n--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n+# \"><img src=x onerror=alert(1)>\n \ndiff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+<script>alert(1)</script>\n\\ No newline at end of file\n";

    #[test]
    fn files_hunks_numbers_and_side_by_side_rows() {
        let files = parse(PATCH);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "calc.py");
        assert_eq!((files[0].added, files[0].removed), (2, 1));
        let h = &files[0].hunks[0];
        assert_eq!(
            h.lines[1],
            Line {
                kind: "del",
                old: Some(2),
                new: None,
                text: "    return a - b".into()
            }
        );
        assert_eq!(h.lines[2].new, Some(2));
        assert_eq!(h.rows.len(), 4);
        assert_eq!(h.rows[1].left.as_ref().unwrap().kind, "del");
        assert_eq!(h.rows[1].right.as_ref().unwrap().kind, "add");
        assert!(h.rows[2].left.is_none());
        assert_eq!(files[1].meta, vec!["new file mode 100644"]);
        assert_eq!(files[1].hunks[0].lines[0].text, "<script>alert(1)</script>");
        assert_eq!(files[1].hunks[0].lines[1].kind, "note");
    }

    #[test]
    fn large_diffs_are_cut_into_pages_at_hunk_boundaries() {
        let mut patch = String::from("diff --git a/big b/big\n--- a/big\n+++ b/big\n");
        for h in 0..10 {
            patch.push_str(&format!("@@ -{0},3 +{0},3 @@\n", h * 10 + 1));
            for i in 0..30 {
                patch.push_str(&format!("+line {h}.{i}\n"));
            }
        }
        let pages = paginate(parse(&patch), 100);
        assert_eq!(pages.len(), 4);
        assert!(!pages[0][0].continued && pages[1][0].continued);
        assert_eq!(pages.iter().map(|p| p[0].hunks.len()).sum::<usize>(), 10);
        assert_eq!(paginate(parse(PATCH), 500).len(), 1);
        // One hunk longer than a page is cut too.
        let mut one =
            String::from("diff --git a/new b/new\n--- /dev/null\n+++ b/new\n@@ -0,0 +1,250 @@\n");
        for i in 0..250 {
            one.push_str(&format!("+{i}\n"));
        }
        let pages = paginate(parse(&one), 100);
        assert_eq!(pages.len(), 3);
        assert_eq!(pages[2][0].hunks[0].lines.len(), 50);
        assert!(pages[2][0].continued && pages[2][0].hunks[0].header.ends_with("(continued)"));
    }

    #[test]
    fn hunk_headers_with_any_text_never_panic() {
        for h in [
            "@@ éé +1 @@",
            "@@ - + @@",
            "@@",
            "@@ -1,2 +3,4 @@ fn x()",
            "@@ ü",
        ] {
            let _ = super::hunk_start(h);
        }
        assert_eq!(super::hunk_start("@@ -1,2 +3,4 @@"), (1, 3));
    }

    // Bug pinned: bidi controls rendered invisibly, `"user\u{202E} \u{2066}// Check if
    // admin\u{2069} \u{2066}"` showing as `"user" // Check if admin`.
    #[test]
    fn trojan_source_is_shown_marked_and_counted() {
        let patch = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+access_level = \"user\u{202E} \u{2066}// Check if admin\u{2069} \u{2066}\"\n";
        let files = super::parse(patch);
        assert_eq!(files[0].hidden_chars, 4);
        let text = &files[0].hunks[0].lines[1].text;
        assert!(
            text.contains("⟪U+202E⟫") && text.contains("⟪U+2066⟫"),
            "{text}"
        );
        assert_eq!(crate::conventions::unicode::count(text), 0);
    }
}
