//! Row-level SQL of the SQLite registry: encoding versions into rows, decoding rows back
//! (a row that does not decode is `Corrupt`, never a panic), and the small shared queries.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::super::RegistryError;
use crate::model::access::{Namespaces, Role};
use crate::model::{
    ApiKeyRecord, ComponentRef, Digest, FunctionRecord, HistoryAction, HistoryEntry, Interface,
    InvalidDigest, Language, LevelFilter, Limits, LogEntry, LogLevel, LogOrder, LogOutcome,
    LogQuery, LogRecord, NamespaceRecord, Secrets, Timestamp, TokenKey, VersionRecord,
};
use crate::validate::ValidationError;

pub(super) use crate::registry::keys::StoredKey;

/// The store's change counter (see the module documentation of the SQLite registry).
pub(super) fn read_generation(conn: &Connection) -> Result<i64, RegistryError> {
    Ok(conn.query_row(
        "SELECT value FROM meta WHERE key = 'generation'",
        [],
        |row| row.get(0),
    )?)
}

/// Increments the change counter inside a write transaction; returns the new value.
pub(super) fn bump_generation(tx: &Transaction<'_>) -> Result<i64, RegistryError> {
    Ok(tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value",
        [],
        |row| row.get(0),
    )?)
}

/// Whether a function row exists.
pub(super) fn function_exists(conn: &Connection, id: &str) -> Result<bool, RegistryError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM functions WHERE id = ?1)",
        [id],
        |row| row.get(0),
    )?)
}

/// Appends a history row.
pub(super) fn insert_history(
    tx: &Transaction<'_>,
    id: &str,
    version: &str,
    action: HistoryAction,
    previous: Option<&str>,
    detail: Option<&str>,
    at: Timestamp,
) -> Result<(), RegistryError> {
    tx.execute(
        "INSERT INTO history (function_id, version, action, previous_version, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, version, action.as_str(), previous, detail, at.as_millis()],
    )?;
    Ok(())
}

/// JSON text of a metadata map or list, as stored in the TEXT columns.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, RegistryError> {
    serde_json::to_string(value)
        .map_err(|e| RegistryError::Corrupt(format!("cannot encode metadata: {e}")))
}

/// Inserts a version row (versions are never updated: a trigger forbids it).
pub(super) fn insert_version(tx: &Transaction<'_>, v: &VersionRecord) -> Result<(), RegistryError> {
    tx.execute(
        "INSERT INTO versions (function_id, version, language, entry_point, dependencies, component_digest,
             component_size, memory_mb, timeout_ms, max_concurrency, env, secrets, allowed_hosts, created_at,
             interface)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            v.function_id,
            v.version,
            v.language.as_str(),
            v.entry_point,
            to_json(&v.dependencies)?,
            v.component.digest.to_hex(),
            i64::try_from(v.component.size).unwrap_or(i64::MAX),
            v.limits.memory_mb(),
            v.limits.timeout_ms(),
            v.limits.max_concurrency(),
            to_json(&v.env)?,
            to_json(v.secrets.as_map())?,
            to_json(&v.allowed_hosts)?,
            v.created_at.as_millis(),
            v.interface.as_str(),
        ],
    )?;
    Ok(())
}

/// Columns of a version row, in the order [`raw_version`] reads them (alias `v`).
pub(super) const VERSION_COLUMNS: &str = "v.function_id, v.version, v.language, v.entry_point, v.dependencies, \
    v.component_digest, v.component_size, v.memory_mb, v.timeout_ms, v.max_concurrency, v.env, v.secrets, \
    v.allowed_hosts, v.created_at, v.interface";

/// A version row as stored, before decoding its JSON and enums.
pub(super) struct RawVersion {
    function_id: String,
    version: String,
    language: String,
    entry_point: String,
    dependencies: String,
    digest: String,
    size: i64,
    memory_mb: Option<u32>,
    timeout_ms: Option<u32>,
    max_concurrency: Option<u32>,
    env: String,
    secrets: String,
    allowed_hosts: String,
    created_at: i64,
    interface: String,
}

/// Reads the version columns starting at column `at`.
pub(super) fn raw_version(row: &Row<'_>, at: usize) -> rusqlite::Result<RawVersion> {
    Ok(RawVersion {
        function_id: row.get(at)?,
        version: row.get(at + 1)?,
        language: row.get(at + 2)?,
        entry_point: row.get(at + 3)?,
        dependencies: row.get(at + 4)?,
        digest: row.get(at + 5)?,
        size: row.get(at + 6)?,
        memory_mb: row.get(at + 7)?,
        timeout_ms: row.get(at + 8)?,
        max_concurrency: row.get(at + 9)?,
        env: row.get(at + 10)?,
        secrets: row.get(at + 11)?,
        allowed_hosts: row.get(at + 12)?,
        created_at: row.get(at + 13)?,
        interface: row.get(at + 14)?,
    })
}

