//! Sending a request through `wasi:http/outgoing-handler` and reading the whole response.
//!
//! The flow is the one `wasi:http` prescribes: build the request resource, take its body, hand
//! it to `handle`, stream the body in chunks of at most [`WRITE_CHUNK`] bytes, finish it, block
//! on the response future, then read the response body until the stream closes. Errors the
//! host reports as `error-code` become [`HttpError::Failed`] with a [`FailureKind`].

use super::{FailureKind, HttpError, Method, Response, Target};
use std::time::Duration;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    self as wasi_types, ErrorCode, Fields, HeaderError, IncomingBody, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// `blocking-write-and-flush` accepts at most this many bytes per call.
const WRITE_CHUNK: usize = 4096;

/// Headers hosts commonly forbid guests to set (wasmtime's defaults), to name the culprit.
const COMMONLY_FORBIDDEN: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// How many bytes to ask for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;

/// Everything `send` needs, borrowed from the [`super::Request`].
pub(super) struct Outgoing<'a> {
    /// The method.
    pub method: Method,
    /// The URL as given, for messages.
    pub url: &'a str,
    /// The parsed URL.
    pub target: &'a Target,
    /// All headers, including a computed `content-length`.
    pub headers: &'a [(String, String)],
    /// The body (empty for none).
    pub body: &'a [u8],
    /// Connect/first-byte/between-bytes timeout.
    pub timeout: Option<Duration>,
}

/// Sends the request and collects the response (WebAssembly targets only).
pub(super) fn send(outgoing: Outgoing<'_>) -> Result<Response, HttpError> {
    let fail = |kind: FailureKind, reason: String| HttpError::Failed {
        method: outgoing.method,
        url: outgoing.url.to_owned(),
        kind,
        reason,
    };
    let from_code = |code: ErrorCode| {
        let (kind, reason) = describe(&code);
        fail(kind, reason)
    };

    let entries: Vec<(String, Vec<u8>)> = outgoing
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
        .collect();
    let headers =
        Fields::from_list(&entries).map_err(|error| header_error(outgoing.headers, &error))?;
    let request = OutgoingRequest::new(headers);
    let invalid = |what: &str| HttpError::InvalidUrl {
        url: outgoing.url.to_owned(),
        reason: format!("the host rejected its {what}"),
    };
    request
        .set_method(&wasi_method(outgoing.method))
        .map_err(|()| fail(FailureKind::Other, "the host rejected the method".into()))?;
    let scheme = if outgoing.target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(&outgoing.target.authority))
        .map_err(|()| invalid("host"))?;
    request
        .set_path_with_query(Some(&outgoing.target.path_with_query))
        .map_err(|()| invalid("path or query"))?;

    let options = match outgoing.timeout {
        Some(timeout) => {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host that does not support a timeout answers Err(()): it then uses its own.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            Some(options)
        }
        None => None,
    };

    let body = request.body().map_err(|()| {
        fail(
            FailureKind::Other,
            "the request body was already taken".into(),
        )
    })?;
    let future = outgoing_handler::handle(request, options).map_err(from_code)?;
    write_body(&body, outgoing.body).map_err(|reason| {
        fail(
            FailureKind::Other,
            format!("writing the request body: {reason}"),
        )
    })?;
    OutgoingBody::finish(body, None).map_err(from_code)?;

    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_code(code)),
        Some(Err(())) => {
            return Err(fail(
                FailureKind::Other,
                "the response was already taken".into(),
            ));
        }
        None => return Err(fail(FailureKind::Other, "the response is not ready".into())),
    };

    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| {
        fail(
            FailureKind::Other,
            "the response body was already taken".into(),
        )
    })?;
    let body = read_body(&incoming).map_err(|error| match error {
        ReadError::Code(code) => from_code(code),
        ReadError::Other(reason) => fail(FailureKind::Other, reason),
    })?;
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes the whole request body in chunks the stream accepts.
fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let stream = body
        .write()
        .map_err(|()| "the body stream was already taken".to_owned())?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|error| match error {
                StreamError::LastOperationFailed(error) => {
                    match wasi_types::http_error_code(&error) {
                        Some(code) => describe(&code).1,
                        None => error.to_debug_string(),
                    }
                }
                StreamError::Closed => "the connection closed while sending the body".to_owned(),
            })?;
    }
    // The stream must be dropped before the body is finished.
    drop(stream);
    Ok(())
}

