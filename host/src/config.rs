//! The host's configuration: one struct, from flags, environment variables and a config file.
//!
//! Precedence, highest first: a command-line flag, its environment variable (`FDO_*`), the
//! config file (`--config` / `FDO_CONFIG`, TOML with the flags' names as keys), the default
//! named here. [`ServeConfig::apply_file`] does the file layer: clap has already resolved
//! flags, environment and defaults, and reports which one each value came from.
//!
//! ```toml
//! # fdo-host.toml
//! listen = "0.0.0.0:8080"
//! data-dir = "/var/lib/fdo"        # relative paths are relative to this file
//! rate-limit-ip = 300
//! queue-timeout = "500ms"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::engine::{DEFAULT_MAX_INSTANCES, EngineConfig};

/// Default address the API listens on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory (database, component blobs, compiled-code cache).
pub const DEFAULT_DATA_DIR: &str = ".fdo";
/// Default largest accepted request body, in MiB (a base64 deploy of an 18 MB Python
/// component is ~24 MB).
pub const DEFAULT_MAX_UPLOAD_MB: u64 = 64;
/// Default requests per client IP per window.
pub const DEFAULT_RATE_LIMIT_IP: u32 = 100;
/// Default invocations per function per window.
pub const DEFAULT_RATE_LIMIT_FUNCTION: u32 = 1000;
/// Default log entries kept per function.
pub const DEFAULT_LOG_RETENTION: u32 = 1000;
/// Default memory budget of the compiled-code cache, in MiB.
pub const DEFAULT_CACHE_MEMORY_MB: u64 = 512;
/// Default time an invocation waits for a free instance before it is refused as busy.
pub const DEFAULT_QUEUE_TIMEOUT: &str = "2s";
/// Default time in-flight calls get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: &str = "10s";

