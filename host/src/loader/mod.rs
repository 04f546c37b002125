//! Turning a component's bytes into something callable, as fast as the tiers allow.
//!
//! 1. **Memory**: a moka cache of [`LoadedComponent`]s keyed by content digest, weighted by
//!    compiled size under a byte budget. Concurrent loads of one digest share one load.
//! 2. **Disk**: precompiled artifacts ([`disk::ArtifactStore`]), verified before use.
//! 3. **Compile**: from the stored component bytes; the artifact is written for next time.
//!
//! Every load answers with a [`LoadResult`] (`fromCache`, `loadTimeMs`, `degraded`,
//! `degradationReason`). Degraded means the load worked but not the way it should have: the
//! disk artifact was missing, corrupt or foreign and had to be recompiled, the disk tier is
//! unavailable, or the engine runs without pooling.

pub mod command;
pub mod disk;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wasmtime::component::Component;

use crate::model::Digest;
use crate::runtime::{LoadedComponent, PrepareError, Runtime};
use disk::ArtifactStore;

/// Default budget of the memory tier, in bytes of compiled code.
pub const DEFAULT_MEMORY_BUDGET: u64 = 512 * 1024 * 1024;

/// Where a load was served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadTier {
    /// The in-memory cache.
    Memory,
    /// A precompiled artifact on disk.
    Disk,
    /// A precompiled artifact from the shared store (compiled by another host with the same
    /// engine), kept on disk from then on.
    Shared,
    /// A fresh compile.
    Compile,
}

impl LoadTier {
    /// Lowercase name for metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadTier::Memory => "memory",
            LoadTier::Disk => "disk",
            LoadTier::Shared => "shared",
            LoadTier::Compile => "compile",
        }
    }
}

/// The outcome of a successful load, as the API reference defines `LoadResult`.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// The callable component (the reference's `stub`).
    pub component: Arc<LoadedComponent>,
    /// Always true for a result; failures are [`LoadError`]s.
    pub success: bool,
    /// Served from the memory or disk tier.
    pub from_cache: bool,
    /// Which tier.
    pub tier: LoadTier,
    /// Time the load took, in milliseconds (fractional).
    pub load_time_ms: f64,
    /// Whether the load fell back from the normal path.
    pub degraded: bool,
    /// Why, when degraded.
    pub degradation_reason: Option<String>,
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid component (or do not compile).
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component cannot run here.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// The component's bytes could not be read from storage.
    #[error("component {digest} is not available: {reason}")]
    Unavailable {
        /// Which component.
        digest: Digest,
        /// Why.
        reason: String,
    },
}

/// The future a [`ComponentSource`] answers with.
pub type SourceFuture<'a, T = Vec<u8>> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Supplies a component's original bytes when no compiled form is cached (the registry, which
/// may be a database across the network: asked only when a compile is needed), and, when it
/// is shared by several hosts, the artifacts they compiled.
pub trait ComponentSource: Send + Sync {
    /// The bytes of the component with `digest`.
    fn component_bytes<'a>(&'a self, digest: &'a Digest) -> SourceFuture<'a>;

    /// A precompiled artifact of `digest` for engines with compatibility key `engine_key`,
    /// if the source keeps them (`None` by default).
    fn shared_artifact<'a>(
        &'a self,
        _digest: &'a Digest,
        _engine_key: &'a str,
    ) -> SourceFuture<'a, Option<Vec<u8>>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Keeps an artifact this host just compiled for the others (nothing by default).
    fn keep_artifact<'a>(
        &'a self,
        _digest: &'a Digest,
        _engine_key: &'a str,
        _artifact: Vec<u8>,
    ) -> SourceFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<F> ComponentSource for F
where
    F: Fn(&Digest) -> Result<Vec<u8>, String> + Send + Sync,
{
    fn component_bytes<'a>(&'a self, digest: &'a Digest) -> SourceFuture<'a> {
        let bytes = self(digest);
        Box::pin(std::future::ready(bytes))
    }
}

/// Counters of what the loader did, for metrics.
#[derive(Debug, Default)]
pub struct LoaderStats {
    /// Loads served from memory.
    pub memory_hits: AtomicU64,
    /// Loads served from disk.
    pub disk_hits: AtomicU64,
    /// Loads that compiled.
    pub compiles: AtomicU64,
    /// Loads reported degraded.
    pub degraded: AtomicU64,
}

