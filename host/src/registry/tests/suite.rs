//! The shared registry tests (see [`super`]): deploy, idempotence and conflicts, rollback and
//! history, cascading deletes, persistence across a reopen, an in-transaction fail point,
//! damaged component bytes, API keys, other handles' changes, and the log path. Every test
//! takes the backend's [`Fixture`] and only uses the [`Registry`] contract on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Fixture;
use crate::model::access::Privacy;
use crate::model::*;
use crate::registry::*;

pub(super) fn meta(id: &str, version: &str) -> DeployMetadata {
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

pub(super) fn code(tag: &str) -> Vec<u8> {
    format!("\0asm fake component {tag}").into_bytes()
}

fn entry(function: &str, ms: i64, level: LogLevel, message: &str) -> LogEntry {
    LogEntry {
        timestamp: Timestamp::from_millis(ms),
        ..LogEntry::new(function, level, message)
    }
}

/// Deploys `code(tag)` as `id@version` with [`meta`]'s metadata.
pub(super) async fn deploy(
    reg: &dyn Registry,
    id: &str,
    version: &str,
    tag: &str,
) -> DeployOutcome {
    reg.deploy(meta(id, version), code(tag).into())
        .await
        .unwrap()
}

/// Writes out what the log writer holds (it blocks: off the async workers).
async fn flush(w: &LogWriter) {
    let w = w.clone();
    tokio::task::spawn_blocking(move || w.flush())
        .await
        .unwrap()
        .unwrap();
}

/// Pushes `e`, flushing while the queue is full, so a test does not depend on the writer's
/// speed.
async fn push(w: &LogWriter, e: LogEntry) {
    while !w.push(e.clone()) {
        flush(w).await;
    }
}

/// Waits until `check` holds (another handle's view catches up on its own schedule: at once on
/// SQLite, through the change feed on PostgreSQL); fails after 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_not_found(e: &RegistryError, what: Resource) -> bool {
    matches!(e, RegistryError::NotFound { resource, .. } if *resource == what)
}

pub(super) async fn deploy_then_read_everything_back(fx: &dyn Fixture) {
    let reg = fx.open().await;
    let out = deploy(reg.as_ref(), "hello", "1.0.0", "a").await;
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

    let f = reg.get_function("hello").await.unwrap();
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

    assert_eq!(
        reg.get_version("hello", "1.0.0").await.unwrap(),
        out.version
    );
    assert_eq!(
        reg.list_versions("hello").await.unwrap(),
        vec![out.version.clone()]
    );
    let ids: Vec<String> = reg
        .list_functions()
        .await
        .unwrap()
        .iter()
        .map(|f| f.id.clone())
        .collect();
    assert_eq!(ids, ["hello"]);
    assert_eq!(
        reg.read_component(&out.version.component.digest)
            .await
            .unwrap(),
        code("a")
    );
    let h = reg.history("hello").await.unwrap();
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
        reg.get_function("nope").await.unwrap_err(),
        reg.history("nope").await.unwrap_err(),
        reg.list_versions("nope").await.unwrap_err(),
        reg.get_version("nope", "1.0.0").await.unwrap_err(),
    ] {
        assert!(
            matches!(missing, RegistryError::NotFound { resource: Resource::Function, ref id } if id == "nope"),
            "{missing}"
        );
    }
    let e = reg.get_version("hello", "9.9.9").await.unwrap_err();
    assert!(
        matches!(e, RegistryError::NotFound { resource: Resource::Version, ref id } if id == "hello@9.9.9"),
        "{e}"
    );
    assert_eq!(e.to_string(), "version not found: hello@9.9.9");
    assert_eq!(
        reg.get_function("nope").await.unwrap_err().to_string(),
        "function not found: nope"
    );
    let e = reg
        .read_component(&Digest::of(b"never stored"))
        .await
        .unwrap_err();
    assert!(is_not_found(&e, Resource::Component), "{e}");
}

pub(super) async fn secrets_never_appear_in_debug_output(fx: &dyn Fixture) {
    let reg = fx.open().await;
    let out = deploy(reg.as_ref(), "s", "1.0.0", "s").await;
    let text = format!(
        "{out:?} {:?} {:?}",
        reg.get_function("s").await.unwrap(),
        reg.list_versions("s").await.unwrap()
    );
    assert!(!text.contains("tok-secret-value"), "{text}");
    assert!(text.contains("API_TOKEN"));
}

pub(super) async fn list_functions_is_sorted_and_shows_active_versions(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "zeta", "1.0.0", "z").await;
    deploy(reg.as_ref(), "alpha", "1.0.0", "a1").await;
    deploy(reg.as_ref(), "alpha", "2.0.0", "a2").await;
    let list = reg.list_functions().await.unwrap();
    let summary: Vec<(&str, &str)> = list
        .iter()
        .map(|f| (f.id.as_str(), f.active.version.as_str()))
        .collect();
    assert_eq!(summary, [("alpha", "2.0.0"), ("zeta", "1.0.0")]);
}

