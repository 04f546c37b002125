//! Management routes: deploy, list, info, versions, rollback, delete, keys, and the public
//! root and health answers.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::body::{is_json, media_type, parse_json, read_limited};
use super::error::ApiError;
use super::extract::Path;
use super::wire::{
    ApiKey, CreatedApiKey, DeleteStatus, Deleted, Deployment, FunctionInfo, FunctionMetadata,
    Health, KeyList, Rollback, RollbackStatus, ServiceInfo, VersionList,
};
use super::{AppState, Caller};
use crate::functions::HostError;
use crate::model::{DeployMetadata, Timestamp, parse_deploy_metadata};
use crate::validate::{json_kind, validate_function_id};

impl From<HostError> for ApiError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::NotFound { resource, id } => ApiError::NotFound {
                resource: resource.as_str(),
                id,
            },
            HostError::Conflict(message) => ApiError::Conflict {
                message,
                context: Value::Null,
            },
            HostError::Invalid(v) => ApiError::Validation(v),
            HostError::InvalidComponent(m) => ApiError::BadRequest {
                message: format!("Invalid component: {m}"),
                context: Some(json!({ "field": "code" })),
            },
            HostError::Unloadable { id, reason } => ApiError::Unavailable {
                id,
                message: reason,
            },
            HostError::StoreUnreachable(why) => {
                tracing::warn!(error = %why, "request refused: the database is unreachable");
                ApiError::StoreUnreachable(why)
            }
            HostError::Unauthenticated(e) => e.into(),
            HostError::Forbidden(message) => ApiError::Forbidden(message),
            HostError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// `GET /`: what this is and where to start.
pub async fn root() -> Json<ServiceInfo> {
    Json(ServiceInfo {
        service: "Functions.do",
        implementation: "fdo",
        version: env!("CARGO_PKG_VERSION"),
        documentation: "/openapi.json",
        console: "/console/",
        health: "/health",
        endpoints: [
            ("deploy", "POST /v1/api/functions"),
            ("list", "GET /v1/api/functions"),
            ("info", "GET /v1/api/functions/:id"),
            ("delete", "DELETE /v1/api/functions/:id"),
            ("rollback", "POST /v1/api/functions/:id/rollback"),
            ("invoke", "POST /v1/functions/:id"),
            ("logs", "GET /v1/functions/:id/logs"),
        ]
        .into_iter()
        .collect(),
    })
}

/// `GET /health`: `ok`, or `degraded` with the reason (the shared database unreachable: the
/// host still serves what it has loaded, so it answers 200 and stays in the load balancer).
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let reason = state.host.degraded_store();
    Json(Health {
        status: if reason.is_some() { "degraded" } else { "ok" },
        service: "Functions.do",
        reason,
    })
}

/// `GET /metrics`, Prometheus text format (every function's figures: a key for every
/// namespace only).
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    state
        .host
        .acting(&caller)
        .check_global(crate::model::access::Action::Read)?;
    let gauges = state.host.gauges().await;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(gauges),
    )
        .into_response())
}

/// `POST /v1/api/functions`: JSON with base64 `code`, or multipart with `metadata` and
/// `component` parts.
pub async fn deploy(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Deployment>, ApiError> {
    let limit = state.config.max_upload_mb << 20;
    let media = media_type(&headers);
    let (metadata, bytes) = match media.as_deref() {
        Some("multipart/form-data") => read_multipart(&headers, body, limit).await?,
        Some(m) if !is_json(m) => {
            return Err(ApiError::UnsupportedMediaType {
                got: m.to_owned(),
                expected: "application/json or multipart/form-data",
            });
        }
        _ => {
            let raw = read_limited(&headers, body, limit).await?;
            let value = parse_json(&headers, &raw)?;
            let metadata = parse_deploy_metadata(&value)?;
            let code = decode_code(value.get("code"))?;
            (metadata, code)
        }
    };
    // The loader reports the deploy's compile to the metrics itself.
    let deployed = state.host.acting(&caller).deploy(metadata, bytes).await?;
    Ok(Json(Deployment::new(&deployed)))
}

fn decode_code(code: Option<&Value>) -> Result<Vec<u8>, ApiError> {
    let invalid = |msg: &str, value: Value| {
        ApiError::Validation(crate::validate::ValidationError::new(
            "code",
            value,
            msg.to_owned(),
        ))
    };
    match code {
        None | Some(Value::Null) => Err(invalid(
            "Missing required field: code (the component, base64-encoded; or deploy as multipart/form-data)",
            Value::Null,
        )),
        Some(Value::String(s)) => {
            let trimmed: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(trimmed.as_bytes())
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(trimmed.as_bytes()))
                .map_err(|e| {
                    invalid(
                        &format!("Invalid code: not valid base64 ({e})"),
                        Value::Null,
                    )
                })
        }
        Some(other) => Err(invalid(
            "Invalid code: must be a base64 string",
            json!(json_kind(other)),
        )),
    }
}

