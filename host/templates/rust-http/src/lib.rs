//! {{name}}: an fdo function that handles HTTP requests itself (it exports
//! `wasi:http/incoming-handler`). fdo passes requests to `/v1/functions/{{name}}/...` straight
//! through, with the path after the function id:
//!
//! ```text
//! fdo invoke --http {{name}} /
//! curl -H "X-API-Key: $FDO_API_KEY" "$FDO_URL/v1/functions/{{name}}/"
//! ```
//!
//! The routing is plain Rust ([`respond`]), unit-tested on your machine; the `wasi:http` glue
//! below it only moves bytes.

/// What the function answers.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body (sent as UTF-8 text).
    pub body: String,
}

/// Answers `method` (upper case) on `path` (without the query).
pub fn respond(method: &str, path: &str) -> Reply {
    match (method, path) {
        ("GET" | "HEAD", "/") => Reply {
            status: 200,
            body: "Hello from {{name}}!\n".into(),
        },
        (_, "/") => Reply {
            status: 405,
            body: format!("{method} is not allowed here\n"),
        },
        _ => Reply {
            status: 404,
            body: format!("nothing at {path}\n"),
        },
    }
}

/// The `wasi:http` glue: read the request line, [`respond`], write the reply.
mod handler {
    use fdo_sdk::wasi::exports::http::incoming_handler::Guest;
    use fdo_sdk::wasi::http::types::{
        Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
    };

    struct Handler;

    impl Guest for Handler {
        fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
            let method = match request.method() {
                Method::Get => "GET".to_owned(),
                Method::Head => "HEAD".to_owned(),
                Method::Post => "POST".to_owned(),
                Method::Put => "PUT".to_owned(),
                Method::Delete => "DELETE".to_owned(),
                Method::Patch => "PATCH".to_owned(),
                Method::Options => "OPTIONS".to_owned(),
                Method::Connect => "CONNECT".to_owned(),
                Method::Trace => "TRACE".to_owned(),
                Method::Other(other) => other.to_ascii_uppercase(),
            };
            let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
            let path = target.split('?').next().unwrap_or("/");
            let reply = super::respond(&method, path);

            let headers = Fields::from_list(&[
                ("content-type".to_owned(), b"text/plain; charset=utf-8".to_vec()),
                ("content-length".to_owned(), reply.body.len().to_string().into_bytes()),
            ])
            .expect("valid header names and values");
            let response = OutgoingResponse::new(headers);
            response
                .set_status_code(reply.status)
                .expect("a valid status code");
            let body = response.body().expect("the body is taken once");
            ResponseOutparam::set(response_out, Ok(response));
            if method != "HEAD" {
                let stream = body.write().expect("the stream is taken once");
                for chunk in reply.body.as_bytes().chunks(4096) {
                    if stream.blocking_write_and_flush(chunk).is_err() {
                        return; // the client went away
                    }
                }
                drop(stream);
            }
            let _ = OutgoingBody::finish(body, None);
        }
    }

    fdo_sdk::wasi::http::proxy::export!(Handler);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_says_hello() {
        let reply = respond("GET", "/");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "Hello from {{name}}!\n");
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        assert_eq!(respond("GET", "/nope").status, 404);
        assert_eq!(respond("DELETE", "/").status, 405);
    }
}
