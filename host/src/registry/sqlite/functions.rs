//! Functions, versions and history: deploys, reads, rollbacks, deletes and the component GC.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

#[cfg(test)]
use super::lock;
use super::rows::{
    FUNCTION_COLUMNS, VERSION_COLUMNS, bump_generation, function_exists, insert_history,
    insert_version, load_function, load_history, load_namespace, load_version, raw_function,
    raw_version,
};
use super::{SqliteStore, not_found};
use crate::model::access::{DEFAULT_NAMESPACE, Privacy};
use crate::model::{
    DeleteOutcome, DeployMetadata, DeployOutcome, Digest, FunctionRecord, GcReport, HistoryAction,
    HistoryEntry, Resource, RollbackOutcome, Timestamp, VersionRecord,
};
use crate::registry::RegistryError;
use crate::registry::namespaces::check_same_namespace;
use crate::registry::versions::{check_redeploy, new_version};

pub(super) fn deploy(
    reg: &SqliteStore,
    metadata: DeployMetadata,
    component: &[u8],
) -> Result<DeployOutcome, RegistryError> {
    let mut conn = reg.write_conn();
    if let Some(existing) = load_version(&conn, metadata.id(), metadata.version())? {
        return existing_version_outcome(reg, &conn, existing, &metadata, component);
    }
    // The bytes are durable before any row points at them; a crash from here on leaves
    // at worst an unreferenced blob for `gc_components`.
    let component_ref = reg.blobs.put(component)?;
    let now = Timestamp::now();
    let record = new_version(&metadata, component_ref, now);

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(existing) = load_version(&tx, metadata.id(), metadata.version())? {
        // Another process deployed it between our check and our lock.
        drop(tx);
        return existing_version_outcome(reg, &conn, existing, &metadata, component);
    }
    let existing: Option<(String, String, String)> = tx
        .query_row(
            "SELECT active_version, namespace, privacy FROM functions WHERE id = ?1",
            [metadata.id()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let (previous, namespace, old_privacy) = match existing {
        Some((active, namespace, privacy)) => {
            check_same_namespace(&namespace, &metadata)?;
            let privacy = privacy.parse::<Privacy>().map_err(|_| {
                RegistryError::Corrupt(format!("function {}: bad privacy", metadata.id()))
            })?;
            (Some(active), namespace, Some(privacy))
        }
        None => {
            let namespace = metadata.namespace().unwrap_or(DEFAULT_NAMESPACE).to_owned();
            if load_namespace(&tx, &namespace)?.is_none() {
                return Err(not_found(Resource::Namespace, &namespace));
            }
            (None, namespace, None)
        }
    };
    let privacy = metadata.privacy().or(old_privacy).unwrap_or_default();
    let created_at: i64 = tx.query_row(
        "INSERT INTO functions (id, active_version, created_at, updated_at, namespace, privacy) VALUES (?1, ?2, ?3, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET active_version = excluded.active_version, updated_at = excluded.updated_at,
             privacy = excluded.privacy
         RETURNING created_at",
        params![metadata.id(), metadata.version(), now.as_millis(), namespace, privacy.as_str()],
        |row| row.get(0),
    )?;
    insert_version(&tx, &record)?;
    #[cfg(test)]
    if let Some(hook) = lock(&reg.deploy_hook).as_ref() {
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
    )?;
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
        )?;
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);

    let function = Arc::new(FunctionRecord {
        id: metadata.id().to_owned(),
        created_at: Timestamp::from_millis(created_at),
        updated_at: now,
        namespace,
        privacy,
        active: record.clone(),
    });
    Ok(DeployOutcome {
        function,
        version: record,
        created: true,
        previous,
    })
}

pub(super) fn get_function(
    reg: &SqliteStore,
    id: &str,
) -> Result<Arc<FunctionRecord>, RegistryError> {
    reg.poll_external_changes()?;
    let epoch = {
        let cache = reg.cache_read();
        if let Some(function) = cache.functions.get(id) {
            return Ok(Arc::clone(function));
        }
        cache.epoch
    };
    let function =
        load_function(&reg.reader(), id)?.ok_or_else(|| not_found(Resource::Function, id))?;
    let function = Arc::new(function);
    let mut cache = reg.cache_write();
    if cache.epoch == epoch {
        cache.functions.insert(id.to_owned(), Arc::clone(&function));
    }
    Ok(function)
}

pub(super) fn list_functions(reg: &SqliteStore) -> Result<Vec<Arc<FunctionRecord>>, RegistryError> {
    let conn = reg.reader();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FUNCTION_COLUMNS}, {VERSION_COLUMNS}
         FROM functions f JOIN versions v ON v.function_id = f.id AND v.version = f.active_version
         ORDER BY f.id"
    ))?;
    let rows = stmt.query_map([], raw_function)?;
    rows.map(|row| Ok(Arc::new(row?.decode()?))).collect()
}

