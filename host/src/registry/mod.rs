//! The registry: functions, immutable versions, deployment history, API keys and logs, behind
//! the async [`Registry`] contract, implemented by two backends and exercised by one shared
//! test suite (`tests.rs`, run against each):
//! - [`SqliteRegistry`], the embedded default: one SQLite database file plus content-addressed
//!   component blobs ([`BlobStore`]) in the data directory; its blocking connections run on
//!   the blocking pool ([`SqliteStore`] is the blocking core);
//!
//! Reads that sit on the invocation path ([`Registry::get_function`],
//! [`Registry::verify_key`]) are served from memory after the first load.
//!
//! Adding a table: a migration in each backend's one migration list (`schema.rs` for SQLite),
//! the methods on the trait and both backends, and the tests in `tests.rs` (which run on both).
//!
//! Guarantees every backend must keep:
//! - a deploy or rollback is atomic: after a crash the store holds the old state or the new
//!   one, never half a version; an acknowledged deploy survives a crash;
//! - versions are immutable: redeploying `(id, version)` with the same code and metadata is a
//!   no-op (`created = false`), with anything different a [`RegistryError::Conflict`];
//! - secrets are stored but never returned by listing APIs nor printed by `Debug`;
//! - API keys are stored as SHA-256 hashes and compared in constant time.

use std::path::PathBuf;
use std::sync::Arc;

mod blobs;
mod keys;
mod logs;
mod namespaces;
mod postgres;
mod schema;
mod sqlite;
#[cfg(test)]
mod tests;
mod versions;

use crate::model::access::Privacy;
pub use blobs::BlobStore;
pub use keys::{
    API_KEY_DISPLAY_PREFIX_LEN, API_KEY_PREFIX, API_KEY_RANDOM_BYTES, MAX_KEY_NAME_LEN,
    api_key_matches, generate_api_key, hash_api_key,
};
pub use logs::{
    DEFAULT_LOG_BATCH_SIZE, DEFAULT_LOG_QUEUE_CAPACITY, DEFAULT_LOG_RETENTION,
    DEFAULT_MAX_LOG_MESSAGE_BYTES, LogSink, LogStats, LogWriter, LogWriterConfig,
};
pub use postgres::{
    DEFAULT_CHANGE_POLL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, PostgresOptions,
    PostgresRegistry, latest_schema_version as latest_postgres_schema_version, parse_database_url,
};
pub use sqlite::{
    DATABASE_FILE_NAME, DEFAULT_BUSY_TIMEOUT, DEFAULT_EXTERNAL_CHANGE_POLL,
    DEFAULT_READ_CONNECTIONS, SqliteOptions, SqliteRegistry, SqliteStore,
};

use crate::model::{
    ApiKeyRecord, CreatedKey, DeleteOutcome, DeployMetadata, DeployOutcome, Digest, FunctionRecord,
    GcReport, HistoryEntry, KeyInfo, LogQuery, LogRecord, NamespaceDeleteOutcome, NamespaceInfo,
    NamespacePatch, NamespaceRecord, NamespaceUpdate, NewKey, NewNamespace, PrivacyChange,
    Resource, RollbackOutcome, VersionRecord,
};
use crate::validate::ValidationError;

/// A change to the store made elsewhere (another host), as the change feed reports it: what
/// a host must drop from what it holds in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A function was deployed, rolled back or deleted (its id).
    Function(String),
    /// An API key was created or revoked (its id).
    Key(String),
    /// A namespace was created, changed or deleted (its name): its functions' env and secrets.
    Namespace(String),
    /// A namespace's token signing key was rotated (its name).
    TokenKey(String),
    /// A kind this build does not know (written by a newer host): drop everything.
    Unknown {
        /// The feed's kind.
        kind: String,
        /// The feed's key.
        key: String,
    },
}

impl Change {
    /// The change a feed row `(kind, key)` stands for.
    pub fn from_feed(kind: &str, key: &str) -> Self {
        match kind {
            "function" => Change::Function(key.to_owned()),
            "key" => Change::Key(key.to_owned()),
            "namespace" => Change::Namespace(key.to_owned()),
            "token-key" => Change::TokenKey(key.to_owned()),
            _ => Change::Unknown {
                kind: kind.to_owned(),
                key: key.to_owned(),
            },
        }
    }
}

