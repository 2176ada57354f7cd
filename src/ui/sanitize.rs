//! Server text is printed, never interpreted: control characters (ESC and the rest of C0/C1, DEL) are
//! stripped so a hostile or buggy server cannot move the cursor, recolour or retitle the terminal.

/// `text` without control characters; tabs and newlines become spaces.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            // bidi overrides can reorder what the user reads
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_stripped() {
        assert_eq!(sanitize("hi\u{1b}[2J\u{1b}]0;pwned\u{7}!"), "hi[2J]0;pwned!");
        assert_eq!(sanitize("a\u{9b}31mb\u{7f}c"), "a31mbc");
        assert_eq!(sanitize("line\none\ttab"), "line one tab");
        assert_eq!(sanitize("évidemment 日本"), "évidemment 日本");
        assert_eq!(sanitize("x\u{202e}y"), "xy");
    }
}
