//! `fdo-load`: the load benchmark. Starts the servers on loopback, drives each in turn with
//! `wrk` at several connection counts (`--rounds` times, interleaved), and prints requests per
//! second, latency percentiles and the ratios the benchmark targets are stated in:
//!
//! * `native`: a plain hyper hello (`hello-native`), the ceiling;
//! * `wasmtime`: `wasmtime serve` on the `http-hello` `wasi:http` component;
//! * `fdo-http`: the same component deployed to `fdo serve`, through the pass-through path
//!   `GET /v1/functions/hello-http` (API key checked);
//! * `fdo-rpc`: the `hello` example deployed to `fdo serve`, `POST /v1/functions/hello-rpc`
//!   with `{"method":"main","params":{"name":"world"}}` (the full API path: auth, JSON, a
//!   fresh instance, and the guest's log line stored); with `--credentials` once per
//!   credential (admin key, an `invoke` key, an invocation token), measured in turn;
//! * `fdo-command`: the `zig-hello` example, a WASI command module (issue 28), deployed to the
//!   same `fdo serve`, `POST /v1/functions/hello-command` with
//!   `{"method":"hello","params":{"name":"world"}}`: the request on the module's stdin, its
//!   stdout the result, a fresh instance per call like `fdo-rpc`;
//! * `wasmtime-run`: the same module run by `wasmtime run` (precompiled with `wasmtime
//!   compile`), one process per call with the same request on stdin, `--connections` callers
//!   at once (what running a command costs without a host that stays up);
//! * `many`: two fresh `fdo serve`, one with one function and one with `--functions` functions
//!   (distinct ids; the `hello` example, or one copy of it each with `--distinct`): resident
//!   memory from `/proc/PID/status`, and invoke latency rotating over all of them against the
//!   one-function case, the two measured in turn (`--rounds` times each).
//!
//! Every server gets a fresh data directory in a temporary directory and is killed when its
//! scenario ends (or the driver fails); the servers not being measured sit idle. `benches/load.sh` builds the release binaries and runs
//! this; see `--help` for the options.

mod process;
mod procs;
mod report;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use clap::Parser;
use fdo_benches::test_guests;
use serde_json::{Value, json};

use process::ProcessLoad;
use procs::{Server, free_loopback_addr, memory};
use report::{Many, Report, Row};
use wrk::{Credential, Load, Wrk};

/// The API key the benchmark's fdo servers accept.
const API_KEY: &str = "fdo-load-benchmark-key-0123456789";
/// The RPC call every `fdo-rpc` request makes: the `hello` example's `main`.
const RPC_BODY: &str = r#"{"method":"main","params":{"name":"world"}}"#;
/// What the RPC call answers (the `result` field).
const RPC_ANSWER: &str = r#"{"body":"Hello world!"}"#;
/// The call every `fdo-command` request makes (and `wasmtime-run` writes to stdin): the
/// `zig-hello` example's `hello`, which answers [`RPC_ANSWER`] too.
const COMMAND_BODY: &str = r#"{"method":"hello","params":{"name":"world"}}"#;
/// What `http-hello` answers on `/`.
const HTTP_ANSWER: &str = "hello from wasi:http";
/// Deploys in flight at once when deploying many functions.
const DEPLOY_PARALLELISM: usize = 4;