pub(super) async fn identical_redeploy_is_idempotent(fx: &dyn Fixture) {
    let reg = fx.open().await;
    let first = deploy(reg.as_ref(), "f", "1.0.0", "a").await;
    let again = deploy(reg.as_ref(), "f", "1.0.0", "a").await;
    assert!(!again.created);
    assert_eq!(again.version, first.version);
    assert_eq!(again.function.updated_at, first.function.updated_at);
    assert_eq!(reg.history("f").await.unwrap().len(), 1);
    assert_eq!(reg.list_versions("f").await.unwrap().len(), 1);
}

pub(super) async fn same_version_with_other_code_or_metadata_conflicts_and_changes_nothing(
    fx: &dyn Fixture,
) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "a").await;
    let err = reg
        .deploy(meta("f", "1.0.0"), code("b").into())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Conflict(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "conflict: version 1.0.0 of function f already exists with different code; versions are immutable, deploy a new version"
    );
    let mut other = fields("f", "1.0.0");
    other.entry_point = "src/main.rs".into();
    other.env.insert("EXTRA".into(), "1".into());
    let err = reg
        .deploy(other.try_into().unwrap(), code("a").into())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("with different entryPoint, env;"),
        "{err}"
    );
    let mut secret_changed = fields("f", "1.0.0");
    secret_changed.secrets =
        Secrets::new(BTreeMap::from([("API_TOKEN".into(), "rotated".into())])).unwrap();
    let err = reg
        .deploy(secret_changed.try_into().unwrap(), code("a").into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("different secrets"), "{err}");
    assert!(!err.to_string().contains("rotated"));
    // Nothing moved, and the conflicting bytes were never stored.
    assert_eq!(reg.history("f").await.unwrap().len(), 1);
    assert_eq!(
        reg.get_function("f").await.unwrap().active.component.digest,
        Digest::of(&code("a"))
    );
    assert!(!fx.component_stored(&Digest::of(&code("b"))).await);
}

pub(super) async fn new_versions_activate_and_rollback_restores_with_history(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "v1").await;
    // Cache the function so the rollback must invalidate it.
    assert_eq!(reg.get_function("f").await.unwrap().active.version, "1.0.0");
    let mut v2 = fields("f", "2.0.0-beta.1");
    v2.entry_point = "src/v2.rs".into();
    let out = reg
        .deploy(v2.try_into().unwrap(), code("v2").into())
        .await
        .unwrap();
    assert_eq!(out.previous.as_deref(), Some("1.0.0"));
    assert_eq!(
        reg.get_function("f").await.unwrap().active.version,
        "2.0.0-beta.1"
    );

    let rb = reg.rollback("f", "1.0.0").await.unwrap();
    assert_eq!(rb.previous, "2.0.0-beta.1");
    assert_eq!(rb.function.active.version, "1.0.0");
    // Metadata and code of the target version come back.
    let f = reg.get_function("f").await.unwrap();
    assert_eq!(f.active.entry_point, "src/lib.rs");
    assert_eq!(f.active.component.digest, Digest::of(&code("v1")));
    assert!(f.updated_at >= out.function.updated_at);

    let h = reg.history("f").await.unwrap();
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

    let e = reg.rollback("f", "3.0.0").await.unwrap_err();
    assert!(is_not_found(&e, Resource::Version), "{e}");
    let e = reg.rollback("ghost", "1.0.0").await.unwrap_err();
    assert!(is_not_found(&e, Resource::Function), "{e}");
    assert_eq!(reg.history("f").await.unwrap().len(), 3);

    // An identical redeploy of the rolled-back-from version changes nothing.
    let mut v2_again = fields("f", "2.0.0-beta.1");
    v2_again.entry_point = "src/v2.rs".into();
    let v2_again = DeployMetadata::try_from(v2_again).unwrap();
    assert!(
        !reg.deploy(v2_again, code("v2").into())
            .await
            .unwrap()
            .created
    );
    assert_eq!(reg.get_function("f").await.unwrap().active.version, "1.0.0");
}

