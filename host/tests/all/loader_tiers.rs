//! Every path through the loader: compile, memory hit, disk hit, corrupt, incompatible and
//! missing artifacts, an unwritable cache, shared concurrent compiles, bad input, and an
//! engine without pooling.

use std::sync::Arc;

use crate::support::*;
use fdo::engine::{EngineConfig, EngineHandle};
use fdo::loader::{LoadError, LoadTier, Loader};
use fdo::model::Digest;
use fdo::runtime::Runtime;

/// Deploys the answer component and drops it from the memory tier: the next load goes to disk.
async fn deployed_then_evicted(core: &Core) -> (Vec<u8>, Digest) {
    let bytes = answer();
    let digest = Digest::of(&bytes);
    core.deploy(bytes.clone()).await;
    core.loader.evict(&digest).await;
    (bytes, digest)
}

fn source(bytes: Vec<u8>) -> impl Fn(&Digest) -> Result<Vec<u8>, String> + Send + Sync {
    move |_| Ok(bytes.clone())
}

#[tokio::test]
async fn deploy_compiles_then_memory_then_disk() {
    let core = Core::new();
    let bytes = answer();
    let digest = Digest::of(&bytes);

    let first = core.deploy(bytes.clone()).await;
    assert_eq!(first.tier, LoadTier::Compile);
    assert!(
        !first.from_cache && first.success && !first.degraded,
        "{first:?}"
    );
    assert!(
        core.loader.disk().verified(&digest).unwrap().is_some(),
        "artifact written at deploy"
    );

    let hit = core
        .loader
        .load(&digest, &source(bytes.clone()))
        .await
        .unwrap();
    assert_eq!(hit.tier, LoadTier::Memory);
    assert!(hit.from_cache && !hit.degraded);
    assert!(Arc::ptr_eq(&hit.component, &first.component));

    core.loader.evict(&digest).await;
    let from_disk = core.loader.load(&digest, &source(bytes)).await.unwrap();
    assert_eq!(from_disk.tier, LoadTier::Disk);
    assert!(from_disk.from_cache && !from_disk.degraded, "{from_disk:?}");
    assert_answers_42(&core.runtime, &from_disk.component).await;
}

#[tokio::test]
async fn corrupt_artifact_is_discarded_and_recompiled() {
    let core = Core::new();
    let (bytes, digest) = deployed_then_evicted(&core).await;

    let path = core.loader.disk().artifact_path(&digest);
    let mut art = std::fs::read(&path).unwrap();
    let mid = art.len() / 2;
    art[mid] ^= 0xff;
    std::fs::write(&path, &art).unwrap();

    let res = core
        .loader
        .load(&digest, &source(bytes.clone()))
        .await
        .unwrap();
    assert_eq!(res.tier, LoadTier::Compile);
    assert!(res.degraded);
    assert!(
        res.degradation_reason
            .as_deref()
            .unwrap()
            .contains("corrupt"),
        "{res:?}"
    );
    assert_answers_42(&core.runtime, &res.component).await;
    // The artifact was rewritten and is good again.
    core.loader.evict(&digest).await;
    assert_eq!(
        core.loader
            .load(&digest, &source(bytes))
            .await
            .unwrap()
            .tier,
        LoadTier::Disk
    );
}

#[tokio::test]
async fn truncated_artifact_is_discarded_and_recompiled() {
    let core = Core::new();
    let (bytes, digest) = deployed_then_evicted(&core).await;
    let path = core.loader.disk().artifact_path(&digest);
    let art = std::fs::read(&path).unwrap();
    std::fs::write(&path, &art[..art.len() / 3]).unwrap();

    let res = core.loader.load(&digest, &source(bytes)).await.unwrap();
    assert_eq!(res.tier, LoadTier::Compile);
    assert!(
        res.degradation_reason
            .as_deref()
            .unwrap()
            .contains("corrupt"),
        "{res:?}"
    );
}

#[tokio::test]
async fn artifact_from_another_engine_is_rejected_and_recompiled() {
    let core = Core::new();
    let (bytes, digest) = deployed_then_evicted(&core).await;

    // A well-formed artifact with a valid checksum, compiled by an engine with other settings.
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(false).wasm_component_model(true);
    let foreign_engine = wasmtime::Engine::new(&config).unwrap();
    let foreign = foreign_engine.precompile_component(&bytes).unwrap();
    core.loader.disk().store(&digest, &foreign).unwrap();

    let res = core.loader.load(&digest, &source(bytes)).await.unwrap();
    assert_eq!(res.tier, LoadTier::Compile);
    assert!(
        res.degradation_reason
            .as_deref()
            .unwrap()
            .contains("incompatible"),
        "{res:?}"
    );
    assert_answers_42(&core.runtime, &res.component).await;
}

