//! fdo: a WebAssembly edge host.
//!
//! Layers, each knowing only the ones below it:
//! * [`engine`]: the wasmtime engine (pooling, epochs) and its degraded fallback.
//! * [`runtime`]: fresh limited instances per call; RPC, typed exports and `wasi:http`.
//! * [`loader`]: the compiled-code cache (memory, disk, compile) and `LoadResult`.
//! * [`registry`]: functions, versions, history, keys and logs behind a storage trait.
//! * [`functions`]: the three above put together; what the server calls.
//! * [`server`]: the HTTP API.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod engine;
pub mod functions;
pub mod loader;
pub mod metrics;
pub mod quickstart;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod validate;