pub(super) async fn delete_cascades_and_removes_only_unreferenced_components(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "a", "1.0.0", "shared").await;
    deploy(reg.as_ref(), "a", "2.0.0", "only-a").await;
    deploy(reg.as_ref(), "b", "1.0.0", "shared").await;
    let logs = reg.log_writer();
    logs.push(entry("a", 1, LogLevel::Info, "a log"));
    logs.push(entry("b", 1, LogLevel::Info, "b log"));
    flush(&logs).await;
    reg.get_function("a").await.unwrap(); // cached

    let out = reg.delete_function("a").await.unwrap();
    assert_eq!(
        out,
        DeleteOutcome {
            id: "a".into(),
            versions_removed: 2,
            components_removed: 1
        }
    );
    assert!(is_not_found(
        &reg.get_function("a").await.unwrap_err(),
        Resource::Function
    ));
    assert!(is_not_found(
        &reg.history("a").await.unwrap_err(),
        Resource::Function
    ));
    assert!(is_not_found(
        &reg.logs(&LogQuery::new("a")).await.unwrap_err(),
        Resource::Function
    ));
    assert!(!fx.component_stored(&Digest::of(&code("only-a"))).await);
    assert_eq!(
        reg.read_component(&Digest::of(&code("shared")))
            .await
            .unwrap(),
        code("shared")
    );
    assert_eq!(reg.logs(&LogQuery::new("b")).await.unwrap().len(), 1);

    // No orphan rows remain, checked in the store itself.
    for table in ["versions", "history", "logs"] {
        assert_eq!(fx.rows_of_function(table, "a").await, 0, "{table}");
    }

    assert_eq!(
        reg.delete_function("b").await.unwrap().components_removed,
        1
    );
    assert_eq!(fx.stored_components().await, 0);
    let e = reg.delete_function("b").await.unwrap_err();
    assert!(is_not_found(&e, Resource::Function), "{e}");

    // The id can be deployed again from scratch.
    let fresh = deploy(reg.as_ref(), "a", "1.0.0", "new").await;
    assert!(fresh.created);
    assert_eq!(reg.history("a").await.unwrap().len(), 1);
    assert!(reg.logs(&LogQuery::new("a")).await.unwrap().is_empty());
}

pub(super) async fn everything_survives_a_reopen(fx: &dyn Fixture) {
    let (key, digest) = {
        let reg = fx.open().await;
        deploy(reg.as_ref(), "f", "1.0.0", "1").await;
        deploy(reg.as_ref(), "f", "1.1.0", "2").await;
        reg.rollback("f", "1.0.0").await.unwrap();
        let key = reg.create_key(NewKey::admin("ci", None)).await.unwrap();
        // Pushed but not flushed: closing the registry writes it.
        reg.log_writer()
            .push(entry("f", 5, LogLevel::Warn, "before restart"));
        // Closing flushes the log writer, which blocks: off the async workers.
        tokio::task::spawn_blocking(move || drop(reg))
            .await
            .unwrap();
        (key, Digest::of(&code("1")))
    };
    let reg = fx.open().await;
    let f = reg.get_function("f").await.unwrap();
    assert_eq!(f.active.version, "1.0.0");
    assert_eq!(f.active.secrets.get("API_TOKEN"), Some("tok-secret-value"));
    assert_eq!(reg.list_versions("f").await.unwrap().len(), 2);
    assert_eq!(reg.history("f").await.unwrap().len(), 3);
    assert_eq!(reg.read_component(&digest).await.unwrap(), code("1"));
    assert_eq!(
        reg.verify_key(Some(&key.key)).await.unwrap().id,
        key.record.id
    );
    let logs = reg.logs(&LogQuery::new("f")).await.unwrap();
    assert_eq!(
        logs.iter()
            .map(|l| l.entry.message.as_str())
            .collect::<Vec<_>>(),
        ["before restart"]
    );
}

pub(super) async fn a_deploy_failing_inside_its_transaction_leaves_the_old_state(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
    let before = reg.get_function("f").await.unwrap();
    let fail = || -> DeployHook {
        Box::new(|| Err(RegistryError::Unavailable("injected failure".into())))
    };
    reg.set_deploy_hook(Some(fail()));
    let err = reg
        .deploy(meta("f", "2.0.0"), code("2").into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    reg.set_deploy_hook(None);

    assert_eq!(*reg.get_function("f").await.unwrap(), *before);
    let e = reg.get_version("f", "2.0.0").await.unwrap_err();
    assert!(is_not_found(&e, Resource::Version), "{e}");
    assert_eq!(reg.history("f").await.unwrap().len(), 1);
    // The same deploy succeeds afterwards: no half-written row blocks it.
    assert!(deploy(reg.as_ref(), "f", "2.0.0", "2").await.created);
    // Also for a first deploy: no function row is left behind.
    reg.set_deploy_hook(Some(fail()));
    assert!(
        reg.deploy(meta("g", "1.0.0"), code("g").into())
            .await
            .is_err()
    );
    reg.set_deploy_hook(None);
    assert!(is_not_found(
        &reg.get_function("g").await.unwrap_err(),
        Resource::Function
    ));
    assert_eq!(reg.list_functions().await.unwrap().len(), 1);
}

pub(super) async fn a_corrupt_component_is_never_served_and_an_identical_redeploy_heals_it(
    fx: &dyn Fixture,
) {
    let reg = fx.open().await;
    let digest = deploy(reg.as_ref(), "f", "1.0.0", "good")
        .await
        .version
        .component
        .digest;
    fx.corrupt_component(&digest).await;
    let err = reg.read_component(&digest).await.unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt(_)), "{err}");

    assert!(!deploy(reg.as_ref(), "f", "1.0.0", "good").await.created);
    assert_eq!(reg.read_component(&digest).await.unwrap(), code("good"));

    fx.remove_component(&digest).await;
    let err = reg.read_component(&digest).await.unwrap_err();
    assert!(is_not_found(&err, Resource::Component), "{err}");
    // An identical redeploy stores missing bytes again, too.
    assert!(!deploy(reg.as_ref(), "f", "1.0.0", "good").await.created);
    assert_eq!(reg.read_component(&digest).await.unwrap(), code("good"));
}

