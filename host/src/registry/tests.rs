//! Behaviour of [`SqliteRegistry`] against real database files in temporary directories:
//! deploy, idempotence and conflicts, rollback and history, cascading deletes, persistence
//! across reopen, crash consistency (an in-transaction fail point and a killed child
//! process), blob corruption, API keys, and the log path.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::model::{
    ComponentRef, DeployFields, DeployMetadata, HistoryAction, KeyStatus, Language, LevelFilter,
    Limits, LogEntry, LogLevel, LogOrder, LogOutcome, MAX_LOG_QUERY_LIMIT, Secrets,
    parse_deploy_metadata,
};

fn meta(id: &str, version: &str) -> DeployMetadata {
    parse_deploy_metadata(&json!({
        "id": id,
        "version": version,
        "language": "rust",
        "entryPoint": "src/lib.rs",
        "dependencies": {"serde": "^1.0.0"},
        "limits": {"memoryMb": 64, "timeoutMs": 1000},
        "env": {"GREETING": "hello"},
        "secrets": {"API_TOKEN": "tok-secret-value"},
        "allowedHosts": ["api.example.com"]
    }))
    .unwrap()
}

/// `meta`'s fields, to change some before building a [`DeployMetadata`] again.
fn fields(id: &str, version: &str) -> DeployFields {
    meta(id, version).into_fields()
}

fn code(tag: &str) -> Vec<u8> {
    format!("\0asm fake component {tag}").into_bytes()
}

fn open(dir: &tempfile::TempDir) -> SqliteRegistry {
    SqliteRegistry::open(dir.path()).unwrap()
}

fn entry(function: &str, ms: i64, level: LogLevel, message: &str) -> LogEntry {
    LogEntry {
        timestamp: Timestamp::from_millis(ms),
        ..LogEntry::new(function, level, message)
    }
}

#[test]
fn deploy_then_read_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    let out = reg.deploy(meta("hello", "1.0.0"), &code("a")).unwrap();
    assert!(out.created);
    assert_eq!(out.previous, None);
    assert_eq!(out.version.version, "1.0.0");
    assert_eq!(
        out.version.component,
        ComponentRef {
            digest: Digest::of(&code("a")),
            size: code("a").len() as u64
        }
    );
    assert_eq!(out.function.active, out.version);
    assert_eq!(out.function.created_at, out.function.updated_at);

    let f = reg.get_function("hello").unwrap();
    assert_eq!(*f, *out.function);
    assert_eq!(f.active.language, Language::Rust);
    assert_eq!(f.active.entry_point, "src/lib.rs");
    assert_eq!(
        f.active.dependencies,
        BTreeMap::from([("serde".into(), "^1.0.0".into())])
    );
    assert_eq!(
        f.active.limits,
        Limits::new(Some(64), Some(1000), None).unwrap()
    );
    assert_eq!(
        f.active.env.get("GREETING").map(String::as_str),
        Some("hello")
    );
    assert_eq!(f.active.secrets.get("API_TOKEN"), Some("tok-secret-value"));
    assert_eq!(f.active.allowed_hosts, ["api.example.com"]);

    assert_eq!(reg.get_version("hello", "1.0.0").unwrap(), out.version);
    assert_eq!(
        reg.list_versions("hello").unwrap(),
        vec![out.version.clone()]
    );
    assert_eq!(
        reg.list_functions()
            .unwrap()
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        ["hello"]
    );
    assert_eq!(
        reg.read_component(&out.version.component.digest).unwrap(),
        code("a")
    );
    let h = reg.history("hello").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (
            h[0].action,
            h[0].version.as_str(),
            h[0].previous_version.as_deref()
        ),
        (HistoryAction::Deploy, "1.0.0", None)
    );

    for missing in [
        reg.get_function("nope").unwrap_err(),
        reg.history("nope").unwrap_err(),
        reg.list_versions("nope").unwrap_err(),
    ] {
        assert!(
            matches!(missing, RegistryError::NotFound { resource: Resource::Function, ref id } if id == "nope"),
            "{missing}"
        );
    }
    let e = reg.get_version("hello", "9.9.9").unwrap_err();
    assert!(
        matches!(e, RegistryError::NotFound { resource: Resource::Version, ref id } if id == "hello@9.9.9"),
        "{e}"
    );
    assert_eq!(e.to_string(), "version not found: hello@9.9.9");
    assert_eq!(
        reg.get_function("nope").unwrap_err().to_string(),
        "function not found: nope"
    );
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    let out = reg.deploy(meta("s", "1.0.0"), &code("s")).unwrap();
    let text = format!(
        "{out:?} {:?} {:?}",
        reg.get_function("s").unwrap(),
        reg.list_versions("s").unwrap()
    );
    assert!(!text.contains("tok-secret-value"), "{text}");
    assert!(text.contains("API_TOKEN"));
}

