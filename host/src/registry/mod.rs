//! The registry: functions, immutable versions, deployment history, API keys and logs, behind
//! the narrow [`Registry`] trait so a PostgreSQL backend for several hosts can slot in later.
//!
//! The embedded default is [`SqliteRegistry`]: one SQLite database file plus content-addressed
//! component blobs ([`BlobStore`]) in the data directory. Methods are synchronous; async
//! callers (the HTTP server) run them through `spawn_blocking`. Reads that sit on the
//! invocation path ([`Registry::get_function`], [`Registry::verify_key`]) are served from
//! memory after the first load.
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
mod schema;
mod sqlite;
#[cfg(test)]
mod tests;

pub use blobs::BlobStore;
pub use keys::{
    API_KEY_DISPLAY_PREFIX_LEN, API_KEY_PREFIX, API_KEY_RANDOM_BYTES, MAX_KEY_NAME_LEN,
    api_key_matches, generate_api_key, hash_api_key,
};
pub use logs::{
    DEFAULT_LOG_BATCH_SIZE, DEFAULT_LOG_QUEUE_CAPACITY, DEFAULT_LOG_RETENTION,
    DEFAULT_MAX_LOG_MESSAGE_BYTES, LogSink, LogStats, LogWriter, LogWriterConfig,
};
pub use sqlite::{
    DATABASE_FILE_NAME, DEFAULT_BUSY_TIMEOUT, DEFAULT_EXTERNAL_CHANGE_POLL,
    DEFAULT_READ_CONNECTIONS, SqliteOptions, SqliteRegistry,
};

use crate::model::{
    ApiKeyRecord, CreatedKey, DeleteOutcome, DeployMetadata, DeployOutcome, Digest, FunctionRecord,
    GcReport, HistoryEntry, KeyInfo, LogQuery, LogRecord, Resource, RollbackOutcome, Timestamp,
    VersionRecord,
};
use crate::validate::ValidationError;

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
    /// The database failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
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
    /// A background part of the registry (the log writer) is not running or failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
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

/// Storage of functions, versions, history, keys and logs. See the module documentation for
/// the guarantees every implementation keeps. All methods are blocking.
pub trait Registry: Send + Sync {
    /// Validates `metadata`, stores the component bytes by digest and, in one transaction,
    /// records the version, a `deploy` history row, and makes it the active version.
    /// An identical existing version returns `created = false` and changes nothing; an existing
    /// version with different code or metadata is a [`RegistryError::Conflict`].
    fn deploy(
        &self,
        metadata: DeployMetadata,
        component: &[u8],
    ) -> Result<DeployOutcome, RegistryError>;

    /// The function and its active version. `NotFound` if unknown.
    fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError>;

    /// Every function with its active version, ordered by id.
    fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError>;

    /// One version of a function. `NotFound` (resource `Function` or `Version`) if unknown.
    fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError>;

    /// Every version of a function in deploy order. `NotFound` if the function is unknown.
    fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError>;

    /// The function's deployment history, oldest first. `NotFound` if unknown.
    fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError>;

    /// Makes an existing version active again and records a `rollback` history row.
    /// `NotFound` for an unknown function or version. Rolling back to the active version is
    /// allowed and recorded (`previous` equals the version).
    fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError>;

    /// Deletes a function with all its versions, history and logs, then removes component
    /// blobs no other version references. `NotFound` if unknown.
    fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError>;

    /// The component bytes for `digest`, verified against it (`Corrupt` if they do not match,
    /// `NotFound` if absent).
    fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError>;

    /// Removes component blobs no version references and leftovers of interrupted writes.
    fn gc_components(&self) -> Result<GcReport, RegistryError>;

    /// Creates a key; the plaintext is in the result and nowhere else. `expires_at` must be in
    /// the future.
    fn create_key(
        &self,
        name: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<CreatedKey, RegistryError>;

    /// Every key (active, expired and revoked), oldest first.
    fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError>;

    /// Revokes a key by id (idempotent: revoking twice keeps the first time). `NotFound` if
    /// unknown.
    fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError>;

    /// Checks a presented key (`None` or empty: [`AuthError::Missing`]; unknown, revoked or
    /// expired: [`AuthError::Invalid`]).
    fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError>;

    /// A handle for recording log entries without blocking.
    fn log_writer(&self) -> LogWriter;

    /// Stored log entries of a function (`NotFound` if the function is unknown). Entries
    /// still queued in the [`LogWriter`] are not visible until written; `flush` it first when
    /// that matters.
    fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError>;
}
