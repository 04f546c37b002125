//! Invocation routes: RPC and typed calls with `{"method", "params"}`, plain HTTP passed through
//! to `wasi:http` handlers, and the function's logs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::AppState;
use super::auth::{Caller, MaybeCaller};
use super::body::{check_json_body, parse_json, read_limited};
use super::error::ApiError;
use super::extract::Path;
use super::ratelimit::{Scope, admit_one};
use super::wire::{LogItem, LogList};
use crate::functions::ComponentKind;
use crate::functions::access::Principal;
use crate::functions::observe::CallContext;
use crate::functions::{Active, CgiRequest, InvokeError};
use crate::model::{Interface, InvalidLogLevel, LevelFilter, LogLevel, LogQuery, Timestamp};
use crate::validate::{ValidationError, validate_function_id};

/// Marks a response produced by a guest, which keeps its own headers as they are.
#[derive(Debug, Clone, Copy)]
pub struct GuestResponse;

/// `ANY /v1/functions/:id`, and `/v1/functions/:id/invoke`, which behaves identically.
pub async fn invoke(
    state: State<Arc<AppState>>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    invoke_function(state.0, id, caller, request).await
}

/// What [`invoke`] answers, for the front's direct path (`front.rs`).
pub(super) async fn invoke_function(
    state: Arc<AppState>,
    id: String,
    caller: Option<Arc<Principal>>,
    request: Request,
) -> Response {
    let span = invoke_span(&id);
    dispatch(state, id, caller, None, request)
        .instrument(span)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `ANY /v1/functions/:id/*rest`: sub-paths, for HTTP handlers.
pub async fn invoke_path(
    state: State<Arc<AppState>>,
    MaybeCaller(caller): MaybeCaller,
    Path((id, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    let span = invoke_span(&id);
    dispatch(state.0, id, caller, Some(rest), request)
        .instrument(span)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The span every invocation runs in: the function, and the request id once it is known.
fn invoke_span(id: &str) -> tracing::Span {
    tracing::info_span!("invoke", function = %id, request_id = tracing::field::Empty)
}

fn request_id(request: &Request) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()))
}

async fn dispatch(
    state: Arc<AppState>,
    id: String,
    caller: Option<Arc<Principal>>,
    rest: Option<String>,
    request: Request,
) -> Result<Response, ApiError> {
    validate_function_id(&id)?;
    if state.function_limiter.enabled() {
        admit_one(
            &state.function_limiter,
            Scope::Function,
            &id,
            &state.metrics,
        )?;
    }
    let context = CallContext::http(request_id(&request));
    tracing::Span::current().record("request_id", context.request_id.as_str());
    let active = state.host.callable(&id, caller.as_deref()).await?;
    if active.kind() == ComponentKind::Http {
        return pass_through(state, active, rest, context, request).await;
    }
    if active.kind() == ComponentKind::Command && active.served.interface == Interface::Http {
        return cgi(state, active, rest, context, request).await;
    }
    if let Some(rest) = rest {
        return Err(ApiError::RouteNotFound(format!(
            "/v1/functions/{id}/{rest}"
        )));
    }
    if request.method() != Method::POST {
        // An RPC or typed function takes POST only (the router's own 405s say `Allow` too).
        let mut refusal = ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
        }
        .into_response();
        refusal
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(refusal);
    }
    let (parts, body) = request.into_parts();
    let raw = read_limited(&parts.headers, body, state.config.max_upload_mb << 20).await?;
    let (method, params) = invoke_body(&parts.headers, &raw)?;
    let outcome = state.host.invoke(&active, &method, params, &context).await;
    let mut response = match outcome.result {
        // The guest's JSON goes out as it came (validated, not re-serialized).
        Ok(result) => {
            let mut body = String::with_capacity(result.get().len() + 11);
            body.push_str("{\"result\":");
            body.push_str(result.get());
            body.push('}');
            let json = HeaderValue::from_static("application/json");
            (StatusCode::OK, [(header::CONTENT_TYPE, json)], body).into_response()
        }
        Err(error) => ApiError::Invocation { id, error }.into_response(),
    };
    set_call_headers(&mut response, &context.request_id, &active.served.version);
    Ok(response)
}

/// `{"method", "params"}` from an invoke body: the method as a string, the params as the raw
/// JSON the client sent (`[]` when absent), handed to the guest without being re-serialized.
fn invoke_body<'a>(headers: &HeaderMap, raw: &'a [u8]) -> Result<(String, &'a RawValue), ApiError> {
    const NO_PARAMS: &str = "[]";
    check_json_body(headers, raw)?;
    let fields: Option<HashMap<Cow<'a, str>, &'a RawValue>> = serde_json::from_slice(raw).ok();
    let Some(fields) = fields else {
        // Not a JSON object: the full parse says precisely what is wrong.
        let value = parse_json(headers, raw)?;
        if !value.is_object() {
            return Err(ValidationError::new(
                "body",
                Value::Null,
                "Invalid invoke body: expected {\"method\", \"params\"}",
            )
            .into());
        }
        return Err(ApiError::bad_request(
            "request body is not a valid invoke body",
        ));
    };
    let method = match fields.get("method") {
        Some(m) => match serde_json::from_str::<String>(m.get()) {
            Ok(m) if !m.is_empty() => m,
            _ => {
                return Err(ValidationError::new(
                    "method",
                    serde_json::from_str(m.get()).unwrap_or(Value::Null),
                    "Invalid method: must be a non-empty string",
                )
                .into());
            }
        },
        None => {
            return Err(ValidationError::new(
                "method",
                Value::Null,
                "Missing required field: method",
            )
            .into());
        }
    };
    let params = match fields.get("params") {
        Some(p) => *p,
        None => serde_json::from_str::<&RawValue>(NO_PARAMS)
            .map_err(|e| ApiError::Internal(e.into()))?,
    };
    Ok((method, params))
}

