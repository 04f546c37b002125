//! The API's answers as types: what each route sends, field by field (camelCase, as in the
//! reference). Each derives its OpenAPI schema, so the document (`openapi.rs`) cannot drift
//! from what is sent.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::functions::{Active, ComponentKind, LoadInfo};
use crate::model::access::{Namespaces, Privacy, Role};
use crate::model::{
    ApiKeyRecord, FunctionRecord, HistoryAction, HistoryEntry, Interface, KeyStatus, Language,
    LogLevel, LogOutcome, LogRecord, Timestamp, VersionRecord,
};

/// An ISO 8601 UTC timestamp with milliseconds, as every answer writes them.
pub type Iso8601 = String;

fn iso(t: Timestamp) -> Iso8601 {
    t.to_iso8601()
}

/// Resource limits as deployed; an absent field means the host's default.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LimitsAnswer)]
pub struct LimitsOut {
    /// Memory per instance, MiB (default 128).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Time per call, ms (default 5000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Calls running at once (default 64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

/// A function version's metadata: the reference's fields and fdo's own.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionMetadata {
    /// The function id.
    pub id: String,
    /// Its semantic version.
    pub version: String,
    /// Source language.
    #[schema(value_type = LanguageName)]
    pub language: Language,
    /// Entry point path.
    pub entry_point: String,
    /// Package name → version range.
    pub dependencies: BTreeMap<String, String>,
    /// When the function (or, in a version list, this version) was first deployed.
    pub created_at: Iso8601,
    /// Last deploy or rollback (not in version lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Iso8601>,
    /// Content digest of the component, `sha256:` + 64 hex digits.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    pub digest: String,
    /// Size of the component, bytes.
    pub size: u64,
    /// Resource limits.
    pub limits: LimitsOut,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Names of the secrets (their values are write-only).
    pub secrets: Vec<String>,
    /// Outbound HTTP allow-list.
    pub allowed_hosts: Vec<String>,
    /// How a WASI command is called: `http` for a CGI handler; absent for `rpc`, the default.
    #[serde(skip_serializing_if = "Interface::is_default")]
    #[schema(value_type = InterfaceName)]
    pub interface: Interface,
    /// The function's namespace (not in version lists' entries' history: a function's
    /// namespace is the function's, not a version's).
    #[schema(pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$")]
    pub namespace: String,
    /// Whether calls need a credential (`private`) or not (`public`).
    #[schema(value_type = PrivacyName)]
    pub privacy: Privacy,
}

impl FunctionMetadata {
    /// `v` of the function `record`, dated as the function is (created, last updated).
    pub fn new(record: &FunctionRecord, v: &VersionRecord) -> Self {
        Self {
            id: record.id.clone(),
            version: v.version.clone(),
            language: v.language,
            entry_point: v.entry_point.clone(),
            dependencies: v.dependencies.clone(),
            created_at: iso(record.created_at),
            updated_at: Some(iso(record.updated_at)),
            digest: format!("sha256:{}", v.component.digest.to_hex()),
            size: v.component.size,
            limits: LimitsOut {
                memory_mb: v.limits.memory_mb(),
                timeout_ms: v.limits.timeout_ms(),
                max_concurrency: v.limits.max_concurrency(),
            },
            env: v.env.clone(),
            secrets: v.secrets.names().map(str::to_owned).collect(),
            allowed_hosts: v.allowed_hosts.clone(),
            interface: v.interface,
            namespace: record.namespace.clone(),
            privacy: record.privacy,
        }
    }
}

/// Whether calling a function needs a credential.
#[derive(ToSchema)]
#[schema(as = Privacy)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire type is `model::access::Privacy`
pub(super) enum PrivacyName {
    /// Calls need an API key or a token that covers the function (the default).
    Private,
    /// Anyone may call it (rate limits still apply); managing it needs a key.
    Public,
}

/// The language names of the reference.
#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[schema(as = Language)]
#[allow(dead_code)] // a schema only: the wire type is `validate::Language`
pub(super) enum LanguageName {
    Typescript,
    Javascript,
    Rust,
    Python,
    Go,
    Zig,
    Assemblyscript,
    Csharp,
}

