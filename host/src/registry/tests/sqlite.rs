//! The shared suite on [`SqliteRegistry`] (a fresh data directory per test), and what only the
//! SQLite backend has: private database files, blob temp files, a killed process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::suite::{code, deploy, meta};
use super::{Fixture, files_contain, for_each_shared_test, shared_suite};
use crate::model::*;
use crate::registry::sqlite::COMPONENTS_DIR_NAME;
use crate::registry::*;

/// A fresh data directory.
pub(super) struct SqliteFixture {
    dir: tempfile::TempDir,
}

impl SqliteFixture {
    pub(super) fn new() -> Self {
        SqliteFixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn blobs(&self) -> BlobStore {
        BlobStore::open(self.dir.path().join(COMPONENTS_DIR_NAME)).unwrap()
    }

    fn connection(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join(DATABASE_FILE_NAME)).unwrap()
    }

    async fn open_options(&self, options: SqliteOptions) -> SqliteRegistry {
        let dir = self.dir.path().to_owned();
        tokio::task::spawn_blocking(move || SqliteRegistry::open_with(dir, options))
            .await
            .unwrap()
            .unwrap()
    }
}

#[async_trait::async_trait]
impl Fixture for SqliteFixture {
    async fn open_with(&self, logs: LogWriterConfig) -> Arc<dyn Registry> {
        Arc::new(
            self.open_options(SqliteOptions {
                logs,
                ..SqliteOptions::default()
            })
            .await,
        )
    }

    async fn open_other(&self) -> Arc<dyn Registry> {
        Arc::new(
            self.open_options(SqliteOptions {
                external_change_poll: Duration::ZERO,
                ..SqliteOptions::default()
            })
            .await,
        )
    }

    async fn component_stored(&self, digest: &Digest) -> bool {
        self.blobs().contains(digest)
    }

    async fn stored_components(&self) -> usize {
        self.blobs().list().unwrap().len()
    }

    async fn corrupt_component(&self, digest: &Digest) {
        let path = self.blobs().path_of(digest);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
    }

    async fn remove_component(&self, digest: &Digest) {
        std::fs::remove_file(self.blobs().path_of(digest)).unwrap();
    }

    async fn store_orphan_component(&self, bytes: &[u8]) -> Digest {
        self.blobs().put(bytes).unwrap().digest
    }

    async fn rows_of_function(&self, table: &str, id: &str) -> i64 {
        self.connection()
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE function_id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    async fn expire_key(&self, id: &str) {
        let conn = self.connection();
        conn.execute(
            "UPDATE api_keys SET expires_at = 1000, revoked_at = NULL WHERE id = ?1",
            [id],
        )
        .unwrap();
        conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
            [],
        )
        .unwrap();
    }

    async fn stored_anywhere(&self, needle: &[u8]) -> bool {
        self.connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        files_contain(self.dir.path(), needle)
    }
}

for_each_shared_test!(shared_suite!(super::SqliteFixture::new()));

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let fx = SqliteFixture::new();
    let db = fx.dir.path().join(DATABASE_FILE_NAME);
    // A pre-existing world-readable file is tightened.
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
    for suffix in ["", "-wal"] {
        let path = fx.dir.path().join(format!("{DATABASE_FILE_NAME}{suffix}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn gc_also_removes_leftover_temp_files() {
    let fx = SqliteFixture::new();
    let reg = fx.open().await;
    let kept = deploy(reg.as_ref(), "f", "1.0.0", "kept")
        .await
        .version
        .component
        .digest;
    let shard = fx.blobs().path_of(&kept).parent().unwrap().to_path_buf();
    std::fs::write(shard.join(".tmpXYZ"), b"partial").unwrap();
    let report = reg.gc_components().await.unwrap();
    assert_eq!(
        report,
        GcReport {
            components_removed: 0,
            temp_files_removed: 1
        }
    );
    assert!(!shard.join(".tmpXYZ").exists());
    assert_eq!(reg.read_component(&kept).await.unwrap(), code("kept"));
}

/// Env var that turns the crash test into its child half: `<mode>:<data dir>`.
const CRASH_CHILD_ENV: &str = "FDO_TEST_REGISTRY_CRASH_CHILD";
const CRASH_TEST_NAME: &str =
    "registry::tests::sqlite::a_killed_process_leaves_old_or_new_state_never_half";

/// Child half: deploy 2.0.0 and, depending on the mode, stop forever either inside the
/// transaction (after the version row is written) or after the deploy was acknowledged.
fn crash_child(mode: &str, dir: &str) -> ! {
    let store = SqliteStore::open(dir).unwrap();
    if mode == "mid" {
        store.set_deploy_hook(Some(Box::new(|| {
            println!("FDO-CRASH-READY");
            std::thread::sleep(Duration::from_secs(3600));
            Ok(())
        })));
    }
    store.deploy(meta("f", "2.0.0"), &code("2")).unwrap();
    println!("FDO-CRASH-READY");
    std::thread::sleep(Duration::from_secs(3600));
    std::process::exit(3)
}

/// Runs this test binary as a child in `mode`, waits for its marker, and SIGKILLs it.
fn run_and_kill_child(mode: &str, dir: &Path) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CRASH_TEST_NAME,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, format!("{mode}:{}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut ready = false;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("FDO-CRASH-READY") {
            ready = true;
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        ready,
        "child exited before reaching its crash point: {status}"
    );
}

#[test]
fn a_killed_process_leaves_old_or_new_state_never_half() {
    if let Ok(spec) = std::env::var(CRASH_CHILD_ENV) {
        let (mode, dir) = spec.split_once(':').unwrap();
        crash_child(mode, dir);
    }
    let fx = SqliteFixture::new();
    let dir = fx.dir.path();
    SqliteStore::open(dir)
        .unwrap()
        .deploy(meta("f", "1.0.0"), &code("1"))
        .unwrap();

    // Killed inside the deploy transaction: the old state, exactly.
    run_and_kill_child("mid", dir);
    {
        let reg = SqliteStore::open(dir).unwrap();
        let f = reg.get_function("f").unwrap();
        assert_eq!(f.active.version, "1.0.0");
        assert_eq!(reg.list_versions("f").unwrap().len(), 1);
        assert_eq!(reg.history("f").unwrap().len(), 1);
        // The blob written before the transaction is an orphan that gc removes.
        assert!(reg.blobs().contains(&Digest::of(&code("2"))));
        assert_eq!(reg.gc_components().unwrap().components_removed, 1);
        assert!(!reg.blobs().contains(&Digest::of(&code("2"))));
        assert_eq!(
            reg.read_component(&Digest::of(&code("1"))).unwrap(),
            code("1")
        );
    }

    // Killed after the deploy was acknowledged: the new state, complete.
    run_and_kill_child("after", dir);
    let reg = SqliteStore::open(dir).unwrap();
    let f = reg.get_function("f").unwrap();
    assert_eq!(f.active.version, "2.0.0");
    assert_eq!(
        reg.read_component(&f.active.component.digest).unwrap(),
        code("2")
    );
    let h = reg.history("f").unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].previous_version.as_deref(), Some("1.0.0"));
}
