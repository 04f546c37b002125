//! The Rust examples end to end through the real server: `hello`, the droplet controller
//! against the fake DigitalOcean API (pagination, every error path, bad input, the outbound
//! allow-list, secrets kept out of the logs) and the `wasi:http` handler.

use crate::support::fake_digitalocean::{self, FakeDigitalOcean};
use crate::support::server::{KEY, TestServer, decode};
use serde_json::{Value, json};

fn component(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("guest component {path}: {e}"))
}

/// Deploys the droplet controller as `id`, pointed at `fake` with `token` and `allowed_hosts`.
async fn deploy_controller(
    s: &TestServer,
    id: &str,
    fake: &FakeDigitalOcean,
    token: &str,
    allowed_hosts: Value,
) {
    let extra = json!({
        "env": {"DO_API_BASE_URL": fake.base_url()},
        "secrets": {"DO_API_TOKEN": token},
        "allowedHosts": allowed_hosts,
    });
    let (status, body) = s
        .deploy(
            id,
            "1.0.0",
            &component(test_guests::DROPLET_CONTROLLER),
            extra,
        )
        .await;
    assert_eq!(status, 200, "deploy: {body}");
}

/// A server with the controller deployed as `do-api` against a fresh fake.
async fn controller() -> (TestServer, FakeDigitalOcean) {
    let s = TestServer::start().await;
    let fake = FakeDigitalOcean::start();
    let token = fake.token().to_owned();
    deploy_controller(&s, "do-api", &fake, &token, json!([fake.authority()])).await;
    (s, fake)
}

/// Asserts an invocation failed with `status`, `reason` (`failed`, `invalid-params`) and a
/// message containing `needle`; returns the message.
fn assert_call_error(
    status: u16,
    body: &Value,
    want_status: u16,
    reason: &str,
    needle: &str,
) -> String {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["context"]["reason"], reason, "{body}");
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}: {body}"
    );
    message
}

fn droplet_ids(result: &Value) -> Vec<u64> {
    result["body"]["droplets"]
        .as_array()
        .expect("droplets")
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn hello_greets_by_name_or_a_stranger() {
    let s = TestServer::start().await;
    assert_eq!(
        s.deploy("hello", "1.0.0", &component(test_guests::HELLO), json!({}))
            .await
            .0,
        200
    );
    let (status, body) = s.invoke("hello", "main", json!({"name": "Alice"})).await;
    assert_eq!(
        (status, body),
        (200, json!({"result": {"body": "Hello Alice!"}}))
    );
    let (status, body) = s.invoke("hello", "main", json!({})).await;
    assert_eq!(
        (status, body),
        (200, json!({"result": {"body": "Hello stranger!"}}))
    );
    let (status, body) = s.invoke("hello", "main", json!([{"name": "Bob"}])).await;
    assert_eq!(
        (status, body),
        (200, json!({"result": {"body": "Hello Bob!"}}))
    );

    let (status, body) = s.invoke("hello", "main", json!({"name": 42})).await;
    assert_call_error(
        status,
        &body,
        400,
        "invalid-params",
        "invalid parameter `args`",
    );
    let (status, body) = s.invoke("hello", "greet", json!([])).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (400, Some("unknown-method")),
        "{body}"
    );

    let (_, logs) = s.get("/v1/functions/hello/logs?level=info").await;
    let logged = logs["logs"].as_array().unwrap().iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("greeting Alice"))
    });
    assert!(
        logged,
        "the SDK's info! reaches the function's logs: {logs}"
    );
}

#[tokio::test]
async fn controller_lists_droplets_with_the_seed_shape() {
    let (s, fake) = controller().await;
    let (status, body) = s.invoke("do-api", "main", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["body"]["status"], "success");
    assert_eq!(result["body"]["count"], 7);
    assert_eq!(droplet_ids(result).len(), 7);
    assert_eq!(
        result["body"]["droplets"][0],
        json!({
            "id": 3164444, "name": "example.com", "status": "active",
            "created_at": "2020-07-21T18:37:44Z", "memory": 1024, "vcpus": 1, "disk": 25,
            "region": {"slug": "nyc3", "name": "New York 3"},
            "image": {"name": "20.04 (LTS) x64", "distribution": "Ubuntu"},
            "public_ipv4": "192.241.165.154",
            "tags": ["web", "env:prod"]
        })
    );
    let db = result["body"]["droplets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "db-primary")
        .unwrap();
    assert_eq!(db["public_ipv4"], Value::Null);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/v2/droplets")
    );
    assert_eq!(requests[0].query_param("per_page").as_deref(), Some("10"));
    assert_eq!(
        requests[0].authorization,
        Some(format!("Bearer {}", fake.token()))
    );
}

