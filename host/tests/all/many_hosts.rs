//! Several `fdo serve` hosts on one PostgreSQL (`--database`), as real processes on a real
//! PostgreSQL the test starts itself (`test-postgres`): a deploy through one host is served by
//! the other, changes (rollback, delete, key revocation) made through one reach the other,
//! logs of calls served by either are seen from both, and `fdo keys --database` manages keys
//! of the shared store.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::support::process::{HostProcess, KEY, PATIENCE, run};

/// `fdo serve --database URL` on a fresh data directory (its compiled-code cache only).
fn host_on(url: &str) -> HostProcess {
    HostProcess::start(&["--database", url])
}

/// Deploys the `rpc-basic` test guest as `id@version` through `host`.
fn deploy_rpc(host: &HostProcess, id: &str, version: &str) {
    host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        id,
        "--version",
        version,
    ])
    .ok();
}

/// Waits until `check` holds; a guard against hanging, not a timing assertion (the
/// propagation delay is measured by the benchmarks).
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn two_hosts_share_functions_changes_keys_and_logs() {
    let db = test_postgres::database();
    let a = host_on(&db.url);
    let b = host_on(&db.url);

    // Deployed through A, served by B (which never saw the upload: the bytes come from the
    // database).
    a.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "greeter",
        "--version",
        "1.0.0",
        "--env",
        "GREETING=hello",
    ])
    .ok();
    assert_eq!(
        b.fdo(&["invoke", "greeter", "greet", "b"]).ok(),
        "Hello, b!\n"
    );
    // B loaded the artifact A compiled (compile once, load everywhere), not the source.
    let info = b.fdo(&["info", "greeter", "--json"]).json();
    assert_eq!(info["loadedFrom"], "shared", "{info}");
    assert_eq!(info["fromCache"], true, "{info}");
    assert_eq!(
        a.fdo(&["invoke", "greeter", "greet", "a"]).ok(),
        "Hello, a!\n"
    );
    assert_eq!(
        a.fdo(&["invoke", "greeter", "env", "GREETING"]).ok(),
        "hello\n"
    );

    // A new version through B reaches A, which had 1.0.0 loaded.
    b.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "greeter",
        "--version",
        "2.0.0",
        "--env",
        "GREETING=howdy",
    ])
    .ok();
    let greeting = |host: &HostProcess| host.fdo(&["invoke", "greeter", "env", "GREETING"]).stdout;
    eventually("A serves 2.0.0", || greeting(&a) == "howdy\n");
    // A rollback through B reaches A.
    b.fdo(&["rollback", "greeter", "1.0.0"]).ok();
    eventually("A serves the rollback", || greeting(&a) == "hello\n");

    // Logs of calls served by either host are seen from both.
    a.fdo(&["invoke", "greeter", "add", "1", "2"]).ok();
    b.fdo(&["invoke", "greeter", "echo", "x"]).ok();
    for host in [&a, &b] {
        eventually("both hosts' calls in the logs", || {
            let logs = host.fdo(&["logs", "greeter", "--json"]).stdout;
            logs.contains("add succeeded") && logs.contains("echo succeeded")
        });
    }

    // Keys made directly in the database work on both hosts; one revoked through A is refused
    // by B.
    let created = run(
        &[
            "keys",
            "--database",
            &db.url,
            "create",
            "--name",
            "shared",
            "--json",
        ],
        &[],
        None,
    );
    let created = created.json();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let with_key = [("FDO_API_KEY", key.as_str())];
    for host in [&a, &b] {
        let r = host.fdo_in(&["list"], &with_key, None);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    a.fdo(&["keys", "revoke", &id]).ok();
    eventually("B refuses the revoked key", || {
        b.fdo_in(&["list"], &with_key, None).code != 0
    });
    let listed = run(
        &["keys", "--database", &db.url, "list", "--json"],
        &[],
        None,
    )
    .json();
    assert!(listed.to_string().contains("revoked"), "{listed}");

    // A delete through A reaches B.
    a.fdo(&["delete", "greeter"]).ok();
    eventually("B no longer serves the deleted function", || {
        b.fdo(&["invoke", "greeter", "greet", "b"])
            .stderr
            .contains("Function not found")
    });
}