/// The fdo load benchmark: fdo against `wasmtime serve` and a native hyper hello, with wrk.
#[derive(Debug, Parser)]
#[command(name = "fdo-load")]
struct Args {
    /// Seconds each wrk measurement runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of the same load before each measurement, not counted: every server is
    /// measured warm (pool slots, caches, the log writer's steady state), not only the ones
    /// that happen to run after another measurement.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Connection counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    connections: Vec<u32>,
    /// wrk threads (`-t`); the targets were stated for `-t1`.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Scenarios to run, comma-separated: native, wasmtime, fdo-http, fdo-rpc, fdo-rpc-pg (the
    /// RPC load on a PostgreSQL-backed host; not in the default set), fdo-command,
    /// wasmtime-run, many.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "native,wasmtime,fdo-http,fdo-rpc,fdo-command,wasmtime-run,many"
    )]
    only: Vec<String>,
    /// Credentials the `fdo-rpc` scenario presents, comma-separated, each measured as its own
    /// target in turn: `admin` (the admin API key, `X-API-Key`), `invoke-key` (a key created
    /// with role `invoke`), `token` (an invocation token for the function from
    /// `POST /v1/api/tokens`, as `Authorization: Bearer`).
    #[arg(long, value_delimiter = ',', default_value = "admin")]
    credentials: Vec<CredentialKind>,
    /// Functions deployed in the `many` scenario.
    #[arg(long, default_value_t = 1000)]
    functions: usize,
    /// Give every function of the `many` scenario its own component (a copy of hello with
    /// a distinct custom section), so each is compiled and cached separately.
    #[arg(long)]
    distinct: bool,
    /// `--cache-memory-mb` of the `many` scenario's fdo (its memory-tier budget).
    #[arg(long)]
    cache_memory_mb: Option<u64>,
    /// Measurements of each target (and of each side of the `many` scenario) at each
    /// connection count, taken in turn.
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    rounds: usize,
    /// The fdo binary (default: `fdo` next to this one).
    #[arg(long)]
    fdo: Option<PathBuf>,
    /// The hello-native binary (default: next to this one).
    #[arg(long)]
    native: Option<PathBuf>,
    /// The wasmtime binary (default: `$WASMTIME`, then `target/tools/bin/wasmtime`, then PATH).
    #[arg(long)]
    wasmtime: Option<PathBuf>,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// Also write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        !args.connections.is_empty(),
        "--connections needs at least one value"
    );
    ensure!(args.duration >= 1, "--duration must be at least 1 second");
    let here = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("locating this binary")?;
    let tmp = tempfile::Builder::new().prefix("fdo-load-").tempdir()?;
    let wrk = Wrk::new(
        args.wrk.clone(),
        tmp.path(),
        args.threads,
        Duration::from_secs(args.duration),
        Duration::from_secs(args.warmup),
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut report = Report::new(&args.connections, args.threads, args.duration, args.warmup);
    let wants = |name: &str| args.only.iter().any(|o| o == name);

    // Every server of the side-by-side comparison is up before the first measurement, and
    // the targets are measured in turn at each connection count, `--rounds` times: the
    // machine's drift over the minutes a run takes (a shared, noisy VM) then falls on all
    // of them alike instead of on whichever happened to run last.
    let mut servers = Vec::new();
    let mut targets: Vec<(String, Load, u32)> = Vec::new();
    // Targets driven by starting a process per call instead of wrk.
    let mut process_targets: Vec<(&'static str, ProcessLoad)> = Vec::new();
    if wants("native") {
        let binary = args
            .native
            .clone()
            .unwrap_or_else(|| here.join("hello-native"));
        let mut command = Command::new(&binary);
        command.arg("127.0.0.1:0");
        let server = Server::start("hello-native", command, None)?;
        targets.push((
            "native".into(),
            get(&format!("{}/", server.url())),
            server.pid(),
        ));
        servers.push(server);
    }
    if wants("wasmtime") {
        match locate_wasmtime(args.wasmtime.clone(), &here) {
            Some(binary) => {
                let addr = free_loopback_addr()?;
                let mut command = Command::new(&binary);
                command.arg("serve").arg("--addr").arg(addr.to_string()).arg(test_guests::HTTP_HELLO);
                let server = Server::start("wasmtime serve", command, Some(addr))?;
                report.note(format!("wasmtime: {}", version(&binary)));
                check_http(&rt, &format!("{}/", server.url()), None)?;
                targets.push(("wasmtime".into(), get(&format!("{}/", server.url())), server.pid()));
                servers.push(server);
            }
            None => report.note(
                "wasmtime not found: `cargo install wasmtime-cli --version 48.0.8 --locked --root target/tools` (ratios omitted)"
                    .into(),
            ),
        }
    }
    if wants("wasmtime-run") {
        match locate_wasmtime(args.wasmtime.clone(), &here) {
            Some(binary) => {
                let load = wasmtime_run(&binary, tmp.path())?;
                report.note(format!("wasmtime-run: {}", load.argv.join(" ")));
                process_targets.push(("wasmtime-run", load));
            }
            None => report.note("wasmtime not found: wasmtime-run skipped".into()),
        }
    }
    let fdo_binary = args.fdo.clone().unwrap_or_else(|| here.join("fdo"));
    let client = reqwest::Client::new();
    let mut fdo_server = None;
    if wants("fdo-http") || wants("fdo-rpc") || wants("fdo-command") {
        let server = start_fdo(&fdo_binary, &tmp.path().join("fdo"), &[])?;
        let rpc = std::fs::read(test_guests::HELLO)?;
        let http = std::fs::read(test_guests::HTTP_HELLO)?;
        rt.block_on(deploy(&client, &server, "hello-rpc", &rpc))?;
        rt.block_on(deploy(&client, &server, "hello-http", &http))?;
        let rpc_url = format!("{}/v1/functions/hello-rpc", server.url());
        let http_url = format!("{}/v1/functions/hello-http", server.url());
        rt.block_on(check_rpc(&client, &rpc_url))?;
        check_http(&rt, &http_url, Some(API_KEY))?;
        report.note(format!(
            "fdo: RSS after deploying both: {}",
            memory(server.pid())?
        ));
        if wants("fdo-http") {
            let load = Load {
                credential: Credential::ApiKey(API_KEY.into()),
                ..get(&http_url)
            };
            targets.push(("fdo-http".into(), load, server.pid()));
        }
        if wants("fdo-rpc") {
            // The same call once per credential, measured in turn like every target.
            for &credential in &args.credentials {
                let load = Load {
                    credential: rt.block_on(issue(&client, &server, credential, "hello-rpc"))?,
                    ..rpc_load(rpc_url.clone(), None)
                };
                rt.block_on(check_call(&client, &load))?;
                let name = match credential {
                    CredentialKind::Admin => "fdo-rpc".to_owned(),
                    other => format!("fdo-rpc/{}", other.name()),
                };
                targets.push((name, load, server.pid()));
            }
        }
        if wants("fdo-command") {
            let command = std::fs::read(test_guests::ZIG_HELLO)?;
            rt.block_on(deploy(&client, &server, "hello-command", &command))?;
            let url = format!("{}/v1/functions/hello-command", server.url());
            let load = Load {
                body: Some(COMMAND_BODY.into()),
                ..rpc_load(url, None)
            };
            rt.block_on(check_call(&client, &load))?;
            targets.push(("fdo-command".into(), load, server.pid()));
        }
        fdo_server = Some(server);
    }
    // The same RPC load on a host whose registry is PostgreSQL (a throwaway cluster of the
    // `test-postgres` harness), side by side with the SQLite-backed one above.
    let _pg_database;
    let mut pg_server: Option<Server> = None;
    if wants("fdo-rpc-pg") {
        let db = test_postgres::database();
        let server = start_fdo(
            &fdo_binary,
            &tmp.path().join("fdo-pg"),
            &["--database".into(), db.url.clone()],
        )?;
        let rpc = std::fs::read(test_guests::HELLO)?;
        rt.block_on(deploy(&client, &server, "hello-rpc", &rpc))?;
        let rpc_url = format!("{}/v1/functions/hello-rpc", server.url());
        rt.block_on(check_rpc(&client, &rpc_url))?;
        targets.push(("fdo-rpc-pg".into(), rpc_load(rpc_url, None), server.pid()));
        _pg_database = db;
        pg_server = Some(server);
    }
    for &c in &args.connections {
        for round in 0..args.rounds {
            for (target, load, pid) in &targets {
                measure(&wrk, &mut report, target, c, round, load, Some(*pid))?;
            }
            for (target, load) in &process_targets {
                let loadavg = loadavg();
                let outcome = load
                    .run(c, wrk.duration, wrk.warmup)
                    .with_context(|| format!("{target} at {c} connections"))?;
                record(&mut report, target, c, round, outcome, loadavg, None);
            }
        }
    }
    if let Some(server) = &fdo_server {
        report.note(format!(
            "fdo: RSS after the runs: {}",
            memory(server.pid())?
        ));
        report.note(format!(
            "fdo: log entries dropped (log queue full) during the runs: {}",
            rt.block_on(logs_dropped(&client, server))?
        ));
    }
    if let Some(server) = &pg_server {
        report.note(format!(
            "fdo on PostgreSQL: log entries dropped (log queue full) during the runs: {}",
            rt.block_on(logs_dropped(&client, server))?
        ));
    }
    drop(fdo_server);
    drop(pg_server);
    drop(servers);
    if wants("many") && args.functions > 0 {
        let many = many(&args, &rt, &wrk, &fdo_binary, tmp.path())?;
        report.many = Some(many);
    }

    print!("{}", report.render());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Runs `load` at `connections` connections and records it as `target`.
fn measure(
    wrk: &Wrk,
    report: &mut Report,
    target: &str,
    connections: u32,
    round: usize,
    load: &Load,
    pid: Option<u32>,
) -> anyhow::Result<()> {
    let loadavg = loadavg();
    let outcome = wrk
        .run(load, connections)
        .with_context(|| format!("{target} at {connections} connections"))?;
    record(report, target, connections, round, outcome, loadavg, pid);
    Ok(())
}

/// Prints and keeps one measurement.
fn record(
    report: &mut Report,
    target: &str,
    connections: u32,
    round: usize,
    outcome: wrk::Outcome,
    loadavg: Option<f64>,
    pid: Option<u32>,
) {
    let rss = pid.and_then(|p| memory(p).ok());
    eprintln!(
        "{target:>9} c={connections:<3} round {round}: {:>9.0} rps  p50 {:>6} us  p99 {:>6} us  errors {}",
        outcome.rps(),
        outcome.latency_us.p50,
        outcome.latency_us.p99,
        outcome.errors.total()
    );
    report.rows.push(Row {
        target: target.to_owned(),
        connections,
        round,
        outcome,
        loadavg_before: loadavg,
        rss,
    });
}

/// The one-function case against `--functions` functions: two fresh fdo servers, one with a
/// single function deployed and one with all of them, both up for the whole scenario, measured
/// in turn (one, many, one, many, ...) at each connection count, so the machine's drift over
/// the minutes this takes falls on both sides alike.
fn many(
    args: &Args,
    rt: &tokio::runtime::Runtime,
    wrk: &Wrk,
    fdo: &Path,
    tmp: &Path,
) -> anyhow::Result<Many> {
    let mut extra = Vec::new();
    if let Some(mb) = args.cache_memory_mb {
        extra.push("--cache-memory-mb".to_owned());
        extra.push(mb.to_string());
    }
    let client = reqwest::Client::new();
    let base = std::fs::read(test_guests::HELLO)?;
    let component = |i: usize| {
        if args.distinct {
            with_custom_section(&base, i)
        } else {
            base.clone()
        }
    };
    let rotate = |server: &Server, count: usize| {
        rpc_load(
            format!("{}/v1/functions/f-0", server.url()),
            Some(("/v1/functions/f-".into(), count, String::new())),
        )
    };
    let mut result = Many {
        functions: args.functions,
        distinct: args.distinct,
        cache_memory_mb: args.cache_memory_mb,
        rounds: args.rounds,
        ..Many::default()
    };

    let single = start_fdo(fdo, &tmp.join("fdo-one"), &extra)?;
    rt.block_on(deploy(&client, &single, "f-0", &component(0)))?;
    rt.block_on(check_rpc(
        &client,
        &format!("{}/v1/functions/f-0", single.url()),
    ))?;
    result.rss_one = memory(single.pid())?;

    let server = start_fdo(fdo, &tmp.join("fdo-many"), &extra)?;
    result.rss_idle = memory(server.pid())?;
    let started = std::time::Instant::now();
    rt.block_on(async {
        use futures_util::StreamExt as _;
        let mut deploys = futures_util::stream::iter(0..args.functions)
            .map(|i| {
                let (client, server, bytes) = (&client, &server, component(i));
                async move { deploy(client, server, &format!("f-{i}"), &bytes).await }
            })
            .buffer_unordered(DEPLOY_PARALLELISM);
        while let Some(done) = deploys.next().await {
            done?;
        }
        anyhow::Ok(())
    })?;
    result.deploy_secs = started.elapsed().as_secs_f64();
    result.rss_deployed = memory(server.pid())?;
    // Call each once, so every function has run (and its instance slots have been used).
    rt.block_on(async {
        for i in 0..args.functions {
            check_rpc(&client, &format!("{}/v1/functions/f-{i}", server.url())).await?;
        }
        anyhow::Ok(())
    })?;
    result.rss_called = memory(server.pid())?;

    for &c in &args.connections {
        for round in 0..args.rounds {
            let one = wrk
                .run(&rotate(&single, 1), c)
                .with_context(|| format!("one function at {c} connections"))?;
            let all = wrk
                .run(&rotate(&server, args.functions), c)
                .with_context(|| format!("{} functions at {c} connections", args.functions))?;
            eprintln!(
                "  many: c={c:<3} round {round}: 1 function {:>8.0} rps p50 {:>6} us; {} functions {:>8.0} rps p50 {:>6} us",
                one.rps(),
                one.latency_us.p50,
                args.functions,
                all.rps(),
                all.latency_us.p50,
            );
            result.one.push((c, one));
            result.all.push((c, all));
        }
    }
    result.rss_one_after = memory(single.pid())?;
    result.rss_after = memory(server.pid())?;
    result.logs_dropped = rt.block_on(logs_dropped(&client, &single))?
        + rt.block_on(logs_dropped(&client, &server))?;
    Ok(result)
}

/// Starts `fdo serve` on a free loopback port with a fresh `data_dir`, rate limits off.
fn start_fdo(binary: &Path, data_dir: &Path, extra: &[String]) -> anyhow::Result<Server> {
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--no-rate-limit")
        .args(extra)
        .env("FDO_API_KEY", API_KEY)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        );
    Server::start("fdo serve", command, None)
}

/// Deploys `bytes` as function `id` (version 1.0.0).
async fn deploy(
    client: &reqwest::Client,
    server: &Server,
    id: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let body = json!({
        "id": id,
        "version": "1.0.0",
        "language": "rust",
        "entryPoint": "src/lib.rs",
        "dependencies": {},
        "code": base64::engine::general_purpose::STANDARD.encode(bytes),
    });
    let response = client
        .post(format!("{}/v1/api/functions", server.url()))
        .header("x-api-key", API_KEY)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("deploying {id}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "deploying {id}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

/// What a load presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CredentialKind {
    /// The admin API key.
    Admin,
    /// An API key with role `invoke` (may call functions, nothing else).
    InvokeKey,
    /// An invocation token for the function, from `POST /v1/api/tokens`.
    Token,
}

impl CredentialKind {
    fn name(self) -> &'static str {
        match self {
            CredentialKind::Admin => "admin",
            CredentialKind::InvokeKey => "invoke-key",
            CredentialKind::Token => "token",
        }
    }
}

/// A credential of `kind` for calling `function`, issued by `server` as the admin.
async fn issue(
    client: &reqwest::Client,
    server: &Server,
    kind: CredentialKind,
    function: &str,
) -> anyhow::Result<Credential> {
    let (path, body, field) = match kind {
        CredentialKind::Admin => return Ok(Credential::ApiKey(API_KEY.into())),
        CredentialKind::InvokeKey => (
            "/v1/api/keys",
            json!({"name": "fdo-load invoke", "role": "invoke", "namespaces": null}),
            "key",
        ),
        CredentialKind::Token => ("/v1/api/tokens", json!({"functionId": function}), "token"),
    };
    let response = client
        .post(format!("{}{path}", server.url()))
        .header("x-api-key", API_KEY)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let answer: Value = response.json().await?;
    let secret = answer[field]
        .as_str()
        .with_context(|| format!("POST {path} answered {status} {answer}"))?
        .to_owned();
    Ok(match kind {
        CredentialKind::Token => Credential::Bearer(secret),
        _ => Credential::ApiKey(secret),
    })
}

/// One RPC call, checked.
/// fdo's `fdo_logs_dropped` counter: a server that sheds its log writes looks faster than it is,
/// so every report says how many entries were dropped.
async fn logs_dropped(client: &reqwest::Client, server: &Server) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{}/metrics", server.url()))
        .header("x-api-key", API_KEY)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    text.lines()
        .find_map(|line| line.strip_prefix("fdo_logs_dropped "))
        .context("fdo_logs_dropped missing from /metrics")?
        .trim()
        .parse()
        .context("fdo_logs_dropped is not a number")
}