#[test]
fn list_functions_is_sorted_and_shows_active_versions() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("zeta", "1.0.0"), &code("z")).unwrap();
    reg.deploy(meta("alpha", "1.0.0"), &code("a1")).unwrap();
    reg.deploy(meta("alpha", "2.0.0"), &code("a2")).unwrap();
    let list = reg.list_functions().unwrap();
    let summary: Vec<(&str, &str)> = list
        .iter()
        .map(|f| (f.id.as_str(), f.active.version.as_str()))
        .collect();
    assert_eq!(summary, [("alpha", "2.0.0"), ("zeta", "1.0.0")]);
}

#[test]
fn identical_redeploy_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    let first = reg.deploy(meta("f", "1.0.0"), &code("a")).unwrap();
    let again = reg.deploy(meta("f", "1.0.0"), &code("a")).unwrap();
    assert!(!again.created);
    assert_eq!(again.version, first.version);
    assert_eq!(again.function.updated_at, first.function.updated_at);
    assert_eq!(reg.history("f").unwrap().len(), 1);
    assert_eq!(reg.list_versions("f").unwrap().len(), 1);
}

#[test]
fn same_version_with_other_code_or_metadata_conflicts_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("f", "1.0.0"), &code("a")).unwrap();
    let err = reg.deploy(meta("f", "1.0.0"), &code("b")).unwrap_err();
    assert!(matches!(err, RegistryError::Conflict(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "conflict: version 1.0.0 of function f already exists with different code; versions are immutable, deploy a new version"
    );
    let mut other = fields("f", "1.0.0");
    other.entry_point = "src/main.rs".into();
    other.env.insert("EXTRA".into(), "1".into());
    let err = reg
        .deploy(other.try_into().unwrap(), &code("a"))
        .unwrap_err();
    assert!(
        err.to_string().contains("with different entryPoint, env;"),
        "{err}"
    );
    let mut secret_changed = fields("f", "1.0.0");
    secret_changed.secrets =
        Secrets::new(BTreeMap::from([("API_TOKEN".into(), "rotated".into())])).unwrap();
    let err = reg
        .deploy(secret_changed.try_into().unwrap(), &code("a"))
        .unwrap_err();
    assert!(err.to_string().contains("different secrets"), "{err}");
    assert!(!err.to_string().contains("rotated"));
    // Nothing moved, and the conflicting bytes were never stored.
    assert_eq!(reg.history("f").unwrap().len(), 1);
    assert_eq!(
        reg.get_function("f").unwrap().active.component.digest,
        Digest::of(&code("a"))
    );
    assert!(!reg.blobs().contains(&Digest::of(&code("b"))));
}

#[test]
fn invalid_metadata_cannot_reach_the_registry() {
    // The registry takes only a `DeployMetadata`, and an invalid one cannot be built.
    let mut bad = fields("f", "1.0.0");
    bad.id = "bad..id".into();
    let err = DeployMetadata::try_from(bad).unwrap_err();
    assert_eq!(err.field, "id");
}

#[test]
fn new_versions_activate_and_rollback_restores_with_history() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("f", "1.0.0"), &code("v1")).unwrap();
    // Cache the function so the rollback must invalidate it.
    assert_eq!(reg.get_function("f").unwrap().active.version, "1.0.0");
    let mut v2 = fields("f", "2.0.0-beta.1");
    v2.entry_point = "src/v2.rs".into();
    let out = reg.deploy(v2.try_into().unwrap(), &code("v2")).unwrap();
    assert_eq!(out.previous.as_deref(), Some("1.0.0"));
    assert_eq!(
        reg.get_function("f").unwrap().active.version,
        "2.0.0-beta.1"
    );

    let rb = reg.rollback("f", "1.0.0").unwrap();
    assert_eq!(rb.previous, "2.0.0-beta.1");
    assert_eq!(rb.function.active.version, "1.0.0");
    // Metadata and code of the target version come back.
    let f = reg.get_function("f").unwrap();
    assert_eq!(f.active.entry_point, "src/lib.rs");
    assert_eq!(f.active.component.digest, Digest::of(&code("v1")));
    assert!(f.updated_at >= out.function.updated_at);

    let h = reg.history("f").unwrap();
    let rows: Vec<(HistoryAction, &str, Option<&str>)> = h
        .iter()
        .map(|e| (e.action, e.version.as_str(), e.previous_version.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (HistoryAction::Deploy, "1.0.0", None),
            (HistoryAction::Deploy, "2.0.0-beta.1", Some("1.0.0")),
            (HistoryAction::Rollback, "1.0.0", Some("2.0.0-beta.1")),
        ]
    );
    assert!(h.windows(2).all(|w| w[0].seq < w[1].seq));

    let e = reg.rollback("f", "3.0.0").unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::NotFound {
                resource: Resource::Version,
                ..
            }
        ),
        "{e}"
    );
    let e = reg.rollback("ghost", "1.0.0").unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::NotFound {
                resource: Resource::Function,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(reg.history("f").unwrap().len(), 3);

    // An identical redeploy of the rolled-back-from version changes nothing.
    let mut v2_again = fields("f", "2.0.0-beta.1");
    v2_again.entry_point = "src/v2.rs".into();
    let v2_again = DeployMetadata::try_from(v2_again).unwrap();
    assert!(!reg.deploy(v2_again, &code("v2")).unwrap().created);
    assert_eq!(reg.get_function("f").unwrap().active.version, "1.0.0");
}

