//! What one call's [`Store`](wasmtime::Store) holds: WASI and WASI-HTTP contexts, the memory
//! limiter, the outbound policy, and the buffers that capture what the guest says.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::outbound::OutboundPolicy;
use crate::model::LogLevel;

/// Most bytes of stdout (and, separately, stderr) kept per call; the rest is dropped, not
/// trapped on, and the log says it was truncated.
pub const DEFAULT_MAX_CAPTURED_OUTPUT: usize = 64 * 1024;

/// Most guest log entries kept per call.
pub const DEFAULT_MAX_GUEST_LOGS: usize = 1000;

/// One line a guest produced during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLog {
    /// Its severity (stdout lines are `Info`, stderr lines `Warn`: see [`CallOutput`]).
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// Everything a guest said during one call, in order: log calls, then stdout and stderr lines.
#[derive(Debug, Default, Clone)]
pub struct CallOutput {
    /// Entries from the `fdo:function/log` import.
    pub logs: Vec<GuestLog>,
    /// Captured stdout (possibly truncated).
    pub stdout: String,
    /// Captured stderr (possibly truncated).
    pub stderr: String,
    /// Whether any of the above was cut at its cap.
    pub truncated: bool,
}

impl CallOutput {
    /// All entries as log lines: log calls first, then stdout lines at `info` and stderr lines
    /// at `warn` (stderr carries Rust's panic message, but also ordinary diagnostics; a panic
    /// itself is the call's summary entry, at `error`).
    pub fn lines(&self) -> impl Iterator<Item = GuestLog> + '_ {
        let out = self.stdout.lines().map(|l| GuestLog {
            level: LogLevel::Info,
            message: l.into(),
        });
        let err = self.stderr.lines().map(|l| GuestLog {
            level: LogLevel::Warn,
            message: l.into(),
        });
        self.logs.iter().cloned().chain(out).chain(err)
    }
}

/// A guest wrote past the cap of a [`Capture::bounded`] sink: its write failed and the call
/// ends with this error (a command's stdout is its answer, and half an answer is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the function wrote more than {} KiB to stdout, the most an answer may have", .cap / 1024)]
pub struct OutputLimit {
    /// The cap, in bytes.
    pub cap: usize,
}

/// A capped in-memory sink for a guest's stdout or stderr.
#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<Mutex<CaptureBuf>>,
}

#[derive(Default)]
struct CaptureBuf {
    bytes: Vec<u8>,
    cap: usize,
    truncated: bool,
    /// Past the cap, fail the write (instead of dropping the bytes).
    bounded: bool,
}

impl Capture {
    /// A sink that keeps at most `cap` bytes and drops the rest (marking itself truncated).
    pub fn new(cap: usize) -> Self {
        Self::with_cap(cap, false)
    }

    /// A sink that keeps at most `cap` bytes and fails a write past them with
    /// [`OutputLimit`], which ends the call.
    pub fn bounded(cap: usize) -> Self {
        Self::with_cap(cap, true)
    }

    fn with_cap(cap: usize, bounded: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CaptureBuf {
                bytes: Vec::new(),
                cap,
                truncated: false,
                bounded,
            })),
        }
    }

    fn push(&self, bytes: &[u8]) -> Result<(), OutputLimit> {
        let mut buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = buf.cap.saturating_sub(buf.bytes.len());
        if bytes.len() > room {
            buf.truncated = true;
            if buf.bounded {
                return Err(OutputLimit { cap: buf.cap });
            }
        }
        let take = bytes.len().min(room);
        buf.bytes.extend_from_slice(&bytes[..take]);
        Ok(())
    }

    /// The last non-empty line captured so far (at most 500 characters, its end kept): what a
    /// failed command said last.
    pub fn last_line(&self) -> String {
        let buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&buf.bytes);
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or_default();
        let chars = line.chars().count();
        if chars > 500 {
            line.chars().skip(chars - 500).collect()
        } else {
            line.to_owned()
        }
    }

    /// The captured bytes, as written.
    pub fn take_bytes(&self) -> Vec<u8> {
        let mut buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut buf.bytes)
    }

    /// The last meaningful lines of what was captured so far (for error messages: a Rust
    /// panic prints its message, then a backtrace hint that says nothing to the caller).
    pub fn tail_for_error(&self) -> String {
        let buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&buf.bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        let chars = tail.chars().count();
        if chars > 500 {
            tail.chars().skip(chars - 500).collect()
        } else {
            tail
        }
    }

    /// The captured text (lossy UTF-8) and whether it was truncated.
    pub fn take(&self) -> (String, bool) {
        let mut buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = std::mem::take(&mut buf.bytes);
        (String::from_utf8_lossy(&bytes).into_owned(), buf.truncated)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(CaptureWriter(self.clone()))
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CaptureWriter(self.clone()))
    }
}