async fn check_rpc(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    check_call(client, &rpc_load(url.to_owned(), None)).await
}

/// One call as `load` makes it, checked against [`RPC_ANSWER`].
async fn check_call(client: &reqwest::Client, load: &Load) -> anyhow::Result<()> {
    let url = &load.url;
    let mut request = client.post(url);
    request = match &load.credential {
        Credential::None => request,
        Credential::ApiKey(key) => request.header("x-api-key", key),
        Credential::Bearer(token) => request.header("authorization", format!("Bearer {token}")),
    };
    let response = request
        .header("content-type", "application/json")
        .body(load.body.clone().unwrap_or_default())
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let value: Value = response
        .json()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    let expected: Value = serde_json::from_str(RPC_ANSWER)?;
    ensure!(
        status.is_success() && value["result"] == expected,
        "{url} answered {status} {value}"
    );
    Ok(())
}

/// One `GET`, checked against the hello body.
fn check_http(
    rt: &tokio::runtime::Runtime,
    url: &str,
    api_key: Option<&str>,
) -> anyhow::Result<()> {
    rt.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(key) = api_key {
            request = request.header("x-api-key", key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(
            status.is_success() && text == HTTP_ANSWER,
            "{url} answered {status} {text:?}"
        );
        Ok(())
    })
}

