//! The resource limits a function is deployed with.

use serde::Serialize;

use crate::validate::{
    MAX_CONCURRENCY, MAX_MEMORY_MB, MAX_TIMEOUT_MS, ValidationError, check_limit,
};

/// Per-function resource limits; `None` means the host's default applies. Every present limit
/// is within its range ([`Limits::new`] is the only way to set one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_concurrency: Option<u32>,
}

impl Limits {
    /// Limits with these values; each present one must be within its range
    /// (1..=[`MAX_MEMORY_MB`], 1..=[`MAX_TIMEOUT_MS`], 1..=[`MAX_CONCURRENCY`]).
    pub fn new(
        memory_mb: Option<u32>,
        timeout_ms: Option<u32>,
        max_concurrency: Option<u32>,
    ) -> Result<Self, ValidationError> {
        check_limit("limits.memoryMb", memory_mb, MAX_MEMORY_MB)?;
        check_limit("limits.timeoutMs", timeout_ms, MAX_TIMEOUT_MS)?;
        check_limit("limits.maxConcurrency", max_concurrency, MAX_CONCURRENCY)?;
        Ok(Limits {
            memory_mb,
            timeout_ms,
            max_concurrency,
        })
    }

    /// Linear memory cap in MiB.
    pub fn memory_mb(&self) -> Option<u32> {
        self.memory_mb
    }

    /// Wall-clock deadline per call in milliseconds.
    pub fn timeout_ms(&self) -> Option<u32> {
        self.timeout_ms
    }

    /// Concurrent calls of this function.
    pub fn max_concurrency(&self) -> Option<u32> {
        self.max_concurrency
    }
}
