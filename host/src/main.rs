//! The `fdo` binary: `fdo serve` runs the host; the other subcommands are clients of a running
//! host (`deploy`, `invoke`, `logs`, ...) and `keys` (over HTTP, or on a data directory).

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use fdo::config::{LogFormat, ServeConfig};
use tracing_subscriber::EnvFilter;

/// Every call allocates and frees a few hundred small objects (the request, the store, WASI
/// contexts, log entries) across worker threads; glibc's malloc spent ~17 % of the
/// instructions of an RPC call (callgrind, benches/RESULTS.md), mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lets mimalloc back its arenas with transparent huge pages (`madvise(MADV_HUGEPAGE)`): fewer
/// TLB misses for the heap every call allocates from, 3 to 5 % more RPC calls per second on
/// the benchmark machine, and no more resident memory (benches/RESULTS.md). An explicit
/// `MIMALLOC_ALLOW_LARGE_OS_PAGES` in the environment wins (mimalloc reads it itself).
fn allow_large_os_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_LARGE_OS_PAGES").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: sets one of mimalloc's global options (an atomic store inside mimalloc); it
        // takes effect for the OS memory mimalloc reserves from now on and has no other
        // precondition.
        unsafe {
            libmimalloc_sys::mi_option_set_enabled(libmimalloc_sys::mi_option_large_os_pages, true);
        }
    }
}

/// Log levels when `RUST_LOG` is not set.
const DEFAULT_LOG_FILTER: &str = "info,wasmtime=warn,cranelift=warn";

/// fdo: a WebAssembly edge host speaking the Functions.do API.
#[derive(Debug, Parser)]
#[command(name = "fdo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host.
    Serve(ServeConfig),
    #[command(flatten)]
    Client(fdo::cli::ClientCommand),
}

fn main() -> ExitCode {
    allow_large_os_pages();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(mut config) => {
            if let Some(serve) = matches.subcommand_matches("serve")
                && let Err(e) = config.load_file(serve)
            {
                eprintln!("error: {e:#}");
                return ExitCode::from(fdo::cli::exit::USAGE);
            }
            if config.print_config {
                return match config.render() {
                    Ok(text) => {
                        print!("{text}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                };
            }
            init_tracing(config.log_format);
            match runtime.block_on(serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "fdo stopped");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Client(command) => {
            init_tracing(LogFormat::Text);
            runtime.block_on(fdo::cli::run(command))
        }
    }
}

/// Host logs on stderr; `RUST_LOG` sets the levels.
fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colours only for a person at a terminal (and not when NO_COLOR is set).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

/// Checks the configuration and opens everything (storage, engine, cache, keys) before the
/// port is bound: a host that cannot run never takes its address. Then serves until a signal.
async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    config.check()?;
    let listen = config.listen;
    let app = fdo::app::App::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    // Signals are caught from here on (before, the default action ends the process, and
    // nothing is in flight yet).
    let shutdown = shutdown_signal()?;
    // Tests and scripts wait for this line: print it only when the host answers requests.
    println!("fdo listening on http://{addr}");
    tracing::info!(%addr, "listening");
    app.serve(listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM; the handlers are installed when this returns.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(
                signal = name,
                "shutting down: no new connections, finishing in-flight requests"
            );
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
        })
    }
}
