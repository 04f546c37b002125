//! A fake DigitalOcean API for tests: the droplet endpoints of the public OpenAPI description
//! (`../shared/reference/digitalocean-openapi/`), served over real HTTP on `127.0.0.1:0`.
//!
//! - `GET /v2/droplets` with `tag_name`, `per_page` (default 20, capped at
//!   [`FakeDigitalOcean::set_max_per_page`], 200 like DigitalOcean) and `page` (default 1);
//!   answers `{"droplets", "links": {"pages": {first, prev, next, last}}, "meta": {"total"}}`
//!   with absolute page links on the fake's own address;
//! - `GET /v2/droplets/{id}`: `{"droplet"}` or `404 not_found`;
//! - `POST /v2/droplets/{id}/actions` with `{"type": ...}`: `201 {"action"}` with an
//!   `in-progress` action; `422 unprocessable_entity` for a type that is not a droplet action,
//!   a body without one, or a power action that would not change anything (`power_on` of an
//!   active droplet, `power_off` of one that is off; the data set never changes);
//! - every request needs `Authorization: Bearer <token>`, else `401 {"id": "unauthorized",
//!   "message": "Unable to authenticate you"}`;
//! - [`FakeDigitalOcean::set_rate_limited`] makes every request answer `429
//!   too_many_requests` with `ratelimit-remaining: 0`;
//! - unknown paths answer `404 not_found`; error bodies are `{"id", "message", "request_id"}`.
//!
//! The data set is fixed ([`droplets`]): seven droplets in five regions, three tagged `web`,
//! one without a public IPv4 address, two powered off. Every request is recorded
//! ([`FakeDigitalOcean::requests`]) so tests can assert what a function sent, or that it sent
//! nothing. The server runs on its own thread and runtime, so it answers whatever the test's
//! runtime is doing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "dop_v1_fake0123456789abcdef";

/// DigitalOcean's default page size.
pub const DEFAULT_PER_PAGE: u32 = 20;

/// DigitalOcean's largest page size, the fake's default cap.
pub const MAX_PER_PAGE: u32 = 200;

/// The hourly request quota the fake advertises in `ratelimit-limit`.
pub const RATE_LIMIT: u64 = 5000;

/// The fixed `ratelimit-reset` the fake sends (the example value of the API description).
pub const RATE_LIMIT_RESET: u64 = 1_444_931_833;

/// The body of every 401.
pub fn unauthorized_body() -> Value {
    json!({"id": "unauthorized", "message": "Unable to authenticate you"})
}

/// The action types `POST /v2/droplets/{id}/actions` accepts (from the API description).
pub const ACTION_TYPES: [&str; 16] = [
    "enable_backups",
    "disable_backups",
    "change_backup_policy",
    "reboot",
    "power_cycle",
    "shutdown",
    "power_off",
    "power_on",
    "restore",
    "password_reset",
    "resize",
    "rebuild",
    "rename",
    "change_kernel",
    "enable_ipv6",
    "snapshot",
];

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/v2/droplets/3164444`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body as text.
    pub body: String,
}

impl RecordedRequest {
    /// The decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let uri: Uri = format!("/?{}", self.query.as_deref().unwrap_or(""))
            .parse()
            .ok()?;
        let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&uri).ok()?;
        params.get(name).cloned()
    }
}

/// What the handler shares with the test.
struct Shared {
    /// `http://127.0.0.1:PORT`, for page links.
    base_url: String,
    /// The accepted token.
    token: String,
    /// Whether to answer 429 to everything.
    rate_limited: AtomicBool,
    /// The page-size cap.
    max_per_page: AtomicU32,
    /// Every request so far.
    requests: Mutex<Vec<RecordedRequest>>,
    /// Next action id.
    next_action_id: AtomicU64,
}

/// A running fake; dropping it stops the server.
pub struct FakeDigitalOcean {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDigitalOcean {
    /// Starts the fake on an ephemeral port of 127.0.0.1, accepting [`TOKEN`].
    pub fn start() -> Self {
        Self::start_with_token(TOKEN)
    }

