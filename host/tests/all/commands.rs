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
        let digest = fdo::loader::digest(&module);
        assert!(
            info.to_string().contains(&digest),
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
    let _: Value = body;
}