/// What the memory tier keeps: the component and how its first load went.
#[derive(Clone)]
struct Entry {
    component: Arc<LoadedComponent>,
    tier: LoadTier,
    degraded: Option<String>,
}

/// Called with every successful load (metrics hang here).
pub type LoadObserver = Arc<dyn Fn(&LoadResult) + Send + Sync>;

/// Called with the digest of every component that leaves the memory tier (evicted for the
/// budget or invalidated), so whoever holds on to it can let go too.
pub type EvictionObserver = Arc<dyn Fn(&Digest) + Send + Sync>;

/// The compiled-code cache with its three tiers.
pub struct Loader {
    runtime: Arc<Runtime>,
    memory: moka::future::Cache<Digest, Entry>,
    disk: ArtifactStore,
    stats: LoaderStats,
    /// Set once by the server, so loads at warm-up and on the invoke path are measured too.
    observer: std::sync::OnceLock<LoadObserver>,
    /// Set once by the function host, which drops what it holds of an evicted component.
    on_evict: Arc<std::sync::OnceLock<EvictionObserver>>,
}

impl Loader {
    /// A loader keeping artifacts under `cache_dir` (or nowhere, when `None`) and at most
    /// `memory_budget` bytes of compiled code in memory.
    pub fn new(runtime: Arc<Runtime>, cache_dir: Option<&Path>, memory_budget: u64) -> Self {
        let disk = match cache_dir {
            Some(dir) => ArtifactStore::open(dir, runtime.engine().compatibility_key()),
            None => ArtifactStore::disabled("no cache directory configured; running memory-only"),
        };
        let on_evict: Arc<std::sync::OnceLock<EvictionObserver>> = Arc::default();
        let listener = on_evict.clone();
        let memory = moka::future::Cache::builder()
            .max_capacity(memory_budget)
            .eviction_listener(move |digest: Arc<Digest>, _: Entry, cause| {
                // A replaced entry holds the same digest's code: nothing left the tier.
                if cause != moka::notification::RemovalCause::Replaced
                    && let Some(observe) = listener.get()
                {
                    observe(&digest);
                }
            })
            .weigher(|_k: &Digest, v: &Entry| {
                u32::try_from(v.component.compiled_bytes)
                    .unwrap_or(u32::MAX)
                    .max(1)
            })
            .build();
        Self {
            runtime,
            memory,
            disk,
            stats: LoaderStats::default(),
            observer: std::sync::OnceLock::new(),
            on_evict,
        }
    }

