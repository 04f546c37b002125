//! The shared [`Registry`]: PostgreSQL, for several hosts behind a load balancer
//! (`fdo serve --database postgres://...`).
//!
//! Everything lives in the database: functions, immutable versions, history, API keys, logs,
//! and the component bytes themselves (`components`, content-addressed `bytea`, verified
//! against the digest on every read). Hosts keep nothing but caches.
//!
//! - Schema: created and migrated at open under an advisory lock ([`schema`]).
//! - Writes: each in one transaction that first takes the *feed lock* (a transaction-level
//!   advisory lock), so writers are serialised, and appends a row to `changes` with
//!   `NOTIFY fdo_changes`; change sequence numbers are therefore in commit order.
//! - Caches: [`Registry::get_function`] and [`Registry::verify_key`] answer from memory once
//!   loaded. This host drops an entry right after its own commits; other hosts' changes reach
//!   it through the change feed ([`feed`]): a listening connection, and a catch-up read of
//!   every change after the last one seen on each notification, on every reconnect and on a
//!   periodic safety poll.
//! - Logs: one writer thread per host batches entries into multi-row inserts on a connection
//!   of its own ([`log_sink`]), off the request path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

mod feed;
mod log_sink;
mod rows;
mod schema;

use rows::{
    NAMESPACE_COLUMNS, VERSION_COLUMNS, function_from, function_select, insert_history,
    insert_version, load_function, load_history, load_keys, load_namespace, load_version,
    namespace_from, query_logs, require_function, version_at,
};
use tokio_postgres::types::Json;

use super::namespaces::{
    check_same_namespace, namespace_not_empty, patch_namespace, validate_namespace,
};
use crate::model::access::{DEFAULT_NAMESPACE, Privacy};
use crate::model::{
    NamespaceDeleteOutcome, NamespaceInfo, NamespacePatch, NamespaceRecord, NamespaceUpdate,
    NewKey, NewNamespace, PrivacyChange, TokenKey,
};
use crate::validate::ValidationError;

use super::keys::{StoredKey, new_key, verify_among};
use super::logs::{LogWriter, LogWriterConfig};
use super::versions::{check_redeploy, new_version};
use super::{AuthError, Change, Registry, RegistryError};
use crate::model::{
    ApiKeyRecord, ComponentRef, CreatedKey, DeleteOutcome, DeployOutcome, FunctionRecord, GcReport,
    HistoryAction, HistoryEntry, KeyInfo, LogQuery, LogRecord, Resource, RollbackOutcome,
    Timestamp, VersionRecord,
};
use crate::model::{DeployMetadata, Digest};

pub use schema::latest_version as latest_schema_version;

/// Connections in the pool of each host (the log writer and the feed have one more each).
pub const DEFAULT_POOL_SIZE: usize = 8;
/// How often a host reads the change feed even without a notification (a lost notification
/// or a dropped listening connection delays a change by at most this much).
pub const DEFAULT_CHANGE_POLL: Duration = Duration::from_secs(1);
/// How long opening a connection may take before the database counts as unreachable.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Advisory lock key every write transaction takes first (`fdo_feed` in ASCII): writes are
/// serialised, so `changes.seq` order is commit order and no host skips a change.
const FEED_LOCK: i64 = 0x6664_6f5f_6665_6564;

/// Options of [`PostgresRegistry::open`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections in the pool (at least 1).
    pub pool_size: usize,
    /// Safety poll of the change feed.
    pub change_poll: Duration,
    /// Log writer tuning, including per-function retention.
    pub logs: LogWriterConfig,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: DEFAULT_POOL_SIZE,
            change_poll: DEFAULT_CHANGE_POLL,
            logs: LogWriterConfig::default(),
        }
    }
}

/// What is cached, and the bookkeeping that keeps it coherent.
#[derive(Default)]
struct Cache {
    /// Bumped on every invalidation; a load started under an older epoch is not cached.
    epoch: u64,
    functions: HashMap<String, Arc<FunctionRecord>>,
    keys: Option<Arc<Vec<StoredKey>>>,
}