struct CaptureWriter(Capture);

impl OutputStream for CaptureWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0
            .push(&bytes)
            .map_err(|limit| StreamError::Trap(limit.into()))
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always accept: past the cap bytes are dropped (counted as truncated), or the write
        // fails for a bounded sink.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CaptureWriter {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CaptureWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(
            self.0
                .push(buf)
                .map(|()| buf.len())
                .map_err(std::io::Error::other),
        )
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Enforces a function's memory limit and remembers whether the guest ran into it, so a trap
/// that follows can be reported as a memory-limit error rather than a bare trap.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// The function's limit in bytes.
    pub limit_bytes: usize,
    /// Set when the guest asked for more than `limit_bytes`.
    pub hit: bool,
}

/// Most table elements one instance may grow a table to.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            // Fail the grow (memory.grow returns -1) rather than trapping: a guest may cope.
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The data of one call's store.
pub struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) outbound: OutboundPolicy,
    pub(crate) logs: Vec<GuestLog>,
    pub(crate) logs_truncated: bool,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
}

impl CallState {
    /// A fresh state with `env` as the guest's environment and `memory_limit` bytes of memory.
    pub(crate) fn new(
        env: &[(String, String)],
        memory_limit: usize,
        outbound: OutboundPolicy,
    ) -> Self {
        let stdout = Capture::new(DEFAULT_MAX_CAPTURED_OUTPUT);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone());
        Self::build(wasi, env, memory_limit, outbound, stdout)
    }

    /// A fresh state for a WASI command: `stdin` is all it reads (then end of file), and its
    /// stdout, its answer, is kept whole up to `max_stdout` bytes, past which a write fails the
    /// call ([`OutputLimit`]).
    pub(crate) fn command(
        env: &[(String, String)],
        memory_limit: usize,
        outbound: OutboundPolicy,
        stdin: Bytes,
        max_stdout: usize,
    ) -> Self {
        let stdout = Capture::bounded(max_stdout);
        let mut wasi = WasiCtx::builder();
        wasi.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(stdin))
            .stdout(stdout.clone());
        Self::build(wasi, env, memory_limit, outbound, stdout)
    }

    fn build(
        mut wasi: wasmtime_wasi::WasiCtxBuilder,
        env: &[(String, String)],
        memory_limit: usize,
        outbound: OutboundPolicy,
        stdout: Capture,
    ) -> Self {
        let stderr = Capture::new(DEFAULT_MAX_CAPTURED_OUTPUT);
        let wasi = wasi.envs(env).stderr(stderr.clone()).build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit_bytes: memory_limit,
                hit: false,
            },
            outbound,
            logs: Vec::new(),
            logs_truncated: false,
            stdout,
            stderr,
        }
    }

    pub(crate) fn push_log(&mut self, level: LogLevel, message: String) {
        if self.logs.len() >= DEFAULT_MAX_GUEST_LOGS {
            self.logs_truncated = true;
            return;
        }
        self.logs.push(GuestLog { level, message });
    }

    /// Takes everything the guest said.
    pub(crate) fn take_output(&mut self) -> CallOutput {
        let (stdout, t1) = self.stdout.take();
        let (stderr, t2) = self.stderr.take();
        CallOutput {
            logs: std::mem::take(&mut self.logs),
            stdout,
            stderr,
            truncated: t1 || t2 || self.logs_truncated,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
