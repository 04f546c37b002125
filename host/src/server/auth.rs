//! The gate every protected request passes: the per-IP rate limit, then the `X-API-Key`
//! check, which yields the [`Principal`] the request acts for ([`Caller`]).
//!
//! Keys are checked by [`FunctionHost::authenticate`](crate::functions::FunctionHost::authenticate)
//! (the host key, stored keys, a short cache: see `functions/access.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::ratelimit::{Decision, Scope, admit_one};
use crate::functions::access::{AccessError, Principal};

/// Who an admitted request acts for; an extractor for the handlers behind the gate.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::MissingKey)
    }
}

/// The per-IP rate limit and authentication, as middleware.
pub async fn gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(&state, peer, request.headers()).await {
        Ok((caller, decision)) => {
            request.extensions_mut().insert(Caller(caller));
            let mut response = next.run(request).await;
            annotate(&mut response, decision);
            response
        }
        Err(refusal) => refusal,
    }
}

/// The gate's checks: the per-IP rate limit, then the key. `Ok` carries who the request acts
/// for and the rate-limit decision for [`annotate`]; `Err` is the answer to send instead of
/// handling the request.
pub(super) async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(Arc<Principal>, Option<Decision>), Response> {
    let decision = if state.ip_limiter.enabled() {
        let key = peer.ip().to_string();
        Some(
            admit_one(&state.ip_limiter, Scope::Ip, &key, &state.metrics)
                .map_err(IntoResponse::into_response)?,
        )
    } else {
        None
    };
    let presented = headers
        .get("x-api-key")
        .map_or(&[][..], HeaderValue::as_bytes);
    let caller = state
        .host
        .authenticate(presented)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok((caller, decision))
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

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Missing => ApiError::MissingKey,
            AccessError::Invalid => ApiError::InvalidKey,
            AccessError::Unavailable(reason) => {
                ApiError::Internal(anyhow::anyhow!("verifying an API key: {reason}"))
            }
        }
    }
}
