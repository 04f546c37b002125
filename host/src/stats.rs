//! A short in-memory history of every function's calls, for the console's charts and
//! `GET /v1/api/functions/:id/stats`: calls and errors per second, and latency (p50, p99) per
//! ten seconds, over the last [`WINDOW_SECONDS`]. No Prometheus server is needed to see how a
//! function behaved a minute ago; nothing here survives a restart.
//!
//! The history is one of the host's call observers (`app.rs` adds it), so every finished call
//! is counted whatever started it. Each function called since the host started (or since it was last deleted) has a ring of
//! [`SLOTS`] ten-second slots, allocated on its first call (about 28 KiB): a slot holds the
//! call and error count of each of its seconds and a latency histogram. The histogram has two
//! buckets per power of two of microseconds (bounds `2^k` and `1.5 * 2^k`), so a percentile is
//! read to within a quarter of its value, and every latency up to about nine minutes has a
//! bucket of its own. Recording a call is one map lookup, an uncontended mutex and a few adds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

use crate::FastHash;
use crate::functions::observe::{CallObserver, FinishedCall};

/// How far back the history goes, in seconds.
pub const WINDOW_SECONDS: u64 = 900;
/// The latency percentiles are computed per this many seconds.
pub const LATENCY_STEP_SECONDS: u64 = 10;
/// Slots in a function's ring.
const SLOTS: usize = (WINDOW_SECONDS / LATENCY_STEP_SECONDS) as usize;
const STEP: usize = LATENCY_STEP_SECONDS as usize;
/// Latency buckets: two per power of two of microseconds, from 1 us to 2^29 us (~537 s).
const BUCKETS: usize = 58;

/// Ten seconds of one function's calls.
#[derive(Clone)]
struct Slot {
    /// The Unix second the slot starts at (a multiple of the step); 0 while unused.
    start: u64,
    calls: [u32; STEP],
    errors: [u32; STEP],
    latency: [u32; BUCKETS],
}

impl Slot {
    const EMPTY: Slot = Slot {
        start: 0,
        calls: [0; STEP],
        errors: [0; STEP],
        latency: [0; BUCKETS],
    };
}

/// One function's ring of slots.
struct Ring {
    slots: Box<[Slot]>,
}

impl Ring {
    fn new() -> Self {
        Self {
            slots: vec![Slot::EMPTY; SLOTS].into_boxed_slice(),
        }
    }

    fn record(&mut self, now: u64, failed: bool, elapsed: Duration) {
        let start = now - now % LATENCY_STEP_SECONDS;
        let slot = &mut self.slots[((start / LATENCY_STEP_SECONDS) % SLOTS as u64) as usize];
        if slot.start != start {
            *slot = Slot::EMPTY;
            slot.start = start;
        }
        let second = (now - start) as usize;
        slot.calls[second] = slot.calls[second].saturating_add(1);
        if failed {
            slot.errors[second] = slot.errors[second].saturating_add(1);
        }
        let b = bucket(elapsed);
        slot.latency[b] = slot.latency[b].saturating_add(1);
    }

    /// The slot starting at `start`, if it holds that window.
    fn slot(&self, start: u64) -> Option<&Slot> {
        let slot = &self.slots[((start / LATENCY_STEP_SECONDS) % SLOTS as u64) as usize];
        (slot.start == start).then_some(slot)
    }
}

/// The latency bucket of `elapsed`: `2k` for `[2^k, 1.5 * 2^k)` us, `2k + 1` for
/// `[1.5 * 2^k, 2^(k+1))` us; the last bucket takes everything longer.
fn bucket(elapsed: Duration) -> usize {
    let us = u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let octave = 63 - us.leading_zeros() as usize;
    let upper_half = octave > 0 && (us >> (octave - 1)) & 1 == 1;
    (2 * octave + usize::from(upper_half)).min(BUCKETS - 1)
}

/// The bounds of bucket `b`, in microseconds.
fn bucket_bounds(b: usize) -> (f64, f64) {
    let base = (1u64 << (b / 2)) as f64;
    if b.is_multiple_of(2) {
        (base, if b == 0 { 2.0 } else { base * 1.5 })
    } else {
        (base * 1.5, base * 2.0)
    }
}

/// The `q` quantile (0 < q <= 1) of a histogram, in milliseconds, interpolated linearly within
/// its bucket; `None` when the histogram is empty.
fn quantile(histogram: &[u32; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = histogram.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut below = 0u64;
    for (b, &count) in histogram.iter().enumerate() {
        let count = u64::from(count);
        if below + count >= rank {
            let (lo, hi) = bucket_bounds(b);
            let within = (rank - below) as f64 / count as f64;
            let us = lo + (hi - lo) * within;
            return Some(us.round() / 1000.0);
        }
        below += count;
    }
    None
}

/// A function's calls over the window, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Finished calls.
    pub calls: u64,
    /// Calls that failed (any outcome but success).
    pub errors: u64,
    /// Median latency in ms, when there were calls.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency in ms, when there were calls.
    pub p99_ms: Option<f64>,
}