#[test]
fn delete_cascades_and_removes_only_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("a", "1.0.0"), &code("shared")).unwrap();
    reg.deploy(meta("a", "2.0.0"), &code("only-a")).unwrap();
    reg.deploy(meta("b", "1.0.0"), &code("shared")).unwrap();
    let logs = reg.log_writer();
    logs.push(entry("a", 1, LogLevel::Info, "a log"));
    logs.push(entry("b", 1, LogLevel::Info, "b log"));
    logs.flush().unwrap();
    reg.get_function("a").unwrap(); // cached

    let out = reg.delete_function("a").unwrap();
    assert_eq!(
        out,
        DeleteOutcome {
            id: "a".into(),
            versions_removed: 2,
            components_removed: 1
        }
    );
    assert!(matches!(
        reg.get_function("a"),
        Err(RegistryError::NotFound { .. })
    ));
    assert!(matches!(
        reg.history("a"),
        Err(RegistryError::NotFound { .. })
    ));
    assert!(matches!(
        reg.logs(&LogQuery::new("a")),
        Err(RegistryError::NotFound { .. })
    ));
    assert!(!reg.blobs().contains(&Digest::of(&code("only-a"))));
    assert_eq!(
        reg.read_component(&Digest::of(&code("shared"))).unwrap(),
        code("shared")
    );
    assert_eq!(reg.logs(&LogQuery::new("b")).unwrap().len(), 1);

    // No orphan rows remain, checked in the file itself.
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE_NAME)).unwrap();
    for table in ["versions", "history", "logs"] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE function_id = 'a'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }

    assert_eq!(reg.delete_function("b").unwrap().components_removed, 1);
    assert!(reg.blobs().list().unwrap().is_empty());
    assert!(matches!(
        reg.delete_function("b"),
        Err(RegistryError::NotFound {
            resource: Resource::Function,
            ..
        })
    ));

    // The id can be deployed again from scratch.
    let fresh = reg.deploy(meta("a", "1.0.0"), &code("new")).unwrap();
    assert!(fresh.created);
    assert_eq!(reg.history("a").unwrap().len(), 1);
    assert!(reg.logs(&LogQuery::new("a")).unwrap().is_empty());
}

