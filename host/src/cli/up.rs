//! `fdo up`: the project's functions built, deployed and served by a host running in this
//! process, on a data directory inside the project (`.fdo/data`), until Ctrl-C. Prints the URL,
//! the API key and a call example for each function, and writes them to `.fdo/env` for other
//! terminals (`source .fdo/env`).
//!
//! `--watch` rebuilds and redeploys a function when a file under its `dir` changes (bursts of
//! saves are debounced), as a new version each time: the manifest's version with a `-dev.N`
//! pre-release (`0.1.0-dev.3`), so `fdo rollback` works as with any deploy. A failed build or
//! deploy is printed and the previous version keeps serving.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use super::CliError;
use super::build::{self, Builder, BuiltFunction};
use super::manifest::{DEFAULT_MANIFEST, FunctionSpec};
use crate::functions::{FunctionHost, HostError};
use crate::model::Digest;

/// How long the watcher waits for a burst of saves to end before rebuilding.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The ready line tests and scripts wait for (the same as `fdo serve`'s).
const READY_PREFIX: &str = "fdo listening on ";

/// Arguments of `fdo up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The project manifest.
    #[arg(long, short = 'f', default_value = DEFAULT_MANIFEST)]
    pub file: PathBuf,
    /// Address the host listens on (port 0 picks a free one).
    #[arg(long, env = "FDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Rebuild and redeploy a function when its sources change.
    #[arg(long)]
    pub watch: bool,
    /// Only this function (repeatable).
    #[arg(long = "function", value_name = "ID")]
    pub only: Vec<String>,
    /// The host's data directory (default: `.fdo/data` in the project).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The API key (default: the project's, kept in `.fdo/api-key`).
    #[arg(long, env = "FDO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Runs `fdo up`.
pub async fn run(args: UpArgs) -> Result<(), CliError> {
    let specs = build::load(&args.file, &args.only)?;
    let builder = Builder::new(&args.file, false)?;
    let project = absolute(
        args.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let fdo_dir = project.join(".fdo");
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| fdo_dir.join("data"));
    let key = match &args.api_key {
        Some(key) => key.clone(),
        None => project_key(&fdo_dir).map_err(CliError::Other)?,
    };

    // Build everything first: a project that does not build does not start (unless watching,
    // where the next save may fix it).
    let mut built = Vec::new();
    for spec in &specs {
        match build_one(&builder, spec).await {
            Ok(function) => built.push((spec, function)),
            Err(e) if args.watch => {
                println!("{}: build failed (fix it and save):\n{e:#}", spec.id);
            }
            Err(e) => return Err(CliError::Other(e)),
        }
    }

    let host = start_host(args.listen, &data_dir, &key)
        .await
        .map_err(CliError::Other)?;
    let url = format!("http://{}", loopback(host.addr));
    let mut deployed = Vec::new();
    for (spec, function) in &built {
        match deploy(&host.functions, spec, &function.component).await {
            Ok(d) => deployed.push((*spec, d)),
            Err(e) if args.watch => {
                println!("{}: deploy failed (fix it and save):\n{e:#}", spec.id)
            }
            Err(e) => {
                host.stop().await;
                return Err(CliError::Other(e));
            }
        }
    }
    write_env(&fdo_dir, &url, &key).map_err(CliError::Other)?;

    println!("{READY_PREFIX}{url}");
    println!("API key: {key}");
    println!("Data:    {}", data_dir.display());
    println!(
        "Other terminals: source {}   (sets FDO_URL and FDO_API_KEY)",
        fdo_dir.join("env").display()
    );
    for (spec, d) in &deployed {
        println!();
        println!("{} {} ({})", spec.id, d.version, d.kind);
        for line in call_examples(spec, &d.kind, &url) {
            println!("  {line}");
        }
    }
    println!();
    if args.watch {
        println!("Watching for changes; Ctrl-C stops.");
    } else {
        println!("Ctrl-C stops.");
    }

    let watcher = if args.watch {
        Some(tokio::spawn(watch(
            specs.clone(),
            builder,
            host.functions.clone(),
        )))
    } else {
        None
    };
    let _ = shutdown_signal().await;
    println!("stopping");
    if let Some(w) = watcher {
        w.abort();
    }
    host.stop().await;
    Ok(())
}

