//! A real PostgreSQL for the tests, started by the tests themselves.
//!
//! One cluster serves a whole test run: the first test process to ask creates it
//! (`initdb` into a temporary directory, `postgres` on a free loopback port) and the next ones
//! find it through a lock file keyed by their parent process (nextest, or cargo for
//! `cargo test`), since nextest runs every test in a process of its own. A watchdog shell
//! stops the cluster and deletes its directory when that parent exits. Every test gets a
//! database of its own ([`database`]), dropped when the [`Database`] is.
//!
//! PostgreSQL comes from Debian (`scripts/setup.sh` installs `postgresql-15`); its binaries
//! are looked up in `FDO_PG_BIN`, then `/usr/lib/postgresql/*/bin` (newest first). `initdb` and
//! `postgres` refuse to run as root: as root they run as the `postgres` user (`runuser`).
//!
//! The cluster is tuned for tests, not for durability of the machine: `fsync=off` (a killed
//! *fdo* process still loses nothing PostgreSQL acknowledged; only a crash of the whole
//! machine would).

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable naming the directory of PostgreSQL's binaries.
pub const PG_BIN_ENV: &str = "FDO_PG_BIN";
/// The superuser of the test cluster (trust authentication on loopback only).
pub const SUPERUSER: &str = "postgres";

/// A running test cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Its loopback port.
    pub port: u16,
    /// Its data directory.
    pub data_dir: PathBuf,
    bin: PathBuf,
}

/// A database of its own for one test, dropped (connections and all) on drop.
#[derive(Debug)]
pub struct Database {
    /// Its name.
    pub name: String,
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub url: String,
    cluster: &'static Cluster,
}