#[test]
fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (key, digest) = {
        let reg = open(&dir);
        reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
        reg.deploy(meta("f", "1.1.0"), &code("2")).unwrap();
        reg.rollback("f", "1.0.0").unwrap();
        let key = reg.create_key("ci", None).unwrap();
        // Pushed but not flushed: closing the registry writes it.
        reg.log_writer()
            .push(entry("f", 5, LogLevel::Warn, "before restart"));
        (key, Digest::of(&code("1")))
    };
    let reg = open(&dir);
    let f = reg.get_function("f").unwrap();
    assert_eq!(f.active.version, "1.0.0");
    assert_eq!(f.active.secrets.get("API_TOKEN"), Some("tok-secret-value"));
    assert_eq!(reg.list_versions("f").unwrap().len(), 2);
    assert_eq!(reg.history("f").unwrap().len(), 3);
    assert_eq!(reg.read_component(&digest).unwrap(), code("1"));
    assert_eq!(reg.verify_key(Some(&key.key)).unwrap().id, key.record.id);
    let logs = reg.logs(&LogQuery::new("f")).unwrap();
    assert_eq!(
        logs.iter()
            .map(|l| l.entry.message.as_str())
            .collect::<Vec<_>>(),
        ["before restart"]
    );
}

#[cfg(unix)]
#[test]
fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DATABASE_FILE_NAME);
    // A pre-existing world-readable file is tightened.
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reg = open(&dir);
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    for suffix in ["", "-wal"] {
        let path = dir.path().join(format!("{DATABASE_FILE_NAME}{suffix}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn a_deploy_failing_inside_its_transaction_leaves_the_old_state() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    let before = reg.get_function("f").unwrap();
    reg.set_deploy_hook(Some(Box::new(|| {
        Err(RegistryError::Unavailable("injected failure".into()))
    })));
    let err = reg.deploy(meta("f", "2.0.0"), &code("2")).unwrap_err();
    assert!(err.to_string().contains("injected failure"));
    reg.set_deploy_hook(None);

    assert_eq!(*reg.get_function("f").unwrap(), *before);
    assert!(matches!(
        reg.get_version("f", "2.0.0"),
        Err(RegistryError::NotFound { .. })
    ));
    assert_eq!(reg.history("f").unwrap().len(), 1);
    // The same deploy succeeds afterwards: no half-written row blocks it.
    assert!(reg.deploy(meta("f", "2.0.0"), &code("2")).unwrap().created);
    // Also for a first deploy: no function row is left behind.
    reg.set_deploy_hook(Some(Box::new(|| {
        Err(RegistryError::Unavailable("injected failure".into()))
    })));
    assert!(reg.deploy(meta("g", "1.0.0"), &code("g")).is_err());
    reg.set_deploy_hook(None);
    assert!(matches!(
        reg.get_function("g"),
        Err(RegistryError::NotFound { .. })
    ));
    assert_eq!(reg.list_functions().unwrap().len(), 1);
}

/// Env var that turns the crash test into its child half: `<mode>:<data dir>`.
const CRASH_CHILD_ENV: &str = "FDO_TEST_REGISTRY_CRASH_CHILD";
const CRASH_TEST_NAME: &str =
    "registry::tests::a_killed_process_leaves_old_or_new_state_never_half";

/// Child half: deploy 2.0.0 and, depending on the mode, stop forever either inside the
/// transaction (after the version row is written) or after the deploy was acknowledged.
fn crash_child(mode: &str, dir: &str) -> ! {
    let reg = SqliteRegistry::open(dir).unwrap();
    if mode == "mid" {
        reg.set_deploy_hook(Some(Box::new(|| {
            println!("FDO-CRASH-READY");
            std::thread::sleep(Duration::from_secs(3600));
            Ok(())
        })));
    }
    reg.deploy(meta("f", "2.0.0"), &code("2")).unwrap();
    println!("FDO-CRASH-READY");
    std::thread::sleep(Duration::from_secs(3600));
    std::process::exit(3)
}

/// Runs this test binary as a child in `mode`, waits for its marker, and SIGKILLs it.
fn run_and_kill_child(mode: &str, dir: &std::path::Path) {
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
    let dir = tempfile::tempdir().unwrap();
    {
        let reg = open(&dir);
        reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    }

    // Killed inside the deploy transaction: the old state, exactly.
    run_and_kill_child("mid", dir.path());
    {
        let reg = open(&dir);
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
    run_and_kill_child("after", dir.path());
    let reg = open(&dir);
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

#[test]
fn a_corrupt_blob_is_never_served_and_an_identical_redeploy_heals_it() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    let out = reg.deploy(meta("f", "1.0.0"), &code("good")).unwrap();
    let digest = out.version.component.digest;
    let path = reg.blobs().path_of(&digest);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = reg.read_component(&digest).unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt(_)), "{err}");

    assert!(
        !reg.deploy(meta("f", "1.0.0"), &code("good"))
            .unwrap()
            .created
    );
    assert_eq!(reg.read_component(&digest).unwrap(), code("good"));

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        reg.read_component(&digest),
        Err(RegistryError::NotFound {
            resource: Resource::Component,
            ..
        })
    ));
}