/// The PostgreSQL registry. Cloning is cheap (one shared state).
#[derive(Clone)]
pub struct PostgresRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `host:port/dbname`, for messages (never the password).
    shown: String,
    cache: RwLock<Cache>,
    /// The last change-feed sequence number applied to the cache.
    seen: AtomicI64,
    /// Serialises catch-up reads of the feed.
    catching_up: tokio::sync::Mutex<()>,
    log_writer: LogWriter,
    feed: Mutex<Option<tokio::task::AbortHandle>>,
    /// Other hosts' changes, for the host's own caches ([`Registry::changes`]).
    changes: tokio::sync::broadcast::Sender<Change>,
    /// Since when and why the database has been unreachable (set and cleared by the feed).
    down: Mutex<Option<(Timestamp, String)>>,
    /// Feed sequence numbers of this host's own writes (not announced to [`Self::changes`]).
    own: Mutex<std::collections::HashSet<i64>>,
    #[cfg(test)]
    deploy_hook: Mutex<Option<super::DeployHook>>,
}

impl std::fmt::Debug for PostgresRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRegistry")
            .field("database", &self.inner.shown)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(feed) = lock(&self.feed).take() {
            feed.abort();
        }
        // Write what is queued while the database is certainly still reachable.
        if let Err(e) = self.log_writer.flush() {
            tracing::warn!(error = %e, "flushing logs on close failed");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl From<tokio_postgres::Error> for RegistryError {
    fn from(e: tokio_postgres::Error) -> Self {
        let code = e.code().map(tokio_postgres::error::SqlState::code);
        // No SQLSTATE: the connection failed, not the statement; class 08 (connection
        // exception) and 57P (the server shutting down or not accepting connections yet)
        // are the database going away too.
        if code.is_none_or(|c| c.starts_with("08") || c.starts_with("57P")) {
            RegistryError::Unreachable(e.to_string())
        } else {
            RegistryError::Storage(Box::new(e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for RegistryError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => RegistryError::Unreachable(other.to_string()),
        }
    }
}

/// Parses a `postgres://` URL (or key=value string) into a driver configuration, with a
/// connect timeout unless it sets one.
pub fn parse_database_url(url: &str) -> Result<tokio_postgres::Config, RegistryError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| RegistryError::Unavailable(format!("invalid database URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("fdo");
    }
    Ok(config)
}

/// `host:port/dbname` of a configuration, for messages.
pub(super) fn shown(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// One connection outside the pool, its driver task on the current runtime.
async fn connect(config: &tokio_postgres::Config) -> Result<tokio_postgres::Client, RegistryError> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection ended");
        }
    });
    Ok(client)
}

fn not_found(resource: Resource, id: &str) -> RegistryError {
    RegistryError::NotFound {
        resource,
        id: id.to_owned(),
    }
}

/// Takes the feed lock inside a write transaction (see [`FEED_LOCK`]).
async fn lock_feed(tx: &tokio_postgres::Transaction<'_>) -> Result<(), RegistryError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])
        .await?;
    Ok(())
}

/// How long change-feed rows are kept (hosts read them within a second; one away for longer
/// drops everything it caches when it is back).
pub const CHANGE_RETENTION: Duration = Duration::from_secs(3600);

/// Capacity of the channel of other hosts' changes (a lagging receiver drops everything).
const CHANGE_CHANNEL: usize = 1024;

impl Inner {
    /// Appends a change-feed row and announces it (delivered at commit); remembered as this
    /// host's own, so the feed does not report it back as another host's.
    async fn record_change(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        kind: &str,
        key: &str,
    ) -> Result<(), RegistryError> {
        let seq: i64 = tx
            .query_one(
                "WITH c AS (INSERT INTO changes (kind, key, at) VALUES ($1, $2, $3) RETURNING seq)
                 SELECT seq, pg_notify('fdo_changes', seq::text) FROM c",
                &[&kind, &key, &Timestamp::now().as_millis()],
            )
            .await?
            .try_get(0)?;
        lock(&self.own).insert(seq);
        Ok(())
    }
}

impl PostgresRegistry {
    /// Connects to the database at `url`, creates or migrates its schema (refusing a newer
    /// one), and starts following its change feed and the log writer.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<Self, RegistryError> {
        let config = parse_database_url(url)?;
        let shown = shown(&config);
        let mut client = connect(&config).await?;
        schema::migrate(&mut client).await?;
        let seen: i64 = client
            .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
            .await?
            .try_get(0)?;
        drop(client);

        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(DEFAULT_CONNECT_TIMEOUT))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| RegistryError::Unavailable(format!("database pool: {e}")))?;
        let log_writer = LogWriter::spawn(log_sink::PgLogSink::new(config.clone()), options.logs)?;
        let inner = Arc::new(Inner {
            pool,
            shown,
            cache: RwLock::new(Cache::default()),
            seen: AtomicI64::new(seen),
            catching_up: tokio::sync::Mutex::new(()),
            log_writer,
            feed: Mutex::new(None),
            changes: tokio::sync::broadcast::channel(CHANGE_CHANNEL).0,
            own: Mutex::default(),
            down: Mutex::new(None),
            #[cfg(test)]
            deploy_hook: Mutex::new(None),
        });
        let follower = tokio::spawn(feed::follow(
            Arc::downgrade(&inner),
            config,
            options.change_poll,
        ));
        *lock(&inner.feed) = Some(follower.abort_handle());
        Ok(PostgresRegistry { inner })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, RegistryError> {
        Ok(self.inner.pool.get().await?)
    }
}

