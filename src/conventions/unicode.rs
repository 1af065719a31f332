//! Characters a reader cannot see: bidirectional controls that reorder how a line is shown
//! (the "Trojan Source" attack: a string holding RLO and isolates renders as a comment) and
//! zero-width characters that split or join identifiers invisibly. Found, named, and marked
//! visibly for people (the labeling app) and models (the judge) alike. Pure.

/// Whether `c` changes how text is shown without being seen itself.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
            | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
            | '\u{200E}' | '\u{200F}' | '\u{061C}' // LRM, RLM, ALM
            | '\u{200B}'..='\u{200D}' // zero-width space, non-joiner, joiner
            | '\u{2060}' | '\u{FEFF}' // word joiner, zero-width no-break space
    )
}

/// The character's Unicode name, short.
pub fn name(c: char) -> &'static str {
    match c {
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2060}' => "WORD JOINER",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        _ => "HIDDEN CHARACTER",
    }
}

/// The hidden characters of `text`, each with its 1-based column (in characters).
pub fn find(text: &str) -> Vec<(usize, char)> {
    text.chars()
        .enumerate()
        .filter(|(_, c)| is_hidden(*c))
        .map(|(i, c)| (i + 1, c))
        .collect()
}

/// `text` with every hidden character replaced by a visible mark naming its code point,
/// `⟪U+202E⟫`, so that what is shown is what is there.
pub fn mark(text: &str) -> String {
    if !text.chars().any(is_hidden) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if is_hidden(c) {
                format!("⟪U+{:04X}⟫", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// How many hidden characters `text` holds.
pub fn count(text: &str) -> usize {
    text.chars().filter(|c| is_hidden(*c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trojan_source_is_found_and_marked() {
        let line = "access_level = \"user\u{202E} \u{2066}// Check if admin\u{2069} \u{2066}\"";
        let found: Vec<char> = find(line).into_iter().map(|(_, c)| c).collect();
        assert_eq!(found, ['\u{202E}', '\u{2066}', '\u{2069}', '\u{2066}']);
        let marked = mark(line);
        assert!(marked.contains("⟪U+202E⟫"), "{marked}");
        assert_eq!(count(&marked), 0);
        assert_eq!(mark("plain"), "plain");
        assert_eq!(name('\u{200B}'), "ZERO WIDTH SPACE");
        // Zero-width characters inside an identifier.
        assert_eq!(find("is\u{200B}Admin"), vec![(3, '\u{200B}')]);
    }
}
