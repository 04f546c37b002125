//! The OpenAPI 3.1 description of the API, generated from the code (utoipa) and served at
//! `GET /openapi.json`.
//!
//! The answers' schemas are derived from the types the handlers send (`wire.rs`, `error.rs`);
//! the requests' schemas below carry every rule the validators enforce that a schema can say
//! (id pattern, semantic versions, enums, limits, lengths). Each operation is written once,
//! for its `/v1` path, with every status it can answer; [`document`] then adds what every
//! protected operation shares (the key, 401, 429, 500) and the legacy forms without `/v1`.
//! Tests keep the document and the router in step, and schemathesis checks the server
//! against it (`host/tests`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use super::error::{ErrorBody, RateLimitBody};
use super::stats;
use super::wire::{
    ApiKey, CreatedApiKey, Deleted, Deployment, FunctionInfo, FunctionMetadata, Health,
    InterfaceName, KeyList, LanguageName, LogList, Rollback, ServiceInfo, VersionList,
};

/// A function id: 1-255 characters of `[A-Za-z0-9_-]`, not starting or ending with `-`/`_`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$";

/// A semantic version (semver.org's grammar; numeric parts of at most 19 digits, which fit
/// the 64 bits the server parses them into).
pub const SEMVER_PATTERN: &str = r"^(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})(?:-(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$";

/// An environment variable or secret name.
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,254}$";

/// The body of `POST /v1/api/functions` (JSON form).
#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // a schema only: the body is parsed by `validate::parse_deploy_metadata`
struct DeployRequest {
    #[schema(inline)]
    #[serde(flatten)]
    metadata: DeployMetadataPart,
    /// The WebAssembly component, base64-encoded.
    #[schema(content_encoding = "base64", min_length = 1)]
    code: String,
}

/// A deploy's metadata: the `metadata` part of a multipart deploy, and the JSON deploy's
/// fields but `code`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // a schema only: parsed by `validate::parse_deploy_metadata`
struct DeployMetadataPart {
    /// The function id.
    #[schema(
        pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$",
        max_length = 255
    )]
    id: String,
    /// A semantic version: `1.0.0`, `2.1.0-beta.1`, `1.0.0+build.123`.
    #[schema(
        pattern = r"^(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})(?:-(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$",
        max_length = 255
    )]
    version: String,
    language: LanguageName,
    /// The entry point: a relative path with `/` separators, no `..` or empty segment, and a
    /// file extension (`src/lib.rs`, `index.ts`).
    #[schema(
        min_length = 3,
        max_length = 1024,
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f]+(?:/[^/\\\x00-\x1f\x7f-\x9f]+)*\.[A-Za-z0-9]+$"
    )]
    entry_point: String,
    /// Package name → npm-style version range (`^1.2.3`, `~1.2`, `>=1 <2`, `1.x`, `*`,
    /// `latest`, alternatives with `||`); `{}` when there are none.
    #[schema(schema_with = dependencies_schema)]
    dependencies: BTreeMap<String, String>,
    /// Resource limits; each defaults to the host's.
    limits: Option<LimitsRequest>,
    /// Environment variables of the guest.
    #[schema(schema_with = env_schema)]
    env: Option<BTreeMap<String, String>>,
    /// Secrets: environment variables never returned, never logged, scrubbed from the guest's
    /// output.
    #[schema(schema_with = secrets_schema)]
    secrets: Option<BTreeMap<String, String>>,
    /// Outbound HTTP allow-list: `api.example.com`, `host:port`, `*.example.com`,
    /// `https://...`, `*`; everything else is refused.
    #[schema(max_items = 256)]
    allowed_hosts: Option<Vec<String>>,
    /// For a WASI command module (kind `command`): `rpc` (the default) takes
    /// `{"method", "params"}` on stdin and answers on stdout; `http` makes it a CGI handler on
    /// the function's routes. Refused (400) for any other kind of component.
    interface: Option<InterfaceName>,
}

