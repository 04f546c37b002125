//! The OpenAPI 3.1 description of the API, committed as `host/openapi.json` and served at
//! `GET /openapi.json`. A test keeps it in step with the router.

use axum::response::{IntoResponse, Response};

/// The committed description.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}
