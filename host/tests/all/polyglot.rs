//! Python (componentize-py) and JavaScript (componentize-js) guests, deployed and invoked
//! through the real server. Their components are large and slow to compile, so each is
//! compiled once here, and a restart checks the second start loads them from the disk cache.

use crate::support::server::{TestServer, config};
use serde_json::json;

async fn exercise(s: &TestServer, id: &str) {
    assert_eq!(
        s.invoke(id, "hello", json!({"name": "Alice"})).await,
        (200, json!({"result": {"body": "Hello Alice!"}}))
    );
    assert_eq!(
        s.invoke(id, "hello", json!(["Bob"])).await,
        (200, json!({"result": {"body": "Hello Bob!"}}))
    );
    assert_eq!(
        s.invoke(id, "hello", json!({})).await,
        (200, json!({"result": {"body": "Hello stranger!"}}))
    );
    assert_eq!(
        s.invoke(id, "add", json!([2, 3])).await,
        (200, json!({"result": 5}))
    );
    let (status, body) = s.invoke(id, "nope", json!([])).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (400, Some("unknown-method")),
        "{body}"
    );
    let (status, body) = s.invoke(id, "add", json!("not an array")).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (400, Some("invalid-params")),
        "{body}"
    );
    let (status, body) = s.invoke(id, "fail", json!([])).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (500, Some("failed")),
        "{body}"
    );
    let (_, logs) = s.get(&format!("/v1/functions/{id}/logs?limit=1000")).await;
    let entries = logs["logs"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e["level"] == "info" && e["outcome"].is_null())
            .count()
            >= 2,
        "guest log and stdout lines recorded: {logs}"
    );
}

#[tokio::test]
async fn python_and_javascript_guests_run_and_reload_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(dir.path())).await;
    let python = std::fs::read(test_guests::PYTHON_HELLO).expect("python-hello built");
    let js = std::fs::read(test_guests::JS_HELLO).expect("js-hello built");
    let (status, d) = s
        .deploy(
            "py-hello",
            "1.0.0",
            &python,
            json!({"language": "python", "entryPoint": "app.py"}),
        )
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("rpc")), "{d}");
    let (status, d) = s
        .deploy(
            "js-hello",
            "1.0.0",
            &js,
            json!({"language": "javascript", "entryPoint": "hello.js"}),
        )
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("rpc")), "{d}");
    exercise(&s, "py-hello").await;
    exercise(&s, "js-hello").await;
    s.stop().await;

    // After a restart both come from the precompiled artifacts, not a new compile.
    let s = TestServer::start_with(config(dir.path())).await;
    for id in ["py-hello", "js-hello"] {
        let (_, info) = s.get(&format!("/v1/api/functions/{id}")).await;
        assert_eq!(
            (info["fromCache"].as_bool(), info["degraded"].as_bool()),
            (Some(true), Some(false)),
            "{info}"
        );
        assert_eq!(
            s.invoke(id, "add", json!({"a": 1, "b": 2})).await,
            (200, json!({"result": 3}))
        );
    }
}
