//! WASI command modules (preview1 core modules exporting `_start`) as functions, through the
//! real server: each toolchain's example (Zig, AssemblyScript, C) deployed as uploaded and
//! called; the command probe (`test-guests/commands/command-probe`) for exit statuses, output
//! caps, stdin, timeouts, memory, env and secrets; and the CGI form (`"interface": "http"`).

use crate::support::server::TestServer;
use serde_json::{Value, json};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The log messages of `id`, oldest first.
async fn log_messages(s: &TestServer, id: &str) -> Vec<(String, String)> {
    let (status, logs) = s.get(&format!("/v1/functions/{id}/logs?limit=1000")).await;
    assert_eq!(status, 200, "{logs}");
    let mut entries: Vec<(String, String)> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["level"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    entries.reverse();
    entries
}

#[tokio::test]
async fn each_toolchains_hello_is_deployed_as_uploaded_and_answers() {
    let s = TestServer::start().await;
    let examples = [
        ("zig-hello", test_guests::ZIG_HELLO, "zig", "main.zig"),
        (
            "assemblyscript-hello",
            test_guests::ASSEMBLYSCRIPT_HELLO,
            "assemblyscript",
            "assembly/index.ts",
        ),
        ("c-hello", test_guests::C_HELLO, "go", "hello.c"),
    ];
    for (id, path, language, entry) in examples {
        let module = read(path);
        assert_eq!(&module[..8], b"\0asm\x01\0\0\0", "{id} is a core module");
        let (status, d) = s
            .deploy(
                id,
                "1.0.0",
                &module,
                json!({"language": language, "entryPoint": entry}),
            )
            .await;
        assert_eq!(
            (status, d["kind"].as_str()),
            (200, Some("command")),
            "{id}: {d}"
        );

        // Cached by the digest of what was uploaded.
        let (_, info) = s.get(&format!("/v1/api/functions/{id}")).await;
        assert_eq!(info["kind"], "command", "{info}");
        let digest = fdo::model::Digest::of(&module);
        assert!(
            info.to_string().contains(&digest.to_hex()),
            "{id}: the upload's digest {digest} in {info}"
        );

        for params in [json!({"name": "Ada"}), json!(["Ada"])] {
            assert_eq!(
                s.invoke(id, "hello", params).await,
                (200, json!({"result": {"body": "Hello Ada!"}})),
                "{id}"
            );
        }
        assert_eq!(
            s.invoke(id, "hello", json!({})).await,
            (200, json!({"result": {"body": "Hello stranger!"}})),
            "{id}"
        );
        let (status, body) = s.invoke(id, "nope", json!([])).await;
        assert_eq!(status, 500, "{id}: {body}");
        assert_eq!(body["error"], "INVOCATION_ERROR", "{body}");
        assert_eq!(body["context"]["reason"], "exit", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("exited with status 2") && message.contains("unknown method"),
            "{id}: {message}"
        );
        let logs = log_messages(&s, id).await;
        assert!(
            logs.iter()
                .any(|(level, m)| level == "warn" && m == &format!("{id}: greeted Ada")),
            "{id}: stderr in the logs: {logs:?}"
        );
    }
}

#[tokio::test]
async fn the_probe_exercises_exit_output_stdin_time_memory_and_env() {
    let s = TestServer::start().await;
    let probe = read(test_guests::COMMAND_PROBE);
    let secret = "s3cr3t-token-value";
    let (status, d) = s
        .deploy(
            "probe",
            "1.0.0",
            &probe,
            json!({
                "env": {"GREETING": "hello there"},
                "secrets": {"API_TOKEN": secret},
                "limits": {"timeoutMs": 1000, "memoryMb": 16},
            }),
        )
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("command")), "{d}");

    // stdin is the request object; stdout JSON is the result as it is.
    let (status, body) = s.invoke("probe", "echo", json!({"a": [1, 2]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"],
        json!({"method": "echo", "params": {"a": [1, 2]}})
    );
    // Text that is not JSON comes back as a string.
    assert_eq!(
        s.invoke("probe", "text", json!([])).await,
        (200, json!({"result": "plain text, not JSON"}))
    );
    // A command that never reads its stdin, and one that reads past its end.
    assert_eq!(
        s.invoke("probe", "ignore-stdin", json!([])).await,
        (200, json!({"result": {"ignored": true}}))
    );
    let (status, body) = s.invoke("probe", "read-more", json!(["x"])).await;
    let sent = r#"{"method":"read-more","params":["x"]}"#.len();
    assert_eq!(
        (status, body),
        (200, json!({"result": {"bytes": sent, "after": [0, 0, 0]}}))
    );
    // A large answer under the cap arrives whole.
    let (status, body) = s.invoke("probe", "big", json!([])).await;
    assert_eq!(status, 200);
    let big = body["result"].as_str().unwrap();
    assert!(big.len() == 1 << 20 && big.bytes().all(|b| b == b'x'));

    // A failing exit status, with the last stderr line.
    let (status, body) = s.invoke("probe", "exit", json!([])).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["context"]["reason"].as_str()),
        (Some("INVOCATION_ERROR"), Some("exit"))
    );
    assert_eq!(
        body["message"],
        "the command exited with status 3: probe: something went wrong"
    );

    // Output past the cap is an error, and the host is fine afterwards.
    let (status, body) = s.invoke("probe", "flood", json!([])).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (500, Some("output-limit")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("8192 KiB"),
        "{body}"
    );

    // Spinning past the timeout.
    let (status, body) = s.invoke("probe", "spin", json!([])).await;
    assert_eq!(
        (status, body["context"]["reason"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );

    // Memory: allocating until malloc fails stops at the limit (the command may exit on its
    // own, status 4, or trap when the next allocation of its WASI layer is refused).
    let (status, body) = s.invoke("probe", "alloc", json!([])).await;
    assert_eq!(status, 500, "{body}");
    let reason = body["context"]["reason"].as_str().unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        reason == "memory-limit" || (reason == "exit" && message.contains("memory limit")),
        "{body}"
    );

    // The environment: env, secrets and FDO_METHOD, no arguments, no directories.
    let (status, body) = s.invoke("probe", "env", json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"],
        json!({
            "env": {"GREETING": "hello there", "API_TOKEN": secret, "FDO_METHOD": "env"},
            "argc": 0,
            "preopens": false,
        })
    );
    let logs = log_messages(&s, "probe").await;
    let text = format!("{logs:?}");
    assert!(
        !text.contains(secret),
        "secrets are scrubbed from logs: {text}"
    );
    assert!(
        logs.iter().any(|(_, m)| m == "API_TOKEN=[REDACTED]"),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|(_, m)| m == "GREETING=hello there"),
        "{logs:?}"
    );
    // The flood's answer never reached the logs.
    assert!(!text.contains("ffffffff"), "stdout is not logged");

    // Still serving.
    assert_eq!(
        s.invoke("probe", "text", json!([])).await,
        (200, json!({"result": "plain text, not JSON"}))
    );
}