/// Why reading the response body failed.
enum ReadError {
    /// The host reported an HTTP error code.
    Code(ErrorCode),
    /// Anything else, in words.
    Other(String),
}

/// Reads the whole response body.
fn read_body(body: &IncomingBody) -> Result<Vec<u8>, ReadError> {
    let stream = body
        .stream()
        .map_err(|()| ReadError::Other("the response body stream was already taken".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(match wasi_types::http_error_code(&error) {
                    Some(code) => ReadError::Code(code),
                    None => ReadError::Other(format!(
                        "reading the response body: {}",
                        error.to_debug_string()
                    )),
                });
            }
        }
    }
    drop(stream);
    Ok(bytes)
}

/// The `wasi:http` method for ours.
fn wasi_method(method: Method) -> wasi_types::Method {
    match method {
        Method::Get => wasi_types::Method::Get,
        Method::Head => wasi_types::Method::Head,
        Method::Post => wasi_types::Method::Post,
        Method::Put => wasi_types::Method::Put,
        Method::Patch => wasi_types::Method::Patch,
        Method::Delete => wasi_types::Method::Delete,
        Method::Options => wasi_types::Method::Options,
    }
}

/// Explains a header list the host refused, naming the first header it can blame.
fn header_error(headers: &[(String, String)], error: &HeaderError) -> HttpError {
    let name = headers
        .iter()
        .find(|(name, value)| match error {
            HeaderError::Forbidden => COMMONLY_FORBIDDEN
                .iter()
                .any(|forbidden| name.eq_ignore_ascii_case(forbidden)),
            _ => !valid_header_name(name) || !valid_header_value(value),
        })
        .map(|(name, _)| name.clone());
    let reason = match error {
        HeaderError::InvalidSyntax => "the name or value is not valid HTTP",
        HeaderError::Forbidden => "the host does not let functions set this header",
        HeaderError::Immutable => "the headers cannot be changed",
    };
    HttpError::InvalidHeader {
        name: name.unwrap_or_else(|| "(one of the headers)".to_owned()),
        reason: reason.to_owned(),
    }
}

/// Whether `name` is an HTTP token (RFC 9110 `tchar`s).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `value` has no control characters other than tab.
fn valid_header_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || !b.is_ascii_control())
}

