//! Plugin lifecycle for host applications: manager, registry, dispatcher,
//! permissions, limits and reload.
//!
//! Its content arrives with the host issue; today the crate holds its place in
//! the workspace so that the dependency arrows are fixed from the start: it
//! depends on `plugin-system-core` only and never names an engine type.
