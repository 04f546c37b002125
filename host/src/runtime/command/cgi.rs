//! CGI over WASI, with the conventions of WAGI (what Spin users know): a command deployed with
//! `"interface": "http"` gets each request on the function's pass-through routes as a CGI 1.1
//! program would (RFC 3875), and answers the same way.
//!
//! **In**, the environment holds the function's env and secrets, then:
//!
//! | variable | value |
//! | --- | --- |
//! | `REQUEST_METHOD` | `GET`, `POST`, ... |
//! | `PATH_INFO`, `PATH_TRANSLATED` | the path after the function's prefix, percent-decoded (`/` at least) |
//! | `X_RAW_PATH_INFO` | the same, as sent |
//! | `QUERY_STRING` | what follows `?`, as sent (empty when none) |
//! | `SCRIPT_NAME` | the function's prefix, `/v1/functions/ID` |
//! | `X_MATCHED_ROUTE` | `/v1/functions/ID/...` |
//! | `X_FULL_URL` | `http://HOST/v1/functions/ID/PATH?QUERY` |
//! | `CONTENT_TYPE`, `CONTENT_LENGTH` | of the body (the length always set, `0` without one) |
//! | `SERVER_NAME`, `SERVER_PORT` | from the `Host` header |
//! | `SERVER_PROTOCOL`, `SERVER_SOFTWARE`, `GATEWAY_INTERFACE` | `HTTP/1.1`, `fdo/VERSION`, `CGI/1.1` |
//! | `HTTP_*` | every other header, upper case with `-` as `_` (repeated ones joined by `, `), except `X-API-Key` (the caller's credential for fdo, not the function's) |
//!
//! and the body is the command's stdin.
//!
//! **Out**, stdout is header lines, a blank line (`\n\n` or `\r\n\r\n`), then the body.
//! `Status: 404 Not Found` sets the status (200 without one, 302 for a `Location` without one);
//! every other header is passed on except hop-by-hop ones and `Content-Length`, which fdo sets.
//! Output without a blank line, or with a line that is not a header, fails the call (500):
//! a CGI program must say at least where its headers end.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};

use super::METHOD_VAR;

/// The header carrying the caller's fdo API key: never handed to a function.
const API_KEY_HEADER: &str = "x-api-key";

/// Headers of a CGI answer that describe the connection, not the response: dropped.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// An HTTP request for a CGI command, its body read whole.
#[derive(Debug)]
pub struct CgiRequest {
    /// Method, headers, version; the URI is the path after the function's prefix, with the
    /// query (`/items/1?full=true`).
    pub parts: http::request::Parts,
    /// The function's prefix, `/v1/functions/ID`.
    pub script_name: String,
    /// The body.
    pub body: Bytes,
}

/// The environment of a CGI call: the function's, then the CGI variables (which win over a
/// function variable of the same name).
pub(crate) fn environment(request: &CgiRequest, env: &[(String, String)]) -> Vec<(String, String)> {
    let parts = &request.parts;
    let raw_path = match parts.uri.path() {
        "" => "/",
        path => path,
    };
    let query = parts.uri.query().unwrap_or_default();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let (server_name, server_port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, port)
        }
        _ => (host, "80"),
    };
    let path_info = percent_decode(raw_path);
    let mut cgi: Vec<(String, String)> = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        (
            "SERVER_SOFTWARE".into(),
            concat!("fdo/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("SERVER_PROTOCOL".into(), protocol(parts.version).into()),
        ("SERVER_NAME".into(), server_name.into()),
        ("SERVER_PORT".into(), server_port.into()),
        ("REQUEST_METHOD".into(), parts.method.as_str().into()),
        ("SCRIPT_NAME".into(), request.script_name.clone()),
        ("PATH_INFO".into(), path_info.clone()),
        ("PATH_TRANSLATED".into(), path_info),
        ("X_RAW_PATH_INFO".into(), raw_path.into()),
        ("QUERY_STRING".into(), query.into()),
        (
            "X_MATCHED_ROUTE".into(),
            format!("{}/...", request.script_name),
        ),
        (
            "X_FULL_URL".into(),
            format!(
                "http://{host}{}{raw_path}{}{query}",
                request.script_name,
                if query.is_empty() { "" } else { "?" }
            ),
        ),
        ("CONTENT_LENGTH".into(), request.body.len().to_string()),
    ];
    if let Some(ct) = parts.headers.get(http::header::CONTENT_TYPE) {
        cgi.push((
            "CONTENT_TYPE".into(),
            String::from_utf8_lossy(ct.as_bytes()).into_owned(),
        ));
    }
    for name in parts.headers.keys() {
        let lower = name.as_str();
        if lower == API_KEY_HEADER
            || lower == http::header::CONTENT_TYPE
            || lower == http::header::CONTENT_LENGTH
        {
            continue;
        }
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let var = format!("HTTP_{}", lower.to_ascii_uppercase().replace('-', "_"));
        cgi.push((var, values.join(", ")));
    }
    let mut all: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != METHOD_VAR && !cgi.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    all.extend(cgi);
    all
}

fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// `%XX` sequences decoded (invalid ones and non-UTF-8 results kept as sent).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| path.to_owned())
}

