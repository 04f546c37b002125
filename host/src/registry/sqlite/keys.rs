//! API keys: created (only the hash is stored), listed, revoked, and checked on every request
//! against the cached list in constant time.

use rusqlite::{TransactionBehavior, params};

use super::rows::bump_generation;
use super::rows::load_keys;
use super::{SqliteStore, not_found};
use crate::model::{ApiKeyRecord, CreatedKey, KeyInfo, Resource, Timestamp};
use crate::registry::keys::{new_key, verify_among};
use crate::registry::{AuthError, RegistryError};

pub(super) fn create_key(
    reg: &SqliteStore,
    name: &str,
    expires_at: Option<Timestamp>,
) -> Result<CreatedKey, RegistryError> {
    let created = insert_key(reg, name, expires_at, false)?;
    created.ok_or_else(|| RegistryError::Unavailable("key not created".into()))
}

/// Creates the key `name` only if the store has no key at all (checked in the insert's
/// transaction: of processes starting at once on an empty store, one creates it).
pub(super) fn create_first_key(
    reg: &SqliteStore,
    name: &str,
) -> Result<Option<CreatedKey>, RegistryError> {
    insert_key(reg, name, None, true)
}

fn insert_key(
    reg: &SqliteStore,
    name: &str,
    expires_at: Option<Timestamp>,
    only_first: bool,
) -> Result<Option<CreatedKey>, RegistryError> {
    let (record, plaintext, hash) = new_key(name, expires_at)?;
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if only_first {
        let keys: i64 = tx.query_row("SELECT count(*) FROM api_keys", [], |row| row.get(0))?;
        if keys > 0 {
            return Ok(None);
        }
    }
    tx.execute(
        "INSERT INTO api_keys (id, name, prefix, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.id,
            record.name,
            record.prefix,
            hash,
            record.created_at.as_millis(),
            expires_at.map(Timestamp::as_millis)
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
