//! API key material: generation, hashing and constant-time comparison. Storage backends keep
//! only [`hash_api_key`] of a key and its display prefix; the plaintext exists once, in the
//! [`super::CreatedKey`] returned at creation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::validate::ValidationError;

/// Prefix of every key fdo issues, so keys are recognisable in config files and scanners.
pub const API_KEY_PREFIX: &str = "fdo_";
/// Random bytes in a key (256 bits).
pub const API_KEY_RANDOM_BYTES: usize = 32;
/// Characters of a key kept for display (`fdo_` + 8).
pub const API_KEY_DISPLAY_PREFIX_LEN: usize = 12;
/// Longest key name.
pub const MAX_KEY_NAME_LEN: usize = 255;

/// A new random key: `fdo_` followed by 32 random bytes in unpadded base64url (43 chars).
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; API_KEY_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new random key id (`key_` + 16 hex characters), used to list and revoke keys.
pub fn generate_key_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("key_{}", hex::encode(bytes))
}

/// SHA-256 of the key's bytes: what storage keeps. Keys carry 256 random bits, so a fast hash
/// is enough (no password stretching needed).
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Whether `presented` hashes to `stored`, compared in constant time.
pub fn api_key_matches(presented: &str, stored: &[u8; 32]) -> bool {
    bool::from(hash_api_key(presented).ct_eq(stored))
}

/// The part of a key shown in listings.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_DISPLAY_PREFIX_LEN).collect()
}

/// Key names: 1-255 characters, no control characters.
pub fn validate_key_name(name: &str) -> Result<(), ValidationError> {
    let len = name.chars().count();
    if len == 0 || len > MAX_KEY_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            name,
            format!(
                "Invalid key name: must be 1-{MAX_KEY_NAME_LEN} characters without control characters"
            ),
        ));
    }
    Ok(())
}

/// A key as a backend keeps it for verification: its record and the SHA-256 of the key.
pub(crate) struct StoredKey {
    /// The listed record.
    pub(crate) record: crate::model::ApiKeyRecord,
    /// SHA-256 of the key (see [`hash_api_key`]).
    pub(crate) hash: [u8; 32],
}

/// A new key, checked: its record, its plaintext (shown once) and the hash to store.
pub(crate) fn new_key(
    key: crate::model::NewKey,
) -> Result<(crate::model::ApiKeyRecord, String, [u8; 32]), ValidationError> {
    let crate::model::NewKey {
        name,
        expires_at,
        role,
        namespaces,
    } = key;
    let name = name.as_str();
    validate_key_name(name)?;
    let now = crate::model::Timestamp::now();
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(ValidationError::new(
            "expiresAt",
            at.to_iso8601(),
            "Invalid expiresAt: must be in the future",
        ));
    }
    let plaintext = generate_api_key();
    let hash = hash_api_key(&plaintext);
    let record = crate::model::ApiKeyRecord {
        id: generate_key_id(),
        name: name.to_owned(),
        prefix: display_prefix(&plaintext),
        created_at: now,
        expires_at,
        revoked_at: None,
        role,
        namespaces,
    };
    Ok((record, plaintext, hash))
}

/// Checks a presented key against every stored one (`None` or empty: missing; unknown,
/// revoked or expired: invalid). Compares against all keys, so timing does not depend on
/// where a match is.
pub(crate) fn verify_among(
    keys: &[StoredKey],
    presented: Option<&str>,
) -> Result<crate::model::KeyInfo, super::AuthError> {
    let presented = match presented {
        None | Some("") => return Err(super::AuthError::Missing),
        Some(key) => key,
    };
    let hash = hash_api_key(presented);
    let mut found = None;
    for key in keys {
        if bool::from(key.hash.ct_eq(&hash)) {
            found = Some(key);
        }
    }
    let key = found.ok_or(super::AuthError::Invalid)?;
    if key.record.status(crate::model::Timestamp::now()) != crate::model::KeyStatus::Active {
        return Err(super::AuthError::Invalid);
    }
    Ok(crate::model::KeyInfo {
        id: key.record.id.clone(),
        name: key.record.name.clone(),
        expires_at: key.record.expires_at,
        role: key.record.role,
        namespaces: key.record.namespaces.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_differ() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX));
        assert_eq!(a.len(), API_KEY_PREFIX.len() + 43);
        assert!(
            a[API_KEY_PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(display_prefix(&a).len(), API_KEY_DISPLAY_PREFIX_LEN);
        let id = generate_key_id();
        assert!(id.starts_with("key_") && id.len() == 20);
        assert_ne!(id, generate_key_id());
    }

    #[test]
    fn matching_is_exact() {
        let key = generate_api_key();
        let stored = hash_api_key(&key);
        assert!(api_key_matches(&key, &stored));
        assert!(!api_key_matches(&key[..key.len() - 1], &stored));
        assert!(!api_key_matches(&format!("{key}x"), &stored));
        assert!(!api_key_matches("", &stored));
    }

    #[test]
    fn key_names() {
        validate_key_name("ci deploy key").unwrap();
        assert!(validate_key_name("").is_err());
        assert!(validate_key_name("a\nb").is_err());
        assert!(validate_key_name(&"n".repeat(256)).is_err());
    }
}
