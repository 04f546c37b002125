//! `http-handler`: a tiny JSON API exporting `wasi:http/incoming-handler`.
//!
//! fdo passes HTTP requests for such components straight through (the "fetch handler" invoke
//! path) instead of the RPC envelope. Routes:
//!
//! - `GET /` (or `HEAD /`): `200 {"message": "Hello from fdo!"}`;
//! - `POST /echo` with a JSON body: `200 {"echo": <the body>}`; a body that is not JSON gets
//!   `400`, one over [`MAX_ECHO_BYTES`] gets `413`;
//! - another method on a known path: `405` with `allow`;
//! - anything else: `404 {"error": "not found", "path": "..."}`.
//!
//! The routing is plain Rust ([`route`]), unit-tested on the host; the `wasi:http` glue below
//! it only moves bytes.

use serde_json::{Value, json};

/// The largest body `POST /echo` accepts.
pub const MAX_ECHO_BYTES: usize = 1024 * 1024;

/// What the handler answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers (the content type is always `application/json`).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// A reply without extra headers.
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body,
        }
    }
}

/// Whether a route needs the request body (so the glue reads it only then).
pub fn wants_body(method: &str, path_with_query: &str) -> bool {
    method == "POST" && path_of(path_with_query) == "/echo"
}

/// Answers a request: `method` in upper case, the path with its query, and the body (`None`
/// when it was over [`MAX_ECHO_BYTES`]).
pub fn route(method: &str, path_with_query: &str, body: Option<&[u8]>) -> Reply {
    let path = path_of(path_with_query);
    match (method, path) {
        ("GET" | "HEAD", "/") => Reply::json(200, json!({ "message": "Hello from fdo!" })),
        ("POST", "/echo") => match body {
            None => Reply::json(
                413,
                json!({ "error": format!("the body is larger than {MAX_ECHO_BYTES} bytes") }),
            ),
            Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => Reply::json(200, json!({ "echo": value })),
                Err(error) => Reply::json(
                    400,
                    json!({ "error": format!("the body is not JSON: {error}") }),
                ),
            },
        },
        (_, "/") => not_allowed(method, "GET, HEAD"),
        (_, "/echo") => not_allowed(method, "POST"),
        _ => Reply::json(404, json!({ "error": "not found", "path": path })),
    }
}

/// `405` naming the allowed methods.
fn not_allowed(method: &str, allow: &str) -> Reply {
    Reply {
        status: 405,
        headers: vec![("allow", allow.to_owned())],
        body: json!({ "error": format!("method {method} is not allowed here") }),
    }
}

/// The path without the query.
fn path_of(path_with_query: &str) -> &str {
    match path_with_query.split_once('?') {
        Some((path, _)) => path,
        None => path_with_query,
    }
}

/// The `wasi:http` glue: read the request, [`route`] it, write the reply.
mod handler {
    use super::{MAX_ECHO_BYTES, Reply, route, wants_body};
    use fdo_sdk::wasi::exports::http::incoming_handler::Guest;
    use fdo_sdk::wasi::http::types::{
        ErrorCode, Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse,
        ResponseOutparam,
    };
    use fdo_sdk::wasi::io::streams::StreamError;

    /// The component's incoming handler.
    struct Handler;

