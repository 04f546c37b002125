//! Who may call what (issue 22): namespaces, a function's privacy, invocation tokens. Every
//! handler acts through [`FunctionHost::acting`](crate::functions::FunctionHost::acting), which
//! checks the caller's role and namespaces before anything happens.
//!
//! - `POST|GET /v1/api/namespaces`, `GET|PATCH|DELETE /v1/api/namespaces/:name`,
//!   `POST /v1/api/namespaces/:name/rotate-token-key`
//! - `PATCH /v1/api/functions/:id` with `{"privacy"}`
//! - `POST /v1/api/tokens` with `{"functionId"}` or `{"namespace"}`, and `expiresAt`

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::body::{parse_json, read_limited};
use super::error::ApiError;
use super::extract::Path;
use super::wire::{DeleteStatus, FunctionMetadata, Iso8601};
use super::{AppState, Caller};
use crate::functions::acting::TokenFor;
use crate::model::Secrets;
use crate::model::access::{Privacy, TokenScope, validate_namespace_name};
use crate::model::{NamespaceInfo, NamespacePatch, NewNamespace, Timestamp};
use crate::validate::{ValidationError, validate_function_id};

/// Largest JSON body of these routes.
const BODY_LIMIT: u64 = 1 << 20;

/// A namespace as answered: its secrets by name only.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    /// Its name (the function id rules).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Environment variables every function of the namespace sees (a function's own win).
    pub env: BTreeMap<String, String>,
    /// Names of its secrets (their values are write-only).
    pub secret_names: Vec<String>,
    /// How many functions it holds.
    pub function_count: usize,
    /// Created.
    pub created_at: Iso8601,
    /// Last change (including a token key rotation).
    pub updated_at: Iso8601,
}

impl From<&NamespaceInfo> for Namespace {
    fn from(ns: &NamespaceInfo) -> Self {
        let r = &ns.record;
        Self {
            name: r.name.clone(),
            description: r.description.clone(),
            env: r.env.clone(),
            secret_names: r.secrets.names().map(str::to_owned).collect(),
            function_count: ns.function_count,
            created_at: r.created_at.to_iso8601(),
            updated_at: r.updated_at.to_iso8601(),
        }
    }
}

/// `GET /v1/api/namespaces`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NamespaceList {
    /// The namespaces the caller may see, by name.
    pub namespaces: Vec<Namespace>,
}

/// `DELETE /v1/api/namespaces/:name`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedNamespace {
    /// `deleted`.
    pub status: DeleteStatus,
    /// The namespace.
    pub name: String,
    /// The functions deleted with it (`?cascade=true`), by id.
    pub deleted_functions: Vec<String>,
}

/// What a token may call.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenScopeAnswer {
    /// The namespace whose key signed it.
    pub namespace: String,
    /// The one function it may call; absent: every function of the namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_id: Option<String>,
}

/// `POST /v1/api/tokens`: the token, shown this once (tokens are not stored).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokenAnswer {
    /// The JWT (EdDSA), for `Authorization: Bearer TOKEN` on the invoke routes.
    pub token: String,
    /// What it may call.
    pub scope: TokenScopeAnswer,
    /// When it stops working (besides a rotation of the namespace's token key); null: never.
    pub expires_at: Option<Iso8601>,
}

/// The body of `POST /v1/api/namespaces`.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // a schema only: parsed by `create_namespace`
pub(super) struct CreateNamespaceRequest {
    /// The function id rules: 1-255 of `[A-Za-z0-9_-]`, not starting or ending with `-`/`_`.
    #[schema(
        pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$",
        max_length = 255
    )]
    name: String,
    /// Free text: at most 1024 characters, no control characters but newlines and tabs.
    #[schema(max_length = 1024, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    description: Option<String>,
    /// Environment variables for every function of the namespace.
    #[schema(schema_with = super::openapi::env_schema)]
    env: Option<BTreeMap<String, String>>,
    /// Secrets for every function of the namespace (write-only).
    #[schema(schema_with = super::openapi::secrets_schema)]
    secrets: Option<BTreeMap<String, String>>,
}