impl RawVersion {
    /// Decodes JSON columns and enums; anything undecodable is `Corrupt`.
    pub(super) fn decode(self) -> Result<VersionRecord, RegistryError> {
        let corrupt = |what: &str, detail: String| {
            RegistryError::Corrupt(format!(
                "version {}@{}: bad {what}: {detail}",
                self.function_id, self.version
            ))
        };
        let language: Language = self
            .language
            .parse()
            .map_err(|e: ValidationError| corrupt("language", e.message))?;
        let dependencies: BTreeMap<String, String> = serde_json::from_str(&self.dependencies)
            .map_err(|e| corrupt("dependencies", e.to_string()))?;
        let env: BTreeMap<String, String> =
            serde_json::from_str(&self.env).map_err(|e| corrupt("env", e.to_string()))?;
        // The serde error for secrets is dropped: it could quote a value.
        let secrets: BTreeMap<String, String> = serde_json::from_str(&self.secrets)
            .map_err(|_| corrupt("secrets", "undecodable JSON".into()))?;
        let allowed_hosts: Vec<String> = serde_json::from_str(&self.allowed_hosts)
            .map_err(|e| corrupt("allowedHosts", e.to_string()))?;
        let interface: Interface = self
            .interface
            .parse()
            .map_err(|e: ValidationError| corrupt("interface", e.message))?;
        let digest: Digest = self
            .digest
            .parse()
            .map_err(|e: InvalidDigest| corrupt("digest", e.to_string()))?;
        let size = u64::try_from(self.size)
            .map_err(|_| corrupt("component size", self.size.to_string()))?;
        Ok(VersionRecord {
            language,
            entry_point: self.entry_point,
            dependencies,
            component: ComponentRef { digest, size },
            limits: Limits::new(self.memory_mb, self.timeout_ms, self.max_concurrency)
                .map_err(|e| corrupt("limits", e.to_string()))?,
            env,
            secrets: Secrets::new(secrets).map_err(|e| corrupt("secrets", e.to_string()))?,
            allowed_hosts,
            interface,
            created_at: Timestamp::from_millis(self.created_at),
            function_id: self.function_id,
            version: self.version,
        })
    }
}

/// Columns of a function row, in the order [`raw_function`] reads them (alias `f`), before
/// its active version's [`VERSION_COLUMNS`].
pub(super) const FUNCTION_COLUMNS: &str =
    "f.id, f.created_at, f.updated_at, f.namespace, f.privacy";

/// A function row joined with its active version.
pub(super) struct RawFunction {
    id: String,
    created_at: i64,
    updated_at: i64,
    namespace: String,
    privacy: String,
    active: RawVersion,
}

impl RawFunction {
    /// Decodes the row and its active version.
    pub(super) fn decode(self) -> Result<FunctionRecord, RegistryError> {
        let privacy = self.privacy.parse().map_err(|_| {
            RegistryError::Corrupt(format!(
                "function {}: bad privacy {:?}",
                self.id, self.privacy
            ))
        })?;
        Ok(FunctionRecord {
            id: self.id,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            namespace: self.namespace,
            privacy,
            active: self.active.decode()?,
        })
    }
}

/// Reads a `functions` row joined with its active version.
pub(super) fn raw_function(row: &Row<'_>) -> rusqlite::Result<RawFunction> {
    Ok(RawFunction {
        id: row.get(0)?,
        created_at: row.get(1)?,
        updated_at: row.get(2)?,
        namespace: row.get(3)?,
        privacy: row.get(4)?,
        active: raw_version(row, 5)?,
    })
}

/// One version, if it exists.
pub(super) fn load_version(
    conn: &Connection,
    id: &str,
    version: &str,
) -> Result<Option<VersionRecord>, RegistryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.function_id = ?1 AND v.version = ?2"
    ))?;
    stmt.query_row([id, version], |row| raw_version(row, 0))
        .optional()?
        .map(RawVersion::decode)
        .transpose()
}

/// A function with its active version, if it exists.
pub(super) fn load_function(
    conn: &Connection,
    id: &str,
) -> Result<Option<FunctionRecord>, RegistryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FUNCTION_COLUMNS}, {VERSION_COLUMNS}
         FROM functions f JOIN versions v ON v.function_id = f.id AND v.version = f.active_version
         WHERE f.id = ?1"
    ))?;
    stmt.query_row([id], raw_function)
        .optional()?
        .map(RawFunction::decode)
        .transpose()
}

