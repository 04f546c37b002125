//! `fdo bench ID [METHOD] [PARAMS...]`: how fast a deployed function answers, measured from
//! outside the host with fdo's own HTTP client (no wrk needed).
//!
//! First the load tiers as the host reports them (how this version was loaded and in how long,
//! and the host's mean load time per tier: compile, disk, memory), then calls for `--duration`
//! at each `--concurrency` level: requests, errors, requests per second, latency p50/p90/p99/max,
//! with a live progress line on a terminal. `--compare ID2` measures another function (another
//! version deployed under its own id, say) in the same run, interleaved slice by slice so both
//! see the same machine, and prints the ratio. The client's own CPU use is measured: when the
//! client, not the host, set the pace, the report says so. `--json` prints one object per
//! function and level; `--markdown` a table to paste. `--file fdo.toml` benchmarks each function
//! of a project (with its `call`) on the host `fdo up` runs for it.

mod load;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

use self::load::{Live, Measured, Target};
use super::invoke::{params, path_segment};
use super::{CliError, Client, ClientOpts, output};

/// How many slices each level is cut into when two functions are compared: A, B, A, B, ...
const COMPARE_SLICES: u32 = 4;

/// The most connections one level may open.
const MAX_CONCURRENCY: usize = 4096;

/// Arguments of `fdo bench`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,

    /// The function id.
    #[arg(required_unless_present = "file")]
    pub id: Option<String>,
    /// RPC: `METHOD [PARAMS...]`, each param JSON or else a string (as `fdo invoke`). With
    /// --http: `[PATH]`.
    #[arg(value_name = "METHOD [PARAMS...] | PATH")]
    pub args: Vec<String>,
    /// The params as one JSON value (an array or an object).
    #[arg(long, conflicts_with = "param")]
    pub params: Option<String>,
    /// A named param, `NAME=VALUE`; the params become an object.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,
    /// Send plain HTTP requests to a wasi:http handler function.
    #[arg(long)]
    pub http: bool,
    /// With --http: the HTTP method (default GET, or POST with a body).
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        requires = "http"
    )]
    pub method: Option<String>,
    /// With --http: the request body.
    #[arg(short = 'd', long = "data", value_name = "BODY", requires = "http")]
    pub data: Option<String>,

    /// Benchmark every function of this project manifest, with its `call`, on the host that
    /// `fdo up` runs for it (its URL and key from `.fdo/env`).
    #[arg(long, conflicts_with_all = ["id", "compare"])]
    pub file: Option<PathBuf>,
    /// How long each concurrency level runs (per function).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Connections sending at once, one level after another (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 32])]
    pub concurrency: Vec<usize>,
    /// Calls before each level that are not measured (connections, caches).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Measure this function too, interleaved with the first, and print the ratio.
    #[arg(long, value_name = "ID2")]
    pub compare: Option<String>,
    /// Print a Markdown table.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
}

/// One function under load.
#[derive(Debug)]
struct Subject {
    id: String,
    kind: String,
    version: String,
    load: Value,
    target: Arc<Target>,
    what: String,
}

/// One measured level of one function.
#[derive(Debug)]
struct Row {
    function: String,
    concurrency: usize,
    measured: Measured,
    client_bound: bool,
}

impl Row {
    fn to_json(&self) -> Value {
        let m = &self.measured;
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        json!({
            "function": self.function,
            "version": m.version,
            "concurrency": self.concurrency,
            "requests": m.requests,
            "errors": m.errors,
            "rps": (m.rps() * 10.0).round() / 10.0,
            "latencyMs": {
                "p50": round(m.latency_ms(0.5)),
                "p90": round(m.latency_ms(0.9)),
                "p99": round(m.latency_ms(0.99)),
                "max": round(m.max_ms()),
            },
            "clientCpuCores": m.client_cores().map(|c| (c * 100.0).round() / 100.0),
            "clientBound": self.client_bound,
        })
    }
}