/// Builds one function off the async runtime, printing progress.
async fn build_one(builder: &Builder, spec: &FunctionSpec) -> anyhow::Result<BuiltFunction> {
    println!("{}: building ({})", spec.id, builder.describe(spec));
    let (builder, spec) = (builder.clone(), spec.clone());
    let function = tokio::task::spawn_blocking(move || builder.build(&spec)).await??;
    println!("{}", build::summary(&function));
    Ok(function)
}

/// What a deploy did.
#[derive(Debug)]
struct Deployed {
    version: String,
    kind: String,
    /// False when the component was already deployed as `version` (now active again).
    created: bool,
}

// --- The host, in this process. Everything `fdo up` needs of the composition root and of
// --- the host facade is below, so their changes touch only this part.

/// A host serving on a port of this process.
struct Host {
    functions: Arc<FunctionHost>,
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Host {
    /// Stops accepting, lets in-flight requests finish, writes out the logs.
    async fn stop(self) {
        let _ = self.stop.send(());
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("error: the host stopped: {e:#}"),
            Err(e) => eprintln!("error: the host failed: {e}"),
        }
    }
}

/// Starts a host on `listen` with `data_dir` and the admin key `key`, rate limits off (one
/// developer's machine; `fdo bench` must not be throttled), otherwise `fdo serve`'s defaults
/// and `FDO_*` settings.
async fn start_host(listen: SocketAddr, data_dir: &Path, key: &str) -> anyhow::Result<Host> {
    use clap::{Args as _, FromArgMatches as _};
    let data = data_dir
        .to_str()
        .context("the data directory is not UTF-8")?;
    let listen_text = listen.to_string();
    let matches = crate::config::ServeConfig::augment_args(clap::Command::new("up"))
        .try_get_matches_from([
            "up",
            "--listen",
            &listen_text,
            "--data-dir",
            data,
            "--api-key",
            key,
            "--no-rate-limit",
        ])
        .context("configuring the host")?;
    let config = crate::config::ServeConfig::from_arg_matches(&matches)?;
    let app = crate::app::App::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (in use? pass --listen)"))?;
    let addr = listener.local_addr()?;
    let functions = app.host().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok(Host {
        functions,
        addr,
        stop,
        server,
    })
}

/// Deploys the component at `path` as `spec`'s function: the manifest's version when it is
/// new, the version that already has these exact bytes (made active again), or else the next
/// `-dev.N` version.
async fn deploy(
    functions: &FunctionHost,
    spec: &FunctionSpec,
    path: &Path,
) -> anyhow::Result<Deployed> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    let digest = Digest::of(&bytes);
    let (versions, active) = match functions.versions(&spec.id).await {
        Ok(v) => (v.versions, Some(v.record.active.version.clone())),
        Err(HostError::NotFound { .. }) => (Vec::new(), None),
        Err(e) => return Err(e.into()),
    };
    let base = spec.version();
    let family = |v: &str| v == base || dev_number(base, v).is_some();
    if let Some(same) = versions
        .iter()
        .filter(|v| family(&v.version) && v.component.digest == digest)
        .max_by_key(|v| dev_number(base, &v.version).unwrap_or(0))
    {
        let version = same.version.clone();
        if active.as_deref() != Some(version.as_str()) {
            functions.rollback(&spec.id, &version).await?;
        }
        let kind = functions.get(&spec.id).await?.kind().as_str().to_string();
        return Ok(Deployed {
            version,
            kind,
            created: false,
        });
    }
    let version = if versions.iter().any(|v| v.version == base) {
        let next = versions
            .iter()
            .filter_map(|v| dev_number(base, &v.version))
            .max()
            .unwrap_or(0)
            + 1;
        dev_version(base, next)?
    } else {
        base.to_string()
    };
    let mut metadata = spec.metadata.clone();
    metadata["version"] = json!(version);
    let metadata = crate::model::parse_deploy_metadata(&metadata)
        .map_err(|e| anyhow::anyhow!("{}: {e}", spec.id))?;
    let deployed = functions
        .deploy(metadata, bytes)
        .await
        .with_context(|| format!("deploying {} {version}", spec.id))?;
    Ok(Deployed {
        version,
        kind: deployed.kind.as_str().to_string(),
        created: deployed.created,
    })
}

