//! The log writer's sink for the SQLite registry: one transaction per batch, retention by
//! deleting all but the newest entries of a function.

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
    fn write_batch(&mut self, entries: &[LogEntry]) -> Result<(), RegistryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            // Entries of a function deleted meanwhile are skipped, not a failed batch.
            let mut stmt = tx.prepare_cached(
                "INSERT INTO logs (function_id, ts, level, message, request_id, version, duration_ms, outcome)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM functions WHERE id = ?1)",
            )?;
            for e in entries {
                stmt.execute(params![
                    e.function_id,
                    e.timestamp.as_millis(),
                    e.level.rank(),
                    e.message,
                    e.request_id,
                    e.version,
                    e.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                    e.outcome.map(LogOutcome::as_str),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM logs WHERE function_id = ?1 AND id < (
                     SELECT id FROM logs WHERE function_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?;
            for id in function_ids {
                stmt.execute(params![id, keep.max(1) as i64 - 1])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