/// Runs `fdo bench`.
pub async fn run(mut args: BenchArgs) -> Result<(), CliError> {
    if args.duration.is_zero() || args.duration > Duration::from_secs(3600) {
        return Err(CliError::usage(
            "--duration must be more than 0 and at most 1h",
        ));
    }
    if args.concurrency.is_empty()
        || args
            .concurrency
            .iter()
            .any(|&c| c == 0 || c > MAX_CONCURRENCY)
    {
        return Err(CliError::usage(format!(
            "--concurrency takes levels from 1 to {MAX_CONCURRENCY} (e.g. 1,8,32)"
        )));
    }
    let subjects = match args.file.clone() {
        Some(file) => file_subjects(&mut args, &file).await?,
        None => explicit_subjects(&args).await?,
    };
    let client = Client::new(&args.client)?;
    let tiers = host_tiers(&client).await;
    if !args.client.json && !args.markdown {
        for s in &subjects {
            outln!(
                "{} {} ({}) at {}: {}",
                s.id,
                s.version,
                s.kind,
                client.base(),
                s.what
            );
            outln!("  load: {}", describe_load(&s.load));
        }
        if let Some(tiers) = &tiers {
            outln!("  host-wide mean load time by tier: {tiers}");
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let local = is_local(&subjects[0].target);
    let mut rows = Vec::new();
    if args.compare.is_some() {
        for &c in &args.concurrency {
            for s in &subjects {
                run_level(s, c, args.warmup, None).await;
            }
            let mut totals: Vec<Measured> = subjects.iter().map(|_| Measured::empty()).collect();
            let slice = args.duration / COMPARE_SLICES;
            for round in 0..COMPARE_SLICES {
                for (s, total) in subjects.iter().zip(&mut totals) {
                    let label = format!("{} c={c} {}/{COMPARE_SLICES}", s.id, round + 1);
                    total.merge(run_level(s, c, slice, Some(label)).await);
                }
            }
            for (s, m) in subjects.iter().zip(totals) {
                rows.push(row(s, c, m, cores, local));
            }
        }
    } else {
        for s in &subjects {
            for &c in &args.concurrency {
                run_level(s, c, args.warmup, None).await;
                let m = run_level(s, c, args.duration, Some(format!("{} c={c}", s.id))).await;
                rows.push(row(s, c, m, cores, local));
            }
        }
    }
    if args.client.json {
        output::print_json(&json!(rows.iter().map(Row::to_json).collect::<Vec<_>>()));
    } else if args.markdown {
        outln!("{}", markdown(&rows, cores, &subjects));
    } else {
        outln!(
            "{}",
            text_report(&rows, cores, local, args.compare.is_some())
        );
    }
    Ok(())
}

fn row(s: &Subject, concurrency: usize, measured: Measured, cores: usize, local: bool) -> Row {
    let client_bound = measured
        .client_cores()
        .is_some_and(|c| c >= 0.9 * cores as f64 || (local && c >= 0.5 * cores as f64));
    Row {
        function: s.id.clone(),
        concurrency,
        measured,
        client_bound,
    }
}

/// One run of `s` at `concurrency` for `duration`, with a progress line on a terminal when
/// `label` is given.
async fn run_level(
    s: &Subject,
    concurrency: usize,
    duration: Duration,
    label: Option<String>,
) -> Measured {
    let live = Arc::new(Live::default());
    let progress = label.filter(|_| std::io::IsTerminal::is_terminal(&std::io::stderr())).map(|label| {
        let live = live.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let secs = started.elapsed().as_secs_f64();
                let requests = live.requests.load(Ordering::Relaxed);
                let errors = live.errors.load(Ordering::Relaxed);
                eprint!(
                    "\r\x1b[2K{label}: {secs:.1}/{:.1} s, {requests} calls, {:.0}/s, {errors} errors",
                    duration.as_secs_f64(),
                    requests as f64 / secs.max(0.001)
                );
            }
        })
    });
    let measured = load::run(s.target.clone(), concurrency, duration, live).await;
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    measured
}

/// The function named on the command line (and `--compare`'s).
async fn explicit_subjects(args: &BenchArgs) -> Result<Vec<Subject>, CliError> {
    let client = Client::new(&args.client)?;
    let id = args
        .id
        .clone()
        .ok_or_else(|| CliError::usage("give the function id"))?;
    let mut ids = vec![id];
    ids.extend(args.compare.clone());
    let call = if args.http {
        let mut call = json!({"path": args.args.first().cloned().unwrap_or_else(|| "/".into())});
        if let Some(m) = &args.method {
            call["method"] = json!(m);
        }
        if let Some(d) = &args.data {
            call["body"] = json!(d);
        }
        call
    } else {
        let Some((method, positional)) = args.args.split_first() else {
            return Err(CliError::usage(
                "give the method to call: fdo bench ID METHOD [PARAMS...] (or --http ID [PATH])",
            ));
        };
        json!({"method": method, "params": params(positional, args.params.as_deref(), &args.param)?})
    };
    let mut subjects = Vec::new();
    for id in ids {
        subjects.push(subject(&client, &id, &call, args.http).await?);
    }
    Ok(subjects)
}