pub(super) fn get_version(
    reg: &SqliteStore,
    id: &str,
    version: &str,
) -> Result<VersionRecord, RegistryError> {
    let conn = reg.reader();
    match load_version(&conn, id, version)? {
        Some(record) => Ok(record),
        None if function_exists(&conn, id)? => {
            Err(not_found(Resource::Version, &format!("{id}@{version}")))
        }
        None => Err(not_found(Resource::Function, id)),
    }
}

pub(super) fn list_versions(
    reg: &SqliteStore,
    id: &str,
) -> Result<Vec<VersionRecord>, RegistryError> {
    let conn = reg.reader();
    // One read transaction so the existence check and the listing agree.
    let tx = conn.unchecked_transaction()?;
    if !function_exists(&tx, id)? {
        return Err(not_found(Resource::Function, id));
    }
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.function_id = ?1 ORDER BY v.rowid"
    ))?;
    let rows = stmt.query_map([id], |row| raw_version(row, 0))?;
    rows.map(|row| row?.decode()).collect()
}

pub(super) fn history(reg: &SqliteStore, id: &str) -> Result<Vec<HistoryEntry>, RegistryError> {
    let conn = reg.reader();
    let tx = conn.unchecked_transaction()?;
    if !function_exists(&tx, id)? {
        return Err(not_found(Resource::Function, id));
    }
    load_history(&tx, id)
}

pub(super) fn rollback(
    reg: &SqliteStore,
    id: &str,
    version: &str,
) -> Result<RollbackOutcome, RegistryError> {
    let mut conn = reg.write_conn();
    let now = Timestamp::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let previous: String = tx
        .query_row(
            "SELECT active_version FROM functions WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| not_found(Resource::Function, id))?;
    if load_version(&tx, id, version)?.is_none() {
        return Err(not_found(Resource::Version, &format!("{id}@{version}")));
    }
    tx.execute(
        "UPDATE functions SET active_version = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, version, now.as_millis()],
    )?;
    insert_history(
        &tx,
        id,
        version,
        HistoryAction::Rollback,
        Some(&previous),
        None,
        now,
    )?;
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    let function = load_function(&conn, id)?.ok_or_else(|| not_found(Resource::Function, id))?;
    Ok(RollbackOutcome {
        function: Arc::new(function),
        previous,
    })
}

pub(super) fn delete_function(reg: &SqliteStore, id: &str) -> Result<DeleteOutcome, RegistryError> {
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let digests: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT component_digest FROM versions WHERE function_id = ?1",
        )?;
        stmt.query_map([id], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    let versions_removed: i64 = tx.query_row(
        "SELECT count(*) FROM versions WHERE function_id = ?1",
        [id],
        |row| row.get(0),
    )?;
    // Versions, history and logs go with it (ON DELETE CASCADE).
    if tx.execute("DELETE FROM functions WHERE id = ?1", [id])? == 0 {
        return Err(not_found(Resource::Function, id));
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);

    let components_removed = remove_unreferenced(reg, &conn, digests)?;
    Ok(DeleteOutcome {
        id: id.to_owned(),
        versions_removed: versions_removed as usize,
        components_removed,
    })
}

pub(super) fn gc_components(reg: &SqliteStore) -> Result<GcReport, RegistryError> {
    let conn = reg.write_conn();
    let referenced: HashSet<String> = {
        let mut stmt = conn.prepare_cached("SELECT DISTINCT component_digest FROM versions")?;
        stmt.query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut report = GcReport::default();
    for digest in reg.blobs.list()? {
        if !referenced.contains(&digest.to_hex()) && reg.blobs.remove(&digest)? {
            report.components_removed += 1;
        }
    }
    report.temp_files_removed = reg.blobs.remove_temp_files()?;
    Ok(report)
}

/// Removes the blobs of `digests` that no version references any more (after a delete: blobs
/// are shared by content). Deploys take the same writer lock, held by the caller, so none can
/// start referencing one meanwhile.
pub(super) fn remove_unreferenced(
    reg: &SqliteStore,
    conn: &Connection,
    digests: Vec<String>,
) -> Result<usize, RegistryError> {
    let mut removed = 0;
    for hex in digests {
        let referenced: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM versions WHERE component_digest = ?1)",
            [&hex],
            |row| row.get(0),
        )?;
        if !referenced
            && let Ok(digest) = hex.parse::<Digest>()
            && reg.blobs.remove(&digest)?
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Idempotent redeploy or conflict, for an `(id, version)` that already exists.
fn existing_version_outcome(
    reg: &SqliteStore,
    conn: &Connection,
    existing: VersionRecord,
    metadata: &DeployMetadata,
    component: &[u8],
) -> Result<DeployOutcome, RegistryError> {
    check_redeploy(&existing, metadata, &Digest::of(component))?;
    let function = load_function(conn, metadata.id())?
        .ok_or_else(|| not_found(Resource::Function, metadata.id()))?;
    check_same_namespace(&function.namespace, metadata)?;
    // Same bytes: make sure the blob is intact (this heals a damaged or missing one).
    reg.blobs.put(component)?;
    Ok(DeployOutcome {
        function: Arc::new(function),
        version: existing,
        created: false,
        previous: None,
    })
}
