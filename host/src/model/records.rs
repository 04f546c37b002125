//! The records every layer speaks: timestamps, functions, versions, history, API keys, log
//! entries and queries, and the kinds of things that can be missing. Storage-agnostic: every backend speaks these.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::access::{Namespaces, Privacy, Role};
use super::{Digest, Interface, Language, Limits, LogLevel, Secrets};

/// Entries returned by a log query when the caller gives no limit.
pub const DEFAULT_LOG_QUERY_LIMIT: usize = 100;
/// Largest `limit` a log query honours; larger values are clamped to it.
pub const MAX_LOG_QUERY_LIMIT: usize = 1000;

/// Earliest representable instant: 0000-01-01T00:00:00Z, in ms since the Unix epoch.
const MIN_MILLIS: i64 = -62_167_219_200_000;
/// Latest representable instant: 9999-12-31T23:59:59.999Z, in ms since the Unix epoch.
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// An instant in UTC with millisecond precision (ms since the Unix epoch), between years 0
/// and 9999. Displays and serializes as ISO 8601 with milliseconds: `2024-01-15T10:30:00.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(MAX_MILLIS),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(-MIN_MILLIS),
        };
        Timestamp::from_millis(ms)
    }

    /// From ms since the Unix epoch, clamped into the representable range.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.clamp(MIN_MILLIS, MAX_MILLIS))
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses either an RFC 3339 / ISO 8601 date-time with offset (`2024-01-15T10:30:00Z`,
    /// `2024-01-15T11:30:00.5+01:00`) or an integer of milliseconds since the Unix epoch
    /// (`1705314600000`). Returns `None` for anything else or out-of-range values.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.is_empty()
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
        {
            let ms: i64 = text.parse().ok()?;
            return (MIN_MILLIS..=MAX_MILLIS)
                .contains(&ms)
                .then_some(Timestamp(ms));
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    /// ISO 8601 in UTC with milliseconds, e.g. `2024-01-15T10:30:00.000Z`.
    pub fn to_iso8601(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|at| at.format(&format).ok())
            // Unreachable for clamped values; keep a readable fallback rather than panic.
            .unwrap_or_else(|| format!("@{}ms", self.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso8601())
    }
}

/// Where a version's component bytes are: their digest and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ComponentRef {
    /// Content address.
    pub digest: Digest,
    /// Length in bytes.
    pub size: u64,
}

/// One immutable deployed version of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// The function's id.
    pub function_id: String,
    /// Semver string, as deployed.
    pub version: String,
    /// Source language.
    pub language: Language,
    /// Entry point path.
    pub entry_point: String,
    /// Package name -> version range.
    pub dependencies: BTreeMap<String, String>,
    /// The component bytes' address.
    pub component: ComponentRef,
    /// Resource limits (`None` fields: host defaults).
    pub limits: Limits,
    /// Environment variables for the guest.
    pub env: BTreeMap<String, String>,
    /// Secrets for the guest: never returned by the API, redacted in `Debug`.
    pub secrets: Secrets,
    /// Outbound allow-list entries.
    pub allowed_hosts: Vec<String>,
    /// How a WASI command is called.
    pub interface: Interface,
    /// When this version was first deployed.
    pub created_at: Timestamp,
}

/// A function and its active version.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRecord {
    /// Function id.
    pub id: String,
    /// First deploy of this id (since its last deletion).
    pub created_at: Timestamp,
    /// Last deploy or rollback.
    pub updated_at: Timestamp,
    /// The namespace the function belongs to.
    pub namespace: String,
    /// Whether calls need a credential.
    pub privacy: Privacy,
    /// The version that serves calls.
    pub active: VersionRecord,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// The function after the deploy.
    pub function: std::sync::Arc<FunctionRecord>,
    /// The deployed version (the existing one when `created` is false).
    pub version: VersionRecord,
    /// False when the same version with the same code and metadata already existed: nothing
    /// changed (in particular, an identical redeploy does not re-activate a version that was
    /// rolled back from; use rollback for that).
    pub created: bool,
    /// The version that was active before, if the function existed and `created` is true.
    pub previous: Option<String>,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RollbackOutcome {
    /// The function after the rollback (its `active` is the restored version).
    pub function: std::sync::Arc<FunctionRecord>,
    /// The version that was active before.
    pub previous: String,
}