/// Resource limits of a deploy.
#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Limits)]
#[allow(dead_code)] // a schema only: parsed by `validate::parse_deploy_metadata`
struct LimitsRequest {
    /// Memory per instance, MiB.
    #[schema(minimum = 1, maximum = 4096, default = 128)]
    memory_mb: Option<u32>,
    /// Time per call, ms.
    #[schema(minimum = 1, maximum = 300000, default = 5000)]
    timeout_ms: Option<u32>,
    /// Calls running at once.
    #[schema(minimum = 1, maximum = 1024, default = 64)]
    max_concurrency: Option<u32>,
}

fn string_map(max: usize, names: Option<&str>, max_value_len: usize) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_value_len));
    let mut map = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(value))
        .max_properties(Some(max));
    if let Some(pattern) = names {
        map = map.property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
                .build(),
        ));
    }
    map.build()
}

fn dependencies_schema() -> utoipa::openapi::Object {
    string_map(
        crate::validate::MAX_DEPENDENCIES,
        Some(r"^[^\s\x00-\x1f\x7f-\x9f]{1,255}$"),
        crate::validate::MAX_RANGE_LEN,
    )
}

pub(super) fn env_schema() -> utoipa::openapi::Object {
    string_map(
        crate::validate::MAX_ENV_ENTRIES,
        Some(ENV_NAME_PATTERN),
        crate::validate::MAX_ENV_VALUE_BYTES,
    )
}

pub(super) fn secrets_schema() -> utoipa::openapi::Object {
    let mut schema = string_map(
        crate::validate::MAX_ENV_ENTRIES,
        Some(ENV_NAME_PATTERN),
        crate::validate::MAX_ENV_VALUE_BYTES,
    );
    schema.write_only = Some(true);
    schema
}

/// The body of `POST /v1/api/functions/:id/rollback`.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only
struct RollbackRequest {
    /// The version to make active again.
    #[schema(
        pattern = r"^(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})(?:-(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$",
        max_length = 255
    )]
    version: String,
}

/// The body of `POST /v1/api/keys`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)] // a schema only
struct CreateKeyRequest {
    /// A name for the key: 1 to 128 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    name: String,
    /// When the key stops working (ISO 8601, in the future); never when absent.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// What the key may do (default `admin`); never more than the creating key's role.
    #[schema(value_type = Option<super::wire::RoleName>)]
    role: Option<String>,
    /// The namespaces the key acts in (1 to 64 names); absent or null: every namespace.
    /// Never beyond the creating key's.
    #[schema(min_items = 1, max_items = 64, inline)]
    namespaces: Option<Vec<NamespaceName>>,
}

/// A namespace name: the function id rules.
#[derive(ToSchema)]
#[schema(pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$")]
#[allow(dead_code)] // a schema only
struct NamespaceName(String);

/// The body of an RPC or typed call.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: read by `invoke::invoke_body`
struct InvokeRequest {
    /// The RPC method, or the typed export (`add`, `math#gcd`, `pkg:ns/iface@1.0.0#gcd`).
    #[schema(min_length = 1)]
    method: String,
    /// The parameters: an array (positional), an object (by name), or a bare value for one
    /// parameter; `[]` when absent.
    #[schema(value_type = Option<Value>)]
    params: Option<Value>,
}

/// An instant in a logs query: RFC 3339, or Unix milliseconds (at most 13 digits).
struct Since;

impl utoipa::PartialSchema for Since {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(super::invoke::UNIX_MS_PATTERN)),
            )
            .into()
    }
}

impl ToSchema for Since {}

/// The answer of a successful RPC or typed call.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: written by `invoke::dispatch`
struct InvokeResponse {
    /// What the function returned, as JSON.
    #[schema(value_type = Value)]
    result: Value,
}

/// The multipart form of a deploy.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: read by `api::read_multipart`
struct DeployMultipart {
    /// The deploy's metadata as JSON (`DeployMetadataPart`).
    metadata: String,
    /// The component's bytes.
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
}

mod paths {
    #![allow(dead_code, clippy::unused_async)] // documentation only: the handlers are elsewhere

    use super::*;