/// Every function of the manifest at `file` with a `call`, on `fdo up`'s host.
async fn file_subjects(args: &mut BenchArgs, file: &Path) -> Result<Vec<Subject>, CliError> {
    let specs = super::build::load(file, &[])?;
    let project = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let env_file = project.join(".fdo/env");
    let env = std::fs::read_to_string(&env_file).map_err(|_| {
        CliError::usage(format!(
            "{} not found: start the project's host with `fdo up` first",
            env_file.display()
        ))
    })?;
    for line in env.lines() {
        let Some((name, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('='))
        else {
            continue;
        };
        let value = value.trim_matches('\'').to_string();
        match name {
            "FDO_URL" => args.client.url = value,
            "FDO_API_KEY" => args.client.api_key = Some(value),
            _ => {}
        }
    }
    let client = Client::new(&args.client)?;
    let mut subjects = Vec::new();
    for spec in specs {
        let Some(call) = spec.call.clone() else {
            eprintln!("{}: no `call` in {}, skipped", spec.id, file.display());
            continue;
        };
        let http = call.get("path").is_some();
        subjects.push(subject(&client, &spec.id, &call, http).await?);
    }
    if subjects.is_empty() {
        return Err(CliError::usage(format!(
            "no function of {} has a `call` to benchmark",
            file.display()
        )));
    }
    Ok(subjects)
}

/// Looks function `id` up on the host and prepares its request from `call`.
async fn subject(client: &Client, id: &str, call: &Value, http: bool) -> Result<Subject, CliError> {
    let info = client
        .get(&format!("/v1/api/functions/{}", path_segment(id)))
        .await?;
    let url = reqwest::Url::parse(client.base()).map_err(|e| CliError::usage(e.to_string()))?;
    if url.scheme() != "http" {
        return Err(CliError::usage(
            "fdo bench speaks plain HTTP: benchmark the host on its http:// address",
        ));
    }
    let host = url
        .host_str()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| CliError::Unreachable {
            url: client.base().to_string(),
            reason: format!("cannot resolve {host}"),
        })?;
    let base_path = url.path().trim_end_matches('/');
    let mut headers = HeaderMap::new();
    if let Some(key) = client.api_key() {
        let value = HeaderValue::from_str(key)
            .map_err(|_| CliError::usage("the API key is not a valid header value"))?;
        headers.insert("x-api-key", value);
    }
    let (method, path, body, what) = if http {
        let path = call["path"].as_str().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let body = call["body"].as_str().unwrap_or_default().to_string();
        let method = call["method"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                if body.is_empty() {
                    "GET".into()
                } else {
                    "POST".into()
                }
            });
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| CliError::usage(format!("invalid HTTP method {method:?}")))?;
        let what = format!("{method} {path}");
        (
            method,
            format!("{base_path}/v1/functions/{}{path}", path_segment(id)),
            body,
            what,
        )
    } else {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body = json!({"method": call["method"], "params": call.get("params").cloned().unwrap_or(json!([]))}).to_string();
        let what = format!("POST {body}");
        (
            Method::POST,
            format!("{base_path}/v1/functions/{}", path_segment(id)),
            body,
            what,
        )
    };
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    Ok(Subject {
        id: id.to_string(),
        kind: info["kind"].as_str().unwrap_or("?").to_string(),
        version: info["version"].as_str().unwrap_or("?").to_string(),
        load: info,
        target: Arc::new(Target {
            addr,
            authority,
            method,
            path,
            headers,
            body: Bytes::from(body),
        }),
        what,
    })
}

/// How the host says it loaded the function.
fn describe_load(info: &Value) -> String {
    let ms = info["loadTimeMs"].as_f64();
    let from_cache = info["fromCache"].as_bool();
    let tier = info["loadTier"].as_str().map(str::to_string).or_else(|| {
        from_cache.map(|c| {
            if c {
                "a cache (memory or disk)".into()
            } else {
                "a fresh compile".into()
            }
        })
    });
    let mut text = match (tier, ms) {
        (Some(t), Some(ms)) => format!("loaded from {t} in {ms:.1} ms"),
        _ => "the host did not report how it loaded".into(),
    };
    if info["degraded"].as_bool() == Some(true) {
        let _ = write!(
            text,
            " (degraded: {})",
            info["degradationReason"].as_str().unwrap_or("?")
        );
    }
    text
}