/// What a delete removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The deleted function's id.
    pub id: String,
    /// Versions removed with it.
    pub versions_removed: usize,
    /// Component blobs no longer referenced by any version, removed from disk.
    pub components_removed: usize,
}

/// What a component garbage collection removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GcReport {
    /// Unreferenced component blobs removed.
    pub components_removed: usize,
    /// Leftover temporary files (from interrupted writes) removed.
    pub temp_files_removed: usize,
}

/// Kind of a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryAction {
    /// A new version was deployed and activated.
    Deploy,
    /// An existing version was re-activated.
    Rollback,
    /// The function's privacy changed (`detail`: `private -> public`).
    Privacy,
    /// The env or secrets of the function's namespace changed (`detail` names them).
    Namespace,
}

impl HistoryAction {
    /// Every action.
    pub const ALL: [HistoryAction; 4] = [
        HistoryAction::Deploy,
        HistoryAction::Rollback,
        HistoryAction::Privacy,
        HistoryAction::Namespace,
    ];

    /// Lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryAction::Deploy => "deploy",
            HistoryAction::Rollback => "rollback",
            HistoryAction::Privacy => "privacy",
            HistoryAction::Namespace => "namespace",
        }
    }

    /// The action stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One row of a function's deployment history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Global, strictly increasing sequence number.
    pub seq: i64,
    /// The function.
    pub function_id: String,
    /// The version that became active.
    pub version: String,
    /// What happened.
    pub action: HistoryAction,
    /// The version active before, if any.
    pub previous_version: Option<String>,
    /// What changed, for `privacy` and `namespace` rows (never a secret's value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// An API key as listed (never the key itself: only its display prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    /// Identifier used to revoke the key.
    pub id: String,
    /// Human-readable label.
    pub name: String,
    /// The first characters of the key (`fdo_` + 8), to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry, if any: the key is invalid from this instant on.
    pub expires_at: Option<Timestamp>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Timestamp>,
    /// What the key may do.
    pub role: Role,
    /// Where (`null`: every namespace).
    pub namespaces: Namespaces,
}

/// Whether a key can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl ApiKeyRecord {
    /// The key's status at `now`.
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// A freshly created key: the plaintext is shown once and never stored.
#[derive(Clone)]
pub struct CreatedKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// The key to hand to the user (`fdo_` + 43 base64url characters).
    pub key: String,
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKey")
            .field("record", &self.record)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The identity behind a verified key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub id: String,
    /// Key name.
    pub name: String,
    /// Key expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// What the key may do.
    pub role: Role,
    /// Where.
    pub namespaces: Namespaces,
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Human-readable label (1-255 characters, no control characters).
    pub name: String,
    /// When it stops working (in the future); never when `None`.
    pub expires_at: Option<Timestamp>,
    /// What it may do.
    pub role: Role,
    /// Where.
    pub namespaces: Namespaces,
}

impl NewKey {
    /// An admin key for every namespace (what every key was before roles).
    pub fn admin(name: impl Into<String>, expires_at: Option<Timestamp>) -> Self {
        NewKey {
            name: name.into(),
            expires_at,
            role: Role::Admin,
            namespaces: Namespaces::All,
        }
    }
}

/// A namespace's token signing key: an Ed25519 seed and its id (the tokens' `kid`). Rotating
/// replaces both. `Debug` never shows the seed.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// The key id, 16 hex characters, new at every rotation.
    pub id: String,
    /// The Ed25519 private key seed.
    pub seed: [u8; 32],
}

impl TokenKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let mut id = [0u8; 8];
        rand::rng().fill_bytes(&mut id);
        TokenKey {
            id: hex::encode(id),
            seed,
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &self.id)
            .field("seed", &"<redacted>")
            .finish()
    }
}

/// A namespace: functions sharing env, secrets and a token signing key.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceRecord {
    /// Its name (function id rules).
    pub name: String,
    /// Free text (may be empty).
    pub description: String,
    /// Environment variables every function of the namespace sees (under its own).
    pub env: BTreeMap<String, String>,
    /// Secrets every function of the namespace sees (under its own); write-only.
    pub secrets: Secrets,
    /// Signs and verifies the namespace's invocation tokens.
    pub token_key: TokenKey,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change (including a token key rotation).
    pub updated_at: Timestamp,
}

