//! fdo: a WebAssembly edge host.
//!
//! Layers, each knowing only the ones below it:
//! * [`engine`]: the wasmtime engine (pooling, epochs) and its degraded fallback.
//! * [`runtime`]: fresh limited instances per call; RPC, typed exports and `wasi:http`.
//! * [`loader`]: the compiled-code cache (memory, disk, compile) and `LoadResult`.
#![deny(missing_docs)]

pub mod config;
pub mod engine;
pub mod loader;
pub mod metrics;
pub mod runtime;