impl Database {
    /// The cluster it lives in.
    pub fn cluster(&self) -> &'static Cluster {
        self.cluster
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.cluster.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

/// A fresh, empty database in the run's cluster (started on first use).
pub fn database() -> Database {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = cluster();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    cluster
        .psql("postgres", &format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    Database {
        url: cluster.url(&name),
        name,
        cluster,
    }
}

/// The run's cluster, started by the first caller in the run.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::shared().unwrap_or_else(|e| panic!("test PostgreSQL: {e}")))
}

impl Cluster {
    /// `postgres://postgres@127.0.0.1:PORT/DB`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` in `database` with `psql` (stops at the first error).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", database, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// The cluster shared by every test process of this run (see the crate documentation).
    fn shared() -> Result<Cluster, String> {
        let bin = pg_bin()?;
        let run = std::os::unix::process::parent_id();
        let root = std::env::temp_dir().join(format!("fdo-test-pg-{run}"));
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let lock = File::create(root.join("lock")).map_err(|e| format!("lock file: {e}"))?;
        lock.lock().map_err(|e| format!("locking: {e}"))?;
        let data_dir = root.join("data");
        let ready = root.join("port");
        if let Ok(port) = std::fs::read_to_string(&ready)
            && let Ok(port) = port.trim().parse::<u16>()
            && accepts(port)
        {
            return Ok(Cluster {
                port,
                data_dir,
                bin,
            });
        }
        // First in this run (or a leftover that is not running): start afresh.
        let _ = std::fs::remove_dir_all(&data_dir);
        let as_root = is_root();
        if as_root {
            chown_to_postgres(&root)?;
        }
        initdb(as_root, &bin, &data_dir)?;
        let port = free_port()?;
        start_with_watchdog(as_root, &bin, &data_dir, &root, port, run)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let cluster = Cluster {
            port,
            data_dir,
            bin,
        };
        // Accepting TCP is not yet accepting queries: wait for a query to answer.
        while cluster.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(root.join("postgres.log")).unwrap_or_default();
                return Err(format!("postgres did not start on port {port}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut f = File::create(&ready).map_err(|e| format!("{}: {e}", ready.display()))?;
        writeln!(f, "{port}").map_err(|e| e.to_string())?;
        Ok(cluster)
    }
}

/// A new cluster in `data_dir`: the test superuser, trusted on loopback, small WAL segments.
fn initdb(as_root: bool, bin: &Path, data_dir: &Path) -> Result<(), String> {
    let mut initdb = unprivileged(as_root, &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(data_dir)
        .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
        .args(["--no-sync", "--no-instructions", "--wal-segsize=1"]);
    run_quietly(&mut initdb, "initdb")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) -> Result<(), String> {
    run_quietly(
        Command::new("chown").arg("-R").arg(SUPERUSER).arg(dir),
        "chown",
    )
}

/// `program`, run as the `postgres` user when we are root (PostgreSQL refuses root).
fn unprivileged(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", SUPERUSER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run_quietly(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Starts `postgres` under a shell that stops it, and removes `root`, once process `run`
/// (the test runner) is gone. Detached (own session, no inherited pipes), so the test
/// runner neither waits for it nor counts it as a leak.
fn start_with_watchdog(
    as_root: bool,
    bin: &Path,
    data_dir: &Path,
    root: &Path,
    port: u16,
    run: u32,
) -> Result<(), String> {
    let script = format!(
        r#"
        "$0" -D "$1" -p {port} -k "$1" -c listen_addresses=127.0.0.1 -c max_connections=300 \
            -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=32MB \
            -c min_wal_size=2MB -c max_wal_size=64MB -c log_min_messages=warning \
            >"$2/postgres.log" 2>&1 &
        pid=$!
        while [ -d /proc/{run} ] && kill -0 "$pid" 2>/dev/null; do sleep 1; done
        kill -INT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$2"
        "#
    );
    let mut watchdog = if as_root {
        let mut c = Command::new("setsid");
        c.args(["runuser", "-u", SUPERUSER, "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("setsid");
        c.args(["sh", "-c", &script]);
        c
    };
    watchdog
        .arg(bin.join("postgres"))
        .arg(data_dir)
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("finding a free port: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// The directory of PostgreSQL's binaries: `FDO_PG_BIN`, else Debian's newest.
pub fn pg_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| {
            "PostgreSQL is not installed (no /usr/lib/postgresql): run scripts/setup.sh".to_owned()
        })?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql".to_owned())
}

/// A cluster of one test's own, which it may stop and start again (on the same port), for
/// outage tests; stopped and deleted on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    cluster: Cluster,
    root: PathBuf,
    as_root: bool,
}

impl PrivateCluster {
    /// Creates and starts it.
    pub fn start() -> Result<Self, String> {
        let bin = pg_bin()?;
        let root = std::env::temp_dir().join(format!(
            "fdo-test-pg-private-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let as_root = is_root();
        if as_root {
            chown_to_postgres(&root)?;
        }
        let data_dir = root.join("data");
        initdb(as_root, &bin, &data_dir)?;
        let private = PrivateCluster {
            cluster: Cluster {
                port: free_port()?,
                data_dir,
                bin,
            },
            root,
            as_root,
        };
        private.resume()?;
        Ok(private)
    }

    /// The running cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Stops it (fast shutdown: connections are cut).
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "fast", "-w"])
    }

    /// Starts it again on the same port and waits until it answers queries.
    pub fn resume(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=off -c shared_buffers=16MB -c max_connections=100",
            self.cluster.port,
            self.cluster.data_dir.display()
        );
        let log = self.root.join("postgres.log");
        self.pg_ctl(&["start", "-w", "-o", &options, "-l", &log.to_string_lossy()])?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.cluster.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                return Err("postgres did not answer after start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let mut c = unprivileged(self.as_root, &self.cluster.bin.join("pg_ctl"));
        c.arg("-D").arg(&self.cluster.data_dir).args(args);
        run_quietly(&mut c, "pg_ctl")
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_of_its_own_answers_queries_and_is_dropped() {
        let db = super::database();
        let cluster = db.cluster();
        assert_eq!(cluster.psql(&db.name, "SELECT 40 + 2").unwrap(), "42");
        let name = db.name.clone();
        drop(db);
        let left = cluster
            .psql(
                "postgres",
                &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
            )
            .unwrap();
        assert_eq!(left, "0");
    }
}
