//! A wall-clock instant that guest code must not run past.

use std::time::Duration;

use crate::clock::Instant;

/// An instant that guest code must not run past, with the limit it stands for.
///
/// A per-call timeout becomes one of these when the call starts
/// ([`Deadline::after`]); a host that gives several calls one budget (the plugin
/// layer's exchange: `alloc`, the handler, both `dealloc`s) makes one and hands it
/// to [`WasmInstance::set_deadline`](crate::WasmInstance::set_deadline). A call
/// that passes it ends in [`WasmError::Timeout`](crate::WasmError::Timeout) with
/// [`limit`](Self::limit), also when the time went by in a host function or a
/// blocking WASI call.
///
/// ```
/// use plugin_system_core::Deadline;
/// use std::time::Duration;
///
/// let deadline = Deadline::after(Duration::from_secs(5));
/// assert_eq!(deadline.limit(), Duration::from_secs(5));
/// assert!(!deadline.has_passed());
/// assert!(deadline.remaining() <= Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now. A limit too far to represent is a deadline that never comes
    /// within the life of the process (a century from now).
    ///
    /// # Panics
    /// On `wasm32-unknown-unknown` without this crate's `web` feature, which
    /// has no clock (see [`Instant`]).
    pub fn after(limit: Duration) -> Self {
        let now = Instant::now();
        let at = now
            .checked_add(limit)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now);
        Deadline { at, limit }
    }

    /// The instant itself: a `std::time::Instant`, or on `wasm32-unknown-unknown`
    /// a point on the page's clock ([`Instant`]).
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The limit it stands for, which a timeout reports.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the instant has come.
    pub fn has_passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The earlier of two deadlines (either may be absent).
    pub fn earliest(a: Option<Deadline>, b: Option<Deadline>) -> Option<Deadline> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_limit_has_passed_at_once() {
        assert!(Deadline::after(Duration::ZERO).has_passed());
        assert_eq!(Deadline::after(Duration::ZERO).remaining(), Duration::ZERO);
    }

    #[test]
    fn a_limit_past_what_an_instant_holds_does_not_panic() {
        let far = Deadline::after(Duration::MAX);
        assert!(!far.has_passed());
        assert_eq!(far.limit(), Duration::MAX);
    }

    #[test]
    fn the_earliest_wins() {
        let soon = Deadline::after(Duration::from_millis(1));
        let late = Deadline::after(Duration::from_secs(60));
        assert_eq!(Deadline::earliest(Some(late), Some(soon)), Some(soon));
        assert_eq!(Deadline::earliest(Some(soon), Some(late)), Some(soon));
        assert_eq!(Deadline::earliest(None, Some(late)), Some(late));
        assert_eq!(Deadline::earliest(None, None), None);
    }
}