/// A namespace with the number of its functions (listings).
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceInfo {
    /// The namespace.
    pub record: std::sync::Arc<NamespaceRecord>,
    /// How many functions it holds.
    pub function_count: usize,
}

/// Longest namespace description, in characters.
pub const MAX_NAMESPACE_DESCRIPTION_CHARS: usize = 1024;

/// A namespace to create.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewNamespace {
    /// Its name (function id rules).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Secrets.
    pub secrets: Secrets,
}

/// A change to a namespace, as JSON merge patch: absent fields stay; in `env` and `secrets`,
/// a value sets the entry and `None` removes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamespacePatch {
    /// A new description.
    pub description: Option<String>,
    /// Entries to set (`Some`) or remove (`None`).
    pub env: BTreeMap<String, Option<String>>,
    /// Entries to set (`Some`) or remove (`None`).
    pub secrets: BTreeMap<String, Option<String>>,
}

/// What a namespace delete removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDeleteOutcome {
    /// The namespace.
    pub name: String,
    /// The functions deleted with it (a cascade), by id.
    pub functions: Vec<String>,
    /// Component blobs no longer referenced, removed from disk.
    pub components_removed: usize,
}

/// What a privacy change did.
#[derive(Debug, Clone)]
pub struct PrivacyChange {
    /// The function after the change.
    pub function: std::sync::Arc<FunctionRecord>,
    /// The privacy before.
    pub previous: Privacy,
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct NamespaceUpdate {
    /// The namespace after the change.
    pub record: std::sync::Arc<NamespaceRecord>,
    /// The functions whose environment changed (each got a `namespace` history row).
    pub functions: Vec<String>,
    /// What changed for them (the history rows' detail), if anything did.
    pub detail: Option<String>,
}

/// How an invocation ended, attached to the entry that summarises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogOutcome {
    /// The call returned a result.
    Success,
    /// The guest failed (trap, error result, bad response).
    Error,
    /// The call ran past its deadline and was stopped.
    Timeout,
    /// The guest hit its memory limit.
    MemoryLimit,
    /// The call was refused before running (concurrency limit, load failure).
    Rejected,
}

impl LogOutcome {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogOutcome::Success => "success",
            LogOutcome::Error => "error",
            LogOutcome::Timeout => "timeout",
            LogOutcome::MemoryLimit => "memory_limit",
            LogOutcome::Rejected => "rejected",
        }
    }

    /// Inverse of [`LogOutcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            LogOutcome::Success,
            LogOutcome::Error,
            LogOutcome::Timeout,
            LogOutcome::MemoryLimit,
            LogOutcome::Rejected,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// A log entry to record (see [`super::LogWriter::push`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The function that produced it.
    #[serde(skip)]
    pub function_id: String,
    /// When it was produced.
    pub timestamp: Timestamp,
    /// Severity.
    pub level: LogLevel,
    /// Text (truncated to the writer's message limit).
    pub message: String,
    /// Request id of the invocation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Function version that ran, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Call duration in ms, on the entry summarising an invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How the invocation ended, on the entry summarising it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<LogOutcome>,
}

impl LogEntry {
    /// An entry stamped now, without request details.
    pub fn new(
        function_id: impl Into<String>,
        level: LogLevel,
        message: impl Into<String>,
    ) -> Self {
        LogEntry {
            function_id: function_id.into(),
            timestamp: Timestamp::now(),
            level,
            message: message.into(),
            request_id: None,
            version: None,
            duration_ms: None,
            outcome: None,
        }
    }
}

/// How a log query filters on level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelFilter {
    /// Only entries of exactly this level (what the API's `level` parameter means).
    Exact(LogLevel),
    /// Entries of this level or more severe.
    AtLeast(LogLevel),
}

/// Order of log query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogOrder {
    /// Most recent first: the newest `limit` entries (default).
    #[default]
    NewestFirst,
    /// Oldest first: the first `limit` entries after `after`, for paging forward.
    OldestFirst,
}

/// A log query. Entries are ordered by timestamp, ties by insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// The function.
    pub function_id: String,
    /// Level filter, if any.
    pub level: Option<LevelFilter>,
    /// Only entries strictly after this instant.
    pub after: Option<Timestamp>,
    /// Maximum entries returned; clamped to [`MAX_LOG_QUERY_LIMIT`].
    pub limit: usize,
    /// Result order.
    pub order: LogOrder,
}

