//! The resource limits of a function's calls, and who is being called under which rules.

use std::sync::Arc;
use std::time::Duration;

use crate::validate::AllowedHost;

/// Default memory limit of one instance, in MiB.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Default time a call may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default number of instances of one function running at once.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;

/// The resource limits of one function's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap per instance, MiB.
    pub memory_mb: u32,
    /// Wall-clock time a call may take.
    pub timeout: Duration,
    /// Instances of this function running at once.
    pub max_concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout: DEFAULT_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

/// Who is being called and under which rules.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The function id (keys the concurrency limit).
    pub function_id: Arc<str>,
    /// Environment variables, secrets included.
    pub env: Arc<Vec<(String, String)>>,
    /// The function's limits.
    pub limits: Limits,
    /// The outbound allow-list.
    pub allowed_hosts: Arc<Vec<AllowedHost>>,
}
