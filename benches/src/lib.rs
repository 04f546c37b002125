//! Shared set-up for fdo's benchmarks: a host core (engine, runtime, loader) on a temporary
//! cache directory, the guest components, call specs and `wasi:http` requests.
//!
//! Everything here runs *outside* the measured loops: benches build a [`Core`], load what they
//! need, and only then start timing.
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fdo::engine::{EngineConfig, EngineHandle};
use fdo::loader::{LoadResult, Loader};
use fdo::runtime::{CallLimits, CallSpec, LoadedComponent, Runtime};
use http_body_util::{BodyExt, Empty};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

pub use test_guests;

/// Queue timeout of benchmark runtimes: long, so a burst never turns into `Busy` errors.
pub const BENCH_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// Memory-tier budget of benchmark loaders, as in `fdo serve` by default.
pub const BENCH_MEMORY_BUDGET: u64 = fdo::loader::DEFAULT_MEMORY_BUDGET;

/// A host core as `fdo serve` builds it (engine, runtime, loader with a disk tier), on a
/// temporary cache directory that lives as long as the core.
pub struct Core {
    /// The runtime calls go through.
    pub runtime: Arc<Runtime>,
    /// The three-tier loader.
    pub loader: Loader,
    /// Holds the cache directory.
    _dir: tempfile::TempDir,
}

impl Core {
    /// A core with the production engine defaults (pooling, 1,000 instances).
    pub fn new() -> anyhow::Result<Self> {
        Self::with(EngineConfig::default())
    }

    /// A core with `config`.
    pub fn with(config: EngineConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let engine = EngineHandle::new(config)?;
        let runtime = Arc::new(Runtime::new(engine, BENCH_QUEUE_TIMEOUT)?);
        let loader = Loader::new(
            runtime.clone(),
            Some(&dir.path().join("cache")),
            BENCH_MEMORY_BUDGET,
        );
        Ok(Self {
            runtime,
            loader,
            _dir: dir,
        })
    }

    /// Compiles `bytes` as a deploy does (disk artifact written, memory tier filled).
    pub async fn deploy(&self, bytes: &Arc<Vec<u8>>) -> anyhow::Result<LoadResult> {
        Ok(self.loader.compile_new(bytes.clone()).await?)
    }

    /// Deploys the guest at `path` and returns the loaded component.
    pub async fn deploy_guest(&self, path: &str) -> anyhow::Result<Arc<LoadedComponent>> {
        let bytes = read_guest(path)?;
        Ok(self.deploy(&bytes).await?.component)
    }
}

/// Reads a guest component (one of the [`test_guests`] paths).
pub fn read_guest(path: &str) -> anyhow::Result<Arc<Vec<u8>>> {
    use anyhow::Context as _;
    let bytes = std::fs::read(path).with_context(|| format!("reading guest component {path}"))?;
    Ok(Arc::new(bytes))
}

/// A call spec with default limits and no environment, as a freshly deployed function has.
pub fn spec(function_id: &str) -> CallSpec {
    CallSpec {
        function_id: function_id.into(),
        env: Arc::new(Vec::new()),
        limits: CallLimits::default(),
        allowed_hosts: Arc::new(Vec::new()),
    }
}

/// A body-less `GET` of `path` on `localhost`, as the pass-through path hands it to a guest.
pub fn http_get(path: &str) -> anyhow::Result<http::Request<HyperIncomingBody>> {
    let body = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    Ok(http::Request::builder()
        .method("GET")
        .uri(format!("http://localhost{path}"))
        .body(body)?)
}

/// Reads a guest's response body to the end.
pub async fn drain(response: http::Response<HyperOutgoingBody>) -> anyhow::Result<Bytes> {
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the guest's response body: {e:?}"))?;
    Ok(collected.to_bytes())
}
