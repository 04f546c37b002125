//! Prometheus metrics, rendered in the text exposition format at `GET /metrics`.
//!
//! Counters and histograms are lock-free on the hot path (a map lookup and atomic adds);
//! gauges that live elsewhere (cache size, instances in flight) are read at render time.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

/// Upper bounds (seconds) of the invocation-duration buckets.
const CALL_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0,
];
/// Upper bounds (seconds) of the load-duration buckets.
const LOAD_BUCKETS: [f64; 10] = [
    0.00005, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0, 5.0, 30.0,
];

/// A histogram with fixed buckets.
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Gauges read from other parts of the host when rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Components in the memory cache.
    pub cache_entries: u64,
    /// Bytes of compiled code in the memory cache.
    pub cache_bytes: u64,
    /// Instances running now.
    pub instances_in_flight: u64,
    /// Log entries dropped because the log queue was full.
    pub logs_dropped: u64,
}

/// Every metric family of the host.
pub struct Metrics {
    invocations: DashMap<(String, String, &'static str), AtomicU64>,
    durations: DashMap<String, Histogram>,
    loads: DashMap<&'static str, Histogram>,
    degraded_loads: AtomicU64,
    rate_limited: DashMap<&'static str, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty families.
    pub fn new() -> Self {
        Self {
            invocations: DashMap::new(),
            durations: DashMap::new(),
            loads: DashMap::new(),
            degraded_loads: AtomicU64::new(0),
            rate_limited: DashMap::new(),
        }
    }

    /// Counts one finished invocation.
    pub fn invocation(&self, function: &str, version: &str, outcome: &'static str, seconds: f64) {
        let key = (function.to_owned(), version.to_owned(), outcome);
        if let Some(c) = self.invocations.get(&key) {
            c.fetch_add(1, Ordering::Relaxed);
        } else {
            self.invocations
                .entry(key)
                .or_insert_with(|| AtomicU64::new(0))
                .fetch_add(1, Ordering::Relaxed);
        }
        if let Some(h) = self.durations.get(function) {
            h.observe(seconds);
        } else {
            self.durations
                .entry(function.to_owned())
                .or_insert_with(|| Histogram::new(&CALL_BUCKETS))
                .observe(seconds);
        }
    }

    /// Counts one component load from `tier`.
    pub fn load(&self, tier: &'static str, seconds: f64, degraded: bool) {
        self.loads
            .entry(tier)
            .or_insert_with(|| Histogram::new(&LOAD_BUCKETS))
            .observe(seconds);
        if degraded {
            self.degraded_loads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one request refused by the `scope` rate limit.
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited
            .entry(scope)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets a deleted function's series.
    pub fn forget(&self, function: &str) {
        self.invocations.retain(|k, _| k.0 != function);
        self.durations.remove(function);
    }

    /// The text exposition.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP fdo_invocations_total Finished invocations by function, version and outcome.\n",
        );
        out.push_str("# TYPE fdo_invocations_total counter\n");
        let mut rows: Vec<_> = self
            .invocations
            .iter()
            .map(|e| (e.key().clone(), e.value().load(Ordering::Relaxed)))
            .collect();
        rows.sort();
        for ((f, v, o), n) in rows {
            let _ = writeln!(
                out,
                "fdo_invocations_total{{function=\"{}\",version=\"{}\",outcome=\"{o}\"}} {n}",
                escape(&f),
                escape(&v)
            );
        }
        out.push_str("# HELP fdo_invocation_duration_seconds Invocation duration by function.\n");
        out.push_str("# TYPE fdo_invocation_duration_seconds histogram\n");
        let mut fns: Vec<String> = self.durations.iter().map(|e| e.key().clone()).collect();
        fns.sort();
        for f in fns {
            if let Some(h) = self.durations.get(&f) {
                h.render(
                    &mut out,
                    "fdo_invocation_duration_seconds",
                    &format!("function=\"{}\"", escape(&f)),
                );
            }
        }
        out.push_str("# HELP fdo_load_duration_seconds Component load time by tier (memory, disk, compile).\n");
        out.push_str("# TYPE fdo_load_duration_seconds histogram\n");
        for tier in ["memory", "disk", "compile"] {
            if let Some(h) = self.loads.get(tier) {
                h.render(
                    &mut out,
                    "fdo_load_duration_seconds",
                    &format!("tier=\"{tier}\""),
                );
            }
        }
        out.push_str(
            "# HELP fdo_degraded_loads_total Loads that fell back from the normal path.\n",
        );
        out.push_str("# TYPE fdo_degraded_loads_total counter\n");
        let _ = writeln!(
            out,
            "fdo_degraded_loads_total {}",
            self.degraded_loads.load(Ordering::Relaxed)
        );
        out.push_str("# HELP fdo_rate_limited_total Requests refused by a rate limit, by scope.\n");
        out.push_str("# TYPE fdo_rate_limited_total counter\n");
        for scope in ["ip", "function"] {
            let n = self
                .rate_limited
                .get(scope)
                .map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(out, "fdo_rate_limited_total{{scope=\"{scope}\"}} {n}");
        }
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "fdo_cache_entries",
            "Components in the memory cache.",
            gauges.cache_entries,
        );
        gauge(
            &mut out,
            "fdo_cache_bytes",
            "Bytes of compiled code in the memory cache.",
            gauges.cache_bytes,
        );
        gauge(
            &mut out,
            "fdo_instances_in_flight",
            "Instances running now.",
            gauges.instances_in_flight,
        );
        gauge(
            &mut out,
            "fdo_logs_dropped",
            "Log entries dropped because the log queue was full.",
            gauges.logs_dropped,
        );
        out
    }
}