    impl Guest for Handler {
        fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
            let method = method_name(&request.method());
            let path = request.path_with_query().unwrap_or_else(|| "/".to_owned());
            let body = if wants_body(&method, &path) {
                match read_body(&request) {
                    Ok(body) => body,
                    Err(message) => {
                        ResponseOutparam::set(
                            response_out,
                            Err(ErrorCode::InternalError(Some(message))),
                        );
                        return;
                    }
                }
            } else {
                Some(Vec::new())
            };
            let reply = route(&method, &path, body.as_deref());
            if let Err(message) = respond(response_out, &method, reply) {
                // Standard error (captured by the host), not `fdo_sdk::log`: a plain
                // `wasi:http/proxy` component should import nothing fdo-specific.
                eprintln!("http-handler: {message}");
            }
        }
    }

    fdo_sdk::wasi::http::proxy::export!(Handler);

    /// The method's name in upper case.
    fn method_name(method: &Method) -> String {
        match method {
            Method::Get => "GET".into(),
            Method::Head => "HEAD".into(),
            Method::Post => "POST".into(),
            Method::Put => "PUT".into(),
            Method::Delete => "DELETE".into(),
            Method::Connect => "CONNECT".into(),
            Method::Options => "OPTIONS".into(),
            Method::Trace => "TRACE".into(),
            Method::Patch => "PATCH".into(),
            Method::Other(other) => other.to_ascii_uppercase(),
        }
    }

    /// Reads the request body; `None` when it exceeds [`MAX_ECHO_BYTES`].
    fn read_body(request: &IncomingRequest) -> Result<Option<Vec<u8>>, String> {
        let body = request
            .consume()
            .map_err(|()| "the request body was already taken")?;
        let stream = body
            .stream()
            .map_err(|()| "the request body stream was already taken")?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_ECHO_BYTES {
                        return Ok(None);
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(format!(
                        "reading the request body: {}",
                        error.to_debug_string()
                    ));
                }
            }
        }
        drop(stream);
        drop(IncomingBody::finish(body));
        Ok(Some(bytes))
    }

    /// Sends `reply` (no body for `HEAD`).
    fn respond(response_out: ResponseOutparam, method: &str, reply: Reply) -> Result<(), String> {
        let body = serde_json::to_vec(&reply.body).map_err(|error| error.to_string())?;
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("content-type".into(), b"application/json".to_vec()),
            ("content-length".into(), body.len().to_string().into_bytes()),
        ];
        headers.extend(
            reply
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.into_bytes())),
        );
        let fields =
            Fields::from_list(&headers).map_err(|error| format!("bad headers: {error:?}"))?;
        let response = OutgoingResponse::new(fields);
        response
            .set_status_code(reply.status)
            .map_err(|()| format!("bad status {}", reply.status))?;
        let outgoing = response
            .body()
            .map_err(|()| "the response body was already taken")?;
        ResponseOutparam::set(response_out, Ok(response));
        if method != "HEAD" {
            let stream = outgoing
                .write()
                .map_err(|()| "the response stream was already taken")?;
            for chunk in body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|error| format!("writing the response: {error:?}"))?;
            }
            drop(stream);
        }
        OutgoingBody::finish(outgoing, None)
            .map_err(|error| format!("finishing the response: {error:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_says_hello() {
        let reply = route("GET", "/?x=1", Some(b""));
        assert_eq!(
            reply,
            Reply::json(200, json!({"message": "Hello from fdo!"}))
        );
    }

    #[test]
    fn echo_returns_the_json_body() {
        let reply = route("POST", "/echo", Some(br#"{"a": [1, 2]}"#));
        assert_eq!(reply, Reply::json(200, json!({"echo": {"a": [1, 2]}})));
        assert!(wants_body("POST", "/echo?pretty"));
        assert!(!wants_body("GET", "/echo"));
    }

    #[test]
    fn echo_rejects_non_json_and_oversized_bodies() {
        let reply = route("POST", "/echo", Some(b"not json"));
        assert_eq!(reply.status, 400);
        assert!(
            reply.body["error"]
                .as_str()
                .unwrap()
                .starts_with("the body is not JSON")
        );
        assert_eq!(route("POST", "/echo", None).status, 413);
    }

    #[test]
    fn wrong_methods_get_405_with_allow_and_unknown_paths_404() {
        let reply = route("DELETE", "/", Some(b""));
        assert_eq!(
            (reply.status, reply.headers.clone()),
            (405, vec![("allow", "GET, HEAD".to_owned())])
        );
        assert_eq!(
            route("GET", "/echo", Some(b"")).headers,
            vec![("allow", "POST".to_owned())]
        );
        let reply = route("GET", "/missing?q=1", Some(b""));
        assert_eq!(
            reply,
            Reply::json(404, json!({"error": "not found", "path": "/missing"}))
        );
    }
}
