//! API keys: created (only the hash is stored), listed, revoked, and checked on every request
//! against the cached list in constant time.

use rusqlite::{TransactionBehavior, params};
use subtle::ConstantTimeEq;

use super::rows::bump_generation;
use super::rows::load_keys;
use super::{SqliteRegistry, not_found};
use crate::model::{ApiKeyRecord, CreatedKey, KeyInfo, KeyStatus, Resource, Timestamp};
use crate::registry::keys::{
    display_prefix, generate_api_key, generate_key_id, hash_api_key, validate_key_name,
};
use crate::registry::{AuthError, RegistryError};
use crate::validate::ValidationError;

pub(super) fn create_key(
    reg: &SqliteRegistry,
    name: &str,
    expires_at: Option<Timestamp>,
) -> Result<CreatedKey, RegistryError> {
    validate_key_name(name)?;
    let now = Timestamp::now();
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(ValidationError::new(
            "expiresAt",
            at.to_iso8601(),
            "Invalid expiresAt: must be in the future",
        )
        .into());
    }
    let plaintext = generate_api_key();
    let record = ApiKeyRecord {
        id: generate_key_id(),
        name: name.to_owned(),
        prefix: display_prefix(&plaintext),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let mut conn = reg.write_conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO api_keys (id, name, prefix, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.id,
            record.name,
            record.prefix,
            hash_api_key(&plaintext),
            now.as_millis(),
            expires_at.map(Timestamp::as_millis)
        ],
    )?;
    let generation = bump_generation(&tx)?;
    tx.commit()?;
    reg.invalidate(generation);
    Ok(CreatedKey {
        record,
        key: plaintext,
    })
}

pub(super) fn list_keys(reg: &SqliteRegistry) -> Result<Vec<ApiKeyRecord>, RegistryError> {
    Ok(load_keys(&reg.reader())?
        .into_iter()
        .map(|k| k.record)
        .collect())
}

pub(super) fn revoke_key(reg: &SqliteRegistry, id: &str) -> Result<ApiKeyRecord, RegistryError> {
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

pub(super) fn verify_key(
    reg: &SqliteRegistry,
    presented: Option<&str>,
) -> Result<KeyInfo, AuthError> {
    let presented = match presented {
        None | Some("") => return Err(AuthError::Missing),
        Some(key) => key,
    };
    let keys = reg.cached_keys()?;
    let hash = hash_api_key(presented);
    // Compare against every key so timing does not depend on where a match is.
    let mut found = None;
    for key in keys.iter() {
        if bool::from(key.hash.ct_eq(&hash)) {
            found = Some(key);
        }
    }
    let key = found.ok_or(AuthError::Invalid)?;
    if key.record.status(Timestamp::now()) != KeyStatus::Active {
        return Err(AuthError::Invalid);
    }
    Ok(KeyInfo {
        id: key.record.id.clone(),
        name: key.record.name.clone(),
        expires_at: key.record.expires_at,
    })
}
