//! `FunctionHost`: the registry, the loader and the runtime put together. It is what the HTTP
//! server calls, and it knows nothing of HTTP.
//!
//! The hot path (an invocation) never touches the database: the active version of each function
//! is kept here, loaded, with its call spec; deploys, rollbacks and deletes replace or drop it.
//! Blocking registry calls run on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use dashmap::DashMap;
use serde_json::value::RawValue;

use crate::FastHash;
use crate::loader::{LoadError, LoadResult, LoadTier, Loader};
use crate::registry::{
    Digest, FunctionRecord, LogEntry, LogLevel, LogOutcome, LogWriter, Registry, RegistryError,
    Timestamp, VersionRecord,
};
use crate::runtime::{
    CallOutcome, CallOutput, CallSpec, ComponentKind, HttpCall, InvokeError, Limits,
    LoadedComponent, Runtime,
};
use crate::validate::{AllowedHost, DeployMetadata};

/// How the active version of a function was loaded (the API's load fields).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadInfo {
    /// Served from the memory or disk cache.
    pub from_cache: bool,
    /// The tier.
    pub tier: LoadTier,
    /// Load time in ms.
    pub load_time_ms: f64,
    /// Whether anything fell back.
    pub degraded: bool,
    /// Why.
    pub degradation_reason: Option<String>,
}

impl LoadInfo {
    fn from_result(r: &LoadResult) -> Self {
        Self {
            from_cache: r.from_cache,
            tier: r.tier,
            load_time_ms: r.load_time_ms,
            degraded: r.degraded,
            degradation_reason: r.degradation_reason.clone(),
        }
    }
}

/// A function ready to call: its record, the version actually served, and the loaded code.
#[derive(Debug)]
pub struct Active {
    /// The function and its active version, as stored.
    pub record: Arc<FunctionRecord>,
    /// The version served: the active one, or an earlier one when it failed to load.
    pub served: VersionRecord,
    /// The compiled component.
    pub component: Arc<LoadedComponent>,
    /// Limits, environment and allow-list for calls.
    pub spec: CallSpec,
    /// How it was loaded.
    pub load: LoadInfo,
    /// Secret values, to scrub from anything the guest logs.
    secret_values: Vec<String>,
}

impl Active {
    /// How the component is called.
    pub fn kind(&self) -> ComponentKind {
        self.component.kind()
    }
}

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// From the registry (not found, conflict, invalid, storage).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The component is not valid or cannot run here.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No version of the function could be loaded.
    #[error("function {id} cannot be loaded: {reason}")]
    Unloadable {
        /// The function.
        id: String,
        /// Why (each version tried).
        reason: String,
    },
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// What [`FunctionHost::deploy`] did.
#[derive(Debug)]
pub struct Deployed {
    /// The function after the deploy.
    pub record: Arc<FunctionRecord>,
    /// The version deployed.
    pub version: VersionRecord,
    /// False for an identical redeploy.
    pub created: bool,
    /// How the component was compiled/loaded.
    pub load: LoadInfo,
    /// How it is called.
    pub kind: ComponentKind,
}

/// A finished RPC or typed call, with the request id its logs carry.
#[derive(Debug)]
pub struct Invocation {
    /// The version that ran.
    pub version: String,
    /// The outcome.
    pub outcome: CallOutcome<Box<RawValue>>,
}

/// The host's functions: deploy, load, call, roll back, delete.
pub struct FunctionHost {
    registry: Arc<dyn Registry>,
    loader: Loader,
    runtime: Arc<Runtime>,
    logs: LogWriter,
    /// The loaded active version of each function called or deployed since it was last
    /// changed. An entry goes when its component leaves the loader's memory tier, so the
    /// memory budget bounds what is held here too; the next call loads it again (from disk).
    active: Arc<DashMap<String, Arc<Active>, FastHash>>,
    /// Bumped by every deploy, rollback and delete. A load started before a change must not
    /// put what it read into `active` afterwards (it could resurrect a deleted function or
    /// hide a new version), so `get` caches only when no change happened meanwhile.
    generation: std::sync::atomic::AtomicU64,
}

