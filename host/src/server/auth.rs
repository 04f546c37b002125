//! The gate every protected request passes: the per-IP rate limit, then the `X-API-Key` check.
//!
//! Keys are verified by the registry (hashed, constant-time, expiry and revocation honoured);
//! the configured `FDO_API_KEY` is compared in constant time too. A verified key is cached for
//! a few seconds so the hot path does not hit the database on every call; revocation therefore
//! takes effect within [`KEY_CACHE_TTL`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::ratelimit::Decision;
use crate::registry::AuthError;

/// How long a verified key is trusted without asking the registry again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Verified keys, by the sha256 of the presented value (never the key itself), with the time
/// they were verified and the key's expiry.
#[derive(Default)]
pub struct KeyCache {
    entries: DashMap<[u8; 32], (Instant, Option<i64>), crate::FastHash>,
}

impl KeyCache {
    fn fresh(&self, hash: &[u8; 32], now_ms: i64) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| e.0.elapsed() < KEY_CACHE_TTL && e.1.is_none_or(|exp| now_ms < exp))
    }

    /// Forgets every cached key (after a revocation through this host).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

/// The per-IP rate limit and authentication, as middleware.
pub async fn gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match admit(&state, peer, request.headers()).await {
        Ok(decision) => {
            let mut response = next.run(request).await;
            annotate(&mut response, decision);
            response
        }
        Err(refusal) => refusal,
    }
}

/// The gate's checks: the per-IP rate limit, then the key. `Ok` carries the rate-limit
/// decision for [`annotate`]; `Err` is the answer to send instead of handling the request.
pub(super) async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<Decision>, Response> {
    let decision = if state.ip_limiter.enabled() {
        let d = state.ip_limiter.check(&peer.ip().to_string());
        if !d.allowed {
            state.metrics.rate_limited("ip");
            return Err(ApiError::RateLimited {
                scope: "ip",
                retry_after: d.retry_after_s,
                reset_at: d.reset_at_ms,
            }
            .into_response());
        }
        Some(d)
    } else {
        None
    };
    authenticate(state, headers.get("x-api-key"))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(decision)
}

/// Adds the per-IP rate-limit headers to an admitted request's answer.
pub(super) fn annotate(response: &mut Response, decision: Option<Decision>) {
    if let Some(d) = decision {
        let headers = response.headers_mut();
        headers
            .entry("x-ratelimit-remaining")
            .or_insert(HeaderValue::from(d.remaining));
        headers
            .entry("x-ratelimit-reset")
            .or_insert(HeaderValue::from(d.reset_at_ms));
    }
}

async fn authenticate(state: &AppState, presented: Option<&HeaderValue>) -> Result<(), ApiError> {
    let Some(raw) = presented
        .map(HeaderValue::as_bytes)
        .filter(|v| !v.is_empty())
    else {
        return Err(ApiError::MissingKey);
    };
    if let Some(configured) = &state.config.api_key
        && bool::from(configured.as_bytes().ct_eq(raw))
    {
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(ApiError::InvalidKey);
    };
    let hash: [u8; 32] = Sha256::digest(raw).into();
    let now_ms = crate::registry::Timestamp::now().as_millis();
    if state.keys.fresh(&hash, now_ms) {
        return Ok(());
    }
    let registry = state.host.registry().clone();
    let owned = text.to_owned();
    let verified = tokio::task::spawn_blocking(move || registry.verify_key(Some(&owned)))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("key check task failed: {e}")))?;
    match verified {
        Ok(info) => {
            let expires = info.expires_at.map(|t| t.as_millis());
            state.keys.entries.insert(hash, (Instant::now(), expires));
            Ok(())
        }
        Err(AuthError::Missing) => Err(ApiError::MissingKey),
        Err(AuthError::Invalid) => Err(ApiError::InvalidKey),
        Err(AuthError::Unavailable(e)) => Err(ApiError::Internal(
            anyhow::Error::new(e).context("verifying an API key"),
        )),
    }
}
