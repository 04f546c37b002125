//! The embedded [`Registry`]: SQLite in WAL mode plus a [`BlobStore`] in the data directory.
//!
//! Layout: `DATA_DIR/fdo.sqlite3` (mode 0600: it holds secrets; SQLite gives its `-wal` and
//! `-shm` files the same mode) and `DATA_DIR/components/sha256/..`.
//!
//! Connections, and why:
//! - one writer (behind a mutex, `synchronous=FULL`): deploys, rollbacks, deletes and key
//!   changes are serialised and durable once acknowledged;
//! - a small pool of read-only readers: WAL lets them run beside the writer;
//! - one connection owned by the log writer thread (`synchronous=NORMAL`: losing the last
//!   batch of logs on power loss is acceptable, slowing every batch down is not);
//! - one owned by the checkpoint thread ([`checkpoint`]): the writers have SQLite's automatic
//!   checkpoints off and nudge it after their commits, so no commit waits for a checkpoint.
//!
//! Caching: [`Registry::get_function`] and [`Registry::verify_key`] run on every request, so
//! functions and keys are cached in memory. Every write bumps a `generation` counter in the
//! same transaction; this process invalidates its cache right after its own commits, and
//! notices other processes' commits (e.g. `fdo keys revoke` run beside a server) by reading
//! the counter at most every [`SqliteOptions::external_change_poll`]. One server process per
//! data directory is assumed; other processes may manage keys.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

mod cache;
mod checkpoint;
mod functions;
mod keys;
mod log_sink;
mod namespaces;
mod open;
mod registry;
mod rows;

pub use registry::SqliteRegistry;

use cache::CacheState;
use checkpoint::{Checkpointer, Nudge};
use rows::{function_exists, query_logs};

#[cfg(doc)]
use super::Registry;
use super::blobs::BlobStore;
use super::logs::{LogWriter, LogWriterConfig};
use super::{AuthError, RegistryError};
use crate::model::access::Privacy;
use crate::model::{
    ApiKeyRecord, CreatedKey, DeleteOutcome, DeployMetadata, DeployOutcome, Digest, FunctionRecord,
    GcReport, HistoryEntry, KeyInfo, LogQuery, LogRecord, NamespaceDeleteOutcome, NamespaceInfo,
    NamespacePatch, NamespaceRecord, NamespaceUpdate, NewKey, NewNamespace, PrivacyChange,
    Resource, RollbackOutcome, VersionRecord,
};

/// Name of the database file inside the data directory.
pub const DATABASE_FILE_NAME: &str = "fdo.sqlite3";
/// Name of the component blob directory inside the data directory.
pub const COMPONENTS_DIR_NAME: &str = "components";
/// Read connections in the pool (reads beyond this many at once wait for one).
pub const DEFAULT_READ_CONNECTIONS: usize = 4;
/// How long a connection waits for another process's write lock before failing.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Page cache of the log writer's connection, in KiB (SQLite's default is 2 MiB).
const LOG_CACHE_KIB: i64 = 32 * 1024;
/// How stale this process's caches may be with respect to writes by *other* processes
/// (a key revoked by `fdo keys revoke` stops working within this delay). Own writes are
/// visible immediately.
pub const DEFAULT_EXTERNAL_CHANGE_POLL: Duration = Duration::from_millis(100);

/// Options of [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Size of the read connection pool (at least 1).
    pub read_connections: usize,
    /// Wait for locks held by other processes.
    pub busy_timeout: Duration,
    /// Staleness bound for other processes' writes; `Duration::ZERO` checks on every read.
    pub external_change_poll: Duration,
    /// Log writer tuning, including per-function retention.
    pub logs: LogWriterConfig,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: DEFAULT_READ_CONNECTIONS,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            external_change_poll: DEFAULT_EXTERNAL_CHANGE_POLL,
            logs: LogWriterConfig::default(),
        }
    }
}

#[cfg(test)]
use super::DeployHook;

/// The blocking core of the SQLite registry: its connections, caches and blob store. Every
/// method blocks; [`SqliteRegistry`] runs them on the blocking pool behind the async
/// [`Registry`] contract.
pub struct SqliteStore {
    data_dir: PathBuf,
    /// Serialises writes in this process (SQLite allows one writer at a time anyway).
    writer: Mutex<Connection>,
    /// Asks the checkpoint thread for a checkpoint after the writer's commits.
    nudge: Nudge,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    blobs: BlobStore,
    cache: RwLock<CacheState>,
    /// When the store's generation was last read; `try_lock`ed so one thread polls at a time.
    last_poll: Mutex<Instant>,
    external_change_poll: Duration,
    log_writer: LogWriter,
    /// Declared after the log writer: dropped after it, so the last batch is checkpointed.
    _checkpointer: Checkpointer,
    /// Test-only fail point inside the deploy transaction, after the version row is written.
    #[cfg(test)]
    deploy_hook: Mutex<Option<DeployHook>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// The writer connection, locked; nudges the checkpointer when let go (after whatever the
/// holder committed).
struct WriteConn<'a> {
    conn: MutexGuard<'a, Connection>,
    nudge: &'a Nudge,
}

