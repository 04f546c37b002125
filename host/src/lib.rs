//! fdo: a WebAssembly edge host.
//!
//! Layers, each knowing only the ones below it:
//! * [`model`]: the domain types, valid by construction; [`validate`]: the rules they enforce.
//! * [`engine`]: the wasmtime engine (pooling, epochs) and its degraded fallback.
//! * [`runtime`]: fresh limited instances per call; RPC, typed exports and `wasi:http`.
//! * [`loader`]: the compiled-code cache (memory, disk, compile) and `LoadResult`.
//! * [`model`]: domain types valid by construction (roles, privacy, namespaces, principals).
//! * [`registry`]: functions, versions, history, keys and logs behind a storage trait.
//! * [`functions`]: the three above put together behind one async API; all the server calls.
//! * [`server`]: the HTTP API and the web console.
//! * [`stats`]: the last 15 minutes of calls per function, in memory (a call observer).
//! * [`app`]: the composition root: builds all of the above from a configuration.
#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod deploy_dir;
pub mod engine;
pub mod functions;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod os;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod stats;
pub mod validate;

/// The hasher of the maps a call looks up (functions, API keys, metrics, per-function caps):
/// foldhash, seeded per process, instead of SipHash; keys are ids and digests, not
/// attacker-chosen floods, and SipHash cost about 2k instructions a call.
pub(crate) type FastHash = foldhash::fast::RandomState;
