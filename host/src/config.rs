//! The host's configuration: one struct, from flags with environment fallbacks.
//!
//! Precedence: command-line flag, then environment variable, then the default named here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

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

/// `fdo serve`: run the host.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "FDO_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Directory for the database, component blobs and the compiled-code cache.
    #[arg(long, env = "FDO_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

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
    /// `NAME`, version 0.1.0 unless already deployed); used by the quickstart.
    #[arg(long, env = "FDO_DEPLOY_DIR")]
    pub deploy_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// A configuration with every default, on `data_dir` (tests and benchmarks start here).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: data_dir.into(),
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
        }
    }

    /// The engine settings this configuration implies.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig { max_instances: self.max_instances, pooling: !self.no_pooling, ..EngineConfig::default() }
    }

    /// Where the compiled-code cache lives.
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }

    /// Rejects combinations that cannot work, before anything is bound or opened.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_upload_mb > 0, "--max-upload-mb must be at least 1");
        anyhow::ensure!(self.max_instances > 0, "--max-instances must be at least 1");
        anyhow::ensure!(self.cache_memory_mb > 0, "--cache-memory-mb must be at least 1");
        if let Some(key) = &self.api_key {
            anyhow::ensure!(key.len() >= 16, "FDO_API_KEY must be at least 16 characters");
        }
        Ok(())
    }
}
