//! The real `fdo` binary: a host process on an ephemeral port (its address read from the line
//! it prints), and CLI runs against it. The host's output is kept and shown if a test fails.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use super::KEY;
/// The longest a test waits for the host to start or stop before it fails (a guard against
/// hanging, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(120);
/// The line the host prints when it answers requests.
const READY_PREFIX: &str = "fdo listening on http://";

/// The `fdo` binary, with no `FDO_*` variable of the test's own environment leaking in.
pub fn fdo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fdo"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FDO_") {
            c.env_remove(k);
        }
    }
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    c
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `fdo ARGS` with `envs` and waits for it.
pub fn run(args: &[&str], envs: &[(&str, &str)], cwd: Option<&Path>) -> Run {
    let mut c = fdo();
    c.args(args).stdin(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    if let Some(dir) = cwd {
        c.current_dir(dir);
    }
    Run::from(c.output().expect("run fdo"))
}

/// A running `fdo serve`. Dropping it kills the process (and prints its output when the
/// test is failing).
pub struct HostProcess {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl HostProcess {
    /// `fdo serve` on a fresh data directory, port 0, [`KEY`], rate limits off, plus `args`.
    pub fn start(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    /// [`HostProcess::start`] with `RUST_LOG=filter`.
    pub fn start_with_log(args: &[&str], filter: &str) -> Self {
        Self::start_env(args, &[("RUST_LOG", filter)])
    }

    /// [`HostProcess::start`] with more environment variables.
    pub fn start_env(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut all = vec![
            "--data-dir",
            data.to_str().expect("utf-8 path"),
            "--api-key",
            KEY,
            "--no-rate-limit",
            "--max-instances",
            "16",
        ];
        all.extend_from_slice(args);
        let mut h = Self::start_with(&all, envs);
        h.data_dir = data;
        h._dir = Some(dir);
        h
    }

    /// `fdo serve --listen 127.0.0.1:0 ARGS` with `envs` (no data directory is chosen).
    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut c = fdo();
        c.arg("serve").args(["--listen", "127.0.0.1:0"]).args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        Self::spawn(c)
    }

    /// Spawns `command` (an `fdo serve ...`) and waits for its ready line.
    pub fn spawn(command: Command) -> Self {
        Self::spawn_patiently(command, PATIENCE)
    }

    /// [`HostProcess::spawn`] waiting up to `patience` for the ready line (`fdo up` builds and
    /// compiles its functions first).
    pub fn spawn_patiently(mut command: Command, patience: Duration) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fdo serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let sink = stdout.clone();
        let out_reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix(READY_PREFIX) {
                    let _ = tx.send(format!("http://{addr}"));
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let err_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let url = match rx.recv_timeout(patience) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "fdo serve did not get ready\nstdout: {}\nstderr: {}",
                    stdout.lock().unwrap(),
                    stderr.lock().unwrap()
                );
            }
        };
        HostProcess {
            child,
            url,
            data_dir: PathBuf::new(),
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
            _dir: None,
        }
    }

    /// Runs the CLI against this host (`FDO_URL` and `FDO_API_KEY` set).
    pub fn fdo(&self, args: &[&str]) -> Run {
        self.fdo_in(args, &[], None)
    }

    /// [`HostProcess::fdo`] with more environment and a working directory.
    pub fn fdo_in(&self, args: &[&str], envs: &[(&str, &str)], cwd: Option<&Path>) -> Run {
        let mut all = vec![("FDO_URL", self.url.as_str()), ("FDO_API_KEY", KEY)];
        all.extend_from_slice(envs);
        run(args, &all, cwd)
    }

    /// A CLI command against this host, not started yet (for long-running ones).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = fdo();
        c.args(args)
            .env("FDO_URL", &self.url)
            .env("FDO_API_KEY", KEY);
        c
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) to the host.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the host to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The pipes are closed: the readers end once they took the last output.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("fdo serve did not exit\nstderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the host printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the host printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- fdo serve stdout ---\n{}\n--- fdo serve stderr ---\n{}",
                self.stdout(),
                self.stderr()
            );
        }
    }
}