/// Where the registry lives.
#[derive(Debug, Clone, Copy)]
pub enum Store<'a> {
    /// The embedded default: SQLite and component blobs in this data directory.
    Sqlite(&'a std::path::Path),
    /// PostgreSQL at this URL, shared by several hosts.
    Postgres(&'a str),
}

impl Store<'_> {
    /// The store for a host: PostgreSQL when a database URL is given, else SQLite in
    /// `data_dir`.
    pub fn of<'a>(database: Option<&'a str>, data_dir: &'a std::path::Path) -> Store<'a> {
        match database {
            Some(url) => Store::Postgres(url),
            None => Store::Sqlite(data_dir),
        }
    }

    /// Opens it (creating and migrating the schema if needed) with `logs` tuning.
    pub async fn open(self, logs: LogWriterConfig) -> Result<Arc<dyn Registry>, RegistryError> {
        Ok(match self {
            Store::Sqlite(dir) => {
                let dir = dir.to_path_buf();
                let options = SqliteOptions {
                    logs,
                    ..SqliteOptions::default()
                };
                let opened =
                    tokio::task::spawn_blocking(move || SqliteRegistry::open_with(dir, options))
                        .await
                        .map_err(|e| {
                            RegistryError::Unavailable(format!("opening task failed: {e}"))
                        })?;
                Arc::new(opened?)
            }
            Store::Postgres(url) => {
                let options = PostgresOptions {
                    logs,
                    ..PostgresOptions::default()
                };
                Arc::new(PostgresRegistry::open(url, options).await?)
            }
        })
    }
}

impl std::fmt::Display for Store<'_> {
    /// The data directory, or `host:port/dbname` of the database (never its password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Sqlite(dir) => write!(f, "the data directory {}", dir.display()),
            Store::Postgres(url) => match parse_database_url(url) {
                Ok(config) => write!(f, "the database {}", postgres::shown(&config)),
                Err(_) => f.write_str("the database (unparsable URL)"),
            },
        }
    }
}

/// Errors of the registry layer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The function, version, key or blob does not exist.
    #[error("{} not found: {id}", resource.noun())]
    NotFound {
        /// What was looked up.
        resource: Resource,
        /// Its id (`function@version` for versions).
        id: String,
    },
    /// The write contradicts stored state (an existing version with other code or metadata).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input breaks a validation rule.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// The database failed (a query, a constraint the backend enforces, a lost connection in
    /// the middle of a transaction).
    #[error("storage error: {0}")]
    Storage(Box<dyn std::error::Error + Send + Sync>),
    /// A file operation failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored data is damaged (a blob not matching its digest, an undecodable row).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database was written by a newer fdo with a schema this one does not know.
    #[error(
        "database schema version {found} is newer than this fdo supports ({supported}); upgrade fdo"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The shared database cannot be reached (connection refused or lost): not the caller's
    /// fault, and writes are refused until it is back; what the host holds in memory goes on
    /// serving.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// A background part of the registry (the log writer) is not running or failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        RegistryError::Storage(Box::new(e))
    }
}

/// Why an API key was refused. The messages are the reference's.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No key was presented (absent or empty header).
    #[error("Missing API key")]
    Missing,
    /// The key is unknown, revoked or expired.
    #[error("Invalid API key")]
    Invalid,
    /// The key store could not be read: not the client's fault (a 5xx).
    #[error("key store unavailable: {0}")]
    Unavailable(#[from] RegistryError),
}