/// How the host writes its own logs (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// `fdo serve`: run the host.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Read settings from this TOML file (keys are the flag names: `listen`, `data-dir`, ...).
    /// Flags and environment variables override it.
    #[arg(long, env = "FDO_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration (flags, environment, file, defaults) as TOML and exit.
    #[arg(long)]
    pub print_config: bool,

    /// Address to listen on.
    #[arg(long, env = "FDO_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Directory for the database, component blobs and the compiled-code cache.
    #[arg(long, env = "FDO_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Keep everything in this PostgreSQL database (`postgres://USER[:PASSWORD]@HOST:PORT/DB`),
    /// shared with other hosts, instead of SQLite in the data directory (which then holds only
    /// the compiled-code cache).
    #[arg(long, env = "FDO_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,

    /// An API key that is always valid (in addition to keys in the database).
    #[arg(long, env = "FDO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Largest accepted request body, in MiB (deploys past it get 413).
    #[arg(long, env = "FDO_MAX_UPLOAD_MB", default_value_t = DEFAULT_MAX_UPLOAD_MB)]
    pub max_upload_mb: u64,

    /// Requests per client IP per 60 s window (0 turns the limit off).
    #[arg(long, env = "FDO_RATE_LIMIT_IP", default_value_t = DEFAULT_RATE_LIMIT_IP)]
    pub rate_limit_ip: u32,

    /// Invocations per function per 60 s window (0 turns the limit off).
    #[arg(long, env = "FDO_RATE_LIMIT_FUNCTION", default_value_t = DEFAULT_RATE_LIMIT_FUNCTION)]
    pub rate_limit_function: u32,

    /// Turn every rate limit off (benchmarks, trusted networks).
    #[arg(long, env = "FDO_NO_RATE_LIMIT")]
    pub no_rate_limit: bool,

    /// Log entries kept per function (oldest dropped first).
    #[arg(long, env = "FDO_LOG_RETENTION", default_value_t = DEFAULT_LOG_RETENTION)]
    pub log_retention: u32,

    /// Memory budget of the compiled-code cache, in MiB.
    #[arg(long, env = "FDO_CACHE_MEMORY_MB", default_value_t = DEFAULT_CACHE_MEMORY_MB)]
    pub cache_memory_mb: u64,

    /// Instances running at once, host-wide (sizes the pooling allocator).
    #[arg(long, env = "FDO_MAX_INSTANCES", default_value_t = DEFAULT_MAX_INSTANCES)]
    pub max_instances: u32,

    /// How long an invocation waits for a free instance before it is refused as busy.
    #[arg(long, env = "FDO_QUEUE_TIMEOUT", default_value = DEFAULT_QUEUE_TIMEOUT, value_parser = humantime::parse_duration)]
    pub queue_timeout: Duration,

    /// How long in-flight calls may run after SIGTERM/SIGINT before the host exits.
    #[arg(long, env = "FDO_SHUTDOWN_GRACE", default_value = DEFAULT_SHUTDOWN_GRACE, value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Use on-demand instance allocation instead of the pooling allocator.
    #[arg(long, env = "FDO_NO_POOLING")]
    pub no_pooling: bool,

    /// Deploy every component file in this directory at start (`NAME.wasm` as function
    /// `NAME`, version 0.1.0 unless already deployed).
    #[arg(long, env = "FDO_DEPLOY_DIR")]
    pub deploy_dir: Option<PathBuf>,

    /// Format of the host's own log lines on stderr (`RUST_LOG` sets the levels).
    #[arg(long, env = "FDO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The config file: every [`ServeConfig`] setting, each optional, named like its flag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir` (relative to the file's directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// `--api-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `--max-upload-mb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_upload_mb: Option<u64>,
    /// `--rate-limit-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_ip: Option<u32>,
    /// `--rate-limit-function`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_function: Option<u32>,
    /// `--no-rate-limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_rate_limit: Option<bool>,
    /// `--log-retention`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_retention: Option<u32>,
    /// `--cache-memory-mb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_memory_mb: Option<u64>,
    /// `--max-instances`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// `--queue-timeout`, with a unit (`"2s"`, `"500ms"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_timeout: Option<String>,
    /// `--shutdown-grace`, with a unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<String>,
    /// `--no-pooling`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_pooling: Option<bool>,
    /// `--deploy-dir` (relative to the file's directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_dir: Option<PathBuf>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl FileConfig {
    /// Parses a config file's text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let mut file: FileConfig = toml::from_str(text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        for dir in [&mut file.data_dir, &mut file.deploy_dir]
            .into_iter()
            .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(file)
    }

    /// Reads and parses the config file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::parse(&text, path)
    }
}

/// A database URL with its password (if any) replaced by `***`, for printing.
fn redact_password(url: &str) -> String {
    // postgres://user:password@host...: the password is between the first ':' after the
    // scheme and the last '@' of the authority.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

fn parse_duration(key: &str, text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text).with_context(|| {
        format!("config file: invalid {key} {text:?} (expected e.g. \"2s\", \"500ms\")")
    })
}

