//! Row-level SQL of the PostgreSQL registry: reading versions, functions, history, keys and
//! logs out of rows (a row that does not decode is `Corrupt`, never a panic).

use std::collections::BTreeMap;

use tokio_postgres::types::Json;
use tokio_postgres::{GenericClient, Row};

use crate::model::access::{Namespaces, Role};
use crate::model::{
    ApiKeyRecord, ComponentRef, Digest, FunctionRecord, HistoryAction, HistoryEntry, Interface,
    InvalidDigest, Language, LevelFilter, Limits, LogEntry, LogLevel, LogOrder, LogOutcome,
    LogQuery, LogRecord, NamespaceRecord, Resource, Secrets, Timestamp, TokenKey, VersionRecord,
};
use crate::registry::RegistryError;
use crate::registry::keys::StoredKey;
use crate::validate::ValidationError;

/// Columns of a version row, in the order [`version_at`] reads them (alias `v`).
pub(super) const VERSION_COLUMNS: &str = "v.function_id, v.version, v.language, v.entry_point, v.dependencies, \
    v.component_digest, v.component_size, v.memory_mb, v.timeout_ms, v.max_concurrency, v.env, v.secrets, \
    v.allowed_hosts, v.created_at, v.interface";

/// A function joined with its active version (the `SELECT ... FROM` part).
pub(super) fn function_select() -> String {
    format!(
        "SELECT f.id, f.created_at, f.updated_at, f.namespace, f.privacy, {VERSION_COLUMNS}
         FROM functions f JOIN versions v ON v.function_id = f.id AND v.version = f.active_version"
    )
}

fn corrupt(
    function: &str,
    version: &str,
    what: &str,
    detail: impl std::fmt::Display,
) -> RegistryError {
    RegistryError::Corrupt(format!(
        "version {function}@{version}: bad {what}: {detail}"
    ))
}

fn limit(row: &Row, at: usize, f: &str, v: &str) -> Result<Option<u32>, RegistryError> {
    row.try_get::<_, Option<i64>>(at)?
        .map(|n| u32::try_from(n).map_err(|_| corrupt(f, v, "limit", n)))
        .transpose()
}

/// Reads the version columns starting at column `at`.
pub(super) fn version_at(row: &Row, at: usize) -> Result<VersionRecord, RegistryError> {
    let function_id: String = row.try_get(at)?;
    let version: String = row.try_get(at + 1)?;
    let (f, v) = (function_id.as_str(), version.as_str());
    let language: Language = row
        .try_get::<_, String>(at + 2)?
        .parse()
        .map_err(|e: ValidationError| corrupt(f, v, "language", e.message))?;
    let Json(dependencies): Json<BTreeMap<String, String>> = row
        .try_get(at + 4)
        .map_err(|e| corrupt(f, v, "dependencies", e))?;
    let digest: Digest = row
        .try_get::<_, String>(at + 5)?
        .parse()
        .map_err(|e: InvalidDigest| corrupt(f, v, "digest", e))?;
    let size: i64 = row.try_get(at + 6)?;
    let size = u64::try_from(size).map_err(|_| corrupt(f, v, "component size", size))?;
    let limits = Limits::new(
        limit(row, at + 7, f, v)?,
        limit(row, at + 8, f, v)?,
        limit(row, at + 9, f, v)?,
    )
    .map_err(|e| corrupt(f, v, "limits", e.message))?;
    let Json(env): Json<BTreeMap<String, String>> =
        row.try_get(at + 10).map_err(|e| corrupt(f, v, "env", e))?;
    // The decoding error for secrets is dropped: it could quote a value.
    let Json(secrets): Json<BTreeMap<String, String>> = row
        .try_get(at + 11)
        .map_err(|_| corrupt(f, v, "secrets", "undecodable JSON"))?;
    let Json(allowed_hosts): Json<Vec<String>> = row
        .try_get(at + 12)
        .map_err(|e| corrupt(f, v, "allowedHosts", e))?;
    let interface: Interface = row
        .try_get::<_, String>(at + 14)?
        .parse()
        .map_err(|e: ValidationError| corrupt(f, v, "interface", e.message))?;
    Ok(VersionRecord {
        language,
        interface,
        entry_point: row.try_get(at + 3)?,
        dependencies,
        component: ComponentRef { digest, size },
        limits,
        env,
        secrets: Secrets::new(secrets).map_err(|e| corrupt(f, v, "secrets", e.message))?,
        allowed_hosts,
        created_at: Timestamp::from_millis(row.try_get(at + 13)?),
        function_id,
        version,
    })
}