    /// The runtime components are prepared for.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Calls `observer` with every successful load from now on (only the first observer set
    /// is kept; returns false for later ones).
    pub fn set_observer(&self, observer: LoadObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Calls `observer` with the digest of every component that leaves the memory tier from
    /// now on (only the first observer set is kept; returns false for later ones). The memory
    /// budget only bounds memory if nothing else keeps evicted components alive.
    pub fn set_eviction_observer(&self, observer: EvictionObserver) -> bool {
        self.on_evict.set(observer).is_ok()
    }

    /// Whether the memory tier holds `digest` right now.
    pub fn holds(&self, digest: &Digest) -> bool {
        self.memory.contains_key(digest)
    }

    /// What the loader did so far.
    pub fn stats(&self) -> &LoaderStats {
        &self.stats
    }

    /// The disk tier.
    pub fn disk(&self) -> &ArtifactStore {
        &self.disk
    }

    /// Components and bytes in the memory tier.
    pub async fn memory_usage(&self) -> (u64, u64) {
        self.memory.run_pending_tasks().await;
        (self.memory.entry_count(), self.memory.weighted_size())
    }

    /// Drops `digest` from the memory tier (tests and benchmarks use it to force a disk load).
    pub async fn evict(&self, digest: &Digest) {
        self.memory.invalidate(digest).await;
    }

    /// Compiles `bytes` as at deploy time: validates, compiles, writes the disk artifact and
    /// keeps the result in memory, so no call pays for compilation.
    pub async fn compile_new(&self, bytes: Arc<Vec<u8>>) -> Result<LoadResult, LoadError> {
        let digest = Digest::of(&bytes);
        let source = move |_: &Digest| Ok::<_, String>(bytes.as_ref().clone());
        self.load_inner(&digest, &source, true).await
    }

    /// Loads the component `digest`, from the fastest tier that has it; `source` supplies the
    /// original bytes if it must be compiled.
    pub async fn load(
        &self,
        digest: &Digest,
        source: &dyn ComponentSource,
    ) -> Result<LoadResult, LoadError> {
        self.load_inner(digest, source, false).await
    }

    async fn load_inner(
        &self,
        digest: &Digest,
        source: &dyn ComponentSource,
        deploying: bool,
    ) -> Result<LoadResult, LoadError> {
        let started = Instant::now();
        let init = async {
            let (component, tier, degraded) = self.load_uncached(digest, source, deploying).await?;
            Ok::<_, LoadError>(Entry {
                component: Arc::new(component),
                tier,
                degraded,
            })
        };
        let entry = self
            .memory
            .entry_by_ref(digest)
            .or_try_insert_with(init)
            .await;
        let entry = match entry {
            Ok(e) => e,
            Err(err) => return Err(unshare(&err)),
        };
        let fresh = entry.is_fresh();
        let Entry {
            component,
            tier,
            degraded,
        } = entry.into_value();
        let tier = if fresh { tier } else { LoadTier::Memory };
        // A memory hit of a component whose first load was degraded is not itself degraded,
        // but the engine's own degradation applies to every load.
        let mut reasons: Vec<String> = Vec::new();
        if fresh && let Some(r) = degraded {
            reasons.push(r);
        }
        if let Some(r) = self.disk.unavailable() {
            reasons.push(r.to_owned());
        }
        if let Some(r) = self.runtime.engine().degraded() {
            reasons.push(r.to_owned());
        }
        match tier {
            LoadTier::Memory => &self.stats.memory_hits,
            LoadTier::Disk | LoadTier::Shared => &self.stats.disk_hits,
            LoadTier::Compile => &self.stats.compiles,
        }
        .fetch_add(1, Ordering::Relaxed);
        if !reasons.is_empty() {
            self.stats.degraded.fetch_add(1, Ordering::Relaxed);
        }
        let result = LoadResult {
            component,
            success: true,
            from_cache: tier != LoadTier::Compile,
            tier,
            load_time_ms: started.elapsed().as_secs_f64() * 1000.0,
            degraded: !reasons.is_empty(),
            degradation_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        };
        if let Some(observe) = self.observer.get() {
            observe(&result);
        }
        Ok(result)
    }

    /// The disk tier, then a compile. Returns the tier used and why it was degraded.
    async fn load_uncached(
        &self,
        digest: &Digest,
        source: &dyn ComponentSource,
        deploying: bool,
    ) -> Result<(LoadedComponent, LoadTier, Option<String>), LoadError> {
        let engine = self.runtime.engine().engine().clone();
        let mut degraded = None;
        match self.disk.verified(digest) {
            Ok(Some(path)) => {
                let engine = engine.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    // SAFETY: the artifact was written by this host's own `precompile_component`
                    // into its private cache directory and its checksum was verified just now;
                    // wasmtime additionally checks that it was compiled by a compatible engine.
                    #[allow(unsafe_code)]
                    unsafe {
                        Component::deserialize_file(&engine, &path)
                    }
                })
                .await;
                match loaded {
                    Ok(Ok(component)) => {
                        let prepared =
                            LoadedComponent::prepare(self.runtime.linker(), *digest, component)?;
                        return Ok((prepared, LoadTier::Disk, None));
                    }
                    Ok(Err(err)) => {
                        let reason = format!(
                            "compiled artifact is incompatible with this engine ({err:#}); recompiled from the stored component"
                        );
                        tracing::warn!(%digest, %reason, "disk cache fallback");
                        self.disk.discard(digest);
                        degraded = Some(reason);
                    }
                    Err(join) => {
                        degraded = Some(format!(
                            "loading the compiled artifact failed ({join}); recompiled"
                        ));
                    }
                }
            }
            Ok(None) if !deploying && self.disk.unavailable().is_none() => {
                degraded = Some("compiled artifact missing from the disk cache; recompiled from the stored component".into());
            }
            Ok(None) => {}
            Err(err) => {
                let reason = format!("{err}; recompiled from the stored component");
                tracing::warn!(%digest, %reason, "disk cache fallback");
                self.disk.discard(digest);
                degraded = Some(reason);
            }
        }