    /// Starts the fake accepting `token`.
    pub fn start_with_token(token: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            token: token.to_owned(),
            rate_limited: AtomicBool::new(false),
            max_per_page: AtomicU32::new(MAX_PER_PAGE),
            requests: Mutex::new(Vec::new()),
            next_action_id: AtomicU64::new(36_804_636),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-digitalocean".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake DigitalOcean runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    // Dropping the server future (and then the runtime) closes every
                    // connection at once: no waiting for idle keep-alive clients.
                    tokio::select! {
                        result = axum::serve(listener, router) => {
                            result.expect("fake DigitalOcean serves");
                        }
                        _ = rx => {}
                    }
                });
            })
            .expect("spawn the fake DigitalOcean thread");
        FakeDigitalOcean {
            shared,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the value for `DO_API_BASE_URL`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: the entry for a function's outbound allow-list.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// The token it accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Makes every later request answer 429 (`true`) or behave normally (`false`).
    pub fn set_rate_limited(&self, on: bool) {
        self.shared.rate_limited.store(on, Ordering::SeqCst);
    }

    /// Caps the page size (DigitalOcean caps it at 200), to make small data sets paginate.
    pub fn set_max_per_page(&self, max: u32) {
        self.shared.max_per_page.store(max.max(1), Ordering::SeqCst);
    }
}

impl Drop for FakeDigitalOcean {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers every request: records it, applies the rate-limit switch and the token check,
/// then routes it.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let count = {
        let mut requests = shared.requests.lock().expect("requests lock");
        requests.push(RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            authorization: authorization.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        requests.len() as u64
    };
    let request_id = format!("fake-{count:08}");

    if shared.rate_limited.load(Ordering::SeqCst) {
        let body = json!({"id": "too_many_requests", "message": "API rate limit exceeded.", "request_id": request_id});
        return reply(StatusCode::TOO_MANY_REQUESTS, body, 0);
    }
    let remaining = RATE_LIMIT.saturating_sub(count);
    if authorization.as_deref() != Some(&format!("Bearer {}", shared.token)) {
        return reply(StatusCode::UNAUTHORIZED, unauthorized_body(), remaining);
    }

    let segments: Vec<&str> = uri
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .collect();
    let (status, body) = match (&method, segments.as_slice()) {
        (&Method::GET, ["v2", "droplets"]) => list(&shared, &uri),
        (&Method::GET, ["v2", "droplets", id]) => match find(id) {
            Some(droplet) => (StatusCode::OK, json!({ "droplet": droplet })),
            None => not_found(),
        },
        (&Method::POST, ["v2", "droplets", id, "actions"]) => match find(id) {
            Some(droplet) => act(&shared, &droplet, &body),
            None => not_found(),
        },
        _ => not_found(),
    };
    let body = match (status.is_success(), body) {
        (false, Value::Object(mut map)) => {
            map.entry("request_id").or_insert(Value::String(request_id));
            Value::Object(map)
        }
        (_, body) => body,
    };
    reply(status, body, remaining)
}

/// A JSON answer with DigitalOcean's rate-limit headers.
fn reply(status: StatusCode, body: Value, remaining: u64) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert("ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(RATE_LIMIT_RESET));
    response
}

/// `404 not_found`.
fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"id": "not_found", "message": "The resource you were accessing could not be found."}),
    )
}

/// `400 bad_request` with `message`.
fn bad_request(message: String) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"id": "bad_request", "message": message}),
    )
}

/// `422 unprocessable_entity` with `message`.
fn unprocessable(message: String) -> (StatusCode, Value) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"id": "unprocessable_entity", "message": message}),
    )
}

/// The droplet with this id, if the id is a number in the data set.
fn find(id: &str) -> Option<Value> {
    let id: u64 = id.parse().ok()?;
    droplets().into_iter().find(|droplet| droplet["id"] == id)
}

