//! `ApiError`: every failure the HTTP API answers with, mapped to a status and the reference's
//! error body `{"error", "message", "context"}`. Internal errors are logged with their cause
//! chain and answered with a generic message: nothing internal leaks to clients.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::functions::InvokeError;
use crate::validate::ValidationError;

/// The error codes of the API. The first five are the reference's; the rest name statuses the
/// reference does not give a code for.
pub mod code {
    /// Invalid input (400).
    pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
    /// Unknown function, version or route (404).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Missing or invalid API key (401).
    pub const AUTHENTICATION_ERROR: &str = "AUTHENTICATION_ERROR";
    /// The reference's code for rate limits; the 429 body itself uses `"Too Many Requests"`.
    pub const RATE_LIMIT_ERROR: &str = "RATE_LIMIT_ERROR";
    /// The function failed while running (500, 503 busy, 504 timeout).
    pub const INVOCATION_ERROR: &str = "INVOCATION_ERROR";
    /// Wrong HTTP method for the path (405).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// Body larger than the configured limit (413).
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// Wrong `Content-Type` (415).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// The version exists with other code (409).
    pub const CONFLICT: &str = "CONFLICT";
    /// A valid credential that does not cover the action (403).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// A fault of the host (500).
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
}

/// An API failure.
#[derive(Debug)]
pub enum ApiError {
    /// A field failed validation.
    Validation(ValidationError),
    /// The request is malformed in a way that is not about one field.
    BadRequest {
        /// For the user.
        message: String,
        /// Extra detail.
        context: Option<Value>,
    },
    /// A resource does not exist.
    NotFound {
        /// `Function`, `Version`, `Route`...
        resource: &'static str,
        /// Its id.
        id: String,
    },
    /// No such route.
    RouteNotFound(String),
    /// The route exists with other methods.
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
    },
    /// The body is too large.
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The body's content type is not accepted here.
    UnsupportedMediaType {
        /// What was sent.
        got: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A conflicting write.
    Conflict {
        /// For the user.
        message: String,
        /// Extra detail.
        context: Value,
    },
    /// No `X-API-Key`.
    MissingKey,
    /// A key that is unknown, revoked or expired.
    InvalidKey,
    /// A token that is malformed, tampered with, expired or signed with a rotated-away key.
    InvalidToken,
    /// A valid credential that does not cover the action; the message says what it lacks.
    Forbidden(String),
    /// Over a rate limit.
    RateLimited {
        /// `ip` or `function`.
        scope: &'static str,
        /// Seconds to wait.
        retry_after: u64,
        /// When the window resets, Unix ms.
        reset_at: u64,
    },
    /// An invocation failed.
    Invocation {
        /// The function.
        id: String,
        /// What happened.
        error: InvokeError,
    },
    /// The function exists but cannot be loaded.
    Unavailable {
        /// The function.
        id: String,
        /// Why.
        message: String,
    },
    /// The shared database is unreachable: the request needs it (a write, or a read of what
    /// this host does not hold in memory).
    StoreUnreachable(String),
    /// A fault of the host.
    Internal(anyhow::Error),
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Validation(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl ApiError {
    /// Shorthand for a 400 without context.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            context: None,
        }
    }

    /// Shorthand for an unknown function.
    pub fn function_not_found(id: &str) -> Self {
        ApiError::NotFound {
            resource: "Function",
            id: id.to_owned(),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } | ApiError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MissingKey | ApiError::InvalidKey | ApiError::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invocation { error, .. } => match error {
                e if e.is_client_error() => StatusCode::BAD_REQUEST,
                InvokeError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                InvokeError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Unavailable { .. } | ApiError::StoreUnreachable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => code::VALIDATION_ERROR,
            ApiError::NotFound { .. } | ApiError::RouteNotFound(_) => code::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => code::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => code::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict { .. } => code::CONFLICT,
            ApiError::MissingKey | ApiError::InvalidKey | ApiError::InvalidToken => {
                code::AUTHENTICATION_ERROR
            }
            ApiError::Forbidden(_) => code::FORBIDDEN,
            ApiError::RateLimited { .. } => RATE_LIMITED,
            ApiError::Invocation { error, .. } if error.is_client_error() => code::VALIDATION_ERROR,
            ApiError::Invocation { .. } | ApiError::Unavailable { .. } => code::INVOCATION_ERROR,
            ApiError::Internal(_) | ApiError::StoreUnreachable(_) => code::INTERNAL_ERROR,
        }
    }

    /// The message of the body.
    fn message(&self) -> String {
        match self {
            ApiError::Validation(e) => e.message.clone(),
            ApiError::BadRequest { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::Unavailable { message, .. } => message.clone(),
            ApiError::NotFound { resource, id } => format!("{resource} not found: {id}"),
            ApiError::RouteNotFound(path) => format!("No route for {path}"),
            ApiError::MethodNotAllowed { method, path } => {
                format!("Method {method} is not allowed for {path}")
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("Request body exceeds the limit of {limit} bytes")
            }
            ApiError::UnsupportedMediaType { got, expected } => {
                format!("Unsupported Content-Type {got:?}: expected {expected}")
            }
            ApiError::MissingKey => "Missing API key".into(),
            ApiError::InvalidKey => "Invalid API key".into(),
            ApiError::InvalidToken => "Invalid token".into(),
            ApiError::Forbidden(message) => message.clone(),
            ApiError::RateLimited {
                scope, retry_after, ..
            } => format!(
                "Rate limit exceeded for {scope}. Please retry after {retry_after} seconds."
            ),
            ApiError::Invocation { error, .. } => error.to_string(),
            ApiError::StoreUnreachable(_) => "The database is unreachable: writes are refused until it is back (functions already loaded keep serving). Retry later.".into(),
            ApiError::Internal(_) => "Internal server error".into(),
        }
    }

    /// The `context` of the body, when it has one.
    fn context(&self) -> Option<Value> {
        match self {
            ApiError::Validation(e) => Some(json!({ "field": e.field, "value": e.value })),
            ApiError::BadRequest { context, .. } => context.clone(),
            ApiError::NotFound { resource, id } => Some(json!({ "resource": resource, "id": id })),
            ApiError::RouteNotFound(path) => Some(json!({ "resource": "Route", "path": path })),
            ApiError::MethodNotAllowed { method, path } => {
                Some(json!({ "method": method, "path": path }))
            }
            ApiError::PayloadTooLarge { limit } => Some(json!({ "limit": limit })),
            ApiError::UnsupportedMediaType { got, expected } => {
                Some(json!({ "contentType": got, "expected": expected }))
            }
            ApiError::Conflict { context, .. } => Some(context.clone()),
            ApiError::Invocation { id, error } => Some(json!({ "id": id, "reason": error.kind() })),
            ApiError::Unavailable { id, .. } => Some(json!({ "id": id, "reason": "unavailable" })),
            ApiError::MissingKey
            | ApiError::InvalidKey
            | ApiError::InvalidToken
            | ApiError::Forbidden(_)
            | ApiError::RateLimited { .. }
            | ApiError::StoreUnreachable(_)
            | ApiError::Internal(_) => None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let body = match self {
            ApiError::RateLimited {
                retry_after,
                reset_at,
                ..
            } => serde_json::to_value(RateLimitBody {
                error: RATE_LIMITED,
                message: self.message(),
                retry_after: *retry_after,
                reset_at: *reset_at,
            }),
            _ => serde_json::to_value(ErrorBody {
                error: self.code(),
                message: self.message(),
                context: self.context(),
            }),
        };
        body.unwrap_or(Value::Null)
    }
}

/// The `error` of a 429, as the reference writes it.
const RATE_LIMITED: &str = "Too Many Requests";

/// Every error answer but a 429: `{"error", "message", "context"}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The error code.
    #[schema(value_type = ErrorCodeName)]
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Details: the field and value at fault, the resource, the reason of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// The codes of [`ErrorBody::error`].
#[derive(ToSchema)]
#[schema(as = ErrorCode)]
#[allow(dead_code, clippy::upper_case_acronyms, non_camel_case_types)] // a schema only
enum ErrorCodeName {
    VALIDATION_ERROR,
    NOT_FOUND,
    AUTHENTICATION_ERROR,
    INVOCATION_ERROR,
    METHOD_NOT_ALLOWED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    CONFLICT,
    INTERNAL_ERROR,
}

/// A 429: the reference's rate-limit body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RateLimitError)]
pub struct RateLimitBody {
    /// `Too Many Requests`.
    #[schema(value_type = String, pattern = "^Too Many Requests$")]
    pub error: &'static str,
    /// Which limit, and when to retry.
    pub message: String,
    /// Seconds until the window resets.
    pub retry_after: u64,
    /// When the window resets, Unix ms.
    pub reset_at: u64,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::RateLimited {
                retry_after,
                reset_at,
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
                headers.insert("x-ratelimit-reset", HeaderValue::from(*reset_at));
            }
            ApiError::Invocation {
                error: InvokeError::Busy(_),
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            }
            _ => {}
        }
        response
    }
}
