//! Fixed-window rate limits: per client IP on every authenticated request, per function on
//! invocations. A window is 60 s from the first request that opened it; when it ends the quota
//! is back to the maximum, as the API reference describes.
//!
//! Time comes from a [`Clock`], so tests can move it by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

use super::error::ApiError;
use crate::metrics::Metrics;

/// The window length.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Windows kept before expired ones are swept (bounds memory under many client IPs).
const SWEEP_EVERY: u64 = 4096;

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock moved by hand (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self(AtomicU64::new(start_ms))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// When the window ends, Unix ms.
    pub reset_at_ms: u64,
    /// Whole seconds until then (at least 1 when refused).
    pub retry_after_s: u64,
}

/// What a limiter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Requests per client IP.
    Ip,
    /// Invocations per function.
    Function,
}

impl Scope {
    /// The metrics label and the word in a refusal's message.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Function => "function",
        }
    }
}

/// Counts one request for `key` on `limiter`: its decision, or the 429 to answer (counted in
/// `fdo_rate_limited_total`).
pub(super) fn admit_one(
    limiter: &RateLimiter,
    scope: Scope,
    key: &str,
    metrics: &Metrics,
) -> Result<Decision, ApiError> {
    let d = limiter.check(key);
    if d.allowed {
        return Ok(d);
    }
    metrics.rate_limited(scope.as_str());
    Err(ApiError::RateLimited {
        scope: scope.as_str(),
        retry_after: d.retry_after_s,
        reset_at: d.reset_at_ms,
    })
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    count: u32,
}

/// One family of limits (per IP, or per function).
pub struct RateLimiter {
    /// Requests allowed per window; 0 means unlimited.
    limit: u32,
    windows: DashMap<String, Window>,
    clock: Arc<dyn Clock>,
    calls: AtomicU64,
}

impl RateLimiter {
    /// A limiter allowing `limit` requests per key per window (0 turns it off).
    pub fn new(limit: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            windows: DashMap::new(),
            clock,
            calls: AtomicU64::new(0),
        }
    }

    /// Whether this limiter limits anything.
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Counts one request for `key` and decides.
    pub fn check(&self, key: &str) -> Decision {
        let now = self.clock.now_ms();
        let window_ms = WINDOW.as_millis() as u64;
        if self.limit == 0 {
            return Decision {
                allowed: true,
                remaining: u32::MAX,
                reset_at_ms: now + window_ms,
                retry_after_s: 0,
            };
        }
        if self.calls.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.windows.retain(|_, w| now < w.start_ms + window_ms);
        }
        let mut w = self.windows.entry(key.to_owned()).or_insert(Window {
            start_ms: now,
            count: 0,
        });
        if now >= w.start_ms + window_ms {
            *w = Window {
                start_ms: now,
                count: 0,
            };
        }
        let reset_at_ms = w.start_ms + window_ms;
        let retry_after_s = reset_at_ms.saturating_sub(now).div_ceil(1000).max(1);
        if w.count >= self.limit {
            return Decision {
                allowed: false,
                remaining: 0,
                reset_at_ms,
                retry_after_s,
            };
        }
        w.count += 1;
        Decision {
            allowed: true,
            remaining: self.limit - w.count,
            reset_at_ms,
            retry_after_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fills_refuses_and_resets() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let limiter = RateLimiter::new(3, clock.clone());
        for left in [2, 1, 0] {
            let d = limiter.check("1.2.3.4");
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
            assert_eq!(d.reset_at_ms, 1_060_000);
        }
        clock.advance(Duration::from_secs(15));
        let refused = limiter.check("1.2.3.4");
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_s, 45);
        // Another key has its own window.
        assert!(limiter.check("5.6.7.8").allowed);
        clock.advance(Duration::from_secs(45));
        let again = limiter.check("1.2.3.4");
        assert!(again.allowed);
        assert_eq!(again.remaining, 2);
        assert_eq!(again.reset_at_ms, 1_120_000);
    }
}
