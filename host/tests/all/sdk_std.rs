//! `fdo-sdk` functions need no WASI preview1 adapter: the SDK answers the preview1 calls Rust's
//! `std` makes in nearly every function (environment, stdio, clocks, exit) with WASI 0.2
//! imports. These tests check that the built components really carry no adapter, and that each
//! of those calls still works through the real server.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::server::TestServer;
use serde_json::{Value, json};

/// The import module name of the WASI preview1 functions (what the adapter provides).
const PREVIEW1: &str = "wasi_snapshot_preview1";

/// Whether any core module inside `component` imports a preview1 function, i.e. whether the
/// component was built with the preview1 adapter.
fn imports_preview1(path: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::ImportSection(section) = payload.expect("valid wasm") {
            for import in section.into_imports() {
                if import.expect("valid import").module == PREVIEW1 {
                    return true;
                }
            }
        }
    }
    false
}

#[test]
fn sdk_components_carry_no_preview1_adapter() {
    for (name, path) in [
        ("hello", test_guests::HELLO),
        ("droplet-controller", test_guests::DROPLET_CONTROLLER),
        ("http-handler", test_guests::HTTP_HANDLER),
        ("sdk-std", test_guests::SDK_STD),
    ] {
        assert!(!imports_preview1(path), "{name} imports {PREVIEW1}");
    }
    // Guests written without the SDK still go through the adapter (and the check sees it);
    // rpc-basic also sleeps (`poll_oneoff`, which the SDK leaves to the adapter).
    assert!(imports_preview1(test_guests::RPC_BASIC));
    assert!(imports_preview1(test_guests::HTTP_HELLO));
}

async fn server() -> TestServer {
    let s = TestServer::start().await;
    let env = json!({"env": {"GREETING": "hello there", "EMPTY": ""}});
    let (status, body) = s
        .deploy(
            "std",
            "1.0.0",
            &std::fs::read(test_guests::SDK_STD).unwrap(),
            env,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s
}

async fn call(s: &TestServer, method: &str, params: Value) -> Value {
    let (status, body) = s.invoke("std", method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    body["result"].clone()
}

#[tokio::test]
async fn environment() {
    let s = server().await;
    assert_eq!(call(&s, "env", json!(["GREETING"])).await, "hello there");
    assert_eq!(call(&s, "env", json!(["EMPTY"])).await, "");
    assert_eq!(call(&s, "env", json!(["UNSET"])).await, Value::Null);
}

#[tokio::test]
async fn stdout_and_stderr_reach_the_logs() {
    let s = server().await;
    assert_eq!(
        call(&s, "print", json!(["printed by std"])).await,
        Value::Null
    );
    let (_, logs) = s.get("/v1/functions/std/logs").await;
    let levels: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"] == "printed by std")
        .map(|e| e["level"].as_str().unwrap())
        .collect();
    // stdout lines are logged at info, stderr lines at warn.
    assert_eq!(levels.len(), 2, "{logs}");
    assert!(
        levels.contains(&"info") && levels.contains(&"warn"),
        "{logs}"
    );
}

#[tokio::test]
async fn clocks_and_yield() {
    let s = server().await;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clocks = call(&s, "clocks", json!([])).await;
    let guest_ms = clocks["unixMs"].as_i64().unwrap();
    assert!((guest_ms - now_ms).abs() < 60_000, "{clocks} vs {now_ms}");
    assert!(clocks["monotonicNs"].as_u64().unwrap() > 0, "{clocks}");
    assert_eq!(call(&s, "yield", json!([])).await, Value::Null);
}

/// `exit` ends the call as a failure that says so (WASI 0.2's `exit` carries success or
/// failure, not the code), and the function keeps serving.
#[tokio::test]
async fn exit_ends_the_call_with_an_error() {
    let s = server().await;
    for (code, status) in [(3, 1), (0, 0)] {
        let (http, body) = s.invoke("std", "exit", json!([code])).await;
        assert_eq!(http, 500, "{body}");
        assert_eq!(body["context"]["reason"], "failed", "{body}");
        assert_eq!(
            body["message"],
            format!(
                "function failed: the function exited (status {status}) instead of returning a result"
            ),
            "{body}"
        );
    }
    assert_eq!(call(&s, "env", json!(["GREETING"])).await, "hello there");
}

/// A panic's message goes to standard error through the SDK's `fd_write`, and reaches the
/// caller in the trap's message and the logs.
#[tokio::test]
async fn a_panic_message_reaches_the_caller() {
    let s = server().await;
    let (status, body) = s.invoke("std", "panic", json!(["it broke: 42"])).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["context"]["reason"], "trap", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("stderr:"), "{message}");
    assert!(message.contains("it broke: 42"), "{message}");
    let (_, logs) = s.get("/v1/functions/std/logs?level=warn").await;
    assert!(
        logs["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("it broke: 42")),
        "{logs}"
    );
}
