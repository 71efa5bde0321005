//! What [`export_plugin!`](crate::export_plugin) expands to: the body of each
//! export, written once here for every target so that native tests run the
//! same code as the wasm module. Not public API: it may change in any
//! release.

use std::any::type_name;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

use plugin_system_core::PluginEvent;

#[cfg(target_family = "wasm")]
pub use crate::abi::pack_reply;
pub use crate::abi::{alloc, dealloc, live_buffers};
pub use crate::codec::{Codec, Json, MessagePack};
use crate::{Context, Error, Plugin, abi, codec, sys};

/// The custom section `plugin_abi_version`.
pub const ABI_VERSION_SECTION: [u8; 1] = *b"1";

const _: () = assert!(abi::ABI_VERSION == 1);

/// The custom section `plugin_wire_format` of a plugin that speaks `C`:
/// exactly [`Codec::WIRE_FORMAT`], no trailing bytes (`N` is its length).
pub const fn wire_format_section<C: Codec, const N: usize>() -> [u8; N] {
    let format = C::WIRE_FORMAT.as_bytes();
    assert!(format.len() == N, "the section's length is the format's");
    let mut section = [0; N];
    let mut i = 0;
    while i < N {
        section[i] = format[i];
        i += 1;
    }
    section
}

/// What a call gets when the plugin is still inside another one.
pub const UNUSABLE_MESSAGE: &str = "the plugin is unusable: an earlier call into it trapped \
     (a panic, or a limit of the host) before it finished, or the host re-entered it from a \
     host function; reload the plugin";

/// A plugin type that [`export_plugin!`](crate::export_plugin) exported.
pub trait Exported: Plugin {
    /// The wire format it speaks.
    type Codec: Codec;

    /// [`Plugin::initialize`], or `Default` when the plugin leaves
    /// `initialize` out.
    ///
    /// # Errors
    ///
    /// What `initialize` returned, or that the type has neither.
    fn construct(ctx: Context) -> Result<Self, Error>;
}

/// [`Plugin::initialize`], falling back to `via_default` when the plugin
/// does not implement it.
///
/// # Errors
///
/// What `initialize` returned, or that `P` has neither `initialize` nor
/// `Default`.
pub fn construct<P: Plugin>(
    ctx: Context,
    via_default: impl FnOnce() -> Option<P>,
) -> Result<P, Error> {
    match P::initialize(ctx) {
        Err(e) if e.is_default_initialize() => via_default().ok_or_else(|| {
            Error::new(format!(
                "`{}` implements neither `Plugin::initialize` nor `Default`",
                type_name::<P>()
            ))
        }),
        other => other,
    }
}

/// `(&&Construct::<T>::new()).build()` is `Some(T::default())` when `T` is
/// `Default`, `None` otherwise (method resolution tries `ViaDefault` on
/// `&&Construct<T>` first, then `ViaNothing` on `&Construct<T>`).
pub struct Construct<T>(PhantomData<T>);

impl<T> Construct<T> {
    /// The probe.
    pub const fn new() -> Self {
        Construct(PhantomData)
    }
}

impl<T> Default for Construct<T> {
    fn default() -> Self {
        Construct::new()
    }
}

/// The `Default` case of [`Construct`].
pub trait ViaDefault<T> {
    /// `Some(T::default())`.
    fn build(&self) -> Option<T>;
}

impl<T: Default> ViaDefault<T> for &Construct<T> {
    fn build(&self) -> Option<T> {
        Some(T::default())
    }
}

/// The fallback case of [`Construct`].
pub trait ViaNothing<T> {
    /// `None`.
    fn build(&self) -> Option<T>;
}

impl<T> ViaNothing<T> for Construct<T> {
    fn build(&self) -> Option<T> {
        None
    }
}

/// Where the plugin lives between calls.
pub struct Slot<P> {
    plugin: RefCell<Option<P>>,
    /// Set while a call runs. A call that traps never clears it, so later
    /// calls are refused rather than run on state left half-changed.
    busy: Cell<bool>,
}

impl<P> Slot<P> {
    /// An empty slot: the plugin is built by `plugin_initialize`, or by the
    /// first event.
    pub const fn new() -> Self {
        Slot {
            plugin: RefCell::new(None),
            busy: Cell::new(false),
        }
    }

    fn enter(&self) -> Result<Busy<'_>, Error> {
        if self.busy.replace(true) {
            return Err(Error::new(UNUSABLE_MESSAGE));
        }
        Ok(Busy(&self.busy))
    }
}

impl<P> Default for Slot<P> {
    fn default() -> Self {
        Slot::new()
    }
}

/// Leaves `slot` as a trap in the middle of a call would.
#[cfg(test)]
pub(crate) fn simulate_trap<P>(slot: &Slot<P>) {
    std::mem::forget(slot.enter());
}