/// The version `id` serves now, if it is deployed.
async fn serving(functions: &FunctionHost, id: &str) -> Option<String> {
    functions
        .get(id)
        .await
        .ok()
        .map(|a| a.served.version.clone())
}

// --- End of the host part.

/// `N` when `version` is `base` with the pre-release `dev.N` appended.
fn dev_number(base: &str, version: &str) -> Option<u64> {
    let separator = if base.contains('-') { '.' } else { '-' };
    version
        .strip_prefix(base)?
        .strip_prefix(separator)?
        .strip_prefix("dev.")?
        .parse()
        .ok()
}

/// `base` with the pre-release `dev.n` (`1.2.0-dev.3`, or `1.2.0-beta.dev.3` when `base` has
/// a pre-release already).
fn dev_version(base: &str, n: u64) -> anyhow::Result<String> {
    let parsed =
        semver::Version::parse(base).with_context(|| format!("version {base:?} is not semver"))?;
    if !parsed.build.is_empty() {
        anyhow::bail!("version {base:?} has build metadata: fdo up cannot make dev versions of it");
    }
    let separator = if parsed.pre.is_empty() { '-' } else { '.' };
    Ok(format!("{base}{separator}dev.{n}"))
}

/// How to call `spec`'s function: `fdo invoke` and `curl` lines from its `call` example.
fn call_examples(spec: &FunctionSpec, kind: &str, url: &str) -> Vec<String> {
    let id = &spec.id;
    let call = spec.call.clone().unwrap_or(Value::Null);
    // `wasi:http` handlers, and WASI commands deployed as CGI handlers.
    if kind == "http" || spec.metadata["interface"] == "http" {
        let path = call["path"].as_str().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        // A query string (`?`, `&`) is quoted for the shell; plain paths stay readable.
        let plain = |c: char| c.is_ascii_alphanumeric() || "/-_.~%".contains(c);
        let needs_quotes = !path.chars().all(plain);
        let quoted = |text: String| {
            if needs_quotes {
                shell_quote(&text)
            } else {
                text
            }
        };
        let mut curl = format!(
            "curl -H \"X-API-Key: $FDO_API_KEY\" {}",
            quoted(format!("{url}/v1/functions/{id}{path}"))
        );
        if let Some(method) = call["method"].as_str() {
            curl = format!("curl -X {method} {}", &curl[5..]);
        }
        if let Some(body) = call["body"].as_str() {
            curl.push_str(&format!(" -d {}", shell_quote(body)));
        }
        return vec![
            format!("fdo invoke --http {id} {}", quoted(path.clone())),
            curl,
        ];
    }
    let method = call["method"].as_str().unwrap_or("METHOD");
    let params = call.get("params").cloned().unwrap_or(json!([]));
    let body = json!({"method": method, "params": params}).to_string();
    vec![
        format!(
            "fdo invoke {id} {method} --params {}",
            shell_quote(&params.to_string())
        ),
        format!(
            "curl -H \"X-API-Key: $FDO_API_KEY\" -H 'Content-Type: application/json' -d {} {url}/v1/functions/{id}",
            shell_quote(&body)
        ),
    ]
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A host bound to every interface is called on loopback from here.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

/// The project's API key, in `.fdo/api-key` (made on first use, readable by its owner only).
fn project_key(fdo_dir: &Path) -> anyhow::Result<String> {
    let path = fdo_dir.join("api-key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim();
        if !key.is_empty() {
            return Ok(key.to_string());
        }
    }
    let key = format!("fdo_dev_{}", hex::encode(rand::random::<[u8; 24]>()));
    write_private(&path, &format!("{key}\n"))?;
    Ok(key)
}

/// `.fdo/env`: `FDO_URL` and `FDO_API_KEY` for `source`.
fn write_env(fdo_dir: &Path, url: &str, key: &str) -> anyhow::Result<()> {
    let text = format!(
        "# Written by `fdo up`: `source` this file to talk to its host.\nexport FDO_URL={}\nexport FDO_API_KEY={}\n",
        shell_quote(url),
        shell_quote(key)
    );
    write_private(&fdo_dir.join("env"), &text)
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

/// Rebuilds and redeploys functions whose sources change, until aborted.
async fn watch(specs: Vec<FunctionSpec>, builder: Builder, functions: Arc<FunctionHost>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let debouncer = notify_debouncer_mini::new_debouncer(
        DEBOUNCE,
        move |result: notify_debouncer_mini::DebounceEventResult| match result {
            Ok(events) => {
                let _ = tx.send(events.into_iter().map(|e| e.path).collect());
            }
            Err(e) => eprintln!("watch error: {e}"),
        },
    );
    let mut debouncer = match debouncer {
        Ok(d) => d,
        Err(e) => {
            println!("error: cannot watch the sources: {e}");
            return;
        }
    };
    let dirs: BTreeSet<PathBuf> = specs.iter().map(|s| absolute(&s.dir)).collect();
    for dir in &dirs {
        if let Err(e) = debouncer
            .watcher()
            .watch(dir, notify_debouncer_mini::notify::RecursiveMode::Recursive)
        {
            println!("error: cannot watch {}: {e}", dir.display());
        }
    }
    // What each function was last built from: events for files that were only read, or
    // rewritten unchanged, do not rebuild.
    let mut built_from: Vec<Option<u64>> =
        specs.iter().map(|s| build::source_digest(s).ok()).collect();
    while let Some(mut paths) = rx.recv().await {
        // Saves that arrived meanwhile join this round.
        while let Ok(more) = rx.try_recv() {
            paths.extend(more);
        }
        for (spec, last) in specs.iter().zip(&mut built_from) {
            let Some(changed) = paths.iter().find(|p| is_source_of(spec, p)) else {
                continue;
            };
            let digest = build::source_digest(spec).ok();
            if digest.is_some() && digest == *last {
                continue;
            }
            *last = digest;
            let dir = absolute(&spec.dir);
            println!(
                "{}: {} changed, rebuilding",
                spec.id,
                changed.strip_prefix(&dir).unwrap_or(changed).display()
            );
            let current = serving(&functions, &spec.id).await;
            let still = match &current {
                Some(v) => format!("{} {v} keeps serving", spec.id),
                None => format!("{} is not deployed", spec.id),
            };
            let function = match build_one(&builder, spec).await {
                Ok(f) => f,
                Err(e) => {
                    println!("{}: build failed; {still}:\n{e:#}", spec.id);
                    continue;
                }
            };
            match deploy(&functions, spec, &function.component).await {
                Ok(d) if d.created => println!("{} {} deployed ({})", spec.id, d.version, d.kind),
                Ok(d) => println!("{} {} is active (unchanged component)", spec.id, d.version),
                Err(e) => println!("{}: deploy failed; {still}:\n{e:#}", spec.id),
            }
        }
    }
    drop(debouncer);
}

/// Whether a change at `path` concerns `spec`: under its directory, not in an ignored place
/// (hidden, `target`, `node_modules`, `__pycache__`) and not its own output.
fn is_source_of(spec: &FunctionSpec, path: &Path) -> bool {
    let dir = absolute(&spec.dir).components().collect::<PathBuf>();
    let component = absolute(&spec.component).components().collect::<PathBuf>();
    let Ok(relative) = path.strip_prefix(&dir) else {
        return false;
    };
    if relative
        .components()
        .any(|c| fdo_guest_build::script::is_ignored(c.as_os_str()))
    {
        return false;
    }
    let output_dir = component.parent().filter(|p| *p != dir);
    !(path.starts_with(&component)
        || output_dir.is_some_and(|o| path.starts_with(o))
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(".partial")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_versions() {
        assert_eq!(dev_version("1.2.0", 3).unwrap(), "1.2.0-dev.3");
        assert_eq!(dev_version("1.2.0-beta", 1).unwrap(), "1.2.0-beta.dev.1");
        assert!(dev_version("1.2.0+build", 1).is_err());
        assert_eq!(dev_number("1.2.0", "1.2.0-dev.12"), Some(12));
        assert_eq!(dev_number("1.2.0", "1.2.0"), None);
        assert_eq!(dev_number("1.2.0", "1.2.01-dev.1"), None);
        assert_eq!(dev_number("1.2.0-beta", "1.2.0-beta.dev.2"), Some(2));
        // A dev version sorts after the one before it, so rollbacks and listings keep order.
        let a = semver::Version::parse("1.2.0-dev.9").unwrap();
        let b = semver::Version::parse("1.2.0-dev.10").unwrap();
        assert!(a < b);
    }

    #[test]
    fn call_examples_for_rpc_and_http() {
        let spec = |call: Value| FunctionSpec {
            id: "hello".into(),
            component: PathBuf::from("/p/build/hello.wasm"),
            metadata: json!({"language": "rust", "version": "0.1.0"}),
            dir: PathBuf::from("/p"),
            build: None,
            call: Some(call),
        };
        let rpc = call_examples(
            &spec(json!({"method": "hello", "params": ["it's"]})),
            "rpc",
            "http://h",
        );
        assert_eq!(rpc[0], r#"fdo invoke hello hello --params '["it'\''s"]'"#);
        assert!(
            rpc[1].ends_with("http://h/v1/functions/hello"),
            "{}",
            rpc[1]
        );
        let http = call_examples(
            &spec(json!({"path": "/echo", "method": "POST", "body": "{}"})),
            "http",
            "http://h",
        );
        assert_eq!(http[0], "fdo invoke --http hello /echo");
        assert_eq!(
            http[1],
            "curl -X POST -H \"X-API-Key: $FDO_API_KEY\" http://h/v1/functions/hello/echo -d '{}'"
        );
        // A WASI command deployed as a CGI handler is called over HTTP too.
        let mut cgi = spec(json!({"path": "/hello?name=Ada"}));
        cgi.metadata["interface"] = json!("http");
        let lines = call_examples(&cgi, "command", "http://h");
        assert_eq!(lines[0], "fdo invoke --http hello '/hello?name=Ada'");
        assert!(
            lines[1].ends_with(" 'http://h/v1/functions/hello/hello?name=Ada'"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn only_sources_trigger_rebuilds() {
        let spec = FunctionSpec {
            id: "hello".into(),
            component: PathBuf::from("/p/build/hello.wasm"),
            metadata: json!({}),
            dir: PathBuf::from("/p"),
            build: None,
            call: None,
        };
        assert!(is_source_of(&spec, Path::new("/p/src/lib.rs")));
        assert!(is_source_of(&spec, Path::new("/p/Cargo.toml")));
        for ignored in [
            "/p/build/hello.wasm",
            "/p/.fdo/data/db",
            "/p/target/x",
            "/p/__pycache__/a.pyc",
            "/q/src/lib.rs",
            "/p/.git/index",
        ] {
            assert!(!is_source_of(&spec, Path::new(ignored)), "{ignored}");
        }
    }
}
