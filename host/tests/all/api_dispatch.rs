//! The three ways into a guest through the real server (RPC, typed exports, wasi:http
//! pass-through), and the fallback to an earlier version when the active one cannot load.

use crate::support::server::{KEY, TestServer, config, decode};
use serde_json::json;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("guest built")
}

#[tokio::test]
async fn http_handlers_get_the_request_passed_through() {
    let s = TestServer::start().await;
    let (status, d) = s
        .deploy("web", "1.0.0", &read(test_guests::HTTP_HELLO), json!({}))
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("http")), "{d}");

    let r = s
        .client
        .get(s.url("/v1/functions/web"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-fdo-guest"], "http-hello");
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; charset=utf-8",
        "the guest's own content type is kept"
    );
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.text().await.unwrap(), "hello from wasi:http");

    let r = s
        .client
        .put(s.url("/v1/functions/web/echo?a=1&b=two"))
        .header("x-api-key", KEY)
        .header("x-test", "passed")
        .body("the body")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echoed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        echoed,
        json!({"method": "PUT", "path": "/echo?a=1&b=two", "x-test": "passed", "body": "the body"})
    );

    // The legacy path and /invoke reach the handler too; unknown guest paths are the guest's 404.
    let r = s
        .client
        .post(s.url("/functions/web/echo"))
        .header("x-api-key", KEY)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .post(s.url("/v1/functions/web/invoke"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "hello from wasi:http");
    let r = s
        .client
        .get(s.url("/v1/functions/web/missing"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-fdo-guest"], "http-hello");

    // Logs record each request.
    let (_, logs) = s.get("/v1/functions/web/logs").await;
    let successes = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "success")
        .count();
    assert!(successes >= 4, "{logs}");
}

#[tokio::test]
async fn rpc_functions_have_no_sub_paths() {
    let s = TestServer::start().await;
    assert_eq!(
        s.deploy("rpc", "1.0.0", &read(test_guests::RPC_BASIC), json!({}))
            .await
            .0,
        200
    );
    let (status, body) = s.get("/v1/functions/rpc/some/path").await;
    assert_eq!(status, 404, "an RPC function has no sub-paths: {body}");
}

#[tokio::test]
async fn typed_exports_through_the_api() {
    let s = TestServer::start().await;
    let (status, d) = s
        .deploy(
            "typed",
            "1.0.0",
            &read(test_guests::TYPED_EXPORTS),
            json!({}),
        )
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("typed")));
    assert_eq!(
        s.invoke("typed", "add", json!([40, 2])).await,
        (200, json!({"result": 42}))
    );
    assert_eq!(
        s.invoke("typed", "math.gcd", json!({"a": 12, "b": 18}))
            .await,
        (200, json!({"result": 6}))
    );
    let (status, body) = s.invoke("typed", "add", json!(["x", 1])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "VALIDATION_ERROR");
    assert!(
        body["message"].as_str().unwrap().contains("parameter `a`"),
        "{body}"
    );
    let (_, info) = s.get("/v1/api/functions/typed").await;
    assert!(
        info["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "add(a: s32, b: s32) -> s32"),
        "{info}"
    );
}

/// When the active version cannot be loaded (its stored component is damaged and no compiled
/// copy is left), the host serves the newest earlier version and says so.
#[tokio::test]
async fn failing_active_version_falls_back_to_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config(dir.path())).await;
    assert_eq!(
        s.deploy("svc", "1.0.0", &read(test_guests::RPC_BASIC), json!({}))
            .await
            .0,
        200
    );
    let (status, v2) = s
        .deploy("svc", "2.0.0", &read(test_guests::TYPED_EXPORTS), json!({}))
        .await;
    assert_eq!(status, 200);
    let digest = v2["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    s.stop().await;

    // Damage version 2: its blob and its compiled artifact.
    let blob = dir
        .path()
        .join("components/sha256")
        .join(&digest[..2])
        .join(format!("{digest}.wasm"));
    std::fs::write(&blob, b"garbage").expect("blob exists where the registry keeps it");
    for entry in walk(&dir.path().join("cache")) {
        if entry
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&digest)
        {
            std::fs::remove_file(entry).unwrap();
        }
    }

    let s = TestServer::start_with(config(dir.path())).await;
    let (status, info) = s.get("/v1/api/functions/svc").await;
    assert_eq!(status, 200);
    assert_eq!(info["version"], "2.0.0", "the active version is unchanged");
    assert_eq!(info["servedVersion"], "1.0.0");
    assert_eq!(info["degraded"], true);
    let reason = info["degradationReason"].as_str().unwrap();
    assert!(
        reason.contains("version 2.0.0 failed to load") && reason.contains("serving version 1.0.0"),
        "{reason}"
    );
    let r = s
        .client
        .post(s.url("/v1/functions/svc"))
        .header("x-api-key", KEY)
        .json(&json!({"method": "greet", "params": ["fallback"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-fdo-version"], "1.0.0");
    assert_eq!(
        decode(r).await,
        (200, json!({"result": "Hello, fallback!"}))
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The memory budget bounds what the host holds: a function whose component leaves the memory
/// tier is dropped from the loaded set too, and its next call loads it again from disk.
#[tokio::test]
async fn evicted_components_are_let_go_and_reloaded_from_disk() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // 1 MiB: hello (~0.5 MiB compiled) and the droplet controller do not fit together.
    c.cache_memory_mb = 1;
    let s = TestServer::start_with(c).await;
    let (status, hello) = s
        .deploy("hello", "1.0.0", &read(test_guests::HELLO), json!({}))
        .await;
    assert_eq!(status, 200);
    let digest: fdo::model::Digest = hello["digest"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        s.deploy(
            "droplets",
            "1.0.0",
            &read(test_guests::DROPLET_CONTROLLER),
            json!({})
        )
        .await
        .0,
        200
    );
    let host = &s.app.host;
    let (entries, _) = s.loader.memory_usage().await;
    assert!(
        entries <= 1,
        "both components fit in 1 MiB; the test needs a smaller budget"
    );
    assert!(
        host.loaded_functions() <= entries as usize,
        "{} functions held with {entries} components in the memory tier",
        host.loaded_functions()
    );

    // Whichever stayed, hello's component now leaves the memory tier: the host lets go of it.
    assert_eq!(s.invoke("hello", "main", json!({})).await.0, 200);
    let held = host.loaded_functions();
    assert!(held >= 1, "hello is loaded after a call");
    s.loader.evict(&digest).await;
    s.loader.memory_usage().await;
    assert_eq!(
        host.loaded_functions(),
        held - 1,
        "hello was still held after its eviction"
    );
    let disk_before = s.loader.stats().disk_hits.load(Relaxed);
    assert_eq!(
        s.invoke("hello", "main", json!({"name": "again"})).await,
        (200, json!({"result": {"body": "Hello again!"}}))
    );
    let disk_after = s.loader.stats().disk_hits.load(Relaxed);
    assert_eq!(
        disk_after,
        disk_before + 1,
        "hello was reloaded from the disk tier"
    );
}
