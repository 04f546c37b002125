//! The HTTP client of the CLI: the host's URL and key, requests, and the API's answers turned
//! into JSON values or [`CliError`]s.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use super::{CliError, ClientOpts};

/// How long connecting to the host may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of one fdo host.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl Client {
    /// A client for the host and key in `opts`.
    pub fn new(opts: &ClientOpts) -> Result<Self, CliError> {
        let base = opts.url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| CliError::usage(format!("invalid --url {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CliError::usage(format!(
                "invalid --url {base:?}: expected http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .user_agent(concat!("fdo-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Other(e.into()))?;
        Ok(Self {
            http,
            base,
            api_key: opts.api_key.clone().filter(|k| !k.is_empty()),
        })
    }

    /// The API key sent with every request, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// The host's base URL (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` carrying the API key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.api_key {
            Some(key) => rb.header("x-api-key", key),
            None => rb,
        }
    }

    /// Sends `request`; a failure to get any answer is [`CliError::Unreachable`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, CliError> {
        request.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })
    }

    /// Sends `request` and decodes the JSON answer; an error status becomes [`CliError::Api`].
    pub async fn json(&self, request: RequestBuilder) -> Result<Value, CliError> {
        let response = self.send(request).await?;
        decode(response).await
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.json(self.request(Method::GET, path)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.json(self.request(Method::DELETE, path)).await
    }
}

/// Reads a JSON answer; an error status becomes [`CliError::Api`] with the API's code and
/// message (or the raw text, when the body is not the API's error shape).
pub async fn decode(response: Response) -> Result<Value, CliError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| CliError::Other(anyhow::anyhow!("reading the answer: {}", error_chain(&e))))?;
    let body: Option<Value> = serde_json::from_str(&text).ok();
    if status.is_success() {
        return body.ok_or_else(|| {
            CliError::Other(anyhow::anyhow!(
                "the host answered {status} with a body that is not JSON: {}",
                truncate(&text, 200)
            ))
        });
    }
    Err(api_error(status.as_u16(), body, &text))
}

/// The [`CliError::Api`] for an error answer.
pub fn api_error(status: u16, body: Option<Value>, text: &str) -> CliError {
    let body = body.unwrap_or_else(|| Value::String(text.to_owned()));
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("HTTP_ERROR")
        .to_owned();
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if text.trim().is_empty() {
                "no details".to_owned()
            } else {
                truncate(text, 200)
            }
        });
    CliError::Api {
        status,
        code,
        message,
        body,
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// An error with its sources, `a: b: c` (reqwest's own message says little).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
