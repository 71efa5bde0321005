//! Deadlines, kept the same way by both engines.
//!
//! A store has a per-call timeout and, for a host that gives several calls one
//! budget, an instant no call may pass ([`WasmInstance::set_deadline`]); a call
//! runs under the earlier of the two. The engines stop guest code at it (wasmtime
//! by epochs, wasmi between fuel slices); time spent outside guest code is kept
//! here: a host function that returns past the deadline ends the call
//! ([`check_returned`]), and a WASI call that would block past it is cut there
//! (`crate::wasi`).
//!
//! [`WasmInstance::set_deadline`]: plugin_system_core::WasmInstance::set_deadline

use std::time::Duration;

use plugin_system_core::{Deadline, WasmError};

/// A store's deadline settings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deadlines {
    /// The deadline of each call, from its start.
    pub(crate) timeout: Option<Duration>,
    /// An instant no call may pass, set by the host for a run of calls.
    pub(crate) until: Option<Deadline>,
}

impl Deadlines {
    /// Settings with this per-call timeout and no shared deadline.
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Deadlines {
            timeout,
            until: None,
        }
    }

    /// Whether calls run under any deadline.
    pub(crate) fn is_set(&self) -> bool {
        self.timeout.is_some() || self.until.is_some()
    }

    /// The deadline of a call that starts now. Reads the clock only when a
    /// fresh timeout could end first: a shared deadline whose limit is no
    /// longer than the timeout ends first whenever the call starts (the plugin
    /// layer's case, with calls of an exchange under one deadline).
    ///
    /// Whether a shared deadline has passed already is for the engine to
    /// find out (wasmtime's epoch check at function entry, wasmi's look at
    /// the clock): this path stays free of clock reads.
    ///
    /// # Errors
    /// [`WasmError::Timeout`] for a zero timeout: no call can start in no time.
    #[inline]
    pub(crate) fn start_call(&self) -> Result<Option<Deadline>, WasmError> {
        match (self.timeout, self.until) {
            (None, until) => Ok(until),
            (Some(timeout), _) if timeout.is_zero() => Err(WasmError::Timeout { limit: timeout }),
            (Some(timeout), Some(until)) if until.limit() <= timeout => Ok(Some(until)),
            (Some(timeout), until) => Ok(Deadline::earliest(Some(Deadline::after(timeout)), until)),
        }
    }
}

/// The error of a call that ran past `deadline`.
pub(crate) fn timeout(deadline: Deadline) -> WasmError {
    WasmError::Timeout {
        limit: deadline.limit(),
    }
}

/// A host or WASI function returned (or would have blocked) past the call's
/// deadline. Engines carry it out of the guest like a host function's error and
/// turn it into [`WasmError::Timeout`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the call ran past its deadline of {limit:?} outside guest code")]
pub(crate) struct DeadlinePassed {
    pub(crate) limit: Duration,
}

impl From<DeadlinePassed> for WasmError {
    fn from(passed: DeadlinePassed) -> Self {
        WasmError::Timeout {
            limit: passed.limit,
        }
    }
}

/// Checks, after a host function returned, that the call is still within its
/// deadline: time spent in the host counts, or a guest calling a slow host
/// function in a loop would never be stopped.
///
/// # Errors
/// [`DeadlinePassed`] once the deadline has come.
#[inline]
pub(crate) fn check_returned(deadline: Option<Deadline>) -> Result<(), DeadlinePassed> {
    match deadline {
        Some(d) if d.has_passed() => Err(DeadlinePassed { limit: d.limit() }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_timeout_refuses_to_start() {
        let zero = Deadlines::new(Some(Duration::ZERO));
        assert!(matches!(
            zero.start_call(),
            Err(WasmError::Timeout { limit }) if limit == Duration::ZERO
        ));
    }

    #[test]
    fn a_shared_deadline_no_longer_than_the_timeout_is_taken_as_it_is() {
        let shared = Deadline::after(Duration::from_secs(5));
        let deadlines = Deadlines {
            timeout: Some(Duration::from_secs(5)),
            until: Some(shared),
        };
        assert_eq!(deadlines.start_call().unwrap(), Some(shared));
    }

    #[test]
    fn the_shared_deadline_wins_when_it_is_earlier() {
        let shared = Deadline::after(Duration::from_secs(1));
        let deadlines = Deadlines {
            timeout: Some(Duration::from_secs(60)),
            until: Some(shared),
        };
        assert_eq!(deadlines.start_call().unwrap(), Some(shared));
        assert_eq!(Deadlines::default().start_call().unwrap(), None);
    }

    #[test]
    fn a_passed_deadline_fails_a_returning_host_call() {
        let passed = Deadline::after(Duration::ZERO);
        assert!(check_returned(Some(passed)).is_err());
        assert!(check_returned(Some(Deadline::after(Duration::from_secs(60)))).is_ok());
        assert!(check_returned(None).is_ok());
    }
}
