//! A small client for the three DigitalOcean API operations the function uses.
//!
//! - `GET /v2/droplets?page=1&per_page=N[&tag_name=T]`, following `links.pages.next` until
//!   enough droplets are collected or there is no next page;
//! - `GET /v2/droplets/{id}`;
//! - `POST /v2/droplets/{id}/actions` with `{"type": "power_on" | "power_off"}`.
//!
//! Requests carry `Authorization: Bearer <DO_API_TOKEN>`. Error answers (`{"id", "message",
//! "request_id"}`) become [`ControllerError::Api`] with a message that says what it means for
//! this call (a rejected token, an unknown droplet, a refused action, the rate limit).
//!
//! The HTTP layer is a [`Transport`] so the pagination and error handling are unit-tested on
//! the host with scripted answers; the component uses [`WasiHttp`].

use crate::command::PowerAction;
use crate::error::ControllerError;
use fdo_sdk::env::Secret;
use fdo_sdk::http::{HttpError, Method, Request, Response, Target};
use serde::Deserialize;
use serde_json::{Value, json};

/// The largest page DigitalOcean serves (`per_page` maximum in the API description).
pub const MAX_PER_PAGE: u32 = 200;

/// The `User-Agent` the function sends.
const USER_AGENT: &str = concat!("fdo-droplet-controller/", env!("CARGO_PKG_VERSION"));

/// Sends one HTTP request and returns the complete response.
pub trait Transport {
    /// Sends `request`.
    fn send(&self, request: Request) -> Result<Response, HttpError>;
}

/// The real transport: the SDK's client over `wasi:http/outgoing-handler`.
pub struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        request.send()
    }
}

/// What a request was for, to word its errors.
#[derive(Debug, Clone, Copy)]
enum Context {
    /// Listing droplets.
    List,
    /// Getting one droplet.
    Droplet(u64),
    /// Acting on one droplet.
    Action(u64, PowerAction),
}

/// DigitalOcean's error body.
#[derive(Deserialize)]
struct ApiErrorBody {
    id: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// A client for one API base URL and token.
pub struct Client<T> {
    /// The base URL without a trailing slash, e.g. `https://api.digitalocean.com`.
    base_url: String,
    /// The API token (sent, never shown).
    token: Secret,
    /// How requests are sent.
    transport: T,
}

impl<T: Transport> Client<T> {
    /// A client for `base_url` (checked to be an absolute http(s) URL).
    pub fn new(base_url: &str, token: Secret, transport: T) -> Result<Self, ControllerError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Target::parse(&base_url).map_err(ControllerError::BadBaseUrl)?;
        Ok(Client {
            base_url,
            token,
            transport,
        })
    }

