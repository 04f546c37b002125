//! `ApiError`: every failure the HTTP API answers with, mapped to a status and the reference's
//! error body `{"error", "message", "context"}`. Internal errors are logged with their cause
//! chain and answered with a generic message: nothing internal leaks to clients.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
            ApiError::MissingKey | ApiError::InvalidKey => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invocation { error, .. } => match error {
                e if e.is_client_error() => StatusCode::BAD_REQUEST,
                InvokeError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                InvokeError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        match self {
            ApiError::Validation(e) => json!({
                "error": code::VALIDATION_ERROR,
                "message": e.message,
                "context": { "field": e.field, "value": e.value },
            }),
            ApiError::BadRequest { message, context } => {
                let mut body = json!({ "error": code::VALIDATION_ERROR, "message": message });
                if let Some(c) = context {
                    body["context"] = c.clone();
                }
                body
            }
            ApiError::NotFound { resource, id } => json!({
                "error": code::NOT_FOUND,
                "message": format!("{resource} not found: {id}"),
                "context": { "resource": resource, "id": id },
            }),
            ApiError::RouteNotFound(path) => json!({
                "error": code::NOT_FOUND,
                "message": format!("No route for {path}"),
                "context": { "resource": "Route", "path": path },
            }),
            ApiError::MethodNotAllowed { method, path } => json!({
                "error": code::METHOD_NOT_ALLOWED,
                "message": format!("Method {method} is not allowed for {path}"),
                "context": { "method": method, "path": path },
            }),
            ApiError::PayloadTooLarge { limit } => json!({
                "error": code::PAYLOAD_TOO_LARGE,
                "message": format!("Request body exceeds the limit of {limit} bytes"),
                "context": { "limit": limit },
            }),
            ApiError::UnsupportedMediaType { got, expected } => json!({
                "error": code::UNSUPPORTED_MEDIA_TYPE,
                "message": format!("Unsupported Content-Type {got:?}: expected {expected}"),
                "context": { "contentType": got, "expected": expected },
            }),
            ApiError::Conflict { message, context } => json!({
                "error": code::CONFLICT,
                "message": message,
                "context": context,
            }),
            ApiError::MissingKey => json!({
                "error": code::AUTHENTICATION_ERROR,
                "message": "Missing API key",
            }),
            ApiError::InvalidKey => json!({
                "error": code::AUTHENTICATION_ERROR,
                "message": "Invalid API key",
            }),
            ApiError::RateLimited {
                scope,
                retry_after,
                reset_at,
            } => json!({
                "error": "Too Many Requests",
                "message": format!("Rate limit exceeded for {scope}. Please retry after {retry_after} seconds."),
                "retryAfter": retry_after,
                "resetAt": reset_at,
            }),
            ApiError::Invocation { id, error } => json!({
                "error": if error.is_client_error() { code::VALIDATION_ERROR } else { code::INVOCATION_ERROR },
                "message": error.to_string(),
                "context": { "id": id, "reason": error.kind() },
            }),
            ApiError::Unavailable { id, message } => json!({
                "error": code::INVOCATION_ERROR,
                "message": message,
                "context": { "id": id, "reason": "unavailable" },
            }),
            ApiError::Internal(_) => json!({
                "error": code::INTERNAL_ERROR,
                "message": "Internal server error",
            }),
        }
    }
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