    /// Deploy a function version
    ///
    /// Deploys a version and makes it active. The component comes base64-encoded in `code`
    /// (JSON) or as the `component` part of a multipart upload with a `metadata` part. The
    /// component is compiled before anything is stored: an invalid one changes nothing.
    /// Versions are immutable: redeploying a version with the same code and metadata is
    /// idempotent (`created: false`), with different ones a 409.
    #[utoipa::path(
        post,
        path = "/v1/api/functions",
        operation_id = "deployFunction",
        tag = "functions",
        request_body(content(
            (DeployRequest = "application/json"),
            (DeployMultipart = "multipart/form-data"),
        )),
        responses(
            (status = 200, description = "Deployed (or the identical version was already there)", body = Deployment,
                links(
                    ("GetFunctionInfo" = (operation_id = "getFunctionInfo", parameters(("id" = "$response.body#/id")), description = "The function's metadata and load state")),
                    ("InvokeFunction" = (operation_id = "invokeFunction", parameters(("id" = "$response.body#/id")), description = "Call the function")),
                    ("RollbackFunction" = (operation_id = "rollbackFunction", parameters(("id" = "$response.body#/id")), description = "Make an earlier version active again")),
                    ("DeleteFunction" = (operation_id = "deleteFunction", parameters(("id" = "$response.body#/id")), description = "Delete the function")),
                )),
            (status = 400, description = "Invalid metadata, or a body that is not a valid component (VALIDATION_ERROR)", body = ErrorBody),
            (status = 409, description = "The version exists with other code or metadata (CONFLICT)", body = ErrorBody),
            (status = 413, description = "Body larger than the upload limit (PAYLOAD_TOO_LARGE)", body = ErrorBody),
            (status = 415, description = "Content-Type other than JSON or multipart (UNSUPPORTED_MEDIA_TYPE)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn deploy() {}

    /// List functions
    ///
    /// Every function with its active version.
    #[utoipa::path(
        get,
        path = "/v1/api/functions",
        operation_id = "listFunctions",
        tag = "functions",
        params(("namespace" = Option<String>, Query, description = "Only the functions of this namespace", pattern = "^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,253}[A-Za-z0-9])?$", max_length = 255)),
        responses(
            (status = 200, description = "Every function the caller may see, by id", body = Vec<FunctionMetadata>),
            (status = 400, description = "Invalid namespace (VALIDATION_ERROR)", body = ErrorBody),
        )
    )]
    async fn list() {}