/// How a WASI command is called.
#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[schema(as = Interface)]
#[allow(dead_code)] // a schema only: the wire type is `model::Interface`
pub(super) enum InterfaceName {
    /// `{"method", "params"}` as JSON on stdin, the result on stdout (the default).
    Rpc,
    /// HTTP requests on the function's routes, CGI-style (WAGI): the request in the
    /// environment and on stdin, the response (headers, a blank line, the body) on stdout.
    Http,
}

/// How the served version was loaded.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadFields {
    /// Served from the memory or disk cache (false: compiled now).
    pub from_cache: bool,
    /// Load time, ms (three decimals).
    pub load_time_ms: f64,
    /// Whether anything fell back (on-demand allocation, a recompiled artifact, an earlier
    /// version served).
    pub degraded: bool,
    /// Why, when degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degradation_reason: Option<String>,
}

impl From<&LoadInfo> for LoadFields {
    fn from(load: &LoadInfo) -> Self {
        Self {
            from_cache: load.from_cache,
            load_time_ms: (load.load_time_ms * 1000.0).round() / 1000.0,
            degraded: load.degraded,
            degradation_reason: load.degradation_reason.clone(),
        }
    }
}

/// How a component is called.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Exports `fdo:function/rpc`: `{"method", "params"}`.
    Rpc,
    /// Plain typed exports, called by name.
    Typed,
    /// A `wasi:http` handler: the request itself.
    Http,
    /// A WASI command (a preview1 module with `_start`, or a `wasi:cli/run` component):
    /// `{"method", "params"}` on stdin, the result on stdout.
    Command,
}

impl Kind {
    pub(super) fn of(kind: ComponentKind) -> Self {
        match kind {
            ComponentKind::Rpc => Kind::Rpc,
            ComponentKind::Http => Kind::Http,
            ComponentKind::Typed => Kind::Typed,
            ComponentKind::Command => Kind::Command,
        }
    }
}

/// `POST /v1/api/functions`: the version deployed (or found identical) and how it loaded.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The version's metadata.
    #[serde(flatten)]
    pub metadata: FunctionMetadata,
    /// How it is called.
    pub kind: Kind,
    /// False when this version already existed with the same code and metadata.
    pub created: bool,
    /// Whether it is the active version now.
    pub active: bool,
    /// How its component loaded.
    #[serde(flatten)]
    pub load: LoadFields,
}

impl Deployment {
    /// The answer to a deploy.
    pub fn new(d: &crate::functions::Deployed) -> Self {
        let mut metadata = FunctionMetadata::new(&d.record, &d.version);
        // A redeploy of an existing version reports that version's own creation time.
        if !d.created {
            metadata.created_at = iso(d.version.created_at);
        }
        Self {
            metadata,
            kind: Kind::of(d.kind),
            created: d.created,
            active: d.record.active.version == d.version.version,
            load: LoadFields::from(&d.load),
        }
    }
}

/// Whether the function's code is loaded.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadStatus {
    /// Loaded and callable.
    Loaded,
    /// No version of it could be loaded (`degradationReason` says why).
    Failed,
}

/// `GET /v1/api/functions/:id`: metadata of the active version and its load state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionInfo {
    /// The active version's metadata.
    #[serde(flatten)]
    pub metadata: FunctionMetadata,
    /// Loaded, or failed to load.
    pub status: LoadStatus,
    /// How it is called (when loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The version actually served when the active one failed to load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_version: Option<String>,
    /// Served from the memory or disk cache (when loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_cache: Option<bool>,
    /// Load time, ms (when loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_time_ms: Option<f64>,
    /// Where this host loaded it from (when loaded): `memory`, `disk` (its compiled-code
    /// cache), `shared` (an artifact another host compiled, from the shared database) or
    /// `compile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^(memory|disk|shared|compile)$")]
    pub loaded_from: Option<&'static str>,
    /// Whether anything fell back.
    pub degraded: bool,
    /// Why, when degraded or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degradation_reason: Option<String>,
    /// Signatures of the typed exports (typed components only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exports: Option<Vec<String>>,
}