/// `GET /v2/droplets`.
fn list(shared: &Shared, uri: &Uri) -> (StatusCode, Value) {
    let params = match Query::<HashMap<String, String>>::try_from_uri(uri) {
        Ok(Query(params)) => params,
        Err(error) => return bad_request(format!("invalid query: {error}")),
    };
    let number = |name: &str, default: u32| -> Result<u32, (StatusCode, Value)> {
        match params.get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<u32>() {
                Ok(value) if value >= 1 => Ok(value),
                _ => Err(bad_request(format!("{name} must be a positive integer"))),
            },
        }
    };
    let per_page = match number("per_page", DEFAULT_PER_PAGE) {
        Ok(per_page) => per_page.min(shared.max_per_page.load(Ordering::SeqCst)),
        Err(error) => return error,
    };
    let page = match number("page", 1) {
        Ok(page) => page,
        Err(error) => return error,
    };
    let tag = params.get("tag_name").filter(|tag| !tag.is_empty());
    let matching: Vec<Value> = droplets()
        .into_iter()
        .filter(|droplet| match tag {
            Some(tag) => droplet["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == tag.as_str())),
            None => true,
        })
        .collect();
    let total = matching.len() as u32;
    let last = total.div_ceil(per_page).max(1);
    let start = ((page - 1) as usize).saturating_mul(per_page as usize);
    let droplets: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .collect();

    let link = |page: u32| {
        let mut url = format!(
            "{}/v2/droplets?page={page}&per_page={per_page}",
            shared.base_url
        );
        if let Some(tag) = tag {
            url.push_str("&tag_name=");
            url.push_str(&percent_encode(tag));
        }
        url
    };
    let mut pages = serde_json::Map::new();
    if page > 1 {
        pages.insert("first".into(), link(1).into());
        pages.insert("prev".into(), link((page - 1).min(last)).into());
    }
    if page < last {
        pages.insert("last".into(), link(last).into());
        pages.insert("next".into(), link(page + 1).into());
    }
    (
        StatusCode::OK,
        json!({"droplets": droplets, "links": {"pages": pages}, "meta": {"total": total}}),
    )
}

/// `POST /v2/droplets/{id}/actions`.
fn act(shared: &Shared, droplet: &Value, body: &[u8]) -> (StatusCode, Value) {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => {
            return unprocessable("request payload validation failed: the body is not JSON".into());
        }
    };
    let kind = match request.get("type").and_then(Value::as_str) {
        Some(kind) => kind,
        None => {
            return unprocessable("request payload validation failed: `type` is required".into());
        }
    };
    if !ACTION_TYPES.contains(&kind) {
        return unprocessable(format!(
            "request payload validation failed: `{kind}` is not a droplet action type"
        ));
    }
    match (kind, droplet["status"].as_str()) {
        ("power_on", Some("active")) => {
            return unprocessable("Droplet is already powered on.".into());
        }
        ("power_off", Some("off")) => {
            return unprocessable("Droplet is already powered off.".into());
        }
        _ => {}
    }
    let id = shared.next_action_id.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::CREATED,
        json!({
            "action": {
                "id": id,
                "status": "in-progress",
                "type": kind,
                "started_at": "2020-11-14T16:29:21Z",
                "completed_at": null,
                "resource_id": droplet["id"],
                "resource_type": "droplet",
                "region": droplet["region"],
                "region_slug": droplet["region"]["slug"],
            }
        }),
    )
}