async fn read_multipart(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<(DeployMetadata, Vec<u8>), ApiError> {
    let boundary = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| ApiError::bad_request("multipart/form-data without a boundary"))?;
    let raw = read_limited(headers, body, limit).await?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(raw) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut metadata = None;
    let mut component = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid multipart part {name:?}: {e}")))?;
        match name.as_str() {
            "metadata" => {
                let value: Value = serde_json::from_slice(&data).map_err(|e| {
                    ApiError::bad_request(format!("the metadata part is not valid JSON: {e}"))
                })?;
                metadata = Some(parse_deploy_metadata(&value)?);
            }
            "component" | "code" | "file" => component = Some(data.to_vec()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected multipart part {other:?}: expected \"metadata\" and \"component\""
                )));
            }
        }
    }
    let metadata = metadata.ok_or_else(|| {
        ApiError::bad_request("multipart deploy is missing the \"metadata\" part")
    })?;
    let component = component.ok_or_else(|| {
        ApiError::bad_request("multipart deploy is missing the \"component\" part")
    })?;
    Ok((metadata, component))
}

/// `GET /v1/api/functions?namespace=`: the functions the caller may see, of one namespace
/// when asked.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<FunctionMetadata>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    if let Some(ns) = &query.namespace {
        crate::model::access::validate_namespace_name(ns)?;
    }
    let records = state
        .host
        .acting(&caller)
        .list(query.namespace.as_deref())
        .await?;
    Ok(Json(
        records
            .iter()
            .map(|r| FunctionMetadata::new(r, &r.active))
            .collect(),
    ))
}

/// Query of `GET /v1/api/functions`.
#[derive(Debug, serde::Deserialize)]
pub struct ListParams {
    namespace: Option<String>,
}

