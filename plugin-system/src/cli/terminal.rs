//! Text that came from a guest (export names, `set_error` messages, log lines,
//! manifest fields), made safe to print on a terminal.
//!
//! A guest chooses every byte of that text. Printed as it is, an escape
//! sequence would clear the screen or rewrite earlier lines, a carriage return
//! would overwrite the start of the line, a newline would forge a second
//! `error:` line, and a bidi override would make the line read differently
//! from what it holds. [`escape`] shows each of those characters as an escape
//! (`\n`, `\r`, `\t`, `\0`, `\u{1b}`, `\u{202e}`, ...), so that one message
//! is one line that shows what it holds, and cuts what is past a few KB.
//!
//! JSON output needs none of this: serde_json escapes the control characters
//! of strings, and bidi characters inside a JSON string cannot leave it.

/// The most bytes of escaped text [`escape`] keeps on one line before it cuts
/// the rest with `… (N more bytes)`.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// Whether `c` must not reach a terminal as it is: C0 controls (ESC, CR, LF,
/// TAB, NUL, ...), DEL, C1 controls, the bidi marks, embeddings, overrides and
/// isolates (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), and the
/// line and paragraph separators U+2028 and U+2029.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` on one line, safe for a terminal: every character [`is_unsafe`]
/// finds is written as an escape, and past `max` bytes of output the rest is
/// cut and counted: `… (N more bytes)`, N the bytes of `text` not shown.
pub(crate) fn escape(text: &str, max: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len().min(max) + 32);
    for (at, c) in text.char_indices() {
        let before = out.len();
        if is_unsafe(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                // Writing to a String cannot fail.
                _ => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(before);
            let _ = write!(out, "… ({} more bytes)", text.len() - at);
            break;
        }
    }
    out
}

/// [`escape`] with the line length of an `error:` line or a log line.
pub(crate) fn line(text: &str) -> String {
    escape(text, MAX_LINE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_left_alone() {
        for text in ["", "trap: unreachable", "ünïcödé ✓ 日本語", "a\\nb \"q\""] {
            assert_eq!(line(text), text);
        }
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(line("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(line("ok\rfake"), "ok\\rfake");
        assert_eq!(line("one\ntwo\tthree\0"), "one\\ntwo\\tthree\\0");
        assert_eq!(line("\u{7f}\u{85}\u{9b}"), "\\u{7f}\\u{85}\\u{9b}");
    }

    #[test]
    fn bidi_controls_and_separators_are_escaped() {
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        for c in ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{061c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}'])
        {
            let shown = line(&c.to_string());
            assert_eq!(shown, format!("\\u{{{:x}}}", u32::from(c)));
        }
    }

    #[test]
    fn long_text_is_cut_with_a_count() {
        let long = "x".repeat(10_000);
        let shown = escape(&long, 100);
        assert_eq!(shown, format!("{}… (9900 more bytes)", "x".repeat(100)));
        // Escapes count as what they print; a character is never split.
        let shown = escape(&"é\u{1b}".repeat(100), 20);
        assert_eq!(shown, "é\\u{1b}é\\u{1b}é… (292 more bytes)");
        assert_eq!(escape("short", 5), "short");
    }
}
