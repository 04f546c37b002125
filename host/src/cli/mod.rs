//! The `fdo` command line beyond `serve`.

pub mod keys;