/// The host's mean load time per tier, from `fdo_load_duration_seconds` in `/metrics`.
async fn host_tiers(client: &Client) -> Option<String> {
    let response = client
        .send(client.request(reqwest::Method::GET, "/metrics"))
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let text = response.text().await.ok()?;
    let value = |name: &str, tier: &str| -> Option<f64> {
        let prefix = format!("{name}{{tier=\"{tier}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
    };
    let mut parts = Vec::new();
    for tier in ["compile", "disk", "memory"] {
        let (Some(sum), Some(count)) = (
            value("fdo_load_duration_seconds_sum", tier),
            value("fdo_load_duration_seconds_count", tier),
        ) else {
            continue;
        };
        if count > 0.0 {
            parts.push(format!(
                "{tier} {:.2} ms ({count} loads)",
                sum / count * 1000.0
            ));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Whether the target is on this machine (then client and host share its CPUs).
fn is_local(target: &Target) -> bool {
    target.addr.ip().is_loopback()
}

fn text_report(rows: &[Row], cores: usize, local: bool, compare: bool) -> String {
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|r| r.function.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "{:width$}  {:>5}  {:>9}  {:>6}  {:>10}  {:>8}  {:>8}  {:>8}  {:>8}  {:>6}",
        "function",
        "conns",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "client"
    );
    for r in rows {
        let m = &r.measured;
        let cpu = m.client_cores().map_or("?".into(), |c| format!("{c:.2}"));
        let _ = writeln!(
            out,
            "{:width$}  {:>5}  {:>9}  {:>6}  {:>10.1}  {:>8.3}  {:>8.3}  {:>8.3}  {:>8.3}  {:>6}{}",
            r.function,
            r.concurrency,
            m.requests,
            m.errors,
            m.rps(),
            m.latency_ms(0.5),
            m.latency_ms(0.9),
            m.latency_ms(0.99),
            m.max_ms(),
            cpu,
            if r.client_bound { " *" } else { "" }
        );
    }
    let _ = write!(
        out,
        "(client: the CPU cores fdo bench itself used, of {cores}"
    );
    if local {
        out.push_str(", shared with the host on this machine");
    }
    out.push(')');
    if rows.iter().any(|r| r.client_bound) {
        let _ = write!(
            out,
            "\n* the client, not the host, was the bottleneck here: it used {} of the CPU; run \
             fdo bench on another machine, or with fewer connections, to measure the host",
            if local { "half or more" } else { "nearly all" }
        );
    }
    for r in rows.iter().filter(|r| r.measured.errors > 0) {
        if let Some(e) = &r.measured.first_error {
            let _ = write!(
                out,
                "\n{} at {} connections: {} errors, the first: {e}",
                r.function, r.concurrency, r.measured.errors
            );
        }
    }
    if compare {
        for pair in rows.chunks(2) {
            if let [a, b] = pair {
                let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
                let _ = write!(
                    out,
                    "\n{} / {} at {} connections: {:.2}x the requests per second, {:.2}x the p50 latency, {:.2}x the p99",
                    b.function,
                    a.function,
                    a.concurrency,
                    ratio(b.measured.rps(), a.measured.rps()),
                    ratio(b.measured.latency_ms(0.5), a.measured.latency_ms(0.5)),
                    ratio(b.measured.latency_ms(0.99), a.measured.latency_ms(0.99)),
                );
            }
        }
    }
    out
}

fn markdown(rows: &[Row], cores: usize, subjects: &[Subject]) -> String {
    let mut out = String::new();
    out.push_str("| function | version | connections | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let m = &r.measured;
        let version = m.version.clone().unwrap_or_else(|| {
            subjects
                .iter()
                .find(|s| s.id == r.function)
                .map_or("?".into(), |s| s.version.clone())
        });
        let _ = writeln!(
            out,
            "| {}{} | {version} | {} | {} | {} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.function,
            if r.client_bound {
                " (client-bound)"
            } else {
                ""
            },
            r.concurrency,
            m.requests,
            m.errors,
            m.rps(),
            m.latency_ms(0.5),
            m.latency_ms(0.9),
            m.latency_ms(0.99),
            m.max_ms(),
        );
    }
    let _ = write!(
        out,
        "\nMeasured by `fdo bench` {} with {cores} CPU cores.",
        std::env::consts::ARCH
    );
    out
}
