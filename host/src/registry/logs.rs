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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::RegistryError;
use super::types::LogEntry;

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
        let worker = Worker {
            sink,
            receiver,
            counters: Arc::clone(&counters),
            retention: config.retention.max(1),
            batch_size: config.batch_size.max(1),
            linger: config.linger,
            max_linger: config.max_linger,
            dense_per_function: config.dense_per_function.max(1),
            sparse_min: config.sparse_min.max(1),
            batch_functions: std::collections::HashSet::new(),
            trim_every: (config.retention / TRIM_EVERY_DIVISOR).max(1),
            since_trim: HashMap::new(),
        };
        let handle = thread::Builder::new()
            .name("fdo-log-writer".into())
            .spawn(move || {
                short_time_slice();
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

/// Asks the scheduler (Linux 6.12+, EEVDF) for 100 us time slices for the calling thread
/// instead of the default ~3 ms. The writer keeps its fair share of the CPU, but a batch
/// (milliseconds of SQLite work under load) no longer holds a core for its
/// whole length when a request thread wakes: p99 at one connection went from ~1.1 ms to
/// ~0.6 ms (benches/RESULTS.md). Best effort: older kernels and other systems keep the default.
fn short_time_slice() {
    #[cfg(target_os = "linux")]
    {
        /// `struct sched_attr` (SCHED_ATTR_SIZE_VER1).
        #[repr(C)]
        struct SchedAttr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
            util_min: u32,
            util_max: u32,
        }
        const SLICE_NS: u64 = 100_000;
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: libc::SCHED_OTHER as u32,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: SLICE_NS,
            deadline: 0,
            period: 0,
            util_min: 0,
            util_max: 0,
        };
        #[allow(unsafe_code)]
        // SAFETY: `attr` is a valid, fully initialized `sched_attr` that outlives the call;
        // pid 0 is the calling thread; the kernel only reads `size` bytes of it.
        let rc =
            unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
        if rc != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "log writer keeps the default time slice"
            );
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

struct Worker<S: LogSink> {
    sink: S,
    receiver: Receiver<Command>,
    counters: Arc<Counters>,
    retention: usize,
    batch_size: usize,
    linger: Duration,
    max_linger: Duration,
    dense_per_function: usize,
    sparse_min: usize,
    /// The functions with entries in the batch being gathered.
    batch_functions: std::collections::HashSet<String>,
    /// Trim a function once it has this many entries written since its last trim.
    trim_every: usize,
    /// Entries written per function since its last trim.
    since_trim: HashMap<String, usize>,
}

impl<S: LogSink> Worker<S> {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_size.min(4096));
        let mut waiters = Vec::new();
        // A failure stays pending until the next flush reports it, even when it happened in
        // an earlier batch than the flush request arrived in.
        let mut pending_error: Option<String> = None;
        // Whether the last batch was cut at the batch size: entries are waiting, so the next
        // batch goes out at once instead of lingering (a linger per full batch would cap the
        // writer at `batch_size` entries per linger and drop the rest).
        let mut backlogged = false;
        // The first receive blocks; the rest drain what is already queued.
        while let Ok(first) = self.receiver.recv() {
            let started = Instant::now();
            // Let a burst gather: one transaction for many entries, and while this thread
            // sleeps (rather than waits on the channel) a push does not have to wake it.
            let linger = matches!(first, Command::Entry(_)) && !self.linger.is_zero();
            if linger && !backlogged {
                self.sleep_until(started + self.linger);
            }
            let mut disconnected = self.drain(Some(first), &mut batch, &mut waiters);
            // A sparse batch (many functions, few entries each) keeps gathering: it would
            // write a page per function for a couple of entries each.
            if linger {
                let deadline = started + self.max_linger;
                while !disconnected
                    && waiters.is_empty()
                    && batch.len() < self.batch_size
                    && self.sparse(batch.len())
                    && Instant::now() < deadline
                {
                    self.sleep_until(deadline.min(Instant::now() + self.linger));
                    disconnected = self.drain(None, &mut batch, &mut waiters);
                }
            }
            backlogged = batch.len() >= self.batch_size;
            let mut outcome = self.write(&mut batch);
            if let Err(e) = &outcome {
                pending_error = Some(e.clone());
            }
            if !waiters.is_empty() {
                let trimmed = self.trim_all();
                outcome = outcome.and(trimmed);
                if let Some(e) = pending_error.take() {
                    outcome = Err(e);
                }
                for waiter in waiters.drain(..) {
                    // The flusher may have given up waiting; nothing to do then.
                    let _ = waiter.send(outcome.clone());
                }
            }
            if disconnected {
                break;
            }
        }
        if !batch.is_empty() {
            let _ = self.write(&mut batch);
        }
        let _ = self.trim_all();
    }

    /// Moves `first` and whatever is queued into `batch` (entries, up to the batch size) and
    /// `waiters` (flushes). Returns whether every handle is gone.
    fn drain(
        &mut self,
        first: Option<Command>,
        batch: &mut Vec<LogEntry>,
        waiters: &mut Vec<mpsc::Sender<Result<(), String>>>,
    ) -> bool {
        let mut next = first;
        loop {
            if let Some(command) = next.take() {
                match command {
                    Command::Entry(entry) => {
                        if !self.batch_functions.contains(&entry.function_id) {
                            self.batch_functions.insert(entry.function_id.clone());
                        }
                        batch.push(entry);
                    }
                    Command::Flush(reply) => waiters.push(reply),
                }
            }
            if batch.len() >= self.batch_size {
                return false;
            }
            match self.receiver.try_recv() {
                Ok(command) => next = Some(command),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    /// Whether a batch of `len` entries is big and spread thin enough to keep gathering.
    fn sparse(&self, len: usize) -> bool {
        len >= self.sparse_min && len < self.batch_functions.len() * self.dense_per_function
    }

    /// Sleeps until `deadline`, or less if a flush is requested meanwhile (pushes do not
    /// wake the thread; a flush does).
    fn sleep_until(&self, deadline: Instant) {
        loop {
            if self.counters.flush_requested.swap(false, Ordering::AcqRel) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            thread::park_timeout(deadline - now);
        }
    }

    /// Writes and empties `batch`, trimming in the same transaction every function the batch
    /// takes past its trim threshold (a trim of its own would cost a second commit).
    fn write(&mut self, batch: &mut Vec<LogEntry>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let count = batch.len() as u64;
        let mut added: HashMap<&str, usize> = HashMap::new();
        for entry in batch.iter() {
            *added.entry(entry.function_id.as_str()).or_default() += 1;
        }
        let pending = |id: &str| self.since_trim.get(id).copied().unwrap_or(0);
        let due: Vec<String> = added
            .iter()
            .filter(|(id, n)| pending(id) + **n >= self.trim_every)
            .map(|(id, _)| (*id).to_owned())
            // Functions whose earlier trim failed, even without entries in this batch.
            .chain(
                self.since_trim
                    .iter()
                    .filter(|(id, n)| **n >= self.trim_every && !added.contains_key(id.as_str()))
                    .map(|(id, _)| id.clone()),
            )
            .collect();
        self.batch_functions.clear();
        let outcome = match self.sink.write_batch(batch, &due, self.retention) {
            Ok(()) => {
                self.counters.written.fetch_add(count, Ordering::Relaxed);
                for (id, n) in added {
                    *self.since_trim.entry(id.to_owned()).or_default() += n;
                }
                for id in &due {
                    self.since_trim.remove(id);
                }
                Ok(())
            }
            Err(e) => {
                self.counters.failed.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(error = %e, entries = count, "dropping a batch of log entries");
                Err(e.to_string())
            }
        };
        let bytes: usize = batch.iter().map(entry_bytes).sum();
        self.counters
            .pending_bytes
            .fetch_sub(bytes, Ordering::Relaxed);
        batch.clear();
        outcome
    }

    fn trim_all(&mut self) -> Result<(), String> {
        let all: Vec<String> = self.since_trim.keys().cloned().collect();
        self.trim(all)
    }

    fn trim(&mut self, ids: Vec<String>) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        match self.sink.trim(&ids, self.retention) {
            Ok(()) => {
                for id in &ids {
                    self.since_trim.remove(id);
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "trimming logs failed; will retry");
                Err(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::types::LogLevel;
    use std::sync::Mutex;

    /// An in-memory sink recording batch sizes, optionally blocking until released.
    #[derive(Clone, Default)]
    struct MemorySink {
        rows: Arc<Mutex<Vec<LogEntry>>>,
        batches: Arc<Mutex<Vec<usize>>>,
        gate: Option<Arc<Mutex<()>>>,
        fail: Arc<std::sync::atomic::AtomicBool>,
        /// Most rows any one function had after a batch (and its trims) was written.
        peak: Arc<AtomicUsize>,
    }

    impl LogSink for MemorySink {
        fn write_batch(
            &mut self,
            entries: &[LogEntry],
            trim: &[String],
            keep: usize,
        ) -> Result<(), RegistryError> {
            {
                let _held = self.gate.as_ref().map(|g| g.lock().unwrap());
                if self.fail.load(Ordering::SeqCst) {
                    return Err(RegistryError::Unavailable("disk on fire".into()));
                }
                self.batches.lock().unwrap().push(entries.len());
                self.rows.lock().unwrap().extend_from_slice(entries);
            }
            self.trim(trim, keep)?;
            let rows = self.rows.lock().unwrap();
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for e in rows.iter() {
                *counts.entry(e.function_id.as_str()).or_default() += 1;
            }
            let most = counts.values().copied().max().unwrap_or(0);
            self.peak.fetch_max(most, Ordering::SeqCst);
            Ok(())
        }

        fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
            let mut rows = self.rows.lock().unwrap();
            for id in function_ids {
                let count = rows.iter().filter(|e| &e.function_id == id).count();
                let mut excess = count.saturating_sub(keep);
                rows.retain(|e| {
                    if &e.function_id == id && excess > 0 {
                        excess -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
            Ok(())
        }
    }

    fn entry(f: &str, i: usize) -> LogEntry {
        LogEntry::new(f, LogLevel::Info, format!("entry {i}"))
    }

    #[test]
    fn batches_and_flush() {
        let sink = MemorySink::default();
        let gate = Arc::new(Mutex::new(()));
        let sink = MemorySink {
            gate: Some(Arc::clone(&gate)),
            ..sink
        };
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                batch_size: 100,
                ..Default::default()
            },
        )
        .unwrap();
        // Hold the sink so entries pile up in the queue, then release: they go in batches.
        let held = gate.lock().unwrap();
        assert!(writer.push(entry("f", 0)));
        // The worker may or may not have taken that first entry; either way it cannot write
        // while the gate is held, so the next 250 queue up and go out in batches of 100.
        for i in 1..=250 {
            assert!(writer.push(entry("f", i)));
        }
        drop(held);
        writer.flush().unwrap();
        let rows = sink.rows.lock().unwrap();
        assert_eq!(rows.len(), 251);
        assert_eq!(rows.last().unwrap().message, "entry 250");
        let batches = sink.batches.lock().unwrap();
        assert!(batches.iter().all(|b| *b <= 100), "{batches:?}");
        assert!(batches.len() <= 5, "entries were not batched: {batches:?}");
        assert_eq!(
            writer.stats(),
            LogStats {
                written: 251,
                dropped: 0,
                failed: 0
            }
        );
    }

    #[test]
    fn flush_does_not_wait_out_the_linger() {
        let sink = MemorySink::default();
        let linger = Duration::from_secs(60);
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                linger,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(writer.push(entry("f", 0)));
        let started = Instant::now();
        writer.flush().unwrap();
        assert!(
            started.elapsed() < linger / 2,
            "flush waited {:?}",
            started.elapsed()
        );
        assert_eq!(sink.rows.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_backlog_is_written_without_lingering_between_batches() {
        let sink = MemorySink::default();
        let linger = Duration::from_secs(60);
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                linger,
                batch_size: 10,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..35 {
            assert!(writer.push(entry("f", i)));
        }
        // The flush cuts the first linger short; the 35 entries then go out as 4 batches,
        // with no linger between them.
        let started = Instant::now();
        writer.flush().unwrap();
        assert!(
            started.elapsed() < linger / 2,
            "flush waited {:?}",
            started.elapsed()
        );
        assert_eq!(sink.rows.lock().unwrap().len(), 35);
        assert_eq!(*sink.batches.lock().unwrap(), vec![10, 10, 10, 5]);
    }

    #[test]
    fn linger_gathers_a_burst_into_one_batch() {
        let sink = MemorySink::default();
        // A linger far longer than pushing 100 entries takes: they all arrive while the
        // worker sleeps after the first, and go out together.
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                linger: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..100 {
            assert!(writer.push(entry("f", i)));
        }
        writer.flush().unwrap();
        assert_eq!(sink.rows.lock().unwrap().len(), 100);
        let batches = sink.batches.lock().unwrap();
        // Two at most: a push delayed past the whole linger would start a second batch.
        assert!(batches.len() <= 2, "entries were not gathered: {batches:?}");
    }

    /// A writer that lingers 10 ms, counts a batch as sparse from 8 entries and as dense at 4
    /// entries per function, and lets a sparse batch gather for up to `max_linger`.
    fn gathering_writer(sink: &MemorySink, max_linger: Duration) -> LogWriter {
        LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                linger: Duration::from_millis(10),
                max_linger,
                dense_per_function: 4,
                sparse_min: 8,
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// Waits (bounded) until the sink has `rows` rows.
    fn wait_for_rows(sink: &MemorySink, rows: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while sink.rows.lock().unwrap().len() < rows {
            assert!(Instant::now() < deadline, "entries were never written");
            thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_sparse_batch_gathers_until_it_is_dense() {
        let sink = MemorySink::default();
        let writer = gathering_writer(&sink, Duration::from_secs(60));
        // 8 functions, one entry each: sparse (8 < 8 x 4), so it waits well past the linger.
        for f in 0..8 {
            assert!(writer.push(entry(&format!("f{f}"), 0)));
        }
        thread::sleep(Duration::from_millis(200));
        assert!(
            sink.batches.lock().unwrap().is_empty(),
            "a sparse batch was written after the linger"
        );
        // Three more each: 32 entries over 8 functions is dense, and goes out without a flush.
        for i in 1..4 {
            for f in 0..8 {
                assert!(writer.push(entry(&format!("f{f}"), i)));
            }
        }
        wait_for_rows(&sink, 32);
        assert_eq!(*sink.batches.lock().unwrap(), vec![32]);
    }

    #[test]
    fn a_sparse_batch_waits_at_most_the_max_linger() {
        let sink = MemorySink::default();
        let max_linger = Duration::from_millis(300);
        let writer = gathering_writer(&sink, max_linger);
        let started = Instant::now();
        for f in 0..8 {
            assert!(writer.push(entry(&format!("f{f}"), 0)));
        }
        wait_for_rows(&sink, 8);
        assert!(
            started.elapsed() >= max_linger,
            "written after {:?}, before the batch was dense or the max linger was over",
            started.elapsed()
        );
        assert_eq!(*sink.batches.lock().unwrap(), vec![8]);
    }

    #[test]
    fn a_small_batch_does_not_gather_past_the_linger() {
        let sink = MemorySink::default();
        let writer = gathering_writer(&sink, Duration::from_secs(60));
        let started = Instant::now();
        // Spread over 3 functions, but below `sparse_min`: written after the 10 ms linger.
        for f in 0..3 {
            assert!(writer.push(entry(&format!("f{f}"), 0)));
        }
        wait_for_rows(&sink, 3);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a small batch waited {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_flush_cuts_a_sparse_batch_short() {
        let sink = MemorySink::default();
        let writer = gathering_writer(&sink, Duration::from_secs(60));
        for f in 0..16 {
            assert!(writer.push(entry(&format!("f{f}"), 0)));
        }
        let started = Instant::now();
        writer.flush().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "flush waited {:?}",
            started.elapsed()
        );
        assert_eq!(sink.rows.lock().unwrap().len(), 16);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let gate = Arc::new(Mutex::new(()));
        let sink = MemorySink {
            gate: Some(Arc::clone(&gate)),
            ..MemorySink::default()
        };
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                queue_capacity: 4,
                batch_size: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let held = gate.lock().unwrap();
        let accepted = (0..100).filter(|i| writer.push(entry("f", *i))).count();
        drop(held);
        writer.flush().unwrap();
        // At most the queue plus the one entry the worker holds can be accepted while blocked.
        assert!(accepted <= 4 + 2, "accepted {accepted}");
        let stats = writer.stats();
        assert_eq!(stats.dropped, 100 - accepted as u64);
        assert_eq!(stats.written, accepted as u64);
        assert_eq!(sink.rows.lock().unwrap().len(), accepted);
    }

    #[test]
    fn unwritten_entries_are_bounded_by_bytes_and_freed_once_written() {
        let gate = Arc::new(Mutex::new(()));
        let sink = MemorySink {
            gate: Some(Arc::clone(&gate)),
            ..MemorySink::default()
        };
        let long =
            |i: usize| LogEntry::new("f", LogLevel::Info, format!("{i:04}{}", "x".repeat(1020)));
        let budget = 10 * entry_bytes(&long(0));
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                queue_capacity: 1000,
                pending_bytes: budget,
                ..Default::default()
            },
        )
        .unwrap();
        // While the sink is held, entries taken into a batch still count: ten fit, whatever
        // the queue's capacity.
        let held = gate.lock().unwrap();
        let accepted = (0..100).filter(|i| writer.push(long(*i))).count();
        assert_eq!(accepted, 10);
        assert_eq!(writer.stats().dropped, 90);
        drop(held);
        writer.flush().unwrap();
        assert_eq!(sink.rows.lock().unwrap().len(), 10);
        // Written entries give their bytes back.
        assert_eq!(writer.counters.pending_bytes.load(Ordering::Relaxed), 0);
        assert_eq!((100..110).filter(|i| writer.push(long(*i))).count(), 10);
        writer.flush().unwrap();
        assert_eq!(writer.stats().written, 20);
        // One entry larger than the whole budget is still taken when nothing is pending.
        let tiny = LogWriter::spawn(
            MemorySink::default(),
            LogWriterConfig {
                pending_bytes: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(tiny.push(long(0)));
        tiny.flush().unwrap();
        assert_eq!(tiny.stats().written, 1);
    }

    #[test]
    fn retention_is_enforced_per_function() {
        let sink = MemorySink::default();
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                retention: 10,
                batch_size: 7,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..95 {
            writer.push(entry("a", i));
        }
        for i in 0..3 {
            writer.push(entry("b", i));
        }
        writer.flush().unwrap();
        let rows = sink.rows.lock().unwrap();
        let a: Vec<&str> = rows
            .iter()
            .filter(|e| e.function_id == "a")
            .map(|e| e.message.as_str())
            .collect();
        assert_eq!(a.len(), 10);
        assert_eq!(a.first(), Some(&"entry 85"));
        assert_eq!(a.last(), Some(&"entry 94"));
        assert_eq!(rows.iter().filter(|e| e.function_id == "b").count(), 3);
    }

    /// Between trims a function holds at most a quarter more than its retention (trims are
    /// batched: each costs reads of the function's oldest pages), and exactly its retention
    /// after a flush.
    #[test]
    fn stored_entries_stay_within_a_quarter_over_retention_between_trims() {
        let sink = MemorySink::default();
        let writer = LogWriter::spawn(
            sink.clone(),
            LogWriterConfig {
                retention: 100,
                batch_size: 3,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..1000 {
            while !writer.push(entry("a", i)) {
                std::thread::yield_now();
            }
        }
        writer.flush().unwrap();
        let peak = sink.peak.load(Ordering::SeqCst);
        assert!(
            peak <= 125,
            "{peak} rows stored between trims, retention 100"
        );
        // Batches of at most 3: at least 23 entries gather before the trim that takes the
        // function past 25 new ones.
        assert!(
            peak >= 122,
            "trimmed before a quarter of the retention (peak {peak})"
        );
        let rows = sink.rows.lock().unwrap();
        assert_eq!(rows.len(), 100);
        assert_eq!(rows.first().unwrap().message, "entry 900");
    }

    #[test]
    fn sink_failure_is_reported_by_flush_and_counted() {
        let sink = MemorySink::default();
        let writer = LogWriter::spawn(sink.clone(), LogWriterConfig::default()).unwrap();
        sink.fail.store(true, Ordering::SeqCst);
        writer.push(entry("f", 0));
        let err = writer.flush().unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert_eq!(writer.stats().failed, 1);
        sink.fail.store(false, Ordering::SeqCst);
        writer.push(entry("f", 1));
        writer.flush().unwrap();
        assert_eq!(sink.rows.lock().unwrap().len(), 1);
    }

    #[test]
    fn queued_entries_are_written_when_the_last_handle_drops() {
        let sink = MemorySink::default();
        let writer = LogWriter::spawn(sink.clone(), LogWriterConfig::default()).unwrap();
        for i in 0..20 {
            writer.clone().push(entry("f", i));
        }
        drop(writer);
        // No handle is left to flush with: wait for the thread to drain (bounded, so a
        // regression fails instead of hanging).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while sink.rows.lock().unwrap().len() < 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "queued entries were lost on drop"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(sink.rows.lock().unwrap().len(), 20);
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let mut m = "é".repeat(10); // 20 bytes
        truncate_message(&mut m, 8);
        assert!(m.len() <= 8, "{m}");
        assert!(m.ends_with('…'));
        assert_eq!(m, "éé…");
        let mut short = "ok".to_string();
        truncate_message(&mut short, 8);
        assert_eq!(short, "ok");
    }
}