/// A `GET` of `url`.
fn get(url: &str) -> Load {
    Load {
        url: url.to_owned(),
        method: "GET",
        body: None,
        credential: Credential::None,
        rotate: None,
    }
}

/// The RPC `greet` call to `url`, optionally rotating over function paths.
fn rpc_load(url: String, rotate: Option<(String, usize, String)>) -> Load {
    Load {
        url,
        method: "POST",
        body: Some(RPC_BODY.into()),
        credential: Credential::ApiKey(API_KEY.into()),
        rotate,
    }
}

/// `component` with a custom section naming copy `i` appended: a different digest, the same
/// behaviour.
fn with_custom_section(component: &[u8], i: usize) -> Vec<u8> {
    let name = b"fdo-bench-copy";
    let payload = i.to_string();
    let mut content = Vec::new();
    leb128(&mut content, name.len());
    content.extend_from_slice(name);
    content.extend_from_slice(payload.as_bytes());
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb128(&mut out, content.len());
    out.extend_from_slice(&content);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The wasmtime to compare with: the flag, `$WASMTIME`, the copy `load.sh` installs under
/// `target/tools`, or the one on PATH.
fn locate_wasmtime(flag: Option<PathBuf>, here: &Path) -> Option<PathBuf> {
    let candidates = flag
        .into_iter()
        .chain(std::env::var_os("WASMTIME").map(PathBuf::from))
        .chain(
            here.parent()
                .map(|target| target.join("tools/bin/wasmtime")),
        )
        .chain(Some(PathBuf::from("wasmtime")));
    candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `BINARY --version`, trimmed.
fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// The 1-minute load average, to flag measurements taken on a busy machine.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `--rounds`: a count of measurements, so zero is a mistake, not "one".
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_section_copies_differ_and_stay_components() {
        let base = std::fs::read(test_guests::HELLO).unwrap();
        let a = with_custom_section(&base, 1);
        let b = with_custom_section(&base, 2);
        assert_ne!(fdo::model::Digest::of(&a), fdo::model::Digest::of(&b));
        assert!(fdo::loader::looks_like_component(&a));
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&a)
            .expect("still a valid component");
    }

    #[test]
    fn rounds_must_be_at_least_one() {
        let parse = |r: &str| Args::try_parse_from(["fdo-load", "--rounds", r]);
        assert_eq!(parse("3").unwrap().rounds, 3);
        assert!(parse("0").is_err());
        assert!(parse("x").is_err());
    }

    #[test]
    fn leb128_encodes_multi_byte_values() {
        let mut out = Vec::new();
        leb128(&mut out, 624_485);
        assert_eq!(out, [0xe5, 0x8e, 0x26]);
    }
}

/// `wasmtime run` of the `zig-hello` module precompiled into `dir` by `wasmtime compile`: the
/// request on stdin, `FDO_METHOD` set as fdo sets it.
fn wasmtime_run(wasmtime: &Path, dir: &Path) -> anyhow::Result<ProcessLoad> {
    let compiled = dir.join("zig-hello.cwasm");
    let status = Command::new(wasmtime)
        .arg("compile")
        .arg(test_guests::ZIG_HELLO)
        .arg("-o")
        .arg(&compiled)
        .status()
        .context("wasmtime compile")?;
    ensure!(
        status.success(),
        "wasmtime compile {}: {status}",
        test_guests::ZIG_HELLO
    );
    Ok(ProcessLoad {
        argv: vec![
            wasmtime.display().to_string(),
            "run".into(),
            "--allow-precompiled".into(),
            "--env".into(),
            "FDO_METHOD=hello".into(),
            compiled.display().to_string(),
        ],
        stdin: COMMAND_BODY.as_bytes().to_vec(),
        expect: RPC_ANSWER.into(),
    })
}
