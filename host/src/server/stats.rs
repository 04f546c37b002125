//! What each function did over the last 15 minutes, from the host's in-memory call history
//! ([`crate::stats`]): `GET /v1/api/functions/:id/stats` (per-second calls and errors,
//! per-ten-second p50 and p99, and the window's totals) and `GET /v1/api/stats` (every
//! function's totals and load state, one request for the console's functions table).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Path;
use super::wire::{Kind, LoadFields};
use super::{AppState, Caller};
use crate::stats::{LATENCY_STEP_SECONDS, Summary, WINDOW_SECONDS, unix_now};
use crate::validate::validate_function_id;

/// Calls over the window.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Finished calls in the window.
    pub calls: u64,
    /// Calls that did not succeed.
    pub errors: u64,
    /// Median latency, ms; null without calls.
    #[schema(minimum = 0)]
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms; null without calls.
    #[schema(minimum = 0)]
    pub p99_ms: Option<f64>,
}

impl From<&Summary> for Totals {
    fn from(s: &Summary) -> Self {
        Self {
            calls: s.calls,
            errors: s.errors,
            p50_ms: s.p50_ms,
            p99_ms: s.p99_ms,
        }
    }
}

/// One value per second, oldest first; the last is the current, unfinished second.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerSecond {
    /// Unix ms of the first second.
    pub start_ms: u64,
    /// 1.
    pub step_seconds: u64,
    /// Calls per second.
    #[schema(min_items = 900, max_items = 900)]
    pub calls: Vec<u64>,
    /// Failed calls per second.
    #[schema(min_items = 900, max_items = 900)]
    pub errors: Vec<u64>,
}

/// Latency percentiles per ten seconds, oldest first; null for ten seconds without calls.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencySeries {
    /// Unix ms of the first ten-second step.
    pub start_ms: u64,
    /// 10.
    pub step_seconds: u64,
    /// Median latency per step, ms.
    #[schema(min_items = 90, max_items = 91)]
    pub p50_ms: Vec<Option<f64>>,
    /// 99th percentile latency per step, ms.
    #[schema(min_items = 90, max_items = 91)]
    pub p99_ms: Vec<Option<f64>>,
}

/// `GET /v1/api/functions/:id/stats`: a function's calls over the last 15 minutes, from the
/// host's in-memory history (not kept across restarts). Percentiles come from a histogram
/// with two buckets per power of two: within about a quarter of the true value.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStats {
    /// The function.
    pub id: String,
    /// The window, seconds (900).
    pub window_seconds: u64,
    /// The window's totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// Calls and errors per second.
    pub per_second: PerSecond,
    /// Latency per ten seconds.
    pub latency: LatencySeries,
}

/// How a function is held loaded now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldLoad {
    /// How it is called.
    pub kind: Kind,
    /// The version served.
    pub served_version: String,
    /// How it was loaded.
    #[serde(flatten)]
    pub load: LoadFields,
}

/// One function in `GET /v1/api/stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionTotals {
    /// The function.
    pub id: String,
    /// Its active version.
    pub version: String,
    /// The window's totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// How it is held loaded now; null when it is not (not called since it changed, or
    /// evicted).
    pub load: Option<HeldLoad>,
}

/// `GET /v1/api/stats`: every function's totals over the window and load state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsSummary {
    /// The window, seconds (900).
    pub window_seconds: u64,
    /// Every function, by id.
    pub functions: Vec<FunctionTotals>,
}

/// `GET /v1/api/functions/:id/stats`.
pub async fn function(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<FunctionStats>, ApiError> {
    validate_function_id(&id)?;
    // Answers for functions that exist (and the caller may see) only: an unknown id is a 404,
    // as everywhere.
    state.host.acting(&caller).function(&id).await?;
    let h = state.stats.history(&id, unix_now());
    Ok(Json(FunctionStats {
        id,
        window_seconds: WINDOW_SECONDS,
        totals: Totals::from(&h.summary),
        per_second: PerSecond {
            start_ms: h.start * 1000,
            step_seconds: 1,
            calls: h.calls,
            errors: h.errors,
        },
        latency: LatencySeries {
            start_ms: h.latency_start * 1000,
            step_seconds: LATENCY_STEP_SECONDS,
            p50_ms: h.p50_ms,
            p99_ms: h.p99_ms,
        },
    }))
}

/// `GET /v1/api/stats`.
pub async fn all(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Json<StatsSummary>, ApiError> {
    let records = state.host.acting(&caller).list(None).await?;
    let now = unix_now();
    let functions = records
        .iter()
        .map(|r| FunctionTotals {
            id: r.id.clone(),
            version: r.active.version.clone(),
            totals: Totals::from(&state.stats.summary(&r.id, now)),
            load: state.host.loaded(&r.id).map(|active| HeldLoad {
                kind: Kind::of(active.kind()),
                served_version: active.served.version.clone(),
                load: LoadFields::from(&active.load),
            }),
        })
        .collect();
    Ok(Json(StatsSummary {
        window_seconds: WINDOW_SECONDS,
        functions,
    }))
}
