//! The gate every protected request passes: the per-IP rate limit, then the credential check,
//! which yields the [`Principal`] the request acts for ([`Caller`]).
//!
//! A credential is an API key (`X-API-Key: KEY`, or `Authorization: Bearer KEY`) or an
//! invocation token (`Authorization: Bearer JWT`). Management routes need one ([`gate`]);
//! invocations do not ([`call_gate`]): a public function takes calls without, and the invoke
//! handler decides once it knows the function. A credential that is presented is always
//! checked: a bad one is a 401 even on a public function.
//!
//! Keys and tokens are checked by [`FunctionHost::authenticate`](crate::functions::FunctionHost::authenticate)
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
use crate::functions::access::{AccessError, Credential, Principal};

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

/// Who an admitted call acts for: `None` when it presented no credential (enough for a public
/// function only).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Arc<Principal>>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<MaybeCaller>()
            .cloned()
            .unwrap_or(MaybeCaller(None)))
    }
}

/// The per-IP rate limit and authentication, as middleware: a credential is required.
pub async fn gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    pass(&state, peer, request, next, true).await
}

/// The gate of invocations: the per-IP rate limit, and a credential checked when presented.
pub async fn call_gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    pass(&state, peer, request, next, false).await
}

async fn pass(
    state: &AppState,
    peer: SocketAddr,
    mut request: Request,
    next: Next,
    required: bool,
) -> Response {
    match admit(state, peer, request.headers(), required).await {
        Ok((caller, decision)) => {
            if let Some(who) = &caller {
                request.extensions_mut().insert(Caller(who.clone()));
            }
            request.extensions_mut().insert(MaybeCaller(caller));
            let mut response = next.run(request).await;
            annotate(&mut response, decision);
            response
        }
        Err(refusal) => refusal,
    }
}

/// The credential `headers` carry: `X-API-Key`, else `Authorization: Bearer` (a token when
/// it has a JWT's shape, a key otherwise).
pub(super) fn credential(headers: &HeaderMap) -> Credential<'_> {
    if let Some(key) = headers.get("x-api-key") {
        return Credential::Key(key.as_bytes());
    }
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Credential::None;
    };
    let value = value.as_bytes();
    let bearer = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| value[7..].trim_ascii());
    match bearer {
        // An unknown scheme is no credential this host knows: as if it were absent.
        None => Credential::None,
        Some(b) if b.starts_with(b"eyJ") && b.iter().filter(|&&c| c == b'.').count() == 2 => {
            Credential::Token(b)
        }
        Some(b) => Credential::Key(b),
    }
}

/// The gate's checks: the per-IP rate limit, then the credential (`required`: its absence is
/// a 401). `Ok` carries who the request acts for and the rate-limit decision for [`annotate`];
/// `Err` is the answer to send instead of handling the request.
pub(super) async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    required: bool,
) -> Result<(Option<Arc<Principal>>, Option<Decision>), Response> {
    let decision = if state.ip_limiter.enabled() {
        let key = peer.ip().to_string();
        Some(
            admit_one(&state.ip_limiter, Scope::Ip, &key, &state.metrics)
                .map_err(IntoResponse::into_response)?,
        )
    } else {
        None
    };
    let caller = match credential(headers) {
        Credential::None if !required => None,
        presented => Some(
            state
                .host
                .authenticate(presented)
                .await
                .map_err(|e| ApiError::from(e).into_response())?,
        ),
    };
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
            AccessError::InvalidToken => ApiError::InvalidToken,
            AccessError::Unavailable(reason) => {
                ApiError::Internal(anyhow::anyhow!("verifying an API key: {reason}"))
            }
        }
    }
}
