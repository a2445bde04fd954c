//! Text from files (column names, pipeline fields, a `--reason`) as it may be shown to a
//! person: in a terminal, where an escape sequence can rewrite what is on the screen
//! (hide part of a recipient's name) and a line break can forge a row of a listing.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is: control characters (C0, DEL, C1),
/// every format character (Cf: bidirectional overrides and isolates, zero-width
/// characters, the byte order mark, …), every other default-ignorable
/// code point (soft hyphen, variation selectors, tag characters, …: shown as nothing)
/// and the fillers that show as a blank (Hangul fillers, the blank Braille pattern).
pub fn unsafe_to_show(c: char) -> bool {
    use unicode_general_category::{GeneralCategory, get_general_category};
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || get_general_category(c) == GeneralCategory::Format
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fff8}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// `text` with every character [`unsafe_to_show`] written as `\u{…}` (a tab `\t`, a
/// line feed `\n`, a carriage return `\r`), and backslashes doubled when anything was
/// escaped, so that the escaped form cannot be mistaken for text. Borrowed when there
/// is nothing to escape.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_to_show) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if unsafe_to_show(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `text` holds a character [`unsafe_to_show`].
pub fn has_unsafe(text: &str) -> bool {
    text.chars().any(unsafe_to_show)
}

/// A whole report or listing for a terminal: [`escaped`], but its line feeds and tabs
/// (which lay it out) kept. Rows it prints from files must be escaped one by one too.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| unsafe_to_show(c) && c != '\n' && c != '\t')
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|part| escaped(part).into_owned())
                    .collect::<Vec<_>>()
                    .join("\t")
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_and_hiding_characters_are_escaped() {
        assert_eq!(escaped("Gemeente Sittard"), "Gemeente Sittard");
        assert_eq!(escaped("a\\b"), "a\\b");
        assert_eq!(
            escaped("UM\u{1b}[8mhidden\u{1b}[0m"),
            "UM\\u{1b}[8mhidden\\u{1b}[0m"
        );
        assert_eq!(escaped("a\nb\tc\\d"), "a\\nb\\tc\\\\d");
        assert_eq!(escaped("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(escaped("x\u{9b}31m"), "x\\u{9b}31m");
    }

    #[test]
    fn a_report_keeps_its_lines_and_tabs() {
        assert_eq!(super::shown("a\tb\nc"), "a\tb\nc");
        assert_eq!(super::shown("a\u{1b}]0;x\u{7}\nb"), "a\\u{1b}]0;x\\u{7}\nb");
    }
}
