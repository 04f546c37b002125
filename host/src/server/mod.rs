//! The HTTP API: the Functions.do routes (versioned and legacy), auth, rate limits, JSON
//! errors, and the invoke paths into the runtime.
//!
//! [`App::build`] opens storage and starts the engine; [`App::serve`] takes a bound listener
//! and a shutdown future, so tests run the real server on port 0 and stop it when they like.

mod api;
mod auth;
mod body;
pub mod error;
mod extract;
mod front;
mod invoke;
pub mod openapi;
pub mod ratelimit;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::{IncomingStream, ListenerExt as _};
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::functions::FunctionHost;
use crate::loader::Loader;
use crate::metrics::Metrics;
use crate::registry::{LogWriterConfig, Registry, SqliteOptions, SqliteRegistry};
use crate::runtime::Runtime;
use auth::KeyCache;
use error::ApiError;
use ratelimit::{Clock, RateLimiter, SystemClock};

/// What every handler shares.
pub struct AppState {
    /// The configuration the host runs with.
    pub config: ServeConfig,
    /// Functions: registry + loader + runtime.
    pub host: Arc<FunctionHost>,
    /// Requests per client IP.
    pub ip_limiter: RateLimiter,
    /// Invocations per function.
    pub function_limiter: RateLimiter,
    /// Verified keys, briefly.
    pub keys: KeyCache,
    /// Prometheus families (shared with the loader, which reports every load).
    pub metrics: Arc<Metrics>,
}

/// A built host, ready to serve.
pub struct App {
    state: Arc<AppState>,
}

impl App {
    /// Opens the data directory, starts the engine, warms the cache, and (on a first start
    /// without `FDO_API_KEY`) creates and prints an admin key.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with the rate limiters on `clock` (tests move time by hand).
    pub async fn build_with_clock(
        config: ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        config.check()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let registry: Arc<dyn Registry> = Arc::new(
            SqliteRegistry::open_with(
                &config.data_dir,
                SqliteOptions {
                    logs: LogWriterConfig {
                        retention: config.log_retention.max(1) as usize,
                        ..LogWriterConfig::default()
                    },
                    ..SqliteOptions::default()
                },
            )
            .with_context(|| format!("opening the registry in {}", config.data_dir.display()))?,
        );
        let engine = crate::engine::EngineHandle::new(config.engine())?;
        let runtime = Arc::new(Runtime::new(engine, config.queue_timeout)?);
        let loader = Loader::new(
            runtime,
            Some(&config.cache_dir()),
            config.cache_memory_mb << 20,
        );
        let metrics = Arc::new(Metrics::new());
        let observed = metrics.clone();
        loader.set_observer(Arc::new(move |r: &crate::loader::LoadResult| {
            observed.load(r.tier.as_str(), r.load_time_ms / 1000.0, r.degraded);
        }));
        let host = Arc::new(FunctionHost::new(registry.clone(), loader));

        if config.api_key.is_none() {
            let keys = {
                let r = registry.clone();
                tokio::task::spawn_blocking(move || r.list_keys()).await??
            };
            if keys.is_empty() {
                let r = registry.clone();
                let created =
                    tokio::task::spawn_blocking(move || r.create_key("admin", None)).await??;
                println!(
                    "Created an admin API key (shown once, keep it): {}",
                    created.key
                );
            }
        }
        let warmed = host.warm().await;
        tracing::info!(functions = warmed, "cache warmed");

        let (ip, function) = if config.no_rate_limit {
            (0, 0)
        } else {
            (config.rate_limit_ip, config.rate_limit_function)
        };
        let state = Arc::new(AppState {
            ip_limiter: RateLimiter::new(ip, clock.clone()),
            function_limiter: RateLimiter::new(function, clock),
            keys: KeyCache::default(),
            metrics,
            host,
            config,
        });
        Ok(Self { state })
    }

    /// The shared state (tests and the quickstart deploy through it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The router.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish
    /// for up to the configured grace period and flushes the logs.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Each connection gets a `Front`: invocations straight to their handler, the rest
        // through the router (with the peer address the router's gate needs).
        let router = self.router();
        let state = self.state.clone();
        let app = tower::service_fn(move |incoming: IncomingStream<'_, _>| {
            let peer: SocketAddr = *incoming.remote_addr();
            std::future::ready(Ok::<_, std::convert::Infallible>(front::Front::new(
                state.clone(),
                router.clone(),
                peer,
            )))
        });
        let grace = self.state.config.shutdown_grace;
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        // Responses go out as soon as they are written: without TCP_NODELAY a streamed guest
        // response (headers, then body) waits for the client's delayed ACK, ~40 ms on Linux.
        let listener = listener.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
            }
        });
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopped_tx.send(());
        });
        let result = tokio::select! {
            r = server => r.map_err(anyhow::Error::from),
            _ = async {
                let _ = stopped_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs_f64(), "in-flight requests still running after the grace period; exiting");
                Ok(())
            }
        };
        let writer = self.state.host.log_writer().clone();
        if let Err(e) = tokio::task::spawn_blocking(move || writer.flush()).await? {
            tracing::error!(error = %e, "flushing logs at shutdown failed");
        }
        result
    }
}

/// Every route, versioned and legacy.
pub fn router(state: Arc<AppState>) -> Router {
    let management = Router::new()
        .route("/functions", get(api::list).post(api::deploy))
        .route("/functions/{id}", get(api::info).delete(api::delete))
        .route("/functions/{id}/info", get(api::info))
        .route("/functions/{id}/rollback", post(api::rollback))
        .route("/functions/{id}/versions", get(api::versions))
        .route("/keys", get(api::list_keys).post(api::create_key))
        .route("/keys/{key_id}", axum::routing::delete(api::revoke_key));
    let calls = Router::new()
        .route("/{id}", any(invoke::invoke))
        .route("/{id}/invoke", any(invoke::invoke))
        .route("/{id}/logs", get(invoke::logs))
        .route("/{id}/{*rest}", any(invoke::invoke_path));
    let protected = Router::new()
        .nest("/v1/api", management.clone())
        .nest("/api", management)
        .nest("/v1/functions", calls.clone())
        .nest("/functions", calls)
        .route("/metrics", get(api::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::gate,
        ));
    Router::new()
        .route("/", get(api::root))
        .route("/health", get(api::health))
        .route("/openapi.json", get(openapi::serve))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(json_content_type))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Every API answer is JSON; guest HTTP responses keep their own content type.
async fn json_content_type(request: Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await.into_response();
    set_json_content_type(&mut response);
    response
}

/// Marks an API answer as JSON unless it says otherwise or is a guest's HTTP response.
fn set_json_content_type(response: &mut Response) {
    if response
        .extensions()
        .get::<invoke::GuestResponse>()
        .is_none()
    {
        response
            .headers_mut()
            .entry(header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
    }
}
