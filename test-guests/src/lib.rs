//! Paths of the guest components built for tests and benchmarks.
