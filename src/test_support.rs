//! Helpers the unit tests of several modules share.

/// The cases of a test table kept as text, one a line: `input => expected`. Blank lines and
/// lines starting with `#` (comments) are skipped; the input is everything before the last
/// ` => `, leading white space included.
#[track_caller]
pub fn table_cases(table: &str) -> Vec<(&str, &str)> {
    let cases: Vec<(&str, &str)> = table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|case| {
            case.rsplit_once(" => ")
                .unwrap_or_else(|| panic!("no ` => ` in the case {case:?}"))
        })
        .collect();
    assert!(!cases.is_empty(), "a table without cases");
    cases
}
