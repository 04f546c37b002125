//! Who is calling: API keys checked against the host's configured key and the registry, and
//! invocation tokens checked against their namespace's key ([`super::tokens`]), with the answer
//! cached so the hot path does not reach the database on every request.
//!
//! Keys are verified by the registry (hashed, constant-time, expiry and revocation honoured);
//! the configured `FDO_API_KEY` is compared in constant time too. A verified key is cached
//! for [`KEY_CACHE_TTL`] by the SHA-256 of the presented value (never the key itself), so a
//! revocation made elsewhere (by `fdo keys --data-dir`) takes effect within that time; one
//! made through this host at once. A verified token is cached the same way until it expires;
//! a token key rotation empties that cache at once ([`TokenCache`]'s epoch).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::model::Timestamp;

/// How long a verified key is trusted without asking the registry again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

pub use crate::model::access::Principal;

/// Verified tokens held at most: past this many the cache starts over (every entry is a
/// token someone was issued, so this only bounds memory).
pub const MAX_CACHED_TOKENS: usize = 100_000;

/// What a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// Nothing.
    None,
    /// An API key (`X-API-Key`, or `Authorization: Bearer fdo_...`).
    Key(&'a [u8]),
    /// An invocation token (`Authorization: Bearer JWT`).
    Token(&'a [u8]),
}

impl fmt::Display for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::None => "no credential",
            Credential::Key(_) => "an API key",
            Credential::Token(_) => "a token",
        })
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
    /// Malformed, tampered, expired, or signed with a key that is not current.
    #[error("Invalid token")]
    InvalidToken,
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

/// Verified tokens: by the SHA-256 of the token, the cache epoch they were verified in, their
/// expiry (Unix ms) and what they grant. A rotation bumps the epoch: older entries are stale.
#[derive(Default)]
pub(super) struct TokenCache {
    entries: DashMap<[u8; 32], CachedToken, crate::FastHash>,
    epoch: std::sync::atomic::AtomicU64,
}

/// A verified token: the cache epoch it was verified in, its expiry (Unix ms), what it grants.
type CachedToken = (u64, Option<i64>, Arc<Principal>);

impl TokenCache {
    /// The current epoch (read before verifying, passed to [`TokenCache::insert`]).
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) fn fresh(&self, hash: &[u8; 32], now_ms: i64) -> Option<Arc<Principal>> {
        let epoch = self.epoch();
        self.entries
            .get(hash)
            .and_then(|e| (e.0 == epoch && e.1.is_none_or(|exp| now_ms < exp)).then(|| e.2.clone()))
    }

    pub(super) fn insert(
        &self,
        hash: [u8; 32],
        epoch: u64,
        expires_ms: Option<i64>,
        who: Arc<Principal>,
    ) {
        if self.entries.len() >= MAX_CACHED_TOKENS {
            self.entries.clear();
        }
        self.entries.insert(hash, (epoch, expires_ms, who));
    }

    /// Every cached token is stale from now on (a token key rotated or a namespace changed).
    pub(super) fn invalidate(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
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