#[test]
fn gc_removes_orphans_and_temp_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    let kept = reg
        .deploy(meta("f", "1.0.0"), &code("kept"))
        .unwrap()
        .version
        .component
        .digest;
    let orphan = reg.blobs().put(b"orphan").unwrap().digest;
    let shard = reg.blobs().path_of(&kept).parent().unwrap().to_path_buf();
    std::fs::write(shard.join(".tmpXYZ"), b"partial").unwrap();
    let report = reg.gc_components().unwrap();
    assert_eq!(
        report,
        GcReport {
            components_removed: 1,
            temp_files_removed: 1
        }
    );
    assert!(!reg.blobs().contains(&orphan));
    assert_eq!(reg.read_component(&kept).unwrap(), code("kept"));
    assert_eq!(reg.gc_components().unwrap(), GcReport::default());
}

#[test]
fn api_keys_create_verify_revoke_expire() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    assert!(reg.list_keys().unwrap().is_empty());
    let a = reg.create_key("admin", None).unwrap();
    let b = reg
        .create_key(
            "ci",
            Some(Timestamp::from_millis(
                Timestamp::now().as_millis() + 3_600_000,
            )),
        )
        .unwrap();
    assert!(a.key.starts_with(API_KEY_PREFIX));
    assert_eq!(a.record.prefix, &a.key[..API_KEY_DISPLAY_PREFIX_LEN]);
    assert!(!format!("{a:?}").contains(&a.key));

    let info = reg.verify_key(Some(&a.key)).unwrap();
    assert_eq!(
        (info.id.as_str(), info.name.as_str(), info.expires_at),
        (a.record.id.as_str(), "admin", None)
    );
    assert_eq!(reg.verify_key(Some(&b.key)).unwrap().name, "ci");
    assert!(matches!(reg.verify_key(None), Err(AuthError::Missing)));
    assert!(matches!(reg.verify_key(Some("")), Err(AuthError::Missing)));
    assert!(matches!(
        reg.verify_key(Some("fdo_not-a-key")),
        Err(AuthError::Invalid)
    ));
    assert!(matches!(
        reg.verify_key(Some(&a.key[..a.key.len() - 1])),
        Err(AuthError::Invalid)
    ));
    assert_eq!(AuthError::Missing.to_string(), "Missing API key");
    assert_eq!(AuthError::Invalid.to_string(), "Invalid API key");

    // Revocation takes effect at once and is idempotent.
    let revoked = reg.revoke_key(&a.record.id).unwrap();
    let revoked_at = revoked.revoked_at.unwrap();
    assert!(matches!(
        reg.verify_key(Some(&a.key)),
        Err(AuthError::Invalid)
    ));
    assert_eq!(
        reg.revoke_key(&a.record.id).unwrap().revoked_at,
        Some(revoked_at)
    );
    assert!(matches!(
        reg.revoke_key("key_nope"),
        Err(RegistryError::NotFound {
            resource: Resource::ApiKey,
            ..
        })
    ));
    let statuses: Vec<(String, KeyStatus)> = reg
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.name.clone(), k.status(Timestamp::now())))
        .collect();
    assert_eq!(
        statuses,
        [
            ("admin".to_string(), KeyStatus::Revoked),
            ("ci".to_string(), KeyStatus::Active)
        ]
    );

    // Expiry: move b's expiry into the past from outside (as another process would).
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE_NAME)).unwrap();
    conn.execute(
        "UPDATE api_keys SET expires_at = 1000, revoked_at = NULL WHERE id = ?1",
        [&b.record.id],
    )
    .unwrap();
    conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
        [],
    )
    .unwrap();
    reg.refresh().unwrap();
    assert!(matches!(
        reg.verify_key(Some(&b.key)),
        Err(AuthError::Invalid)
    ));

    // Validation of inputs.
    assert!(matches!(
        reg.create_key("", None),
        Err(RegistryError::Invalid(_))
    ));
    let past = reg
        .create_key("late", Some(Timestamp::from_millis(1)))
        .unwrap_err();
    assert!(
        matches!(past, RegistryError::Invalid(ref v) if v.field == "expiresAt"),
        "{past}"
    );
}