impl std::ops::Deref for WriteConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for WriteConn<'_> {
    fn drop(&mut self) {
        self.nudge.nudge();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves it usable (an open transaction is rolled back
    // when its guard drops during unwinding), so poisoning is not fatal.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_err(path: &Path, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl SqliteStore {
    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The component blob store (the loader may read blob paths directly).
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Drops every cached function and key now, so the next reads see all writes, including
    /// other processes' (instead of waiting up to the external-change poll interval).
    #[cfg(test)]
    pub fn refresh(&self) -> Result<(), RegistryError> {
        let generation = rows::read_generation(&self.reader())?;
        self.invalidate(generation);
        Ok(())
    }

    /// Test-only fail point inside the deploy transaction (see [`Registry::set_deploy_hook`]).
    #[cfg(test)]
    pub(crate) fn set_deploy_hook(&self, hook: Option<DeployHook>) {
        *lock(&self.deploy_hook) = hook;
    }

    /// The writer connection (see [`WriteConn`]).
    fn write_conn(&self) -> WriteConn<'_> {
        WriteConn {
            conn: lock(&self.writer),
            nudge: &self.nudge,
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Write what is queued while the database is certainly still there.
        if let Err(e) = self.log_writer.flush() {
            tracing::warn!(error = %e, "flushing logs on close failed");
        }
    }
}

/// The operations of the [`Registry`] contract, blocking (see [`SqliteRegistry`]).
impl SqliteStore {
    /// Blocking [`Registry::deploy`].
    pub fn deploy(
        &self,
        metadata: DeployMetadata,
        component: &[u8],
    ) -> Result<DeployOutcome, RegistryError> {
        functions::deploy(self, metadata, component)
    }

    /// Blocking [`Registry::get_function`].
    pub fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError> {
        functions::get_function(self, id)
    }

    /// Blocking [`Registry::list_functions`].
    pub fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError> {
        functions::list_functions(self)
    }

    /// Blocking [`Registry::get_version`].
    pub fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError> {
        functions::get_version(self, id, version)
    }

    /// Blocking [`Registry::list_versions`].
    pub fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        functions::list_versions(self, id)
    }

    /// Blocking [`Registry::history`].
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError> {
        functions::history(self, id)
    }

    /// Blocking [`Registry::rollback`].
    pub fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError> {
        functions::rollback(self, id, version)
    }

    /// Blocking [`Registry::delete_function`].
    pub fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError> {
        functions::delete_function(self, id)
    }

    /// Blocking [`Registry::read_component`].
    pub fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.blobs.read(digest)
    }

    /// Blocking [`Registry::gc_components`].
    pub fn gc_components(&self) -> Result<GcReport, RegistryError> {
        functions::gc_components(self)
    }

    /// Blocking [`Registry::create_key`].
    pub fn create_key(&self, key: NewKey) -> Result<CreatedKey, RegistryError> {
        keys::create_key(self, key)
    }

    /// Blocking [`Registry::create_first_key`].
    pub fn create_first_key(&self, name: &str) -> Result<Option<CreatedKey>, RegistryError> {
        keys::create_first_key(self, name)
    }

    /// Blocking [`Registry::list_keys`].
    pub fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError> {
        keys::list_keys(self)
    }

    /// Blocking [`Registry::revoke_key`].
    pub fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError> {
        keys::revoke_key(self, id)
    }

    /// Blocking [`Registry::verify_key`].
    pub fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError> {
        keys::verify_key(self, presented)
    }

    /// Blocking [`Registry::set_privacy`].
    pub fn set_privacy(&self, id: &str, privacy: Privacy) -> Result<PrivacyChange, RegistryError> {
        namespaces::set_privacy(self, id, privacy)
    }

    /// Blocking [`Registry::create_namespace`].
    pub fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, RegistryError> {
        namespaces::create_namespace(self, namespace)
    }

    /// Blocking [`Registry::get_namespace`].
    pub fn get_namespace(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        namespaces::get_namespace(self, name)
    }

    /// Blocking [`Registry::list_namespaces`].
    pub fn list_namespaces(&self) -> Result<Vec<NamespaceInfo>, RegistryError> {
        namespaces::list_namespaces(self)
    }

    /// Blocking [`Registry::update_namespace`].
    pub fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, RegistryError> {
        namespaces::update_namespace(self, name, patch)
    }

    /// Blocking [`Registry::delete_namespace`].
    pub fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, RegistryError> {
        namespaces::delete_namespace(self, name, cascade)
    }

    /// Blocking [`Registry::rotate_token_key`].
    pub fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        namespaces::rotate_token_key(self, name)
    }

    /// Blocking [`Registry::log_writer`].
    pub fn log_writer(&self) -> LogWriter {
        self.log_writer.clone()
    }

    /// Blocking [`Registry::logs`].
    pub fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError> {
        let conn = self.reader();
        let tx = conn.unchecked_transaction()?;
        if !function_exists(&tx, &query.function_id)? {
            return Err(not_found(Resource::Function, &query.function_id));
        }
        query_logs(&tx, query)
    }
}

fn not_found(resource: Resource, id: &str) -> RegistryError {
    RegistryError::NotFound {
        resource,
        id: id.to_owned(),
    }
}