/// `GET /v1/api/functions/:id` and `/info`: metadata and how the served version was loaded.
pub async fn info(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<FunctionInfo>, ApiError> {
    validate_function_id(&id)?;
    let acting = state.host.acting(&caller);
    match acting.get(&id).await {
        Ok(active) => Ok(Json(FunctionInfo::loaded(&active))),
        Err(HostError::Unloadable { id, reason }) => {
            let record = acting.function(&id).await?;
            Ok(Json(FunctionInfo::failed(&record, reason)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/api/functions/:id/versions`: every version and the deployment history.
pub async fn versions(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    validate_function_id(&id)?;
    Ok(Json(VersionList::from(
        &state.host.acting(&caller).versions(&id).await?,
    )))
}

/// `POST /v1/api/functions/:id/rollback` with `{"version"}`.
pub async fn rollback(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Rollback>, ApiError> {
    validate_function_id(&id)?;
    let raw = read_limited(&headers, body, 64 * 1024).await?;
    let value = parse_json(&headers, &raw)?;
    let version = match value.get("version") {
        Some(Value::String(v)) => v.clone(),
        Some(other) => {
            return Err(crate::validate::ValidationError::new(
                "version",
                other.clone(),
                "Invalid version: must be a string",
            )
            .into());
        }
        None => {
            return Err(crate::validate::ValidationError::new(
                "version",
                Value::Null,
                "Missing required field: version",
            )
            .into());
        }
    };
    crate::validate::validate_version(&version)?;
    let (active, previous) = state.host.acting(&caller).rollback(&id, &version).await?;
    Ok(Json(Rollback {
        id,
        version: active.record.active.version.clone(),
        status: RollbackStatus::Restored,
        previous,
        updated_at: active.record.updated_at.to_iso8601(),
    }))
}

/// `DELETE /v1/api/functions/:id`: the function, its versions and history.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    validate_function_id(&id)?;
    state.host.acting(&caller).delete(&id).await?;
    Ok(Json(Deleted {
        status: DeleteStatus::Deleted,
        id,
    }))
}

/// `GET /v1/api/keys`.
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state.host.acting(&caller).list_keys().await?;
    let now = Timestamp::now();
    Ok(Json(KeyList {
        keys: keys.iter().map(|k| ApiKey::with_status(k, now)).collect(),
    }))
}

/// `POST /v1/api/keys` with `{"name", "expiresAt"?, "role"?, "namespaces"?}`: the key is in
/// this answer only. `role` defaults to `admin` and `namespaces` (null or absent) to every
/// namespace; nobody creates a key with more rights than their own.
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let raw = read_limited(&headers, body, 64 * 1024).await?;
    let value = parse_json(&headers, &raw)?;
    let name = match value.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 128 => s.clone(),
        other => {
            return Err(crate::validate::ValidationError::new(
                "name",
                other.cloned().unwrap_or(Value::Null),
                "Invalid key name: must be a non-empty string of at most 128 characters",
            )
            .into());
        }
    };
    let expires_at = match value.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Timestamp::parse(s).ok_or_else(|| {
            crate::validate::ValidationError::new(
                "expiresAt",
                json!(s),
                "Invalid expiresAt: expected an ISO 8601 timestamp",
            )
        })?),
        Some(other) => {
            return Err(crate::validate::ValidationError::new(
                "expiresAt",
                other.clone(),
                "Invalid expiresAt: expected an ISO 8601 timestamp",
            )
            .into());
        }
    };
    if expires_at.is_some_and(|t| t <= Timestamp::now()) {
        return Err(crate::validate::ValidationError::new(
            "expiresAt",
            value["expiresAt"].clone(),
            "Invalid expiresAt: must be in the future",
        )
        .into());
    }
    let role = match value.get("role") {
        None | Some(Value::Null) => crate::model::access::Role::Admin,
        Some(Value::String(r)) => r.parse()?,
        Some(other) => {
            return Err(crate::validate::ValidationError::new(
                "role",
                other.clone(),
                "Invalid role: must be one of admin, deploy, invoke, read",
            )
            .into());
        }
    };
    let namespaces = match value.get("namespaces") {
        None | Some(Value::Null) => crate::model::access::Namespaces::All,
        Some(Value::Array(items)) => {
            let names = items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        crate::validate::ValidationError::new(
                            "namespaces",
                            v.clone(),
                            "Invalid namespaces: each must be a namespace name",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            crate::model::access::Namespaces::only(names)?
        }
        Some(other) => {
            return Err(crate::validate::ValidationError::new(
                "namespaces",
                other.clone(),
                "Invalid namespaces: must be a list of namespace names, or null for every namespace",
            )
            .into());
        }
    };
    let key = crate::model::NewKey {
        name,
        expires_at,
        role,
        namespaces,
    };
    let created = state.host.acting(&caller).create_key(key).await?;
    tracing::info!(key = %created.record.id, by = %caller, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            record: ApiKey::new(&created.record),
            key: created.key,
        }),
    ))
}

/// `DELETE /v1/api/keys/:id`: revokes at once on this host.
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    let record = state.host.acting(&caller).revoke_key(&key_id).await?;
    tracing::info!(key = %record.id, by = %caller, "API key revoked");
    Ok(Json(ApiKey::with_status(&record, Timestamp::now())))
}
