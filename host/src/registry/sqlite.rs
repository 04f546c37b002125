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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use subtle::ConstantTimeEq;

mod checkpoint;
mod log_sink;
mod rows;

use checkpoint::{Checkpointer, Nudge};
use log_sink::SqliteLogSink;
use rows::{
    StoredKey, VERSION_COLUMNS, bump_generation, differences, function_exists, insert_history,
    insert_version, load_function, load_history, load_keys, load_version, query_logs, raw_function,
    raw_version, read_generation,
};

use super::blobs::BlobStore;
use super::keys::{
    display_prefix, generate_api_key, generate_key_id, hash_api_key, validate_key_name,
};
use super::logs::{LogWriter, LogWriterConfig};
use super::types::{
    ApiKeyRecord, CreatedKey, DeleteOutcome, DeployOutcome, Digest, FunctionRecord, GcReport,
    HistoryAction, HistoryEntry, KeyInfo, KeyStatus, LogQuery, LogRecord, RollbackOutcome,
    Timestamp, VersionRecord,
};
use super::{AuthError, Registry, RegistryError, Resource, schema};
use crate::validate::{DeployMetadata, ValidationError};

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

/// Options of [`SqliteRegistry::open_with`].
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

/// What is cached, and the bookkeeping that keeps it coherent.
#[derive(Default)]
struct CacheState {
    /// Bumped on every invalidation; a load started under an older epoch is not cached.
    epoch: u64,
    /// The store's `generation` counter the cache reflects.
    generation: i64,
    functions: HashMap<String, Arc<FunctionRecord>>,
    keys: Option<Arc<Vec<StoredKey>>>,
}

#[cfg(test)]
type DeployHook = Box<dyn Fn() -> Result<(), RegistryError> + Send + Sync>;

/// The SQLite-backed registry. See the module documentation.
pub struct SqliteRegistry {
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

impl std::fmt::Debug for SqliteRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRegistry")
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

impl SqliteRegistry {
    /// Opens (creating and migrating if needed) the registry in `data_dir` with defaults.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        Self::open_with(data_dir, SqliteOptions::default())
    }

    /// Opens the registry in `data_dir` with `options`.
    pub fn open_with(
        data_dir: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, RegistryError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&data_dir).map_err(|e| io_err(&data_dir, e))?;
        let db_path = data_dir.join(DATABASE_FILE_NAME);
        ensure_private_file(&db_path)?;

