//! The load generator of `fdo bench`: `concurrency` keep-alive HTTP/1.1 connections (hyper's
//! client, one task each) sending the same request back to back for a while, latencies in an
//! HDR histogram (microseconds, 3 significant digits), and the client's own CPU time, so the
//! report can say when the client rather than the host set the pace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The longest latency recorded exactly (longer ones are clamped): one minute.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// The request every connection sends.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header.
    pub authority: String,
    /// The method.
    pub method: Method,
    /// The path and query.
    pub path: String,
    /// Headers besides `Host` (the API key, the content type).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Target {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.parse().unwrap_or_default();
        let headers = request.headers_mut();
        headers.extend(self.headers.clone());
        if let Ok(host) = self.authority.parse() {
            headers.insert(http::header::HOST, host);
        }
        request
    }
}

/// Counters the progress line reads while a run goes on.
#[derive(Debug, Default)]
pub struct Live {
    /// Responses received.
    pub requests: AtomicU64,
    /// Of those, failures (non-2xx answers, connection errors).
    pub errors: AtomicU64,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Calls answered with a 2xx status.
    pub requests: u64,
    /// Calls that failed: another status, or no answer.
    pub errors: u64,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of successful calls, in microseconds.
    pub latency: Histogram<u64>,
    /// The `x-fdo-version` the host answered with (the version that ran).
    pub version: Option<String>,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// CPU time this process used meanwhile (all threads), when the OS tells.
    pub client_cpu: Option<Duration>,
}

impl Measured {
    /// An empty result, to merge runs into.
    pub fn empty() -> Self {
        Measured {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: histogram(),
            version: None,
            first_error: None,
            client_cpu: Some(Duration::ZERO),
        }
    }

    /// Adds `other` (another slice of the same level) to this one.
    pub fn merge(&mut self, other: Measured) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        let _ = self.latency.add(&other.latency);
        self.version = self.version.take().or(other.version);
        self.first_error = self.first_error.take().or(other.first_error);
        self.client_cpu = match (self.client_cpu, other.client_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// Successful calls per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    /// Latency at quantile `q`, in ms.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// The longest latency, in ms.
    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// The client's CPU use in cores (CPU seconds per second).
    pub fn client_cores(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        self.client_cpu
            .filter(|_| secs > 0.0)
            .map(|cpu| cpu.as_secs_f64() / secs)
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).expect("valid histogram bounds")
}

/// Sends `target`'s request on `concurrency` connections for `duration` (requests in flight at
/// the end finish and count) and returns what was measured.
pub async fn run(
    target: Arc<Target>,
    concurrency: usize,
    duration: Duration,
    live: Arc<Live>,
) -> Measured {
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| tokio::spawn(worker(target.clone(), deadline, live.clone())))
        .collect();
    let mut total = Measured::empty();
    for worker in workers {
        match worker.await {
            Ok(measured) => {
                total.requests += measured.requests;
                total.errors += measured.errors;
                let _ = total.latency.add(&measured.latency);
                total.version = total.version.take().or(measured.version);
                total.first_error = total.first_error.take().or(measured.first_error);
            }
            Err(e) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert_with(|| format!("client task failed: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total.client_cpu = match (cpu_before, process_cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    total
}

/// One connection's loop: (re)connect, send, read the whole answer, record.
async fn worker(target: Arc<Target>, deadline: Instant, live: Arc<Live>) -> Measured {
    let mut measured = Measured::empty();
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
    while Instant::now() < deadline {
        let fail = |measured: &mut Measured, why: String| {
            measured.errors += 1;
            live.requests.fetch_add(1, Ordering::Relaxed);
            live.errors.fetch_add(1, Ordering::Relaxed);
            measured.first_error.get_or_insert(why);
        };
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            match connect(target.addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    fail(
                        &mut measured,
                        format!("cannot connect to {}: {e}", target.addr),
                    );
                    // Do not spin on a host that is down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let request = target.request();
        let started = Instant::now();
        let answer = async {
            s.ready().await?;
            let response = s.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>((parts, body))
        }
        .await;
        let latency = started.elapsed();
        match answer {
            Ok((parts, body)) if parts.status.is_success() => {
                measured.requests += 1;
                live.requests.fetch_add(1, Ordering::Relaxed);
                let micros = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_MICROS);
                let _ = measured.latency.record(micros);
                if measured.version.is_none() {
                    measured.version = parts
                        .headers
                        .get("x-fdo-version")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                }
                let _ = body;
            }
            Ok((parts, body)) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                fail(
                    &mut measured,
                    format!("HTTP {}: {}", parts.status, text.trim()),
                );
            }
            Err(e) => {
                sender = None;
                fail(&mut measured, format!("request failed: {e}"));
            }
        }
    }
    measured
}

async fn connect(
    addr: SocketAddr,
) -> std::io::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// CPU time used by this process so far (user and system, all threads), from
/// `/proc/self/stat`; `None` where that file does not exist.
pub fn process_cpu_time() -> Option<Duration> {
    // Linux reports these fields in USER_HZ, which is 100 on every architecture it runs on.
    const TICKS_PER_SECOND: u64 = 100;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = process_cpu_time().expect("linux");
        let mut x = 0u64;
        let started = Instant::now();
        let mut after = before;
        // Spin until the clock ticks (10 ms of CPU); the wall-clock bound only stops a hang.
        while after == before && started.elapsed() < Duration::from_secs(60) {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            after = process_cpu_time().unwrap();
        }
        std::hint::black_box(x);
        assert!(after > before, "{before:?} -> {after:?}");
    }

    #[test]
    fn merging_adds_counts_and_latencies() {
        let mut a = Measured::empty();
        a.requests = 3;
        a.elapsed = Duration::from_secs(1);
        a.latency.record(1000).unwrap();
        let mut b = Measured::empty();
        b.requests = 5;
        b.errors = 1;
        b.elapsed = Duration::from_secs(1);
        b.latency.record(3000).unwrap();
        b.version = Some("1.0.0".into());
        a.merge(b);
        assert_eq!((a.requests, a.errors), (8, 1));
        assert_eq!(a.rps(), 4.0);
        assert_eq!(a.latency.len(), 2);
        assert!((a.max_ms() - 3.0).abs() < 0.01, "{}", a.max_ms());
        assert_eq!(a.version.as_deref(), Some("1.0.0"));
    }
}
