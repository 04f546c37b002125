//! `FunctionHost`: the registry, the loader and the runtime put together, behind one async
//! API. It is all the HTTP server talks to (functions, versions, calls, keys, logs, stats), and
//! it knows nothing of HTTP routes; the server knows nothing of the storage, the loader or
//! wasmtime. `app.rs` builds it.
//!
//! The hot path (an invocation) never touches the database: the active version of each function
//! is kept here, loaded, with its call spec; deploys, rollbacks and deletes replace or drop it.
//! A verified API key is cached ([`access`]).
//! Every finished call is reported once to the host's [`CallObserver`]s ([`observe`]): its
//! logs, metrics and tracing.

pub mod access;
pub mod acting;
pub mod observe;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use http_body_util::BodyExt as _;
use serde_json::value::RawValue;
use tracing::Instrument as _;

use crate::FastHash;
use crate::loader::{LoadError, LoadResult, LoadTier, Loader};
use crate::metrics::Gauges;
use crate::model::access::{Privacy, TokenScope};
use crate::model::{
    ApiKeyRecord, CreatedKey, DeployMetadata, Digest, FunctionRecord, GcReport, HistoryEntry,
    Interface, LogEntry, LogLevel, LogQuery, LogRecord, NamespaceDeleteOutcome, NamespaceInfo,
    NamespacePatch, NamespaceRecord, NamespaceUpdate, NewKey, NewNamespace, PrivacyChange,
    Resource, Timestamp, VersionRecord,
};
use crate::registry::{AuthError, Change, LogWriter, Registry, RegistryError};
use crate::runtime::{CallLimits, CallOutcome, CallSpec, LoadedComponent, Runtime};
use crate::validate::{AllowedHost, ValidationError};
use access::{AccessError, Credential, HostKey, KeyCache, Principal, TokenCache};
use observe::{CallContext, CallObserver, FinishedCall, LogRecorder, Observers};
use tokens::{IssuedToken, Verifier, Verifiers};

pub use crate::runtime::{CgiRequest, ComponentKind, InvokeError};

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
    component: Arc<LoadedComponent>,
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

    /// The signatures of the component's typed exports (empty for RPC and HTTP components).
    pub fn exports(&self) -> Vec<String> {
        self.component
            .typed_exports()
            .iter()
            .map(|f| f.signature())
            .collect()
    }
}

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The function, version or key does not exist.
    #[error("{} not found: {id}", resource.as_str())]
    NotFound {
        /// What was looked up.
        resource: Resource,
        /// Its id (`function@version` for versions).
        id: String,
    },
    /// The write contradicts what is stored (a version exists with other code or metadata).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input breaks a validation rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The component is not valid or cannot run here.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// No version of the function could be loaded.
    #[error("function {id} cannot be loaded: {reason}")]
    Unloadable {
        /// The function.
        id: String,
        /// Why (each version tried).
        reason: String,
    },
    /// The shared store is unreachable: writes (and reads of what is not in memory) are
    /// refused until it is back.
    #[error(
        "the database is unreachable ({0}); writes are refused until it is back, loaded functions keep serving"
    )]
    StoreUnreachable(String),
    /// The credential is missing or not valid (a 401).
    #[error(transparent)]
    Unauthenticated(AccessError),
    /// The credential is valid but does not cover the action (a 403, with what it lacks).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A fault of the host: storage, a component's bytes unreadable, a failed task.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<AccessError> for HostError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Unavailable(reason) => {
                HostError::Internal(anyhow::anyhow!("verifying a credential: {reason}"))
            }
            other => HostError::Unauthenticated(other),
        }
    }
}

impl From<RegistryError> for HostError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound { resource, id } => HostError::NotFound { resource, id },
            RegistryError::Conflict(message) => HostError::Conflict(message),
            RegistryError::Invalid(v) => HostError::Invalid(v),
            RegistryError::Unreachable(why) => HostError::StoreUnreachable(why),
            other => HostError::Internal(other.into()),
        }
    }
}

impl From<LoadError> for HostError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Invalid(m) => HostError::InvalidComponent(m),
            LoadError::Prepare(p) => HostError::InvalidComponent(p.to_string()),
            e @ LoadError::Unavailable { .. } => HostError::Internal(e.into()),
        }
    }
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