#[test]
fn keys_are_stored_only_as_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let reg = open(&dir);
        reg.create_key("admin", None).unwrap()
    };
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE_NAME)).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    let secret_part = &key.key[API_KEY_DISPLAY_PREFIX_LEN..];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(secret_part.len())
                    .any(|w| w == secret_part.as_bytes()),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn other_processes_changes_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        external_change_poll: Duration::ZERO,
        ..SqliteOptions::default()
    };
    let server = SqliteRegistry::open_with(dir.path(), options).unwrap();
    let cli = open(&dir);
    let key = cli.create_key("from-cli", None).unwrap();
    assert!(server.verify_key(Some(&key.key)).is_ok());
    cli.revoke_key(&key.record.id).unwrap();
    assert!(matches!(
        server.verify_key(Some(&key.key)),
        Err(AuthError::Invalid)
    ));

    cli.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    assert_eq!(server.get_function("f").unwrap().active.version, "1.0.0");
    cli.deploy(meta("f", "2.0.0"), &code("2")).unwrap();
    assert_eq!(server.get_function("f").unwrap().active.version, "2.0.0");
}

#[test]
fn reads_stay_consistent_under_concurrent_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(open(&dir));
    reg.deploy(meta("f", "1.0.0"), &code("0")).unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let reg = Arc::clone(&reg);
            std::thread::spawn(move || {
                let mut last = semver::Version::new(0, 0, 0);
                for _ in 0..500 {
                    let f = reg.get_function("f").unwrap();
                    let v = semver::Version::parse(&f.active.version).unwrap();
                    // Never goes backwards, and code always matches the version.
                    assert!(v >= last, "{v} after {last}");
                    assert_eq!(
                        f.active.component.digest,
                        Digest::of(&code(&v.minor.to_string()))
                    );
                    last = v;
                }
            })
        })
        .collect();
    for minor in 1..=20 {
        reg.deploy(
            meta("f", &format!("1.{minor}.0")),
            &code(&minor.to_string()),
        )
        .unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(reg.get_function("f").unwrap().active.version, "1.20.0");
}

