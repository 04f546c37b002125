//! The web console: the files under `host/console/` (plain ES modules, a stylesheet, an icon),
//! embedded in the binary and served at `/console`.
//!
//! These routes are public, like `/health`: they serve only the console's own code, never data.
//! The console asks for everything it shows through the API with the key the user signed in
//! with, so the API's key checks apply to it as to any client. Every answer carries a strict
//! Content-Security-Policy (scripts and styles from this origin only, nothing inline, no
//! framing) and `Referrer-Policy: no-referrer`; the console renders what comes from functions,
//! metadata and logs as text, never as HTML.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use rust_embed::Embed;

use super::AppState;
use super::error::ApiError;
use super::extract::Path;

/// The console's files, from `host/console/`.
#[derive(Embed)]
#[folder = "console/"]
struct Assets;

/// The policy every console answer carries: only this origin's scripts, styles, images and
/// API; no inline script or style, no plugins, no `<base>`, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes: `/console` and `/console/` (the page), `/console/*` (its files).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The file at `path` with its type, an ETag (answered with 304 when the browser has it) and
/// the security headers.
fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        let mut response = ApiError::NotFound {
            resource: "Console file",
            id: path.to_owned(),
        }
        .into_response();
        secure(response.headers_mut());
        return response;
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let bytes = match file.data {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(v) => Bytes::from(v),
        };
        bytes.into_response()
    };
    let headers = response.headers_mut();
    // On a 304 too: the API's JSON content type must not be added to it (a 304's headers
    // update the cached copy's).
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    // Revalidated on every load (a 304 when unchanged): a new binary's console is seen at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(headers);
    response
}

/// The security headers of every console answer.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_known_type_and_no_inline_script() {
        let mut names: Vec<String> = Assets::iter().map(|n| n.into_owned()).collect();
        names.sort();
        assert!(names.contains(&"index.html".to_owned()), "{names:?}");
        assert!(names.contains(&"js/app.js".to_owned()), "{names:?}");
        for name in &names {
            assert_ne!(
                content_type(name),
                "application/octet-stream",
                "{name} would be served without a type"
            );
        }
        let index = Assets::get("index.html").unwrap();
        let html = std::str::from_utf8(&index.data).unwrap();
        // The CSP forbids inline script and style: the page must not need them.
        assert!(!html.contains("<script>"), "inline script in index.html");
        assert!(!html.contains("style="), "inline style in index.html");
        assert!(!html.contains("<style"), "inline style in index.html");
    }

    #[test]
    fn the_console_never_parses_html_from_strings() {
        // Everything shown comes from functions, metadata and logs, and is set as text.
        for name in Assets::iter() {
            if !name.ends_with(".js") {
                continue;
            }
            let file = Assets::get(&name).unwrap();
            let source = std::str::from_utf8(&file.data).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "createContextualFragment",
            ] {
                assert!(!source.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