impl FunctionInfo {
    /// A loaded function.
    pub fn loaded(active: &Active) -> Self {
        let load = LoadFields::from(&active.load);
        let exports = active.exports();
        Self {
            metadata: FunctionMetadata::new(&active.record, &active.record.active),
            status: LoadStatus::Loaded,
            kind: Some(Kind::of(active.kind())),
            served_version: (active.served.version != active.record.active.version)
                .then(|| active.served.version.clone()),
            from_cache: Some(load.from_cache),
            load_time_ms: Some(load.load_time_ms),
            loaded_from: Some(active.load.tier.as_str()),
            degraded: load.degraded,
            degradation_reason: load.degradation_reason,
            exports: (!exports.is_empty()).then_some(exports),
        }
    }

    /// A function none of whose versions loads.
    pub fn failed(record: &FunctionRecord, reason: String) -> Self {
        Self {
            metadata: FunctionMetadata::new(record, &record.active),
            status: LoadStatus::Failed,
            kind: None,
            served_version: None,
            from_cache: None,
            load_time_ms: None,
            loaded_from: None,
            degraded: true,
            degradation_reason: Some(reason),
            exports: None,
        }
    }
}

/// One version in `GET .../versions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The version's metadata (`createdAt` is this version's).
    #[serde(flatten)]
    pub metadata: FunctionMetadata,
    /// Whether it is the active version.
    pub active: bool,
}

/// A deploy or rollback in a function's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// Increasing sequence number.
    pub seq: i64,
    /// The function.
    pub function_id: String,
    /// The version that became active.
    pub version: String,
    /// What happened.
    #[schema(value_type = HistoryActionName)]
    pub action: HistoryAction,
    /// The version active before, if any.
    pub previous_version: Option<String>,
    /// When.
    pub at: Iso8601,
    /// What changed, for `privacy` (`private -> public`) and `namespace` (the names of the
    /// namespace's env variables and secrets that changed; never a value) entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a history entry records.
#[derive(ToSchema)]
#[schema(as = HistoryAction)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire type is `registry::HistoryAction`
enum HistoryActionName {
    Deploy,
    Rollback,
    Privacy,
    Namespace,
}

impl From<&HistoryEntry> for HistoryItem {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            seq: h.seq,
            function_id: h.function_id.clone(),
            version: h.version.clone(),
            action: h.action,
            previous_version: h.previous_version.clone(),
            at: iso(h.at),
            detail: h.detail.clone(),
        }
    }
}

/// `GET /v1/api/functions/:id/versions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionList {
    /// The function.
    pub id: String,
    /// Its active version.
    pub active: String,
    /// Every version, in deploy order.
    pub versions: Vec<VersionInfo>,
    /// Deploys and rollbacks, oldest first.
    pub history: Vec<HistoryItem>,
}

impl From<&crate::functions::Versions> for VersionList {
    fn from(v: &crate::functions::Versions) -> Self {
        let record = &v.record;
        Self {
            id: record.id.clone(),
            active: record.active.version.clone(),
            versions: v
                .versions
                .iter()
                .map(|version| {
                    let mut metadata = FunctionMetadata::new(record, version);
                    metadata.created_at = iso(version.created_at);
                    metadata.updated_at = None;
                    VersionInfo {
                        metadata,
                        active: version.version == record.active.version,
                    }
                })
                .collect(),
            history: v.history.iter().map(HistoryItem::from).collect(),
        }
    }
}

/// What a rollback answers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RollbackStatus {
    /// The version is active again.
    Restored,
}

/// `POST /v1/api/functions/:id/rollback`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// The function.
    pub id: String,
    /// The version now active.
    pub version: String,
    /// `restored`.
    pub status: RollbackStatus,
    /// The version active before.
    pub previous: String,
    /// When.
    pub updated_at: Iso8601,
}

/// What a delete answers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeleteStatus {
    /// Gone, with its versions, history and logs.
    Deleted,
}