fn set_call_headers(response: &mut Response, rid: &str, version: &str) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(rid) {
        headers.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert("x-fdo-version", v);
    }
}

async fn pass_through(
    state: Arc<AppState>,
    active: Arc<Active>,
    rest: Option<String>,
    context: CallContext,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let path = guest_path(&parts.uri, rest);
    let authority = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(authority.as_str())
        .path_and_query(path.as_str())
        .build()
        .map_err(|e| ApiError::bad_request(format!("invalid request URI: {e}")))?;
    let limit = usize::try_from(state.config.max_upload_mb << 20).unwrap_or(usize::MAX);
    let request = Request::from_parts(parts, http_body_util::Limited::new(body, limit));
    let version = active.served.version.clone();
    let function = active.record.id.clone();
    let request_id = context.request_id.clone();
    let answer = state.host.invoke_http(active, request, context).await;
    let mut response = guest_answer(answer.map(|r| r.map(Body::new)), function);
    set_call_headers(&mut response, &request_id, &version);
    Ok(response)
}

/// A request for a WASI command deployed with `"interface": "http"`: its body read whole (up
/// to the upload limit), then passed CGI-style; the command's response comes back whole.
async fn cgi(
    state: Arc<AppState>,
    active: Arc<Active>,
    rest: Option<String>,
    context: CallContext,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    parts.uri = guest_path(&parts.uri, rest)
        .parse()
        .map_err(|e| ApiError::bad_request(format!("invalid request URI: {e}")))?;
    let body = read_limited(&parts.headers, body, state.config.max_upload_mb << 20).await?;
    let request = CgiRequest {
        parts,
        script_name: format!("/v1/functions/{}", active.record.id),
        body,
    };
    let outcome = state.host.invoke_cgi(&active, request, &context).await;
    let answer = outcome.result.map(|r| r.map(Body::from));
    let mut response = guest_answer(answer, active.record.id.clone());
    set_call_headers(&mut response, &context.request_id, &active.served.version);
    Ok(response)
}

/// What a guest sees of the request's path on the pass-through routes: the part after the
/// function's prefix (`/` at least), with the query.
fn guest_path(uri: &Uri, rest: Option<String>) -> String {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("/{}{query}", rest.unwrap_or_default())
}

/// A guest's HTTP answer as it is (marked as the guest's), or the API's error for `id`.
fn guest_answer(answer: Result<Response, InvokeError>, id: String) -> Response {
    match answer {
        Ok(mut response) => {
            response.extensions_mut().insert(GuestResponse);
            response
        }
        Err(error) => ApiError::Invocation { id, error }.into_response(),
    }
}

/// Query of `GET /v1/functions/:id/logs`.
#[derive(Debug, Deserialize)]
pub struct LogsParams {
    level: Option<String>,
    timestamp: Option<String>,
    limit: Option<String>,
}

/// Most entries one logs request returns.
pub const MAX_LOGS_LIMIT: usize = 1000;
/// Entries returned when `limit` is not given.
pub const DEFAULT_LOGS_LIMIT: usize = 100;

/// `GET /v1/functions/:id/logs?level=&timestamp=&limit=`: newest first. `level` keeps entries
/// of exactly that level; `timestamp` (ISO 8601 or Unix ms) keeps entries after it; `limit`
/// is 1 to 1000 (default 100).
pub async fn logs(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    params: Result<Query<LogsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LogList>, ApiError> {
    validate_function_id(&id)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let mut query = LogQuery::new(&id);
    if let Some(level) = params.level.as_deref() {
        let level: LogLevel = level.parse().map_err(|e: InvalidLogLevel| {
            ValidationError::new("level", json!(level), e.to_string())
        })?;
        query.level = Some(LevelFilter::Exact(level));
    }
    if let Some(ts) = params.timestamp.as_deref() {
        query.after = Some(parse_since(ts).ok_or_else(|| {
            ValidationError::new("timestamp", json!(ts), "Invalid timestamp: expected ISO 8601 (2024-01-15T10:30:00.000Z) or Unix milliseconds")
        })?);
    }
    query.limit = match params.limit.as_deref() {
        None => DEFAULT_LOGS_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LOGS_LIMIT).contains(&n) => n,
            _ => {
                return Err(ValidationError::new(
                    "limit",
                    json!(raw),
                    format!("Invalid limit: must be an integer from 1 to {MAX_LOGS_LIMIT}"),
                )
                .into());
            }
        },
    };
    let records = state.host.acting(&caller).logs(query).await?;
    Ok(Json(LogList {
        logs: records.iter().map(LogItem::from).collect(),
    }))
}

/// Unix milliseconds in a logs query: digits only, at most 13 (until the year 2286).
pub const UNIX_MS_PATTERN: &str = "^[0-9]{1,13}$";

/// The `timestamp` of a logs query: Unix milliseconds ([`UNIX_MS_PATTERN`]) or an RFC 3339
/// date-time.
fn parse_since(text: &str) -> Option<Timestamp> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return (1..=13)
            .contains(&text.len())
            .then(|| text.parse().ok().map(Timestamp::from_millis))
            .flatten();
    }
    // Timestamp::parse also takes signed integers; a date-time has a `T`.
    text.contains(['T', 't'])
        .then(|| Timestamp::parse(text))
        .flatten()
}
