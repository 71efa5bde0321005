//! Running a module's start function under the deadline.
//!
//! wasmi runs the start function inside `Linker::instantiate_and_start` with a plain
//! call, which cannot be sliced for a deadline. So a module with a start section is
//! compiled without it: its start function is exported under [`START_EXPORT`]
//! instead, and the instance calls it right after instantiation like any guest
//! call, with fuel and deadline. The bytes are rewritten section by section; no
//! index changes, and any doubt leaves the module as it was.

/// The hidden export of a moved start function. The NUL keeps it apart from the
/// names toolchains produce, and [`WasmInstance::func`] refuses it.
///
/// [`WasmInstance::func`]: plugin_system_core::WasmInstance::func
pub(crate) const START_EXPORT: &str = "\0plugin-system:start";

const HEADER: &[u8] = b"\0asm\x01\0\0\0";
const EXPORT_SECTION: u8 = 7;
const START_SECTION: u8 = 8;
/// The export kind of a function.
const FUNC_KIND: u8 = 0;

/// `wasm` with its start section replaced by the export [`START_EXPORT`] of the same
/// function; `None` when there is no start section or the bytes are not a
/// well-formed core module.
pub(crate) fn hoist_start(wasm: &[u8]) -> Option<Vec<u8>> {
    let body = wasm.strip_prefix(HEADER)?;
    let sections = split_sections(body)?;
    let start = sections
        .iter()
        .find(|s| s.id == START_SECTION)
        .and_then(|s| read_u32(s.payload))?
        .0;
    let has_exports = sections.iter().any(|s| s.id == EXPORT_SECTION);

    let mut entry = Vec::with_capacity(START_EXPORT.len() + 8);
    write_u32(&mut entry, u32::try_from(START_EXPORT.len()).ok()?);
    entry.extend_from_slice(START_EXPORT.as_bytes());
    entry.push(FUNC_KIND);
    write_u32(&mut entry, start);

    let mut out = Vec::with_capacity(wasm.len() + entry.len() + 8);
    out.extend_from_slice(HEADER);
    for section in &sections {
        match section.id {
            // The export section comes right before the start section, so a module
            // without one gets it where its start section was.
            START_SECTION if !has_exports => {
                let mut payload = Vec::with_capacity(entry.len() + 1);
                write_u32(&mut payload, 1);
                payload.extend_from_slice(&entry);
                push_section(&mut out, EXPORT_SECTION, &payload)?;
            }
            START_SECTION => {}
            EXPORT_SECTION => {
                let (count, len) = read_u32(section.payload)?;
                let mut payload = Vec::with_capacity(section.payload.len() + entry.len() + 5);
                write_u32(&mut payload, count.checked_add(1)?);
                payload.extend_from_slice(section.payload.get(len..)?);
                payload.extend_from_slice(&entry);
                push_section(&mut out, EXPORT_SECTION, &payload)?;
            }
            _ => out.extend_from_slice(section.raw),
        }
    }
    Some(out)
}

/// One section of a module.
struct Section<'a> {
    id: u8,
    /// The contents, after the id and size.
    payload: &'a [u8],
    /// The whole section, id and size included.
    raw: &'a [u8],
}

/// The sections after the header, or `None` if a size runs past the end.
fn split_sections(mut rest: &[u8]) -> Option<Vec<Section<'_>>> {
    let mut sections = Vec::new();
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, len) = read_u32(after_id)?;
        let end = 1usize
            .checked_add(len)?
            .checked_add(usize::try_from(size).ok()?)?;
        let raw = rest.get(..end)?;
        sections.push(Section {
            id,
            payload: raw.get(1 + len..)?,
            raw,
        });
        rest = rest.get(end..)?;
    }
    Some(sections)
}

fn push_section(out: &mut Vec<u8>, id: u8, payload: &[u8]) -> Option<()> {
    out.push(id);
    write_u32(out, u32::try_from(payload.len()).ok()?);
    out.extend_from_slice(payload);
    Some(())
}

/// Reads an unsigned LEB128 `u32`; returns it and the bytes it took.
fn read_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((u32::try_from(value).ok()?, i + 1));
        }
    }
    None
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips() {
        for value in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut bytes = Vec::new();
            write_u32(&mut bytes, value);
            assert_eq!(read_u32(&bytes), Some((value, bytes.len())));
        }
        assert_eq!(read_u32(&[0x80, 0x80]), None, "unterminated");
        assert_eq!(read_u32(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None, "over u32");
    }

    #[test]
    fn start_becomes_an_export() {
        for text in [
            r#"(module (func $s) (start $s))"#,
            r#"(module (func $s) (func (export "f")) (start $s) (memory 1) (data (i32.const 0) "x"))"#,
        ] {
            let wasm = wat::parse_str(text).unwrap();
            let hoisted = hoist_start(&wasm).unwrap();
            let exports_start = wasmparser::Parser::new(0)
                .parse_all(&hoisted)
                .any(|p| match p {
                    Ok(wasmparser::Payload::ExportSection(r)) => r
                        .into_iter()
                        .any(|e| e.is_ok_and(|e| e.name == START_EXPORT)),
                    _ => false,
                });
            let has_start = wasmparser::Parser::new(0)
                .parse_all(&hoisted)
                .any(|p| matches!(p, Ok(wasmparser::Payload::StartSection { .. })));
            assert!(exports_start && !has_start);
            wasmparser::Validator::new().validate_all(&hoisted).unwrap();
        }
    }

    #[test]
    fn leaves_other_input_alone() {
        assert!(hoist_start(&wat::parse_str("(module (func (export \"f\")))").unwrap()).is_none());
        assert!(
            hoist_start(b"\0asm\x01\0\0\0\x08\x05\x00").is_none(),
            "truncated section"
        );
        assert!(hoist_start(b"garbage").is_none());
    }
}