/// Clears [`Slot::busy`] when the call returns (or, natively, unwinds).
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The input buffer of an export.
///
/// # Safety
///
/// `ptr` must point to `len` readable bytes (as the host guarantees for a
/// buffer it wrote), or `len` must be 0.
pub unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: by the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// `plugin_initialize(ptr, len) -> i32`: 0 when ready, 1 (after
/// `set_error`) when not.
pub fn initialize<P: Exported>(slot: &Slot<P>, input: &[u8]) -> i32 {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    let result = (|| {
        let _busy = slot.enter()?;
        let ctx = if input.is_empty() {
            Context::default()
        } else {
            P::Codec::decode_model(input)
                .map_err(|e| Error::new(format!("cannot read the initialization context: {e}")))?
        };
        let plugin = P::construct(ctx)?;
        if let Some(previous) = slot.plugin.replace(Some(plugin)) {
            previous.dispose();
        }
        Ok::<_, Error>(())
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            sys::set_error(e.message());
            1
        }
    }
}

/// `plugin_handle_event(ptr, len) -> i64`: the serialized response, or none
/// (after `set_error`).
pub fn handle_event<P: Exported>(slot: &Slot<P>, input: &[u8]) -> Option<(*mut u8, usize)> {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    let result = (|| {
        let _busy = slot.enter()?;
        let event: PluginEvent = P::Codec::decode_model(input)
            .map_err(|e| Error::new(format!("cannot read the event: {e}")))?;
        let mut plugin = slot.plugin.borrow_mut();
        let plugin = match &mut *plugin {
            Some(plugin) => plugin,
            none => none.insert(P::construct(Context::default())?),
        };
        plugin.handle_event(event)
    })();
    reply(|out| {
        P::Codec::encode_into(&result?, out)
            .map_err(|e| Error::new(format!("cannot serialize the response: {e}")))
    })
}

/// `plugin_snapshot() -> i64`: the plugin's state for the version that
/// replaces it, or none (0: no state, or no plugin built yet).
pub fn snapshot<P: Exported>(slot: &Slot<P>) -> Option<(*mut u8, usize)> {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    let state = {
        let _busy = slot.enter().ok()?;
        let plugin = slot.plugin.borrow();
        plugin.as_ref()?.snapshot()?
    };
    reply(|out| {
        out.extend_from_slice(&state);
        Ok(())
    })
}

/// `plugin_restore(ptr, len) -> i32`: 0 when the plugin took the state, 1
/// (after `set_error`) when not.
pub fn restore<P: Exported>(slot: &Slot<P>, input: &[u8]) -> i32 {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    let result = (|| {
        let _busy = slot.enter()?;
        let mut plugin = slot.plugin.borrow_mut();
        let plugin = match &mut *plugin {
            Some(plugin) => plugin,
            none => none.insert(P::construct(Context::default())?),
        };
        plugin.restore(input)
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            sys::set_error(e.message());
            1
        }
    }
}

/// `plugin_get_manifest() -> i64`: the serialized manifest, or none (after
/// `set_error`).
pub fn manifest<P: Exported>() -> Option<(*mut u8, usize)> {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    reply(|out| {
        P::Codec::encode_into(&P::manifest(), out)
            .map_err(|e| Error::new(format!("cannot serialize the manifest: {e}")))
    })
}

/// `plugin_dispose()`: disposes of the plugin, unless a call trapped (then
/// its state is not to be trusted, and it is left as it is).
pub fn dispose<P: Exported>(slot: &Slot<P>) {
    install_panic_hook();
    let _codec = codec::enter::<P::Codec>();
    match slot.enter() {
        Ok(_busy) => {
            if let Some(plugin) = slot.plugin.take() {
                plugin.dispose();
            }
        }
        Err(e) => sys::log(3, &format!("plugin_dispose skipped: {e}")),
    }
}

/// The most the reply buffer keeps between calls: one large reply does not
/// hold its memory for the plugin's life.
const KEPT_REPLY_BUFFER: usize = 64 * 1024;

thread_local! {
    /// Replies are written here, then copied into the buffer the host gets
    /// (and frees): its room is reused from one event to the next, so a reply
    /// does not grow a fresh buffer from nothing each time.
    static REPLY_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Writes a reply with `write` and hands it to the host: a buffer with the
/// bytes, or none after `set_error`.
fn reply(write: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>) -> Option<(*mut u8, usize)> {
    // Taken, not borrowed: a call nested in `write` (natively, a test's
    // plugin called from another's host call) gets a buffer of its own.
    let mut bytes = REPLY_BUFFER.take();
    bytes.clear();
    let handed = match write(&mut bytes) {
        Ok(()) => {
            let buffer = abi::hand_out(&bytes);
            if buffer.is_none() {
                sys::set_error(&format!(
                    "out of memory for a reply of {} bytes",
                    bytes.len()
                ));
            }
            buffer
        }
        Err(e) => {
            sys::set_error(e.message());
            None
        }
    };
    bytes.clear();
    bytes.shrink_to(KEPT_REPLY_BUFFER);
    REPLY_BUFFER.set(bytes);
    handed
}

/// On wasm, makes a panic tell the host its message (as `set_error` and an
/// error log line) before the module traps.
fn install_panic_hook() {
    #[cfg(target_family = "wasm")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // `boom at src/lib.rs:12:9`: the host reports it with the trap
                // that follows, as `plugin panicked: boom at ...`.
                let what = info.payload_as_str().unwrap_or("a panic without a message");
                let message = match info.location() {
                    Some(at) => format!("{what} at {}:{}:{}", at.file(), at.line(), at.column()),
                    None => what.to_owned(),
                };
                sys::log(4, &format!("plugin panicked: {message}"));
                sys::set_error(&message);
                previous(info);
            }));
        });
    }
}
