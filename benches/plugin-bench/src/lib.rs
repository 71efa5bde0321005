//! Nothing to see: the benchmarks live in `benches/round_trip.rs`.