/// Storage of functions, versions, history, keys and logs: the one contract every backend
/// implements ([`SqliteRegistry`] embedded, [`PostgresRegistry`] shared by several hosts), and the
/// one the shared test suite (`registry/tests.rs`) runs against each. See the module
/// documentation for the guarantees every implementation keeps.
///
/// Methods are async: the PostgreSQL driver is, and the SQLite backend runs its blocking
/// connections on the blocking pool itself. [`Registry::get_function`] and
/// [`Registry::verify_key`] sit on the invocation path: backends answer them from memory once
/// loaded.
#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    /// Validates `metadata`, stores the component bytes by digest and, in one transaction,
    /// records the version, a `deploy` history row, and makes it the active version.
    /// An identical existing version returns `created = false` and changes nothing; an existing
    /// version with different code or metadata is a [`RegistryError::Conflict`].
    async fn deploy(
        &self,
        metadata: DeployMetadata,
        component: Arc<Vec<u8>>,
    ) -> Result<DeployOutcome, RegistryError>;

    /// The function and its active version. `NotFound` if unknown.
    async fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError>;

    /// Every function with its active version, ordered by id.
    async fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError>;

    /// One version of a function. `NotFound` (resource `Function` or `Version`) if unknown.
    async fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError>;

    /// Every version of a function in deploy order. `NotFound` if the function is unknown.
    async fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError>;

    /// The function's deployment history, oldest first. `NotFound` if unknown.
    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError>;

    /// Makes an existing version active again and records a `rollback` history row.
    /// `NotFound` for an unknown function or version. Rolling back to the active version is
    /// allowed and recorded (`previous` equals the version).
    async fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError>;

    /// Deletes a function with all its versions, history and logs, then removes component
    /// bytes no other version references. `NotFound` if unknown.
    async fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError>;

    /// The component bytes for `digest`, verified against it (`Corrupt` if they do not match,
    /// `NotFound` if absent).
    async fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError>;

    /// Removes component bytes no version references and leftovers of interrupted writes.
    async fn gc_components(&self) -> Result<GcReport, RegistryError>;

    /// Creates a key; the plaintext is in the result and nowhere else. `expires_at` must be in
    /// the future; each listed namespace must exist (`NotFound` otherwise).
    async fn create_key(&self, key: NewKey) -> Result<CreatedKey, RegistryError>;

    /// Creates key `name` (no expiry) only if the store holds no key at all, atomically: of
    /// hosts starting at once on an empty store, exactly one creates it. `None`: there were
    /// keys already.
    async fn create_first_key(&self, name: &str) -> Result<Option<CreatedKey>, RegistryError>;

    /// Every key (active, expired and revoked), oldest first.
    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError>;

    /// Revokes a key by id (idempotent: revoking twice keeps the first time). `NotFound` if
    /// unknown.
    async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError>;

    /// Checks a presented key (`None` or empty: [`AuthError::Missing`]; unknown, revoked or
    /// expired: [`AuthError::Invalid`]).
    async fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError>;

    /// Sets a function's privacy, with a `privacy` history row when it changes. `NotFound` if
    /// the function is unknown.
    async fn set_privacy(&self, id: &str, privacy: Privacy)
    -> Result<PrivacyChange, RegistryError>;

    /// Creates a namespace with a fresh token key. `Conflict` if the name is taken.
    async fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, RegistryError>;

    /// One namespace, with its secrets and token key (cached: it is read when a function is
    /// loaded). `NotFound` if unknown.
    async fn get_namespace(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError>;

    /// Every namespace with its function count, ordered by name.
    async fn list_namespaces(&self) -> Result<Vec<NamespaceInfo>, RegistryError>;

    /// Changes a namespace's description, env or secrets; when env or secrets change, each of
    /// its functions gets a `namespace` history row in the same transaction.
    async fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, RegistryError>;

    /// Deletes a namespace. One that holds functions is a `Conflict` unless `cascade`, which
    /// deletes them with their versions, history and logs in the same transaction. `default`
    /// cannot be deleted (`Invalid`).
    async fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, RegistryError>;

    /// Replaces a namespace's token key: every token it signed stops verifying.
    async fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError>;

    /// A handle for recording log entries without blocking.
    fn log_writer(&self) -> LogWriter;

    /// Stored log entries of a function (`NotFound` if the function is unknown). Entries
    /// still queued in the [`LogWriter`] are not visible until written; `flush` it first when
    /// that matters.
    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError>;

    /// Drops every cached record now, so the next reads see all writes, including other
    /// processes' and hosts' (instead of waiting for the backend's own change detection).
    /// A test aid: in production each backend's own change detection keeps caches current.
    #[cfg(test)]
    async fn refresh(&self) -> Result<(), RegistryError>;

    /// Changes other hosts make, as they arrive (`None` for a store no other host writes to,
    /// such as SQLite in a data directory). A receiver that lags behind gets
    /// `RecvError::Lagged` and must drop everything it holds.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// A precompiled artifact of component `digest` for engines with compatibility key
    /// `engine_key`, verified against the hash stored with it, if the store keeps them (a store
    /// shared by several hosts does: one compiles, the others load). `None` by default.
    async fn read_artifact(
        &self,
        _digest: &Digest,
        _engine_key: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(None)
    }

    /// Keeps an artifact compiled by this host for the others (idempotent; nothing by
    /// default).
    async fn store_artifact(
        &self,
        _digest: &Digest,
        _engine_key: &str,
        _artifact: Vec<u8>,
    ) -> Result<(), RegistryError> {
        Ok(())
    }

    /// Why the store is degraded right now (`None`: healthy): e.g. the shared database has
    /// been unreachable since some time.
    fn health(&self) -> Option<String> {
        None
    }

    /// Test-only fail point: `hook` runs inside every deploy's transaction after the version
    /// row is written; an error from it must abort the deploy with nothing changed.
    #[cfg(test)]
    fn set_deploy_hook(&self, hook: Option<DeployHook>);
}

/// A test-only fail point (see [`Registry::set_deploy_hook`]).
#[cfg(test)]
pub(crate) type DeployHook = Box<dyn Fn() -> Result<(), RegistryError> + Send + Sync>;
