//! The composition root: everything `fdo serve` runs, built from its configuration.
//!
//! [`App::open`] checks the configuration, opens the registry (SQLite in the data directory, or
//! PostgreSQL with `--database`),
//! starts the engine, the runtime and the loader, wires metrics (loads through the loader's
//! observer, calls through the host's call observers), builds the [`FunctionHost`] and the
//! HTTP server's state, creates an admin key on a first start, warms the cache and deploys
//! `--deploy-dir`. Nothing is bound yet: `main.rs` binds the listener only once this
//! succeeded, and [`App::serve`] runs the server on it. Tests do the same on port 0.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::engine::EngineHandle;
use crate::functions::observe::{CallObserver, TraceCalls};
use crate::functions::{FunctionHost, HostOptions};
use crate::loader::{LoadResult, Loader};
use crate::metrics::Metrics;
use crate::registry::{LogWriterConfig, Store};
use crate::runtime::Runtime;
use crate::server::ratelimit::{Clock, SystemClock};
use crate::server::{self, AppState};
use crate::stats::CallHistory;

/// A host ready to serve.
pub struct App {
    state: Arc<AppState>,
    loader: Arc<Loader>,
}

impl App {
    /// Builds the host `config` describes (see the module documentation).
    pub async fn open(config: ServeConfig) -> anyhow::Result<Self> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`App::open`] with the rate limiters on `clock` (tests move time by hand).
    pub async fn open_with_clock(
        config: ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        config.check()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let store = Store::of(config.database.as_deref(), &config.data_dir);
        let registry = store
            .open(LogWriterConfig {
                retention: config.log_retention.max(1) as usize,
                ..LogWriterConfig::default()
            })
            .await
            .with_context(|| format!("opening the registry in {store}"))?;
        let engine = EngineHandle::new(config.engine())?;
        let runtime = Arc::new(Runtime::new(engine, config.queue_timeout)?);
        let loader = Arc::new(Loader::new(
            runtime,
            Some(&config.cache_dir()),
            config.cache_memory_mb << 20,
        ));
        let metrics = Arc::new(Metrics::new());
        let observed = metrics.clone();
        loader.set_observer(Arc::new(move |r: &LoadResult| {
            observed.load(r.tier.as_str(), r.load_time_ms / 1000.0, r.degraded);
        }));
        let stats = Arc::new(CallHistory::new());
        let observers: Vec<Arc<dyn CallObserver>> =
            vec![metrics.clone(), stats.clone(), Arc::new(TraceCalls)];
        let host = Arc::new(FunctionHost::new(
            registry,
            loader.clone(),
            HostOptions {
                api_key: config.api_key.clone(),
            },
            observers,
        ));
        host.follow_changes();

        if let Some(created) = host.ensure_admin_key().await? {
            println!(
                "Created an admin API key (shown once, keep it): {}",
                created.key
            );
        }
        let warmed = host.warm().await;
        tracing::info!(functions = warmed, "cache warmed");
        if let Some(dir) = &config.deploy_dir {
            crate::deploy_dir::deploy_dir(&host, dir).await?;
        }

        let state = Arc::new(AppState::new(config, host, metrics, stats, clock));
        Ok(Self { state, loader })
    }

    /// The functions of this host.
    pub fn host(&self) -> &Arc<FunctionHost> {
        &self.state.host
    }

    /// The HTTP server's shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The compiled-code cache (tests and benchmarks look at its tiers).
    pub fn loader(&self) -> &Arc<Loader> {
        &self.loader
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish
    /// for up to the configured grace period and writes out the queued logs.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let result = server::serve(self.state.clone(), listener, shutdown).await;
        if let Err(e) = self.state.host.flush_logs().await {
            tracing::error!(error = %e, "flushing logs at shutdown failed");
        }
        result
    }
}