#[test]
fn logs_batch_filter_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open(&dir);
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    let w = reg.log_writer();
    let levels = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];
    for i in 0..20i64 {
        let mut e = entry("f", 1_000 + i, levels[i as usize % 4], &format!("m{i}"));
        e.request_id = Some(format!("req-{i}"));
        e.version = Some("1.0.0".into());
        e.duration_ms = Some(i as u64);
        e.outcome = Some(if i % 4 == 3 {
            LogOutcome::Error
        } else {
            LogOutcome::Success
        });
        assert!(w.push(e));
    }
    // An entry for an unknown function in the same batch is skipped, not fatal.
    w.push(entry("ghost", 1, LogLevel::Info, "nobody"));
    w.flush().unwrap();
    assert_eq!(w.stats().dropped, 0);

    let msgs = |q: &LogQuery| {
        reg.logs(q)
            .unwrap()
            .into_iter()
            .map(|l| l.entry.message)
            .collect::<Vec<_>>()
    };
    let all = reg.logs(&LogQuery::new("f")).unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(all[0].entry.message, "m19"); // newest first
    assert_eq!(all[0].entry.request_id.as_deref(), Some("req-19"));
    assert_eq!(all[0].entry.duration_ms, Some(19));
    assert_eq!(all[0].entry.outcome, Some(LogOutcome::Error));
    assert_eq!(all[0].entry.level, LogLevel::Error);

    let q = LogQuery {
        level: Some(LevelFilter::Exact(LogLevel::Warn)),
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(&q), ["m18", "m14", "m10", "m6", "m2"]);
    let q = LogQuery {
        level: Some(LevelFilter::AtLeast(LogLevel::Warn)),
        limit: 3,
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(&q), ["m19", "m18", "m15"]);
    let q = LogQuery {
        after: Some(Timestamp::from_millis(1_016)),
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(&q), ["m19", "m18", "m17"]);
    let q = LogQuery {
        after: Some(Timestamp::from_millis(1_005)),
        limit: 2,
        order: LogOrder::OldestFirst,
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(&q), ["m6", "m7"]);
    assert!(
        reg.logs(&LogQuery {
            limit: 0,
            ..LogQuery::new("f")
        })
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        LogQuery {
            limit: 5000,
            ..LogQuery::new("f")
        }
        .effective_limit(),
        MAX_LOG_QUERY_LIMIT
    );

    let json = serde_json::to_value(&all[0]).unwrap();
    assert_eq!(
        json,
        json!({"timestamp": "1970-01-01T00:00:01.019Z", "level": "error", "message": "m19", "requestId": "req-19",
               "version": "1.0.0", "durationMs": 19, "outcome": "error"})
    );
    assert!(matches!(
        reg.logs(&LogQuery::new("ghost")),
        Err(RegistryError::NotFound { .. })
    ));
}

