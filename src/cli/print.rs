//! Writing to stdout: JSON documents, tables, and reports to a file or stdout. A reader that
//! stops early (`| head`) is not an error.

use crate::error::Error;
use std::io::Write;
use std::path::Path;

pub use crate::report::results::format_table;

/// One pretty-printed JSON document.
pub fn json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(text) => println!("{text}"),
        // Every value printed is plain data (maps with string keys); say so if that changes.
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Text to `out` (written whole, then its path printed), or to stdout.
pub fn emit(text: &str, out: Option<&Path>) -> Result<(), Error> {
    match out {
        Some(path) => {
            crate::report::write_report(path, text)?;
            println!("{}", path.display());
        }
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(())
}
