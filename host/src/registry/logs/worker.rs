//! The log writer's thread: gathers queued entries into batches, hands them to the sink, and
//! trims each function's log to its retention (see the [module documentation](super)).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use super::{Command, Counters, LogSink, LogWriterConfig, TRIM_EVERY_DIVISOR, entry_bytes};
use crate::model::LogEntry;

/// The state of the writer thread.
pub(super) struct Worker<S: LogSink> {
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
    pub(super) fn new(
        sink: S,
        receiver: Receiver<Command>,
        counters: Arc<Counters>,
        config: &LogWriterConfig,
    ) -> Self {
        Worker {
            sink,
            receiver,
            counters,
            retention: config.retention.max(1),
            batch_size: config.batch_size.max(1),
            linger: config.linger,
            max_linger: config.max_linger,
            dense_per_function: config.dense_per_function.max(1),
            sparse_min: config.sparse_min.max(1),
            batch_functions: std::collections::HashSet::new(),
            trim_every: (config.retention / TRIM_EVERY_DIVISOR).max(1),
            since_trim: HashMap::new(),
        }
    }

    pub(super) fn run(mut self) {
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