/// A function's history over the window, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The Unix second of the first per-second value.
    pub start: u64,
    /// Calls finished in each second, [`WINDOW_SECONDS`] values (the last is the current,
    /// unfinished second).
    pub calls: Vec<u64>,
    /// Calls that failed in each second.
    pub errors: Vec<u64>,
    /// The Unix second of the first latency window.
    pub latency_start: u64,
    /// Median latency (ms) of each ten-second window, `None` for a window without calls.
    pub p50_ms: Vec<Option<f64>>,
    /// 99th percentile latency (ms) of each ten-second window.
    pub p99_ms: Vec<Option<f64>>,
    /// The whole window added up.
    pub summary: Summary,
}

/// Every function's recent calls.
#[derive(Default)]
pub struct CallHistory {
    functions: DashMap<String, Arc<Mutex<Ring>>, FastHash>,
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl CallHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a finished call of `function` now.
    pub fn record(&self, function: &str, failed: bool, elapsed: Duration) {
        self.record_at(unix_now(), function, failed, elapsed);
    }

    /// Records a finished call of `function` at Unix second `now`.
    pub fn record_at(&self, now: u64, function: &str, failed: bool, elapsed: Duration) {
        let ring = match self.functions.get(function) {
            Some(ring) => ring.clone(),
            None => self
                .functions
                .entry(function.to_owned())
                .or_insert_with(|| Arc::new(Mutex::new(Ring::new())))
                .clone(),
        };
        ring.lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(now, failed, elapsed);
    }

    /// Forgets a deleted function's history.
    pub fn forget(&self, function: &str) {
        self.functions.remove(function);
    }

    /// `function`'s calls over the window ending at Unix second `now` (all zero for a function
    /// not called in it).
    pub fn summary(&self, function: &str, now: u64) -> Summary {
        let Some(ring) = self.functions.get(function).map(|r| r.clone()) else {
            return Summary::default();
        };
        let ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        let first = first_second(now);
        let mut summary = Summary::default();
        let mut latency = [0u32; BUCKETS];
        for start in window_starts(now) {
            if let Some(slot) = ring.slot(start) {
                add_slot(&mut summary, &mut latency, slot, first, now);
            }
        }
        summary.p50_ms = quantile(&latency, 0.5);
        summary.p99_ms = quantile(&latency, 0.99);
        summary
    }

    /// `function`'s history over the window ending at Unix second `now`.
    pub fn history(&self, function: &str, now: u64) -> History {
        let first = first_second(now);
        let starts: Vec<u64> = window_starts(now).collect();
        let mut history = History {
            start: first,
            calls: vec![0; WINDOW_SECONDS as usize],
            errors: vec![0; WINDOW_SECONDS as usize],
            latency_start: starts[0],
            p50_ms: vec![None; starts.len()],
            p99_ms: vec![None; starts.len()],
            summary: Summary::default(),
        };
        let Some(ring) = self.functions.get(function).map(|r| r.clone()) else {
            return history;
        };
        let ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        let mut latency = [0u32; BUCKETS];
        for (i, &start) in starts.iter().enumerate() {
            let Some(slot) = ring.slot(start) else {
                continue;
            };
            for s in 0..STEP {
                let second = start + s as u64;
                if (first..=now).contains(&second) {
                    let at = (second - first) as usize;
                    history.calls[at] = u64::from(slot.calls[s]);
                    history.errors[at] = u64::from(slot.errors[s]);
                }
            }
            history.p50_ms[i] = quantile(&slot.latency, 0.5);
            history.p99_ms[i] = quantile(&slot.latency, 0.99);
            add_slot(&mut history.summary, &mut latency, slot, first, now);
        }
        history.summary.p50_ms = quantile(&latency, 0.5);
        history.summary.p99_ms = quantile(&latency, 0.99);
        history
    }
}

/// Every finished call of every kind goes into the history; a deleted function's goes.
impl CallObserver for CallHistory {
    fn call_finished(&self, call: &FinishedCall<'_>) {
        self.record(call.function_id(), call.result.is_err(), call.elapsed);
    }

    fn function_deleted(&self, id: &str) {
        self.forget(id);
    }
}

/// The first second of the window that ends with second `now`.
fn first_second(now: u64) -> u64 {
    now.saturating_sub(WINDOW_SECONDS - 1)
}

/// The starts of the ten-second slots that overlap the window ending at `now`, oldest first.
fn window_starts(now: u64) -> impl Iterator<Item = u64> {
    let last = now - now % LATENCY_STEP_SECONDS;
    let first = first_second(now);
    let first = first - first % LATENCY_STEP_SECONDS;
    (first..=last).step_by(STEP)
}

