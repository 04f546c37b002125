//! What happens after every call: its logs, metrics and tracing, recorded once, by observers.
//!
//! [`FunctionHost`](super::FunctionHost) reports each finished call (RPC, typed export or
//! `wasi:http`, whatever started it) to every [`CallObserver`] it was built with, as a
//! [`FinishedCall`]: the function and the version that ran (the same `Arc` the call used, so
//! a deploy meanwhile changes nothing), the call's [`CallContext`] (request id, trigger), its
//! outcome, output and duration. The log recorder is built in; the composition root
//! (`app.rs`) adds metrics and tracing, and more can be added (per-second stats, say) without
//! touching the call paths.

use std::sync::Arc;
use std::time::Duration;

use super::Active;
use crate::metrics::Metrics;
use crate::model::{LogEntry, LogLevel, LogOutcome, Timestamp};
use crate::registry::LogWriter;
use crate::runtime::{CallOutput, InvokeError};

/// What started a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// An HTTP request to the API: `POST /v1/functions/:id` or a request passed to a
    /// `wasi:http` handler.
    Http,
}

impl Trigger {
    /// Lowercase name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Http => "http",
        }
    }
}

/// Who or what asked for a call, carried to every observer of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The request id: the caller's `X-Request-Id` or a new one; every log entry of the call
    /// carries it.
    pub request_id: String,
    /// What started the call.
    pub trigger: Trigger,
}

impl CallContext {
    /// A call asked for over HTTP with `request_id`.
    pub fn http(request_id: String) -> Self {
        Self {
            request_id,
            trigger: Trigger::Http,
        }
    }
}

/// A call that finished, as its observers see it.
pub struct FinishedCall<'a> {
    /// The function and the version that ran.
    pub function: &'a Active,
    /// Request id and trigger.
    pub context: &'a CallContext,
    /// The method, typed export or `"http"`.
    pub method: &'a str,
    /// How it ended.
    pub result: Result<(), &'a InvokeError>,
    /// The guest's log calls, stdout and stderr.
    pub output: &'a CallOutput,
    /// From admission to the end of the call.
    pub elapsed: Duration,
}

impl FinishedCall<'_> {
    /// The function's id.
    pub fn function_id(&self) -> &str {
        &self.function.record.id
    }

    /// The version that ran.
    pub fn version(&self) -> &str {
        &self.function.served.version
    }

    /// `success`, or the error's kind (`timeout`, `trap`, ...): the metrics' outcome label.
    pub fn outcome(&self) -> &'static str {
        self.result.map_or_else(InvokeError::kind, |()| "success")
    }
}

/// Told about every finished call and every deleted function. Observers run on the call's
/// task after the guest is done: they must be quick and must not block.
pub trait CallObserver: Send + Sync {
    /// A call finished.
    fn call_finished(&self, call: &FinishedCall<'_>);

    /// A function was deleted: forget what is kept about it.
    fn function_deleted(&self, _id: &str) {}
}

/// Records each call's log lines and its summary entry in the function's logs, with secret
/// values scrubbed.
pub(super) struct LogRecorder {
    pub(super) logs: LogWriter,
}

impl CallObserver for LogRecorder {
    fn call_finished(&self, call: &FinishedCall<'_>) {
        let active = call.function;
        let now = Timestamp::now();
        let entry = |level: LogLevel, message: String| LogEntry {
            function_id: active.record.id.clone(),
            timestamp: now,
            level,
            message: super::scrub(&message, &active.secret_values),
            request_id: Some(call.context.request_id.clone()),
            version: Some(active.served.version.clone()),
            duration_ms: None,
            outcome: None,
        };
        for line in call.output.lines() {
            self.logs.push(entry(line.level, line.message));
        }
        if call.output.truncated {
            self.logs.push(entry(
                LogLevel::Warn,
                "guest output truncated at the per-call cap".into(),
            ));
        }
        let millis = u64::try_from(call.elapsed.as_millis()).unwrap_or(u64::MAX);
        let method = call.method;
        let (level, outcome, message) = match call.result {
            Ok(()) => (
                LogLevel::Info,
                LogOutcome::Success,
                format!("{method} succeeded in {millis} ms"),
            ),
            Err(e) => {
                let outcome = match e {
                    InvokeError::Timeout(_) => LogOutcome::Timeout,
                    InvokeError::MemoryLimit(_) => LogOutcome::MemoryLimit,
                    e if e.is_client_error() => LogOutcome::Rejected,
                    InvokeError::Busy(_) => LogOutcome::Rejected,
                    _ => LogOutcome::Error,
                };
                (
                    LogLevel::Error,
                    outcome,
                    format!("{method} failed after {millis} ms: {e}"),
                )
            }
        };
        let mut summary = entry(level, message);
        summary.duration_ms = Some(millis);
        summary.outcome = Some(outcome);
        self.logs.push(summary);
    }
}

/// `fdo_invocations_total` and `fdo_invocation_duration_seconds`; a deleted function's series
/// go with it.
impl CallObserver for Metrics {
    fn call_finished(&self, call: &FinishedCall<'_>) {
        self.invocation(
            call.function_id(),
            call.version(),
            call.outcome(),
            call.elapsed.as_secs_f64(),
        );
    }

    fn function_deleted(&self, id: &str) {
        self.forget(id);
    }
}

/// The `invocation` event of the host's own log, in the span the call ran in.
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceCalls;

impl CallObserver for TraceCalls {
    fn call_finished(&self, call: &FinishedCall<'_>) {
        tracing::info!(
            version = %call.version(),
            method = %call.method,
            outcome = call.outcome(),
            duration_ms = call.elapsed.as_secs_f64() * 1000.0,
            "invocation"
        );
    }
}

/// The observers of one host, in the order they are told.
pub(super) type Observers = Box<[Arc<dyn CallObserver>]>;