        let mut writer = open_connection(&db_path, options.busy_timeout)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(RegistryError::Unavailable(format!(
                "could not enable WAL mode on {} (got {mode})",
                db_path.display()
            )));
        }
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", true)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        schema::migrate(&mut writer)?;
        let generation = read_generation(&writer)?;
        let checkpointer = Checkpointer::spawn(&db_path, options.busy_timeout)?;
        // Whatever an earlier process left in the WAL.
        checkpointer.nudge().nudge();

        let readers = (0..options.read_connections.max(1))
            .map(|_| {
                let conn = open_connection(&db_path, options.busy_timeout)?;
                conn.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;

        let log_conn = open_connection(&db_path, options.busy_timeout)?;
        log_conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The log sink checks that a function exists once per batch, inside the batch's write
        // transaction (see SqliteLogSink::write_batch), instead of a foreign-key probe per row.
        log_conn.pragma_update(None, "foreign_keys", false)?;
        // A batch appends to the last page of every function it has entries for; with many
        // busy functions those pages outgrow SQLite's default 2 MiB cache, and each batch
        // then re-reads them and spills dirty pages mid-transaction. The cache fills only as
        // far as the log's working set needs.
        log_conn.pragma_update(None, "cache_size", -LOG_CACHE_KIB)?;
        log_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let log_writer = LogWriter::spawn(
            SqliteLogSink::new(log_conn, checkpointer.nudge()),
            options.logs,
        )?;

        let blobs = BlobStore::open(data_dir.join(COMPONENTS_DIR_NAME))?;
        Ok(SqliteRegistry {
            data_dir,
            writer: Mutex::new(writer),
            nudge: checkpointer.nudge(),
            readers,
            next_reader: AtomicUsize::new(0),
            blobs,
            cache: RwLock::new(CacheState {
                generation,
                ..CacheState::default()
            }),
            last_poll: Mutex::new(Instant::now()),
            external_change_poll: options.external_change_poll,
            log_writer,
            _checkpointer: checkpointer,
            #[cfg(test)]
            deploy_hook: Mutex::new(None),
        })
    }

    /// Opens the registry in `data_dir` with defaults except the per-function log retention.
    pub fn open_with_retention(
        data_dir: impl AsRef<Path>,
        log_retention: usize,
    ) -> Result<Self, RegistryError> {
        let mut options = SqliteOptions::default();
        options.logs.retention = log_retention;
        Self::open_with(data_dir, options)
    }

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
    pub fn refresh(&self) -> Result<(), RegistryError> {
        let generation = read_generation(&self.reader())?;
        self.invalidate(generation);
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn set_deploy_hook(&self, hook: Option<DeployHook>) {
        *lock(&self.deploy_hook) = hook;
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        for conn in &self.readers {
            if let Ok(guard) = conn.try_lock() {
                return guard;
            }
        }
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        lock(&self.readers[index])
    }

    fn cache_read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn invalidate(&self, generation: i64) {
        let mut cache = self.cache_write();
        cache.epoch += 1;
        cache.generation = generation;
        cache.functions.clear();
        cache.keys = None;
    }

    /// Invalidates the cache if another process changed the store since the last look.
    fn poll_external_changes(&self) -> Result<(), RegistryError> {
        let Ok(mut last) = self.last_poll.try_lock() else {
            return Ok(()); // another thread is polling right now
        };
        if last.elapsed() < self.external_change_poll {
            return Ok(());
        }
        *last = Instant::now();
        drop(last);
        let generation = read_generation(&self.reader())?;
        if generation != self.cache_read().generation {
            self.invalidate(generation);
        }
        Ok(())
    }

    fn cached_keys(&self) -> Result<Arc<Vec<StoredKey>>, RegistryError> {
        self.poll_external_changes()?;
        let epoch = {
            let cache = self.cache_read();
            if let Some(keys) = &cache.keys {
                return Ok(Arc::clone(keys));
            }
            cache.epoch
        };
        let keys = Arc::new(load_keys(&self.reader())?);
        let mut cache = self.cache_write();
        if cache.epoch == epoch {
            cache.keys = Some(Arc::clone(&keys));
        }
        Ok(keys)
    }

    /// Idempotent redeploy or conflict, for an `(id, version)` that already exists.
    fn existing_version_outcome(
        &self,
        conn: &Connection,
        existing: VersionRecord,
        metadata: &DeployMetadata,
        component: &[u8],
    ) -> Result<DeployOutcome, RegistryError> {
        let digest = Digest::of(component);
        let differences = differences(&existing, metadata, &digest);
        if !differences.is_empty() {
            return Err(RegistryError::Conflict(format!(
                "version {} of function {} already exists with different {}; versions are immutable, deploy a new version",
                metadata.version,
                metadata.id,
                differences.join(", ")
            )));
        }
        // Same bytes: make sure the blob is intact (this heals a damaged or missing one).
        self.blobs.put(component)?;
        let function = load_function(conn, &metadata.id)?
            .ok_or_else(|| not_found(Resource::Function, &metadata.id))?;
        Ok(DeployOutcome {
            function: Arc::new(function),
            version: existing,
            created: false,
            previous: None,
        })
    }
}

impl SqliteRegistry {
    /// The writer connection (see [`WriteConn`]).
    fn write_conn(&self) -> WriteConn<'_> {
        WriteConn {
            conn: lock(&self.writer),
            nudge: &self.nudge,
        }
    }
}

impl Drop for SqliteRegistry {
    fn drop(&mut self) {
        // Write what is queued while the database is certainly still there.
        if let Err(e) = self.log_writer.flush() {
            tracing::warn!(error = %e, "flushing logs on close failed");
        }
    }
}

