//! Running `wrk` with the benchmark's Lua script and reading its result line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// The Lua script (request method, body, API key, path rotation, JSON result line).
pub const SCRIPT: &str = include_str!("../../../wrk/request.lua");

/// Marks the script's result line in wrk's output.
const RESULT_MARKER: &str = "FDO_WRK_RESULT ";

/// Extra time wrk gets past its duration before it is considered hung.
const WRK_GRACE: Duration = Duration::from_secs(30);

/// What one wrk run sends.
#[derive(Debug, Clone)]
pub struct Load {
    /// Full URL (the path is replaced per request when `rotate` is set).
    pub url: String,
    /// Request method.
    pub method: &'static str,
    /// Request body (JSON), if any.
    pub body: Option<String>,
    /// What each request presents.
    pub credential: Credential,
    /// `(prefix, count, suffix)`: paths `prefix{i}suffix` for `i` in `0..count`, in turn.
    pub rotate: Option<(String, usize, String)>,
}

/// A request's credential.
#[derive(Debug, Clone)]
pub enum Credential {
    None,
    /// Sent as `X-API-Key`.
    ApiKey(String),
    /// Sent as `Authorization: Bearer`.
    Bearer(String),
}

/// wrk's error counters.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Errors {
    /// Connections that failed.
    pub connect: u64,
    /// Read errors.
    pub read: u64,
    /// Write errors.
    pub write: u64,
    /// Responses that were not 2xx or 3xx.
    pub status: u64,
    /// Requests that timed out.
    pub timeout: u64,
}

impl Errors {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.status + self.timeout
    }
}

/// Latency figures, microseconds.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Largest.
    pub max: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
}

/// One wrk run's result.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Outcome {
    /// Requests completed.
    pub requests: u64,
    /// Run time, microseconds.
    pub duration_us: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors.
    pub errors: Errors,
    /// Latency distribution.
    pub latency_us: Latency,
}

impl Outcome {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        if self.duration_us == 0 {
            0.0
        } else {
            self.requests as f64 * 1e6 / self.duration_us as f64
        }
    }
}

/// Runs wrk.
pub struct Wrk {
    /// The wrk binary.
    pub binary: PathBuf,
    /// The script file.
    pub script: PathBuf,
    /// wrk threads (`-t`).
    pub threads: u32,
    /// Run time of each measurement (`-d`).
    pub duration: Duration,
    /// Run time of the unmeasured run before each measurement (zero: none).
    pub warmup: Duration,
}

impl Wrk {
    /// Writes the script into `dir` and checks that `binary` runs.
    pub fn new(
        binary: PathBuf,
        dir: &Path,
        threads: u32,
        duration: Duration,
        warmup: Duration,
    ) -> anyhow::Result<Self> {
        let script = dir.join("request.lua");
        std::fs::write(&script, SCRIPT).context("writing the wrk script")?;
        let probe = Command::new(&binary).arg("--version").output();
        if probe.is_err() {
            bail!(
                "cannot run {} (install the Debian package `wrk`)",
                binary.display()
            );
        }
        Ok(Self {
            binary,
            script,
            threads,
            duration,
            warmup,
        })
    }

    /// Runs `load` with `connections` connections, after the warm-up; fails when wrk fails
    /// or no request succeeded.
    pub fn run(&self, load: &Load, connections: u32) -> anyhow::Result<Outcome> {
        if !self.warmup.is_zero() {
            self.measure(load, connections, self.warmup)
                .context("warm-up run")?;
        }
        self.measure(load, connections, self.duration)
    }

    fn measure(
        &self,
        load: &Load,
        connections: u32,
        duration: Duration,
    ) -> anyhow::Result<Outcome> {
        let threads = self.threads.min(connections).max(1);
        let mut command = Command::new("timeout");
        command
            .arg(format!("{}s", (duration + WRK_GRACE).as_secs()))
            .arg(&self.binary)
            .arg(format!("-t{threads}"))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("--timeout")
            .arg("5s")
            .arg("-s")
            .arg(&self.script)
            .arg(&load.url)
            .env("FDO_WRK_METHOD", load.method)
            .env("FDO_WRK_BODY", load.body.as_deref().unwrap_or(""))
            .env(
                "FDO_WRK_API_KEY",
                match &load.credential {
                    Credential::ApiKey(key) => key.as_str(),
                    _ => "",
                },
            )
            .env(
                "FDO_WRK_BEARER",
                match &load.credential {
                    Credential::Bearer(token) => token.as_str(),
                    _ => "",
                },
            )
            .env(
                "FDO_WRK_PATHS",
                load.rotate
                    .as_ref()
                    .map(|(p, n, s)| format!("{p}|{n}|{s}"))
                    .unwrap_or_default(),
            );
        let output = command
            .output()
            .with_context(|| format!("running {}", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(RESULT_MARKER))
            .with_context(|| format!("wrk printed no result line: {stdout}"))?;
        let outcome: Outcome =
            serde_json::from_str(line).with_context(|| format!("parsing wrk's result {line}"))?;
        if outcome.requests == 0 {
            bail!("no request completed: {stdout}");
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_result_line() {
        let line = r#"{"requests":1000,"duration_us":2000000,"bytes":5,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},"latency_us":{"mean":10.5,"stdev":1.0,"max":99,"p50":9,"p90":12,"p99":50,"p999":90}}"#;
        let outcome: Outcome = serde_json::from_str(line).unwrap();
        assert_eq!(outcome.rps(), 500.0);
        assert_eq!(outcome.errors.total(), 3);
        assert_eq!(outcome.latency_us.p99, 50);
    }
}