        let engine_key = self.runtime.engine().compatibility_key().to_owned();
        match source.shared_artifact(digest, &engine_key).await {
            Ok(Some(artifact)) => {
                let engine = engine.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    // SAFETY: the artifact comes from the host's own shared store (trusted like
                    // its database), written there by `precompile_component` of an engine with
                    // the same compatibility key and verified against the hash stored with it;
                    // wasmtime additionally checks that it was compiled by a compatible engine.
                    #[allow(unsafe_code)]
                    let component = unsafe { Component::deserialize(&engine, &artifact) };
                    component.map(|c| (c, artifact))
                })
                .await;
                match loaded {
                    Ok(Ok((component, artifact))) => {
                        let prepared =
                            LoadedComponent::prepare(self.runtime.linker(), *digest, component)?;
                        if let Err(err) = self.disk.store(digest, &artifact) {
                            tracing::warn!(%digest, %err, "could not keep the shared artifact on disk");
                        }
                        return Ok((prepared, LoadTier::Shared, None));
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(%digest, error = %format!("{err:#}"), "shared artifact unusable; compiling");
                    }
                    Err(join) => {
                        tracing::warn!(%digest, %join, "loading the shared artifact failed")
                    }
                }
            }
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(%digest, %reason, "reading the shared artifact failed; compiling")
            }
        }

        let bytes =
            source
                .component_bytes(digest)
                .await
                .map_err(|reason| LoadError::Unavailable {
                    digest: *digest,
                    reason,
                })?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(LoadError::Unavailable {
                digest: *digest,
                reason: format!("stored bytes have digest {actual}"),
            });
        }
        let compiled = tokio::task::spawn_blocking(move || compile(&engine, &bytes))
            .await
            .map_err(|e| LoadError::Invalid(format!("compilation task failed: {e}")))??;
        let (component, serialized) = compiled;
        let prepared = LoadedComponent::prepare(self.runtime.linker(), *digest, component)?;
        if let Err(reason) = source
            .keep_artifact(digest, &engine_key, serialized.clone())
            .await
        {
            tracing::warn!(%digest, %reason, "could not share the compiled artifact");
        }
        if let Err(err) = self.disk.store(digest, &serialized) {
            let reason =
                format!("could not write the compiled artifact ({err}); kept in memory only");
            tracing::warn!(%digest, %reason, "disk cache write failed");
            degraded = Some(match degraded {
                Some(prev) => format!("{prev}; {reason}"),
                None => reason,
            });
        }
        Ok((prepared, LoadTier::Compile, degraded))
    }
}

/// Validates and compiles a component, or a WASI command module wrapped into one
/// ([`command::wrap`]); returns it with its serialized form for the disk tier.
fn compile(engine: &wasmtime::Engine, bytes: &[u8]) -> Result<(Component, Vec<u8>), LoadError> {
    let wrapped;
    let bytes = if looks_like_component(bytes) {
        bytes
    } else if looks_like_core_module(bytes) {
        wrapped = command::wrap(bytes).map_err(LoadError::Invalid)?;
        wrapped.as_slice()
    } else {
        return Err(LoadError::Invalid(
            "not a WebAssembly component or module (bad magic number or version)".into(),
        ));
    };
    let serialized = engine
        .precompile_component(bytes)
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
    // SAFETY: `serialized` was produced by `precompile_component` on this engine a moment ago.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, &serialized) }
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
    Ok((component, serialized))
}

/// Whether `bytes` start with the component-model preamble (`\0asm`, layer 1).
pub fn looks_like_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

/// Whether `bytes` start with the core module preamble (`\0asm`, version 1).
pub fn looks_like_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// moka hands a shared error to every waiter; rebuild an owned one keeping the message.
fn unshare(err: &Arc<LoadError>) -> LoadError {
    match err.as_ref() {
        LoadError::Invalid(m) => LoadError::Invalid(m.clone()),
        LoadError::Prepare(PrepareError::Link(m)) => {
            LoadError::Prepare(PrepareError::Link(m.clone()))
        }
        LoadError::Prepare(PrepareError::NothingCallable) => {
            LoadError::Prepare(PrepareError::NothingCallable)
        }
        LoadError::Unavailable { digest, reason } => LoadError::Unavailable {
            digest: *digest,
            reason: reason.clone(),
        },
    }
}
