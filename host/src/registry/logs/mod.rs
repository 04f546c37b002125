//! The log write path: a cheap, non-blocking [`LogWriter`] handle in front of one background
//! thread that writes entries in batches and trims each function's log to its retention.
//!
//! Invocations produce entries at a high rate, so the request path never touches storage:
//! [`LogWriter::push`] is a `try_send` into a bounded channel. When the channel is full the
//! entry is dropped and counted ([`LogStats::dropped`]) — back-pressure on logging must never
//! slow calls down. The thread drains whatever is queued (up to a batch size) and hands it to
//! a [`LogSink`] in one call (one transaction for SQLite). Retention is enforced per function
//! every time a function has accumulated a quarter of its retention in new entries
//! ([`TRIM_EVERY_DIVISOR`]), and for all touched functions on [`LogWriter::flush`], so the
//! stored count stays within `retention + retention / 4` between trims and equals at most
//! `retention` after a flush (a logs query flushes first, so it never sees more).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, Thread};
use std::time::Duration;

#[cfg(test)]
mod tests;
mod worker;

use worker::Worker;

use super::RegistryError;
use crate::model::LogEntry;

/// Entries kept per function; older ones are trimmed.
pub const DEFAULT_LOG_RETENTION: usize = 1000;
/// A function is trimmed back to its retention once it has `retention / TRIM_EVERY_DIVISOR`
/// new entries. Each trim of a function reads the cold first pages of its log (three lookups
/// before the delete), whatever the number of rows it deletes; with 1,000 busy functions,
/// trimming every quarter instead of every tenth of the retention cut fdo's CPU per call by
/// about 1 us (benches/RESULTS.md, 2026-12-05), for up to 25 % more rows stored between trims.
pub const TRIM_EVERY_DIVISOR: usize = 4;
/// Entries the queue holds before `push` starts dropping: what arrives while a batch is
/// written. With 1,000 busy functions at 90k entries/s a dense batch (32 entries per
/// function) takes long enough to write that 16,384 overflowed (2,255 entries dropped in
/// 10 s); 8,192 overflowed with 16 per function. Checkpoints no longer stall the writer
/// (they run on their own thread, `sqlite/checkpoint.rs`; inline, the first one dropped 10k
/// entries at 117k entries/s). While a batch gathers, the writer moves entries from the
/// queue into it. The memory of what is queued and gathered is bounded separately, by
/// [`DEFAULT_LOG_PENDING_BYTES`].
pub const DEFAULT_LOG_QUEUE_CAPACITY: usize = 32768;
/// Bytes of log entries accepted and not yet written (queued, or in the batch being gathered
/// or written) before `push` starts dropping. Entries count their strings' lengths plus
/// their fixed size. With typical 200-byte entries the queue and a full batch hold about
/// 20 MiB; this bound holds when guests log long lines too (a count of entries alone would
/// let 8 KiB messages take 512 MiB).
pub const DEFAULT_LOG_PENDING_BYTES: usize = 64 << 20;
/// Most entries written in one batch (one transaction).
pub const DEFAULT_LOG_BATCH_SIZE: usize = 32768;
/// How long the writer lets entries gather after the first one of a batch arrives. Under load
/// this turns one transaction (and one wake-up of the thread) per entry into one per burst.
/// An entry is stored at most this much later when the batch is dense (see
/// [`DEFAULT_LOG_MAX_LINGER`]); a flush (which every logs query does first) cuts the wait
/// short. Short, because a batch is a burst of writer CPU that shares the machine with the
/// requests: at 30k calls a second on two cores, 50 ms batches put the p99 of a call at
/// 1.7 ms, 5 ms batches at 0.4 ms, for about 10 % more writer CPU per entry (and one commit,
/// without an fsync, every 5 ms under load).
pub const DEFAULT_LOG_LINGER: Duration = Duration::from_millis(5);
/// How long a *sparse* batch keeps gathering: one of at least [`DEFAULT_LOG_SPARSE_MIN`]
/// entries that average fewer than [`DEFAULT_LOG_DENSE_PER_FUNCTION`] per function. The logs
/// are clustered by function, so a batch writes (to the WAL, and later at a checkpoint) one
/// page or more for every function it has entries for: with 1,000 busy functions a 50 ms
/// batch held about two entries per function and the writer wrote a 4 KiB page for every
/// two 150-byte entries, its CPU per call five times the one-function case
/// (benches/RESULTS.md, "1,000 deployed functions"). Gathering until each function has
/// about a page of new entries makes a page write carry nearly as many entries as with one
/// busy function. Light loads never wait this long: their batches are small.
pub const DEFAULT_LOG_MAX_LINGER: Duration = Duration::from_millis(500);
/// Entries per function at which a batch counts as dense (about a 4 KiB page of typical
/// entries). With 16 (half a page) each function's last page was written twice as it
/// filled: 1,000 busy functions cost the writer 6.2 to 7.0 us per call against 5.3 to 5.5
/// with 32 (benches/RESULTS.md, 2026-12-05).
pub const DEFAULT_LOG_DENSE_PER_FUNCTION: usize = 32;
/// Smallest batch that keeps gathering when sparse: below this, a batch costs few page
/// writes whatever its spread, and is written after [`DEFAULT_LOG_LINGER`].
pub const DEFAULT_LOG_SPARSE_MIN: usize = 256;
/// Longest message stored; longer ones are cut at a character boundary and marked `…`.
pub const DEFAULT_MAX_LOG_MESSAGE_BYTES: usize = 8 * 1024;

