//! Namespaces (issue 22): created with a fresh token key, read (cached beside functions),
//! changed (each of their functions gets a history row in the same transaction), deleted (with
//! their functions when cascading, in one transaction), their token key rotated; and a
//! function's privacy.

use std::sync::Arc;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::functions::remove_unreferenced;
use super::rows::{
    NAMESPACE_COLUMNS, bump_generation, insert_history, load_function, load_namespace,
    raw_namespace, to_json,
};
use super::{SqliteStore, not_found};
use crate::model::access::{DEFAULT_NAMESPACE, Privacy};
use crate::model::{
    HistoryAction, NamespaceDeleteOutcome, NamespaceInfo, NamespacePatch, NamespaceRecord,
    NamespaceUpdate, NewNamespace, PrivacyChange, Timestamp, TokenKey,
};
use crate::registry::namespaces::{namespace_not_empty, patch_namespace, validate_namespace};
use crate::registry::{RegistryError, Resource};
use crate::validate::ValidationError;

pub(super) fn set_privacy(
    reg: &SqliteStore,
    id: &str,
    privacy: Privacy,
) -> Result<PrivacyChange, RegistryError> {
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (active, previous): (String, String) = tx
        .query_row(
            "SELECT active_version, privacy FROM functions WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| not_found(Resource::Function, id))?;
    let previous: Privacy = previous
        .parse()
        .map_err(|_| RegistryError::Corrupt(format!("function {id}: bad privacy")))?;
    if previous != privacy {
        tx.execute(
            "UPDATE functions SET privacy = ?2 WHERE id = ?1",
            params![id, privacy.as_str()],
        )?;
        insert_history(
            &tx,
            id,
            &active,
            HistoryAction::Privacy,
            None,
            Some(&format!("{previous} -> {privacy}")),
            Timestamp::now(),
        )?;
        let generation = bump_generation(&tx)?;
        tx.commit()?;
        reg.invalidate(generation);
    } else {
        drop(tx);
    }
    let function = load_function(&conn, id)?.ok_or_else(|| not_found(Resource::Function, id))?;
    Ok(PrivacyChange {
        function: Arc::new(function),
        previous,
    })
}

pub(super) fn create_namespace(
    reg: &SqliteStore,
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
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = tx.execute(
        "INSERT INTO namespaces (name, description, env, secrets, token_key, token_key_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (name) DO NOTHING",
        params![
            record.name,
            record.description,
            to_json(&record.env)?,
            to_json(record.secrets.as_map())?,
            record.token_key.seed,
            record.token_key.id,
            now.as_millis(),
        ],
    )?;
    if inserted == 0 {
        return Err(RegistryError::Conflict(format!(
            "namespace {} already exists",
            record.name
        )));
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    Ok(Arc::new(record))
}

pub(super) fn get_namespace(
    reg: &SqliteStore,
    name: &str,
) -> Result<Arc<NamespaceRecord>, RegistryError> {
    reg.poll_external_changes()?;
    let epoch = {
        let cache = reg.cache_read();
        if let Some(ns) = cache.namespaces.get(name) {
            return Ok(Arc::clone(ns));
        }
        cache.epoch
    };
    let record =
        load_namespace(&reg.reader(), name)?.ok_or_else(|| not_found(Resource::Namespace, name))?;
    let record = Arc::new(record);
    let mut cache = reg.cache_write();
    if cache.epoch == epoch {
        cache
            .namespaces
            .insert(name.to_owned(), Arc::clone(&record));
    }
    Ok(record)
}

pub(super) fn list_namespaces(reg: &SqliteStore) -> Result<Vec<NamespaceInfo>, RegistryError> {
    let conn = reg.reader();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NAMESPACE_COLUMNS}, (SELECT count(*) FROM functions f WHERE f.namespace = n.name)
         FROM namespaces n ORDER BY name"
    ))?;
    let rows = stmt.query_map([], |row| Ok((raw_namespace(row)?, row.get::<_, i64>(8)?)))?;
    rows.map(|row| {
        let (record, count) = row?;
        Ok(NamespaceInfo {
            record: Arc::new(record?),
            function_count: usize::try_from(count).unwrap_or(0),
        })
    })
    .collect()
}

pub(super) fn update_namespace(
    reg: &SqliteStore,
    name: &str,
    patch: NamespacePatch,
) -> Result<NamespaceUpdate, RegistryError> {
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = load_namespace(&tx, name)?.ok_or_else(|| not_found(Resource::Namespace, name))?;
    let (record, detail) = patch_namespace(current, patch)?;
    let now = record.updated_at;
    tx.execute(
        "UPDATE namespaces SET description = ?2, env = ?3, secrets = ?4, updated_at = ?5 WHERE name = ?1",
        params![
            name,
            record.description,
            to_json(&record.env)?,
            to_json(record.secrets.as_map())?,
            now.as_millis()
        ],
    )?;
    let mut functions = Vec::new();
    if let Some(detail) = &detail {
        let members: Vec<(String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, active_version FROM functions WHERE namespace = ?1 ORDER BY id",
            )?;
            stmt.query_map([name], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        for (id, version) in members {
            insert_history(
                &tx,
                &id,
                &version,
                HistoryAction::Namespace,
                None,
                Some(detail),
                now,
            )?;
            functions.push(id);
        }
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    Ok(NamespaceUpdate {
        record: Arc::new(record),
        functions,
        detail,
    })
}

pub(super) fn delete_namespace(
    reg: &SqliteStore,
    name: &str,
    cascade: bool,
) -> Result<NamespaceDeleteOutcome, RegistryError> {
    if name == DEFAULT_NAMESPACE {
        return Err(
            ValidationError::new("name", name, "The default namespace cannot be deleted").into(),
        );
    }
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if load_namespace(&tx, name)?.is_none() {
        return Err(not_found(Resource::Namespace, name));
    }
    let functions: Vec<String> = {
        let mut stmt =
            tx.prepare_cached("SELECT id FROM functions WHERE namespace = ?1 ORDER BY id")?;
        stmt.query_map([name], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    if !functions.is_empty() && !cascade {
        return Err(RegistryError::Conflict(namespace_not_empty(
            name, &functions,
        )));
    }
    let digests: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT v.component_digest FROM versions v JOIN functions f ON f.id = v.function_id
             WHERE f.namespace = ?1",
        )?;
        stmt.query_map([name], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    // Versions, history and logs go with the functions (ON DELETE CASCADE).
    tx.execute("DELETE FROM functions WHERE namespace = ?1", [name])?;
    tx.execute("DELETE FROM namespaces WHERE name = ?1", [name])?;
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    let components_removed = remove_unreferenced(reg, &conn, digests)?;
    Ok(NamespaceDeleteOutcome {
        name: name.to_owned(),
        functions,
        components_removed,
    })
}

pub(super) fn rotate_token_key(
    reg: &SqliteStore,
    name: &str,
) -> Result<Arc<NamespaceRecord>, RegistryError> {
    let key = TokenKey::generate();
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE namespaces SET token_key = ?2, token_key_id = ?3, updated_at = ?4 WHERE name = ?1",
        params![name, key.seed, key.id, Timestamp::now().as_millis()],
    )?;
    if changed == 0 {
        return Err(not_found(Resource::Namespace, name));
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    let record =
        load_namespace(&conn, name)?.ok_or_else(|| not_found(Resource::Namespace, name))?;
    Ok(Arc::new(record))
}