    /// Lists up to `limit` droplets, only those tagged `tag` if given, across pages.
    pub fn list_droplets(
        &self,
        tag: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Value>, ControllerError> {
        let per_page = limit.clamp(1, MAX_PER_PAGE);
        let mut path = format!("/v2/droplets?page=1&per_page={per_page}");
        if let Some(tag) = tag {
            path.push_str("&tag_name=");
            path.push_str(&percent_encode(tag));
        }
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut droplets: Vec<Value> = Vec::new();
        let mut page = 1;
        loop {
            let body = self.call(Method::Get, &path, None, Context::List)?;
            let batch = match body.get("droplets") {
                Some(Value::Array(batch)) => batch.clone(),
                _ => {
                    return Err(ControllerError::UnexpectedResponse(
                        "the droplet list has no `droplets` array".into(),
                    ));
                }
            };
            let total = body.pointer("/meta/total").and_then(Value::as_u64);
            fdo_sdk::debug!(
                "page {page}: {} droplets (total {})",
                batch.len(),
                total.map_or_else(|| "unknown".to_owned(), |total| total.to_string())
            );
            let empty = batch.is_empty();
            droplets.extend(batch);
            if droplets.len() >= wanted || empty {
                break;
            }
            match body.pointer("/links/pages/next").and_then(Value::as_str) {
                Some(next) => {
                    // Stay on the configured base URL (and so on the allow-list): take only the
                    // path and query of DigitalOcean's absolute link.
                    let target = Target::parse(next).map_err(|error| {
                        ControllerError::UnexpectedResponse(format!("bad next-page link: {error}"))
                    })?;
                    path = target.path_with_query;
                    page += 1;
                }
                None => break,
            }
        }
        droplets.truncate(wanted);
        Ok(droplets)
    }

    /// Gets one droplet.
    pub fn get_droplet(&self, droplet_id: u64) -> Result<Value, ControllerError> {
        let path = format!("/v2/droplets/{droplet_id}");
        let mut body = self.call(Method::Get, &path, None, Context::Droplet(droplet_id))?;
        match body.get_mut("droplet") {
            Some(droplet) if droplet.is_object() => Ok(droplet.take()),
            _ => Err(ControllerError::UnexpectedResponse(
                "the answer has no `droplet` object".into(),
            )),
        }
    }

    /// Starts a power action on a droplet and returns DigitalOcean's action object.
    pub fn power(&self, droplet_id: u64, action: PowerAction) -> Result<Value, ControllerError> {
        let path = format!("/v2/droplets/{droplet_id}/actions");
        let request_body = json!({ "type": action.api_type() });
        let context = Context::Action(droplet_id, action);
        let mut body = self.call(Method::Post, &path, Some(&request_body), context)?;
        match body.get_mut("action") {
            Some(action) if action.is_object() => Ok(action.take()),
            _ => Err(ControllerError::UnexpectedResponse(
                "the answer has no `action` object".into(),
            )),
        }
    }

    /// Sends one API request and returns its JSON body, or the error it means.
    fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        context: Context,
    ) -> Result<Value, ControllerError> {
        let url = format!("{}{path_and_query}", self.base_url);
        let mut request = Request::new(method, url)
            .bearer_auth(self.token.expose())
            .header("Accept", "application/json")
            .header("User-Agent", USER_AGENT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.transport.send(request)?;
        if !response.is_success() {
            return Err(api_error(&response, context));
        }
        response
            .json::<Value>()
            .map_err(|error| ControllerError::UnexpectedResponse(error.to_string()))
    }
}

/// Words an error answer for the call that got it.
fn api_error(response: &Response, context: Context) -> ControllerError {
    let status = response.status;
    let body: Option<ApiErrorBody> = response.json().ok();
    let (id, message, request_id) = match body {
        Some(body) => (body.id, body.message, body.request_id),
        None => (None, None, None),
    };
    let mut detail = status.to_string();
    if let Some(id) = &id {
        detail.push(' ');
        detail.push_str(id);
    }
    if let Some(message) = &message {
        detail.push_str(": ");
        detail.push_str(message);
    }
    let mut text = match (status, context) {
        (401, _) => format!("DigitalOcean rejected the API token ({detail})"),
        (403, _) => format!("the API token is not allowed to do this ({detail})"),
        (404, Context::Droplet(id) | Context::Action(id, _)) => {
            format!("droplet {id} not found ({detail})")
        }
        (422, Context::Action(id, action)) => format!(
            "DigitalOcean refused to {} droplet {id} ({detail})",
            action.api_type().replace('_', " ")
        ),
        (422, _) => format!("DigitalOcean could not process the request ({detail})"),
        (429, _) => {
            let mut text = format!("DigitalOcean API rate limit exceeded ({detail})");
            if let Some(reset) = response.header("ratelimit-reset") {
                text.push_str(&format!("; the limit resets at unix time {reset}"));
            }
            text
        }
        (500..=599, _) => format!("the DigitalOcean API failed ({detail})"),
        _ => format!("the DigitalOcean API answered {detail}"),
    };
    if let Some(request_id) = request_id {
        text.push_str(&format!(" [request id {request_id}]"));
    }
    ControllerError::Api {
        status,
        message: text,
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A transport answering from a script and recording what it was sent.
    #[derive(Default)]
    pub(crate) struct Scripted {
        pub answers: RefCell<VecDeque<Result<Response, HttpError>>>,
        pub sent: RefCell<Vec<Request>>,
    }

    impl Scripted {
        pub fn new(answers: Vec<Result<Response, HttpError>>) -> Self {
            Scripted {
                answers: RefCell::new(answers.into()),
                sent: RefCell::default(),
            }
        }

        /// The method and URL of each request sent.
        pub fn requests(&self) -> Vec<String> {
            self.sent
                .borrow()
                .iter()
                .map(|request| format!("{} {}", request.method(), request.url()))
                .collect()
        }
    }

    impl Transport for &Scripted {
        fn send(&self, request: Request) -> Result<Response, HttpError> {
            self.sent.borrow_mut().push(request);
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or(Err(HttpError::Unsupported))
        }
    }

    pub(crate) fn answer(status: u16, body: Value) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        })
    }

    fn droplet(id: u64) -> Value {
        json!({"id": id, "name": format!("d{id}"), "status": "active"})
    }

    fn page(ids: &[u64], next: Option<&str>, total: u64) -> Result<Response, HttpError> {
        let pages = match next {
            Some(next) => {
                json!({"next": next, "last": "https://api.digitalocean.com/v2/droplets?page=9"})
            }
            None => json!({}),
        };
        let droplets: Vec<Value> = ids.iter().copied().map(droplet).collect();
        answer(
            200,
            json!({"droplets": droplets, "links": {"pages": pages}, "meta": {"total": total}}),
        )
    }

    fn client(script: &Scripted) -> Client<&Scripted> {
        Client::new("http://127.0.0.1:9/", Secret::new("tok"), script).unwrap()
    }

    fn ids(droplets: &[Value]) -> Vec<u64> {
        droplets.iter().map(|d| d["id"].as_u64().unwrap()).collect()
    }

    #[test]
    fn listing_follows_next_links_on_the_configured_base_until_the_limit() {
        let script = Scripted::new(vec![
            page(
                &[1, 2],
                Some("https://api.digitalocean.com/v2/droplets?page=2&per_page=2&tag_name=web"),
                5,
            ),
            page(
                &[3, 4],
                Some("https://api.digitalocean.com/v2/droplets?page=3&per_page=2&tag_name=web"),
                5,
            ),
            page(&[5], None, 5),
        ]);
        let droplets = client(&script).list_droplets(Some("web"), 3).unwrap();
        assert_eq!(ids(&droplets), vec![1, 2, 3]);
        assert_eq!(
            script.requests(),
            vec![
                "GET http://127.0.0.1:9/v2/droplets?page=1&per_page=3&tag_name=web",
                "GET http://127.0.0.1:9/v2/droplets?page=2&per_page=2&tag_name=web",
            ]
        );
    }

    #[test]
    fn listing_stops_at_the_last_page_or_an_empty_one() {
        let script = Scripted::new(vec![
            page(&[1, 2], Some("http://x/v2/droplets?page=2"), 3),
            page(&[3], None, 3),
        ]);
        assert_eq!(
            ids(&client(&script).list_droplets(None, 10).unwrap()),
            vec![1, 2, 3]
        );
        assert_eq!(script.requests().len(), 2);
        assert_eq!(
            script.requests()[0],
            "GET http://127.0.0.1:9/v2/droplets?page=1&per_page=10"
        );

        let script = Scripted::new(vec![page(&[], Some("http://x/v2/droplets?page=2"), 0)]);
        assert!(client(&script).list_droplets(None, 10).unwrap().is_empty());
        assert_eq!(script.requests().len(), 1);
    }

    #[test]
    fn per_page_is_capped_at_the_api_maximum_and_tags_are_encoded() {
        let script = Scripted::new(vec![page(&[1], None, 1)]);
        client(&script)
            .list_droplets(Some("env:prod s"), 1000)
            .unwrap();
        assert_eq!(
            script.requests(),
            vec!["GET http://127.0.0.1:9/v2/droplets?page=1&per_page=200&tag_name=env%3Aprod%20s"]
        );
    }

    #[test]
    fn requests_carry_the_token_and_the_action_body() {
        let script = Scripted::new(vec![answer(
            201,
            json!({"action": {"id": 1, "type": "power_off", "status": "in-progress"}}),
        )]);
        let action = client(&script).power(42, PowerAction::PowerOff).unwrap();
        assert_eq!(action["type"], "power_off");
        let sent = script.sent.borrow();
        assert_eq!(sent[0].method(), Method::Post);
        assert_eq!(sent[0].url(), "http://127.0.0.1:9/v2/droplets/42/actions");
        assert_eq!(sent[0].body_bytes(), br#"{"type":"power_off"}"#);
        let auth: Vec<_> = sent[0]
            .headers()
            .iter()
            .filter(|(n, _)| n == "Authorization")
            .collect();
        assert_eq!(
            auth,
            vec![&("Authorization".to_owned(), "Bearer tok".to_owned())]
        );
    }

    #[test]
    fn get_returns_the_droplet_object() {
        let script = Scripted::new(vec![answer(200, json!({"droplet": droplet(7)}))]);
        assert_eq!(client(&script).get_droplet(7).unwrap()["name"], "d7");
        assert_eq!(
            script.requests(),
            vec!["GET http://127.0.0.1:9/v2/droplets/7"]
        );
    }

    fn api_message(result: Result<impl std::fmt::Debug, ControllerError>) -> (u16, String) {
        match result {
            Err(ControllerError::Api { status, message }) => (status, message),
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn error_answers_are_explained_for_the_call() {
        let unauthorized = json!({"id": "unauthorized", "message": "Unable to authenticate you"});
        let script = Scripted::new(vec![answer(401, unauthorized)]);
        assert_eq!(
            api_message(client(&script).list_droplets(None, 1)),
            (401, "DigitalOcean rejected the API token (401 unauthorized: Unable to authenticate you)".to_owned())
        );

        let not_found = json!({"id": "not_found", "message": "The resource you requested could not be found.", "request_id": "r-1"});
        let script = Scripted::new(vec![answer(404, not_found.clone()), answer(404, not_found)]);
        let (status, message) = api_message(client(&script).get_droplet(999));
        assert_eq!(status, 404);
        assert_eq!(
            message,
            "droplet 999 not found (404 not_found: The resource you requested could not be found.) [request id r-1]"
        );
        let (_, message) = api_message(client(&script).power(999, PowerAction::PowerOn));
        assert!(message.starts_with("droplet 999 not found"), "{message}");

        let unprocessable =
            json!({"id": "unprocessable_entity", "message": "Droplet is already powered on."});
        let script = Scripted::new(vec![answer(422, unprocessable)]);
        let (_, message) = api_message(client(&script).power(3, PowerAction::PowerOn));
        assert_eq!(
            message,
            "DigitalOcean refused to power on droplet 3 (422 unprocessable_entity: Droplet is already powered on.)"
        );
    }

    #[test]
    fn rate_limits_say_when_they_reset() {
        let mut response = answer(
            429,
            json!({"id": "too_many_requests", "message": "API rate limit exceeded."}),
        )
        .unwrap();
        response
            .headers
            .push(("ratelimit-reset".into(), "1444931833".into()));
        let script = Scripted::new(vec![Ok(response)]);
        let (status, message) = api_message(client(&script).list_droplets(None, 5));
        assert_eq!(status, 429);
        assert_eq!(
            message,
            "DigitalOcean API rate limit exceeded (429 too_many_requests: API rate limit exceeded.); the limit resets at unix time 1444931833"
        );
    }

    #[test]
    fn non_json_errors_and_transport_failures_are_reported() {
        let script = Scripted::new(vec![Ok(Response {
            status: 502,
            headers: vec![],
            body: b"<html>".to_vec(),
        })]);
        assert_eq!(
            api_message(client(&script).get_droplet(1)).1,
            "the DigitalOcean API failed (502)"
        );
        let script = Scripted::new(vec![]);
        let error = client(&script).get_droplet(1).unwrap_err();
        assert!(matches!(
            error,
            ControllerError::Http(HttpError::Unsupported)
        ));
    }

    #[test]
    fn answers_without_the_documented_keys_are_unexpected() {
        let script = Scripted::new(vec![
            answer(200, json!({"droplets": "nope"})),
            answer(200, json!({})),
            answer(201, json!({})),
        ]);
        assert!(matches!(
            client(&script).list_droplets(None, 1),
            Err(ControllerError::UnexpectedResponse(_))
        ));
        assert!(matches!(
            client(&script).get_droplet(1),
            Err(ControllerError::UnexpectedResponse(_))
        ));
        assert!(matches!(
            client(&script).power(1, PowerAction::PowerOn),
            Err(ControllerError::UnexpectedResponse(_))
        ));
    }

    #[test]
    fn a_bad_base_url_is_rejected_up_front() {
        let script = Scripted::new(vec![]);
        let error = Client::new("api.digitalocean.com", Secret::new("t"), &script)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .starts_with("DO_API_BASE_URL is not usable: invalid URL"),
            "{error}"
        );
    }
}
