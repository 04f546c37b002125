//! Reading request bodies under the upload limit, and content-type checks, with API errors.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use super::error::ApiError;

/// Reads the whole body, refusing more than `limit` bytes with a 413 (checked against
/// `Content-Length` first, so an honest oversize upload is refused before it is read).
pub async fn read_limited(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit_usize).await.map_err(|e| {
        // `to_bytes` fails either on the limit or on a broken connection.
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

/// The media type of the request (`application/json` from `application/json; charset=utf-8`),
/// lowercase; `None` when absent.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// Whether the media type is JSON (`application/json` or `application/*+json`).
pub fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Requires a JSON body (or none declared) and parses it.
pub fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    check_json_body(headers, bytes)?;
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        message: format!("request body is not valid JSON: {e}"),
        context: Some(serde_json::json!({ "line": e.line(), "column": e.column() })),
    })
}

/// Refuses a body declared as something other than JSON, or an empty one.
pub fn check_json_body(headers: &HeaderMap, bytes: &[u8]) -> Result<(), ApiError> {
    if let Some(media) = media_type(headers)
        && !is_json(&media)
    {
        return Err(ApiError::UnsupportedMediaType {
            got: media,
            expected: "application/json",
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty: expected a JSON object",
        ));
    }
    Ok(())
}
