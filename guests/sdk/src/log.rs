//! Log lines for the host (the import `log`).
//!
//! ```
//! use plugin_system_guest::log;
//!
//! log::info("ready");
//! log::debug(&format!("counted {} words", 3));
//! ```
//!
//! The host decides what to keep; a line is at most 64 KiB.

use crate::sys;

/// How important a log line is; the numbers are the ABI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// 0: step-by-step detail.
    Trace = 0,
    /// 1: what a developer needs to follow the plugin.
    Debug = 1,
    /// 2: what happened.
    Info = 2,
    /// 3: something looks wrong, but the plugin carries on.
    Warn = 3,
    /// 4: something failed.
    Error = 4,
}

impl Level {
    /// The level of an ABI number, if it is one (0 to 4).
    pub fn from_abi(level: i32) -> Option<Level> {
        Some(match level {
            0 => Level::Trace,
            1 => Level::Debug,
            2 => Level::Info,
            3 => Level::Warn,
            4 => Level::Error,
            _ => return None,
        })
    }
}

/// Sends `message` to the host's log at `level`.
pub fn log(level: Level, message: &str) {
    sys::log(level as i32, message);
}

/// Logs `message` at [`Level::Trace`].
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Logs `message` at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs `message` at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs `message` at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs `message` at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message);
}
