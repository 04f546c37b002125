//! Who is calling: API keys checked against the host's configured key and the registry, with
//! the answer cached briefly so the hot path does not reach the database on every request.
//!
//! Keys are verified by the registry (hashed, constant-time, expiry and revocation honoured);
//! the configured `FDO_API_KEY` is compared in constant time too. A verified key is cached
//! for [`KEY_CACHE_TTL`] by the SHA-256 of the presented value (never the key itself), so a
//! revocation made elsewhere (by `fdo keys --data-dir`) takes effect within that time; one
//! made through this host at once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::model::Timestamp;

/// How long a verified key is trusted without asking the registry again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Who a request acts for: what an authenticated key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// The key the host was configured with (`FDO_API_KEY`).
    HostKey,
    /// A key stored in the registry.
    ApiKey {
        /// The key's id.
        id: String,
        /// The key's name.
        name: String,
    },
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::HostKey => f.write_str("host key"),
            Principal::ApiKey { id, name } => write!(f, "key {id} ({name})"),
        }
    }
}

/// Why a presented credential was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Nothing was presented.
    #[error("Missing API key")]
    Missing,
    /// Unknown, revoked or expired.
    #[error("Invalid API key")]
    Invalid,
    /// The key store could not be read (not the caller's fault).
    #[error("key store unavailable: {0}")]
    Unavailable(String),
}

/// Verified keys: by the SHA-256 of the presented value, when they were verified, their expiry
/// (Unix ms) and who they stand for.
#[derive(Default)]
pub(super) struct KeyCache {
    entries: DashMap<[u8; 32], (Instant, Option<i64>, Arc<Principal>), crate::FastHash>,
}

impl KeyCache {
    pub(super) fn fresh(&self, hash: &[u8; 32], now_ms: i64) -> Option<Arc<Principal>> {
        self.entries.get(hash).and_then(|e| {
            (e.0.elapsed() < KEY_CACHE_TTL && e.1.is_none_or(|exp| now_ms < exp))
                .then(|| e.2.clone())
        })
    }

    pub(super) fn insert(&self, hash: [u8; 32], expires_ms: Option<i64>, who: Arc<Principal>) {
        self.entries.insert(hash, (Instant::now(), expires_ms, who));
    }

    /// Forgets every cached key (after a revocation through this host).
    pub(super) fn clear(&self) {
        self.entries.clear();
    }
}

/// The configured key, if any, and the principal it stands for (shared, so the hot path only
/// bumps a counter).
pub(super) struct HostKey {
    key: Option<String>,
    principal: Arc<Principal>,
}

impl HostKey {
    pub(super) fn new(key: Option<String>) -> Self {
        Self {
            key,
            principal: Arc::new(Principal::HostKey),
        }
    }

    /// Whether a host key is configured.
    pub(super) fn is_set(&self) -> bool {
        self.key.is_some()
    }

    /// The host key's principal when `presented` is the configured key (constant time).
    pub(super) fn matches(&self, presented: &[u8]) -> Option<Arc<Principal>> {
        let key = self.key.as_ref()?;
        bool::from(key.as_bytes().ct_eq(presented)).then(|| self.principal.clone())
    }
}

/// The cache key of a presented value.
pub(super) fn hash(presented: &[u8]) -> [u8; 32] {
    Sha256::digest(presented).into()
}

/// Now, in Unix ms, as key expiries are stored.
pub(super) fn now_ms() -> i64 {
    Timestamp::now().as_millis()
}