impl Registry for SqliteRegistry {
    fn deploy(
        &self,
        metadata: DeployMetadata,
        component: &[u8],
    ) -> Result<DeployOutcome, RegistryError> {
        metadata.validate()?;
        let mut conn = self.write_conn();
        if let Some(existing) = load_version(&conn, &metadata.id, &metadata.version)? {
            return self.existing_version_outcome(&conn, existing, &metadata, component);
        }
        // The bytes are durable before any row points at them; a crash from here on leaves
        // at worst an unreferenced blob for `gc_components`.
        let component_ref = self.blobs.put(component)?;
        let now = Timestamp::now();
        let record = VersionRecord {
            function_id: metadata.id.clone(),
            version: metadata.version.clone(),
            language: metadata.language,
            entry_point: metadata.entry_point.clone(),
            dependencies: metadata.dependencies.clone(),
            component: component_ref,
            limits: metadata.limits,
            env: metadata.env.clone(),
            secrets: metadata.secrets.clone(),
            allowed_hosts: metadata.allowed_hosts.clone(),
            interface: metadata.interface,
            created_at: now,
        };

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(existing) = load_version(&tx, &metadata.id, &metadata.version)? {
            // Another process deployed it between our check and our lock.
            drop(tx);
            return self.existing_version_outcome(&conn, existing, &metadata, component);
        }
        let previous: Option<String> = tx
            .query_row(
                "SELECT active_version FROM functions WHERE id = ?1",
                [&metadata.id],
                |row| row.get(0),
            )
            .optional()?;
        let created_at: i64 = tx.query_row(
            "INSERT INTO functions (id, active_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO UPDATE SET active_version = excluded.active_version, updated_at = excluded.updated_at
             RETURNING created_at",
            params![metadata.id, metadata.version, now.as_millis()],
            |row| row.get(0),
        )?;
        insert_version(&tx, &record)?;
        #[cfg(test)]
        if let Some(hook) = lock(&self.deploy_hook).as_ref() {
            hook()?;
        }
        insert_history(
            &tx,
            &metadata.id,
            &metadata.version,
            HistoryAction::Deploy,
            previous.as_deref(),
            now,
        )?;
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        self.invalidate(generation);

        let function = Arc::new(FunctionRecord {
            id: metadata.id.clone(),
            created_at: Timestamp::from_millis(created_at),
            updated_at: now,
            active: record.clone(),
        });
        Ok(DeployOutcome {
            function,
            version: record,
            created: true,
            previous,
        })
    }

    fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError> {
        self.poll_external_changes()?;
        let epoch = {
            let cache = self.cache_read();
            if let Some(function) = cache.functions.get(id) {
                return Ok(Arc::clone(function));
            }
            cache.epoch
        };
        let function =
            load_function(&self.reader(), id)?.ok_or_else(|| not_found(Resource::Function, id))?;
        let function = Arc::new(function);
        let mut cache = self.cache_write();
        if cache.epoch == epoch {
            cache.functions.insert(id.to_owned(), Arc::clone(&function));
        }
        Ok(function)
    }

    fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT f.id, f.created_at, f.updated_at, {VERSION_COLUMNS}
             FROM functions f JOIN versions v ON v.function_id = f.id AND v.version = f.active_version
             ORDER BY f.id"
        ))?;
        let rows = stmt.query_map([], raw_function)?;
        rows.map(|row| Ok(Arc::new(row?.decode()?))).collect()
    }

    fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError> {
        let conn = self.reader();
        match load_version(&conn, id, version)? {
            Some(record) => Ok(record),
            None if function_exists(&conn, id)? => {
                Err(not_found(Resource::Version, &format!("{id}@{version}")))
            }
            None => Err(not_found(Resource::Function, id)),
        }
    }

    fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        let conn = self.reader();
        // One read transaction so the existence check and the listing agree.
        let tx = conn.unchecked_transaction()?;
        if !function_exists(&tx, id)? {
            return Err(not_found(Resource::Function, id));
        }
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.function_id = ?1 ORDER BY v.rowid"
        ))?;
        let rows = stmt.query_map([id], |row| raw_version(row, 0))?;
        rows.map(|row| row?.decode()).collect()
    }

    fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError> {
        let conn = self.reader();
        let tx = conn.unchecked_transaction()?;
        if !function_exists(&tx, id)? {
            return Err(not_found(Resource::Function, id));
        }
        load_history(&tx, id)
    }

    fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError> {
        let mut conn = self.write_conn();
        let now = Timestamp::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let previous: String = tx
            .query_row(
                "SELECT active_version FROM functions WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| not_found(Resource::Function, id))?;
        if load_version(&tx, id, version)?.is_none() {
            return Err(not_found(Resource::Version, &format!("{id}@{version}")));
        }
        tx.execute(
            "UPDATE functions SET active_version = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, version, now.as_millis()],
        )?;
        insert_history(
            &tx,
            id,
            version,
            HistoryAction::Rollback,
            Some(&previous),
            now,
        )?;
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        self.invalidate(generation);
        let function =
            load_function(&conn, id)?.ok_or_else(|| not_found(Resource::Function, id))?;
        Ok(RollbackOutcome {
            function: Arc::new(function),
            previous,
        })
    }

    fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError> {
        let mut conn = self.write_conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let digests: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT DISTINCT component_digest FROM versions WHERE function_id = ?1",
            )?;
            stmt.query_map([id], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        let versions_removed: i64 = tx.query_row(
            "SELECT count(*) FROM versions WHERE function_id = ?1",
            [id],
            |row| row.get(0),
        )?;
        // Versions, history and logs go with it (ON DELETE CASCADE).
        if tx.execute("DELETE FROM functions WHERE id = ?1", [id])? == 0 {
            return Err(not_found(Resource::Function, id));
        }
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        self.invalidate(generation);

        // Blobs are shared by content: remove only those no version references any more.
        // Deploys take the same writer lock, so none can start referencing one meanwhile.
        let mut components_removed = 0;
        for hex in digests {
            let referenced: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE component_digest = ?1)",
                [&hex],
                |row| row.get(0),
            )?;
            if !referenced
                && let Ok(digest) = hex.parse::<Digest>()
                && self.blobs.remove(&digest)?
            {
                components_removed += 1;
            }
        }
        Ok(DeleteOutcome {
            id: id.to_owned(),
            versions_removed: versions_removed as usize,
            components_removed,
        })
    }

    fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.blobs.read(digest)
    }

    fn gc_components(&self) -> Result<GcReport, RegistryError> {
        let conn = self.write_conn();
        let referenced: HashSet<String> = {
            let mut stmt = conn.prepare_cached("SELECT DISTINCT component_digest FROM versions")?;
            stmt.query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut report = GcReport::default();
        for digest in self.blobs.list()? {
            if !referenced.contains(&digest.to_hex()) && self.blobs.remove(&digest)? {
                report.components_removed += 1;
            }
        }
        report.temp_files_removed = self.blobs.remove_temp_files()?;
        Ok(report)
    }

    fn create_key(
        &self,
        name: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<CreatedKey, RegistryError> {
        validate_key_name(name)?;
        let now = Timestamp::now();
        if let Some(at) = expires_at
            && at <= now
        {
            return Err(ValidationError::new(
                "expiresAt",
                at.to_iso8601(),
                "Invalid expiresAt: must be in the future",
            )
            .into());
        }
        let plaintext = generate_api_key();
        let record = ApiKeyRecord {
            id: generate_key_id(),
            name: name.to_owned(),
            prefix: display_prefix(&plaintext),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let mut conn = self.write_conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO api_keys (id, name, prefix, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                record.id,
                record.name,
                record.prefix,
                hash_api_key(&plaintext),
                now.as_millis(),
                expires_at.map(Timestamp::as_millis)
            ],
        )?;
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        self.invalidate(generation);
        Ok(CreatedKey {
            record,
            key: plaintext,
        })
    }

    fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError> {
        Ok(load_keys(&self.reader())?
            .into_iter()
            .map(|k| k.record)
            .collect())
    }

    fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError> {
        let mut conn = self.write_conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
            params![id, Timestamp::now().as_millis()],
        )?;
        if changed == 0 {
            return Err(not_found(Resource::ApiKey, id));
        }
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        self.invalidate(generation);
        load_keys(&conn)?
            .into_iter()
            .map(|k| k.record)
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(Resource::ApiKey, id))
    }

    fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError> {
        let presented = match presented {
            None | Some("") => return Err(AuthError::Missing),
            Some(key) => key,
        };
        let keys = self.cached_keys()?;
        let hash = hash_api_key(presented);
        // Compare against every key so timing does not depend on where a match is.
        let mut found = None;
        for key in keys.iter() {
            if bool::from(key.hash.ct_eq(&hash)) {
                found = Some(key);
            }
        }
        let key = found.ok_or(AuthError::Invalid)?;
        if key.record.status(Timestamp::now()) != KeyStatus::Active {
            return Err(AuthError::Invalid);
        }
        Ok(KeyInfo {
            id: key.record.id.clone(),
            name: key.record.name.clone(),
            expires_at: key.record.expires_at,
        })
    }

    fn log_writer(&self) -> LogWriter {
        self.log_writer.clone()
    }

    fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError> {
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

fn open_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, RegistryError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

/// Creates the database file with mode 0600, or tightens an existing one to it.
fn ensure_private_file(path: &Path) -> Result<(), RegistryError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io_err(path, e))?;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
    }
    Ok(())
}
