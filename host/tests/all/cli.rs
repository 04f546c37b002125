//! The `fdo` CLI against the real host, both as built binaries: deploy (component files and
//! manifests), invoke (RPC and HTTP), logs (and --follow), rollback, keys, error exit codes,
//! and the host's configuration precedence (flag > environment > file > default).

use std::io::BufRead as _;
use std::path::Path;
use std::sync::mpsc;

use crate::support::process::{HostProcess, KEY, PATIENCE, run};
use serde_json::{Value, json};

const USAGE: i32 = 2;
const API_ERROR: i32 = 1;
const UNREACHABLE: i32 = 3;

#[test]
fn deploy_invoke_logs_rollback_delete() {
    let host = HostProcess::start(&[]);
    let out = host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "greeter",
        "--version",
        "1.0.0",
        "--env",
        "GREETING=hello",
        "--secret",
        "TOKEN=s3cret-value",
        "--timeout-ms",
        "3000",
    ]);
    assert!(
        out.ok()
            .starts_with("greeter 1.0.0: deployed (rpc, compiled in"),
        "{}",
        out.stdout
    );

    // Params: positional JSON-or-string, --params, --param.
    assert_eq!(
        host.fdo(&["invoke", "greeter", "greet", "world"]).ok(),
        "Hello, world!\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "greeter", "add", "2", "-5"]).ok(),
        "-3\n"
    );
    assert_eq!(
        host.fdo(&[
            "invoke",
            "greeter",
            "add",
            "--params",
            r#"{"a": 2, "b": 40}"#
        ])
        .ok(),
        "42\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "greeter", "add", "-p", "a=1", "-p", "b=2"])
            .ok(),
        "3\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "greeter", "echo", "[1,\"x\"]", "true"])
            .json(),
        json!([[1, "x"], true])
    );
    assert_eq!(
        host.fdo(&["invoke", "--json", "greeter", "env", "GREETING"])
            .json(),
        json!({"result": "hello"})
    );

    // Logs: oldest first, one line per entry; JSON lines with --json.
    let logs = host.fdo(&["logs", "greeter"]);
    let lines: Vec<&str> = logs.ok().lines().collect();
    assert!(lines[0].contains("deployed version 1.0.0"), "{lines:?}");
    let greet = lines
        .iter()
        .position(|l| l.contains("greet succeeded"))
        .expect("greet logged");
    let add = lines
        .iter()
        .position(|l| l.contains("add succeeded"))
        .expect("add logged");
    assert!(greet < add, "{lines:?}");
    let json_lines = host.fdo(&["logs", "greeter", "--json", "--level", "info", "-n", "2"]);
    let entries: Vec<Value> = json_lines
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["level"] == "info"), "{entries:?}");

    // A second version, then back to the first.
    host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "greeter",
        "--version",
        "2.0.0",
        "--env",
        "GREETING=bonjour",
    ])
    .ok();
    assert_eq!(
        host.fdo(&["invoke", "greeter", "env", "GREETING"]).ok(),
        "bonjour\n"
    );
    assert_eq!(
        host.fdo(&["rollback", "greeter", "1.0.0"]).ok(),
        "greeter: 1.0.0 is active again (was 2.0.0)\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "greeter", "env", "GREETING"]).ok(),
        "hello\n"
    );
    let versions = host.fdo(&["versions", "greeter", "--json"]).json();
    assert_eq!(versions["active"], "1.0.0");
    assert_eq!(versions["history"].as_array().unwrap().len(), 3);

    // Info and list, text and JSON; secrets are never shown.
    let info = host.fdo(&["info", "greeter"]);
    assert!(
        info.ok().contains("secrets        TOKEN"),
        "{}",
        info.stdout
    );
    assert!(!info.stdout.contains("s3cret-value"));
    let info = host.fdo(&["info", "greeter", "--json"]).json();
    assert_eq!(
        (info["version"].as_str(), info["status"].as_str()),
        (Some("1.0.0"), Some("loaded"))
    );
    assert_eq!(info["limits"], json!({"timeoutMs": 3000}));
    let list = host.fdo(&["list", "--json"]).json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(
        host.fdo(&["list"])
            .ok()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("greeter  1.0.0")
    );

    assert_eq!(host.fdo(&["delete", "greeter"]).ok(), "deleted greeter\n");
    let gone = host.fdo(&["info", "greeter"]);
    assert_eq!(gone.code, API_ERROR);
    assert!(
        gone.stderr
            .contains("Function not found: greeter (NOT_FOUND, HTTP 404)"),
        "{}",
        gone.stderr
    );
    assert_eq!(host.fdo(&["list"]).ok(), "no functions deployed\n");
}