#[tokio::test]
async fn controller_follows_pagination_until_the_limit() {
    let (s, fake) = controller().await;
    fake.set_max_per_page(2);
    let (status, body) = s.invoke("do-api", "main", json!({"limit": 5})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["body"]["count"], 5);
    let expected: Vec<u64> = fake_digitalocean::droplets()
        .iter()
        .take(5)
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(droplet_ids(&body["result"]), expected);
    let pages: Vec<Option<String>> = fake
        .requests()
        .iter()
        .map(|r| r.query_param("page"))
        .collect();
    assert_eq!(
        pages,
        vec![Some("1".into()), Some("2".into()), Some("3".into())]
    );

    // A tag filter, across pages, stops at the last page.
    let before = fake.requests().len();
    let (status, body) = s
        .invoke("do-api", "main", json!({"tag": "web", "limit": 10}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        droplet_ids(&body["result"]),
        vec![3164444, 3164459, 3164464]
    );
    let tagged = &fake.requests()[before..];
    assert_eq!(tagged.len(), 2);
    assert!(
        tagged
            .iter()
            .all(|r| r.query_param("tag_name").as_deref() == Some("web"))
    );
}

#[tokio::test]
async fn controller_gets_one_droplet_and_powers_it() {
    let (s, fake) = controller().await;
    let (status, body) = s
        .invoke("do-api", "main", json!({"droplet_id": "3164462"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["body"]["count"], 1);
    assert_eq!(
        body["result"]["body"]["droplets"][0]["region"]["slug"],
        "fra1"
    );

    let (status, body) = s
        .invoke(
            "do-api",
            "main",
            json!({"droplet_id": "3164461", "action": "power_on"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = &body["result"]["body"];
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["message"], "Power on initiated for droplet 3164461");
    assert_eq!(answer["action"]["type"], "power_on");
    assert_eq!(answer["action"]["resource_id"], 3164461);

    let (status, body) = s
        .invoke(
            "do-api",
            "main",
            json!({"droplet_id": 3164444, "action": "power_off"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["body"]["message"],
        "Power off initiated for droplet 3164444"
    );

    let posts: Vec<Value> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            assert_eq!(
                r.path,
                format!(
                    "/v2/droplets/{}/actions",
                    if r.body.contains("power_on") {
                        3164461
                    } else {
                        3164444
                    }
                )
            );
            serde_json::from_str(&r.body).unwrap()
        })
        .collect();
    assert_eq!(
        posts,
        vec![json!({"type": "power_on"}), json!({"type": "power_off"})]
    );
}

#[tokio::test]
async fn controller_explains_api_errors() {
    let (s, fake) = controller().await;
    let (status, body) = s.invoke("do-api", "main", json!({"droplet_id": 999})).await;
    assert_call_error(
        status,
        &body,
        500,
        "failed",
        "droplet 999 not found (404 not_found",
    );

    let (status, body) = s
        .invoke(
            "do-api",
            "main",
            json!({"droplet_id": 3164444, "action": "power_on"}),
        )
        .await;
    assert_call_error(
        status,
        &body,
        500,
        "failed",
        "DigitalOcean refused to power on droplet 3164444 (422 unprocessable_entity: Droplet is already powered on.)",
    );

    fake.set_rate_limited(true);
    let (status, body) = s.invoke("do-api", "main", json!({})).await;
    let message = assert_call_error(
        status,
        &body,
        500,
        "failed",
        "DigitalOcean API rate limit exceeded (429 too_many_requests",
    );
    assert!(
        message.contains("resets at unix time 1444931833"),
        "{message}"
    );
    fake.set_rate_limited(false);

    deploy_controller(
        &s,
        "do-api-bad-token",
        &fake,
        "dop_v1_wrong",
        json!([fake.authority()]),
    )
    .await;
    let (status, body) = s.invoke("do-api-bad-token", "main", json!({})).await;
    assert_call_error(
        status,
        &body,
        500,
        "failed",
        "DigitalOcean rejected the API token (401 unauthorized: Unable to authenticate you)",
    );
    assert_eq!(
        fake.requests().last().unwrap().authorization.as_deref(),
        Some("Bearer dop_v1_wrong")
    );
}

#[tokio::test]
async fn controller_refuses_bad_input_without_calling_the_api() {
    let (s, fake) = controller().await;
    let cases = [
        (
            json!({"droplet_id": "12345", "action": "reboot"}),
            "unknown action `reboot`",
        ),
        (
            json!({"action": "power_on"}),
            "the `power_on` action needs a `droplet_id`",
        ),
        (
            json!({"droplet_id": "abc"}),
            "`droplet_id` must be a positive integer",
        ),
        (
            json!({"limit": 0}),
            "`limit` must be an integer from 1 to 1000",
        ),
        (json!({"dropletid": 1}), "unknown argument `dropletid`"),
    ];
    for (params, needle) in cases {
        let (status, body) = s.invoke("do-api", "main", params).await;
        assert_call_error(status, &body, 400, "invalid-params", needle);
    }
    assert!(
        fake.requests().is_empty(),
        "bad input reached the API: {:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn controller_needs_its_host_on_the_allow_list_and_its_token() {
    let s = TestServer::start().await;
    let fake = FakeDigitalOcean::start();
    let token = fake.token().to_owned();
    deploy_controller(&s, "do-api-closed", &fake, &token, json!([])).await;
    let (status, body) = s.invoke("do-api-closed", "main", json!({})).await;
    assert_call_error(
        status,
        &body,
        500,
        "failed",
        "cannot reach the DigitalOcean API",
    );
    assert!(
        body["message"].as_str().unwrap().contains("denied"),
        "{body}"
    );
    assert!(fake.requests().is_empty());

    let extra =
        json!({"env": {"DO_API_BASE_URL": fake.base_url()}, "allowedHosts": [fake.authority()]});
    let (status, _) = s
        .deploy(
            "do-api-no-token",
            "1.0.0",
            &component(test_guests::DROPLET_CONTROLLER),
            extra,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = s.invoke("do-api-no-token", "main", json!({})).await;
    assert_call_error(
        status,
        &body,
        500,
        "failed",
        "secret `DO_API_TOKEN` is not set",
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn controller_never_logs_its_token() {
    let (s, fake) = controller().await;
    assert_eq!(
        s.invoke("do-api", "main", json!({"tag": "web"})).await.0,
        200
    );
    assert_eq!(
        s.invoke("do-api", "main", json!({"droplet_id": 999}))
            .await
            .0,
        500
    );
    let (status, logs) = s.get("/v1/functions/do-api/logs").await;
    assert_eq!(status, 200);
    let entries = logs["logs"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("listing up to 10 droplets tagged web"))),
        "{logs}"
    );
    assert!(
        !logs.to_string().contains(fake.token()),
        "the token leaked into the logs: {logs}"
    );
}

#[tokio::test]
async fn http_handler_serves_its_routes() {
    let s = TestServer::start().await;
    assert_eq!(
        s.deploy(
            "web",
            "1.0.0",
            &component(test_guests::HTTP_HANDLER),
            json!({})
        )
        .await
        .0,
        200
    );
    let (status, body) = s.get("/v1/functions/web").await;
    assert_eq!((status, body), (200, json!({"message": "Hello from fdo!"})));

    let response = s
        .client
        .post(s.url("/v1/functions/web/echo"))
        .header("x-api-key", KEY)
        .json(&json!({"a": [1, 2, 3]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        decode(response).await,
        (200, json!({"echo": {"a": [1, 2, 3]}}))
    );

    let response = s
        .client
        .post(s.url("/v1/functions/web/echo"))
        .header("x-api-key", KEY)
        .header("content-type", "text/plain")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(decode(response).await.0, 400);

    let (status, body) = s.get("/v1/functions/web/missing?x=1").await;
    assert_eq!(
        (status, body),
        (404, json!({"error": "not found", "path": "/missing"}))
    );
    let (status, _) = s.delete("/v1/functions/web/echo").await;
    assert_eq!(status, 405);
}
