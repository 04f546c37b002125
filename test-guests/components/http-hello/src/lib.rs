//! `http-hello`: a small `wasi:http/incoming-handler` (proxy) test component.
//!
//! - `GET /` (any method): `200`, `hello from wasi:http` as `text/plain`.
//! - `/echo` (any method, any query): `200`, a JSON object describing the request:
//!   `{"method", "path" (with query), "x-test" (the header's value or null), "body"}`.
//! - anything else: `404`.
//!
//! Every response carries `x-fdo-guest: http-hello`. Kept small and fast for the host's tests and
//! benchmarks (no JSON library, no allocation beyond the request).

use std::io::{Read, Write};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// The body `/` answers with.
const HELLO: &str = "hello from wasi:http";

/// The response header every answer carries, naming this guest.
const GUEST_HEADER: (&str, &str) = ("x-fdo-guest", "http-hello");

/// The request header `/echo` reports.
const ECHOED_HEADER: &str = "x-test";

/// The component: handles incoming requests.
struct HttpHello;

impl Guest for HttpHello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let path = path_with_query.split('?').next().unwrap_or("/");
        let (status, content_type, body) = match path {
            "/" | "" => (200, "text/plain; charset=utf-8", HELLO.to_string()),
            "/echo" => match echo(&request, &path_with_query) {
                Ok(json) => (200, "application/json", json),
                Err(e) => (
                    400,
                    "text/plain; charset=utf-8",
                    format!("cannot read the request body: {e}"),
                ),
            },
            _ => (
                404,
                "text/plain; charset=utf-8",
                format!("no route for {path}"),
            ),
        };
        respond(response_out, status, content_type, body.as_bytes());
    }
}

wasi::http::proxy::export!(HttpHello);

/// The JSON description of `request` that `/echo` answers with.
fn echo(request: &IncomingRequest, path_with_query: &str) -> Result<String, String> {
    let method = match request.method() {
        Method::Get => "GET".to_string(),
        Method::Head => "HEAD".to_string(),
        Method::Post => "POST".to_string(),
        Method::Put => "PUT".to_string(),
        Method::Delete => "DELETE".to_string(),
        Method::Connect => "CONNECT".to_string(),
        Method::Options => "OPTIONS".to_string(),
        Method::Trace => "TRACE".to_string(),
        Method::Patch => "PATCH".to_string(),
        Method::Other(other) => other,
    };
    let header = request
        .headers()
        .get(ECHOED_HEADER)
        .first()
        .map(|value| json_string(&String::from_utf8_lossy(value)))
        .unwrap_or_else(|| "null".to_string());
    let body = read_body(request)?;
    Ok(format!(
        "{{\"method\":{},\"path\":{},\"{ECHOED_HEADER}\":{header},\"body\":{}}}",
        json_string(&method),
        json_string(path_with_query),
        json_string(&String::from_utf8_lossy(&body)),
    ))
}

/// Reads the whole request body.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request
        .consume()
        .map_err(|()| "body already consumed".to_string())?;
    let mut bytes = Vec::new();
    {
        let mut stream = body
            .stream()
            .map_err(|()| "body stream already taken".to_string())?;
        stream.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    }
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

/// Sends a complete response.
fn respond(response_out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = Fields::new();
    let length = body.len().to_string();
    for (name, value) in [
        ("content-type", content_type.as_bytes()),
        ("content-length", length.as_bytes()),
        (GUEST_HEADER.0, GUEST_HEADER.1.as_bytes()),
    ] {
        // The names and values above are valid and allowed, so this cannot fail.
        let _ = headers.append(name, value);
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(response_out, Ok(response));
    if let Ok(mut stream) = outgoing.write() {
        // A client that went away is not this guest's problem: stop writing.
        let _ = stream
            .write_all(body)
            .and_then(|()| Write::flush(&mut stream));
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
