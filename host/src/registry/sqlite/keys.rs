//! API keys: created (only the hash is stored), listed, revoked, and checked on every request
//! against the cached list in constant time.

use rusqlite::{TransactionBehavior, params};

use super::rows::{bump_generation, encode_namespaces, load_keys, load_namespace};
use super::{SqliteStore, not_found};
use crate::model::{ApiKeyRecord, CreatedKey, KeyInfo, NewKey, Resource, Timestamp};
use crate::registry::keys::{new_key, verify_among};
use crate::registry::{AuthError, RegistryError};

pub(super) fn create_key(reg: &SqliteStore, key: NewKey) -> Result<CreatedKey, RegistryError> {
    let created = insert_key(reg, key, false)?;
    created.ok_or_else(|| RegistryError::Unavailable("key not created".into()))
}

/// Creates the key `name` only if the store has no key at all (checked in the insert's
/// transaction: of processes starting at once on an empty store, one creates it).
pub(super) fn create_first_key(
    reg: &SqliteStore,
    name: &str,
) -> Result<Option<CreatedKey>, RegistryError> {
    insert_key(reg, NewKey::admin(name, None), true)
}

fn insert_key(
    reg: &SqliteStore,
    key: NewKey,
    only_first: bool,
) -> Result<Option<CreatedKey>, RegistryError> {
    let (record, plaintext, hash) = new_key(key)?;
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if only_first {
        let keys: i64 = tx.query_row("SELECT count(*) FROM api_keys", [], |row| row.get(0))?;
        if keys > 0 {
            return Ok(None);
        }
    }
    if let Some(list) = record.namespaces.as_list() {
        for ns in list {
            if load_namespace(&tx, ns)?.is_none() {
                return Err(not_found(Resource::Namespace, ns));
            }
        }
    }
    tx.execute(
        "INSERT INTO api_keys (id, name, prefix, hash, created_at, expires_at, role, namespaces) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            record.id,
            record.name,
            record.prefix,
            hash,
            record.created_at.as_millis(),
            record.expires_at.map(Timestamp::as_millis),
            record.role.as_str(),
            encode_namespaces(&record.namespaces)?,
        ],
    )?;
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    Ok(Some(CreatedKey {
        record,
        key: plaintext,
    }))
}

pub(super) fn list_keys(reg: &SqliteStore) -> Result<Vec<ApiKeyRecord>, RegistryError> {
    Ok(load_keys(&reg.reader())?
        .into_iter()
        .map(|k| k.record)
        .collect())
}

pub(super) fn revoke_key(reg: &SqliteStore, id: &str) -> Result<ApiKeyRecord, RegistryError> {
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id, Timestamp::now().as_millis()],
    )?;
    if changed == 0 {
        return Err(not_found(Resource::ApiKey, id));
    }
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    load_keys(&conn)?
        .into_iter()
        .map(|k| k.record)
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(Resource::ApiKey, id))
}

pub(super) fn verify_key(reg: &SqliteStore, presented: Option<&str>) -> Result<KeyInfo, AuthError> {
    if matches!(presented, None | Some("")) {
        return Err(AuthError::Missing);
    }
    let keys = reg.cached_keys()?;
    verify_among(&keys, presented)
}
