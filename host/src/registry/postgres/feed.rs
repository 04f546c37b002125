//! Following the change feed: a connection of its own that `LISTEN`s on `fdo_changes`, and a
//! catch-up read of every change after the last one applied, on every notification, after
//! every (re)connection and on a periodic safety poll. A lost notification or a dropped
//! connection thus delays a change by at most the poll interval, never loses it.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::Inner;
use crate::registry::RegistryError;

/// How often a host prunes old change-feed rows.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Longest wait between two attempts to reconnect the listening connection.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs until the registry is dropped.
pub(super) async fn follow(inner: Weak<Inner>, config: tokio_postgres::Config, poll: Duration) {
    let mut backoff = Duration::from_millis(100);
    let mut pruned = tokio::time::Instant::now();
    loop {
        match listen(&config).await {
            Ok((client, mut notified)) => {
                backoff = Duration::from_millis(100);
                loop {
                    // After (re)connecting first: changes made while not listening.
                    let Some(registry) = inner.upgrade() else {
                        return;
                    };
                    if let Err(e) = registry.catch_up().await {
                        tracing::warn!(error = %e, "reading the change feed failed");
                    }
                    if pruned.elapsed() >= PRUNE_EVERY {
                        pruned = tokio::time::Instant::now();
                        if let Err(e) = registry.prune_changes().await {
                            tracing::debug!(error = %e, "pruning the change feed failed");
                        }
                    }
                    drop(registry);
                    tokio::select! {
                        n = notified.recv() => {
                            if n.is_none() {
                                break;
                            }
                            // One catch-up reads every change announced so far.
                            while notified.try_recv().is_ok() {}
                        }
                        () = tokio::time::sleep(poll) => {}
                    }
                }
                drop(client);
                tracing::warn!("the change feed connection was lost; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the change feed; retrying");
            }
        }
        if inner.strong_count() == 0 {
            return;
        }
        // Not listening: keep catching up by polling while reconnecting.
        if let Some(registry) = inner.upgrade() {
            let _ = registry.catch_up().await;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A connection listening on `fdo_changes` (keep the client: dropping it closes the
/// connection) and a channel that gets one message per notification and closes when the
/// connection ends.
async fn listen(
    config: &tokio_postgres::Config,
) -> Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<()>), RegistryError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "change feed connection ended");
                    return;
                }
            }
        }
    });
    client.batch_execute("LISTEN fdo_changes").await?;
    Ok((client, rx))
}
