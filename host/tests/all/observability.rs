//! Operations: `/metrics` content after known traffic (invocations, durations, loads by tier at
//! deploy, warm-up and rollback, cache, rate-limit rejections), the structured invocation log
//! line, and graceful shutdown of the real binary with a call in flight.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::process::{HostProcess, KEY};
use crate::support::server::{TestServer, config, decode};
use serde_json::{Value, json};

/// The samples of a Prometheus text exposition, `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {l:?}"));
            (
                k.to_owned(),
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

async fn metrics(s: &TestServer) -> BTreeMap<String, f64> {
    let r = s
        .client
        .get(s.url("/metrics"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    // Every family is declared once, with its type.
    for family in [
        "fdo_invocations_total counter",
        "fdo_invocation_duration_seconds histogram",
        "fdo_load_duration_seconds histogram",
        "fdo_degraded_loads_total counter",
        "fdo_rate_limited_total counter",
        "fdo_cache_entries gauge",
        "fdo_cache_bytes gauge",
        "fdo_instances_in_flight gauge",
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {family}\n")).count(),
            1,
            "{family} in\n{text}"
        );
    }
    samples(&text)
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let s = TestServer::start().await;
    let (status, _) = decode(s.client.get(s.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(status, 401, "metrics need the API key");

    let rpc = std::fs::read(test_guests::RPC_BASIC).unwrap();
    assert_eq!(s.deploy("m", "1.0.0", &rpc, json!({})).await.0, 200);
    for _ in 0..3 {
        assert_eq!(s.invoke("m", "greet", json!(["x"])).await.0, 200);
    }
    assert_eq!(s.invoke("m", "fail", json!([])).await.0, 500);
    assert_eq!(s.invoke("m", "nope", json!([])).await.0, 400);
    let web = std::fs::read(test_guests::HTTP_HELLO).unwrap();
    assert_eq!(s.deploy("web", "0.1.0", &web, json!({})).await.0, 200);
    let r = s
        .client
        .get(s.url("/v1/functions/web"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello from wasi:http");

    let m = metrics(&s).await;
    assert_eq!(
        get(
            &m,
            r#"fdo_invocations_total{function="m",version="1.0.0",outcome="success"}"#
        ),
        3.0
    );
    assert_eq!(
        get(
            &m,
            r#"fdo_invocations_total{function="m",version="1.0.0",outcome="failed"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"fdo_invocations_total{function="m",version="1.0.0",outcome="unknown-method"}"#
        ),
        1.0
    );
    assert_eq!(
        get(&m, r#"fdo_invocation_duration_seconds_count{function="m"}"#),
        5.0
    );
    assert_eq!(
        get(
            &m,
            r#"fdo_invocation_duration_seconds_bucket{function="m",le="+Inf"}"#
        ),
        5.0
    );
    // The HTTP call is counted when the guest is done, which may be just after the answer.
    let mut web_calls = m
        .get(r#"fdo_invocations_total{function="web",version="0.1.0",outcome="success"}"#)
        .copied();
    while web_calls != Some(1.0) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        web_calls = metrics(&s)
            .await
            .get(r#"fdo_invocations_total{function="web",version="0.1.0",outcome="success"}"#)
            .copied();
    }
    // Two deploys, two compiles; both in the memory cache.
    assert_eq!(
        get(&m, r#"fdo_load_duration_seconds_count{tier="compile"}"#),
        2.0
    );
    assert_eq!(get(&m, "fdo_cache_entries"), 2.0);
    assert!(get(&m, "fdo_cache_bytes") > 0.0);
    assert_eq!(get(&m, "fdo_instances_in_flight"), 0.0);
    let degraded_engine = s.app.host.degraded_engine().is_some();
    assert_eq!(
        get(&m, "fdo_degraded_loads_total"),
        if degraded_engine { 2.0 } else { 0.0 }
    );
    assert_eq!(get(&m, r#"fdo_rate_limited_total{scope="ip"}"#), 0.0);

    // A rollback loads the older version: from memory (same code).
    assert_eq!(
        s.deploy("m", "1.1.0", &rpc, json!({"env": {"A": "b"}}))
            .await
            .0,
        200
    );
    let (status, _) = s
        .post("/v1/api/functions/m/rollback", &json!({"version": "1.0.0"}))
        .await;
    assert_eq!(status, 200);
    let m = metrics(&s).await;
    assert_eq!(
        get(&m, r#"fdo_load_duration_seconds_count{tier="memory"}"#),
        2.0,
        "deploy of known code + rollback"
    );

    // Deleting a function forgets its series.
    assert_eq!(s.delete("/v1/api/functions/m").await.0, 200);
    let m = metrics(&s).await;
    assert!(!m.keys().any(|k| k.contains(r#"function="m""#)), "{m:#?}");
}

#[tokio::test]
async fn warm_up_loads_are_counted_by_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.no_rate_limit = true;
    let s = TestServer::start_with(c.clone()).await;
    let rpc = std::fs::read(test_guests::RPC_BASIC).unwrap();
    assert_eq!(s.deploy("a", "1.0.0", &rpc, json!({})).await.0, 200);
    s.stop().await;

    // A restart warms the cache from the compiled artifact on disk.
    let s = TestServer::start_with(c).await;
    let m = metrics(&s).await;
    assert_eq!(
        get(&m, r#"fdo_load_duration_seconds_count{tier="disk"}"#),
        1.0
    );
    assert!(
        !m.contains_key(r#"fdo_load_duration_seconds_count{tier="compile"}"#),
        "{m:#?}"
    );
    assert_eq!(get(&m, "fdo_cache_entries"), 1.0);
    assert_eq!(s.invoke("a", "greet", json!(["y"])).await.0, 200);
    let m = metrics(&s).await;
    assert_eq!(
        get(&m, r#"fdo_load_duration_seconds_count{tier="disk"}"#),
        1.0,
        "the call used the warmed code"
    );
}

#[tokio::test]
async fn rate_limit_rejections_are_counted_by_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit_ip = 4;
    c.rate_limit_function = 1;
    let s = TestServer::start_with(c).await;
    let rpc = std::fs::read(test_guests::RPC_BASIC).unwrap();
    assert_eq!(s.deploy("f", "1.0.0", &rpc, json!({})).await.0, 200); // ip: 1
    assert_eq!(s.invoke("f", "greet", json!(["a"])).await.0, 200); // ip: 2, function: 1
    assert_eq!(s.invoke("f", "greet", json!(["a"])).await.0, 429); // ip: 3, function: over
    assert_eq!(s.get("/v1/api/functions").await.0, 200); // ip: 4
    assert_eq!(s.get("/v1/api/functions").await.0, 429); // ip: over
    // A new window for the IP limit, so /metrics itself is served.
    s.clock.advance(Duration::from_secs(61));
    let m = metrics(&s).await;
    assert_eq!(get(&m, r#"fdo_rate_limited_total{scope="function"}"#), 1.0);
    assert_eq!(get(&m, r#"fdo_rate_limited_total{scope="ip"}"#), 1.0);
}

#[tokio::test]
async fn invocations_are_traced_with_request_id_function_version_and_duration() {
    let mut host = HostProcess::start_with_log(&["--log-format", "json"], "fdo=info");
    assert_eq!(
        host.fdo(&[
            "deploy",
            test_guests::RPC_BASIC,
            "--id",
            "traced",
            "--version",
            "3.1.4"
        ])
        .code,
        0
    );
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/functions/traced", host.url))
        .header("x-api-key", KEY)
        .header("x-request-id", "trace-me-123")
        .json(&json!({"method": "greet", "params": ["t"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");
    host.signal("TERM");
    assert!(host.wait().success());

    let stderr = host.stderr();
    let events: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!events.is_empty(), "no JSON log lines in:\n{stderr}");
    let call = events
        .iter()
        .find(|e| e["message"] == "invocation" && e["span"]["request_id"] == "trace-me-123")
        .unwrap_or_else(|| panic!("no invocation event in:\n{stderr}"));
    assert_eq!(call["level"], "INFO");
    assert_eq!(call["span"]["function"], "traced");
    assert_eq!(call["version"], "3.1.4");
    assert_eq!(call["method"], "greet");
    assert_eq!(call["outcome"], "success");
    assert!(
        call["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{call}"
    );
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_and_flushes_logs() {
    let mut host = HostProcess::start(&["--shutdown-grace", "60s"]);
    assert_eq!(
        host.fdo(&[
            "deploy",
            test_guests::RPC_BASIC,
            "--id",
            "slow",
            "--version",
            "1.0.0",
            "--timeout-ms",
            "60000"
        ])
        .code,
        0
    );
    let client = reqwest::Client::new();
    let call = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/v1/functions/slow", host.url);
        async move {
            let r = client
                .post(url)
                .header("x-api-key", KEY)
                .json(&json!({"method": "sleep", "params": [3000]}))
                .send()
                .await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.json::<Value>().await?))
        }
    });
    // Wait until the call is running in an instance.
    loop {
        let text = client
            .get(format!("{}/metrics", host.url))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if samples(&text).get("fdo_instances_in_flight") == Some(&1.0) {
            break;
        }
        assert!(
            !call.is_finished(),
            "the call ended before it was seen running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    host.signal("TERM");
    let (status, body) = call.await.unwrap().expect("the call in flight is answered");
    assert_eq!((status, body), (200, json!({"result": 3000})));
    let exit = tokio::task::spawn_blocking(move || {
        let status = host.wait();
        (status, host)
    })
    .await
    .unwrap();
    let (status, host) = exit;
    assert!(status.success(), "exit status {status:?}");
    assert!(host.stderr().contains("shutting down"), "{}", host.stderr());

    // The call's log entries reached the database before the process ended.
    let registry = fdo::registry::SqliteRegistry::open(&host.data_dir).unwrap();
    let logs = fdo::registry::Registry::logs(&registry, &fdo::model::LogQuery::new("slow"))
        .await
        .unwrap();
    assert!(
        logs.iter()
            .any(|l| l.entry.message.starts_with("sleep succeeded")),
        "{logs:?}"
    );
}