/// A function's versions and deployment history (`GET .../versions`).
#[derive(Debug)]
pub struct Versions {
    /// The function and its active version.
    pub record: Arc<FunctionRecord>,
    /// Every version, in deploy order.
    pub versions: Vec<VersionRecord>,
    /// Deploys and rollbacks, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// The body of a `wasi:http` handler's response.
pub type ResponseBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// What the host is built with besides its parts.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// A key that is always valid (`FDO_API_KEY`).
    pub api_key: Option<String>,
}

/// The host's functions: deploy, load, call, roll back, delete.
pub struct FunctionHost {
    registry: Arc<dyn Registry>,
    loader: Arc<Loader>,
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
    /// Told about every finished call, in order (the log recorder first).
    observers: Observers,
    /// `FDO_API_KEY`.
    host_key: HostKey,
    /// Keys verified recently.
    keys: KeyCache,
    /// Tokens verified recently.
    tokens: TokenCache,
    /// Every namespace's token verifier by key id; `None` until first needed and after a
    /// namespace changed (then rebuilt from one listing).
    verifiers: std::sync::RwLock<Option<Arc<Verifiers>>>,
}

impl FunctionHost {
    /// Puts the parts together. Every finished call is recorded in the function's logs, then
    /// reported to `observers` in order.
    pub fn new(
        registry: Arc<dyn Registry>,
        loader: Arc<Loader>,
        options: HostOptions,
        observers: Vec<Arc<dyn CallObserver>>,
    ) -> Self {
        let runtime = loader.runtime().clone();
        let logs = registry.log_writer();
        let active: Arc<DashMap<String, Arc<Active>, FastHash>> = Arc::default();
        let held = Arc::downgrade(&active);
        loader.set_eviction_observer(Arc::new(move |digest: &Digest| {
            if let Some(active) = held.upgrade() {
                active.retain(|_, a| a.served.component.digest != *digest);
            }
        }));
        let recorder: Arc<dyn CallObserver> = Arc::new(LogRecorder { logs: logs.clone() });
        Self {
            registry,
            loader,
            runtime,
            logs,
            active,
            generation: std::sync::atomic::AtomicU64::new(0),
            observers: std::iter::once(recorder).chain(observers).collect(),
            host_key: HostKey::new(options.api_key),
            keys: KeyCache::default(),
            tokens: TokenCache::default(),
            verifiers: std::sync::RwLock::new(None),
        }
    }

    /// Functions whose active version is held loaded right now (each one's component is in
    /// the loader's memory tier).
    pub fn loaded_functions(&self) -> usize {
        self.active.len()
    }

    /// Why the store is degraded right now (the shared database unreachable), if it is.
    pub fn degraded_store(&self) -> Option<String> {
        self.registry.health()
    }

    /// Why the engine runs degraded (on-demand allocation instead of the pooling allocator),
    /// if it does.
    pub fn degraded_engine(&self) -> Option<&str> {
        self.runtime.engine().degraded()
    }

    /// The gauges `/metrics` reports: the compiled-code cache, instances in flight, dropped
    /// log entries.
    pub async fn gauges(&self) -> Gauges {
        let (cache_entries, cache_bytes) = self.loader.memory_usage().await;
        Gauges {
            cache_entries,
            cache_bytes,
            instances_in_flight: self.runtime.in_flight(),
            logs_dropped: self.logs.stats().dropped,
            database_unreachable: self.registry.health().is_some(),
        }
    }

    /// Writes out every queued log entry (at shutdown).
    pub async fn flush_logs(&self) -> Result<(), HostError> {
        let writer = self.logs.clone();
        tokio::task::spawn_blocking(move || writer.flush())
            .await
            .map_err(|e| HostError::Internal(e.into()))?
            .map_err(HostError::from)
    }

