//! What each function did over the last 15 minutes, from the host's in-memory call history
//! ([`crate::stats`]): `GET /v1/api/functions/:id/stats` (per-second calls and errors,
//! per-ten-second p50 and p99, and the window's totals) and `GET /v1/api/stats` (every
//! function's totals and load state, one request for the console's functions table).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::AppState;
use super::api::load_json;
use super::error::ApiError;
use super::extract::Path;
use crate::stats::{LATENCY_STEP_SECONDS, Summary, WINDOW_SECONDS, unix_now};
use crate::validate::validate_function_id;

fn summary_json(m: &mut Map<String, Value>, s: &Summary) {
    m.insert("calls".into(), json!(s.calls));
    m.insert("errors".into(), json!(s.errors));
    m.insert("p50Ms".into(), json!(s.p50_ms));
    m.insert("p99Ms".into(), json!(s.p99_ms));
}

/// `GET /v1/api/functions/:id/stats`.
pub async fn function(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    validate_function_id(&id)?;
    // Answers for functions that exist only (an unknown id is a 404, as everywhere).
    state.host.function(&id).await?;
    let h = state.stats.history(&id, unix_now());
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("windowSeconds".into(), json!(WINDOW_SECONDS));
    summary_json(&mut m, &h.summary);
    m.insert(
        "perSecond".into(),
        json!({
            "startMs": h.start * 1000,
            "stepSeconds": 1,
            "calls": h.calls,
            "errors": h.errors,
        }),
    );
    m.insert(
        "latency".into(),
        json!({
            "startMs": h.latency_start * 1000,
            "stepSeconds": LATENCY_STEP_SECONDS,
            "p50Ms": h.p50_ms,
            "p99Ms": h.p99_ms,
        }),
    );
    Ok(Json(Value::Object(m)))
}

/// `GET /v1/api/stats`: every function's totals over the window and, when it is held loaded,
/// how (`load`: `kind`, `servedVersion`, `fromCache`, `loadTimeMs`, `degraded`...; `null` for a
/// function not loaded since it was last changed or evicted).
pub async fn all(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let records = state.host.list().await?;
    let now = unix_now();
    let functions: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("id".into(), json!(r.id));
            m.insert("version".into(), json!(r.active.version));
            summary_json(&mut m, &state.stats.summary(&r.id, now));
            let load = state.host.loaded(&r.id).map(|active| {
                let mut l = Map::new();
                l.insert("kind".into(), json!(active.kind().as_str()));
                l.insert("servedVersion".into(), json!(active.served.version));
                load_json(&mut l, &active.load);
                Value::Object(l)
            });
            m.insert("load".into(), load.unwrap_or(Value::Null));
            Value::Object(m)
        })
        .collect();
    Ok(Json(
        json!({ "windowSeconds": WINDOW_SECONDS, "functions": functions }),
    ))
}