pub(super) async fn gc_removes_unreferenced_components_only(fx: &dyn Fixture) {
    let reg = fx.open().await;
    let kept = deploy(reg.as_ref(), "f", "1.0.0", "kept")
        .await
        .version
        .component
        .digest;
    let orphan = fx.store_orphan_component(b"orphan").await;
    assert!(fx.component_stored(&orphan).await);
    let report = reg.gc_components().await.unwrap();
    assert_eq!(report.components_removed, 1);
    assert!(!fx.component_stored(&orphan).await);
    assert_eq!(reg.read_component(&kept).await.unwrap(), code("kept"));
    assert_eq!(reg.gc_components().await.unwrap(), GcReport::default());
}

pub(super) async fn api_keys_create_verify_revoke_expire(fx: &dyn Fixture) {
    let reg = fx.open().await;
    assert!(reg.list_keys().await.unwrap().is_empty());
    let a = reg.create_key(NewKey::admin("admin", None)).await.unwrap();
    let in_an_hour = Timestamp::from_millis(Timestamp::now().as_millis() + 3_600_000);
    let b = reg
        .create_key(NewKey::admin("ci", Some(in_an_hour)))
        .await
        .unwrap();
    assert!(a.key.starts_with(API_KEY_PREFIX));
    assert_eq!(a.record.prefix, &a.key[..API_KEY_DISPLAY_PREFIX_LEN]);
    assert!(!format!("{a:?}").contains(&a.key));

    let info = reg.verify_key(Some(&a.key)).await.unwrap();
    assert_eq!(
        (info.id.as_str(), info.name.as_str(), info.expires_at),
        (a.record.id.as_str(), "admin", None)
    );
    let info = reg.verify_key(Some(&b.key)).await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.expires_at),
        ("ci", Some(in_an_hour))
    );
    assert!(matches!(
        reg.verify_key(None).await,
        Err(AuthError::Missing)
    ));
    assert!(matches!(
        reg.verify_key(Some("")).await,
        Err(AuthError::Missing)
    ));
    assert!(matches!(
        reg.verify_key(Some("fdo_not-a-key")).await,
        Err(AuthError::Invalid)
    ));
    assert!(matches!(
        reg.verify_key(Some(&a.key[..a.key.len() - 1])).await,
        Err(AuthError::Invalid)
    ));
    assert_eq!(AuthError::Missing.to_string(), "Missing API key");
    assert_eq!(AuthError::Invalid.to_string(), "Invalid API key");

    // Revocation takes effect at once and is idempotent.
    let revoked = reg.revoke_key(&a.record.id).await.unwrap();
    let revoked_at = revoked.revoked_at.unwrap();
    assert!(matches!(
        reg.verify_key(Some(&a.key)).await,
        Err(AuthError::Invalid)
    ));
    assert_eq!(
        reg.revoke_key(&a.record.id).await.unwrap().revoked_at,
        Some(revoked_at)
    );
    let e = reg.revoke_key("key_nope").await.unwrap_err();
    assert!(is_not_found(&e, Resource::ApiKey), "{e}");
    let statuses: Vec<(String, KeyStatus)> = reg
        .list_keys()
        .await
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

    // Expiry: b's expiry moves into the past behind the registry's back.
    fx.expire_key(&b.record.id).await;
    reg.refresh().await.unwrap();
    assert!(matches!(
        reg.verify_key(Some(&b.key)).await,
        Err(AuthError::Invalid)
    ));

    // Validation of inputs.
    assert!(matches!(
        reg.create_key(NewKey::admin("", None)).await,
        Err(RegistryError::Invalid(_))
    ));
    let past = reg
        .create_key(NewKey::admin("late", Some(Timestamp::from_millis(1))))
        .await
        .unwrap_err();
    assert!(
        matches!(past, RegistryError::Invalid(ref v) if v.field == "expiresAt"),
        "{past}"
    );
}