    /// Validates and compiles the component, then records the version and activates it.
    /// A component that does not compile or link is refused before anything is stored.
    pub async fn deploy(
        &self,
        metadata: DeployMetadata,
        bytes: Vec<u8>,
    ) -> Result<Deployed, HostError> {
        let privacy = metadata.privacy();
        let bytes = Arc::new(bytes);
        let loaded = self.loader.compile_new(bytes.clone()).await?;
        check_interface(&metadata, loaded.component.kind())?;
        check_initial_memory(&metadata, &bytes)?;
        let mut outcome = self.registry.deploy(metadata, bytes).await?;
        if outcome.created {
            self.share_artifact(&outcome.version.component.digest).await;
        }
        let load = LoadInfo::from_result(&loaded);
        let kind = loaded.component.kind();
        // Privacy belongs to the function, not the version: an identical redeploy may change it.
        if !outcome.created
            && let Some(privacy) = privacy
            && privacy != outcome.function.privacy
        {
            outcome.function = self
                .set_privacy(&outcome.function.id, privacy)
                .await?
                .function;
        }
        if outcome.created {
            self.changed(&outcome.function.id);
            let namespace = self.namespace(&outcome.function.namespace).await?;
            let active = self.activate(
                outcome.function.clone(),
                &namespace,
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

    /// Offers the artifact this host compiled at deploy (kept in its disk cache) to the other
    /// hosts on a shared store, so they load it instead of compiling. Best effort: a host that
    /// finds none compiles, and offers its own.
    async fn share_artifact(&self, digest: &Digest) {
        let Ok(Some(path)) = self.loader.disk().verified(digest) else {
            return;
        };
        let key = self.runtime.engine().compatibility_key().to_owned();
        match tokio::fs::read(&path).await {
            Ok(artifact) => {
                if let Err(e) = self.registry.store_artifact(digest, &key, artifact).await {
                    tracing::warn!(%digest, error = %e, "could not share the compiled artifact");
                }
            }
            Err(e) => tracing::warn!(%digest, error = %e, "could not read the compiled artifact"),
        }
    }

    /// The function's loaded state if it is held loaded now, without loading it (what the
    /// console's functions table shows).
    pub fn loaded(&self, id: &str) -> Option<Arc<Active>> {
        self.active.get(id).map(|a| a.clone())
    }

    /// The function, loaded (from the fastest tier that has it) and ready to call.
    pub async fn get(&self, id: &str) -> Result<Arc<Active>, HostError> {
        if let Some(a) = self.active.get(id) {
            return Ok(a.clone());
        }
        let generation = self.generation();
        let record = self.registry.get_function(id).await?;
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
        if !self.loader.holds(&active.served.component.digest) {
            self.active
                .remove_if(id, |_, held| Arc::ptr_eq(held, active));
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps this host current with changes other hosts make to a shared store, until the
    /// host is dropped (nothing to do on a store only this host writes to).
    pub fn follow_changes(self: &Arc<Self>) {
        let Some(mut changes) = self.registry.changes() else {
            return;
        };
        let host = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let change = changes.recv().await;
                let Some(host) = host.upgrade() else {
                    return;
                };
                match change {
                    Ok(change) => host.apply_change(&change),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "fell behind the change feed; dropping every loaded function and verified key"
                        );
                        host.apply_change(&Change::Unknown {
                            kind: "lagged".into(),
                            key: String::new(),
                        });
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Drops what `change`, made by another host, makes stale: a function's loaded state, the
    /// verified keys, or (for a change this build does not know) everything.
    pub fn apply_change(&self, change: &Change) {
        match change {
            Change::Function(id) => self.changed(id),
            Change::Key(_) => self.keys.clear(),
            // A namespace's env and secrets are part of its functions' loaded state.
            Change::Namespace(name) => {
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.active.retain(|_, a| a.record.namespace != *name);
                self.drop_verifiers();
            }
            Change::TokenKey(_) => self.drop_verifiers(),
            Change::Unknown { .. } => {
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.active.clear();
                self.keys.clear();
                self.drop_verifiers();
            }
        }
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
        let namespace = self.namespace(&record.namespace).await?;
        let first = self.load_version(&record.active).await;
        let err = match first {
            Ok(loaded) => {
                let load = LoadInfo::from_result(&loaded);
                return Ok(self.activate(
                    record.clone(),
                    &namespace,
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
        let mut versions = self.registry.list_versions(&record.id).await?;
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
                    return Ok(self.activate(
                        record.clone(),
                        &namespace,
                        v,
                        loaded.component,
                        load,
                    ));
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
        let source = RegistrySource {
            registry: self.registry.as_ref(),
            digest: v.component.digest,
        };
        Ok(self.loader.load(&v.component.digest, &source).await?)
    }

    /// The function ready to call: `served` with its namespace's env and secrets merged under
    /// its own (the function's value wins on a clash).
    fn activate(
        &self,
        record: Arc<FunctionRecord>,
        namespace: &NamespaceRecord,
        served: VersionRecord,
        component: Arc<LoadedComponent>,
        load: LoadInfo,
    ) -> Active {
        let mut env: BTreeMap<String, String> = namespace.env.clone();
        for (k, v) in namespace.secrets.iter() {
            env.insert(k.to_owned(), v.to_owned());
        }
        for (k, v) in &served.env {
            env.insert(k.clone(), v.clone());
        }
        for (k, v) in served.secrets.iter() {
            env.insert(k.to_owned(), v.to_owned());
        }
        let limits = CallLimits::from(served.limits);
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
            .chain(namespace.secrets.iter())
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

    /// Calls `method` with `params` on `active` (what [`FunctionHost::get`] answered: the
    /// version that runs is the one the caller saw, whatever is deployed meanwhile) and
    /// reports the call to the observers.
    pub async fn invoke(
        &self,
        active: &Active,
        method: &str,
        params: &RawValue,
        context: &CallContext,
    ) -> CallOutcome<Box<RawValue>> {
        let outcome = self
            .runtime
            .call(&active.component, &active.spec, method, params)
            .await;
        self.finished(&FinishedCall {
            function: active,
            context,
            method,
            result: outcome.result.as_ref().map(|_| ()),
            output: &outcome.output,
            elapsed: outcome.elapsed,
        });
        outcome
    }

    /// Passes an HTTP request, its body read whole, to `active`, a WASI command deployed with
    /// `"interface": "http"`, CGI-style; the answer is the command's response, whole.
    pub async fn invoke_cgi(
        &self,
        active: &Active,
        request: CgiRequest,
        context: &CallContext,
    ) -> CallOutcome<http::Response<Bytes>> {
        let outcome = self
            .runtime
            .call_cgi(&active.component, &active.spec, request)
            .await;
        self.finished(&FinishedCall {
            function: active,
            context,
            method: "http",
            result: outcome.result.as_ref().map(|_| ()),
            output: &outcome.output,
            elapsed: outcome.elapsed,
        });
        outcome
    }

    /// Passes an HTTP request to `active`'s `wasi:http` handler; `request`'s URI is what the
    /// guest sees. The answer is the guest's response (its body may still be streaming); the
    /// call is reported to the observers when the guest is done, in the current span.
    pub async fn invoke_http<B>(
        self: &Arc<Self>,
        active: Arc<Active>,
        request: http::Request<B>,
        context: CallContext,
    ) -> Result<http::Response<ResponseBody>, InvokeError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        let request = request.map(|body| {
            body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
                .boxed_unsync()
        });
        let call = self
            .runtime
            .handle_http(active.component.clone(), &active.spec, request)
            .await;
        let host = self.clone();
        let completion = call.completion;
        tokio::spawn(
            async move {
                let outcome = completion.await;
                host.finished(&FinishedCall {
                    function: &active,
                    context: &context,
                    method: "http",
                    result: outcome.result.as_ref().copied(),
                    output: &outcome.output,
                    elapsed: outcome.elapsed,
                });
            }
            .in_current_span(),
        );
        call.response.map(|response| {
            response.map(|body| {
                body.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    .boxed_unsync()
            })
        })
    }

    /// Tells every observer about a finished call.
    fn finished(&self, call: &FinishedCall<'_>) {
        for observer in &self.observers {
            observer.call_finished(call);
        }
    }

    /// Makes `version` active again; the loaded state follows.
    pub async fn rollback(
        &self,
        id: &str,
        version: &str,
    ) -> Result<(Arc<Active>, String), HostError> {
        let outcome = self.registry.rollback(id, version).await?;
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
        self.changed(id);
        let outcome = self.registry.delete_function(id).await;
        // Again after the delete: a call that loaded the function meanwhile is dropped too.
        // The compiled code stays in the memory cache (another function may share it) until
        // the cache's LRU policy evicts it.
        self.changed(id);
        self.runtime.forget(id);
        outcome?;
        for observer in &self.observers {
            observer.function_deleted(id);
        }
        self.collect_garbage();
        Ok(())
    }

    /// Removes, off the request path, component bytes no version references (those a failed
    /// or interrupted deploy stored, which no delete would ever reach) and leftovers of
    /// interrupted writes, so storage does not grow with what users deleted. Run after every
    /// delete; a failure is logged and never fails the delete, which has already happened.
    fn collect_garbage(&self) {
        let registry = self.registry.clone();
        tokio::spawn(async move {
            match registry.gc_components().await {
                Ok(report) if report != GcReport::default() => tracing::info!(
                    components = report.components_removed,
                    temp_files = report.temp_files_removed,
                    "removed unreferenced component bytes"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not remove unreferenced component bytes")
                }
            }
        });
    }

    /// Loads every function's active version (start-up warm-up): the first call after a
    /// restart is then served from memory. Failures are logged, not fatal.
    pub async fn warm(&self) -> usize {
        let records = match self.registry.list_functions().await {
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

    /// Every function with its active version, ordered by id.
    pub async fn list(&self) -> Result<Vec<Arc<FunctionRecord>>, HostError> {
        Ok(self.registry.list_functions().await?)
    }

    /// The function and its active version, as stored.
    pub async fn function(&self, id: &str) -> Result<Arc<FunctionRecord>, HostError> {
        Ok(self.registry.get_function(id).await?)
    }

    /// Every version of the function and its deployment history.
    pub async fn versions(&self, id: &str) -> Result<Versions, HostError> {
        let r = &self.registry;
        Ok(Versions {
            record: r.get_function(id).await?,
            versions: r.list_versions(id).await?,
            history: r.history(id).await?,
        })
    }

    /// The function's stored log entries; entries of calls that already answered are written
    /// out first, so they are always seen.
    pub async fn logs(&self, query: LogQuery) -> Result<Vec<LogRecord>, HostError> {
        if let Err(e) = self.flush_logs().await {
            tracing::warn!(error = %e, "flushing queued log entries before a query failed");
        }
        Ok(self.registry.logs(&query).await?)
    }

    /// Creates an API key; its plaintext is in the answer and nowhere else.
    pub async fn create_key(&self, key: NewKey) -> Result<CreatedKey, HostError> {
        Ok(self.registry.create_key(key).await?)
    }

    /// Every API key (active, expired and revoked), oldest first.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, HostError> {
        Ok(self.registry.list_keys().await?)
    }

    /// Revokes a key: from now on on this host; other hosts on a shared PostgreSQL store drop
    /// it when the change feed reports it (within a second), other processes on a SQLite
    /// store within [`access::KEY_CACHE_TTL`].
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, HostError> {
        let revoked = self.registry.revoke_key(id).await?;
        self.keys.clear();
        Ok(revoked)
    }

    /// Creates a key named `admin` when the registry has none and no host key is configured
    /// (a first start): the new key, to show once.
    pub async fn ensure_admin_key(&self) -> Result<Option<CreatedKey>, HostError> {
        if self.host_key.is_set() {
            return Ok(None);
        }
        Ok(self.registry.create_first_key("admin").await?)
    }

    /// Who `credential` stands for: the host key, a stored key that is neither revoked nor
    /// expired, or a token that verifies. Answered from memory for a key verified in the last
    /// [`access::KEY_CACHE_TTL`] and for a token verified since the last rotation.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
    ) -> Result<Arc<Principal>, AccessError> {
        match credential {
            Credential::None => Err(AccessError::Missing),
            Credential::Key(key) => self.authenticate_key(key).await,
            Credential::Token(token) => self.authenticate_token(token).await,
        }
    }

    async fn authenticate_token(&self, presented: &[u8]) -> Result<Arc<Principal>, AccessError> {
        let hash = access::hash(presented);
        if let Some(known) = self.tokens.fresh(&hash, access::now_ms()) {
            return Ok(known);
        }
        let epoch = self.tokens.epoch();
        let text = std::str::from_utf8(presented).map_err(|_| AccessError::InvalidToken)?;
        let verifiers = self.verifiers().await?;
        let verified = tokens::verify(text, &verifiers).ok_or(AccessError::InvalidToken)?;
        let who = Arc::new(Principal::Token(verified.scope));
        self.tokens
            .insert(hash, epoch, verified.expires_ms, who.clone());
        Ok(who)
    }

    /// Every namespace's token verifier, built from one listing when missing.
    async fn verifiers(&self) -> Result<Arc<Verifiers>, AccessError> {
        if let Some(v) = self
            .verifiers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Ok(v);
        }
        let epoch = self.tokens.epoch();
        let namespaces = self
            .registry
            .list_namespaces()
            .await
            .map_err(|e| AccessError::Unavailable(e.to_string()))?;
        let built: Arc<Verifiers> = Arc::new(
            namespaces
                .iter()
                .map(|ns| {
                    (
                        ns.record.token_key.id.clone(),
                        Arc::new(Verifier::new(&ns.record)),
                    )
                })
                .collect(),
        );
        let mut slot = self
            .verifiers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A rotation while we listed: what we read may be stale; use it once, keep none.
        if self.tokens.epoch() == epoch {
            *slot = Some(built.clone());
        }
        Ok(built)
    }

    async fn authenticate_key(&self, presented: &[u8]) -> Result<Arc<Principal>, AccessError> {
        if presented.is_empty() {
            return Err(AccessError::Missing);
        }
        if let Some(host) = self.host_key.matches(presented) {
            return Ok(host);
        }
        let Ok(text) = std::str::from_utf8(presented) else {
            return Err(AccessError::Invalid);
        };
        let hash = access::hash(presented);
        if let Some(known) = self.keys.fresh(&hash, access::now_ms()) {
            return Ok(known);
        }
        match self.registry.verify_key(Some(text)).await {
            Ok(info) => {
                let who = Arc::new(Principal::ApiKey {
                    id: info.id,
                    name: info.name,
                    role: info.role,
                    namespaces: info.namespaces,
                });
                self.keys
                    .insert(hash, info.expires_at.map(|t| t.as_millis()), who.clone());
                Ok(who)
            }
            Err(AuthError::Missing) => Err(AccessError::Missing),
            Err(AuthError::Invalid) => Err(AccessError::Invalid),
            Err(AuthError::Unavailable(e)) => Err(AccessError::Unavailable(e.to_string())),
        }
    }
}

/// A component's bytes from the registry, read only when the loader must compile.
struct RegistrySource<'a> {
    registry: &'a dyn Registry,
    digest: Digest,
}

impl crate::loader::ComponentSource for RegistrySource<'_> {
    fn component_bytes<'a>(&'a self, _digest: &'a Digest) -> crate::loader::SourceFuture<'a> {
        Box::pin(async move {
            self.registry
                .read_component(&self.digest)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn shared_artifact<'a>(
        &'a self,
        _digest: &'a Digest,
        engine_key: &'a str,
    ) -> crate::loader::SourceFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            self.registry
                .read_artifact(&self.digest, engine_key)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn keep_artifact<'a>(
        &'a self,
        _digest: &'a Digest,
        engine_key: &'a str,
        artifact: Vec<u8>,
    ) -> crate::loader::SourceFuture<'a, ()> {
        Box::pin(async move {
            self.registry
                .store_artifact(&self.digest, engine_key, artifact)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Namespaces, privacy, tokens: the access model's operations (unchecked: the server calls them
/// through [`acting::Acting`], which checks the caller's rights first).
impl FunctionHost {
    /// A namespace as stored (cached by the registry).
    pub async fn namespace(&self, name: &str) -> Result<Arc<NamespaceRecord>, HostError> {
        Ok(self.registry.get_namespace(name).await?)
    }

    /// Every namespace with its function count, by name.
    pub async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, HostError> {
        Ok(self.registry.list_namespaces().await?)
    }

    /// Creates a namespace.
    pub async fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, HostError> {
        let created = self.registry.create_namespace(namespace).await?;
        self.apply_change(&Change::Namespace(created.name.clone()));
        Ok(created)
    }

    /// Changes a namespace; its functions see the new env and secrets from their next call.
    pub async fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, HostError> {
        let updated = self.registry.update_namespace(name, patch).await?;
        self.apply_change(&Change::Namespace(name.to_owned()));
        Ok(updated)
    }

    /// Deletes a namespace (with its functions when `cascade`).
    pub async fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, HostError> {
        let outcome = self.registry.delete_namespace(name, cascade).await?;
        for id in &outcome.functions {
            self.changed(id);
            self.runtime.forget(id);
            for observer in &self.observers {
                observer.function_deleted(id);
            }
        }
        self.apply_change(&Change::Namespace(name.to_owned()));
        if !outcome.functions.is_empty() {
            self.collect_garbage();
        }
        Ok(outcome)
    }

    /// Replaces a namespace's token key: its earlier tokens stop working at once.
    pub async fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, HostError> {
        let rotated = self.registry.rotate_token_key(name).await?;
        self.apply_change(&Change::TokenKey(name.to_owned()));
        Ok(rotated)
    }

    /// Sets a function's privacy (no new version; a history row when it changes).
    pub async fn set_privacy(
        &self,
        id: &str,
        privacy: Privacy,
    ) -> Result<PrivacyChange, HostError> {
        let change = self.registry.set_privacy(id, privacy).await?;
        self.changed(id);
        Ok(change)
    }

    /// Signs a token for `scope` (the function, when the scope is one, must be in the scope's
    /// namespace: the caller resolved it).
    pub async fn issue_token(
        &self,
        scope: TokenScope,
        expires_at: Option<Timestamp>,
    ) -> Result<IssuedToken, HostError> {
        let namespace = self.namespace(scope.namespace()).await?;
        tokens::issue(&namespace, scope, expires_at).map_err(|e| HostError::Internal(e.into()))
    }

    fn drop_verifiers(&self) {
        *self
            .verifiers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.tokens.invalidate();
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

/// `"interface": "http"` makes a WASI command a CGI handler; any other kind of component is
/// called as it is, so asking for it there is a mistake the deployer should hear about.
fn check_interface(metadata: &DeployMetadata, kind: ComponentKind) -> Result<(), HostError> {
    if metadata.interface() == Interface::Http && kind != ComponentKind::Command {
        let how = match kind {
            ComponentKind::Http => {
                "it exports wasi:http/incoming-handler, so it already gets HTTP requests on its routes"
            }
            _ => "it is called with {\"method\", \"params\"}",
        };
        return Err(ValidationError::new(
            "interface",
            "http",
            format!(
                "Invalid interface: \"http\" (CGI) applies to WASI command modules only, and this is a {} component: {how}; omit `interface`",
                kind.as_str()
            ),
        )
        .into());
    }
    Ok(())
}

/// A WASI command module that starts with more linear memory than its limit could never run:
/// refused at deploy, saying how much it needs (Zig's default 16 MiB stack, for one, needs
/// `memoryMb` 17 or more), instead of failing every call with `memory-limit`.
fn check_initial_memory(metadata: &DeployMetadata, bytes: &[u8]) -> Result<(), HostError> {
    if !crate::loader::looks_like_core_module(bytes) {
        return Ok(());
    }
    let Some(needed) = crate::loader::command::initial_memory_bytes(bytes) else {
        return Ok(());
    };
    let limit_mb = CallLimits::from(metadata.limits()).memory_mb;
    if needed <= u64::from(limit_mb) << 20 {
        return Ok(());
    }
    let needed_mb = needed.div_ceil(1 << 20);
    Err(ValidationError::new(
        "limits.memoryMb",
        limit_mb,
        format!(
            "Invalid limits.memoryMb: this module starts with {needed_mb} MiB of linear memory, more than its limit of {limit_mb} MiB (a toolchain's default stack counts: Zig's is 16 MiB); give it memoryMb {needed_mb} or more, or build it with a smaller stack (zig build-exe --stack 1048576)"
        ),
    )
    .into())
}
