//! The web console and the call history behind its charts: the console's files and security
//! headers, `GET /v1/api/functions/:id/stats` and `GET /v1/api/stats` through the real server,
//! and the console itself in Debian's Chromium driven by playwright-core
//! (`host/tests/browser/console.mjs`) against a real `fdo serve` with the examples deployed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::process::{HostProcess, KEY};
use crate::support::server::{TestServer, decode};

fn rpc_basic() -> Vec<u8> {
    std::fs::read(test_guests::RPC_BASIC).expect("rpc-basic component built")
}

#[tokio::test]
async fn console_files_are_public_with_strict_security_headers() {
    let s = TestServer::start().await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/", "text/html"),
        ("/console/js/app.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/favicon.svg", "image/svg+xml"),
    ] {
        // No key: the console's own files hold no data.
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}: {:?}",
            h["content-type"]
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        // Unchanged files are not sent again.
        let etag = h["etag"].clone();
        let again = s
            .client
            .get(s.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["content-type"], h["content-type"], "{path}");
        assert!(again.headers().contains_key("content-security-policy"));
    }
    let page = s
        .client
        .get(s.url("/console/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script type="module" src="/console/js/app.js">"#));
    let (_, root) = decode(s.client.get(s.url("/")).send().await.unwrap()).await;
    assert_eq!(
        root["console"], "/console/",
        "the root says where the console is"
    );
    let (status, body) = decode(
        s.client
            .get(s.url("/console/nope.js"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("NOT_FOUND")));
    // The data the console shows needs a key like any API request.
    for path in ["/v1/api/stats", "/v1/api/functions/any/stats", "/api/stats"] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn stats_count_calls_errors_and_latency_per_function() {
    let s = TestServer::start().await;
    let (status, body) = s.deploy("calc", "1.0.0", &rpc_basic(), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.deploy("idle", "1.0.0", &rpc_basic(), json!({})).await;
    assert_eq!(status, 200, "{body}");

    let (status, before) = s.get("/v1/api/functions/calc/stats").await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        (
            &before["calls"],
            &before["errors"],
            &before["p50Ms"],
            &before["windowSeconds"]
        ),
        (&json!(0), &json!(0), &Value::Null, &json!(900))
    );

    for i in 0..5 {
        let (status, body) = s.invoke("calc", "add", json!([i, 1])).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = s.invoke("calc", "fail", json!([])).await;
    assert!(status >= 400);

    let (status, stats) = s.get("/v1/api/functions/calc/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!((&stats["calls"], &stats["errors"]), (&json!(6), &json!(1)));
    let p50 = stats["p50Ms"].as_f64().unwrap();
    let p99 = stats["p99Ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p99 >= p50, "p50 {p50} p99 {p99}");
    let per = &stats["perSecond"];
    let calls: Vec<u64> = serde_json::from_value(per["calls"].clone()).unwrap();
    let errors: Vec<u64> = serde_json::from_value(per["errors"].clone()).unwrap();
    assert_eq!((calls.len(), errors.len()), (900, 900));
    assert_eq!(calls.iter().sum::<u64>(), 6);
    assert_eq!(errors.iter().sum::<u64>(), 1);
    // The window ends now: the calls are in its last seconds.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start = per["startMs"].as_u64().unwrap();
    assert!(
        start + 899_000 <= now_ms && now_ms < start + 902_000,
        "{start} vs {now_ms}"
    );
    assert!(
        calls[880..].iter().sum::<u64>() == 6,
        "calls in the last 20 s"
    );
    let lat = &stats["latency"];
    assert_eq!(lat["stepSeconds"], 10);
    let p50s = lat["p50Ms"].as_array().unwrap();
    assert!((90..=91).contains(&p50s.len()));
    assert!(p50s.iter().any(Value::is_number));

    // The legacy path answers the same.
    let (status, legacy) = s.get("/api/functions/calc/stats").await;
    assert_eq!((status, &legacy["calls"]), (200, &json!(6)));

    let (status, all) = s.get("/v1/api/stats").await;
    assert_eq!(status, 200, "{all}");
    let rows = all["functions"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    let calc = row("calc");
    assert_eq!(
        (&calc["calls"], &calc["errors"], &calc["version"]),
        (&json!(6), &json!(1), &json!("1.0.0"))
    );
    assert_eq!(calc["load"]["kind"], "rpc");
    assert_eq!(calc["load"]["servedVersion"], "1.0.0");
    assert!(calc["load"]["loadTimeMs"].is_number());
    let idle = row("idle");
    assert_eq!((&idle["calls"], &idle["p99Ms"]), (&json!(0), &Value::Null));

    // Unknown and invalid ids are refused as everywhere; a deleted function's history goes.
    let (status, body) = s.get("/v1/api/functions/nobody/stats").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = s.get("/v1/api/functions/Bad_Id!/stats").await;
    assert_eq!(status, 400);
    let (status, _) = s.delete("/v1/api/functions/calc").await;
    assert_eq!(status, 200);
    let (status, body) = s.deploy("calc", "1.0.0", &rpc_basic(), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, fresh) = s.get("/v1/api/functions/calc/stats").await;
    assert_eq!(fresh["calls"], 0, "a redeployed function starts afresh");
}

/// Where the browser test's Node.js project is.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The browser the test drives: `FDO_CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("FDO_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

async fn deploy_json(host: &HostProcess, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/api/functions", host.url))
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "deploy {}: {text}", body["id"]);
}

/// The console in a real Chromium: every case of the issue in one browser run against one
/// host (see `host/tests/browser/console.mjs` for the cases).
#[tokio::test(flavor = "multi_thread")]
async fn console_in_chromium() {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/setup.sh (it runs `npm ci` there)",
        dir.display()
    );
    assert!(
        chromium().is_file(),
        "{} not found: run scripts/setup.sh (it installs Debian's chromium), or set FDO_CHROMIUM",
        chromium().display()
    );

    let host = HostProcess::start(&[]);
    let (_project, manifest) = crate::support::examples_project();
    let deployed = host.fdo(&[
        "deploy",
        manifest.to_str().unwrap(),
        "--function",
        "hello",
        "--function",
        "http-handler",
        "--function",
        "droplet-controller",
        "--function",
        "c-hello-http",
    ]);
    deployed.ok();
    let hello = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(test_guests::HELLO).expect("hello built"));
    // A second version of hello, to roll back from.
    deploy_json(
        &host,
        json!({"id": "hello", "version": "0.2.0", "language": "rust",
               "entryPoint": "hello/src/lib.rs", "dependencies": {}, "code": hello,
               "env": {"GREETING_VERSION": "2"}}),
    )
    .await;
    // Metadata full of markup: the console must show it as text.
    deploy_json(
        &host,
        json!({"id": "xss-probe", "version": "1.0.0", "language": "rust",
               "entryPoint": "<b>bold</b>/main.rs", "dependencies": {}, "code": hello,
               "env": {"NOTE": "<script>alert(\"env\")</script>"},
               "secrets": {"TOKEN": "<img src=x onerror=alert(3)>"}}),
    )
    .await;

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(dir.join("console.mjs"))
        .current_dir(&dir)
        .env("FDO_URL", &host.url)
        .env("FDO_API_KEY", KEY)
        .env("FDO_SCREENSHOTS", &shots)
        .env("FDO_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (Node.js 20 or later; scripts/setup.sh)");
    // A guard against a hung browser, not a timing assertion.
    let deadline = started + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        status.success(),
        "the browser run failed ({status}) after {:.1} s; screenshots in {}\n{stdout}\n{stderr}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
    assert!(stdout.contains("cases passed"), "{stdout}");

    // What the browser did, seen through the API.
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", host.url))
            .header("x-api-key", KEY)
            .send()
    };
    let info: Value = get("/v1/api/functions/hello")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["version"], "0.1.0", "rolled back in the browser");
    let probe = get("/v1/api/functions/xss-probe").await.unwrap();
    assert_eq!(probe.status(), 404, "deleted in the browser");
    for page in ["functions", "function", "playground", "logs", "keys"] {
        assert!(
            shots.join(format!("{page}.png")).is_file(),
            "screenshot {page}.png"
        );
    }
}