/// The body of `PATCH /v1/api/namespaces/:name`: absent fields stay; an `env` or `secrets`
/// entry set to null is removed.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // a schema only: parsed by `update_namespace`
pub(super) struct UpdateNamespaceRequest {
    /// Free text: at most 1024 characters, no control characters but newlines and tabs.
    #[schema(max_length = 1024, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    description: Option<String>,
    /// Variables to set, or to remove (null).
    #[schema(schema_with = patch_map_schema)]
    env: Option<BTreeMap<String, Option<String>>>,
    /// Secrets to set, or to remove (null).
    #[schema(schema_with = patch_map_schema)]
    secrets: Option<BTreeMap<String, Option<String>>>,
}

fn patch_map_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(super::openapi::ENV_NAME_PATTERN))
                .build(),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .max_length(Some(crate::validate::MAX_ENV_VALUE_BYTES)),
        ))
        .max_properties(Some(crate::validate::MAX_ENV_ENTRIES))
        .description(Some("Name → value to set, or null to remove"))
        .build()
}

/// The body of `PATCH /v1/api/functions/:id`.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // a schema only: parsed by `patch_function`
pub(super) struct PatchFunctionRequest {
    /// Who may call the function.
    #[schema(value_type = super::wire::PrivacyName)]
    privacy: String,
}

/// The body of `POST /v1/api/tokens`: exactly one of `functionId` and `namespace`.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // a schema only: parsed by `issue_token`
pub(super) struct TokenRequest {
    /// A token for this function only.
    #[schema(
        pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$",
        max_length = 255
    )]
    function_id: Option<String>,
    /// A token for every function of this namespace.
    #[schema(
        pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$",
        max_length = 255
    )]
    namespace: Option<String>,
    /// When the token stops working (ISO 8601, in the future); absent or null: when the
    /// namespace's token key is rotated.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// Reads a JSON object body.
async fn object(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, ApiError> {
    let raw = read_limited(headers, body, BODY_LIMIT).await?;
    match parse_json(headers, &raw)? {
        Value::Object(map) => Ok(map),
        other => Err(ValidationError::new(
            "body",
            Value::Null,
            format!("Invalid body: expected a JSON object, got {}", kind(&other)),
        )
        .into()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuses fields other than `allowed`.
fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ValidationError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ValidationError::new(
            k.as_str(),
            Value::Null,
            format!("Unknown field: {k} (expected {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// An optional string field.
fn string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ValidationError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ValidationError::new(
            field,
            other.clone(),
            format!("Invalid {field}: must be a string"),
        )),
    }
}

/// An `env` or `secrets` object whose values are strings, or null when `nullable` (a patch's
/// removal). Secret values are never echoed in errors.
fn string_map(
    body: &Map<String, Value>,
    field: &str,
    nullable: bool,
) -> Result<BTreeMap<String, Option<String>>, ValidationError> {
    let secret = field == "secrets";
    let echo = |v: &Value| if secret { Value::Null } else { v.clone() };
    match body.get(field) {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), Some(s.clone()))),
                Value::Null if nullable => Ok((k.clone(), None)),
                other => Err(ValidationError::new(
                    format!("{field}.{k}"),
                    echo(other),
                    format!(
                        "Invalid {field} value for {k}: must be a string{}",
                        if nullable {
                            " or null (to remove it)"
                        } else {
                            ""
                        }
                    ),
                )),
            })
            .collect(),
        Some(other) => Err(ValidationError::new(
            field,
            echo(other),
            format!("Invalid {field}: must be an object"),
        )),
    }
}

/// An ISO 8601 `expiresAt` in the future, if given.
pub(super) fn expires_at(body: &Map<String, Value>) -> Result<Option<Timestamp>, ValidationError> {
    let invalid = |v: &Value| {
        ValidationError::new(
            "expiresAt",
            v.clone(),
            "Invalid expiresAt: expected an ISO 8601 timestamp",
        )
    };
    let at = match body.get("expiresAt") {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::String(s)) => Timestamp::parse(s).ok_or_else(|| invalid(v))?,
        Some(other) => return Err(invalid(other)),
    };
    if at <= Timestamp::now() {
        return Err(ValidationError::new(
            "expiresAt",
            body["expiresAt"].clone(),
            "Invalid expiresAt: must be in the future",
        ));
    }
    Ok(Some(at))
}

