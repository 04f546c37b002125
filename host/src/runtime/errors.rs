//! Why a component cannot be served ([`PrepareError`]) and why a call failed ([`InvokeError`]).

use super::state::OutputLimit;

/// Why a compiled component cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// It imports something fdo does not provide (or with an incompatible type).
    #[error("component cannot be linked: {0}")]
    Link(String),
    /// It exports neither `fdo:function/rpc`, nor `wasi:http/incoming-handler`, nor functions.
    #[error(
        "component exports nothing callable: export fdo:function/rpc, wasi:http/incoming-handler or plain functions"
    )]
    NothingCallable,
}

/// Why a call failed. Each is a distinct, stable kind ([`InvokeError::kind`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    /// No method by that name.
    #[error("unknown method `{method}`{}", available_hint(.available))]
    UnknownMethod {
        /// What was asked for.
        method: String,
        /// What exists (for typed components).
        available: Vec<String>,
    },
    /// The params do not fit the method.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The request does not fit the component (an RPC body for an HTTP-only component...).
    #[error("{0}")]
    NotCallable(String),
    /// The guest ran and reported a failure.
    #[error("function failed: {0}")]
    Failed(String),
    /// The guest trapped (a panic, an unreachable, a bad memory access...).
    #[error("guest trapped: {0}")]
    Trap(String),
    /// The guest ran past its timeout and was stopped.
    #[error("function timed out after {0} ms")]
    Timeout(u64),
    /// The guest needed more memory than its limit.
    #[error("function exceeded its memory limit of {0} MB")]
    MemoryLimit(u32),
    /// The guest overflowed its stack.
    #[error("function overflowed its stack")]
    StackOverflow,
    /// No instance slot became free within the queue timeout.
    #[error("function busy: {0}")]
    Busy(String),
    /// Instantiation failed for another reason.
    #[error("could not instantiate the function: {0}")]
    Instantiate(String),
    /// A command exited with a status other than 0.
    #[error(
        "the command exited with status {status}{}{}",
        if .stderr.is_empty() { " and wrote nothing to stderr".to_owned() } else { format!(": {}", .stderr) },
        if *.memory_limit_hit { " (it ran into its memory limit)" } else { "" }
    )]
    Exited {
        /// The exit status.
        status: u32,
        /// The last line it wrote to stderr.
        stderr: String,
        /// Whether it had been refused memory before (a likely cause).
        memory_limit_hit: bool,
    },
    /// A command wrote more than its answer may hold.
    #[error("{0}")]
    OutputLimit(OutputLimit),
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", available.join(", "))
    }
}

impl InvokeError {
    /// A stable, kebab-case name for logs, metrics and the API's error context.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::UnknownMethod { .. } => "unknown-method",
            InvokeError::InvalidParams(_) => "invalid-params",
            InvokeError::NotCallable(_) => "not-callable",
            InvokeError::Failed(_) => "failed",
            InvokeError::Trap(_) => "trap",
            InvokeError::Timeout(_) => "timeout",
            InvokeError::MemoryLimit(_) => "memory-limit",
            InvokeError::StackOverflow => "stack-overflow",
            InvokeError::Busy(_) => "busy",
            InvokeError::Instantiate(_) => "instantiate",
            InvokeError::Exited { .. } => "exit",
            InvokeError::OutputLimit(_) => "output-limit",
        }
    }

    /// Whether the caller's request was at fault (and the answer is a 4xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            InvokeError::UnknownMethod { .. }
                | InvokeError::InvalidParams(_)
                | InvokeError::NotCallable(_)
        )
    }
}
