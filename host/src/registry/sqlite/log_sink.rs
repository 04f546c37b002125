//! The log writer's sink for the SQLite registry: one transaction per batch, retention by
//! deleting all but the newest entries of a function.
//!
//! The logs table is clustered on `(function_id, id)`. Two things keep the cost of an entry
//! independent of how many functions are logging (benches/RESULTS.md, "1,000 deployed
//! functions"): a batch's rows go in grouped by function, so consecutive inserts land on the
//! same page; and a trim deletes a function's oldest entries by walking only those, using a
//! count of the function's rows kept here, instead of walking its whole retained log from the
//! newest end to find the cut.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::super::RegistryError;
use super::super::logs::LogSink;
use super::checkpoint::Nudge;
use crate::model::{LogEntry, LogOutcome};

/// What the sink knows of one function's stored entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    /// Id of the function's oldest stored entry when `count` was last established. If the
    /// oldest entry is another one now, something else deleted entries (a delete of the
    /// function cascading to its logs) and `count` is recounted.
    oldest: i64,
    /// Entries stored.
    count: u64,
}

/// The log writer's SQLite sink: one transaction per batch.
pub(super) struct SqliteLogSink {
    /// The log writer thread's own connection (`synchronous=NORMAL`).
    conn: Connection,
    /// Row counts of the functions this sink has trimmed, valid as of the last commit.
    tallies: HashMap<String, Tally>,
    /// Asks for a checkpoint after each commit (the connection checkpoints nothing itself).
    checkpoint: Nudge,
}

impl SqliteLogSink {
    /// A sink writing through `conn`.
    pub(super) fn new(conn: Connection, checkpoint: Nudge) -> Self {
        Self {
            conn,
            tallies: HashMap::new(),
            checkpoint,
        }
    }

    /// Runs `work` in one write transaction. The tallies change with the transaction's rows,
    /// so when it does not commit they are all forgotten (and recounted when needed).
    fn in_transaction(
        &mut self,
        work: impl FnOnce(&Connection, &mut HashMap<String, Tally>) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let outcome = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            work(&tx, &mut self.tallies)?;
            tx.commit()?;
            self.checkpoint.nudge();
            Ok(())
        })();
        if outcome.is_err() {
            self.tallies.clear();
        }
        outcome
    }
}

impl LogSink for SqliteLogSink {
    fn write_batch(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        self.in_transaction(|tx, tallies| {
            insert_in(tx, tallies, entries)?;
            trim_in(tx, tallies, trim, keep)
        })
    }

    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
        self.in_transaction(|tx, tallies| trim_in(tx, tallies, function_ids, keep))
    }
}

/// Inserts `entries`, skipping those of functions that no longer exist.
fn insert_in(
    tx: &Connection,
    tallies: &mut HashMap<String, Tally>,
    entries: &[LogEntry],
) -> Result<(), RegistryError> {
    // Entries of a function deleted meanwhile are skipped, not a failed batch. Each function
    // is looked up once per batch rather than once per entry: the transaction holds the write
    // lock, so no delete can come between the check and the inserts. (That check is also why
    // this connection leaves foreign keys off.)
    let mut exists = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM functions WHERE id = ?1)")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs (function_id, id, ts, level, message, request_id, version, duration_ms, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    // Ids increase with insertion across processes: the counter is read and advanced under
    // the transaction's write lock.
    let mut seq: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'log_seq'", [], |row| {
        row.get(0)
    })?;
    let start = seq;
    // Ids follow the batch's order; the rows go in by function, so that consecutive inserts
    // land on the same page of the clustered table (with many busy functions a batch in
    // arrival order moved between cold pages on every insert).
    let mut order: Vec<(usize, i64)> = Vec::with_capacity(entries.len());
    let mut added: HashMap<&str, u64> = HashMap::new();
    for (index, e) in entries.iter().enumerate() {
        let id = e.function_id.as_str();
        let count = match added.get_mut(id) {
            Some(count) => count,
            None => {
                let present: bool = exists.query_row([id], |row| row.get(0))?;
                if !present {
                    tallies.remove(id);
                    continue;
                }
                added.entry(id).or_default()
            }
        };
        *count += 1;
        seq += 1;
        order.push((index, seq));
    }
    // Stable: each function's entries keep their order, and their increasing ids.
    order.sort_by(|a, b| entries[a.0].function_id.cmp(&entries[b.0].function_id));
    for (index, id) in order {
        let e = &entries[index];
        insert.execute(params![
            e.function_id,
            id,
            e.timestamp.as_millis(),
            e.level.rank(),
            e.message,
            e.request_id,
            e.version,
            e.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            e.outcome.map(LogOutcome::as_str),
        ])?;
    }
    if seq != start {
        tx.execute("UPDATE meta SET value = ?1 WHERE key = 'log_seq'", [seq])?;
    }
    for (id, n) in added {
        if let Some(tally) = tallies.get_mut(id) {
            tally.count += n;
        }
    }
    Ok(())
}

/// Deletes all but the newest `keep` entries of each function in `function_ids`.
fn trim_in(
    tx: &Connection,
    tallies: &mut HashMap<String, Tally>,
    function_ids: &[String],
    keep: usize,
) -> Result<(), RegistryError> {
    if function_ids.is_empty() {
        return Ok(());
    }
    let keep = keep.max(1) as u64;
    let mut oldest = tx.prepare_cached("SELECT min(id) FROM logs WHERE function_id = ?1")?;
    let mut count = tx.prepare_cached("SELECT count(*) FROM logs WHERE function_id = ?1")?;
    // The entry that becomes the oldest: `?2` entries after the current oldest.
    let mut cut = tx.prepare_cached(
        "SELECT id FROM logs WHERE function_id = ?1 ORDER BY id LIMIT 1 OFFSET ?2",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM logs WHERE function_id = ?1 AND id < ?2")?;
    let mut ids: Vec<&String> = function_ids.iter().collect();
    ids.sort();
    for id in ids {
        let first: Option<i64> = oldest.query_row([id], |row| row.get(0))?;
        let Some(first) = first else {
            tallies.remove(id.as_str());
            continue;
        };
        let stored = match tallies.get(id.as_str()) {
            Some(tally) if tally.oldest == first => tally.count,
            _ => count.query_row([id], |row| row.get::<_, i64>(0))? as u64,
        };
        if stored <= keep {
            tallies.insert(
                id.clone(),
                Tally {
                    oldest: first,
                    count: stored,
                },
            );
            continue;
        }
        let excess = stored - keep;
        let new_oldest: Option<i64> = cut
            .query_row(params![id, excess as i64], |row| row.get(0))
            .optional()?;
        let Some(new_oldest) = new_oldest else {
            // Fewer rows than counted: count again next time.
            tallies.remove(id.as_str());
            continue;
        };
        let deleted = delete.execute(params![id, new_oldest])? as u64;
        if deleted == excess {
            tallies.insert(
                id.clone(),
                Tally {
                    oldest: new_oldest,
                    count: keep,
                },
            );
        } else {
            tallies.remove(id.as_str());
        }
    }
    Ok(())
}