    /// Get a function
    ///
    /// The active version's metadata and how it was loaded.
    #[utoipa::path(
        get,
        path = "/v1/api/functions/{id}",
        operation_id = "getFunction",
        tag = "functions",
        params(("id" = String, Path, description = "Function id")),
        responses(
            (status = 200, description = "The function", body = FunctionInfo,
                links(
                    ("InvokeFunction" = (operation_id = "invokeFunction", parameters(("id" = "$response.body#/id")), description = "Call the function")),
                    ("ListVersions" = (operation_id = "listVersions", parameters(("id" = "$response.body#/id")), description = "Its versions and history")),
                )),
            (status = 400, description = "Invalid function id (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
            (status = 503, description = "No version of it can be loaded (INVOCATION_ERROR)", body = ErrorBody),
        )
    )]
    async fn info() {}

    /// Delete a function
    ///
    /// The function, its versions, history and logs.
    #[utoipa::path(
        delete,
        path = "/v1/api/functions/{id}",
        operation_id = "deleteFunction",
        tag = "functions",
        params(("id" = String, Path, description = "Function id")),
        responses(
            (status = 200, description = "Deleted", body = Deleted),
            (status = 400, description = "Invalid function id (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn delete() {}

    /// Roll back
    ///
    /// Makes an earlier version active again.
    #[utoipa::path(
        post,
        path = "/v1/api/functions/{id}/rollback",
        operation_id = "rollbackFunction",
        tag = "functions",
        params(("id" = String, Path, description = "Function id")),
        request_body(content = RollbackRequest, content_type = "application/json"),
        responses(
            (status = 200, description = "The version is active again", body = Rollback,
                links(
                    ("GetFunctionInfo" = (operation_id = "getFunctionInfo", parameters(("id" = "$response.body#/id")), description = "The function now")),
                    ("DeleteFunction" = (operation_id = "deleteFunction", parameters(("id" = "$response.body#/id")), description = "Delete the function")),
                )),
            (status = 400, description = "Invalid id or version (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function or version (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body over 64 KiB (PAYLOAD_TOO_LARGE)", body = ErrorBody),
            (status = 415, description = "Content-Type other than JSON (UNSUPPORTED_MEDIA_TYPE)", body = ErrorBody),
            (status = 503, description = "No version of it can be loaded (INVOCATION_ERROR), or the shared database (--database) is unreachable (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn rollback() {}

    /// List versions
    ///
    /// Every version and the deployment history.
    #[utoipa::path(
        get,
        path = "/v1/api/functions/{id}/versions",
        operation_id = "listVersions",
        tag = "functions",
        params(("id" = String, Path, description = "Function id")),
        responses(
            (status = 200, description = "Versions and history", body = VersionList),
            (status = 400, description = "Invalid function id (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn versions() {}

    /// List API keys
    #[utoipa::path(
        get,
        path = "/v1/api/keys",
        operation_id = "listKeys",
        tag = "keys",
        responses((status = 200, description = "Every key (never the key itself)", body = KeyList))
    )]
    async fn list_keys() {}

    /// Create an API key
    ///
    /// The key is in this answer only.
    #[utoipa::path(
        post,
        path = "/v1/api/keys",
        operation_id = "createKey",
        tag = "keys",
        request_body(content = CreateKeyRequest, content_type = "application/json"),
        responses(
            (status = 201, description = "Created", body = CreatedApiKey,
                links(("RevokeKey" = (operation_id = "revokeKey", parameters(("keyId" = "$response.body#/id")), description = "Revoke the key")))),
            (status = 400, description = "Invalid name, expiry, role or namespaces (VALIDATION_ERROR)", body = ErrorBody),
            (status = 403, description = "The key would have more rights than the caller's own, or the caller cannot manage keys (FORBIDDEN)", body = ErrorBody),
            (status = 404, description = "A listed namespace does not exist (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body over 64 KiB (PAYLOAD_TOO_LARGE)", body = ErrorBody),
            (status = 415, description = "Content-Type other than JSON (UNSUPPORTED_MEDIA_TYPE)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn create_key() {}

    /// Revoke an API key
    #[utoipa::path(
        delete,
        path = "/v1/api/keys/{keyId}",
        operation_id = "revokeKey",
        tag = "keys",
        params(("keyId" = String, Path, description = "The key's id")),
        responses(
            (status = 200, description = "Revoked", body = ApiKey),
            (status = 400, description = "A path that does not decode (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such key (NOT_FOUND)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn revoke_key() {}

    /// Invoke a function
    ///
    /// RPC and typed-export components take `{"method", "params"}` and answer `{"result"}`.
    /// So do WASI commands (kind `command`): the request object on stdin, the result from
    /// stdout (JSON when it parses, else a string). Components exporting
    /// `wasi:http/incoming-handler` get the HTTP request as it is (any method) and their
    /// response is returned unchanged. Failures: 400 VALIDATION_ERROR for an unknown method or
    /// bad params; INVOCATION_ERROR with 500 (trap, memory limit, guest failure, a command's
    /// non-zero exit status (`exit`, with its last stderr line) or output past the cap
    /// (`output-limit`)), 503 (busy, `Retry-After: 1`; or no version can be loaded) or 504
    /// (timeout); `context.reason` names the kind.
    #[utoipa::path(
        post,
        path = "/v1/functions/{id}",
        operation_id = "invokeFunction",
        tag = "invoke",
        params(("id" = String, Path, description = "Function id")),
        request_body(content = InvokeRequest, content_type = "application/json"),
        responses(
            (status = 200, description = "The result (or an HTTP handler's own response)", body = InvokeResponse,
                headers(("X-Request-Id" = String, description = "The request id"), ("X-Fdo-Version" = String, description = "The version that ran"))),
            (status = 400, description = "Invalid id, body, method or params (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
            (status = 405, description = "Not POST, for an RPC or typed function (METHOD_NOT_ALLOWED)", body = ErrorBody),
            (status = 413, description = "Body larger than the upload limit (PAYLOAD_TOO_LARGE)", body = ErrorBody),
            (status = 415, description = "Content-Type other than JSON (UNSUPPORTED_MEDIA_TYPE)", body = ErrorBody),
            (status = 503, description = "Busy past the queue timeout, or no version can be loaded (INVOCATION_ERROR)", body = ErrorBody),
            (status = 504, description = "The call ran past its timeout (INVOCATION_ERROR)", body = ErrorBody),
        )
    )]
    async fn invoke() {}

    /// Pass a request to an HTTP handler
    ///
    /// For components exporting `wasi:http/incoming-handler`: the request (any method) with
    /// the path after the function id; the handler's response comes back unchanged, whatever
    /// its status. WASI commands deployed with `"interface": "http"` get it CGI-style (WAGI's
    /// conventions: `REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`, `HTTP_*` in the
    /// environment, the body on stdin; headers, a blank line and the body on stdout, `Status:`
    /// setting the status). Other functions have no sub-paths (404).
    #[utoipa::path(
        post,
        path = "/v1/functions/{id}/{path}",
        operation_id = "invokeHttpPath",
        tag = "invoke",
        params(
            ("id" = String, Path, description = "Function id"),
            ("path" = String, Path, description = "The path the handler sees"),
        ),
        request_body(content = Value, description = "Passed to the handler as it is", content_type = "application/octet-stream"),
        responses(
            (status = "default", description = "The handler's own response"),
            (status = 400, description = "Invalid function id (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function, or not an HTTP handler (NOT_FOUND)", body = ErrorBody),
            (status = 413, description = "Body larger than the upload limit (PAYLOAD_TOO_LARGE)", body = ErrorBody),
            (status = 503, description = "Busy past the queue timeout, or no version can be loaded (INVOCATION_ERROR)", body = ErrorBody),
            (status = 504, description = "The call ran past its timeout (INVOCATION_ERROR)", body = ErrorBody),
        )
    )]
    async fn invoke_path() {}

    /// Function logs
    ///
    /// Newest first.
    #[utoipa::path(
        get,
        path = "/v1/functions/{id}/logs",
        operation_id = "getLogs",
        tag = "logs",
        params(
            ("id" = String, Path, description = "Function id"),
            ("level" = Option<String>, Query, description = "Only entries of exactly this level (`debug`, `info`, `warn`, `error`; case-insensitive)", pattern = "^(?:[Dd][Ee][Bb][Uu][Gg]|[Ii][Nn][Ff][Oo]|[Ww][Aa][Rr][Nn]|[Ee][Rr][Rr][Oo][Rr])$"),
            ("timestamp" = inline(Option<Since>), Query, description = "Only entries after this instant: RFC 3339 (`2024-01-15T10:30:00.000Z`) or Unix milliseconds"),
            ("limit" = Option<u32>, Query, description = "Most entries returned", minimum = 1, maximum = 1000),
        ),
        responses(
            (status = 200, description = "The entries", body = LogList),
            (status = 400, description = "Invalid id, level, timestamp or limit (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
            (status = 503, description = "The shared database (--database) is unreachable: refused until it is back (INTERNAL_ERROR)", body = ErrorBody),
        )
    )]
    async fn logs() {}

    /// A function's calls, errors and latency over the last 15 minutes
    #[utoipa::path(
        get,
        path = "/v1/api/functions/{id}/stats",
        operation_id = "functionStats",
        tag = "stats",
        params(("id" = String, Path, description = "Function id")),
        responses(
            (status = 200, description = "The function's history", body = stats::FunctionStats),
            (status = 400, description = "Invalid function id (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such function (NOT_FOUND)", body = ErrorBody),
        )
    )]
    async fn function_stats() {}

    /// Every function's calls, errors, latency (last 15 minutes) and load state
    #[utoipa::path(
        get,
        path = "/v1/api/stats",
        operation_id = "allStats",
        tag = "stats",
        responses((status = 200, description = "Every function", body = stats::StatsSummary))
    )]
    async fn all_stats() {}

    /// The web console
    ///
    /// The console's page, embedded in the binary. Public: it holds no data; the console reads
    /// everything through the API with the key the user signs in with. Served with a strict
    /// Content-Security-Policy and `Referrer-Policy: no-referrer`.
    #[utoipa::path(
        get,
        path = "/console",
        operation_id = "console",
        tag = "console",
        security(()),
        responses(
            (status = 200, description = "The console's page", body = String, content_type = "text/html"),
            (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        )
    )]
    async fn console() {}

    /// The web console
    ///
    /// The same as `GET /console`.
    #[utoipa::path(
        get,
        path = "/console/",
        operation_id = "consoleSlash",
        tag = "console",
        security(()),
        responses(
            (status = 200, description = "The console's page", body = String, content_type = "text/html"),
            (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        )
    )]
    async fn console_slash() {}

    /// A file of the web console
    #[utoipa::path(
        get,
        path = "/console/{path}",
        operation_id = "consoleAsset",
        tag = "console",
        security(()),
        params(("path" = String, Path, description = "The file, e.g. js/app.js")),
        responses(
            (status = 200, description = "The file", content(
                (String = "text/javascript"),
                (String = "text/css"),
                (String = "text/html"),
                (String = "image/svg+xml"),
            )),
            (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
            (status = 400, description = "A path that does not decode (VALIDATION_ERROR)", body = ErrorBody),
            (status = 404, description = "No such file (NOT_FOUND)", body = ErrorBody),
        )
    )]
    async fn console_asset() {}

    /// Prometheus metrics
    #[utoipa::path(
        get,
        path = "/metrics",
        operation_id = "metrics",
        tag = "meta",
        responses((status = 200, description = "Text exposition format", body = String, content_type = "text/plain"))
    )]
    async fn metrics() {}

    /// What this is
    #[utoipa::path(
        get,
        path = "/",
        operation_id = "root",
        tag = "meta",
        security(()),
        responses((status = 200, description = "The service and its main routes", body = ServiceInfo))
    )]
    async fn root() {}

    /// Health
    #[utoipa::path(
        get,
        path = "/health",
        operation_id = "health",
        tag = "meta",
        security(()),
        responses((status = 200, description = "The host answers", body = Health))
    )]
    async fn health() {}

    /// This document
    #[utoipa::path(
        get,
        path = "/openapi.json",
        operation_id = "openapi",
        tag = "meta",
        security(()),
        responses((status = 200, description = "The OpenAPI 3.1 description of the API", body = Object))
    )]
    async fn openapi() {}
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fdo — Functions.do API",
        description = "The Functions.do API as served by fdo, a WebAssembly edge host. Unversioned paths are the legacy forms of the /v1 ones and behave identically."
    ),
    paths(
        paths::deploy,
        paths::list,
        paths::info,
        paths::delete,
        paths::rollback,
        paths::versions,
        paths::list_keys,
        paths::create_key,
        paths::revoke_key,
        super::access::paths::list_namespaces,
        super::access::paths::create_namespace,
        super::access::paths::get_namespace,
        super::access::paths::update_namespace,
        super::access::paths::delete_namespace,
        super::access::paths::rotate_token_key,
        super::access::paths::patch_function,
        super::access::paths::issue_token,
        paths::invoke,
        paths::invoke_path,
        paths::logs,
        paths::function_stats,
        paths::all_stats,
        paths::console,
        paths::console_slash,
        paths::console_asset,
        paths::metrics,
        paths::root,
        paths::health,
        paths::openapi,
    ),
    components(schemas(ErrorBody, RateLimitBody, DeployMetadataPart)),
    tags(
        (name = "functions", description = "Deploy and manage functions"),
        (name = "invoke", description = "Call functions"),
        (name = "logs", description = "What functions logged"),
        (name = "keys", description = "API keys"),
        (name = "namespaces", description = "Groups of functions sharing env, secrets and a token key"),
        (name = "tokens", description = "Invocation tokens"),
        (name = "stats", description = "Calls over the last 15 minutes"),
        (name = "console", description = "The web console"),
        (name = "meta", description = "The service itself"),
    )
)]
struct ApiDoc;