/// `GET /v1/api/namespaces`.
pub async fn list_namespaces(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Json<NamespaceList>, ApiError> {
    let all = state.host.acting(&caller).namespaces().await?;
    Ok(Json(NamespaceList {
        namespaces: all.iter().map(Namespace::from).collect(),
    }))
}

/// `POST /v1/api/namespaces`.
pub async fn create_namespace(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Namespace>), ApiError> {
    let body = object(&headers, body).await?;
    only(&body, &["name", "description", "env", "secrets"])?;
    let name = string(&body, "name")?
        .ok_or_else(|| ValidationError::new("name", Value::Null, "Missing required field: name"))?;
    validate_namespace_name(&name)?;
    let set = |m: BTreeMap<String, Option<String>>| {
        m.into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect::<BTreeMap<_, _>>()
    };
    let namespace = NewNamespace {
        name,
        description: string(&body, "description")?.unwrap_or_default(),
        env: set(string_map(&body, "env", false)?),
        secrets: Secrets::new(set(string_map(&body, "secrets", false)?))?,
    };
    let created = state
        .host
        .acting(&caller)
        .create_namespace(namespace)
        .await?;
    tracing::info!(namespace = %created.name, by = %caller, "namespace created");
    Ok((
        StatusCode::CREATED,
        Json(Namespace::from(&NamespaceInfo {
            record: created,
            function_count: 0,
        })),
    ))
}

/// `GET /v1/api/namespaces/:name`.
pub async fn get_namespace(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Namespace>, ApiError> {
    validate_namespace_name(&name)?;
    let info = state.host.acting(&caller).namespace(&name).await?;
    Ok(Json(Namespace::from(&info)))
}

/// `PATCH /v1/api/namespaces/:name`: its functions see the change from their next call.
pub async fn update_namespace(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Namespace>, ApiError> {
    validate_namespace_name(&name)?;
    let body = object(&headers, body).await?;
    only(&body, &["description", "env", "secrets"])?;
    let patch = NamespacePatch {
        description: string(&body, "description")?,
        env: string_map(&body, "env", true)?,
        secrets: string_map(&body, "secrets", true)?,
    };
    let acting = state.host.acting(&caller);
    let updated = acting.update_namespace(&name, patch).await?;
    tracing::info!(namespace = %name, functions = updated.functions.len(), by = %caller, "namespace updated");
    Ok(Json(Namespace::from(&acting.namespace(&name).await?)))
}

/// Query of `DELETE /v1/api/namespaces/:name`.
#[derive(Debug, Deserialize)]
pub struct DeleteParams {
    cascade: Option<String>,
}

/// `DELETE /v1/api/namespaces/:name[?cascade=true]`.
pub async fn delete_namespace(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    query: Result<Query<DeleteParams>, QueryRejection>,
) -> Result<Json<DeletedNamespace>, ApiError> {
    validate_namespace_name(&name)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let cascade = match query.cascade.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ValidationError::new(
                "cascade",
                other,
                "Invalid cascade: must be true or false",
            )
            .into());
        }
    };
    let outcome = state
        .host
        .acting(&caller)
        .delete_namespace(&name, cascade)
        .await?;
    tracing::info!(namespace = %name, functions = outcome.functions.len(), by = %caller, "namespace deleted");
    Ok(Json(DeletedNamespace {
        status: DeleteStatus::Deleted,
        name,
        deleted_functions: outcome.functions,
    }))
}