/// Percent-encodes a query value.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// One droplet of the data set, with the attributes of the API description's droplet model.
#[allow(clippy::too_many_arguments)]
fn droplet(
    id: u64,
    name: &str,
    status: &str,
    created_at: &str,
    size: (&str, u64, u64, u64),
    region: (&str, &str),
    image: (u64, &str, &str, &str),
    public_ipv4: Option<&str>,
    private_ipv4: &str,
    tags: &[&str],
) -> Value {
    let (size_slug, memory, vcpus, disk) = size;
    let (region_slug, region_name) = region;
    let (image_id, image_name, distribution, image_slug) = image;
    let mut v4 = vec![json!({
        "ip_address": private_ipv4, "netmask": "255.255.240.0", "gateway": "nil", "type": "private"
    })];
    if let Some(ip) = public_ipv4 {
        let gateway = format!("{}.1", ip.rsplit_once('.').map_or(ip, |(net, _)| net));
        v4.push(json!({"ip_address": ip, "netmask": "255.255.255.0", "gateway": gateway, "type": "public"}));
    }
    json!({
        "id": id,
        "name": name,
        "memory": memory,
        "vcpus": vcpus,
        "disk": disk,
        "disk_info": [{"type": "local", "size": {"amount": disk, "unit": "gib"}}],
        "locked": false,
        "status": status,
        "kernel": null,
        "created_at": created_at,
        "features": ["private_networking"],
        "backup_ids": [],
        "next_backup_window": null,
        "snapshot_ids": [],
        "image": {
            "id": image_id,
            "name": image_name,
            "distribution": distribution,
            "slug": image_slug,
            "public": true,
            "regions": [region_slug],
            "created_at": "2020-05-15T05:47:50Z",
            "type": "base",
            "min_disk_size": 20,
            "size_gigabytes": 2.36,
            "description": "",
            "tags": [],
            "status": "available",
            "error_message": ""
        },
        "volume_ids": [],
        "size": {
            "slug": size_slug,
            "memory": memory,
            "vcpus": vcpus,
            "disk": disk,
            "transfer": 1.0,
            "price_monthly": 6.0,
            "price_hourly": 0.00893,
            "regions": [region_slug],
            "available": true,
            "description": "Basic"
        },
        "size_slug": size_slug,
        "networks": {"v4": v4, "v6": []},
        "region": {
            "name": region_name,
            "slug": region_slug,
            "features": ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
            "available": true,
            "sizes": [size_slug]
        },
        "tags": tags,
        "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000"
    })
}

/// The fixed data set, in id order.
pub fn droplets() -> Vec<Value> {
    let small = ("s-1vcpu-1gb", 1024, 1, 25);
    let medium = ("s-2vcpu-4gb", 4096, 2, 80);
    let ubuntu_20 = (63_663_980, "20.04 (LTS) x64", "Ubuntu", "ubuntu-20-04-x64");
    let ubuntu_22 = (129_211_873, "22.04 (LTS) x64", "Ubuntu", "ubuntu-22-04-x64");
    let debian_12 = (145_986_230, "12 x64", "Debian", "debian-12-x64");
    vec![
        droplet(
            3_164_444,
            "example.com",
            "active",
            "2020-07-21T18:37:44Z",
            small,
            ("nyc3", "New York 3"),
            ubuntu_20,
            Some("192.241.165.154"),
            "10.128.192.124",
            &["web", "env:prod"],
        ),
        droplet(
            3_164_459,
            "assets.example.com",
            "active",
            "2020-07-21T18:42:27Z",
            small,
            ("nyc3", "New York 3"),
            ubuntu_20,
            Some("162.243.190.66"),
            "10.128.192.138",
            &["web", "env:prod"],
        ),
        droplet(
            3_164_460,
            "api-1.example.com",
            "active",
            "2021-03-02T09:12:00Z",
            medium,
            ("sfo3", "San Francisco 3"),
            ubuntu_22,
            Some("203.0.113.10"),
            "10.124.0.2",
            &["api", "env:prod"],
        ),
        droplet(
            3_164_461,
            "api-2.example.com",
            "off",
            "2021-03-02T09:14:30Z",
            medium,
            ("sfo3", "San Francisco 3"),
            ubuntu_22,
            Some("203.0.113.11"),
            "10.124.0.3",
            &["api", "env:staging"],
        ),
        droplet(
            3_164_462,
            "db-primary",
            "active",
            "2021-05-10T11:00:00Z",
            medium,
            ("fra1", "Frankfurt 1"),
            debian_12,
            None,
            "10.135.0.5",
            &["db", "env:prod"],
        ),
        droplet(
            3_164_463,
            "worker-1",
            "active",
            "2022-01-18T16:45:10Z",
            small,
            ("ams3", "Amsterdam 3"),
            debian_12,
            Some("198.51.100.7"),
            "10.133.0.7",
            &["worker"],
        ),
        droplet(
            3_164_464,
            "web-staging",
            "off",
            "2022-06-30T08:05:55Z",
            small,
            ("lon1", "London 1"),
            ubuntu_22,
            Some("198.51.100.8"),
            "10.131.0.8",
            &["web", "env:staging"],
        ),
    ]
}