#[test]
fn errors_exit_non_zero_with_the_api_message() {
    let host = HostProcess::start(&[]);
    host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "f",
        "--version",
        "1.0.0",
    ])
    .ok();

    let cases: [(&[&str], i32, &str); 7] = [
        (
            &["invoke", "nope", "greet"],
            API_ERROR,
            "Function not found: nope",
        ),
        (
            &["invoke", "f", "fail"],
            API_ERROR,
            "requested failure (INVOCATION_ERROR, HTTP 500)",
        ),
        (
            &["invoke", "f", "no-such-method"],
            API_ERROR,
            "(VALIDATION_ERROR, HTTP 400)",
        ),
        (&["invoke", "f"], USAGE, "give the method to call"),
        (
            &["deploy", test_guests::RPC_BASIC, "--id", "f"],
            USAGE,
            "--version is required",
        ),
        (
            &["deploy", test_guests::RPC_BASIC, "--version", "1"],
            USAGE,
            "Invalid version",
        ),
        (&["rollback", "f", "9.9.9"], API_ERROR, "Version not found"),
    ];
    for (args, code, message) in cases {
        let r = host.fdo(args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }

    // Versions are immutable: other code under an existing version is a conflict.
    let r = host.fdo(&[
        "deploy",
        test_guests::TYPED_EXPORTS,
        "--id",
        "f",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(r.code, API_ERROR);
    assert!(r.stderr.contains("(CONFLICT, HTTP 409)"), "{}", r.stderr);

    // Bytes that are not a component are refused by the host with its reason.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all").unwrap();
    let r = host.fdo(&[
        "deploy",
        junk.to_str().unwrap(),
        "--version",
        "1.0.0",
        "--json",
    ]);
    assert_eq!(r.code, API_ERROR);
    assert!(r.stderr.contains("Invalid component"), "{}", r.stderr);
    // With --json the API's error body is on stdout.
    assert_eq!(r.json()["error"], "VALIDATION_ERROR");

    // Authentication.
    let r = run(
        &[
            "list",
            "--url",
            &host.url,
            "--api-key",
            "wrong-key-wrong-key",
        ],
        &[],
        None,
    );
    assert_eq!(r.code, API_ERROR);
    assert!(
        r.stderr
            .contains("Invalid API key (AUTHENTICATION_ERROR, HTTP 401)"),
        "{}",
        r.stderr
    );
    let r = run(&["list", "--url", &host.url], &[], None);
    assert_eq!(r.code, API_ERROR);
    assert!(
        r.stderr.contains("Missing API key") && r.stderr.contains("FDO_API_KEY"),
        "{}",
        r.stderr
    );

    // No host.
    let r = run(
        &["list", "--url", "http://127.0.0.1:9", "--api-key", KEY],
        &[],
        None,
    );
    assert_eq!(r.code, UNREACHABLE, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot reach the fdo host at http://127.0.0.1:9"),
        "{}",
        r.stderr
    );
    let r = run(&["list", "--url", "ftp://x"], &[], None);
    assert_eq!(r.code, USAGE);
}

fn write_manifest(dir: &Path, text: &str) -> String {
    let path = dir.join("fdo.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn manifest_deploys_every_function() {
    let host = HostProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    // Components by absolute path, through a variable, and relative to the manifest.
    std::fs::copy(test_guests::HTTP_HELLO, dir.path().join("web.wasm")).unwrap();
    let manifest = write_manifest(
        dir.path(),
        &format!(
            r#"
            [functions.rpc]
            version = "1.0.0"
            component = "{rpc}"
            language = "rust"
            entryPoint = "src/lib.rs"
            env = {{ GREETING = "hi" }}
            secrets = {{ TOKEN = "${{TEST_TOKEN}}" }}
            limits = {{ memoryMb = 64, timeoutMs = 2000, maxConcurrency = 4 }}

            [functions.typed]
            version = "0.2.0"
            component = "${{TYPED_DIR}}/{typed_name}"
            language = "rust"

            [functions.web]
            version = "0.1.0"
            component = "web.wasm"
            language = "rust"
            allowedHosts = ["api.example.com"]
            "#,
            rpc = test_guests::RPC_BASIC,
            typed_name = Path::new(test_guests::TYPED_EXPORTS)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap(),
        ),
    );
    let typed_dir = Path::new(test_guests::TYPED_EXPORTS)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let envs = [
        ("TEST_TOKEN", "tok-123456"),
        ("TYPED_DIR", typed_dir.as_str()),
    ];

    let out = host.fdo_in(&["deploy", &manifest], &envs, None);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("rpc 1.0.0: deployed (rpc"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("typed 0.2.0: deployed (typed"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("web 0.1.0: deployed (http"),
        "{lines:?}"
    );

    assert_eq!(
        host.fdo(&["invoke", "rpc", "env", "TOKEN"]).ok(),
        "tok-123456\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "typed", "add", "20", "22"]).ok(),
        "42\n"
    );
    let info = host.fdo(&["info", "rpc", "--json"]).json();
    assert_eq!(
        info["limits"],
        json!({"memoryMb": 64, "timeoutMs": 2000, "maxConcurrency": 4})
    );
    assert_eq!(info["entryPoint"], "src/lib.rs");
    assert_eq!(
        host.fdo(&["info", "web", "--json"]).json()["allowedHosts"],
        json!(["api.example.com"])
    );

    // HTTP handlers through the CLI.
    let echo = host.fdo(&[
        "invoke",
        "--http",
        "web",
        "echo?x=1",
        "-X",
        "PUT",
        "-d",
        "payload",
        "-H",
        "x-test: t1",
    ]);
    assert_eq!(
        echo.json(),
        json!({"method": "PUT", "path": "/echo?x=1", "x-test": "t1", "body": "payload"})
    );
    assert_eq!(
        host.fdo(&["invoke", "--http", "web"]).ok(),
        "hello from wasi:http"
    );
    let missing = host.fdo(&["invoke", "--http", "web", "missing"]);
    assert_eq!(missing.code, API_ERROR);
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);

    // Redeploying from the manifest's directory (`fdo deploy` reads ./fdo.toml) changes
    // nothing; --function picks functions.
    let again = host.fdo_in(
        &["deploy", "--function", "typed", "--function", "web"],
        &envs,
        Some(dir.path()),
    );
    assert_eq!(
        again.ok(),
        "typed 0.2.0: unchanged (this version is already deployed with the same code)\n\
         web 0.1.0: unchanged (this version is already deployed with the same code)\n"
    );
    let r = host.fdo_in(&["deploy", &manifest, "--function", "nope"], &envs, None);
    assert_eq!(r.code, USAGE);

    // An unset variable stops the deploy before anything is uploaded.
    let r = host.fdo_in(&["deploy", &manifest, "--version", "1.0.0"], &envs, None);
    assert_eq!(
        r.code, USAGE,
        "flags do not apply to manifests: {}",
        r.stderr
    );
    let other = tempfile::tempdir().unwrap();
    let bad = write_manifest(
        other.path(),
        &format!(
            "[functions.a-first]\nversion = \"1.0.0\"\ncomponent = \"{}\"\nlanguage = \"rust\"\n\n\
             [functions.b-second]\nversion = \"1.0.0\"\ncomponent = \"{}\"\nlanguage = \"rust\"\nsecrets = {{ K = \"${{UNSET_FOR_SURE}}\" }}\n",
            test_guests::RPC_BASIC,
            test_guests::RPC_BASIC
        ),
    );
    let r = host.fdo(&["deploy", &bad]);
    assert_eq!(r.code, USAGE);
    assert!(
        r.stderr.contains(
            "function b-second, secrets.K: environment variable UNSET_FOR_SURE is not set"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(
        host.fdo(&["info", "a-first"]).code,
        API_ERROR,
        "nothing was deployed"
    );

    // --json gives the host's answers as an array.
    let answers = host
        .fdo_in(&["deploy", &manifest, "--json"], &envs, None)
        .json();
    assert_eq!(answers.as_array().map(Vec::len), Some(3));
    assert_eq!(answers[0]["created"], false);
}

#[test]
fn logs_follow_prints_new_entries_once() {
    let host = HostProcess::start(&[]);
    host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "f",
        "--version",
        "1.0.0",
    ])
    .ok();
    host.fdo(&["invoke", "f", "greet", "first"]).ok();
    let mut follower = host
        .command(&["logs", "f", "--follow", "--interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |needle: &str, seen: &mut Vec<String>| loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no log line with {needle:?}; got {seen:?}"));
        let done = line.contains(needle);
        seen.push(line);
        if done {
            break;
        }
    };
    wait_for("greet succeeded", &mut seen);
    host.fdo(&["invoke", "f", "log"]).ok();
    wait_for("log succeeded", &mut seen);
    host.fdo(&["invoke", "f", "add", "1", "2"]).ok();
    wait_for("add succeeded", &mut seen);
    follower.kill().unwrap();
    let _ = follower.wait();
    for needle in [
        "greet succeeded",
        "rpc-basic warn message",
        "rpc-basic stdout line",
        "log succeeded",
        "add succeeded",
    ] {
        assert_eq!(
            seen.iter().filter(|l| l.contains(needle)).count(),
            1,
            "{needle:?} once in {seen:#?}"
        );
    }
}

#[test]
fn keys_over_http_and_on_a_data_directory() {
    let host = HostProcess::start(&[]);
    let created = host.fdo(&["keys", "create", "--name", "ci", "--expires-in", "1h"]);
    let key = created.ok().trim().to_owned();
    assert!(key.starts_with("fdo_"), "{key}");
    assert!(created.stderr.contains("shown only this once"));
    assert_eq!(
        run(&["list", "--url", &host.url, "--api-key", &key], &[], None).code,
        0
    );
    let keys = host.fdo(&["keys", "list", "--json"]).json();
    let ci = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci")
        .expect("listed")
        .clone();
    assert_eq!(ci["status"], "active");
    assert!(ci["expiresAt"].is_string());
    assert!(!keys.to_string().contains(&key), "keys are never listed");
    let id = ci["id"].as_str().unwrap();
    assert_eq!(
        host.fdo(&["keys", "revoke", id]).ok(),
        format!("revoked {id} (ci)\n")
    );
    let r = run(&["list", "--url", &host.url, "--api-key", &key], &[], None);
    assert_eq!(r.code, API_ERROR);
    assert!(r.stderr.contains("Invalid API key"), "{}", r.stderr);

    // Locally, before any host runs: the first key of a data directory.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = run(
        &["keys", "--data-dir", data, "create", "--name", "bootstrap"],
        &[],
        None,
    );
    let first_key = first.ok().trim().to_owned();
    let listed = run(&["keys", "--data-dir", data, "list"], &[], None);
    assert!(listed.ok().contains("bootstrap"), "{}", listed.stdout);
    let local = HostProcess::start_with(&["--data-dir", data], &[]);
    assert!(
        !local.stdout().contains("Created an admin API key"),
        "a key exists: none is made"
    );
    let r = run(
        &["list", "--url", &local.url, "--api-key", &first_key],
        &[],
        None,
    );
    assert_eq!(r.ok(), "no functions deployed\n");
    let r = run(
        &["keys", "--data-dir", data, "revoke", "key_nope"],
        &[],
        None,
    );
    assert_eq!(r.code, USAGE);
    assert!(r.stderr.contains("no key with id key_nope"), "{}", r.stderr);
}

#[test]
fn serve_config_precedence_is_flag_env_file_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fdo-host.toml");
    std::fs::write(
        &file,
        "rate-limit-ip = 7\nlog-retention = 9\nqueue-timeout = \"3s\"\ndata-dir = \"state\"\nshutdown-grace = \"1m\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let envs = [
        ("FDO_LOG_RETENTION", "11"),
        ("FDO_QUEUE_TIMEOUT", "4s"),
        ("FDO_SHUTDOWN_GRACE", "20s"),
    ];
    let expect = |r: crate::support::process::Run| {
        let v: toml::Table = toml::from_str(r.ok()).unwrap();
        assert_eq!(
            v["rate-limit-ip"].as_integer(),
            Some(7),
            "file over default"
        );
        assert_eq!(
            v["log-retention"].as_integer(),
            Some(11),
            "environment over file"
        );
        assert_eq!(
            v["queue-timeout"].as_str(),
            Some("5s"),
            "flag over environment"
        );
        assert_eq!(
            v["shutdown-grace"].as_str(),
            Some("20s"),
            "environment over file"
        );
        assert_eq!(v["max-upload-mb"].as_integer(), Some(64), "default");
        let data_dir = v["data-dir"].as_str().unwrap();
        assert_eq!(
            Path::new(data_dir),
            dir.path().join("state"),
            "relative to the file"
        );
    };
    expect(run(
        &[
            "serve",
            "--config",
            file,
            "--queue-timeout",
            "5s",
            "--print-config",
        ],
        &envs,
        None,
    ));
    let mut with_env = envs.to_vec();
    with_env.push(("FDO_CONFIG", file));
    expect(run(
        &["serve", "--queue-timeout", "5s", "--print-config"],
        &with_env,
        None,
    ));

    // A bad file stops the host before it binds, naming the problem.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = 8080\n").unwrap();
    let r = run(&["serve", "--config", bad.to_str().unwrap()], &[], None);
    assert_eq!(r.code, USAGE);
    assert!(r.stderr.contains("listen"), "{}", r.stderr);

    // A host started from a file alone: its address and key come from the file.
    let conf = dir.path().join("serve.toml");
    std::fs::write(
        &conf,
        format!("listen = \"127.0.0.1:0\"\ndata-dir = \"served\"\napi-key = \"{KEY}\"\n"),
    )
    .unwrap();
    let mut c = crate::support::process::fdo();
    c.args(["serve", "--config", conf.to_str().unwrap()]);
    let host = HostProcess::spawn(c);
    assert_eq!(host.fdo(&["list"]).ok(), "no functions deployed\n");
    assert!(dir.path().join("served").is_dir());
}

