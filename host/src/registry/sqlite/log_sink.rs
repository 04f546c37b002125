//! The log writer's sink for the SQLite registry: one transaction per batch, retention by
//! deleting all but the newest entries of a function.

use std::collections::HashMap;

use rusqlite::{Connection, TransactionBehavior, params};

use super::super::RegistryError;
use super::super::logs::LogSink;
use super::super::types::{LogEntry, LogOutcome};

/// The log writer's SQLite sink: one transaction per batch.
pub(super) struct SqliteLogSink {
    /// The log writer thread's own connection (`synchronous=NORMAL`).
    pub(super) conn: Connection,
}

impl LogSink for SqliteLogSink {
    fn write_batch(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            // Entries of a function deleted meanwhile are skipped, not a failed batch. Each
            // function is looked up once per batch rather than once per entry: the transaction
            // holds the write lock, so no delete can come between the check and the inserts.
            // (That check is also why this connection leaves foreign keys off.)
            let mut exists =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM functions WHERE id = ?1)")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO logs (function_id, id, ts, level, message, request_id, version, duration_ms, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            // Ids increase with insertion across processes: the counter is read and advanced
            // under the transaction's write lock.
            let mut seq: i64 =
                tx.query_row("SELECT value FROM meta WHERE key = 'log_seq'", [], |row| {
                    row.get(0)
                })?;
            let start = seq;
            let mut known: HashMap<&str, bool> = HashMap::new();
            for e in entries {
                let id = e.function_id.as_str();
                let present = match known.get(id) {
                    Some(&present) => present,
                    None => {
                        let present: bool = exists.query_row([id], |row| row.get(0))?;
                        known.insert(id, present);
                        present
                    }
                };
                if !present {
                    continue;
                }
                seq += 1;
                insert.execute(params![
                    e.function_id,
                    seq,
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
        }
        trim_in(&tx, trim, keep)?;
        tx.commit()?;
        Ok(())
    }

    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        trim_in(&tx, function_ids, keep)?;
        tx.commit()?;
        Ok(())
    }
}

/// Deletes all but the newest `keep` entries of each function in `function_ids`.
fn trim_in(conn: &Connection, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
    if function_ids.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "DELETE FROM logs WHERE function_id = ?1 AND id < (
             SELECT id FROM logs WHERE function_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?;
    for id in function_ids {
        stmt.execute(params![id, keep.max(1) as i64 - 1])?;
    }
    Ok(())
}