#[test]
fn a_host_that_loses_the_database_keeps_serving_refuses_writes_and_recovers() {
    let pg = test_postgres::PrivateCluster::start().unwrap();
    let url = pg.cluster().url("postgres");
    let host = host_on(&url);
    deploy_rpc(&host, "f", "1.0.0");
    assert_eq!(host.fdo(&["invoke", "f", "add", "1", "2"]).ok(), "3\n");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let get = |path: &str| -> String {
        let url = format!("{}{path}", host.url);
        runtime.block_on(async {
            let request = reqwest::Client::new().get(url).header("x-api-key", KEY);
            request.send().await.unwrap().text().await.unwrap()
        })
    };
    let get_health = || -> serde_json::Value { serde_json::from_str(&get("/health")).unwrap() };
    assert_eq!(get_health()["status"], "ok");

    pg.stop().unwrap();
    // Loaded functions keep answering.
    for i in 0..20 {
        assert_eq!(
            host.fdo(&["invoke", "f", "add", &i.to_string(), "1"]).ok(),
            format!("{}\n", i + 1)
        );
    }
    eventually("/health says degraded, and why", || {
        let h = get_health();
        h["status"] == "degraded"
            && h["reason"]
                .as_str()
                .is_some_and(|r| r.contains("unreachable"))
    });
    let metrics = get("/metrics");
    assert!(metrics.contains("fdo_database_unreachable 1"), "{metrics}");
    // A write is refused with a 503 and a clear message, not a 500.
    let r = host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "f",
        "--version",
        "2.0.0",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("HTTP 503"), "{}", r.stderr);
    assert!(r.stderr.contains("database is unreachable"), "{}", r.stderr);

    pg.resume().unwrap();
    eventually("/health is ok again", || get_health()["status"] == "ok");
    deploy_rpc(&host, "f", "2.0.0");
    assert_eq!(host.fdo(&["invoke", "f", "add", "2", "2"]).ok(), "4\n");
    // The calls answered during the outage kept their log entries.
    let logs = host.fdo(&["logs", "f", "--json"]).stdout;
    assert!(
        logs.matches("add succeeded").count() >= 22,
        "entries of calls during the outage are missing: {logs}"
    );
    let versions = host.fdo(&["versions", "f", "--json"]).json();
    assert!(versions.to_string().contains("2.0.0"), "{versions}");
}

/// nginx from Debian, round robin over `upstreams` on a free loopback port (the README's
/// configuration, ports filled in); stopped on drop.
struct Nginx {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(upstreams: &[&HostProcess]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = upstreams
            .iter()
            .map(|h| format!("server {}; ", h.url.trim_start_matches("http://")))
            .collect();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 64m;
    upstream fdo {{ {servers}keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fdo;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 330s;
        }}
    }}
}}
"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = std::process::Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx (scripts/setup.sh installs it)");
        let url = format!("http://127.0.0.1:{port}");
        eventually("nginx accepts connections", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Nginx {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls of `function` counted in a host's `/metrics`.
fn invocations(runtime: &tokio::runtime::Runtime, host: &HostProcess, function: &str) -> u64 {
    let text = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/metrics", host.url))
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let series = format!("fdo_invocations_total{{function=\"{function}\"");
    text.lines()
        .filter(|l| l.starts_with(&series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn nginx_round_robin_over_two_hosts_serves_every_call() {
    let db = test_postgres::database();
    let a = host_on(&db.url);
    let b = host_on(&db.url);
    let nginx = Nginx::start(&[&a, &b]);
    deploy_rpc(&a, "adder", "1.0.0");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let statuses: Vec<u16> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/functions/adder", nginx.url);
        let calls = (0..1000).map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let answer = client
                    .post(url)
                    .header("x-api-key", KEY)
                    .json(&serde_json::json!({"method": "add", "params": [i, 1]}))
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                let body = answer.text().await.unwrap();
                assert!(body.contains(&(i + 1).to_string()), "{status} {body}");
                status
            }
        });
        futures_util::stream::iter(calls)
            .buffer_unordered(8)
            .collect()
            .await
    });
    assert_eq!(statuses.len(), 1000);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (on_a, on_b) = (
        invocations(&runtime, &a, "adder"),
        invocations(&runtime, &b, "adder"),
    );
    assert_eq!(on_a + on_b, 1000);
    assert!(on_a > 0 && on_b > 0, "both hosts serve: {on_a} + {on_b}");
}