/// Where batches go. Implemented by each storage backend; runs on the writer thread only.
pub trait LogSink: Send + 'static {
    /// Stores `entries`, then deletes all but the newest `keep` entries of each function in
    /// `trim`, atomically (all or none): one transaction per batch, trims included. Entries
    /// for functions that no longer exist must be skipped, not fail the batch.
    fn write_batch(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError>;
    /// Deletes all but the newest `keep` entries of each function in `function_ids`.
    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError>;
}

/// Tuning of a [`LogWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogWriterConfig {
    /// Entries kept per function (at least 1).
    pub retention: usize,
    /// Queue capacity (at least 1).
    pub queue_capacity: usize,
    /// Bytes of entries accepted and not yet written before `push` drops (see
    /// [`DEFAULT_LOG_PENDING_BYTES`]; at least one entry is always accepted).
    pub pending_bytes: usize,
    /// Largest batch (at least 1).
    pub batch_size: usize,
    /// Message size cap in bytes.
    pub max_message_bytes: usize,
    /// Time entries gather before a batch is written (zero: write what is queued at once).
    pub linger: Duration,
    /// Longest time a sparse batch gathers (see [`DEFAULT_LOG_MAX_LINGER`]); at most
    /// `linger` disables gathering past it.
    pub max_linger: Duration,
    /// Entries per function at which a batch is dense and written.
    pub dense_per_function: usize,
    /// Smallest batch that keeps gathering while sparse.
    pub sparse_min: usize,
}

impl Default for LogWriterConfig {
    fn default() -> Self {
        LogWriterConfig {
            retention: DEFAULT_LOG_RETENTION,
            queue_capacity: DEFAULT_LOG_QUEUE_CAPACITY,
            pending_bytes: DEFAULT_LOG_PENDING_BYTES,
            batch_size: DEFAULT_LOG_BATCH_SIZE,
            max_message_bytes: DEFAULT_MAX_LOG_MESSAGE_BYTES,
            linger: DEFAULT_LOG_LINGER,
            max_linger: DEFAULT_LOG_MAX_LINGER,
            dense_per_function: DEFAULT_LOG_DENSE_PER_FUNCTION,
            sparse_min: DEFAULT_LOG_SPARSE_MIN,
        }
    }
}

/// Counters of a writer, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Entries handed to the sink successfully.
    pub written: u64,
    /// Entries dropped because the queue was full.
    pub dropped: u64,
    /// Entries lost because the sink failed.
    pub failed: u64,
}

