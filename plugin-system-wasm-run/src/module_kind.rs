//! What a module file is taken for before anything parses it: binary
//! WebAssembly, WAT text, or neither (said plainly rather than as a WAT
//! parser's complaint about the first character).

/// The error of bytes that are neither binary WebAssembly nor WAT text.
pub const NOT_A_MODULE: &str = "not a WebAssembly module: no `\\0asm` header, and not WAT text";

/// What a module file's bytes are taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// Starts with the `\0asm` magic: read as binary WebAssembly (whose
    /// errors are the engine's).
    Binary,
    /// UTF-8 text whose first token, past white space and comments, is `(`:
    /// read as WAT (whose errors are the WAT parser's).
    Text,
    /// Anything else.
    Neither,
}

/// Tells what `bytes` are taken for ([`ModuleKind`]).
pub fn module_kind(bytes: &[u8]) -> ModuleKind {
    if bytes.starts_with(b"\0asm") {
        return ModuleKind::Binary;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if first_token_opens(text) => ModuleKind::Text,
        _ => ModuleKind::Neither,
    }
}

/// Whether the first token of `text`, past white space, `;;` line comments
/// and `(; ... ;)` block comments (which nest), is `(`.
fn first_token_opens(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if let Some(comment) = rest.strip_prefix(";;") {
            let Some(end) = comment.find('\n') else {
                return false;
            };
            rest = &comment[end + 1..];
        } else if rest.starts_with("(;") {
            let Some(after) = skip_block_comment(rest) else {
                return false;
            };
            rest = after;
        } else {
            return rest.starts_with('(');
        }
    }
}

/// What follows the block comment `(; ... ;)` that `text` starts with, nested
/// ones included; `None` when it is not closed.
fn skip_block_comment(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    while at + 1 < bytes.len() {
        match (bytes[at], bytes[at + 1]) {
            (b'(', b';') => {
                depth += 1;
                at += 2;
            }
            (b';', b')') => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return text.get(at..);
                }
            }
            _ => at += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_binary_text_or_neither() {
        use ModuleKind::{Binary, Neither, Text};
        for (bytes, kind) in [
            (&b"\0asm\x01\0\0\0"[..], Binary),
            (b"\0asm", Binary),
            (b"\0asm\xff\xff garbage", Binary),
            (b"(module)", Text),
            (b"  \n\t(module", Text),
            (b";; a comment\n(module)", Text),
            (b"(; block (; nested ;) ;) (module)", Text),
            (b"(;;)(func)", Text),
            (b"(this is not (a module", Text),
            (b"", Neither),
            (b"   \n", Neither),
            (b"hello", Neither),
            (b"module)", Neither),
            (b";; only a comment", Neither),
            (b"(; unclosed (module)", Neither),
            (b"\0as", Neither),
            (b"\x7fELF\x02\x01", Neither),
            (b"(\xff\xfe", Neither),
            (b"\xef\xbb\xbf(module)", Neither),
        ] {
            assert_eq!(
                module_kind(bytes),
                kind,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
