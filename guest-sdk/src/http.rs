//! A blocking outbound HTTP client over `wasi:http/outgoing-handler`.
//!
//! Build a [`Request`], [`send`](Request::send) it, and read the [`Response`]'s status, headers
//! and body (as text or JSON). Every failure is an [`HttpError`] whose message says what went
//! wrong; requests the host refuses (a destination not on the function's outbound allow-list,
//! a prohibited address) come back as [`FailureKind::Denied`], so functions can tell that
//! apart from DNS failures, refused connections and timeouts.
//!
//! ```no_run
//! use fdo_sdk::http::{self, Request};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Account { email: String }
//!
//! # fn main() -> Result<(), fdo_sdk::http::HttpError> {
//! let response = http::get("https://api.example.com/v2/ping")?;
//! assert!(response.is_success());
//!
//! let response = Request::post("https://api.example.com/v2/account")
//!     .bearer_auth("t0ken")
//!     .json(&serde_json::json!({ "email": "alice@example.com" }))
//!     .send()?;
//! let account: Account = response.json()?;
//! # Ok(()) }
//! ```
//!
//! Sending works inside a WebAssembly component only: on other targets (unit tests on the
//! host) [`Request::send`] returns [`HttpError::Unsupported`] instead of reaching the network.

mod transport;
mod url;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

pub use self::url::Target;

/// An HTTP method.
///
/// ```
/// use fdo_sdk::http::{Method, Request};
///
/// let request = Request::new(Method::Options, "https://example.com/");
/// assert_eq!(request.method().to_string(), "OPTIONS");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        })
    }
}

/// An outgoing request, built with chained calls and sent with [`Request::send`].
///
/// ```
/// use fdo_sdk::http::{Method, Request};
///
/// let request = Request::new(Method::Put, "https://api.example.com/v2/tags/web")
///     .header("X-Trace", "abc")
///     .body("hello");
/// assert_eq!(request.method(), Method::Put);
/// assert_eq!(request.headers(), &[("X-Trace".to_string(), "abc".to_string())]);
/// assert_eq!(request.body_bytes(), b"hello");
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    method: Method,
    /// The absolute URL as given.
    url: String,
    /// Headers in the order they were added.
    headers: Vec<(String, String)>,
    /// The body (empty for none).
    body: Vec<u8>,
    /// Connect, first-byte and between-bytes timeout, when set.
    timeout: Option<Duration>,
    /// An error found while building (a body that cannot be encoded), reported by `send`.
    deferred: Option<HttpError>,
}

