//! CSV as RFC 4180 has it: comma-separated, fields quoted when they hold a comma, a quote or
//! a line break, quotes doubled. Enough for labels to travel to and from spreadsheets and
//! other tools without another dependency.
//!
//! A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or a carriage
//! return first) is written behind a `'`, which spreadsheets show as text and reading here
//! removes again: a comment such as `=HYPERLINK(...)` opens as text, and round-trips.

use std::borrow::Cow;

const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `f` needs the guard: it starts like a formula, possibly behind quotes already
/// (those get one more, so that reading gives back exactly what was written).
fn needs_guard(f: &str) -> bool {
    f.trim_start_matches('\'').starts_with(FORMULA_START)
}

fn guard(f: &str) -> Cow<'_, str> {
    if needs_guard(f) {
        Cow::Owned(format!("'{f}"))
    } else {
        Cow::Borrowed(f)
    }
}

fn unguard(mut f: String) -> String {
    if f.starts_with('\'') && needs_guard(&f) {
        f.remove(0);
    }
    f
}

/// One record as a line (with its line break).
pub fn write_record(fields: &[&str]) -> String {
    let mut out = fields
        .iter()
        .map(|f| guard(f))
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// A record: the line it starts on (1-based) and its fields.
pub type Record = (usize, Vec<String>);

/// Every record; quoted fields may span lines. Err is the line and what is wrong there.
pub fn read_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                any = true;
            }
            '"' => return Err((line, "a quote inside an unquoted field".into())),
            ',' => {
                record.push(unguard(std::mem::take(&mut field)));
                any = true;
            }
            '\r' => {}
            '\n' => {
                if any || !field.is_empty() {
                    record.push(unguard(std::mem::take(&mut field)));
                    out.push((start, std::mem::take(&mut record)));
                }
                any = false;
                line += 1;
                start = line;
            }
            _ => {
                field.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err((start, "a quoted field is never closed".into()));
    }
    if any || !field.is_empty() {
        record.push(unguard(field));
        out.push((start, record));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_round_trip() {
        let fields = ["a", "b,c", "say \"hi\"", "two\nlines", ""];
        let mut text = write_record(&fields);
        text.push_str(&write_record(&["x", "y", "z", "w", "v"]));
        let recs = read_records(&text).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].0, 1);
        assert_eq!(recs[0].1, fields);
        assert_eq!(recs[1].0, 3);
        assert!(read_records("a,\"open\n").is_err());
        assert!(read_records("a,b\"c\n").is_err());
    }

    #[test]
    fn formulas_are_written_as_text_and_read_back_as_written() {
        let fields = [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "'=already guarded",
            "'quoted'",
            "plain = fine",
        ];
        let line = write_record(&fields);
        assert!(line.starts_with("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1,'-2,'@SUM(A1),'\tx,''=already guarded,'quoted',plain = fine"), "{line}");
        let recs = read_records(&line).unwrap();
        assert_eq!(recs[0].1, fields);
        // No field a spreadsheet reads starts like a formula.
        for f in line.trim_end().split(',') {
            assert!(!f.trim_start_matches('"').starts_with(FORMULA_START), "{f}");
        }
    }
}