/// Counters shared by all handles and the thread.
#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Bytes of entries pushed and not yet written (see [`entry_bytes`]).
    pending_bytes: AtomicUsize,
    /// Set by [`LogWriter::flush`] so the thread cuts its linger short.
    flush_requested: AtomicBool,
}

enum Command {
    Entry(LogEntry),
    Flush(mpsc::Sender<Result<(), String>>),
}

/// Handle to the background log writer. Cloning is cheap; the thread stops once every
/// handle is dropped, after writing what is queued.
#[derive(Clone)]
pub struct LogWriter {
    sender: SyncSender<Command>,
    counters: Arc<Counters>,
    max_message_bytes: usize,
    /// Most bytes pending before `push` drops.
    max_pending_bytes: usize,
    /// The writer thread, unparked by a flush that should not wait out a linger.
    thread: Thread,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl LogWriter {
    /// Starts the writer thread over `sink`.
    pub fn spawn(sink: impl LogSink, config: LogWriterConfig) -> Result<LogWriter, RegistryError> {
        let (sender, receiver) = mpsc::sync_channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(sink, receiver, Arc::clone(&counters), &config);
        let handle = thread::Builder::new()
            .name("fdo-log-writer".into())
            .spawn(move || {
                crate::os::short_time_slice();
                worker.run()
            })
            .map_err(|source| RegistryError::Io {
                path: "<log writer thread>".into(),
                source,
            })?;
        Ok(LogWriter {
            sender,
            counters,
            max_message_bytes: config.max_message_bytes,
            max_pending_bytes: config.pending_bytes,
            thread: handle.thread().clone(),
        })
    }

    /// Queues an entry without blocking. Returns false (and counts a drop) when the queue is
    /// full, the entries not yet written take their byte budget, or the writer has stopped.
    /// Messages over the size cap are truncated.
    pub fn push(&self, mut entry: LogEntry) -> bool {
        truncate_message(&mut entry.message, self.max_message_bytes);
        let bytes = entry_bytes(&entry);
        let before = self
            .counters
            .pending_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        // Always room for one entry, whatever the budget.
        let accepted = before == 0 || before + bytes <= self.max_pending_bytes;
        if accepted && self.sender.try_send(Command::Entry(entry)).is_ok() {
            return true;
        }
        self.counters
            .pending_bytes
            .fetch_sub(bytes, Ordering::Relaxed);
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Blocks until every entry pushed before this call is stored and every touched function
    /// is trimmed to its retention. Use from async code through `spawn_blocking`; called on
    /// shutdown and by tests. Errors if the sink failed on any of those entries.
    pub fn flush(&self) -> Result<(), RegistryError> {
        let (reply, done) = mpsc::channel();
        self.sender
            .send(Command::Flush(reply))
            .map_err(|_| RegistryError::Unavailable("log writer has stopped".into()))?;
        self.counters.flush_requested.store(true, Ordering::Release);
        self.thread.unpark();
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(RegistryError::Unavailable(format!(
                "log writer failed: {message}"
            ))),
            Err(_) => Err(RegistryError::Unavailable("log writer has stopped".into())),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> LogStats {
        LogStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// What an entry counts against the pending-bytes budget: its fixed size and its strings.
fn entry_bytes(entry: &LogEntry) -> usize {
    std::mem::size_of::<LogEntry>()
        + entry.function_id.len()
        + entry.message.len()
        + entry.request_id.as_ref().map_or(0, String::len)
        + entry.version.as_ref().map_or(0, String::len)
}

/// Cuts `message` to at most `max` bytes on a character boundary, marking the cut with `…`.
fn truncate_message(message: &mut String, max: usize) {
    if message.len() <= max {
        return;
    }
    let ellipsis = '…';
    let mut cut = max.saturating_sub(ellipsis.len_utf8());
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    message.truncate(cut);
    message.push(ellipsis);
}