impl Request {
    /// A request with `method` to the absolute `url` (`http://` or `https://`).
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::new(fdo_sdk::http::Method::Get, "https://example.com/");
    /// assert_eq!(request.url(), "https://example.com/");
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            deferred: None,
        }
    }

    /// A `GET` request.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::get("https://example.com/status");
    /// assert_eq!(request.method(), fdo_sdk::http::Method::Get);
    /// ```
    pub fn get(url: impl Into<String>) -> Self {
        Request::new(Method::Get, url)
    }

    /// A `POST` request.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::post("https://example.com/items");
    /// assert_eq!(request.method(), fdo_sdk::http::Method::Post);
    /// ```
    pub fn post(url: impl Into<String>) -> Self {
        Request::new(Method::Post, url)
    }

    /// A `PUT` request.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::put("https://example.com/items/1");
    /// assert_eq!(request.method(), fdo_sdk::http::Method::Put);
    /// ```
    pub fn put(url: impl Into<String>) -> Self {
        Request::new(Method::Put, url)
    }

    /// A `PATCH` request.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::patch("https://example.com/items/1");
    /// assert_eq!(request.method(), fdo_sdk::http::Method::Patch);
    /// ```
    pub fn patch(url: impl Into<String>) -> Self {
        Request::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::delete("https://example.com/items/1");
    /// assert_eq!(request.method(), fdo_sdk::http::Method::Delete);
    /// ```
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new(Method::Delete, url)
    }

    /// Adds a header (names are case-insensitive; adding a name twice sends both values).
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::get("https://example.com/").header("Accept", "text/plain");
    /// assert_eq!(request.headers()[0], ("Accept".to_string(), "text/plain".to_string()));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    ///
    /// ```
    /// let token = fdo_sdk::env::Secret::new("t0ken");
    /// let request = fdo_sdk::http::Request::get("https://example.com/").bearer_auth(token.expose());
    /// assert_eq!(request.headers()[0].1, "Bearer t0ken");
    /// ```
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// Sets the body to `value` as JSON and `Content-Type: application/json` (unless a content
    /// type was set already). A value that cannot be encoded makes [`send`](Request::send) fail.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::post("https://example.com/")
    ///     .json(&serde_json::json!({"type": "power_on"}));
    /// assert_eq!(request.body_bytes(), br#"{"type":"power_on"}"#);
    /// assert_eq!(request.headers()[0].1, "application/json");
    /// ```
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = body;
                if !self.has_header("content-type") {
                    self = self.header("Content-Type", "application/json");
                }
            }
            Err(error) => self.deferred = Some(HttpError::EncodeJson(error.to_string())),
        }
        self
    }

    /// Sets the body to raw bytes.
    ///
    /// ```
    /// let request = fdo_sdk::http::Request::put("https://example.com/blob").body(vec![1, 2, 3]);
    /// assert_eq!(request.body_bytes(), &[1, 2, 3]);
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Limits the time to connect, to the first response byte and between response bytes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let request = fdo_sdk::http::Request::get("https://example.com/").timeout(Duration::from_secs(5));
    /// # let _ = request;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The method.
    ///
    /// ```
    /// assert_eq!(fdo_sdk::http::Request::get("https://e.com/").method().to_string(), "GET");
    /// ```
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL as given.
    ///
    /// ```
    /// assert_eq!(fdo_sdk::http::Request::get("https://e.com/a").url(), "https://e.com/a");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers added so far, in order.
    ///
    /// ```
    /// assert!(fdo_sdk::http::Request::get("https://e.com/").headers().is_empty());
    /// ```
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body set so far.
    ///
    /// ```
    /// assert!(fdo_sdk::http::Request::get("https://e.com/").body_bytes().is_empty());
    /// ```
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request and reads the whole response, blocking until it is complete.
    ///
    /// A response with any status (404, 500, ...) is `Ok`: check [`Response::status`]. `Err`
    /// means there was no response: a bad URL or header, a request the host denied, DNS,
    /// connection, TLS or timeout failures.
    ///
    /// ```no_run
    /// let response = fdo_sdk::http::Request::get("https://example.com/").send()?;
    /// println!("{} {}", response.status, response.text()?);
    /// # Ok::<(), fdo_sdk::http::HttpError>(())
    /// ```
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(error) = self.deferred {
            return Err(error);
        }
        let target = Target::parse(&self.url)?;
        let mut headers = self.headers;
        if !self.body.is_empty()
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        {
            headers.push(("content-length".to_owned(), self.body.len().to_string()));
        }
        let outgoing = transport::Outgoing {
            method: self.method,
            url: &self.url,
            target: &target,
            headers: &headers,
            body: &self.body,
            timeout: self.timeout,
        };
        if cfg!(target_arch = "wasm32") {
            transport::send(outgoing)
        } else {
            Err(HttpError::Unsupported)
        }
    }

    /// Whether a header with this name (any case) was added.
    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(existing, _)| existing.eq_ignore_ascii_case(name))
    }
}

/// Sends `GET url` and reads the response: shorthand for `Request::get(url).send()`.
///
/// ```no_run
/// let body = fdo_sdk::http::get("https://example.com/")?.text()?.to_owned();
/// # Ok::<(), fdo_sdk::http::HttpError>(())
/// ```
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::get(url).send()
}