#[test]
fn log_retention_is_bounded_per_function() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        logs: LogWriterConfig {
            retention: 50,
            batch_size: 64,
            ..LogWriterConfig::default()
        },
        ..SqliteOptions::default()
    };
    let reg = SqliteRegistry::open_with(dir.path(), options).unwrap();
    reg.deploy(meta("busy", "1.0.0"), &code("1")).unwrap();
    reg.deploy(meta("quiet", "1.0.0"), &code("1")).unwrap();
    let w = reg.log_writer();
    let mut pushed = 0;
    for i in 0..1_000i64 {
        // Retry on a full queue so the test does not depend on the writer's speed.
        while !w.push(entry("busy", i, LogLevel::Info, &format!("b{i}"))) {
            w.flush().unwrap();
        }
        pushed += 1;
    }
    w.push(entry("quiet", 1, LogLevel::Info, "q"));
    w.flush().unwrap();
    assert_eq!(pushed, 1_000);
    let busy = reg
        .logs(&LogQuery {
            limit: 1000,
            ..LogQuery::new("busy")
        })
        .unwrap();
    assert_eq!(busy.len(), 50);
    assert_eq!(busy[0].entry.message, "b999");
    assert_eq!(busy[49].entry.message, "b950");
    assert_eq!(reg.logs(&LogQuery::new("quiet")).unwrap().len(), 1);
}

/// Messages of `id`'s stored entries, newest first.
fn stored_messages(reg: &SqliteRegistry, id: &str) -> Vec<String> {
    reg.logs(&LogQuery {
        limit: 1000,
        ..LogQuery::new(id)
    })
    .unwrap()
    .into_iter()
    .map(|r| r.entry.message)
    .collect()
}

fn registry_with_retention(dir: &tempfile::TempDir, retention: usize) -> SqliteRegistry {
    let options = SqliteOptions {
        logs: LogWriterConfig {
            retention,
            ..LogWriterConfig::default()
        },
        ..SqliteOptions::default()
    };
    SqliteRegistry::open_with(dir.path(), options).unwrap()
}

#[test]
fn log_retention_is_exact_for_many_functions_logging_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry_with_retention(&dir, 30);
    let functions: Vec<String> = (0..20).map(|f| format!("f{f}")).collect();
    for f in &functions {
        reg.deploy(meta(f, "1.0.0"), &code("1")).unwrap();
    }
    let w = reg.log_writer();
    // Interleaved, over several batches and trims: 100 entries for each function.
    for i in 0..100i64 {
        for f in &functions {
            while !w.push(entry(f, i, LogLevel::Info, &format!("{f}-{i}"))) {
                w.flush().unwrap();
            }
        }
        if i % 7 == 0 {
            w.flush().unwrap();
        }
    }
    w.flush().unwrap();
    for f in &functions {
        let expected: Vec<String> = (70..100).rev().map(|i| format!("{f}-{i}")).collect();
        assert_eq!(stored_messages(&reg, f), expected, "{f}");
    }
}

#[test]
fn a_function_deleted_and_deployed_again_keeps_its_new_entries() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry_with_retention(&dir, 10);
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    let w = reg.log_writer();
    for i in 0..7 {
        w.push(entry("f", i, LogLevel::Info, &format!("old-{i}")));
    }
    w.flush().unwrap();
    assert_eq!(stored_messages(&reg, "f").len(), 7);

    // The delete takes the entries with it, behind the log writer's back.
    reg.delete_function("f").unwrap();
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    for i in 0..5 {
        w.push(entry("f", i, LogLevel::Info, &format!("new-{i}")));
    }
    w.flush().unwrap();
    let expected: Vec<String> = (0..5).rev().map(|i| format!("new-{i}")).collect();
    assert_eq!(stored_messages(&reg, "f"), expected);

    for i in 5..13 {
        w.push(entry("f", i, LogLevel::Info, &format!("new-{i}")));
    }
    w.flush().unwrap();
    let expected: Vec<String> = (3..13).rev().map(|i| format!("new-{i}")).collect();
    assert_eq!(stored_messages(&reg, "f"), expected);
}

#[test]
fn the_registry_is_usable_as_a_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let reg: Arc<dyn Registry> = Arc::new(open(&dir));
    reg.deploy(meta("f", "1.0.0"), &code("1")).unwrap();
    let shared = Arc::clone(&reg);
    std::thread::spawn(move || assert_eq!(shared.get_function("f").unwrap().id, "f"))
        .join()
        .unwrap();
}
