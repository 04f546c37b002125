//! WAL checkpoints on a thread of their own, so that no writer waits for one.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the WAL past its threshold:
//! that commit then copies the whole WAL into the database file and syncs it. On the log
//! writer's connection that stalled the writer for the length of a checkpoint of 64 MiB of
//! WAL, long enough under load (58k calls a second, two entries each) for the log queue to
//! fill and 10k entries to be dropped. Here every connection that writes has automatic
//! checkpoints off and nudges the checkpointer after its commits instead; the checkpointer
//! runs a `PASSIVE` checkpoint on its own connection, which copies what it can without
//! blocking writers or readers, at most every [`MIN_INTERVAL`], and sleeps (no wake-ups) while
//! nothing is written.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::super::RegistryError;

/// The shortest time between two checkpoints: a checkpoint covers everything committed
/// before it, so checkpointing after every commit would only repeat work. A page written by
/// several commits between two checkpoints is copied once: with 1,000 busy functions each
/// log batch rewrites every function's last page, and checkpointing every 2 s instead of
/// every 200 ms took about 1 us off fdo's CPU per call (benches/RESULTS.md, 2026-12-05).
/// The WAL holds at most that much more: about 2 s of writes (tens of MiB at full load);
/// what is committed is durable in the WAL whether or not it has been checkpointed.
pub(super) const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What the checkpointer thread and the connections that nudge it share.
#[derive(Debug, Default)]
struct Shared {
    /// Set by a nudge, cleared by the thread before it checkpoints.
    pending: AtomicBool,
    /// Set when the registry closes.
    stop: AtomicBool,
    /// Checkpoints run (for tests and diagnostics).
    runs: AtomicU64,
}

/// A handle that asks for a checkpoint soon; cheap to clone and to call after every commit.
#[derive(Debug, Clone)]
pub(super) struct Nudge {
    shared: Arc<Shared>,
    thread: Thread,
}

impl Nudge {
    /// Asks for a checkpoint of what has been committed so far.
    pub(super) fn nudge(&self) {
        if !self.shared.pending.swap(true, Ordering::AcqRel) {
            self.thread.unpark();
        }
    }

    /// Checkpoints run so far.
    #[cfg(test)]
    pub(super) fn runs(&self) -> u64 {
        self.shared.runs.load(Ordering::Acquire)
    }
}

/// The checkpointer thread; stopping it (drop) runs a last checkpoint.
#[derive(Debug)]
pub(super) struct Checkpointer {
    nudge: Nudge,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on a connection of its own to `db_path`.
    pub(super) fn spawn(db_path: &Path, busy_timeout: Duration) -> Result<Self, RegistryError> {
        let conn = super::open::open_connection(db_path, busy_timeout)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let handle = thread::Builder::new()
            .name("fdo-checkpoint".into())
            .spawn(move || run(&conn, &thread_shared))
            .map_err(|e| {
                RegistryError::Unavailable(format!("cannot start the checkpoint thread: {e}"))
            })?;
        let thread = handle.thread().clone();
        Ok(Self {
            nudge: Nudge { shared, thread },
            handle: Some(handle),
        })
    }

    /// A handle for connections to nudge the thread with.
    pub(super) fn nudge(&self) -> Nudge {
        self.nudge.clone()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.shared.stop.store(true, Ordering::Release);
        self.nudge.thread.unpark();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    let mut last = Instant::now() - MIN_INTERVAL;
    loop {
        while !shared.pending.load(Ordering::Acquire) && !shared.stop.load(Ordering::Acquire) {
            thread::park();
        }
        let stopping = shared.stop.load(Ordering::Acquire);
        if !stopping {
            // Gather: what is committed meanwhile goes into this checkpoint.
            let next = last + MIN_INTERVAL;
            while Instant::now() < next && !shared.stop.load(Ordering::Acquire) {
                thread::park_timeout(next.saturating_duration_since(Instant::now()));
            }
        }
        shared.pending.store(false, Ordering::Release);
        checkpoint(conn);
        shared.runs.fetch_add(1, Ordering::AcqRel);
        last = Instant::now();
        if stopping || shared.stop.load(Ordering::Acquire) {
            return;
        }
    }
}

/// One `PASSIVE` checkpoint: copies the WAL frames no reader still needs into the database;
/// never waits for a writer or a reader. A failure only postpones the work to the next one.
fn checkpoint(conn: &Connection) {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match outcome {
        Ok((wal, copied)) => tracing::trace!(wal, copied, "WAL checkpoint"),
        Err(e) => tracing::debug!("WAL checkpoint failed (retried at the next one): {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::MIN_INTERVAL;
    use crate::model::{LogEntry, LogLevel, parse_deploy_metadata};
    use crate::registry::sqlite::{DATABASE_FILE_NAME, SqliteStore};

    fn deploy(reg: &SqliteStore, id: &str) {
        let meta = parse_deploy_metadata(&json!({
            "id": id, "version": "1.0.0", "language": "rust", "entryPoint": "src/lib.rs",
            "dependencies": {}
        }))
        .unwrap();
        reg.deploy(meta, format!("\0asm {id}").as_bytes()).unwrap();
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The writers never checkpoint (automatic checkpoints are off on their connections), yet
    /// what they commit reaches the database file: the checkpoint thread copies it.
    #[test]
    fn commits_reach_the_database_file_through_the_checkpoint_thread() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteStore::open(dir.path()).unwrap();
        deploy(&reg, "f");
        let db = dir.path().join(DATABASE_FILE_NAME);
        let before = std::fs::metadata(&db).unwrap().len();
        let writer = reg.log_writer();
        let message = "x".repeat(900);
        for _ in 0..4000 {
            assert!(writer.push(LogEntry::new("f", LogLevel::Info, message.clone())));
        }
        writer.flush().unwrap();
        // About 3.6 MB of log rows: in the WAL first, then copied into the database.
        wait_for("the database file to take the rows", || {
            std::fs::metadata(&db).unwrap().len() > before + 3_000_000
        });
    }

    /// An idle registry's checkpoint thread sleeps; the next commit wakes it.
    #[test]
    fn sleeps_until_something_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteStore::open(dir.path()).unwrap();
        // The checkpoint of whatever an earlier process left, at start.
        wait_for("the first checkpoint", || reg.nudge.runs() >= 1);
        let idle = reg.nudge.runs();
        std::thread::sleep(MIN_INTERVAL + MIN_INTERVAL / 2);
        assert_eq!(
            reg.nudge.runs(),
            idle,
            "checkpoints while nothing was written"
        );
        deploy(&reg, "g");
        wait_for("a checkpoint after the deploy", || reg.nudge.runs() > idle);
    }
}