/// Adds the seconds of `slot` that fall within `first..=now` to `summary`, and its latency
/// histogram to `latency` (whole: latency is kept per slot, not per second).
fn add_slot(
    summary: &mut Summary,
    latency: &mut [u32; BUCKETS],
    slot: &Slot,
    first: u64,
    now: u64,
) {
    for s in 0..STEP {
        if (first..=now).contains(&(slot.start + s as u64)) {
            summary.calls += u64::from(slot.calls[s]);
            summary.errors += u64::from(slot.errors[s]);
        }
    }
    for (total, &c) in latency.iter_mut().zip(&slot.latency) {
        *total = total.saturating_add(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn ms(n: f64) -> Duration {
        Duration::from_secs_f64(n / 1000.0)
    }

    #[test]
    fn buckets_double_every_two_and_cover_their_bounds() {
        for us in [
            1u64, 2, 3, 5, 7, 100, 1_000, 1_499, 1_500, 65_536, 10_000_000,
        ] {
            let b = bucket(Duration::from_micros(us));
            let (lo, hi) = bucket_bounds(b);
            assert!(
                lo <= us as f64 && (us as f64) < hi,
                "{us} us in bucket {b} [{lo}, {hi})"
            );
        }
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS - 1);
    }

    #[test]
    fn calls_and_errors_land_in_their_second() {
        let h = CallHistory::new();
        h.record_at(T0, "f", false, ms(1.0));
        h.record_at(T0, "f", true, ms(1.0));
        h.record_at(T0 + 3, "f", false, ms(1.0));
        h.record_at(T0 + 3, "g", false, ms(1.0));
        let now = T0 + 5;
        let hist = h.history("f", now);
        assert_eq!(hist.calls.len(), WINDOW_SECONDS as usize);
        assert_eq!(hist.start, now - WINDOW_SECONDS + 1);
        let at = |t: u64| (t - hist.start) as usize;
        assert_eq!(hist.calls[at(T0)], 2);
        assert_eq!(hist.errors[at(T0)], 1);
        assert_eq!(hist.calls[at(T0 + 3)], 1);
        assert_eq!(hist.errors[at(T0 + 3)], 0);
        assert_eq!(hist.calls.iter().sum::<u64>(), 3);
        assert_eq!(
            (hist.summary.calls, hist.summary.errors),
            (3, 1),
            "{:?}",
            hist.summary
        );
        assert_eq!(h.summary("f", now), hist.summary);
        assert_eq!(h.summary("g", now).calls, 1);
        assert_eq!(h.summary("nobody", now), Summary::default());
    }

    #[test]
    fn percentiles_are_read_within_a_quarter() {
        let h = CallHistory::new();
        // 98 fast calls and 2 slow ones in one ten-second window.
        for i in 0..98 {
            h.record_at(T0 + i % 10, "f", false, ms(2.0));
        }
        h.record_at(T0 + 1, "f", false, ms(80.0));
        h.record_at(T0 + 2, "f", false, ms(80.0));
        let s = h.summary("f", T0 + 9);
        let p50 = s.p50_ms.unwrap();
        let p99 = s.p99_ms.unwrap();
        assert!((1.5..=2.5).contains(&p50), "p50 {p50}");
        assert!((60.0..=100.0).contains(&p99), "p99 {p99}");
        let hist = h.history("f", T0 + 9);
        let window = hist.p50_ms.iter().rposition(Option::is_some).unwrap();
        assert_eq!(hist.latency_start + window as u64 * 10, T0 - T0 % 10);
        assert!(hist.p99_ms[window].unwrap() >= 60.0);
        assert_eq!(hist.p50_ms.iter().filter(|p| p.is_some()).count(), 1);
    }

    #[test]
    fn old_calls_leave_the_window_and_slots_are_reused() {
        let h = CallHistory::new();
        h.record_at(T0, "f", true, ms(1.0));
        assert_eq!(h.summary("f", T0 + WINDOW_SECONDS - 1).calls, 1);
        assert_eq!(h.summary("f", T0 + WINDOW_SECONDS).calls, 0);
        // A whole ring later the same slot holds the new window only.
        let later = T0 + WINDOW_SECONDS;
        h.record_at(later, "f", false, ms(1.0));
        let s = h.summary("f", later);
        assert_eq!((s.calls, s.errors), (1, 0));
        let hist = h.history("f", later);
        assert_eq!(hist.calls.iter().sum::<u64>(), 1);
        assert_eq!(hist.errors.iter().sum::<u64>(), 0);
    }

    #[test]
    fn forget_drops_a_function() {
        let h = CallHistory::new();
        h.record_at(T0, "f", false, ms(1.0));
        h.forget("f");
        assert_eq!(h.summary("f", T0).calls, 0);
    }

    #[test]
    fn calls_from_many_threads_add_up() {
        let h = Arc::new(CallHistory::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        h.record_at(T0 + i % 20, "f", i % 10 == 0, ms(1.0));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = h.summary("f", T0 + 20);
        assert_eq!((s.calls, s.errors), (4000, 400));
    }
}