#[test]
fn hosts_started_at_the_same_moment_on_an_empty_database_both_serve() {
    let db = test_postgres::database();
    let url = db.url.clone();
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || host_on(&url))
        })
        .collect();
    let hosts: Vec<HostProcess> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    deploy_rpc(&hosts[0], "f", "1.0.0");
    for host in &hosts {
        assert_eq!(host.fdo(&["invoke", "f", "add", "1", "1"]).ok(), "2\n");
    }
}

#[test]
fn a_host_killed_during_a_stream_of_deploys_loses_no_acknowledged_version() {
    let db = test_postgres::database();
    let a = host_on(&db.url);
    let mut b = host_on(&db.url);
    // Deploys to B, one after the other, from a thread; each acknowledged version is noted.
    let (acked_tx, acked_rx) = std::sync::mpsc::channel::<String>();
    let url = b.url.clone();
    let deployer = std::thread::spawn(move || {
        for i in 0..1000 {
            let version = format!("1.0.{i}");
            let r = run(
                &[
                    "deploy",
                    test_guests::RPC_BASIC,
                    "--id",
                    "f",
                    "--version",
                    &version,
                ],
                &[("FDO_URL", url.as_str()), ("FDO_API_KEY", KEY)],
                None,
            );
            if r.code != 0 {
                return; // B is gone
            }
            if acked_tx.send(version).is_err() {
                return;
            }
        }
    });
    // Kill B (SIGKILL) once a few deploys were acknowledged.
    let mut acked: Vec<String> = Vec::new();
    while acked.len() < 3 {
        acked.push(acked_rx.recv_timeout(PATIENCE).expect("deploys to B"));
    }
    b.signal("KILL");
    b.wait();
    deployer.join().unwrap();
    acked.extend(acked_rx.try_iter());
    // Every acknowledged version is in the shared store, seen through A.
    let versions = a.fdo(&["versions", "f", "--json"]).json().to_string();
    for version in &acked {
        assert!(
            versions.contains(&format!("\"{version}\"")),
            "{version} lost: {versions}"
        );
    }
}

#[test]
fn the_python_example_deployed_on_one_host_is_loaded_by_the_other_from_its_stored_artifact() {
    let db = test_postgres::database();
    let a = host_on(&db.url);
    let b = host_on(&db.url);
    a.fdo(&[
        "deploy",
        test_guests::PYTHON_HELLO,
        "--id",
        "py",
        "--version",
        "1.0.0",
        "--language",
        "python",
        "--entry-point",
        "app.py",
    ])
    .ok();
    let answer = b
        .fdo(&[
            "invoke",
            "py",
            "hello",
            "--params",
            r#"{"name": "B"}"#,
            "--json",
        ])
        .json();
    assert_eq!(answer["result"]["body"], "Hello B!", "{answer}");
    // B did not compile it: it loaded the artifact A stored.
    let info = b.fdo(&["info", "py", "--json"]).json();
    assert_eq!(info["loadedFrom"], "shared", "{info}");
    assert_eq!(info["degraded"], false, "{info}");
}
