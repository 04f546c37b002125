//! The HTTP API: the Functions.do routes (versioned and legacy), auth, rate limits, JSON
//! errors, and the invoke paths.
//!
//! The server talks to one thing, [`FunctionHost`], and knows nothing of the storage, the
//! loader or wasmtime. [`AppState`] is what every handler shares; [`serve`] takes a bound
//! listener and a shutdown future, so tests run the real server on port 0 and stop it when
//! they like. `app.rs` builds it all.

mod access;
mod api;
mod auth;
mod body;
pub mod console;
pub mod error;
mod extract;
mod front;
mod invoke;
pub mod openapi;
pub mod ratelimit;
mod stats;
mod wire;

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
use crate::metrics::Metrics;
use crate::stats::CallHistory;
use error::ApiError;
use ratelimit::{Clock, RateLimiter};

pub use auth::Caller;

/// What every handler shares.
pub struct AppState {
    /// The configuration the host runs with.
    pub config: ServeConfig,
    /// Functions, versions, calls, keys, logs.
    pub host: Arc<FunctionHost>,
    /// Requests per client IP.
    pub ip_limiter: RateLimiter,
    /// Invocations per function.
    pub function_limiter: RateLimiter,
    /// Prometheus families (also fed by the loader and the host's call observers).
    pub metrics: Arc<Metrics>,
    /// The last 15 minutes of calls per function (a call observer), for the console's charts.
    pub stats: Arc<CallHistory>,
}

impl AppState {
    /// The server's state for `host`, with the rate limiters `config` asks for on `clock`.
    pub fn new(
        config: ServeConfig,
        host: Arc<FunctionHost>,
        metrics: Arc<Metrics>,
        stats: Arc<CallHistory>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (ip, function) = if config.no_rate_limit {
            (0, 0)
        } else {
            (config.rate_limit_ip, config.rate_limit_function)
        };
        Self {
            ip_limiter: RateLimiter::new(ip, clock.clone()),
            function_limiter: RateLimiter::new(function, clock),
            metrics,
            stats,
            host,
            config,
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish for up
/// to the configured grace period.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Each connection gets a `Front`: invocations straight to their handler, the rest through
    // the router (with the peer address the router's gate needs).
    let router = router(state.clone());
    let grace = state.config.shutdown_grace;
    let app = tower::service_fn(move |incoming: IncomingStream<'_, _>| {
        let peer: SocketAddr = *incoming.remote_addr();
        std::future::ready(Ok::<_, std::convert::Infallible>(front::Front::new(
            state.clone(),
            router.clone(),
            peer,
        )))
    });
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
    tokio::select! {
        r = server => r.map_err(anyhow::Error::from),
        _ = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "in-flight requests still running after the grace period; exiting");
            Ok(())
        }
    }
}

/// Every route, versioned and legacy.
pub fn router(state: Arc<AppState>) -> Router {
    let management = Router::new()
        .route("/functions", get(api::list).post(api::deploy))
        .route(
            "/functions/{id}",
            get(api::info)
                .delete(api::delete)
                .patch(access::patch_function),
        )
        .route("/functions/{id}/info", get(api::info))
        .route("/functions/{id}/rollback", post(api::rollback))
        .route("/functions/{id}/versions", get(api::versions))
        .route("/functions/{id}/stats", get(stats::function))
        .route("/stats", get(stats::all))
        .route("/keys", get(api::list_keys).post(api::create_key))
        .route("/keys/{key_id}", axum::routing::delete(api::revoke_key))
        .route(
            "/namespaces",
            get(access::list_namespaces).post(access::create_namespace),
        )
        .route(
            "/namespaces/{name}",
            get(access::get_namespace)
                .patch(access::update_namespace)
                .delete(access::delete_namespace),
        )
        .route(
            "/namespaces/{name}/rotate-token-key",
            post(access::rotate_token_key),
        )
        .route("/tokens", post(access::issue_token));
    // Calls: a credential is checked when presented, and needed for a private function only.
    let calls = Router::new()
        .route("/{id}", any(invoke::invoke))
        .route("/{id}/invoke", any(invoke::invoke))
        .route("/{id}/{*rest}", any(invoke::invoke_path))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::call_gate,
        ));
    let logs = Router::new().route("/{id}/logs", get(invoke::logs));
    let protected = Router::new()
        .nest("/v1/api", management.clone())
        .nest("/api", management)
        .nest("/v1/functions", logs.clone())
        .nest("/functions", logs)
        .route("/metrics", get(api::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::gate,
        ))
        .merge(
            Router::new()
                .nest("/v1/functions", calls.clone())
                .nest("/functions", calls),
        );
    Router::new()
        .route("/", get(api::root))
        .route("/health", get(api::health))
        .route("/openapi.json", get(openapi::serve))
        .merge(console::routes())
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
