//! The PostgreSQL [`LogSink`]: each batch is one transaction of multi-row inserts (`unnest`
//! of arrays, one statement per batch) plus the batch's retention trims, on a connection of
//! the log writer thread's own, driven by a small runtime of its own (the thread is not a
//! tokio worker). A lost connection is reopened on the next batch.
//!
//! Retention with several hosts: a host trims a function only if it gets that function's
//! trim lock (`pg_try_advisory_xact_lock`) at once; when another host is trimming it, this
//! one skips it instead of queueing behind it (the other host's trim does the work).

use std::collections::HashSet;

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::model::{LogEntry, LogOutcome};
use crate::registry::RegistryError;
use crate::registry::logs::LogSink;

/// Entries held while the database is unreachable, written when it is back; beyond this the
/// oldest are dropped (and counted in the host's log).
const MAX_BACKLOG: usize = 100_000;

/// First half of each function's trim-lock key (`fdo_trim` hashed by PostgreSQL).
const TRIM_LOCK_SPACE: &str = "fdo.logs.trim";

pub(super) struct PgLogSink {
    config: tokio_postgres::Config,
    /// Built on the writer thread at first use (and dropped there).
    runtime: Option<tokio::runtime::Runtime>,
    client: Option<tokio_postgres::Client>,
    /// Entries of batches that could not be written because the database was unreachable,
    /// oldest first: written ahead of the next batch.
    backlog: Vec<LogEntry>,
}

impl PgLogSink {
    pub(super) fn new(config: tokio_postgres::Config) -> Self {
        PgLogSink {
            config,
            runtime: None,
            client: None,
            backlog: Vec::new(),
        }
    }

    /// Writes the backlog and `entries`, then the trims; while the database is unreachable
    /// the entries are held (up to [`MAX_BACKLOG`]) instead of dropped, so calls answered
    /// during an outage keep their log entries.
    fn run(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        let mut backlog = std::mem::take(&mut self.backlog);
        let batch: &[LogEntry] = if backlog.is_empty() {
            entries
        } else {
            backlog.extend_from_slice(entries);
            &backlog
        };
        match self.write_now(batch, trim, keep) {
            Err(RegistryError::Unreachable(why)) => {
                self.client = None;
                let mut held = batch.to_vec();
                if held.len() > MAX_BACKLOG {
                    let dropped = held.len() - MAX_BACKLOG;
                    held.drain(..dropped);
                    tracing::warn!(
                        dropped,
                        "log backlog full while the database is unreachable; oldest entries dropped"
                    );
                }
                tracing::debug!(held = held.len(), error = %why, "database unreachable; log entries held");
                self.backlog = held;
                Ok(())
            }
            other => other,
        }
    }

    /// Runs one transaction, retrying once when a function was deleted between the batch's
    /// existence check and its insert (the retry skips it).
    fn write_now(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        if self.runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| RegistryError::Io {
                    path: "<log writer runtime>".into(),
                    source,
                })?;
            self.runtime = Some(runtime);
        }
        let Some(runtime) = self.runtime.as_ref() else {
            unreachable!("built above")
        };
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let config = self.config.clone();
            let client = runtime.block_on(async move {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok::<_, RegistryError>(client)
            })?;
            self.client = Some(client);
        }
        let Some(client) = self.client.as_mut() else {
            unreachable!("connected above")
        };
        runtime.block_on(async {
            match write(client, entries, trim, keep).await {
                Err(RegistryError::Storage(e))
                    if e.downcast_ref::<tokio_postgres::Error>()
                        .and_then(|e| e.code())
                        == Some(&SqlState::FOREIGN_KEY_VIOLATION) =>
                {
                    write(client, entries, trim, keep).await
                }
                other => other,
            }
        })
    }
}

impl LogSink for PgLogSink {
    fn write_batch(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        self.run(entries, trim, keep)
    }

    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
        self.run(&[], function_ids, keep)
    }
}

/// One batch: the entries of functions that exist, then the trims, in one transaction.
async fn write(
    client: &mut tokio_postgres::Client,
    entries: &[LogEntry],
    trim: &[String],
    keep: usize,
) -> Result<(), RegistryError> {
    let tx = client.transaction().await?;
    if !entries.is_empty() {
        let mut function_ids = Vec::with_capacity(entries.len());
        let mut ts = Vec::with_capacity(entries.len());
        let mut levels = Vec::with_capacity(entries.len());
        let mut messages = Vec::with_capacity(entries.len());
        let mut request_ids = Vec::with_capacity(entries.len());
        let mut versions = Vec::with_capacity(entries.len());
        let mut durations = Vec::with_capacity(entries.len());
        let mut outcomes = Vec::with_capacity(entries.len());
        for e in entries {
            function_ids.push(e.function_id.as_str());
            ts.push(e.timestamp.as_millis());
            levels.push(e.level.rank() as i16);
            messages.push(e.message.as_str());
            request_ids.push(e.request_id.as_deref());
            versions.push(e.version.as_deref());
            durations.push(e.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)));
            outcomes.push(e.outcome.map(LogOutcome::as_str));
        }
        // Entries of functions that no longer exist are skipped, not fatal.
        tx.execute(
            "INSERT INTO logs (function_id, ts, level, message, request_id, version, duration_ms, outcome)
             SELECT t.function_id, t.ts, t.level, t.message, t.request_id, t.version, t.duration_ms, t.outcome
             FROM unnest($1::TEXT[], $2::BIGINT[], $3::SMALLINT[], $4::TEXT[], $5::TEXT[],
                                    $6::TEXT[], $7::BIGINT[], $8::TEXT[]) WITH ORDINALITY
                 AS t(function_id, ts, level, message, request_id, version, duration_ms, outcome, n)
             WHERE EXISTS (SELECT 1 FROM functions f WHERE f.id = t.function_id)
             ORDER BY t.n",
            &[
                &function_ids,
                &ts,
                &levels,
                &messages,
                &request_ids,
                &versions,
                &durations,
                &outcomes,
            ],
        )
        .await?;
    }
    let keep = keep.max(1) as i64;
    let mut seen = HashSet::new();
    for id in trim {
        if !seen.insert(id) {
            continue;
        }
        let claimed: bool = tx
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2))",
                &[&TRIM_LOCK_SPACE, id],
            )
            .await?
            .try_get(0)?;
        if !claimed {
            continue;
        }
        tx.execute(
            "DELETE FROM logs WHERE function_id = $1 AND id < (
                 SELECT id FROM logs WHERE function_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
            &[id, &(keep - 1)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