/// Every API key, oldest first.
pub(super) fn load_keys(conn: &Connection) -> Result<Vec<StoredKey>, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, prefix, hash, created_at, expires_at, revoked_at, role, namespaces FROM api_keys ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            ApiKeyRecord {
                id: row.get(0)?,
                name: row.get(1)?,
                prefix: row.get(2)?,
                created_at: Timestamp::from_millis(row.get(4)?),
                expires_at: row.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
                revoked_at: row.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
                role: Role::Admin,
                namespaces: Namespaces::All,
            },
            row.get::<_, [u8; 32]>(3)?,
            row.get::<_, String>(7)?,
            row.get::<_, Option<String>>(8)?,
        ))
    })?;
    rows.map(|row| {
        let (mut record, hash, role, namespaces) = row?;
        record.role = role
            .parse()
            .map_err(|_| RegistryError::Corrupt(format!("key {}: bad role {role:?}", record.id)))?;
        record.namespaces = decode_namespaces(namespaces.as_deref()).map_err(|e| {
            RegistryError::Corrupt(format!("key {}: bad namespaces: {e}", record.id))
        })?;
        Ok(StoredKey { record, hash })
    })
    .collect()
}

/// A key's namespace list as stored: a JSON array, `NULL` for every namespace.
pub(super) fn encode_namespaces(namespaces: &Namespaces) -> Result<Option<String>, RegistryError> {
    namespaces.as_list().map(|list| to_json(&list)).transpose()
}

/// The inverse of [`encode_namespaces`].
pub(super) fn decode_namespaces(stored: Option<&str>) -> Result<Namespaces, String> {
    match stored {
        None => Ok(Namespaces::All),
        Some(json) => {
            let list: Vec<String> = serde_json::from_str(json).map_err(|e| e.to_string())?;
            Namespaces::only(list).map_err(|e| e.message)
        }
    }
}

/// Columns of a namespace row, in the order [`raw_namespace`] reads them.
pub(super) const NAMESPACE_COLUMNS: &str =
    "name, description, env, secrets, token_key, token_key_id, created_at, updated_at";

/// Reads and decodes a namespace row.
pub(super) fn raw_namespace(
    row: &Row<'_>,
) -> rusqlite::Result<Result<NamespaceRecord, RegistryError>> {
    let name: String = row.get(0)?;
    let env: String = row.get(2)?;
    let secrets: String = row.get(3)?;
    let corrupt = |what: &str| RegistryError::Corrupt(format!("namespace {name}: bad {what}"));
    let env = match serde_json::from_str(&env) {
        Ok(env) => env,
        Err(_) => return Ok(Err(corrupt("env"))),
    };
    let secrets = match serde_json::from_str(&secrets).map(Secrets::new) {
        Ok(Ok(secrets)) => secrets,
        _ => return Ok(Err(corrupt("secrets"))),
    };
    Ok(Ok(NamespaceRecord {
        description: row.get(1)?,
        env,
        secrets,
        token_key: TokenKey {
            seed: row.get(4)?,
            id: row.get(5)?,
        },
        created_at: Timestamp::from_millis(row.get(6)?),
        updated_at: Timestamp::from_millis(row.get(7)?),
        name,
    }))
}

/// One namespace, if it exists.
pub(super) fn load_namespace(
    conn: &Connection,
    name: &str,
) -> Result<Option<NamespaceRecord>, RegistryError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = ?1"
    ))?;
    stmt.query_row([name], raw_namespace)
        .optional()?
        .transpose()
}

/// A function's history, oldest first (the caller checked that the function exists).
pub(super) fn load_history(
    conn: &Connection,
    id: &str,
) -> Result<Vec<HistoryEntry>, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, function_id, version, action, previous_version, at, detail FROM history WHERE function_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, Option<String>>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, function_id, version, action, previous_version, at, detail) = row?;
        let Some(action) = HistoryAction::parse(&action) else {
            return Err(RegistryError::Corrupt(format!(
                "unknown history action '{action}'"
            )));
        };
        Ok(HistoryEntry {
            seq,
            function_id,
            version,
            action,
            previous_version,
            detail,
            at: Timestamp::from_millis(at),
        })
    })
    .collect()
}

/// Runs a log query (the caller checked that the function exists).
pub(super) fn query_logs(
    conn: &Connection,
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
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, function_id, ts, level, message, request_id, version, duration_ms, outcome FROM logs
         WHERE function_id = ?1 AND (?2 IS NULL OR ts > ?2) AND level BETWEEN ?3 AND ?4
         ORDER BY ts {order}, id {order} LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![
            query.function_id,
            query.after.map(Timestamp::as_millis),
            min.rank(),
            max.rank(),
            query.effective_limit() as i64
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, Option<String>>(8)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (id, function_id, ts, level, message, request_id, version, duration_ms, outcome) = row?;
        Ok(LogRecord {
            id,
            entry: LogEntry {
                function_id,
                timestamp: Timestamp::from_millis(ts),
                level: LogLevel::from_rank(level).ok_or_else(|| {
                    RegistryError::Corrupt(format!("log {id} has unknown level {level}"))
                })?,
                message,
                request_id,
                version,
                duration_ms: duration_ms.and_then(|d| u64::try_from(d).ok()),
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