/// Documented once, answered on two paths: (path, method, alias, the alias's operation id).
const ALIASES: [(&str, &str, &str, &str); 2] = [
    (
        "/v1/api/functions/{id}",
        "get",
        "/v1/api/functions/{id}/info",
        "getFunctionInfo",
    ),
    (
        "/v1/functions/{id}",
        "post",
        "/v1/functions/{id}/invoke",
        "invokeFunctionExplicit",
    ),
];

/// Operations everyone may call without a key.
const PUBLIC: [&str; 6] = [
    "/",
    "/health",
    "/openapi.json",
    "/console",
    "/console/",
    "/console/{path}",
];

/// The invoke routes: a credential (a key or a token) for a private function, none for a
/// public one.
const INVOKE: [&str; 3] = [
    "/v1/functions/{id}",
    "/v1/functions/{id}/invoke",
    "/v1/functions/{id}/{path}",
];

/// The document: what utoipa generates from the declarations above, with what every protected
/// operation shares (the `X-API-Key` scheme, 401, 429 and 500) and the legacy paths added.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
        complete(&mut doc);
        doc
    })
}

/// The document as served.
pub fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| serde_json::to_string_pretty(document()).unwrap_or_default())
}

fn complete(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
        "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "an API key, or an invocation token (JWT) on the invoke routes" }
    });
    doc["security"] = json!([{ "apiKey": [] }, { "bearer": [] }]);
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let common = json!({
        "401": {
            "description": "Missing, unknown, revoked or expired API key, or an invalid token (AUTHENTICATION_ERROR)",
            "content": { "application/json": { "schema": error } }
        },
        "403": {
            "description": "A valid credential that does not cover the action; the message says what it lacks (FORBIDDEN)",
            "content": { "application/json": { "schema": error } }
        },
        "429": {
            "description": "Over the per-IP (or, for calls, per-function) rate limit",
            "headers": {
                "Retry-After": { "description": "Seconds until the window resets", "schema": { "type": "integer", "minimum": 1 } },
                "X-RateLimit-Remaining": { "description": "Requests left in the window", "schema": { "type": "integer", "minimum": 0 } },
                "X-RateLimit-Reset": { "description": "When the window resets, Unix ms", "schema": { "type": "integer" } }
            },
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RateLimitError" } } }
        },
        "500": {
            "description": "A fault of the host (INTERNAL_ERROR), or the function failed: trap, memory limit, guest error (INVOCATION_ERROR)",
            "content": { "application/json": { "schema": error } }
        }
    });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    // Routes that answer exactly as another: `.../{id}/info` as `.../{id}`, `.../{id}/invoke`
    // as `/v1/functions/{id}`.
    for (path, method, alias, operation_id) in ALIASES {
        if let Some(op) = paths.get(path).and_then(|item| item.get(method)).cloned() {
            let mut op = op;
            op["operationId"] = json!(operation_id);
            let item = paths.entry(alias.to_owned()).or_insert_with(|| json!({}));
            item[method] = op;
        }
    }
    // Every function id in a path has the validators' pattern.
    for param in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.get_mut("parameters").and_then(Value::as_array_mut))
        .flatten()
        .filter(|p| p["in"] == "path" && (p["name"] == "id" || p["name"] == "name"))
    {
        param["schema"]["pattern"] = json!(ID_PATTERN);
    }
    // utoipa 5.5 writes a link's fields in snake case; OpenAPI spells them in camel case.
    for link in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut)
    {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(v) = link.remove(from) {
                link.insert(to.to_owned(), v);
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            if PUBLIC.contains(&path.as_str()) {
                op["security"] = json!([]);
                continue;
            }
            // A public function takes calls without a credential.
            if INVOKE.contains(&path.as_str()) {
                op["security"] = json!([{ "apiKey": [] }, { "bearer": [] }, {}]);
            }
            let responses = &mut op["responses"];
            for (status, response) in common.as_object().into_iter().flatten() {
                if responses.get(status).is_none() {
                    responses[status] = response.clone();
                }
            }
        }
    }
    // The legacy form of each `/v1` path: the same operation without `/v1`, its id suffixed.
    let legacy: Vec<(String, Value)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let old = path.strip_prefix("/v1")?;
            let mut item = item.clone();
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                if let Some(id) = op["operationId"].as_str() {
                    op["operationId"] = json!(format!("{id}Legacy"));
                }
                for response in op["responses"]
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|r| r.values_mut())
                {
                    for link in response
                        .get_mut("links")
                        .and_then(Value::as_object_mut)
                        .into_iter()
                        .flat_map(|l| l.values_mut())
                    {
                        if let Some(id) = link["operationId"].as_str() {
                            link["operationId"] = json!(format!("{id}Legacy"));
                        }
                    }
                }
            }
            Some((old.to_owned(), item))
        })
        .collect();
    paths.extend(legacy);
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
        &doc["components"]["schemas"][name]
    }

    /// The numbers written into the document are the validators' own.
    #[test]
    fn constraints_are_the_validators() {
        let doc = document();
        let limits = &schema(doc, "Limits")["properties"];
        assert_eq!(limits["memoryMb"]["maximum"], validate::MAX_MEMORY_MB);
        assert_eq!(limits["timeoutMs"]["maximum"], validate::MAX_TIMEOUT_MS);
        assert_eq!(
            limits["maxConcurrency"]["maximum"],
            validate::MAX_CONCURRENCY
        );
        let meta = &schema(doc, "DeployMetadataPart")["properties"];
        assert_eq!(meta["id"]["pattern"], ID_PATTERN);
        assert_eq!(meta["id"]["maxLength"], validate::MAX_FUNCTION_ID_LEN);
        assert_eq!(meta["version"]["pattern"], SEMVER_PATTERN);
        assert_eq!(meta["version"]["maxLength"], validate::MAX_VERSION_LEN);
        assert_eq!(
            meta["entryPoint"]["maxLength"],
            validate::MAX_ENTRY_POINT_LEN
        );
        assert_eq!(
            meta["allowedHosts"]["maxItems"],
            validate::MAX_ALLOWED_HOSTS
        );
        assert_eq!(
            meta["language"]["$ref"], "#/components/schemas/Language",
            "{meta}"
        );
        let languages = schema(doc, "Language")["enum"].as_array().unwrap().len();
        assert_eq!(languages, 8);
        let rollback = &schema(doc, "RollbackRequest")["properties"]["version"];
        assert_eq!(rollback["pattern"], SEMVER_PATTERN);
        let logs = &doc["paths"]["/v1/functions/{id}/logs"]["get"]["parameters"];
        let limit = logs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(
            limit["schema"]["maximum"],
            super::super::invoke::MAX_LOGS_LIMIT
        );
    }

    /// The patterns agree with the validators on typical and edge inputs.
    #[test]
    fn patterns_match_the_validators() {
        let id = regex_lite(ID_PATTERN);
        for (text, ok) in [
            ("hello", true),
            ("a", true),
            ("a-b_c9", true),
            ("-a", false),
            ("a_", false),
            ("a b", false),
            ("", false),
        ] {
            assert_eq!(id(text), ok, "{text}");
            assert_eq!(validate::validate_function_id(text).is_ok(), ok, "{text}");
        }
        let semver = regex_lite(SEMVER_PATTERN);
        for (text, ok) in [
            ("1.0.0", true),
            ("2.1.0-beta.1", true),
            ("1.0.0+build.123", true),
            ("01.0.0", false),
            ("1.0", false),
            ("1.0.0-01", false),
            ("v1.0.0", false),
        ] {
            assert_eq!(semver(text), ok, "{text}");
            assert_eq!(validate::validate_version(text).is_ok(), ok, "{text}");
        }
    }

    /// A matcher for the document's patterns, which use only what `regex` (no look-around)
    /// also supports.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let re = regex::Regex::new(pattern).unwrap();
        move |text| re.is_match(text)
    }
}
