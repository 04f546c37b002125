//! The servers the load benchmark starts: each is a child process killed (and reaped) when its
//! [`Server`] is dropped, so the driver leaves nothing running, whatever way it exits.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a server may take to say it listens (fdo compiles nothing at start, wasmtime
/// serve compiles the component first).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A running server process.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Lines it wrote to stderr (kept for error messages).
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `command` and waits until a line of its stdout or stderr contains `http://`
    /// followed by the address it listens on (fdo, hello-native), or, when `addr` is given,
    /// until that address accepts connections (wasmtime serve).
    pub fn start(
        name: &str,
        mut command: Command,
        addr: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        // With backtraces on, `wasmtime serve` (default features: component-model-async)
        // captures a native backtrace on every store it drops, ~7 % of its CPU: every server
        // runs without, whatever the shell has set.
        command
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        let (tx, lines) = mpsc::channel::<String>();
        let (err_tx, stderr) = mpsc::channel::<String>();
        if let Some(out) = child.stdout.take() {
            forward(out, vec![tx.clone()]);
        }
        if let Some(err) = child.stderr.take() {
            forward(err, vec![tx, err_tx]);
        }
        let mut server = Self {
            addr: addr.unwrap_or(([127, 0, 0, 1], 0).into()),
            child,
            stderr,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "{name} exited during start-up ({status}): {}",
                    server.stderr_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} did not start within {STARTUP_TIMEOUT:?}: {}",
                    server.stderr_tail()
                );
            }
            match addr {
                Some(addr) => {
                    if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                        return Ok(server);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                None => {
                    if let Ok(line) = lines.recv_timeout(Duration::from_millis(100))
                        && let Some(found) = listening_addr(&line)
                    {
                        server.addr = found;
                        return Ok(server);
                    }
                }
            }
        }
    }

    /// The process id (for `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last stderr lines, joined.
    pub fn stderr_tail(&self) -> String {
        let lines: Vec<String> = self.stderr.try_iter().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends every line `reader` produces to `sinks` (from a thread, until EOF).
fn forward(reader: impl Read + Send + 'static, sinks: Vec<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            for sink in &sinks {
                let _ = sink.send(line.clone());
            }
        }
    });
}

/// The `ADDR` in a line containing `http://ADDR` (`fdo listening on http://127.0.0.1:PORT`).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("http://")? + "http://".len()..];
    let end = rest
        .find(|c: char| c == '/' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A loopback address with a port that was free a moment ago (for servers that need one
/// named up front).
pub fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Resident memory of process `pid`, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// `RssAnon` (heap, anonymous mappings), KiB.
    pub anon_kib: u64,
    /// `RssFile` (mapped files: the binary, compiled artifacts), KiB.
    pub file_kib: u64,
    /// `VmHWM`, the peak of `VmRSS`, KiB.
    pub peak_kib: u64,
}

/// Reads the memory figures of `pid`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kib: field("VmRSS"),
        anon_kib: field("RssAnon"),
        file_kib: field("RssFile"),
        peak_kib: field("VmHWM"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_address() {
        assert_eq!(
            listening_addr("fdo listening on http://127.0.0.1:4242"),
            Some(([127, 0, 0, 1], 4242).into())
        );
        assert_eq!(
            listening_addr("Serving HTTP on http://127.0.0.1:80/"),
            Some(([127, 0, 0, 1], 80).into())
        );
        assert_eq!(listening_addr("no address here"), None);
    }
}