/// The HTTP response a CGI program wrote to stdout, or why it is not one.
pub(crate) fn response(stdout: Vec<u8>) -> Result<Response<Bytes>, String> {
    if stdout.is_empty() {
        return Err(
            "the CGI program wrote nothing to stdout (it must write headers, a blank \
                    line, then the body)"
                .into(),
        );
    }
    let Some((head_end, body_start)) = header_end(&stdout) else {
        return Err(
            "the CGI program's output has no blank line after its headers (write at \
                    least `Content-Type: text/plain`, then an empty line, then the body)"
                .into(),
        );
    };
    let head = String::from_utf8_lossy(&stdout[..head_end]).into_owned();
    let body = Bytes::from(stdout).slice(body_start..);
    let mut response = Response::new(body);
    let mut status = None;
    let mut location = false;
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "the CGI program wrote `{}` among its headers, which is not `Name: value`",
                shorten(line)
            ));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = Some(
                code.parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .filter(|c| c.as_u16() >= 200)
                    .ok_or_else(|| {
                        format!(
                            "the CGI program's `Status: {}` is not a status from 200 to 999",
                            shorten(value)
                        )
                    })?,
            );
            continue;
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            format!(
                "the CGI program wrote a header with an invalid name: `{}`",
                shorten(name)
            )
        })?;
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the CGI program's header `{name}` has an invalid value"))?;
        location |= name == http::header::LOCATION;
        response.headers_mut().append(name, value);
    }
    *response.status_mut() = status.unwrap_or(if location {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    Ok(response)
}

/// Where the header block ends and the body starts: the first empty line.
fn header_end(out: &[u8]) -> Option<(usize, usize)> {
    let mut line_start = 0;
    while line_start <= out.len() {
        let rest = &out[line_start..];
        if rest.starts_with(b"\r\n") {
            return Some((line_start, line_start + 2));
        }
        if rest.starts_with(b"\n") {
            return Some((line_start, line_start + 1));
        }
        let next = rest.iter().position(|&b| b == b'\n')?;
        line_start += next + 1;
    }
    None
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        let mut short: String = text.chars().take(80).collect();
        short.push('…');
        short
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)], body: &str) -> CgiRequest {
        let mut builder = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        CgiRequest {
            parts,
            script_name: "/v1/functions/f".into(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_environment_describes_the_request() {
        let req = request(
            "/a%20b/c?x=1&y=%20",
            &[
                ("host", "example.com:8080"),
                ("content-type", "application/json"),
                ("x-test", "one"),
                ("x-test", "two"),
                ("x-api-key", "fdo_secret"),
            ],
            "{}",
        );
        let env = environment(
            &req,
            &[
                ("GREETING".into(), "hi".into()),
                ("REQUEST_METHOD".into(), "spoofed".into()),
            ],
        );
        let expect = [
            ("GREETING", "hi"),
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/a b/c"),
            ("X_RAW_PATH_INFO", "/a%20b/c"),
            ("QUERY_STRING", "x=1&y=%20"),
            ("CONTENT_TYPE", "application/json"),
            ("CONTENT_LENGTH", "2"),
            ("SERVER_NAME", "example.com"),
            ("SERVER_PORT", "8080"),
            ("SCRIPT_NAME", "/v1/functions/f"),
            (
                "X_FULL_URL",
                "http://example.com:8080/v1/functions/f/a%20b/c?x=1&y=%20",
            ),
            ("HTTP_X_TEST", "one, two"),
            ("HTTP_HOST", "example.com:8080"),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
        ];
        for (name, value) in expect {
            assert_eq!(var(&env, name), Some(value), "{name}");
        }
        assert_eq!(
            var(&env, "HTTP_X_API_KEY"),
            None,
            "the caller's key stays out"
        );
        assert_eq!(var(&env, "HTTP_CONTENT_TYPE"), None);
        assert_eq!(env.iter().filter(|(k, _)| k == "REQUEST_METHOD").count(), 1);
    }

    #[test]
    fn headers_status_and_body_are_read_from_stdout() {
        let r = response(
            b"Status: 418 I'm a teapot\nContent-Type: text/plain\nX-A: 1\nX-A: 2\nContent-Length: 99\n\nbody\n\nmore"
                .to_vec(),
        )
        .unwrap();
        assert_eq!(r.status(), 418);
        assert_eq!(r.headers()["content-type"], "text/plain");
        assert_eq!(r.headers().get_all("x-a").iter().count(), 2);
        assert!(r.headers().get("content-length").is_none());
        assert_eq!(r.body().as_ref(), b"body\n\nmore");

        let r = response(b"Content-Type: text/html\r\n\r\n<p>hi</p>".to_vec()).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body().as_ref(), b"<p>hi</p>");

        let r = response(b"Location: /elsewhere\n\n".to_vec()).unwrap();
        assert_eq!(r.status(), 302);

        let r = response(b"\nno headers at all".to_vec()).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body().as_ref(), b"no headers at all");
    }

    #[test]
    fn malformed_output_is_refused_with_a_reason() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "wrote nothing"),
            (b"Content-Type: text/plain\nno blank line", "no blank line"),
            (b"just a body\n\n", "not `Name: value`"),
            (b"Status: abc\n\n", "not a status"),
            (b"Status: 101\n\n", "not a status"),
        ];
        for (out, expected) in cases {
            let err = response(out.to_vec()).unwrap_err();
            assert!(err.contains(expected), "{out:?}: {err}");
        }
    }
}
