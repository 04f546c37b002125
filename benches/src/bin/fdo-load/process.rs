//! One process per call: what running a WASI command costs without a host that stays up
//! (`wasmtime run` of a precompiled module, the request on stdin, the answer on stdout), driven
//! like wrk drives a server: `connections` callers in parallel, each starting the next process
//! as soon as its last one exited, for the measurement's duration after an uncounted warm-up.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::wrk::{Errors, Latency, Outcome};

/// A process to start per call, what it reads and what its stdout must contain.
pub struct ProcessLoad {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Written to its stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Its stdout must contain this for the call to count as a success.
    pub expect: String,
}

impl ProcessLoad {
    /// One call: `Ok(bytes of stdout)` when it exited 0 with the expected answer.
    fn call(&self) -> anyhow::Result<usize> {
        let mut child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.argv[0]))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that never reads its stdin closes the pipe: not an error here.
            let _ = stdin.write_all(&self.stdin);
        }
        let output = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(
            output.status.success() && stdout.contains(&self.expect),
            "{} exited with {} and printed {stdout:?}",
            self.argv[0],
            output.status
        );
        Ok(output.stdout.len())
    }

    /// Runs `connections` callers for `warmup` (not counted), then for `duration`.
    pub fn run(
        &self,
        connections: u32,
        duration: Duration,
        warmup: Duration,
    ) -> anyhow::Result<Outcome> {
        self.call().context("the first call")?;
        if !warmup.is_zero() {
            self.drive(connections, warmup);
        }
        let started = Instant::now();
        let results = self.drive(connections, duration);
        let elapsed = started.elapsed();
        let mut latencies = Vec::new();
        let mut errors = Errors::default();
        let mut bytes = 0u64;
        for (latency, result) in results {
            match result {
                Ok(n) => {
                    bytes += n as u64;
                    latencies.push(latency);
                }
                Err(_) => errors.status += 1,
            }
        }
        Ok(Outcome {
            requests: latencies.len() as u64 + errors.status,
            duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            bytes,
            errors,
            latency_us: latency(&mut latencies),
        })
    }

    /// Every call of `connections` callers over `duration`: (latency in µs, result).
    fn drive(&self, connections: u32, duration: Duration) -> Vec<(u64, anyhow::Result<usize>)> {
        let deadline = Instant::now() + duration;
        std::thread::scope(|scope| {
            let callers: Vec<_> = (0..connections)
                .map(|_| {
                    scope.spawn(move || {
                        let mut calls = Vec::new();
                        while Instant::now() < deadline {
                            let started = Instant::now();
                            let result = self.call();
                            let us =
                                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                            calls.push((us, result));
                        }
                        calls
                    })
                })
                .collect();
            callers
                .into_iter()
                .flat_map(|c| c.join().unwrap_or_default())
                .collect()
        })
    }
}

/// The distribution of `us` (sorted in place), as wrk reports it.
fn latency(us: &mut [u64]) -> Latency {
    if us.is_empty() {
        return Latency::default();
    }
    us.sort_unstable();
    let n = us.len() as f64;
    let mean = us.iter().map(|&x| x as f64).sum::<f64>() / n;
    let variance = us.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let at = |q: f64| us[((n * q).ceil() as usize).clamp(1, us.len()) - 1];
    Latency {
        mean,
        stdev: variance.sqrt(),
        max: us[us.len() - 1],
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut us: Vec<u64> = (1..=1000).rev().collect();
        let l = latency(&mut us);
        assert_eq!(
            (l.p50, l.p90, l.p99, l.p999, l.max),
            (500, 900, 990, 999, 1000)
        );
        assert!((l.mean - 500.5).abs() < 1e-9);
        assert_eq!(latency(&mut []).max, 0);
    }

    #[test]
    fn a_process_per_call_is_counted_and_checked() {
        let ok = ProcessLoad {
            argv: vec!["cat".into()],
            stdin: b"{\"a\":1}".to_vec(),
            expect: "\"a\"".into(),
        };
        let outcome = ok
            .run(2, Duration::from_millis(200), Duration::ZERO)
            .unwrap();
        assert!(
            outcome.requests > 0 && outcome.errors.total() == 0,
            "{outcome:?}"
        );
        let wrong = ProcessLoad {
            expect: "missing".into(),
            ..ok
        };
        assert!(
            wrong
                .run(1, Duration::from_millis(50), Duration::ZERO)
                .is_err()
        );
    }
}