/// `POST /v1/api/namespaces/:name/rotate-token-key`: every token signed before stops working.
pub async fn rotate_token_key(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Namespace>, ApiError> {
    validate_namespace_name(&name)?;
    let acting = state.host.acting(&caller);
    acting.rotate_token_key(&name).await?;
    tracing::info!(namespace = %name, by = %caller, "token key rotated");
    Ok(Json(Namespace::from(&acting.namespace(&name).await?)))
}

/// `PATCH /v1/api/functions/:id` with `{"privacy"}`: no new version; a history entry when it
/// changes.
pub async fn patch_function(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FunctionMetadata>, ApiError> {
    validate_function_id(&id)?;
    let body = object(&headers, body).await?;
    only(&body, &["privacy"])?;
    let privacy: Privacy = match body.get("privacy") {
        Some(Value::String(p)) => p.parse()?,
        None => {
            return Err(ValidationError::new(
                "privacy",
                Value::Null,
                "Missing required field: privacy",
            )
            .into());
        }
        Some(other) => {
            return Err(ValidationError::new(
                "privacy",
                other.clone(),
                "Invalid privacy: must be private or public",
            )
            .into());
        }
    };
    let change = state.host.acting(&caller).set_privacy(&id, privacy).await?;
    if change.previous != privacy {
        tracing::info!(function = %id, from = %change.previous, to = %privacy, by = %caller, "privacy changed");
    }
    let f = &change.function;
    Ok(Json(FunctionMetadata::new(f, &f.active)))
}

/// `POST /v1/api/tokens`.
pub async fn issue_token(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IssuedTokenAnswer>), ApiError> {
    let body = object(&headers, body).await?;
    only(&body, &["functionId", "namespace", "expiresAt"])?;
    let target = match (string(&body, "functionId")?, string(&body, "namespace")?) {
        (Some(id), None) => {
            validate_function_id(&id).map_err(|e| ValidationError {
                field: "functionId".into(),
                ..e
            })?;
            TokenFor::Function(id)
        }
        (None, Some(ns)) => {
            validate_namespace_name(&ns)?;
            TokenFor::Namespace(ns)
        }
        _ => {
            return Err(ValidationError::new(
                "functionId",
                Value::Null,
                "Give exactly one of functionId (a token for one function) and namespace (for every function of a namespace)",
            )
            .into());
        }
    };
    let expires_at = expires_at(&body)?;
    let issued = state
        .host
        .acting(&caller)
        .issue_token(target, expires_at)
        .await?;
    tracing::info!(scope = %issued.scope, by = %caller, "token issued");
    let scope = match issued.scope {
        TokenScope::Function { namespace, id } => TokenScopeAnswer {
            namespace,
            function_id: Some(id),
        },
        TokenScope::Namespace(namespace) => TokenScopeAnswer {
            namespace,
            function_id: None,
        },
    };
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenAnswer {
            token: issued.token,
            scope,
            expires_at: issued.expires_at.map(|t| t.to_iso8601()),
        }),
    ))
}

/// The OpenAPI declarations of these routes (`openapi.rs` lists them).
pub(super) mod paths {
    #![allow(dead_code, clippy::unused_async)] // documentation only: the handlers are above

    use super::super::error::ErrorBody;
    use super::super::wire::FunctionMetadata;
    use super::{
        CreateNamespaceRequest, DeletedNamespace, IssuedTokenAnswer, Namespace, NamespaceList,
        PatchFunctionRequest, TokenRequest, UpdateNamespaceRequest,
    };