pub(super) async fn keys_are_stored_only_as_hashes(fx: &dyn Fixture) {
    let key = {
        let reg = fx.open().await;
        let key = reg.create_key(NewKey::admin("admin", None)).await.unwrap();
        tokio::task::spawn_blocking(move || drop(reg))
            .await
            .unwrap();
        key
    };
    let secret_part = &key.key[API_KEY_DISPLAY_PREFIX_LEN..];
    assert!(!fx.stored_anywhere(secret_part.as_bytes()).await);
    // The check itself finds what is stored in clear: the key's name and display prefix.
    assert!(fx.stored_anywhere(key.record.prefix.as_bytes()).await);
}

pub(super) async fn other_handles_changes_are_picked_up(fx: &dyn Fixture) {
    let server = fx.open().await;
    let cli = fx.open_other().await;
    let key = cli
        .create_key(NewKey::admin("from-cli", None))
        .await
        .unwrap();
    eventually("the new key works on the server", || async {
        server.verify_key(Some(&key.key)).await.is_ok()
    })
    .await;
    cli.revoke_key(&key.record.id).await.unwrap();
    eventually("the revoked key is refused on the server", || async {
        matches!(
            server.verify_key(Some(&key.key)).await,
            Err(AuthError::Invalid)
        )
    })
    .await;

    let active = |reg: Arc<dyn Registry>| async move {
        reg.get_function("f")
            .await
            .map(|f| f.active.version.clone())
            .ok()
    };
    deploy(cli.as_ref(), "f", "1.0.0", "1").await;
    eventually("the server sees 1.0.0", || async {
        active(server.clone()).await.as_deref() == Some("1.0.0")
    })
    .await;
    deploy(cli.as_ref(), "f", "2.0.0", "2").await;
    eventually("the server sees 2.0.0", || async {
        active(server.clone()).await.as_deref() == Some("2.0.0")
    })
    .await;
    cli.rollback("f", "1.0.0").await.unwrap();
    eventually("the server sees the rollback", || async {
        active(server.clone()).await.as_deref() == Some("1.0.0")
    })
    .await;
    cli.delete_function("f").await.unwrap();
    eventually("the server sees the delete", || async {
        active(server.clone()).await.is_none()
    })
    .await;
}

