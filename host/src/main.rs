//! The `fdo` binary.
fn main() {}
