//! fdo guest SDK.