/// Reads a row of [`function_select`].
pub(super) fn function_from(row: &Row) -> Result<FunctionRecord, RegistryError> {
    let id: String = row.try_get(0)?;
    let privacy: String = row.try_get(4)?;
    let privacy = privacy
        .parse()
        .map_err(|_| RegistryError::Corrupt(format!("function {id}: bad privacy {privacy:?}")))?;
    Ok(FunctionRecord {
        created_at: Timestamp::from_millis(row.try_get(1)?),
        updated_at: Timestamp::from_millis(row.try_get(2)?),
        namespace: row.try_get(3)?,
        privacy,
        active: version_at(row, 5)?,
        id,
    })
}

/// Columns of a namespace row, in the order [`namespace_from`] reads them.
pub(super) const NAMESPACE_COLUMNS: &str =
    "name, description, env, secrets, token_key, token_key_id, created_at, updated_at";

/// Reads a namespace row (columns [`NAMESPACE_COLUMNS`]).
pub(super) fn namespace_from(row: &Row) -> Result<NamespaceRecord, RegistryError> {
    let name: String = row.try_get(0)?;
    let corrupt = |what: &str| RegistryError::Corrupt(format!("namespace {name}: bad {what}"));
    let Json(env): Json<BTreeMap<String, String>> = row.try_get(2)?;
    let Json(secrets): Json<BTreeMap<String, String>> = row.try_get(3)?;
    let seed: Vec<u8> = row.try_get(4)?;
    Ok(NamespaceRecord {
        description: row.try_get(1)?,
        env,
        secrets: Secrets::new(secrets).map_err(|_| corrupt("secrets"))?,
        token_key: TokenKey {
            seed: seed.try_into().map_err(|_| corrupt("token key"))?,
            id: row.try_get(5)?,
        },
        created_at: Timestamp::from_millis(row.try_get(6)?),
        updated_at: Timestamp::from_millis(row.try_get(7)?),
        name,
    })
}

/// One namespace, if it exists.
pub(super) async fn load_namespace(
    c: &impl GenericClient,
    name: &str,
) -> Result<Option<NamespaceRecord>, RegistryError> {
    let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = $1");
    c.query_opt(&sql, &[&name])
        .await?
        .map(|row| namespace_from(&row))
        .transpose()
}

/// A function with its active version, if it exists.
pub(super) async fn load_function(
    c: &impl GenericClient,
    id: &str,
) -> Result<Option<FunctionRecord>, RegistryError> {
    let sql = format!("{} WHERE f.id = $1", function_select());
    c.query_opt(&sql, &[&id])
        .await?
        .map(|row| function_from(&row))
        .transpose()
}

/// One version, if it exists.
pub(super) async fn load_version(
    c: &impl GenericClient,
    id: &str,
    version: &str,
) -> Result<Option<VersionRecord>, RegistryError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.function_id = $1 AND v.version = $2"
    );
    c.query_opt(&sql, &[&id, &version])
        .await?
        .map(|row| version_at(&row, 0))
        .transpose()
}

/// Whether a function row exists.
pub(super) async fn function_exists(
    c: &impl GenericClient,
    id: &str,
) -> Result<bool, RegistryError> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM functions WHERE id = $1)",
        &[&id],
    )
    .await?
    .try_get(0)?)
}

/// `NotFound` for function `id` unless it exists.
pub(super) async fn require_function(
    c: &impl GenericClient,
    id: &str,
) -> Result<(), RegistryError> {
    if function_exists(c, id).await? {
        Ok(())
    } else {
        Err(RegistryError::NotFound {
            resource: Resource::Function,
            id: id.to_owned(),
        })
    }
}