#[tokio::test]
async fn missing_artifact_is_recompiled_from_the_stored_component() {
    let core = Core::new();
    let (bytes, digest) = deployed_then_evicted(&core).await;
    core.loader.disk().discard(&digest);

    let res = core.loader.load(&digest, &source(bytes)).await.unwrap();
    assert_eq!(res.tier, LoadTier::Compile);
    assert!(
        res.degradation_reason
            .as_deref()
            .unwrap()
            .contains("missing"),
        "{res:?}"
    );
    assert!(
        core.loader.disk().verified(&digest).unwrap().is_some(),
        "artifact rewritten"
    );
}

#[tokio::test]
async fn unwritable_cache_directory_runs_memory_only() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let runtime = Arc::new(
        Runtime::new(
            EngineHandle::new(engine_config()).unwrap(),
            std::time::Duration::from_secs(1),
        )
        .unwrap(),
    );
    let loader = Loader::new(runtime.clone(), Some(&blocker), 64 << 20);

    let res = loader.compile_new(Arc::new(answer())).await.unwrap();
    assert!(res.degraded);
    assert!(
        res.degradation_reason
            .as_deref()
            .unwrap()
            .contains("memory-only"),
        "{res:?}"
    );
    assert_answers_42(&runtime, &res.component).await;
}

#[tokio::test]
async fn concurrent_loads_share_one_compile() {
    let core = Arc::new(Core::new());
    let bytes = answer();
    let digest = Digest::of(&bytes);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (core, bytes, digest) = (core.clone(), bytes.clone(), digest);
        tasks.push(tokio::spawn(async move {
            core.loader.load(&digest, &source(bytes)).await.unwrap()
        }));
    }
    let mut compiled = 0;
    let mut first = None;
    for t in tasks {
        let res = t.await.unwrap();
        if res.tier == LoadTier::Compile {
            compiled += 1;
        }
        let ptr = Arc::as_ptr(&res.component);
        assert_eq!(
            *first.get_or_insert(ptr),
            ptr,
            "all loads got the same component"
        );
    }
    assert_eq!(compiled, 1);
    assert_eq!(
        core.loader
            .stats()
            .compiles
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn bad_bytes_are_rejected_with_a_reason() {
    let core = Core::new();
    let err = core
        .loader
        .compile_new(Arc::new(b"hello world".to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(m) if m.contains("magic")),
        "{err}"
    );

    let core_module = wat::parse_str("(module)").unwrap();
    let err = core
        .loader
        .compile_new(Arc::new(core_module))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Invalid(m) if m.contains("core WebAssembly module without a `_start` export")),
        "{err}"
    );

    let mut truncated = answer();
    truncated.truncate(truncated.len() - 5);
    let err = core
        .loader
        .compile_new(Arc::new(truncated))
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Invalid(_)), "{err}");

    let unlinkable =
        wat::parse_str(r#"(component (import "acme:nope/thing" (instance (export "f" (func)))))"#)
            .unwrap();
    let err = core
        .loader
        .compile_new(Arc::new(unlinkable))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be linked"), "{err}");
}

#[tokio::test]
async fn pooling_refused_falls_back_to_on_demand() {
    // A pool this size needs petabytes of address space: the OS refuses the reservation.
    let config = EngineConfig {
        max_instances: 200_000,
        ..EngineConfig::default()
    };
    let engine = EngineHandle::new(config).unwrap();
    let reason = engine.degraded().expect("degraded engine").to_owned();
    assert!(reason.contains("on-demand"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(Runtime::new(engine, std::time::Duration::from_secs(1)).unwrap());
    let loader = Loader::new(runtime.clone(), Some(dir.path()), 64 << 20);
    let res = loader.compile_new(Arc::new(answer())).await.unwrap();
    assert!(
        res.degraded
            && res
                .degradation_reason
                .as_deref()
                .unwrap()
                .contains("on-demand")
    );
    assert_answers_42(&runtime, &res.component).await;
}