#[tokio::test]
async fn core_modules_that_are_not_commands_are_refused_with_what_they_are() {
    let s = TestServer::start().await;
    let reactor =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_initialize")))"#)
            .unwrap();
    let (status, body) = s.deploy("reactor", "1.0.0", &reactor, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "VALIDATION_ERROR");
    assert!(
        body["message"].as_str().unwrap().contains("WASI reactor"),
        "{body}"
    );
    let (status, _) = s.get("/v1/api/functions/reactor").await;
    assert_eq!(status, 404, "nothing was stored");

    // A command that starts with more memory than its limit (Zig's 16 MiB default stack) is
    // refused at deploy, saying what it needs; with that much it deploys.
    let zig = read(test_guests::ZIG_HELLO);
    let (status, body) = s
        .deploy(
            "zig-small",
            "1.0.0",
            &zig,
            json!({"limits": {"memoryMb": 8}}),
        )
        .await;
    assert_eq!(
        (status, body["context"]["field"].as_str()),
        (400, Some("limits.memoryMb")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("memoryMb 17 or more"),
        "{body}"
    );
    let (status, body) = s
        .deploy(
            "zig-small",
            "1.0.0",
            &zig,
            json!({"limits": {"memoryMb": 17}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let _: Value = body;
}

/// A raw request to the CGI routes: (status, headers, body text).
async fn cgi(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = s
        .client
        .request(method, s.url(path))
        .header("x-api-key", crate::support::KEY)
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn a_command_deployed_with_interface_http_is_a_cgi_handler() {
    use reqwest::Method;
    let s = TestServer::start().await;
    let probe = read(test_guests::COMMAND_PROBE);
    let secret = "cgi-s3cr3t-value";
    let (status, d) = s
        .deploy(
            "cgi-probe",
            "1.0.0",
            &probe,
            json!({
                "interface": "http",
                "env": {"GREETING": "hi"},
                "secrets": {"API_TOKEN": secret},
                "limits": {"timeoutMs": 1000},
            }),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        (d["kind"].as_str(), d["interface"].as_str()),
        (Some("command"), Some("http")),
        "{d}"
    );
    let (_, info) = s.get("/v1/api/functions/cgi-probe").await;
    assert_eq!(info["interface"], "http", "{info}");

    // Status, headers and body from the CGI answer.
    let (status, headers, body) =
        cgi(&s, Method::GET, "/v1/functions/cgi-probe/status", &[], "").await;
    assert_eq!((status, body.as_str()), (418, "I'm a teapot"));
    assert_eq!(headers["x-probe"], "short and stout");
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["x-fdo-version"], "1.0.0");
    // CRLF line ends, no Status header: 200.
    let (status, headers, body) = cgi(
        &s,
        Method::GET,
        "/v1/functions/cgi-probe/no-status",
        &[],
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "plain body"));
    assert_eq!(headers["x-probe"], "crlf");

    // The request in the environment, the body on stdin.
    let (status, _, body) = cgi(
        &s,
        Method::POST,
        "/v1/functions/cgi-probe/echo?x=1&y=%20z",
        &[
            ("content-type", "text/plain"),
            ("x-test", "a"),
            ("x-test", "b"),
        ],
        "payload",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let echo: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["body"], "payload");
    let env = &echo["env"];
    for (name, value) in [
        ("REQUEST_METHOD", "POST"),
        ("PATH_INFO", "/echo"),
        ("QUERY_STRING", "x=1&y=%20z"),
        ("SCRIPT_NAME", "/v1/functions/cgi-probe"),
        ("CONTENT_TYPE", "text/plain"),
        ("CONTENT_LENGTH", "7"),
        ("HTTP_X_TEST", "a, b"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("GREETING", "hi"),
        ("API_TOKEN", secret),
    ] {
        assert_eq!(env[name], value, "{name} in {env}");
    }
    assert!(
        env.get("HTTP_X_API_KEY").is_none(),
        "fdo's credential is not passed on: {env}"
    );
    assert!(env.get("FDO_METHOD").is_none(), "{env}");
    // The function's bare route is PATH_INFO `/`, any method (the probe has no `/`: 404).
    let (status, _, _) = cgi(&s, Method::PUT, "/v1/functions/cgi-probe", &[], "{}").await;
    assert_eq!(status, 404);

    // Failures: a malformed answer, output past the cap, a failing exit status.
    let failure = |(status, _, body): (u16, reqwest::header::HeaderMap, String)| {
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "INVOCATION_ERROR", "{body}");
        (
            status,
            body["context"]["reason"].as_str().unwrap().to_owned(),
            body["message"].as_str().unwrap().to_owned(),
        )
    };
    let (status, reason, message) =
        failure(cgi(&s, Method::GET, "/v1/functions/cgi-probe/bad", &[], "").await);
    assert_eq!((status, reason.as_str()), (500, "failed"), "{message}");
    assert!(message.contains("blank line"), "{message}");
    let (status, reason, _) =
        failure(cgi(&s, Method::GET, "/v1/functions/cgi-probe/flood", &[], "").await);
    assert_eq!((status, reason.as_str()), (500, "output-limit"));
    let (status, reason, message) =
        failure(cgi(&s, Method::GET, "/v1/functions/cgi-probe/exit", &[], "").await);
    assert_eq!((status, reason.as_str()), (500, "exit"));
    assert_eq!(
        message,
        "the command exited with status 5: probe: giving up"
    );

    // Secrets are scrubbed from what the command logged, as for every function.
    let logs = format!("{:?}", log_messages(&s, "cgi-probe").await);
    assert!(
        logs.contains("probe: giving up") && !logs.contains(secret),
        "{logs}"
    );

    // The C example as a CGI handler.
    let c_hello = read(test_guests::C_HELLO);
    let (status, d) = s
        .deploy(
            "c-hello-http",
            "1.0.0",
            &c_hello,
            json!({"interface": "http"}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let (status, headers, body) = cgi(
        &s,
        Method::GET,
        "/v1/functions/c-hello-http/hello?name=Ada",
        &[],
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "Hello Ada!\n"));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let (status, headers, body) = cgi(
        &s,
        Method::POST,
        "/v1/functions/c-hello-http/echo?q=1",
        &[("content-type", "application/json"), ("x-test", "yes")],
        "{\"a\":1}",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["x-fdo-guest"], "c-hello");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"method": "POST", "path": "/echo", "query": "q=1", "contentType": "application/json", "xTest": "yes", "body": "{\"a\":1}"})
    );
}

#[tokio::test]
async fn interface_http_is_refused_for_what_is_not_a_command() {
    let s = TestServer::start().await;
    for (wasm, kind) in [
        (test_guests::HELLO, "rpc"),
        (test_guests::HTTP_HANDLER, "http"),
    ] {
        let (status, body) = s
            .deploy(
                "not-cgi",
                "1.0.0",
                &read(wasm),
                json!({"interface": "http"}),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}"
        );
        assert_eq!(body["context"]["field"], "interface", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("this is a {kind} component")),
            "{message}"
        );
        let (status, _) = s.get("/v1/api/functions/not-cgi").await;
        assert_eq!(status, 404, "nothing was stored");
    }
    let (status, body) = s
        .deploy(
            "bad-interface",
            "1.0.0",
            &read(test_guests::COMMAND_PROBE),
            json!({"interface": "cgi"}),
        )
        .await;
    assert_eq!(
        (status, body["context"]["field"].as_str()),
        (400, Some("interface")),
        "{body}"
    );
    // `rpc` spelled out is the default: nothing else in the answer.
    let (status, body) = s
        .deploy(
            "rpc-probe",
            "1.0.0",
            &read(test_guests::COMMAND_PROBE),
            json!({"interface": "rpc"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("interface").is_none(), "{body}");
    // The interface is part of a version: the same version with another one is a conflict.
    let (status, body) = s
        .deploy(
            "rpc-probe",
            "1.0.0",
            &read(test_guests::COMMAND_PROBE),
            json!({"interface": "http"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("interface"),
        "{body}"
    );
}

/// A component exporting `wasi:cli/run` (what `wasm32-wasip2` programs are) is a command too:
/// deployed as a component, it is called the same way. Made here by wrapping a hand-written
/// preview1 command that imports nothing but `fd_write` and `fd_read`, so the component imports
/// WASI 0.2 alone.
#[tokio::test]
async fn a_component_exporting_wasi_cli_run_is_a_command() {
    let s = TestServer::start().await;
    // Echoes up to 64 KiB of stdin to stdout, then returns from `_start` (exit status 0).
    let module = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 2)
            (func (export "_start")
                ;; iovec at 0: buffer 1024, 64 KiB; bytes read at 8, written at 12
                (i32.store (i32.const 0) (i32.const 1024))
                (i32.store (i32.const 4) (i32.const 65536))
                (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                (i32.store (i32.const 4) (i32.load (i32.const 8)))
                (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))))"#,
    )
    .unwrap();
    let component = fdo::loader::command::wrap(&module).unwrap();
    assert!(fdo::loader::looks_like_component(&component));
    assert!(
        !String::from_utf8_lossy(&component).contains("fdo:command/exit"),
        "imports WASI alone"
    );
    let (status, d) = s
        .deploy("run-component", "1.0.0", &component, json!({}))
        .await;
    assert_eq!((status, d["kind"].as_str()), (200, Some("command")), "{d}");
    assert_eq!(
        s.invoke("run-component", "echo", json!({"a": 1})).await,
        (
            200,
            json!({"result": {"method": "echo", "params": {"a": 1}}})
        )
    );
}