impl FunctionHost {
    /// Puts the parts together.
    pub fn new(registry: Arc<dyn Registry>, loader: Loader) -> Self {
        let runtime = loader.runtime().clone();
        let logs = registry.log_writer();
        let active: Arc<DashMap<String, Arc<Active>, FastHash>> = Arc::default();
        let held = Arc::downgrade(&active);
        loader.set_eviction_observer(Arc::new(move |digest: &str| {
            if let (Some(active), Ok(digest)) = (held.upgrade(), digest.parse::<Digest>()) {
                active.retain(|_, a| a.served.component.digest != digest);
            }
        }));
        Self {
            registry,
            loader,
            runtime,
            logs,
            active,
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Functions whose active version is held loaded right now (each one's component is in
    /// the loader's memory tier).
    pub fn loaded_functions(&self) -> usize {
        self.active.len()
    }

    /// The log writer.
    pub fn log_writer(&self) -> &LogWriter {
        &self.logs
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, HostError> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || f(registry.as_ref()))
            .await
            .map_err(|e| HostError::Task(e.to_string()))?
            .map_err(HostError::from)
    }

    /// Validates and compiles the component, then records the version and activates it.
    /// A component that does not compile or link is refused before anything is stored.
    pub async fn deploy(
        &self,
        metadata: DeployMetadata,
        bytes: Vec<u8>,
    ) -> Result<Deployed, HostError> {
        metadata.validate().map_err(RegistryError::from)?;
        let bytes = Arc::new(bytes);
        let loaded = self.loader.compile_new(bytes.clone()).await?;
        let outcome = self.blocking(move |r| r.deploy(metadata, &bytes)).await?;
        let load = LoadInfo::from_result(&loaded);
        let kind = loaded.component.kind();
        if outcome.created {
            self.changed(&outcome.function.id);
            let active = self.activate(
                outcome.function.clone(),
                outcome.function.active.clone(),
                loaded.component,
                load.clone(),
            );
            self.hold(active.record.id.clone(), Arc::new(active));
            let mut entry = LogEntry::new(
                &outcome.version.function_id,
                LogLevel::Info,
                format!("deployed version {}", outcome.version.version),
            );
            entry.version = Some(outcome.version.version.clone());
            self.logs.push(entry);
        }
        Ok(Deployed {
            record: outcome.function,
            version: outcome.version,
            created: outcome.created,
            load,
            kind,
        })
    }

    /// The function, loaded (from the fastest tier that has it) and ready to call.
    pub async fn get(&self, id: &str) -> Result<Arc<Active>, HostError> {
        if let Some(a) = self.active.get(id) {
            return Ok(a.clone());
        }
        let generation = self.generation();
        let owned = id.to_owned();
        let record = self.blocking(move |r| r.get_function(&owned)).await?;
        let active = Arc::new(self.load_record(record).await?);
        // Check and insert under the map's entry lock, so a concurrent change cannot slip in
        // between the two.
        match self.active.entry(id.to_owned()) {
            dashmap::Entry::Occupied(e) => return Ok(e.get().clone()),
            dashmap::Entry::Vacant(e) if self.generation() == generation => {
                e.insert(active.clone());
            }
            dashmap::Entry::Vacant(_) => return Ok(active),
        }
        // Outside the entry lock: letting go takes the map's lock again.
        self.let_go_if_evicted(id, &active);
        Ok(active)
    }

    /// Holds `active` as the loaded state of `id`, unless its component already left the
    /// memory tier.
    fn hold(&self, id: String, active: Arc<Active>) {
        self.active.insert(id.clone(), active.clone());
        self.let_go_if_evicted(&id, &active);
    }

    /// The eviction observer drops entries whose component leaves the memory tier; a component
    /// evicted while it was being loaded was gone before its entry went in, so check for that
    /// after inserting (an eviction after the check reaches the observer).
    fn let_go_if_evicted(&self, id: &str, active: &Arc<Active>) {
        if !self.loader.holds(&active.served.component.digest.to_hex()) {
            self.active
                .remove_if(id, |_, held| Arc::ptr_eq(held, active));
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records a change to `id` and drops its loaded state.
    fn changed(&self, id: &str) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.active.remove(id);
    }

    /// Loads a function's active version; if that fails, the newest earlier version that
    /// loads, reported as degraded.
    async fn load_record(&self, record: Arc<FunctionRecord>) -> Result<Active, HostError> {
        let first = self.load_version(&record.active).await;
        let err = match first {
            Ok(loaded) => {
                let load = LoadInfo::from_result(&loaded);
                return Ok(self.activate(
                    record.clone(),
                    record.active.clone(),
                    loaded.component,
                    load,
                ));
            }
            Err(e) => e,
        };
        let mut reasons = vec![format!(
            "version {} failed to load: {err}",
            record.active.version
        )];
        tracing::warn!(function = %record.id, version = %record.active.version, error = %err, "active version failed to load");
        let id = record.id.clone();
        let mut versions = self.blocking(move |r| r.list_versions(&id)).await?;
        let active_semver = semver::Version::parse(&record.active.version).ok();
        versions.retain(|v| v.version != record.active.version);
        // Newest earlier version first: by semver where versions parse, else deploy order.
        versions.sort_by(|a, b| {
            match (
                semver::Version::parse(&a.version),
                semver::Version::parse(&b.version),
            ) {
                (Ok(x), Ok(y)) => y.cmp(&x),
                _ => b.created_at.cmp(&a.created_at),
            }
        });
        if let Some(active) = &active_semver {
            versions.retain(|v| semver::Version::parse(&v.version).map_or(true, |s| &s < active));
        }
        for v in versions {
            match self.load_version(&v).await {
                Ok(loaded) => {
                    let mut load = LoadInfo::from_result(&loaded);
                    let reason = format!("{}; serving version {}", reasons.join("; "), v.version);
                    load.degraded = true;
                    load.degradation_reason = Some(match load.degradation_reason {
                        Some(r) => format!("{reason}; {r}"),
                        None => reason,
                    });
                    let mut entry = LogEntry::new(
                        &record.id,
                        LogLevel::Error,
                        load.degradation_reason.clone().unwrap_or_default(),
                    );
                    entry.version = Some(v.version.clone());
                    self.logs.push(entry);
                    return Ok(self.activate(record.clone(), v, loaded.component, load));
                }
                Err(e) => reasons.push(format!("version {} failed to load: {e}", v.version)),
            }
        }
        Err(HostError::Unloadable {
            id: record.id.clone(),
            reason: reasons.join("; "),
        })
    }

    async fn load_version(&self, v: &VersionRecord) -> Result<LoadResult, HostError> {
        let registry = self.registry.clone();
        let digest_hex = v.component.digest.to_hex();
        let digest = v.component.digest;
        let source = move |_: &str| registry.read_component(&digest).map_err(|e| e.to_string());
        Ok(self.loader.load(&digest_hex, &source).await?)
    }

    fn activate(
        &self,
        record: Arc<FunctionRecord>,
        served: VersionRecord,
        component: Arc<LoadedComponent>,
        load: LoadInfo,
    ) -> Active {
        let mut env: BTreeMap<String, String> = served.env.clone();
        for (k, v) in served.secrets.iter() {
            env.insert(k.to_owned(), v.to_owned());
        }
        let defaults = Limits::default();
        let limits = Limits {
            memory_mb: served.limits.memory_mb.unwrap_or(defaults.memory_mb),
            timeout: served.limits.timeout_ms.map_or(defaults.timeout, |ms| {
                std::time::Duration::from_millis(u64::from(ms))
            }),
            max_concurrency: served
                .limits
                .max_concurrency
                .unwrap_or(defaults.max_concurrency),
        };
        // Entries were validated at deploy; one that no longer parses is dropped (denied).
        let allowed: Vec<AllowedHost> = served
            .allowed_hosts
            .iter()
            .filter_map(|h| AllowedHost::parse(h).ok())
            .collect();
        let spec = CallSpec {
            function_id: record.id.as_str().into(),
            env: Arc::new(env.into_iter().collect()),
            limits,
            allowed_hosts: Arc::new(allowed),
        };
        let secret_values = served
            .secrets
            .iter()
            .map(|(_, v)| v.to_owned())
            .filter(|v| v.len() >= 4)
            .collect();
        Active {
            record,
            served,
            component,
            spec,
            load,
            secret_values,
        }
    }

    /// Calls `method` with `params` on the function's served version, and records its logs.
    pub async fn invoke(
        &self,
        id: &str,
        method: &str,
        params: &RawValue,
        request_id: &str,
    ) -> Result<Invocation, HostError> {
        let active = self.get(id).await?;
        let outcome = self
            .runtime
            .call(&active.component, &active.spec, method, params)
            .await;
        self.record_call(
            &active,
            request_id,
            method,
            &outcome.result.as_ref().map(|_| ()).map_err(Clone::clone),
            &outcome.output,
            outcome.elapsed,
        );
        Ok(Invocation {
            version: active.served.version.clone(),
            outcome,
        })
    }

    /// Passes an HTTP request to the function's handler. Logs are recorded when the guest is
    /// done (its body may still be streaming when this returns).
    pub async fn invoke_http(
        self: &Arc<Self>,
        active: Arc<Active>,
        request: http::Request<wasmtime_wasi_http::p2::body::HyperIncomingBody>,
        request_id: String,
    ) -> HttpCall {
        let mut call = self
            .runtime
            .handle_http(active.component.clone(), &active.spec, request)
            .await;
        let host = self.clone();
        let completion = std::mem::replace(&mut call.completion, Box::pin(std::future::pending()));
        let method = "http".to_owned();
        let wrapped = async move {
            let outcome = completion.await;
            host.record_call(
                &active,
                &request_id,
                &method,
                &outcome.result,
                &outcome.output,
                outcome.elapsed,
            );
            outcome
        };
        call.completion = Box::pin(wrapped);
        call
    }

    fn record_call(
        &self,
        active: &Active,
        request_id: &str,
        method: &str,
        result: &Result<(), InvokeError>,
        output: &CallOutput,
        elapsed: std::time::Duration,
    ) {
        let id = active.record.id.as_str();
        let version = &active.served.version;
        let now = Timestamp::now();
        let entry = |level: LogLevel, message: String| LogEntry {
            function_id: id.to_owned(),
            timestamp: now,
            level,
            message: scrub(&message, &active.secret_values),
            request_id: Some(request_id.to_owned()),
            version: Some(version.clone()),
            duration_ms: None,
            outcome: None,
        };
        for line in output.lines() {
            let level = match line.level {
                crate::runtime::LogLevel::Trace | crate::runtime::LogLevel::Debug => {
                    LogLevel::Debug
                }
                crate::runtime::LogLevel::Info => LogLevel::Info,
                crate::runtime::LogLevel::Warn => LogLevel::Warn,
                crate::runtime::LogLevel::Error => LogLevel::Error,
            };
            self.logs.push(entry(level, line.message));
        }
        if output.truncated {
            self.logs.push(entry(
                LogLevel::Warn,
                "guest output truncated at the per-call cap".into(),
            ));
        }
        let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let (level, outcome, message) = match result {
            Ok(()) => (
                LogLevel::Info,
                LogOutcome::Success,
                format!("{method} succeeded in {millis} ms"),
            ),
            Err(e) => {
                let outcome = match e {
                    InvokeError::Timeout(_) => LogOutcome::Timeout,
                    InvokeError::MemoryLimit(_) => LogOutcome::MemoryLimit,
                    e if e.is_client_error() => LogOutcome::Rejected,
                    InvokeError::Busy(_) => LogOutcome::Rejected,
                    _ => LogOutcome::Error,
                };
                (
                    LogLevel::Error,
                    outcome,
                    format!("{method} failed after {millis} ms: {e}"),
                )
            }
        };
        let mut summary = entry(level, message);
        summary.duration_ms = Some(millis);
        summary.outcome = Some(outcome);
        self.logs.push(summary);
    }

    /// Makes `version` active again; the loaded state follows.
    pub async fn rollback(
        &self,
        id: &str,
        version: &str,
    ) -> Result<(Arc<Active>, String), HostError> {
        let (id2, v2) = (id.to_owned(), version.to_owned());
        let outcome = self.blocking(move |r| r.rollback(&id2, &v2)).await?;
        self.changed(id);
        let active = Arc::new(self.load_record(outcome.function.clone()).await?);
        self.hold(id.to_owned(), active.clone());
        let mut entry = LogEntry::new(
            id,
            LogLevel::Info,
            format!("rolled back from {} to {version}", outcome.previous),
        );
        entry.version = Some(version.to_owned());
        self.logs.push(entry);
        Ok((active, outcome.previous))
    }

    /// Deletes the function with everything it has.
    pub async fn delete(&self, id: &str) -> Result<(), HostError> {
        let owned = id.to_owned();
        self.changed(id);
        let outcome = self.blocking(move |r| r.delete_function(&owned)).await;
        // Again after the delete: a call that loaded the function meanwhile is dropped too.
        // The compiled code stays in the memory cache (another function may share it) until
        // the cache's LRU policy evicts it.
        self.changed(id);
        self.runtime.forget(id);
        outcome.map(|_| ())
    }

    /// Loads every function's active version (start-up warm-up): the first call after a
    /// restart is then served from memory. Failures are logged, not fatal.
    pub async fn warm(&self) -> usize {
        let records = match self.blocking(|r| r.list_functions()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not list functions to warm the cache");
                return 0;
            }
        };
        let mut warmed = 0;
        for record in records {
            let id = record.id.clone();
            match self.load_record(record).await {
                Ok(active) => {
                    tracing::info!(function = %id, version = %active.served.version, tier = active.load.tier.as_str(), load_ms = active.load.load_time_ms, degraded = active.load.degraded, "warmed");
                    self.hold(id, Arc::new(active));
                    warmed += 1;
                }
                Err(e) => tracing::error!(function = %id, error = %e, "could not warm function"),
            }
        }
        warmed
    }

    /// Reads a component's bytes from storage.
    pub async fn component_bytes(&self, digest: Digest) -> Result<Vec<u8>, HostError> {
        self.blocking(move |r| r.read_component(&digest)).await
    }
}

/// Replaces every secret value in `text` with `[REDACTED]`.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
    }
    out
}
