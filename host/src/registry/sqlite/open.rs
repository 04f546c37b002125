//! Opening the store: the data directory, the database file (mode 0600), the schema, and the
//! connections with their settings (see the [module documentation](super)).

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::cache::CacheState;
use super::checkpoint::Checkpointer;
use super::log_sink::SqliteLogSink;
use super::rows::read_generation;
use super::{
    COMPONENTS_DIR_NAME, DATABASE_FILE_NAME, LOG_CACHE_KIB, SqliteOptions, SqliteStore, io_err,
};
use crate::registry::blobs::BlobStore;
use crate::registry::logs::LogWriter;
use crate::registry::{RegistryError, schema};

impl SqliteStore {
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
        Ok(SqliteStore {
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
}

pub(super) fn open_connection(
    path: &Path,
    busy_timeout: Duration,
) -> Result<Connection, RegistryError> {
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
