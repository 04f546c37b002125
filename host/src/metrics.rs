//! Prometheus metrics, rendered in the text exposition format at `GET /metrics`.
//!
//! Counters and histograms are lock-free on the hot path (a map lookup and atomic adds);
//! gauges that live elsewhere (cache size, instances in flight) are read at render time.

use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::FastHash;

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
    /// Whether the shared database is unreachable right now (the host runs degraded).
    pub database_unreachable: bool,
}

/// One function's series: its duration histogram and its invocation counters by version and
/// outcome (a handful, searched in place: a call hashes the function id once and allocates
/// nothing).
struct FunctionSeries {
    durations: Histogram,
    counts: RwLock<Vec<(String, &'static str, AtomicU64)>>,
}

impl FunctionSeries {
    fn count(&self, version: &str, outcome: &'static str) {
        let find = |rows: &[(String, &'static str, AtomicU64)]| {
            rows.iter()
                .position(|(v, o, _)| *o == outcome && v == version)
        };
        {
            let rows = self.counts.read().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = find(&rows) {
                rows[i].2.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut rows = self.counts.write().unwrap_or_else(|e| e.into_inner());
        match find(&rows) {
            Some(i) => rows[i].2.fetch_add(1, Ordering::Relaxed),
            None => {
                rows.push((version.to_owned(), outcome, AtomicU64::new(1)));
                0
            }
        };
    }
}

/// Every metric family of the host.
pub struct Metrics {
    functions: DashMap<String, FunctionSeries, FastHash>,
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
            functions: DashMap::default(),
            loads: DashMap::new(),
            degraded_loads: AtomicU64::new(0),
            rate_limited: DashMap::new(),
        }
    }

    /// Counts one finished invocation.
    pub fn invocation(&self, function: &str, version: &str, outcome: &'static str, seconds: f64) {
        let record = |s: &FunctionSeries| {
            s.count(version, outcome);
            s.durations.observe(seconds);
        };
        match self.functions.get(function) {
            Some(s) => record(&s),
            None => record(
                &self
                    .functions
                    .entry(function.to_owned())
                    .or_insert_with(|| FunctionSeries {
                        durations: Histogram::new(&CALL_BUCKETS),
                        counts: RwLock::default(),
                    }),
            ),
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
        self.functions.remove(function);
    }

    /// The text exposition.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP fdo_invocations_total Finished invocations by function, version and outcome.\n",
        );
        out.push_str("# TYPE fdo_invocations_total counter\n");
        let mut fns: Vec<String> = self.functions.iter().map(|e| e.key().clone()).collect();
        fns.sort();
        let mut rows = Vec::new();
        for f in &fns {
            if let Some(s) = self.functions.get(f) {
                let counts = s.counts.read().unwrap_or_else(|e| e.into_inner());
                rows.extend(
                    counts
                        .iter()
                        .map(|(v, o, n)| (f.as_str(), v.clone(), *o, n.load(Ordering::Relaxed))),
                );
            }
        }
        rows.sort();
        for (f, v, o, n) in rows {
            let _ = writeln!(
                out,
                "fdo_invocations_total{{function=\"{}\",version=\"{}\",outcome=\"{o}\"}} {n}",
                escape(f),
                escape(&v)
            );
        }
        out.push_str("# HELP fdo_invocation_duration_seconds Invocation duration by function.\n");
        out.push_str("# TYPE fdo_invocation_duration_seconds histogram\n");
        for f in &fns {
            if let Some(s) = self.functions.get(f) {
                s.durations.render(
                    &mut out,
                    "fdo_invocation_duration_seconds",
                    &format!("function=\"{}\"", escape(f)),
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
        gauge(
            &mut out,
            "fdo_database_unreachable",
            "1 while the shared database is unreachable (writes refused, loaded functions serving).",
            u64::from(gauges.database_unreachable),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn invocations_count_by_function_version_and_outcome_in_order() {
        let m = Metrics::new();
        m.invocation("b", "1.0.0", "success", 0.0002);
        m.invocation("a", "2.0.0", "success", 0.002);
        m.invocation("a", "1.0.0", "failed", 0.02);
        m.invocation("a", "1.0.0", "success", 0.0002);
        m.invocation("a", "1.0.0", "success", 0.0002);
        let text = m.render(Gauges::default());
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("fdo_invocations_total{"))
            .collect();
        assert_eq!(
            rows,
            [
                r#"fdo_invocations_total{function="a",version="1.0.0",outcome="failed"} 1"#,
                r#"fdo_invocations_total{function="a",version="1.0.0",outcome="success"} 2"#,
                r#"fdo_invocations_total{function="a",version="2.0.0",outcome="success"} 1"#,
                r#"fdo_invocations_total{function="b",version="1.0.0",outcome="success"} 1"#,
            ]
        );
        assert_eq!(
            line(
                &text,
                r#"fdo_invocation_duration_seconds_count{function="a"}"#
            ),
            Some(r#"fdo_invocation_duration_seconds_count{function="a"} 4"#)
        );
        assert_eq!(
            line(
                &text,
                r#"fdo_invocation_duration_seconds_bucket{function="a",le="0.00025"}"#
            ),
            Some(r#"fdo_invocation_duration_seconds_bucket{function="a",le="0.00025"} 2"#)
        );
    }

    #[test]
    fn forget_drops_every_series_of_a_function() {
        let m = Metrics::new();
        m.invocation("gone", "1.0.0", "success", 0.001);
        m.invocation("kept", "1.0.0", "success", 0.001);
        m.forget("gone");
        let text = m.render(Gauges::default());
        assert!(!text.contains(r#"function="gone""#), "{text}");
        assert!(text.contains(
            r#"fdo_invocations_total{function="kept",version="1.0.0",outcome="success"} 1"#
        ));
    }

    #[test]
    fn counts_from_many_threads_add_up() {
        let m = std::sync::Arc::new(Metrics::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let version = if i % 2 == 0 { "1.0.0" } else { "1.1.0" };
                        m.invocation(&format!("f{}", t % 2), version, "success", 0.001);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = m.render(Gauges::default());
        for f in ["f0", "f1"] {
            for v in ["1.0.0", "1.1.0"] {
                let row = format!(
                    r#"fdo_invocations_total{{function="{f}",version="{v}",outcome="success"}} 1000"#
                );
                assert!(text.contains(&row), "{row} missing from\n{text}");
            }
        }
    }
}