/// `DELETE /v1/api/functions/:id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deleted {
    /// `deleted`.
    pub status: DeleteStatus,
    /// The function.
    pub id: String,
}

/// One log entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogItem {
    /// When it was produced.
    pub timestamp: Iso8601,
    /// Severity.
    #[schema(value_type = LogLevelName)]
    pub level: LogLevel,
    /// The text (secret values replaced by `[REDACTED]`).
    pub message: String,
    /// The call's request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The version that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Call duration, ms (on a call's summary entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How the call ended (on its summary entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<LogOutcomeName>)]
    pub outcome: Option<LogOutcome>,
}

/// A log level.
#[derive(ToSchema)]
#[schema(as = LogLevel)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire type is `model::LogLevel`
enum LogLevelName {
    Debug,
    Info,
    Warn,
    Error,
}

/// How a call ended.
#[derive(ToSchema)]
#[schema(as = LogOutcome)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only: the wire type is `registry::LogOutcome`
enum LogOutcomeName {
    Success,
    Error,
    Timeout,
    MemoryLimit,
    Rejected,
}

impl From<&LogRecord> for LogItem {
    fn from(r: &LogRecord) -> Self {
        let e = &r.entry;
        Self {
            timestamp: iso(e.timestamp),
            level: e.level,
            message: e.message.clone(),
            request_id: e.request_id.clone(),
            version: e.version.clone(),
            duration_ms: e.duration_ms,
            outcome: e.outcome,
        }
    }
}

/// `GET /v1/functions/:id/logs`: newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogList {
    /// The entries.
    pub logs: Vec<LogItem>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Its id (to revoke it).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: Iso8601,
    /// Expiry, if any.
    pub expires_at: Option<Iso8601>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Iso8601>,
    /// What it may do.
    #[schema(value_type = RoleName)]
    pub role: Role,
    /// The namespaces it acts in; null for every namespace.
    #[schema(value_type = Option<Vec<String>>)]
    pub namespaces: Namespaces,
    /// Its status now (not in the answer to a creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<KeyStatusName>)]
    pub status: Option<KeyStatus>,
}

/// What a key may do.
#[derive(ToSchema)]
#[schema(as = Role)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire type is `model::access::Role`
pub(super) enum RoleName {
    /// Everything.
    Admin,
    /// Deploy, roll back, change privacy, delete, and read.
    Deploy,
    /// Call functions and issue tokens for them.
    Invoke,
    /// List and read functions, versions, logs and stats.
    Read,
}

/// Whether a key can be used.
#[derive(ToSchema)]
#[schema(as = KeyStatus)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire type is `registry::KeyStatus`
enum KeyStatusName {
    Active,
    Expired,
    Revoked,
}

impl ApiKey {
    /// `k` as listed, without a status.
    pub fn new(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: iso(k.created_at),
            expires_at: k.expires_at.map(iso),
            revoked_at: k.revoked_at.map(iso),
            role: k.role,
            namespaces: k.namespaces.clone(),
            status: None,
        }
    }

    /// `k` with its status at `now`.
    pub fn with_status(k: &ApiKeyRecord, now: Timestamp) -> Self {
        Self {
            status: Some(k.status(now)),
            ..Self::new(k)
        }
    }
}

/// `GET /v1/api/keys`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, oldest first.
    pub keys: Vec<ApiKey>,
}

/// `POST /v1/api/keys`: the new key, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The stored record.
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key itself: keep it, it is not shown again.
    pub key: String,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (see `reason`).
    pub status: &'static str,
    /// `Functions.do`.
    pub service: &'static str,
    /// Why the host is degraded (e.g. its shared database is unreachable), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /`: what this is and where to start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceInfo {
    /// `Functions.do`.
    pub service: &'static str,
    /// `fdo`.
    pub implementation: &'static str,
    /// fdo's version.
    pub version: &'static str,
    /// Where the OpenAPI document is.
    pub documentation: &'static str,
    /// Where the web console is.
    pub console: &'static str,
    /// Where the health check is.
    pub health: &'static str,
    /// The main routes, by what they do.
    pub endpoints: BTreeMap<&'static str, &'static str>,
}
