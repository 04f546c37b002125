//! The limits a function's calls run under (its deployed [`Limits`] with the host's defaults
//! filled in), and who is being called under which rules.

use std::sync::Arc;
use std::time::Duration;

use crate::model::Limits;
use crate::validate::AllowedHost;

/// Default memory limit of one instance, in MiB.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Default time a call may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default number of instances of one function running at once.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;

/// The resource limits of one function's calls: what it was deployed with, the defaults for
/// what it left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Linear memory cap per instance, MiB.
    pub memory_mb: u32,
    /// Wall-clock time a call may take.
    pub timeout: Duration,
    /// Instances of this function running at once.
    pub max_concurrency: u32,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout: DEFAULT_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

impl From<Limits> for CallLimits {
    /// The deployed limits, each absent one replaced by the host's default.
    fn from(limits: Limits) -> Self {
        let defaults = CallLimits::default();
        CallLimits {
            memory_mb: limits.memory_mb().unwrap_or(defaults.memory_mb),
            timeout: limits
                .timeout_ms()
                .map_or(defaults.timeout, |ms| Duration::from_millis(u64::from(ms))),
            max_concurrency: limits.max_concurrency().unwrap_or(defaults.max_concurrency),
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
    pub limits: CallLimits,
    /// The outbound allow-list.
    pub allowed_hosts: Arc<Vec<AllowedHost>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployed_limits_fill_in_the_host_defaults() {
        assert_eq!(CallLimits::from(Limits::default()), CallLimits::default());
        let given = Limits::new(Some(64), Some(1500), Some(3)).unwrap();
        assert_eq!(
            CallLimits::from(given),
            CallLimits {
                memory_mb: 64,
                timeout: Duration::from_millis(1500),
                max_concurrency: 3,
            }
        );
        let partial = CallLimits::from(Limits::new(None, Some(250), None).unwrap());
        assert_eq!(partial.timeout, Duration::from_millis(250));
        assert_eq!(partial.memory_mb, DEFAULT_MEMORY_MB);
        assert_eq!(partial.max_concurrency, DEFAULT_MAX_CONCURRENCY);
    }
}