    /// List namespaces
    ///
    /// The namespaces the key may see (a key limited to some namespaces sees those only), by
    /// name. Needs a key with role read, deploy or admin.
    #[utoipa::path(
        get,
        path = "/v1/api/namespaces",
        operation_id = "listNamespaces",
        tag = "namespaces",
        responses(
            (status = 200, description = "The namespaces", body = NamespaceList),
            (status = 403, description = "The credential cannot read (FORBIDDEN)", body = ErrorBody),
        )
    )]
    pub async fn list_namespaces() {}

    /// Create a namespace
    ///
    /// Needs an admin key for every namespace.
    #[utoipa::path(
        post,
        path = "/v1/api/namespaces",
        operation_id = "createNamespace",
        tag = "namespaces",
        request_body = CreateNamespaceRequest,
        responses(
            (status = 201, description = "Created", body = Namespace),
            (status = 400, description = "Invalid name, description, env or secrets (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot manage namespaces (FORBIDDEN)", body = ErrorBody),
            (status = 409, description = "The name is taken (CONFLICT)", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Not JSON", body = ErrorBody),
        )
    )]
    pub async fn create_namespace() {}

    /// A namespace
    #[utoipa::path(
        get,
        path = "/v1/api/namespaces/{name}",
        operation_id = "getNamespace",
        tag = "namespaces",
        params(("name" = String, Path, description = "Namespace name")),
        responses(
            (status = 200, description = "The namespace", body = Namespace),
            (status = 400, description = "Invalid name (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot read (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such namespace, or one outside the key's (NOT_FOUND)", body = ErrorBody),
        )
    )]
    pub async fn get_namespace() {}

    /// Change a namespace
    ///
    /// Its functions see the new env and secrets from their next call, without a redeploy;
    /// each of them gets a `namespace` history entry naming what changed. Needs an admin key.
    #[utoipa::path(
        patch,
        path = "/v1/api/namespaces/{name}",
        operation_id = "updateNamespace",
        tag = "namespaces",
        params(("name" = String, Path, description = "Namespace name")),
        request_body = UpdateNamespaceRequest,
        responses(
            (status = 200, description = "The namespace after the change", body = Namespace),
            (status = 400, description = "Invalid field (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot manage namespaces (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such namespace, or one outside the key's (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Not JSON", body = ErrorBody),
        )
    )]
    pub async fn update_namespace() {}

    /// Delete a namespace
    ///
    /// A namespace that holds functions is refused unless `cascade=true`, which deletes them
    /// with their versions, history and logs in one transaction. `default` cannot be deleted.
    /// Needs an admin key.
    #[utoipa::path(
        delete,
        path = "/v1/api/namespaces/{name}",
        operation_id = "deleteNamespace",
        tag = "namespaces",
        params(
            ("name" = String, Path, description = "Namespace name"),
            ("cascade" = Option<bool>, Query, description = "Delete its functions too"),
        ),
        responses(
            (status = 200, description = "Deleted", body = DeletedNamespace),
            (status = 400, description = "Invalid name or cascade, or `default` (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot manage namespaces (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such namespace, or one outside the key's (NOT_FOUND)", body = ErrorBody),
            (status = 409, description = "It holds functions and cascade is not true (CONFLICT)", body = ErrorBody),
        )
    )]
    pub async fn delete_namespace() {}

    /// Rotate a namespace's token key
    ///
    /// Every token the namespace's key signed stops working at once. Needs an admin key.
    #[utoipa::path(
        post,
        path = "/v1/api/namespaces/{name}/rotate-token-key",
        operation_id = "rotateTokenKey",
        tag = "namespaces",
        params(("name" = String, Path, description = "Namespace name")),
        responses(
            (status = 200, description = "Rotated", body = Namespace),
            (status = 400, description = "Invalid name (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot manage namespaces (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such namespace, or one outside the key's (NOT_FOUND)", body = ErrorBody),
        )
    )]
    pub async fn rotate_token_key() {}

    /// Change a function's privacy
    ///
    /// `public`: anyone may call it (the rate limits still apply); `private`: calls need a key
    /// or token. No new version; a `privacy` history entry when it changes. Needs a deploy or
    /// admin key.
    #[utoipa::path(
        patch,
        path = "/v1/api/functions/{id}",
        operation_id = "patchFunction",
        tag = "functions",
        params(("id" = String, Path, description = "Function id")),
        request_body = PatchFunctionRequest,
        responses(
            (status = 200, description = "The function after the change", body = FunctionMetadata),
            (status = 400, description = "Invalid id or privacy (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot deploy (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such function, or one outside the key's namespaces (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Not JSON", body = ErrorBody),
        )
    )]
    pub async fn patch_function() {}

    /// Issue an invocation token
    ///
    /// A signed JWT (EdDSA) that may call one function, or every function of a namespace, and
    /// nothing else; present it as `Authorization: Bearer TOKEN` on the invoke routes. Tokens
    /// are not stored: rotating the namespace's token key revokes them. Needs an invoke or
    /// admin key that may call what the token would.
    #[utoipa::path(
        post,
        path = "/v1/api/tokens",
        operation_id = "issueToken",
        tag = "tokens",
        request_body = TokenRequest,
        responses(
            (status = 201, description = "The token, shown once", body = IssuedTokenAnswer),
            (status = 400, description = "Invalid field, or not exactly one of functionId and namespace (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The credential cannot issue this token (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "No such function or namespace, or one outside the key's (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body too large", body = ErrorBody),
            (status = 415, description = "Not JSON", body = ErrorBody),
        )
    )]
    pub async fn issue_token() {}
}