impl LogQuery {
    /// All levels, no time filter, [`DEFAULT_LOG_QUERY_LIMIT`], newest first.
    pub fn new(function_id: impl Into<String>) -> Self {
        LogQuery {
            function_id: function_id.into(),
            level: None,
            after: None,
            limit: DEFAULT_LOG_QUERY_LIMIT,
            order: LogOrder::NewestFirst,
        }
    }

    /// The limit actually applied.
    pub fn effective_limit(&self) -> usize {
        self.limit.min(MAX_LOG_QUERY_LIMIT)
    }
}

/// A stored log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    /// Storage id, increasing with insertion.
    #[serde(skip)]
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: LogEntry,
}

/// The kind of thing that can be missing (a not-found error's `context.resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A function id.
    Function,
    /// A version of a function (`id` is `function@version`).
    Version,
    /// An API key id.
    ApiKey,
    /// A component blob (`id` is its hex digest).
    Component,
    /// A namespace (`id` is its name).
    Namespace,
}

impl Resource {
    /// Its name in the API's `context.resource` and messages (`"Function"`, as in the
    /// reference; `"API key"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Function => "Function",
            Resource::Version => "Version",
            Resource::ApiKey => "API key",
            Resource::Component => "Component",
            Resource::Namespace => "Namespace",
        }
    }

    /// Its name inside a sentence: `function`, `api key`.
    pub fn noun(self) -> String {
        self.as_str().to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_and_parse() {
        let t = Timestamp::from_millis(1_705_314_600_000);
        assert_eq!(t.to_iso8601(), "2024-01-15T10:30:00.000Z");
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            serde_json::json!("2024-01-15T10:30:00.000Z")
        );
        assert_eq!(Timestamp::parse("2024-01-15T10:30:00.000Z"), Some(t));
        assert_eq!(Timestamp::parse("2024-01-15T10:30:00Z"), Some(t));
        assert_eq!(Timestamp::parse("2024-01-15T11:30:00+01:00"), Some(t));
        assert_eq!(Timestamp::parse("1705314600000"), Some(t));
        assert_eq!(
            Timestamp::parse("2024-01-15T10:30:00.123Z").map(Timestamp::as_millis),
            Some(1_705_314_600_123)
        );
        for bad in [
            "",
            "yesterday",
            "2024-01-15",
            "1e9",
            "99999999999999999999",
            "-",
            "2024-13-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::from_millis(i64::MAX).to_iso8601(),
            "9999-12-31T23:59:59.999Z"
        );
        assert!(Timestamp::now() > t);
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"hello");
        assert_eq!(
            d.to_hex(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        assert_eq!(format!("sha256:{d}").parse::<Digest>().unwrap(), d);
        assert_eq!(format!("{d:?}"), format!("sha256:{d}"));
        assert!("abc".parse::<Digest>().is_err());
        assert!("zz".repeat(32).parse::<Digest>().is_err());
    }

    #[test]
    fn levels_and_outcomes() {
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Warn < LogLevel::Error);
        for l in [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ] {
            assert_eq!(l.as_str().parse::<LogLevel>().unwrap(), l);
            assert_eq!(LogLevel::from_rank(l.rank()), Some(l));
        }
        assert_eq!("WARN".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert!("warning".parse::<LogLevel>().is_err());
        assert_eq!(
            LogOutcome::parse("memory_limit"),
            Some(LogOutcome::MemoryLimit)
        );
        assert_eq!(LogOutcome::parse("nope"), None);
    }

    #[test]
    fn key_status() {
        let now = Timestamp::from_millis(1_000);
        let mut k = ApiKeyRecord {
            id: "k".into(),
            name: "n".into(),
            prefix: "fdo_x".into(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            role: Role::Admin,
            namespaces: Namespaces::All,
        };
        assert_eq!(k.status(now), KeyStatus::Active);
        k.expires_at = Some(now);
        assert_eq!(k.status(now), KeyStatus::Expired);
        k.expires_at = Some(Timestamp::from_millis(2_000));
        assert_eq!(k.status(now), KeyStatus::Active);
        k.revoked_at = Some(now);
        assert_eq!(k.status(now), KeyStatus::Revoked);
    }
}
