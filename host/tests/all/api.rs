//! The Functions.do API through the real server on a port: every endpoint and error case of
//! the reference, persistence across restarts, and rate limits with a hand-moved clock.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::server::{KEY, TestServer, config, decode, golden};
use serde_json::{Value, json};

fn rpc_basic() -> Vec<u8> {
    std::fs::read(test_guests::RPC_BASIC).expect("rpc-basic component built")
}

#[tokio::test]
async fn health_and_root_are_public() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let (status, body) = decode(r).await;
    assert_eq!(
        (status, body),
        (200, json!({"status": "ok", "service": "Functions.do"}))
    );
    let (status, body) = decode(s.client.get(s.url("/")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["service"], "Functions.do");
    let (status, body) = decode(s.client.get(s.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.1.0");
}

#[tokio::test]
async fn authentication_errors_are_the_reference_ones() {
    let s = TestServer::start().await;
    let (status, body) = decode(
        s.client
            .get(s.url("/v1/api/functions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    golden("auth_missing", &body);
    let (status, body) = decode(
        s.client
            .get(s.url("/v1/api/functions"))
            .header("x-api-key", "nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    golden("auth_invalid", &body);

    // A key made through the API works until it is revoked.
    let (status, created) = s.post("/v1/api/keys", &json!({"name": "ci"})).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let with = |k: &str| {
        s.client
            .get(s.url("/v1/api/functions"))
            .header("x-api-key", k.to_owned())
            .send()
    };
    assert_eq!(with(&key).await.unwrap().status(), 200);
    let (status, _) = s
        .delete(&format!("/v1/api/keys/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    let (status, body) = decode(with(&key).await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Invalid API key"))
    );

    // An expired key is invalid too.
    let soon = fdo::model::Timestamp::from_millis(fdo::model::Timestamp::now().as_millis() + 300);
    let expiring = s
        .app
        .host
        .create_key(fdo::model::NewKey::admin("short", Some(soon)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = decode(with(&expiring.key).await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Invalid API key"))
    );
}

#[tokio::test]
async fn deploy_list_info_invoke_delete() {
    let s = TestServer::start().await;
    let (status, d) = s
        .deploy(
            "greeter",
            "1.0.0",
            &rpc_basic(),
            json!({"dependencies": {"lodash": "^4.17.21"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    for field in [
        "id",
        "version",
        "language",
        "entryPoint",
        "dependencies",
        "createdAt",
        "updatedAt",
    ] {
        assert!(d.get(field).is_some(), "deploy response lacks {field}: {d}");
    }
    assert_eq!(d["dependencies"], json!({"lodash": "^4.17.21"}));
    assert_eq!(d["kind"], "rpc");
    assert_eq!(d["fromCache"], false);

    let (status, list) = s.get("/v1/api/functions").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "greeter");
    let (_, legacy_list) = s.get("/api/functions").await;
    assert_eq!(legacy_list, list);

    for path in [
        "/v1/api/functions/greeter",
        "/v1/api/functions/greeter/info",
        "/api/functions/greeter",
    ] {
        let (status, info) = s.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(info["id"], "greeter");
        assert_eq!(info["status"], "loaded");
        assert_eq!(info["version"], "1.0.0");
        assert!(info["loadTimeMs"].is_number() && info["fromCache"].is_boolean());
        assert_eq!(info["degraded"], false);
    }

    for path in [
        "/v1/functions/greeter",
        "/v1/functions/greeter/invoke",
        "/functions/greeter",
        "/functions/greeter/invoke",
    ] {
        let (status, r) = s
            .post(path, &json!({"method": "greet", "params": ["Alice"]}))
            .await;
        assert_eq!(
            (status, r),
            (200, json!({"result": "Hello, Alice!"})),
            "{path}"
        );
    }
    let (status, r) = s.invoke("greeter", "add", json!({"a": 2, "b": 40})).await;
    assert_eq!((status, r), (200, json!({"result": 42})));

    let (status, r) = s.delete("/v1/api/functions/greeter").await;
    assert_eq!(
        (status, r),
        (200, json!({"status": "deleted", "id": "greeter"}))
    );
    let (status, body) = s.get("/v1/api/functions/greeter").await;
    assert_eq!(status, 404);
    golden("function_not_found", &body);
    let (status, _) = s.invoke("greeter", "greet", json!(["x"])).await;
    assert_eq!(status, 404);
    let (status, _) = s.delete("/v1/api/functions/greeter").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invocation_errors_are_distinct() {
    let s = TestServer::start().await;
    let limits = json!({"limits": {"timeoutMs": 300, "memoryMb": 32}});
    assert_eq!(
        s.deploy("hostile", "1.0.0", &rpc_basic(), limits).await.0,
        200
    );
    let cases = [
        ("nope", json!([]), 400, "VALIDATION_ERROR", "unknown-method"),
        (
            "add",
            json!(["x"]),
            400,
            "VALIDATION_ERROR",
            "invalid-params",
        ),
        ("fail", json!([]), 500, "INVOCATION_ERROR", "failed"),
        ("panic", json!([]), 500, "INVOCATION_ERROR", "trap"),
        ("spin", json!([]), 504, "INVOCATION_ERROR", "timeout"),
        (
            "alloc",
            json!([64]),
            500,
            "INVOCATION_ERROR",
            "memory-limit",
        ),
        (
            "recurse",
            json!([]),
            500,
            "INVOCATION_ERROR",
            "stack-overflow",
        ),
    ];
    for (method, params, status, code, reason) in cases {
        let (got, body) = s.invoke("hostile", method, params).await;
        assert_eq!(got, status, "{method}: {body}");
        assert_eq!(body["error"], code, "{method}: {body}");
        assert_eq!(body["context"]["reason"], reason, "{method}: {body}");
        // The host keeps serving after each.
        assert_eq!(s.invoke("hostile", "greet", json!(["ok"])).await.0, 200);
    }
    let (_, body) = s.invoke("hostile", "panic", json!([])).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("requested panic"),
        "the panic message reaches the caller: {body}"
    );
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx() {
    let s = TestServer::start().await;
    assert_eq!(s.deploy("f", "1.0.0", &rpc_basic(), json!({})).await.0, 200);
    let post_raw = |path: &str, ct: &str, body: &'static str| {
        s.client
            .post(s.url(path))
            .header("x-api-key", KEY)
            .header("content-type", ct.to_owned())
            .body(body)
            .send()
    };
    let (status, body) = decode(
        post_raw("/v1/functions/f", "application/json", "{not json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, body) = decode(
        post_raw("/v1/functions/f", "text/plain", "hello")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415);
    golden("unsupported_media_type", &body);
    let (status, body) = decode(
        post_raw("/v1/functions/f", "application/json", r#"{"params": []}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    golden("invoke_missing_method", &body);
    let (status, body) = decode(
        s.client
            .put(s.url("/v1/api/functions"))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
    golden("method_not_allowed", &body);
    let (status, body) = s.get("/v1/nowhere").await;
    assert_eq!(status, 404);
    golden("route_not_found", &body);
    let (status, _) = decode(
        s.client
            .get(s.url("/v1/functions/f"))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405, "an RPC function is invoked with POST");
    // A path segment that is not UTF-8 once percent-decoded: the API's JSON error, not the
    // web framework's plain text.
    for path in [
        "/v1/api/functions/%ff%fe",
        "/v1/api/functions/%ff/versions",
        "/api/functions/%ff/info",
        "/v1/functions/%ff/logs",
        "/v1/functions/%ff/invoke",
        "/v1/functions/f/%ff",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{path}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("UTF-8")),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn deploy_validation_follows_the_reference() {
    let s = TestServer::start().await;
    let wasm = rpc_basic();
    let cases = [
        ("bad_id", json!({"id": "invalid..id"})),
        ("leading_hyphen", json!({"id": "-abc"})),
        ("bad_version", json!({"version": "1.0"})),
        ("bad_language", json!({"language": "cobol"})),
        (
            "absolute_entry_point",
            json!({"entryPoint": "/etc/passwd.js"}),
        ),
        ("parent_entry_point", json!({"entryPoint": "../x.js"})),
        ("no_extension", json!({"entryPoint": "index"})),
        (
            "bad_dependency",
            json!({"dependencies": {"lodash": "not-a-range"}}),
        ),
        ("bad_limits", json!({"limits": {"memoryMb": 0}})),
        ("bad_allowed_host", json!({"allowedHosts": ["ftp://x"]})),
    ];
    for (name, patch) in cases {
        let mut body = json!({"id": "ok-id", "version": "1.0.0", "language": "rust", "entryPoint": "src/lib.rs", "dependencies": {}});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body["code"] = json!(base64_encode(&wasm));
        let (status, resp) = s.post("/v1/api/functions", &body).await;
        assert_eq!(status, 400, "{name}: {resp}");
        golden(&format!("deploy_{name}"), &resp);
    }
    // Every accepted form of version and dependency range.
    let (status, r) = s
        .deploy(
            "ranges",
            "2.1.0-beta.1+build.123",
            &wasm,
            json!({"dependencies": {"a": "1.0.0", "b": "^1.0.0", "c": "~1.0.0", "d": ">=1.0.0", "e": "<2.0.0", "f": "1.0.0 - 2.0.0", "g": "*", "h": "latest"}}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    // Not a component; a missing code field.
    let (status, body) = s
        .deploy("junk", "1.0.0", b"definitely not wasm", json!({}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid component"),
        "{body}"
    );
    let (status, body) = s
        .post("/v1/api/functions", &json!({"id": "x", "version": "1.0.0", "language": "rust", "entryPoint": "a.rs", "dependencies": {}}))
        .await;
    assert_eq!(status, 400);
    golden("deploy_missing_code", &body);
    let (_, list) = s.get("/v1/api/functions").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing but the valid deploy was stored"
    );
}

#[tokio::test]
async fn versions_are_immutable_and_rollback_restores() {
    let s = TestServer::start().await;
    let v1 = rpc_basic();
    let v2 = wat::parse_str(r#"(component (core module $m (func (export "run") (result i32) i32.const 7)) (core instance $i (instantiate $m)) (func (export "run") (result u32) (canon lift (core func $i "run"))))"#).unwrap();
    assert_eq!(s.deploy("f", "1.0.0", &v1, json!({})).await.0, 200);
    let (status, again) = s.deploy("f", "1.0.0", &v1, json!({})).await;
    assert_eq!(
        (status, &again["created"]),
        (200, &json!(false)),
        "identical redeploy is idempotent"
    );
    let (status, conflict) = s.deploy("f", "1.0.0", &v2, json!({})).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"], "CONFLICT");

    assert_eq!(s.deploy("f", "2.0.0", &v2, json!({})).await.0, 200);
    assert_eq!(
        s.invoke("f", "run", json!([])).await,
        (200, json!({"result": 7}))
    );
    let (status, r) = s
        .post("/v1/api/functions/f/rollback", &json!({"version": "1.0.0"}))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (
            r["id"].as_str(),
            r["version"].as_str(),
            r["status"].as_str(),
            r["previous"].as_str()
        ),
        (Some("f"), Some("1.0.0"), Some("restored"), Some("2.0.0"))
    );
    assert!(r["updatedAt"].is_string());
    assert_eq!(
        s.invoke("f", "greet", json!(["v1"])).await,
        (200, json!({"result": "Hello, v1!"}))
    );
    let (status, body) = s
        .post("/v1/api/functions/f/rollback", &json!({"version": "9.9.9"}))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = s
        .post(
            "/v1/api/functions/nope/rollback",
            &json!({"version": "1.0.0"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s.post("/v1/api/functions/f/rollback", &json!({})).await;
    assert_eq!(status, 400);

    let (status, h) = s.get("/v1/api/functions/f/versions").await;
    assert_eq!(status, 200);
    assert_eq!(h["active"], "1.0.0");
    let actions: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deploy", "deploy", "rollback"]);
}

#[tokio::test]
async fn logs_record_guest_output_with_filters() {
    let s = TestServer::start().await;
    assert_eq!(
        s.deploy("talker", "1.0.0", &rpc_basic(), json!({})).await.0,
        200
    );
    let r = s
        .client
        .post(s.url("/v1/functions/talker"))
        .header("x-api-key", KEY)
        .header("x-request-id", "req-123")
        .json(&json!({"method": "log", "params": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-123");
    assert_eq!(decode(r).await, (200, json!({"result": "logged"})));
    assert_eq!(s.invoke("talker", "fail", json!([])).await.0, 500);

    let (status, body) = s.get("/v1/functions/talker/logs").await;
    assert_eq!(status, 200);
    let logs = body["logs"].as_array().unwrap();
    let of_request: Vec<&Value> = logs
        .iter()
        .filter(|e| e["requestId"] == "req-123")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|e| e["outcome"] == "success" && e["durationMs"].is_number()),
        "{body}"
    );
    for level in ["debug", "info", "warn", "error"] {
        assert!(
            of_request.iter().any(|e| e["level"] == level),
            "no {level} entry: {body}"
        );
    }
    assert!(
        logs.iter()
            .all(|e| e["timestamp"].as_str().unwrap().ends_with('Z'))
    );
    assert!(logs.iter().any(|e| e["outcome"] == "error"), "{body}");

    let (_, errors) = s.get("/v1/functions/talker/logs?level=error").await;
    assert!(
        errors["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["level"] == "error")
    );
    let (_, one) = s.get("/v1/functions/talker/logs?limit=1").await;
    assert_eq!(one["logs"].as_array().unwrap().len(), 1);
    let (_, legacy) = s.get("/functions/talker/logs?limit=1").await;
    assert_eq!(legacy, one);
    let future = "2999-01-01T00:00:00.000Z";
    let (_, none) = s
        .get(&format!("/v1/functions/talker/logs?timestamp={future}"))
        .await;
    assert_eq!(none["logs"], json!([]));
    for bad in [
        "level=loud",
        "limit=0",
        "limit=5000",
        "limit=abc",
        "timestamp=yesterday",
    ] {
        let (status, body) = s.get(&format!("/v1/functions/talker/logs?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(s.get("/v1/functions/ghost/logs").await.0, 404);
}

#[tokio::test]
async fn env_and_write_only_secrets() {
    let s = TestServer::start().await;
    let extra = json!({"env": {"GREETING": "hi"}, "secrets": {"DO_API_TOKEN": "tok-very-secret"}});
    let (status, d) = s.deploy("envy", "1.0.0", &rpc_basic(), extra).await;
    assert_eq!(status, 200);
    assert!(
        !d.to_string().contains("tok-very-secret"),
        "secret value echoed: {d}"
    );
    assert_eq!(
        s.invoke("envy", "env", json!(["GREETING"])).await,
        (200, json!({"result": "hi"}))
    );
    assert_eq!(
        s.invoke("envy", "env", json!(["DO_API_TOKEN"])).await,
        (200, json!({"result": "tok-very-secret"}))
    );
    for path in [
        "/v1/api/functions/envy",
        "/v1/api/functions",
        "/v1/api/functions/envy/versions",
    ] {
        let (_, body) = s.get(path).await;
        assert!(
            !body.to_string().contains("tok-very-secret"),
            "{path} leaks the secret: {body}"
        );
    }
    let (_, info) = s.get("/v1/api/functions/envy").await;
    assert_eq!(info["secrets"], json!(["DO_API_TOKEN"]));
}

#[tokio::test]
async fn upload_limit_and_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_upload_mb = 1;
    c.no_rate_limit = true;
    let s = TestServer::start_with(c).await;
    let big = vec![0u8; 2 << 20];
    let (status, body) = s.deploy("big", "1.0.0", &big, json!({})).await;
    assert_eq!(status, 413);
    golden("payload_too_large", &body);

    let meta = json!({"id": "multi", "version": "1.0.0", "language": "rust", "entryPoint": "src/lib.rs", "dependencies": {}});
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta.to_string())
        .part(
            "component",
            reqwest::multipart::Part::bytes(rpc_basic()).file_name("rpc.wasm"),
        );
    let r = s
        .client
        .post(s.url("/v1/api/functions"))
        .header("x-api-key", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = decode(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.invoke("multi", "greet", json!({"name": "M"})).await,
        (200, json!({"result": "Hello, M!"}))
    );
}

#[tokio::test]
async fn everything_survives_a_restart_and_loads_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(dir.path())).await;
    assert_eq!(
        s.deploy(
            "keep",
            "1.0.0",
            &rpc_basic(),
            json!({"env": {"GREETING": "persisted"}})
        )
        .await
        .0,
        200
    );
    assert_eq!(s.invoke("keep", "greet", json!(["a"])).await.0, 200);
    s.stop().await;

    let s = TestServer::start_with(config(dir.path())).await;
    let (status, info) = s.get("/v1/api/functions/keep").await;
    assert_eq!(status, 200);
    assert_eq!(
        info["fromCache"], true,
        "warmed from the disk cache: {info}"
    );
    assert_eq!(info["degraded"], false);
    assert_eq!(
        s.invoke("keep", "env", json!(["GREETING"])).await,
        (200, json!({"result": "persisted"}))
    );
    let (_, logs) = s.get("/v1/functions/keep/logs").await;
    assert!(
        logs["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "success"),
        "logs from before the restart: {logs}"
    );
}

/// Invocations are answered by the front's direct path (`/v1/functions/ID`) or, for an id the
/// router must percent-decode, by the router: the same gate (one per-IP budget, the same 401),
/// the same answer, the same headers, either way.
#[tokio::test]
async fn invocations_answer_alike_by_the_direct_path_and_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit_ip = 10;
    let s = TestServer::start_with(c).await;
    assert_eq!(s.deploy("f", "1.0.0", &rpc_basic(), json!({})).await.0, 200);
    let body = json!({"method": "greet", "params": ["x"]});
    let paths = [
        "/v1/functions/f",       // direct
        "/v1/functions/%66",     // router (decodes to `f`)
        "/functions/f/invoke",   // direct
        "/functions/%66/invoke", // router
    ];
    let call = |path: &str| {
        s.client
            .post(s.url(path))
            .header("x-api-key", KEY)
            .json(&body)
            .send()
    };
    let mut remaining = 9; // the deploy took one
    for path in paths {
        let r = call(path).await.unwrap();
        remaining -= 1;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        assert_eq!(r.headers()["x-fdo-version"], "1.0.0", "{path}");
        assert_eq!(r.headers()["x-request-id"].len(), 32, "{path}");
        assert_eq!(
            r.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str(),
            "{path}"
        );
        assert_eq!(decode(r).await.1, json!({"result": "Hello, x!"}), "{path}");
    }
    let mut refusals = Vec::new();
    for path in paths {
        let r = s.client.post(s.url(path)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        refusals.push(decode(r).await.1);
    }
    assert!(refusals.iter().all(|b| *b == refusals[0]), "{refusals:?}");
    assert_eq!(refusals[0]["error"], "AUTHENTICATION_ERROR");
    // (Refused requests count too.) The last request of the budget, then both ways are
    // refused alike.
    assert_eq!(s.invoke("f", "greet", json!(["y"])).await.0, 200);
    for path in paths {
        assert_eq!(call(path).await.unwrap().status(), 429, "{path}");
    }
}

#[tokio::test]
async fn rate_limits_per_ip_and_per_function() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit_ip = 4;
    c.rate_limit_function = 1000;
    let s = TestServer::start_with(c).await;
    for expected_remaining in [3, 2, 1, 0] {
        let r = s
            .client
            .get(s.url("/v1/api/functions"))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
    }
    s.clock.advance(Duration::from_secs(15));
    let r = s
        .client
        .get(s.url("/v1/api/functions"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "45");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(r.headers()["x-ratelimit-reset"], "1700000060000");
    let (_, body) = decode(r).await;
    golden("rate_limited_ip", &body);
    s.clock.advance(Duration::from_secs(45));
    assert_eq!(s.get("/v1/api/functions").await.0, 200, "the window reset");
    assert_eq!(
        s.client
            .get(s.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "health is never limited"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit_ip = 1000;
    c.rate_limit_function = 2;
    let s = TestServer::start_with(c).await;
    assert_eq!(
        s.deploy("busy", "1.0.0", &rpc_basic(), json!({})).await.0,
        200
    );
    assert_eq!(s.invoke("busy", "greet", json!(["1"])).await.0, 200);
    assert_eq!(s.invoke("busy", "greet", json!(["2"])).await.0, 200);
    let (status, body) = s.invoke("busy", "greet", json!(["3"])).await;
    assert_eq!(status, 429);
    assert_eq!(
        body["message"],
        "Rate limit exceeded for function. Please retry after 60 seconds."
    );
    let (status, _) = s.get("/v1/api/functions/busy").await;
    assert_eq!(
        status, 200,
        "the function limit applies to invocations only"
    );
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let s = TestServer::start().await;
    let doc = fdo::server::openapi::document().clone();
    let (_, served) = decode(s.client.get(s.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(served, doc);
    // The copy checked in for readers is the generated document (FDO_BLESS=1 rewrites it).
    golden_file("openapi.json", fdo::server::openapi::document_text());
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "no-such-fn")
                .replace("{keyId}", "no-such-key")
                .replace("{path}", "sub");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s
                .client
                .request(m, s.url(&concrete))
                .header("x-api-key", KEY)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let (status, body) = decode(r).await;
            let unrouted = status == 405 || body["context"]["resource"] == "Route";
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations documented");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Compares `actual` with the file `host/NAME`; `FDO_BLESS=1` rewrites it.
fn golden_file(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let actual = format!("{actual}\n");
    if std::env::var_os("FDO_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} is not the generated document (FDO_BLESS=1 rewrites it)",
        path.display()
    );
}

// --- The API against its own OpenAPI document: schemathesis runs every check it has
// (`--checks all`: server errors, status codes, content types, response schemas and headers,
// positive data accepted, negative data rejected, undocumented methods, auth, links) against a
// real `fdo serve` with an API key and one deployed function, with a fixed seed and a bounded
// number of examples per operation. `scripts/setup.sh` installs schemathesis (pinned, PyPI)
// into `host/tests/schemathesis/.venv`; `FDO_SCHEMATHESIS` names another binary. The
// semantic rules no schema can state are listed in `tests/schemathesis/schemathesis.toml`.

/// Examples per operation and phase: enough to reach every constraint of the document, few
/// enough for the suite's time budget.
const MAX_EXAMPLES: &str = "40";
/// The seed: a failure is reproduced by running the same command. One worker: with more,
/// hypothesis 6.170 sometimes fails inside its own lambda-description cache (a race between
/// worker threads, not a finding).
const SEED: &str = "20261206";

fn schemathesis_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FDO_SCHEMATHESIS") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/.venv/bin");
    let path = venv.join("schemathesis");
    assert!(
        path.exists(),
        "schemathesis is not installed at {}: run scripts/setup.sh (or host/tests/schemathesis/setup.sh)",
        path.display()
    );
    path
}

#[test]
fn schemathesis_finds_no_failure() {
    let tool = schemathesis_binary();
    let host = crate::support::process::HostProcess::start(&[]);
    host.fdo(&[
        "deploy",
        test_guests::HELLO,
        "--id",
        "hello",
        "--version",
        "1.0.0",
    ])
    .ok();
    let reports = tempfile::tempdir().expect("tempdir");
    let config =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml");
    let out = Command::new(&tool)
        .current_dir(reports.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", host.url)])
        .args(["--checks", "all"])
        .args([
            "--header",
            &format!("X-API-Key: {}", crate::support::process::KEY),
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "1", "--no-color"])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It ran, and tested every operation of the document (`Selected: N/N`, `Tested: N`).
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().split('/').next()?.parse::<usize>().ok())
    };
    let (selected, tested) = (count("Selected:"), count("Tested:"));
    assert!(
        selected.is_some_and(|n| n >= 30) && tested == selected,
        "schemathesis did not test every operation ({selected:?} selected, {tested:?} tested):\n{stdout}"
    );
}