pub(super) async fn reads_stay_consistent_under_concurrent_deploys(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "0").await;
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let reg = Arc::clone(&reg);
            tokio::spawn(async move {
                let mut last = semver::Version::new(0, 0, 0);
                for _ in 0..300 {
                    let f = reg.get_function("f").await.unwrap();
                    let v = semver::Version::parse(&f.active.version).unwrap();
                    // Never goes backwards, and code always matches the version.
                    assert!(v >= last, "{v} after {last}");
                    assert_eq!(
                        f.active.component.digest,
                        Digest::of(&code(&v.minor.to_string()))
                    );
                    last = v;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for minor in 1..=20 {
        deploy(
            reg.as_ref(),
            "f",
            &format!("1.{minor}.0"),
            &minor.to_string(),
        )
        .await;
    }
    for r in readers {
        r.await.unwrap();
    }
    assert_eq!(
        reg.get_function("f").await.unwrap().active.version,
        "1.20.0"
    );
}

pub(super) async fn logs_batch_filter_order_and_limit(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
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
    flush(&w).await;
    assert_eq!(w.stats().dropped, 0);

    let msgs = |q: LogQuery| {
        let reg = reg.clone();
        async move {
            reg.logs(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.entry.message)
                .collect::<Vec<_>>()
        }
    };
    let all = reg.logs(&LogQuery::new("f")).await.unwrap();
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
    assert_eq!(msgs(q).await, ["m18", "m14", "m10", "m6", "m2"]);
    let q = LogQuery {
        level: Some(LevelFilter::AtLeast(LogLevel::Warn)),
        limit: 3,
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(q).await, ["m19", "m18", "m15"]);
    let q = LogQuery {
        after: Some(Timestamp::from_millis(1_016)),
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(q).await, ["m19", "m18", "m17"]);
    let q = LogQuery {
        after: Some(Timestamp::from_millis(1_005)),
        limit: 2,
        order: LogOrder::OldestFirst,
        ..LogQuery::new("f")
    };
    assert_eq!(msgs(q).await, ["m6", "m7"]);
    let q = LogQuery {
        limit: 0,
        ..LogQuery::new("f")
    };
    assert!(msgs(q).await.is_empty());
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
    assert!(is_not_found(
        &reg.logs(&LogQuery::new("ghost")).await.unwrap_err(),
        Resource::Function
    ));
}

/// Messages of `id`'s stored entries, newest first.
async fn stored_messages(reg: &dyn Registry, id: &str) -> Vec<String> {
    reg.logs(&LogQuery {
        limit: 1000,
        ..LogQuery::new(id)
    })
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.entry.message)
    .collect()
}

fn retention(retention: usize) -> LogWriterConfig {
    LogWriterConfig {
        retention,
        ..LogWriterConfig::default()
    }
}

pub(super) async fn log_retention_is_bounded_per_function(fx: &dyn Fixture) {
    let reg = fx
        .open_with(LogWriterConfig {
            batch_size: 64,
            ..retention(50)
        })
        .await;
    deploy(reg.as_ref(), "busy", "1.0.0", "1").await;
    deploy(reg.as_ref(), "quiet", "1.0.0", "1").await;
    let w = reg.log_writer();
    for i in 0..1_000i64 {
        push(&w, entry("busy", i, LogLevel::Info, &format!("b{i}"))).await;
    }
    w.push(entry("quiet", 1, LogLevel::Info, "q"));
    flush(&w).await;
    let busy = stored_messages(reg.as_ref(), "busy").await;
    assert_eq!(busy.len(), 50);
    assert_eq!(busy[0], "b999");
    assert_eq!(busy[49], "b950");
    assert_eq!(stored_messages(reg.as_ref(), "quiet").await, ["q"]);
}

pub(super) async fn log_retention_is_exact_for_many_functions_logging_at_once(fx: &dyn Fixture) {
    let reg = fx.open_with(retention(30)).await;
    let functions: Vec<String> = (0..20).map(|f| format!("f{f}")).collect();
    for f in &functions {
        deploy(reg.as_ref(), f, "1.0.0", "1").await;
    }
    let w = reg.log_writer();
    // Interleaved, over several batches and trims: 100 entries for each function.
    for i in 0..100i64 {
        for f in &functions {
            push(&w, entry(f, i, LogLevel::Info, &format!("{f}-{i}"))).await;
        }
        if i % 7 == 0 {
            flush(&w).await;
        }
    }
    flush(&w).await;
    for f in &functions {
        let expected: Vec<String> = (70..100).rev().map(|i| format!("{f}-{i}")).collect();
        assert_eq!(stored_messages(reg.as_ref(), f).await, expected, "{f}");
    }
}

pub(super) async fn a_function_deleted_and_deployed_again_keeps_its_new_entries(fx: &dyn Fixture) {
    let reg = fx.open_with(retention(10)).await;
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
    let w = reg.log_writer();
    for i in 0..7 {
        w.push(entry("f", i, LogLevel::Info, &format!("old-{i}")));
    }
    flush(&w).await;
    assert_eq!(stored_messages(reg.as_ref(), "f").await.len(), 7);

    // The delete takes the entries with it, behind the log writer's back.
    reg.delete_function("f").await.unwrap();
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
    for i in 0..5 {
        w.push(entry("f", i, LogLevel::Info, &format!("new-{i}")));
    }
    flush(&w).await;
    let expected: Vec<String> = (0..5).rev().map(|i| format!("new-{i}")).collect();
    assert_eq!(stored_messages(reg.as_ref(), "f").await, expected);

    for i in 5..13 {
        w.push(entry("f", i, LogLevel::Info, &format!("new-{i}")));
    }
    flush(&w).await;
    let expected: Vec<String> = (3..13).rev().map(|i| format!("new-{i}")).collect();
    assert_eq!(stored_messages(reg.as_ref(), "f").await, expected);
}

pub(super) async fn the_registry_is_usable_from_other_tasks(fx: &dyn Fixture) {
    let reg = fx.open().await;
    deploy(reg.as_ref(), "f", "1.0.0", "1").await;
    let shared = Arc::clone(&reg);
    let id = tokio::spawn(async move { shared.get_function("f").await.unwrap().id.clone() })
        .await
        .unwrap();
    assert_eq!(id, "f");
}

pub(super) async fn the_first_key_is_created_once_by_hosts_starting_together(fx: &dyn Fixture) {
    let hosts = [fx.open().await, fx.open_other().await];
    let tries: Vec<_> = hosts
        .iter()
        .chain(hosts.iter())
        .map(|reg| {
            let reg = Arc::clone(reg);
            tokio::spawn(async move { reg.create_first_key("admin").await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for t in tries {
        created += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(created, 1);
    assert_eq!(hosts[0].list_keys().await.unwrap().len(), 1);
    assert!(hosts[1].create_first_key("admin").await.unwrap().is_none());
}

// --- Access (issue 22): namespaces, privacy, scoped keys.

fn in_namespace(id: &str, version: &str, namespace: &str) -> DeployMetadata {
    DeployMetadata::try_from(DeployFields {
        namespace: Some(namespace.into()),
        ..fields(id, version)
    })
    .unwrap()
}

pub(super) async fn namespaces_hold_functions_env_and_a_token_key(f: &dyn Fixture) {
    let reg = f.open().await;
    let listed = reg.list_namespaces().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record.name, "default");
    let default_key = listed[0].record.token_key.clone();
    assert_ne!(default_key.seed, [0; 32]);
    let shop = reg
        .create_namespace(NewNamespace {
            name: "shop".into(),
            description: "the shop".into(),
            env: BTreeMap::from([("CURRENCY".into(), "EUR".into())]),
            secrets: Secrets::new(BTreeMap::from([(
                "NS_SECRET".into(),
                "ns-secret-value".into(),
            )]))
            .unwrap(),
        })
        .await
        .unwrap();
    assert!(matches!(
        reg.create_namespace(NewNamespace {
            name: "shop".into(),
            ..Default::default()
        })
        .await,
        Err(RegistryError::Conflict(_))
    ));
    assert!(matches!(
        reg.create_namespace(NewNamespace {
            name: "-bad".into(),
            ..Default::default()
        })
        .await,
        Err(RegistryError::Invalid(_))
    ));
    // A deploy lands in `default` unless it names a namespace, which must exist.
    assert_eq!(
        deploy(&*reg, "plain", "1.0.0", "a")
            .await
            .function
            .namespace,
        "default"
    );
    let cart = reg
        .deploy(in_namespace("cart", "1.0.0", "shop"), code("a").into())
        .await
        .unwrap();
    assert_eq!(cart.function.namespace, "shop");
    assert!(matches!(
        reg.deploy(in_namespace("ghost", "1.0.0", "nowhere"), code("a").into())
            .await,
        Err(RegistryError::NotFound {
            resource: Resource::Namespace,
            ..
        })
    ));
    // No moves by deploy, even of an identical version.
    for version in ["1.0.0", "1.0.1"] {
        assert!(matches!(
            reg.deploy(in_namespace("cart", version, "default"), code("a").into())
                .await,
            Err(RegistryError::Conflict(_))
        ));
    }
    assert_eq!(reg.get_function("cart").await.unwrap().namespace, "shop");
    // Changing env and secrets records a history row for each function, names only.
    let update = reg
        .update_namespace(
            "shop",
            NamespacePatch {
                env: BTreeMap::from([("CURRENCY".into(), Some("USD".into()))]),
                secrets: BTreeMap::from([("NS_SECRET".into(), None)]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(update.functions, ["cart"]);
    assert_eq!(update.record.env["CURRENCY"], "USD");
    assert!(update.record.secrets.is_empty());
    let history = reg.history("cart").await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.action, HistoryAction::Namespace);
    let detail = last.detail.as_deref().unwrap();
    assert!(
        detail.contains("CURRENCY") && detail.contains("NS_SECRET"),
        "{detail}"
    );
    assert!(!detail.contains("ns-secret-value"));
    assert_eq!(
        reg.get_namespace("shop").await.unwrap().env["CURRENCY"],
        "USD"
    );
    // A description change alone writes no history.
    let quiet = reg
        .update_namespace(
            "shop",
            NamespacePatch {
                description: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(quiet.functions.is_empty() && quiet.detail.is_none());
    // Rotation: a new key and id; the old ones are gone.
    let rotated = reg.rotate_token_key("shop").await.unwrap();
    assert_ne!(rotated.token_key, shop.token_key);
    assert_eq!(
        reg.get_namespace("shop").await.unwrap().token_key,
        rotated.token_key
    );
    assert_eq!(
        reg.get_namespace("default").await.unwrap().token_key,
        default_key
    );
    let counts: Vec<(String, usize)> = reg
        .list_namespaces()
        .await
        .unwrap()
        .iter()
        .map(|n| (n.record.name.clone(), n.function_count))
        .collect();
    assert_eq!(counts, [("default".into(), 1), ("shop".into(), 1)]);
    // Everything survives a reopen.
    drop(reg);
    let reg = f.open().await;
    assert_eq!(
        reg.get_namespace("shop").await.unwrap().token_key,
        rotated.token_key
    );
    assert_eq!(reg.get_function("cart").await.unwrap().namespace, "shop");
}

pub(super) async fn namespace_cascade_delete_takes_everything_in_one_go(f: &dyn Fixture) {
    let reg = f.open().await;
    reg.create_namespace(NewNamespace {
        name: "shop".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let cart = reg
        .deploy(in_namespace("cart", "1.0.0", "shop"), code("cart").into())
        .await
        .unwrap();
    reg.deploy(in_namespace("cart", "1.1.0", "shop"), code("cart").into())
        .await
        .unwrap();
    reg.deploy(in_namespace("pay", "1.0.0", "shop"), code("shared").into())
        .await
        .unwrap();
    deploy(&*reg, "outside", "1.0.0", "shared").await;
    let w = reg.log_writer();
    push(&w, entry("cart", 1, LogLevel::Info, "hi")).await;
    flush(&w).await;
    assert!(matches!(
        reg.delete_namespace("shop", false).await,
        Err(RegistryError::Conflict(_))
    ));
    assert_eq!(reg.list_versions("cart").await.unwrap().len(), 2);
    assert!(matches!(
        reg.delete_namespace("default", true).await,
        Err(RegistryError::Invalid(_))
    ));
    assert!(matches!(
        reg.delete_namespace("ghost", true).await,
        Err(RegistryError::NotFound {
            resource: Resource::Namespace,
            ..
        })
    ));
    let gone = reg.delete_namespace("shop", true).await.unwrap();
    assert_eq!(gone.functions, ["cart", "pay"]);
    // cart's component went; the one `outside` shares with pay stayed.
    assert_eq!(gone.components_removed, 1);
    assert!(!f.component_stored(&cart.version.component.digest).await);
    for table in ["versions", "history", "logs"] {
        assert_eq!(f.rows_of_function(table, "cart").await, 0, "{table}");
    }
    assert!(matches!(
        reg.get_function("cart").await,
        Err(RegistryError::NotFound { .. })
    ));
    assert!(matches!(
        reg.get_namespace("shop").await,
        Err(RegistryError::NotFound { .. })
    ));
    reg.get_function("outside").await.unwrap();
    // The name and the ids are free again.
    reg.create_namespace(NewNamespace {
        name: "shop".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    reg.deploy(in_namespace("cart", "1.0.0", "shop"), code("cart").into())
        .await
        .unwrap();
}

pub(super) async fn privacy_changes_are_history_not_versions(f: &dyn Fixture) {
    let reg = f.open().await;
    let d = deploy(&*reg, "f", "1.0.0", "a").await;
    assert_eq!(d.function.privacy, Privacy::Private);
    let change = reg.set_privacy("f", Privacy::Public).await.unwrap();
    assert_eq!(
        (change.previous, change.function.privacy),
        (Privacy::Private, Privacy::Public)
    );
    // Setting it again changes nothing and writes nothing.
    reg.set_privacy("f", Privacy::Public).await.unwrap();
    let history = reg.history("f").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, HistoryAction::Privacy);
    assert_eq!(history[1].detail.as_deref(), Some("private -> public"));
    assert_eq!(reg.list_versions("f").await.unwrap().len(), 1);
    assert_eq!(
        reg.get_function("f").await.unwrap().privacy,
        Privacy::Public
    );
    // A new version keeps the privacy; a deploy that asks for another one records it.
    assert_eq!(
        deploy(&*reg, "f", "1.1.0", "b").await.function.privacy,
        Privacy::Public
    );
    let private = DeployMetadata::try_from(DeployFields {
        privacy: Some(Privacy::Private),
        ..fields("f", "1.2.0")
    })
    .unwrap();
    let d = reg.deploy(private, code("c").into()).await.unwrap();
    assert_eq!(d.function.privacy, Privacy::Private);
    let actions: Vec<HistoryAction> = reg
        .history("f")
        .await
        .unwrap()
        .iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(actions.last(), Some(&HistoryAction::Privacy));
    assert!(matches!(
        reg.set_privacy("ghost", Privacy::Public).await,
        Err(RegistryError::NotFound { .. })
    ));
}

pub(super) async fn keys_carry_a_role_and_namespaces(f: &dyn Fixture) {
    let reg = f.open().await;
    reg.create_namespace(NewNamespace {
        name: "shop".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let shop = crate::model::access::Namespaces::only(["shop"]).unwrap();
    let key = reg
        .create_key(NewKey {
            name: "svc".into(),
            expires_at: None,
            role: crate::model::access::Role::Invoke,
            namespaces: shop.clone(),
        })
        .await
        .unwrap();
    let info = reg.verify_key(Some(&key.key)).await.unwrap();
    assert_eq!(
        (info.role, info.namespaces),
        (crate::model::access::Role::Invoke, shop.clone())
    );
    let admin = reg.create_key(NewKey::admin("admin", None)).await.unwrap();
    let info = reg.verify_key(Some(&admin.key)).await.unwrap();
    assert_eq!(info.namespaces, crate::model::access::Namespaces::All);
    assert!(matches!(
        reg.create_key(NewKey {
            namespaces: crate::model::access::Namespaces::only(["nowhere"]).unwrap(),
            ..NewKey::admin("x", None)
        })
        .await,
        Err(RegistryError::NotFound {
            resource: Resource::Namespace,
            ..
        })
    ));
    drop(reg);
    let listed = f.open().await.list_keys().await.unwrap();
    let svc = listed.iter().find(|k| k.name == "svc").unwrap();
    assert_eq!(svc.namespaces, shop);
}