/// A complete response: status, headers and the whole body.
///
/// ```
/// use fdo_sdk::http::Response;
///
/// let response = Response {
///     status: 200,
///     headers: vec![("Content-Type".into(), "application/json".into())],
///     body: br#"{"ok": true}"#.to_vec(),
/// };
/// assert!(response.is_success());
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// assert_eq!(response.json::<serde_json::Value>()?["ok"], true);
/// # Ok::<(), fdo_sdk::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercase as the host delivers them, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    ///
    /// ```
    /// let response = fdo_sdk::http::Response { status: 404, headers: vec![], body: vec![] };
    /// assert!(!response.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of the header `name` (any case).
    ///
    /// ```
    /// let response = fdo_sdk::http::Response {
    ///     status: 429,
    ///     headers: vec![("ratelimit-reset".into(), "1444931833".into())],
    ///     body: vec![],
    /// };
    /// assert_eq!(response.header("RateLimit-Reset"), Some("1444931833"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as UTF-8 text.
    ///
    /// ```
    /// let response = fdo_sdk::http::Response { status: 200, headers: vec![], body: b"hi".to_vec() };
    /// assert_eq!(response.text()?, "hi");
    /// # Ok::<(), fdo_sdk::http::HttpError>(())
    /// ```
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|_| HttpError::NotUtf8 {
            status: self.status,
        })
    }

    /// The body decoded from JSON.
    ///
    /// ```
    /// let response = fdo_sdk::http::Response { status: 200, headers: vec![], body: b"[1,2]".to_vec() };
    /// assert_eq!(response.json::<Vec<u8>>()?, vec![1, 2]);
    /// let response = fdo_sdk::http::Response { status: 502, headers: vec![], body: b"<html>".to_vec() };
    /// assert!(response.json::<Vec<u8>>().unwrap_err().to_string().contains("status 502"));
    /// # Ok::<(), fdo_sdk::http::HttpError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|error| HttpError::DecodeJson {
            status: self.status,
            reason: error.to_string(),
        })
    }
}

/// What kind of failure prevented a response.
///
/// ```no_run
/// use fdo_sdk::http::{self, FailureKind};
///
/// match http::get("https://api.example.com/") {
///     Ok(response) => println!("status {}", response.status),
///     Err(error) if error.kind() == Some(FailureKind::Denied) => {
///         fdo_sdk::error!("add api.example.com to the function's allowedHosts: {error}")
///     }
///     Err(error) => fdo_sdk::warn!("{error}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The host refused the request: the destination is not on the function's outbound
    /// allow-list, or its address is prohibited.
    Denied,
    /// The host name could not be resolved.
    Dns,
    /// The destination refused the connection.
    ConnectionRefused,
    /// Connecting or waiting for the response took too long.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// Anything else (protocol errors, a connection cut short, ...).
    Other,
}

/// Why an HTTP request produced no usable response.
///
/// ```
/// let error = fdo_sdk::http::Request::get("ftp://example.com/").send().unwrap_err();
/// assert_eq!(error.to_string(), "invalid URL `ftp://example.com/`: the scheme must be `http` or `https`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an absolute `http://` or `https://` URL.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value is malformed or forbidden by the host.
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The JSON body could not be encoded.
    #[error("cannot encode the request body as JSON: {0}")]
    EncodeJson(String),
    /// The request was sent (or refused) and failed before a complete response came back.
    #[error("{method} {url} failed: {reason}")]
    Failed {
        /// The request's method.
        method: Method,
        /// The request's URL.
        url: String,
        /// The kind of failure.
        kind: FailureKind,
        /// What happened, in words.
        reason: String,
    },
    /// The response body is not UTF-8 text.
    #[error("the response body (status {status}) is not valid UTF-8 text")]
    NotUtf8 {
        /// The response's status.
        status: u16,
    },
    /// The response body is not the expected JSON.
    #[error("cannot decode the response body (status {status}) as JSON: {reason}")]
    DecodeJson {
        /// The response's status.
        status: u16,
        /// What serde reported.
        reason: String,
    },
    /// Outbound HTTP needs a WebAssembly host (this is a native build, e.g. a unit test).
    #[error("outbound HTTP is only available inside a WebAssembly component")]
    Unsupported,
}

impl HttpError {
    /// The kind of failure, for [`HttpError::Failed`].
    ///
    /// ```
    /// use fdo_sdk::http::{FailureKind, HttpError, Method};
    ///
    /// let error = HttpError::Failed {
    ///     method: Method::Get,
    ///     url: "https://metadata.internal/".into(),
    ///     kind: FailureKind::Denied,
    ///     reason: "denied by the host".into(),
    /// };
    /// assert_eq!(error.kind(), Some(FailureKind::Denied));
    /// assert_eq!(HttpError::Unsupported.kind(), None);
    /// ```
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            HttpError::Failed { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
