//! fdo library.