/// A host that cannot run never takes its address: bad settings and an unusable data directory
/// are reported before the port is bound (here the port is taken, so a host that bound first
/// would fail with "cannot listen" instead).
#[test]
fn serve_fails_on_bad_settings_before_binding() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let r = run(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data,
            "--max-upload-mb",
            "0",
        ],
        &[],
        None,
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--max-upload-mb must be at least 1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("cannot listen"), "{}", r.stderr);
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let r = run(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            file.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("data directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("cannot listen"), "{}", r.stderr);
    // With good settings, the taken port is what stops it.
    let r = run(
        &["serve", "--listen", &listen, "--data-dir", data],
        &[],
        None,
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("cannot listen"), "{}", r.stderr);
}

/// `examples/fdo.toml` (what the quickstart runs `fdo up` on) is valid, names the components
/// its functions build into, and the README's first commands work against it (here with the
/// components the tests built, copied where the manifest expects them).
#[test]
fn examples_manifest_deploys_and_the_readme_commands_work() {
    let (project, manifest) = crate::support::examples_project();
    let text = std::fs::read_to_string(&manifest).unwrap();
    let specs = fdo::cli::manifest::parse(&text, &manifest, &|_| None).unwrap();
    let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "assemblyscript-hello",
            "c-hello",
            "c-hello-http",
            "droplet-controller",
            "hello",
            "http-handler",
            "js-hello",
            "python-hello",
            "zig-hello"
        ]
    );
    for spec in &specs {
        assert_eq!(
            spec.component,
            project.path().join(format!("build/{}.wasm", spec.id))
        );
        assert!(spec.component.is_file(), "{}", spec.component.display());
        // c-hello-http is c-hello's sources deployed as a CGI handler.
        let sources = spec.id.strip_suffix("-http").unwrap_or(&spec.id);
        assert!(spec.dir.ends_with(sources), "{}", spec.dir.display());
        fdo::model::parse_deploy_metadata(&spec.metadata).unwrap();
    }
    let droplet = &specs[3].metadata;
    assert_eq!(specs[2].metadata["interface"], "http");
    assert_eq!(
        droplet["secrets"],
        json!({"DO_API_TOKEN": ""}),
        "an unset token deploys empty"
    );

    let host = HostProcess::start(&[]);
    let manifest = manifest.to_str().unwrap();
    let envs = [];
    let only = [
        "--function",
        "hello",
        "--function",
        "http-handler",
        "--function",
        "droplet-controller",
    ];
    let deployed = host.fdo_in(&[&["deploy", manifest][..], &only].concat(), &envs, None);
    assert_eq!(deployed.ok().lines().count(), 3, "{}", deployed.stdout);
    assert_eq!(
        host.fdo(&["invoke", "hello", "main", "-p", "name=Alice"])
            .ok(),
        "{\n  \"body\": \"Hello Alice!\"\n}\n"
    );
    let http = host.fdo(&["invoke", "--http", "http-handler"]);
    assert_eq!(
        serde_json::from_str::<Value>(http.ok()).unwrap(),
        json!({"message": "Hello from fdo!"})
    );
    let logs = host.fdo(&["logs", "hello"]);
    assert!(logs.ok().contains("main succeeded"), "{}", logs.stdout);
    // Without a token the droplet controller says what is missing.
    let r = host.fdo(&["invoke", "droplet-controller", "main", "--params", "{}"]);
    assert_eq!(r.code, API_ERROR);
    assert!(r.stderr.contains("DO_API_TOKEN"), "{}", r.stderr);

    // The WASI command examples: as functions, and the C one as a CGI handler.
    let commands = ["--function", "zig-hello", "--function", "c-hello-http"];
    let deployed = host.fdo_in(
        &[&["deploy", manifest][..], &commands].concat(),
        &envs,
        None,
    );
    assert_eq!(deployed.ok().lines().count(), 2, "{}", deployed.stdout);
    assert_eq!(
        host.fdo(&["invoke", "zig-hello", "hello", "Ada"]).ok(),
        "{\n  \"body\": \"Hello Ada!\"\n}\n"
    );
    let info = host.fdo(&["info", "c-hello-http"]);
    assert!(
        info.ok()
            .lines()
            .any(|l| l.starts_with("interface") && l.ends_with("http")),
        "{}",
        info.stdout
    );
    assert_eq!(
        host.fdo(&["invoke", "--http", "c-hello-http", "/hello?name=Ada"])
            .ok(),
        "Hello Ada!\n"
    );
}
