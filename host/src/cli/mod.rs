//! The `fdo` command line beyond `serve`: a client of a running host over its HTTP API
//! (`deploy`, `invoke`, `list`, `info`, `versions`, `logs`, `rollback`, `delete`, `keys`,
//! `bench`), and the authoring loop on a project (`new`, `build`, `up`).
//!
//! Every client command takes `--url` (`FDO_URL`, default [`DEFAULT_URL`]), `--api-key`
//! (`FDO_API_KEY`) and `--json`. Output is for people by default and JSON with `--json`;
//! failures print the API's error message on stderr and exit with a code from [`exit`].
//! `fdo keys` is the one command that can also work without a host: with `--data-dir` it
//! manages the keys of a data directory directly.

/// `println!` for command output: when stdout is gone (`fdo logs -f | head`), the command ends
/// quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_line(format_args!($($arg)*))
    };
}

pub mod access;
pub mod bench;
pub mod build;
pub mod client;
pub mod deploy;
mod embedded;
pub mod functions;
pub mod invoke;
pub mod keys;
pub mod logs;
pub mod manifest;
pub mod new;
mod output;
mod progress;
pub mod up;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

pub use client::Client;

/// The host a client command talks to when neither `--url` nor `FDO_URL` says.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Exit codes of client commands.
pub mod exit {
    /// The host answered with an error (its message is printed), or an invocation failed.
    pub const API_ERROR: u8 = 1;
    /// Bad arguments or local input (a missing file, an invalid manifest). clap uses 2 for
    /// usage errors too.
    pub const USAGE: u8 = 2;
    /// The host could not be reached (connection refused, timeout, TLS failure).
    pub const UNREACHABLE: u8 = 3;
}

/// Options shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct ClientOpts {
    /// URL of the fdo host.
    #[arg(long, env = "FDO_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// API key sent as `X-API-Key`.
    #[arg(long, env = "FDO_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print JSON (the API's answers) instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Deploy a component file, or every function of a project manifest (fdo.toml).
    Deploy(deploy::DeployArgs),
    /// Call a function: `invoke ID METHOD [PARAMS...]`, or `invoke --http ID [PATH]`.
    Invoke(invoke::InvokeArgs),
    /// List deployed functions.
    List(functions::ListArgs),
    /// Show a function: metadata, how it was loaded, its exports.
    Info(functions::InfoArgs),
    /// Show every version of a function and its deployment history.
    Versions(functions::InfoArgs),
    /// Show a function's logs (oldest first), or follow them.
    Logs(logs::LogsArgs),
    /// Make an earlier version active again.
    Rollback(functions::RollbackArgs),
    /// Delete a function with all its versions, history and logs.
    Delete(functions::DeleteArgs),
    /// Manage API keys: over HTTP, or directly in a data directory (`--data-dir`) or a
    /// PostgreSQL database (`--database`).
    Keys(keys::KeysArgs),
    /// Create a project from a template: `new TEMPLATE NAME` (`new --list` shows them).
    New(new::NewArgs),
    /// Build the components of a project's functions (fdo.toml).
    Build(build::BuildArgs),
    /// Build, deploy and serve a project on a local host (`--watch`: redeploy on changes).
    Up(up::UpArgs),
    /// Benchmark a deployed function: load tiers, then calls at several concurrency levels.
    Bench(bench::BenchArgs),
    /// Issue invocation tokens.
    Tokens(access::TokensArgs),
    /// Manage namespaces: groups of functions sharing env, secrets and a token key.
    Namespaces(access::NamespacesArgs),
}

/// Why a client command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The host answered with an error status.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's error code (`NOT_FOUND`, `VALIDATION_ERROR`, ...).
        code: String,
        /// The API's message.
        message: String,
        /// The whole error body.
        body: Value,
    },
    /// No answer from the host.
    #[error("cannot reach the fdo host at {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// Bad arguments or local input.
    #[error("{0}")]
    Usage(String),
    /// Anything else (an unexpected answer, an I/O failure).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    /// A usage error with `message`.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Api { .. } | CliError::Other(_) => exit::API_ERROR,
            CliError::Unreachable { .. } => exit::UNREACHABLE,
            CliError::Usage(_) => exit::USAGE,
        }
    }
}

/// Runs a client command: prints its output, or the error, and returns the exit code.
pub async fn run(command: ClientCommand) -> ExitCode {
    let json = match &command {
        ClientCommand::Deploy(a) => a.client.json,
        ClientCommand::Invoke(a) => a.client.json,
        ClientCommand::List(a) => a.client.json,
        ClientCommand::Info(a) | ClientCommand::Versions(a) => a.client.json,
        ClientCommand::Logs(a) => a.client.json,
        ClientCommand::Rollback(a) => a.client.json,
        ClientCommand::Delete(a) => a.client.json,
        ClientCommand::Keys(a) => a.client.json,
        ClientCommand::New(a) => a.json,
        ClientCommand::Build(a) => a.json,
        ClientCommand::Up(_) => false,
        ClientCommand::Bench(a) => a.client.json,
        ClientCommand::Tokens(a) => a.client.json,
        ClientCommand::Namespaces(a) => a.client.json,
    };
    let result = match command {
        ClientCommand::Deploy(a) => deploy::run(a).await,
        ClientCommand::Invoke(a) => invoke::run(a).await,
        ClientCommand::List(a) => functions::list(a).await,
        ClientCommand::Info(a) => functions::info(a).await,
        ClientCommand::Versions(a) => functions::versions(a).await,
        ClientCommand::Logs(a) => logs::run(a).await,
        ClientCommand::Rollback(a) => functions::rollback(a).await,
        ClientCommand::Delete(a) => functions::delete(a).await,
        ClientCommand::Keys(a) => keys::run(a).await,
        ClientCommand::New(a) => new::run(a).await,
        ClientCommand::Build(a) => build::run(a).await,
        ClientCommand::Up(a) => up::run(a).await,
        ClientCommand::Bench(a) => bench::run(a).await,
        ClientCommand::Tokens(a) => access::tokens(a).await,
        ClientCommand::Namespaces(a) => access::namespaces(a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints `e` on stderr (and, with `--json`, the API's error body on stdout).
fn report(e: &CliError, json: bool) {
    if json && let CliError::Api { body, .. } = e {
        output::print_json(body);
    }
    eprintln!("error: {e:#}");
    if let CliError::Api { status: 401, .. } = e {
        eprintln!("hint: pass the key with --api-key or FDO_API_KEY");
    }
}