/// Inserts a version row (versions are never updated: a trigger forbids it).
pub(super) async fn insert_version(
    c: &impl GenericClient,
    v: &VersionRecord,
) -> Result<(), RegistryError> {
    let size = i64::try_from(v.component.size).unwrap_or(i64::MAX);
    let limit = |n: Option<u32>| n.map(i64::from);
    c.execute(
        "INSERT INTO versions (function_id, version, language, entry_point, dependencies, component_digest,
             component_size, memory_mb, timeout_ms, max_concurrency, env, secrets, allowed_hosts, created_at,
             interface)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &v.function_id,
            &v.version,
            &v.language.as_str(),
            &v.entry_point,
            &Json(&v.dependencies),
            &v.component.digest.to_hex(),
            &size,
            &limit(v.limits.memory_mb()),
            &limit(v.limits.timeout_ms()),
            &limit(v.limits.max_concurrency()),
            &Json(&v.env),
            &Json(v.secrets.as_map()),
            &Json(&v.allowed_hosts),
            &v.created_at.as_millis(),
            &v.interface.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// Appends a history row.
pub(super) async fn insert_history(
    c: &impl GenericClient,
    id: &str,
    version: &str,
    action: HistoryAction,
    previous: Option<&str>,
    detail: Option<&str>,
    at: Timestamp,
) -> Result<(), RegistryError> {
    c.execute(
        "INSERT INTO history (function_id, version, action, previous_version, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &version, &action.as_str(), &previous, &detail, &at.as_millis()],
    )
    .await?;
    Ok(())
}

/// A function's history, oldest first.
pub(super) async fn load_history(
    c: &impl GenericClient,
    id: &str,
) -> Result<Vec<HistoryEntry>, RegistryError> {
    let rows = c
        .query(
            "SELECT seq, function_id, version, action, previous_version, at, detail FROM history
             WHERE function_id = $1 ORDER BY seq",
            &[&id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let action: String = row.try_get(3)?;
            let Some(action) = HistoryAction::parse(&action) else {
                return Err(RegistryError::Corrupt(format!(
                    "unknown history action '{action}'"
                )));
            };
            Ok(HistoryEntry {
                seq: row.try_get(0)?,
                function_id: row.try_get(1)?,
                version: row.try_get(2)?,
                action,
                previous_version: row.try_get(4)?,
                at: Timestamp::from_millis(row.try_get(5)?),
                detail: row.try_get(6)?,
            })
        })
        .collect()
}

/// Every API key, oldest first.
pub(super) async fn load_keys(c: &impl GenericClient) -> Result<Vec<StoredKey>, RegistryError> {
    let rows = c
        .query(
            "SELECT id, name, prefix, hash, created_at, expires_at, revoked_at, role, namespaces FROM api_keys
             ORDER BY created_at, seq",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get(3)?;
            let id: String = row.try_get(0)?;
            let role: String = row.try_get(7)?;
            let role: Role = role
                .parse()
                .map_err(|_| RegistryError::Corrupt(format!("api key {id}: bad role {role:?}")))?;
            let namespaces = match row.try_get::<_, Option<Json<Vec<String>>>>(8)? {
                None => Namespaces::All,
                Some(Json(list)) => Namespaces::only(list).map_err(|e| {
                    RegistryError::Corrupt(format!("api key {id}: bad namespaces: {}", e.message))
                })?,
            };
            Ok(StoredKey {
                hash: hash
                    .try_into()
                    .map_err(|_| RegistryError::Corrupt(format!("api key {id}: bad hash")))?,
                record: ApiKeyRecord {
                    id,
                    name: row.try_get(1)?,
                    prefix: row.try_get(2)?,
                    created_at: Timestamp::from_millis(row.try_get(4)?),
                    expires_at: row
                        .try_get::<_, Option<i64>>(5)?
                        .map(Timestamp::from_millis),
                    revoked_at: row
                        .try_get::<_, Option<i64>>(6)?
                        .map(Timestamp::from_millis),
                    role,
                    namespaces,
                },
            })
        })
        .collect()
}

/// Runs a log query (the caller checked that the function exists).
pub(super) async fn query_logs(
    c: &impl GenericClient,
    query: &LogQuery,
) -> Result<Vec<LogRecord>, RegistryError> {
    let (min, max) = match query.level {
        None => (LogLevel::Debug, LogLevel::Error),
        Some(LevelFilter::Exact(level)) => (level, level),
        Some(LevelFilter::AtLeast(level)) => (level, LogLevel::Error),
    };
    let order = match query.order {
        LogOrder::NewestFirst => "DESC",
        LogOrder::OldestFirst => "ASC",
    };
    let sql = format!(
        "SELECT id, function_id, ts, level, message, request_id, version, duration_ms, outcome FROM logs
         WHERE function_id = $1 AND ($2::BIGINT IS NULL OR ts > $2) AND level BETWEEN $3 AND $4
         ORDER BY ts {order}, id {order} LIMIT $5"
    );
    let (min, max) = (min.rank() as i16, max.rank() as i16);
    let rows = c
        .query(
            &sql,
            &[
                &query.function_id,
                &query.after.map(Timestamp::as_millis),
                &min,
                &max,
                &(query.effective_limit() as i64),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get(0)?;
            let level: i16 = row.try_get(3)?;
            let outcome: Option<String> = row.try_get(8)?;
            Ok(LogRecord {
                id,
                entry: LogEntry {
                    function_id: row.try_get(1)?,
                    timestamp: Timestamp::from_millis(row.try_get(2)?),
                    level: LogLevel::from_rank(level.into()).ok_or_else(|| {
                        RegistryError::Corrupt(format!("log {id} has unknown level {level}"))
                    })?,
                    message: row.try_get(4)?,
                    request_id: row.try_get(5)?,
                    version: row.try_get(6)?,
                    duration_ms: row
                        .try_get::<_, Option<i64>>(7)?
                        .and_then(|d| u64::try_from(d).ok()),
                    outcome: match outcome {
                        None => None,
                        Some(o) => Some(LogOutcome::parse(&o).ok_or_else(|| {
                            RegistryError::Corrupt(format!("log {id} has unknown outcome '{o}'"))
                        })?),
                    },
                },
            })
        })
        .collect()
}
