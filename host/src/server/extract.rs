//! Extractors whose rejections are the API's error body: axum's own answer a malformed request
//! with plain text, and every error of this API is JSON `{"error", "message", "context"}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::error::ApiError;

/// [`axum::extract::Path`], rejected with a 400 `VALIDATION_ERROR` (a percent-encoded segment
/// that is not UTF-8, say) instead of axum's plain-text answer.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(ApiError::BadRequest {
                message: rejection.body_text(),
                context: Some(json!({ "path": parts.uri.path() })),
            }),
        }
    }
}