/// The kind and a readable explanation of a `wasi:http` error code.
pub(super) fn describe(code: &ErrorCode) -> (FailureKind, String) {
    use FailureKind::*;
    let (kind, reason): (FailureKind, String) = match code {
        ErrorCode::HttpRequestDenied => (
            Denied,
            "the host denied the request (is the destination on the function's outbound \
             allow-list?)"
                .into(),
        ),
        ErrorCode::DestinationIpProhibited => (
            Denied,
            "the host prohibits connecting to this address".into(),
        ),
        ErrorCode::DnsTimeout => (Dns, "DNS lookup timed out".into()),
        ErrorCode::DnsError(payload) => (
            Dns,
            match (&payload.rcode, payload.info_code) {
                (Some(rcode), _) => format!("DNS lookup failed ({rcode})"),
                (None, Some(info)) => format!("DNS lookup failed (info code {info})"),
                (None, None) => "DNS lookup failed".into(),
            },
        ),
        ErrorCode::DestinationNotFound => (Dns, "the destination host was not found".into()),
        ErrorCode::ConnectionRefused => (ConnectionRefused, "connection refused".into()),
        ErrorCode::DestinationUnavailable => {
            (ConnectionRefused, "the destination is unavailable".into())
        }
        ErrorCode::DestinationIpUnroutable => (
            ConnectionRefused,
            "the destination address is unroutable".into(),
        ),
        ErrorCode::ConnectionTimeout => (Timeout, "connecting timed out".into()),
        ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => {
            (Timeout, "the connection timed out".into())
        }
        ErrorCode::HttpResponseTimeout => (Timeout, "the response took too long".into()),
        ErrorCode::TlsProtocolError => (Tls, "TLS protocol error".into()),
        ErrorCode::TlsCertificateError => (Tls, "the server's TLS certificate was rejected".into()),
        ErrorCode::TlsAlertReceived(payload) => (
            Tls,
            match &payload.alert_message {
                Some(message) => format!("TLS alert: {message}"),
                None => "TLS alert received".into(),
            },
        ),
        ErrorCode::ConnectionTerminated => (Other, "the connection was closed early".into()),
        ErrorCode::ConnectionLimitReached => (Other, "too many connections".into()),
        ErrorCode::HttpRequestBodySize(_) => (
            Other,
            "the request body does not match its content-length".into(),
        ),
        ErrorCode::HttpResponseIncomplete => (Other, "the response was cut short".into()),
        ErrorCode::HttpProtocolError => (Other, "HTTP protocol error".into()),
        ErrorCode::InternalError(Some(message)) => (Other, message.clone()),
        other => (Other, format!("{other:?}").replace("ErrorCode::", "")),
    };
    (kind, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi::http::types::{DnsErrorPayload, TlsAlertReceivedPayload};

    #[test]
    fn denials_and_network_failures_get_their_kind_and_a_message() {
        let (kind, reason) = describe(&ErrorCode::HttpRequestDenied);
        assert_eq!(kind, FailureKind::Denied);
        assert!(reason.contains("allow-list"), "{reason}");
        assert_eq!(
            describe(&ErrorCode::DestinationIpProhibited).0,
            FailureKind::Denied
        );
        assert_eq!(
            describe(&ErrorCode::ConnectionRefused),
            (
                FailureKind::ConnectionRefused,
                "connection refused".to_owned()
            )
        );
        let dns = ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("NXDOMAIN".into()),
            info_code: None,
        });
        assert_eq!(
            describe(&dns),
            (FailureKind::Dns, "DNS lookup failed (NXDOMAIN)".to_owned())
        );
        assert_eq!(
            describe(&ErrorCode::ConnectionTimeout).0,
            FailureKind::Timeout
        );
        let alert = ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
            alert_id: None,
            alert_message: Some("handshake failure".into()),
        });
        assert_eq!(
            describe(&alert),
            (FailureKind::Tls, "TLS alert: handshake failure".to_owned())
        );
        assert_eq!(
            describe(&ErrorCode::InternalError(Some("boom".into()))),
            (FailureKind::Other, "boom".to_owned())
        );
        assert_eq!(
            describe(&ErrorCode::LoopDetected),
            (FailureKind::Other, "LoopDetected".to_owned())
        );
    }

    #[test]
    fn header_errors_name_the_bad_header() {
        let headers = vec![
            ("accept".to_owned(), "application/json".to_owned()),
            ("bad header".to_owned(), "x".to_owned()),
        ];
        let error = header_error(&headers, &HeaderError::InvalidSyntax);
        assert_eq!(
            error,
            HttpError::InvalidHeader {
                name: "bad header".into(),
                reason: "the name or value is not valid HTTP".into()
            }
        );
        let headers = vec![("x-ok".to_owned(), "line\nbreak".to_owned())];
        assert!(
            matches!(header_error(&headers, &HeaderError::InvalidSyntax),
            HttpError::InvalidHeader { name, .. } if name == "x-ok")
        );
        let headers = vec![
            ("accept".to_owned(), "*/*".to_owned()),
            ("Host".to_owned(), "a".to_owned()),
        ];
        assert!(matches!(header_error(&headers, &HeaderError::Forbidden),
            HttpError::InvalidHeader { name, reason } if name == "Host" && reason.contains("does not let")));
    }
}