impl ServeConfig {
    /// A configuration with every default, on `data_dir` (tests and benchmarks start here).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            config: None,
            print_config: false,
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: data_dir.into(),
            database: None,
            api_key: None,
            max_upload_mb: DEFAULT_MAX_UPLOAD_MB,
            rate_limit_ip: DEFAULT_RATE_LIMIT_IP,
            rate_limit_function: DEFAULT_RATE_LIMIT_FUNCTION,
            no_rate_limit: false,
            log_retention: DEFAULT_LOG_RETENTION,
            cache_memory_mb: DEFAULT_CACHE_MEMORY_MB,
            max_instances: DEFAULT_MAX_INSTANCES,
            queue_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            no_pooling: false,
            deploy_dir: None,
            log_format: LogFormat::Text,
        }
    }

    /// Reads the file named by `--config`/`FDO_CONFIG`, if any, and applies it under the flags
    /// and environment variables recorded in `matches` (the `serve` subcommand's matches).
    pub fn load_file(&mut self, matches: &ArgMatches) -> anyhow::Result<()> {
        if let Some(path) = self.config.clone() {
            let file = FileConfig::read(&path)?;
            self.apply_file(file, matches)?;
        }
        Ok(())
    }

    /// Takes each setting of `file` that was given neither as a flag nor as an environment
    /// variable (according to `matches`).
    pub fn apply_file(&mut self, file: FileConfig, matches: &ArgMatches) -> anyhow::Result<()> {
        // Only a value that came from clap's default may be replaced by the file's.
        let from_default = |id: &str| {
            !matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field && from_default(stringify!($field)) {
                    self.$field = v.into();
                }
            )*};
        }
        take!(
            listen,
            data_dir,
            max_upload_mb,
            rate_limit_ip,
            rate_limit_function,
            no_rate_limit,
            log_retention,
            cache_memory_mb,
            max_instances,
            no_pooling,
            log_format
        );
        if let Some(v) = file.api_key
            && from_default("api_key")
        {
            self.api_key = Some(v);
        }
        if let Some(v) = file.database
            && from_default("database")
        {
            self.database = Some(v);
        }
        if let Some(v) = file.deploy_dir
            && from_default("deploy_dir")
        {
            self.deploy_dir = Some(v);
        }
        if let Some(v) = file.queue_timeout
            && from_default("queue_timeout")
        {
            self.queue_timeout = parse_duration("queue-timeout", &v)?;
        }
        if let Some(v) = file.shutdown_grace
            && from_default("shutdown_grace")
        {
            self.shutdown_grace = parse_duration("shutdown-grace", &v)?;
        }
        Ok(())
    }

    /// The effective settings in the config file's format, the API key left out.
    pub fn to_file(&self) -> FileConfig {
        FileConfig {
            listen: Some(self.listen),
            data_dir: Some(self.data_dir.clone()),
            database: self.database.as_deref().map(redact_password),
            api_key: None,
            max_upload_mb: Some(self.max_upload_mb),
            rate_limit_ip: Some(self.rate_limit_ip),
            rate_limit_function: Some(self.rate_limit_function),
            no_rate_limit: Some(self.no_rate_limit),
            log_retention: Some(self.log_retention),
            cache_memory_mb: Some(self.cache_memory_mb),
            max_instances: Some(self.max_instances),
            queue_timeout: Some(humantime::format_duration(self.queue_timeout).to_string()),
            shutdown_grace: Some(humantime::format_duration(self.shutdown_grace).to_string()),
            no_pooling: Some(self.no_pooling),
            deploy_dir: self.deploy_dir.clone(),
            log_format: Some(self.log_format),
        }
    }

    /// The effective configuration as TOML (`fdo serve --print-config`); the API key is only
    /// said to be set.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = toml::to_string(&self.to_file()).context("rendering the configuration")?;
        if self.api_key.is_some() {
            out.push_str("# api-key is set (not shown)\n");
        }
        Ok(out)
    }

    /// The engine settings this configuration implies.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            max_instances: self.max_instances,
            pooling: !self.no_pooling,
            ..EngineConfig::default()
        }
    }

    /// Where the compiled-code cache lives.
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }

    /// Rejects combinations that cannot work, before anything is bound or opened.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_upload_mb > 0, "--max-upload-mb must be at least 1");
        anyhow::ensure!(self.max_instances > 0, "--max-instances must be at least 1");
        anyhow::ensure!(
            self.cache_memory_mb > 0,
            "--cache-memory-mb must be at least 1"
        );
        if let Some(key) = &self.api_key {
            anyhow::ensure!(
                key.len() >= 16,
                "FDO_API_KEY must be at least 16 characters"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    /// Parses `args` (no environment involved: the `FDO_*` variables these tests would read
    /// are not set in the test process) and applies `file`.
    fn resolve(args: &[&str], file: &str) -> anyhow::Result<ServeConfig> {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("fdo").chain(args.iter().copied()))?;
        let mut config = Cli::from_arg_matches(&matches)?.serve;
        config.apply_file(
            FileConfig::parse(file, Path::new("/etc/fdo/fdo-host.toml"))?,
            &matches,
        )?;
        Ok(config)
    }

    #[test]
    fn file_fills_what_flags_do_not_set() {
        let file = r#"
            listen = "0.0.0.0:9000"
            data-dir = "data"
            rate-limit-ip = 7
            queue-timeout = "250ms"
            no-pooling = true
            log-format = "json"
        "#;
        let c = resolve(
            &["--listen", "127.0.0.1:7000", "--rate-limit-ip", "100"],
            file,
        )
        .unwrap();
        // Flags win, even when they equal the default.
        assert_eq!(c.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.rate_limit_ip, 100);
        // The file wins over defaults; relative paths hang off the file's directory.
        assert_eq!(c.data_dir, PathBuf::from("/etc/fdo/data"));
        assert_eq!(c.queue_timeout, Duration::from_millis(250));
        assert!(c.no_pooling);
        assert_eq!(c.log_format, LogFormat::Json);
        // Untouched settings keep their defaults.
        assert_eq!(c.max_upload_mb, DEFAULT_MAX_UPLOAD_MB);
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn empty_file_keeps_defaults() {
        let c = resolve(&[], "").unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.rate_limit_function, DEFAULT_RATE_LIMIT_FUNCTION);
    }

    #[test]
    fn bad_files_are_refused_with_the_key() {
        let err = resolve(&[], "listn = \"127.0.0.1:1\"").unwrap_err();
        assert!(format!("{err:#}").contains("listn"), "{err:#}");
        let err = resolve(&[], "queue-timeout = \"soon\"").unwrap_err();
        assert!(format!("{err:#}").contains("queue-timeout"), "{err:#}");
        let err = resolve(&[], "rate-limit-ip = \"many\"").unwrap_err();
        assert!(format!("{err:#}").contains("rate-limit-ip"), "{err:#}");
    }

    #[test]
    fn rendered_config_reads_back() {
        let c = resolve(
            &[
                "--queue-timeout",
                "3s",
                "--api-key",
                "a-long-enough-secret-key",
            ],
            "deploy-dir = \"x\"",
        )
        .unwrap();
        let text = c.render().unwrap();
        assert!(!text.contains("a-long-enough-secret-key"), "{text}");
        assert!(text.contains("# api-key is set"), "{text}");
        let back = FileConfig::parse(&text, Path::new("/")).unwrap();
        assert_eq!(back.queue_timeout.as_deref(), Some("3s"));
        assert_eq!(back.deploy_dir, Some(PathBuf::from("/etc/fdo/x")));
    }

    #[test]
    fn the_database_comes_from_the_flag_or_the_file_and_prints_without_its_password() {
        let c = resolve(
            &[],
            "database = \"postgres://fdo:s3cret@db.internal:5432/fdo\"",
        )
        .unwrap();
        assert_eq!(
            c.database.as_deref(),
            Some("postgres://fdo:s3cret@db.internal:5432/fdo")
        );
        let text = c.render().unwrap();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("postgres://fdo:***@db.internal:5432/fdo"),
            "{text}"
        );
        let c = resolve(
            &["--database", "postgres://fdo@127.0.0.1:5433/other"],
            "database = \"postgres://fdo@db.internal/fdo\"",
        )
        .unwrap();
        assert_eq!(
            c.database.as_deref(),
            Some("postgres://fdo@127.0.0.1:5433/other")
        );
        assert!(
            c.render()
                .unwrap()
                .contains("postgres://fdo@127.0.0.1:5433/other")
        );
        assert!(resolve(&[], "").unwrap().database.is_none());
    }
}