impl Inner {
    fn cache_read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops what a change of `kind` to `key` makes stale. Unknown kinds (a newer host's)
    /// drop everything.
    fn invalidate(&self, kind: &str, key: &str) {
        let mut cache = self.cache_write();
        cache.epoch += 1;
        match kind {
            "function" => {
                cache.functions.remove(key);
            }
            "key" => cache.keys = None,
            _ => {
                cache.functions.clear();
                cache.keys = None;
            }
        }
    }

    fn invalidate_all(&self) {
        self.invalidate("*", "");
    }

    /// Reads and applies every change after the last one seen, and records whether the
    /// database answered (see [`Registry::health`]). After an outage everything cached is
    /// dropped: what was missed is re-read, not trusted.
    async fn catch_up(&self) -> Result<usize, RegistryError> {
        let _one_at_a_time = self.catching_up.lock().await;
        let outcome = self.read_changes().await;
        match &outcome {
            Err(RegistryError::Unreachable(why)) => {
                let mut down = lock(&self.down);
                if down.is_none() {
                    tracing::error!(database = %self.shown, error = %why, "the database is unreachable: writes are refused, loaded functions keep serving");
                    *down = Some((Timestamp::now(), why.clone()));
                }
            }
            _ => {
                if lock(&self.down).take().is_some() {
                    tracing::warn!(database = %self.shown, "the database is back");
                    self.invalidate_all();
                    let _ = self.changes.send(Change::Unknown {
                        kind: "reconnected".into(),
                        key: String::new(),
                    });
                }
            }
        }
        outcome
    }

    /// Deletes change-feed rows older than [`CHANGE_RETENTION`] (any host may; it is
    /// idempotent).
    async fn prune_changes(&self) -> Result<u64, RegistryError> {
        let cutoff = Timestamp::now().as_millis() - CHANGE_RETENTION.as_millis() as i64;
        let client = self.pool.get().await?;
        Ok(client
            .execute("DELETE FROM changes WHERE at < $1", &[&cutoff])
            .await?)
    }

    async fn read_changes(&self) -> Result<usize, RegistryError> {
        let after = self.seen.load(Ordering::Acquire);
        let client = self.pool.get().await?;
        // The oldest change still kept tells whether pruning removed some this host never
        // read (it was away for longer than CHANGE_RETENTION): then everything is dropped.
        let rows = client
            .query(
                "SELECT seq, kind, key, (SELECT min(seq) FROM changes) FROM changes
                 WHERE seq > $1 ORDER BY seq",
                &[&after],
            )
            .await?;
        if let Some(first) = rows.first() {
            let oldest: i64 = first.try_get(3)?;
            if oldest > after + 1 && after > 0 {
                tracing::warn!(
                    last_seen = after,
                    oldest_kept = oldest,
                    "changes this host never read were pruned; dropping every cached record"
                );
                self.invalidate_all();
                let _ = self.changes.send(Change::Unknown {
                    kind: "pruned".into(),
                    key: String::new(),
                });
            }
        }
        for row in &rows {
            let (seq, kind, key): (i64, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            self.invalidate(&kind, &key);
            self.seen.store(seq, Ordering::Release);
            if !lock(&self.own).remove(&seq) {
                // Nobody listening is fine: the host may not follow changes.
                let _ = self.changes.send(Change::from_feed(&kind, &key));
            }
        }
        Ok(rows.len())
    }
}

impl PostgresRegistry {
    /// Inserts a key; with `only_first`, only if the store holds none (checked under the
    /// feed lock, so hosts starting at once create one between them).
    async fn insert_key(
        &self,
        key: NewKey,
        only_first: bool,
    ) -> Result<Option<CreatedKey>, RegistryError> {
        let (record, plaintext, hash) = new_key(key)?;
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        if only_first {
            let keys: i64 = tx
                .query_one("SELECT count(*) FROM api_keys", &[])
                .await?
                .try_get(0)?;
            if keys > 0 {
                return Ok(None);
            }
        }
        let list = record.namespaces.as_list();
        for ns in list.iter().flatten() {
            if load_namespace(&tx, ns).await?.is_none() {
                return Err(not_found(Resource::Namespace, ns));
            }
        }
        tx.execute(
            "INSERT INTO api_keys (id, name, prefix, hash, created_at, expires_at, role, namespaces) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &record.id,
                &record.name,
                &record.prefix,
                &hash.as_slice(),
                &record.created_at.as_millis(),
                &record.expires_at.map(Timestamp::as_millis),
                &record.role.as_str(),
                &list.map(Json),
            ],
        )
        .await?;
        self.inner.record_change(&tx, "key", &record.id).await?;
        tx.commit().await?;
        self.inner.invalidate("key", &record.id);
        Ok(Some(CreatedKey {
            record,
            key: plaintext,
        }))
    }

    /// Idempotent redeploy or conflict, for an `(id, version)` that already exists.
    async fn existing_version_outcome(
        &self,
        client: &tokio_postgres::Client,
        existing: VersionRecord,
        metadata: &DeployMetadata,
        component: &[u8],
        digest: &Digest,
    ) -> Result<DeployOutcome, RegistryError> {
        check_redeploy(&existing, metadata, digest)?;
        if let Some(current) = load_function(client, metadata.id()).await? {
            check_same_namespace(&current.namespace, metadata)?;
        }
        // Same bytes: make sure they are stored intact (this heals damaged or missing ones).
        let hex = digest.to_hex();
        let intact: Option<bool> = client
            .query_opt(
                "SELECT sha256(bytes) = decode(digest, 'hex') FROM components WHERE digest = $1",
                &[&hex],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let size = component.len() as i64;
        match intact {
            Some(true) => {}
            Some(false) => {
                tracing::warn!(digest = %hex, "stored component bytes did not match their digest; repaired by a redeploy");
                client
                    .execute(
                        "UPDATE components SET bytes = $2, size = $3 WHERE digest = $1",
                        &[&hex, &component, &size],
                    )
                    .await?;
            }
            None => {
                client
                    .execute(
                        "INSERT INTO components (digest, size, bytes, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (digest) DO NOTHING",
                        &[&hex, &size, &component, &Timestamp::now().as_millis()],
                    )
                    .await?;
            }
        }
        let function = load_function(client, metadata.id())
            .await?
            .ok_or_else(|| not_found(Resource::Function, metadata.id()))?;
        Ok(DeployOutcome {
            function: Arc::new(function),
            version: existing,
            created: false,
            previous: None,
        })
    }

    /// The cached keys, loaded on first use.
    async fn cached_keys(&self) -> Result<Arc<Vec<StoredKey>>, RegistryError> {
        let epoch = {
            let cache = self.inner.cache_read();
            if let Some(keys) = &cache.keys {
                return Ok(Arc::clone(keys));
            }
            cache.epoch
        };
        let client = self.client().await?;
        let keys = Arc::new(load_keys(&**client).await?);
        let mut cache = self.inner.cache_write();
        if cache.epoch == epoch {
            cache.keys = Some(Arc::clone(&keys));
        }
        Ok(keys)
    }
}

#[async_trait::async_trait]
impl Registry for PostgresRegistry {
    async fn deploy(
        &self,
        metadata: DeployMetadata,
        component: Arc<Vec<u8>>,
    ) -> Result<DeployOutcome, RegistryError> {
        let digest = Digest::of(&component);
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        if let Some(existing) = load_version(client, metadata.id(), metadata.version()).await? {
            return self
                .existing_version_outcome(client, existing, &metadata, &component, &digest)
                .await;
        }
        let now = Timestamp::now();
        let record = new_version(
            &metadata,
            ComponentRef {
                digest,
                size: component.len() as u64,
            },
            now,
        );
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        if let Some(existing) = load_version(&tx, metadata.id(), metadata.version()).await? {
            // Another host deployed it between our check and our lock.
            tx.rollback().await?;
            return self
                .existing_version_outcome(client, existing, &metadata, &component, &digest)
                .await;
        }
        let hex = digest.to_hex();
        let stored = tx
            .query_opt("SELECT 1 FROM components WHERE digest = $1", &[&hex])
            .await?
            .is_some();
        if !stored {
            tx.execute(
                "INSERT INTO components (digest, size, bytes, created_at) VALUES ($1, $2, $3, $4)",
                &[
                    &hex,
                    &(component.len() as i64),
                    &component.as_slice(),
                    &now.as_millis(),
                ],
            )
            .await?;
        }
        let existing = tx
            .query_opt(
                "SELECT active_version, namespace, privacy FROM functions WHERE id = $1",
                &[&metadata.id()],
            )
            .await?;
        let (previous, namespace, old_privacy) = match existing {
            Some(row) => {
                let namespace: String = row.try_get(1)?;
                check_same_namespace(&namespace, &metadata)?;
                let privacy: String = row.try_get(2)?;
                let privacy = privacy.parse::<Privacy>().map_err(|_| {
                    RegistryError::Corrupt(format!("function {}: bad privacy", metadata.id()))
                })?;
                (Some(row.try_get::<_, String>(0)?), namespace, Some(privacy))
            }
            None => {
                let namespace = metadata.namespace().unwrap_or(DEFAULT_NAMESPACE).to_owned();
                if load_namespace(&tx, &namespace).await?.is_none() {
                    return Err(not_found(Resource::Namespace, &namespace));
                }
                (None, namespace, None)
            }
        };
        let privacy = metadata.privacy().or(old_privacy).unwrap_or_default();
        let created_at: i64 = tx
            .query_one(
                "INSERT INTO functions (id, active_version, created_at, updated_at, namespace, privacy) VALUES ($1, $2, $3, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET active_version = excluded.active_version, updated_at = excluded.updated_at,
                     privacy = excluded.privacy
                 RETURNING created_at",
                &[&metadata.id(), &metadata.version(), &now.as_millis(), &namespace, &privacy.as_str()],
            )
            .await?
            .try_get(0)?;
        insert_version(&tx, &record).await?;
        #[cfg(test)]
        if let Some(hook) = lock(&self.inner.deploy_hook).as_ref() {
            hook()?;
        }
        insert_history(
            &tx,
            metadata.id(),
            metadata.version(),
            HistoryAction::Deploy,
            previous.as_deref(),
            None,
            now,
        )
        .await?;
        if let Some(old) = old_privacy
            && old != privacy
        {
            insert_history(
                &tx,
                metadata.id(),
                metadata.version(),
                HistoryAction::Privacy,
                None,
                Some(&format!("{old} -> {privacy}")),
                now,
            )
            .await?;
        }
        self.inner
            .record_change(&tx, "function", metadata.id())
            .await?;
        tx.commit().await?;
        self.inner.invalidate("function", metadata.id());
        Ok(DeployOutcome {
            function: Arc::new(FunctionRecord {
                id: metadata.id().to_owned(),
                created_at: Timestamp::from_millis(created_at),
                updated_at: now,
                namespace,
                privacy,
                active: record.clone(),
            }),
            version: record,
            created: true,
            previous,
        })
    }

    async fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError> {
        let epoch = {
            let cache = self.inner.cache_read();
            if let Some(function) = cache.functions.get(id) {
                return Ok(Arc::clone(function));
            }
            cache.epoch
        };
        let client = self.client().await?;
        let function = load_function(&**client, id)
            .await?
            .ok_or_else(|| not_found(Resource::Function, id))?;
        let function = Arc::new(function);
        let mut cache = self.inner.cache_write();
        if cache.epoch == epoch {
            cache.functions.insert(id.to_owned(), Arc::clone(&function));
        }
        Ok(function)
    }

    async fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError> {
        let client = self.client().await?;
        let sql = format!("{} ORDER BY f.id", function_select());
        let rows = client.query(&sql, &[]).await?;
        rows.iter()
            .map(|row| Ok(Arc::new(function_from(row)?)))
            .collect()
    }

    async fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError> {
        let client = self.client().await?;
        match load_version(&**client, id, version).await? {
            Some(record) => Ok(record),
            None => {
                require_function(&**client, id).await?;
                Err(not_found(Resource::Version, &format!("{id}@{version}")))
            }
        }
    }

    async fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        let client = self.client().await?;
        require_function(&**client, id).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.function_id = $1 ORDER BY v.seq"
        );
        let rows = client.query(&sql, &[&id]).await?;
        rows.iter().map(|row| version_at(row, 0)).collect()
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError> {
        let client = self.client().await?;
        require_function(&**client, id).await?;
        load_history(&**client, id).await
    }

    async fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let now = Timestamp::now();
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let previous: String = tx
            .query_opt("SELECT active_version FROM functions WHERE id = $1", &[&id])
            .await?
            .ok_or_else(|| not_found(Resource::Function, id))?
            .try_get(0)?;
        if load_version(&tx, id, version).await?.is_none() {
            return Err(not_found(Resource::Version, &format!("{id}@{version}")));
        }
        tx.execute(
            "UPDATE functions SET active_version = $2, updated_at = $3 WHERE id = $1",
            &[&id, &version, &now.as_millis()],
        )
        .await?;
        insert_history(
            &tx,
            id,
            version,
            HistoryAction::Rollback,
            Some(&previous),
            None,
            now,
        )
        .await?;
        self.inner.record_change(&tx, "function", id).await?;
        let function = load_function(&tx, id)
            .await?
            .ok_or_else(|| not_found(Resource::Function, id))?;
        tx.commit().await?;
        self.inner.invalidate("function", id);
        Ok(RollbackOutcome {
            function: Arc::new(function),
            previous,
        })
    }

    async fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let digests: Vec<String> = tx
            .query(
                "SELECT DISTINCT component_digest FROM versions WHERE function_id = $1",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        let versions_removed: i64 = tx
            .query_one(
                "SELECT count(*) FROM versions WHERE function_id = $1",
                &[&id],
            )
            .await?
            .try_get(0)?;
        // Versions, history and logs go with it (ON DELETE CASCADE).
        if tx
            .execute("DELETE FROM functions WHERE id = $1", &[&id])
            .await?
            == 0
        {
            return Err(not_found(Resource::Function, id));
        }
        // Components are shared by content: remove only those no version references now.
        // Deploys take the feed lock too, so none can start referencing one meanwhile.
        let components_removed = tx
            .execute(
                "DELETE FROM components c WHERE c.digest = ANY($1)
                 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.component_digest = c.digest)",
                &[&digests],
            )
            .await?;
        self.inner.record_change(&tx, "function", id).await?;
        tx.commit().await?;
        self.inner.invalidate("function", id);
        Ok(DeleteOutcome {
            id: id.to_owned(),
            versions_removed: versions_removed as usize,
            components_removed: components_removed as usize,
        })
    }

    async fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let client = self.client().await?;
        let hex = digest.to_hex();
        let bytes: Vec<u8> = client
            .query_opt("SELECT bytes FROM components WHERE digest = $1", &[&hex])
            .await?
            .ok_or_else(|| not_found(Resource::Component, &hex))?
            .try_get(0)?;
        if Digest::of(&bytes) != *digest {
            return Err(RegistryError::Corrupt(format!(
                "component {hex}: stored bytes do not match their digest"
            )));
        }
        Ok(bytes)
    }

    async fn gc_components(&self) -> Result<GcReport, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let removed = tx
            .execute(
                "DELETE FROM components c
                 WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.component_digest = c.digest)",
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(GcReport {
            components_removed: removed as usize,
            temp_files_removed: 0,
        })
    }

    async fn create_key(&self, key: NewKey) -> Result<CreatedKey, RegistryError> {
        let created = self.insert_key(key, false).await?;
        created.ok_or_else(|| RegistryError::Unavailable("key not created".into()))
    }

    async fn create_first_key(&self, name: &str) -> Result<Option<CreatedKey>, RegistryError> {
        self.insert_key(NewKey::admin(name, None), true).await
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError> {
        let client = self.client().await?;
        Ok(load_keys(&**client)
            .await?
            .into_iter()
            .map(|k| k.record)
            .collect())
    }

    async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                &[&id, &Timestamp::now().as_millis()],
            )
            .await?;
        if changed == 0 {
            return Err(not_found(Resource::ApiKey, id));
        }
        self.inner.record_change(&tx, "key", id).await?;
        let keys = load_keys(&tx).await?;
        tx.commit().await?;
        self.inner.invalidate("key", id);
        keys.into_iter()
            .map(|k| k.record)
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(Resource::ApiKey, id))
    }

    async fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError> {
        if matches!(presented, None | Some("")) {
            return Err(AuthError::Missing);
        }
        let keys = self.cached_keys().await?;
        verify_among(&keys, presented)
    }

    async fn set_privacy(
        &self,
        id: &str,
        privacy: Privacy,
    ) -> Result<PrivacyChange, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let row = tx
            .query_opt(
                "SELECT active_version, privacy FROM functions WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
            .ok_or_else(|| not_found(Resource::Function, id))?;
        let active: String = row.try_get(0)?;
        let previous: String = row.try_get(1)?;
        let previous: Privacy = previous
            .parse()
            .map_err(|_| RegistryError::Corrupt(format!("function {id}: bad privacy")))?;
        if previous != privacy {
            tx.execute(
                "UPDATE functions SET privacy = $2 WHERE id = $1",
                &[&id, &privacy.as_str()],
            )
            .await?;
            let detail = format!("{previous} -> {privacy}");
            insert_history(
                &tx,
                id,
                &active,
                HistoryAction::Privacy,
                None,
                Some(&detail),
                Timestamp::now(),
            )
            .await?;
            self.inner.record_change(&tx, "function", id).await?;
        }
        let function = load_function(&tx, id)
            .await?
            .ok_or_else(|| not_found(Resource::Function, id))?;
        tx.commit().await?;
        self.inner.invalidate("function", id);
        Ok(PrivacyChange {
            function: Arc::new(function),
            previous,
        })
    }

    async fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, RegistryError> {
        validate_namespace(
            &namespace.name,
            &namespace.description,
            &namespace.env,
            &namespace.secrets,
        )?;
        let now = Timestamp::now();
        let record = NamespaceRecord {
            name: namespace.name,
            description: namespace.description,
            env: namespace.env,
            secrets: namespace.secrets,
            token_key: TokenKey::generate(),
            created_at: now,
            updated_at: now,
        };
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let inserted = tx
            .execute(
                "INSERT INTO namespaces (name, description, env, secrets, token_key, token_key_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO NOTHING",
                &[
                    &record.name,
                    &record.description,
                    &Json(&record.env),
                    &Json(record.secrets.as_map()),
                    &record.token_key.seed.as_slice(),
                    &record.token_key.id,
                    &now.as_millis(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(RegistryError::Conflict(format!(
                "namespace {} already exists",
                record.name
            )));
        }
        self.inner
            .record_change(&tx, "namespace", &record.name)
            .await?;
        tx.commit().await?;
        Ok(Arc::new(record))
    }

    async fn get_namespace(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        let client = self.client().await?;
        load_namespace(&**client, name)
            .await?
            .map(Arc::new)
            .ok_or_else(|| not_found(Resource::Namespace, name))
    }

    async fn list_namespaces(&self) -> Result<Vec<NamespaceInfo>, RegistryError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {NAMESPACE_COLUMNS}, (SELECT count(*) FROM functions f WHERE f.namespace = n.name)
             FROM namespaces n ORDER BY name"
        );
        client
            .query(&sql, &[])
            .await?
            .iter()
            .map(|row| {
                Ok(NamespaceInfo {
                    record: Arc::new(namespace_from(row)?),
                    function_count: usize::try_from(row.try_get::<_, i64>(8)?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, RegistryError> {
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let current = load_namespace(&tx, name)
            .await?
            .ok_or_else(|| not_found(Resource::Namespace, name))?;
        let (record, detail) = patch_namespace(current, patch)?;
        let now = record.updated_at;
        tx.execute(
            "UPDATE namespaces SET description = $2, env = $3, secrets = $4, updated_at = $5 WHERE name = $1",
            &[
                &name,
                &record.description,
                &Json(&record.env),
                &Json(record.secrets.as_map()),
                &now.as_millis(),
            ],
        )
        .await?;
        let mut functions = Vec::new();
        if let Some(detail) = &detail {
            let members = tx
                .query(
                    "SELECT id, active_version FROM functions WHERE namespace = $1 ORDER BY id",
                    &[&name],
                )
                .await?;
            for row in &members {
                let (id, version): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                insert_history(
                    &tx,
                    &id,
                    &version,
                    HistoryAction::Namespace,
                    None,
                    Some(detail),
                    now,
                )
                .await?;
                functions.push(id);
            }
        }
        self.inner.record_change(&tx, "namespace", name).await?;
        tx.commit().await?;
        Ok(NamespaceUpdate {
            record: Arc::new(record),
            functions,
            detail,
        })
    }

    async fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, RegistryError> {
        if name == DEFAULT_NAMESPACE {
            return Err(ValidationError::new(
                "name",
                name,
                "The default namespace cannot be deleted",
            )
            .into());
        }
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        if load_namespace(&tx, name).await?.is_none() {
            return Err(not_found(Resource::Namespace, name));
        }
        let functions: Vec<String> = tx
            .query(
                "SELECT id FROM functions WHERE namespace = $1 ORDER BY id",
                &[&name],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        if !functions.is_empty() && !cascade {
            return Err(RegistryError::Conflict(namespace_not_empty(
                name, &functions,
            )));
        }
        let digests: Vec<String> = tx
            .query(
                "SELECT DISTINCT v.component_digest FROM versions v JOIN functions f ON f.id = v.function_id
                 WHERE f.namespace = $1",
                &[&name],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        // Versions, history and logs go with the functions (ON DELETE CASCADE).
        tx.execute("DELETE FROM functions WHERE namespace = $1", &[&name])
            .await?;
        tx.execute("DELETE FROM namespaces WHERE name = $1", &[&name])
            .await?;
        let components_removed = tx
            .execute(
                "DELETE FROM components c WHERE c.digest = ANY($1)
                 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.component_digest = c.digest)",
                &[&digests],
            )
            .await?;
        for id in &functions {
            self.inner.record_change(&tx, "function", id).await?;
        }
        self.inner.record_change(&tx, "namespace", name).await?;
        tx.commit().await?;
        for id in &functions {
            self.inner.invalidate("function", id);
        }
        Ok(NamespaceDeleteOutcome {
            name: name.to_owned(),
            functions,
            components_removed: components_removed as usize,
        })
    }

    async fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        let key = TokenKey::generate();
        let mut client = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut client;
        let tx = client.transaction().await?;
        lock_feed(&tx).await?;
        let changed = tx
            .execute(
                "UPDATE namespaces SET token_key = $2, token_key_id = $3, updated_at = $4 WHERE name = $1",
                &[&name, &key.seed.as_slice(), &key.id, &Timestamp::now().as_millis()],
            )
            .await?;
        if changed == 0 {
            return Err(not_found(Resource::Namespace, name));
        }
        self.inner.record_change(&tx, "token-key", name).await?;
        let record = load_namespace(&tx, name)
            .await?
            .ok_or_else(|| not_found(Resource::Namespace, name))?;
        tx.commit().await?;
        Ok(Arc::new(record))
    }

    fn log_writer(&self) -> LogWriter {
        self.inner.log_writer.clone()
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError> {
        let client = self.client().await?;
        require_function(&**client, &query.function_id).await?;
        query_logs(&**client, query).await
    }

    #[cfg(test)]
    async fn refresh(&self) -> Result<(), RegistryError> {
        self.inner.catch_up().await?;
        self.inner.invalidate_all();
        Ok(())
    }

    async fn read_artifact(
        &self,
        digest: &Digest,
        engine_key: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT sha256, bytes FROM artifacts WHERE digest = $1 AND engine_key = $2",
                &[&digest.to_hex(), &engine_key],
            )
            .await?
        else {
            return Ok(None);
        };
        let (sha, bytes): (Vec<u8>, Vec<u8>) = (row.try_get(0)?, row.try_get(1)?);
        if Digest::of(&bytes).as_bytes().as_slice() != sha.as_slice() {
            return Err(RegistryError::Corrupt(format!(
                "artifact of component {} for engine {engine_key}: bytes do not match their hash",
                digest.to_hex()
            )));
        }
        Ok(Some(bytes))
    }

    async fn store_artifact(
        &self,
        digest: &Digest,
        engine_key: &str,
        artifact: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let client = self.client().await?;
        let sha = Digest::of(&artifact);
        client
            .execute(
                "INSERT INTO artifacts (digest, engine_key, sha256, bytes, created_at)
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM components WHERE digest = $1)
                 ON CONFLICT (digest, engine_key) DO NOTHING",
                &[
                    &digest.to_hex(),
                    &engine_key,
                    &sha.as_bytes().as_slice(),
                    &artifact,
                    &Timestamp::now().as_millis(),
                ],
            )
            .await?;
        Ok(())
    }

    fn health(&self) -> Option<String> {
        lock(&self.inner.down).as_ref().map(|(since, why)| {
            format!(
                "database {} unreachable since {}: {why}",
                self.inner.shown,
                since.to_iso8601()
            )
        })
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        Some(self.inner.changes.subscribe())
    }

    #[cfg(test)]
    fn set_deploy_hook(&self, hook: Option<super::DeployHook>) {
        *lock(&self.inner.deploy_hook) = hook;
    }
}
