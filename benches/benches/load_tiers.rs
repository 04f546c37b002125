//! The loader's three tiers, side by side: a cold compile (what a deploy pays), a load from the
//! disk cache (what a restart or a memory-tier eviction pays) and a memory-cache hit (what every
//! call pays), for the small Rust guests and for the ~18 MB componentize-py Python guest.
//!
//! `cargo bench -p fdo-benches --bench load_tiers` (add a filter such as `python` to pick).
//!
//! Each iteration first puts the loader back into the state the tier needs (memory entry
//! evicted, and for a compile the disk artifact removed); only the `compile_new`/`load` call
//! itself is timed (`iter_custom`), and the tier it was served from is checked. Compiles take
//! 0.1 s to seconds, so those groups use 10 flat samples; the Python compile (~15 s) runs last,
//! with criterion's minimum of 10 single-iteration samples (about three minutes).

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use fdo::loader::LoadTier;
use fdo::model::Digest;
use fdo_benches::{Core, read_guest, test_guests};

/// The guests every tier is measured for: name and component path.
const GUESTS: &[(&str, &str)] = &[
    ("rpc-basic", test_guests::RPC_BASIC),
    ("http-hello", test_guests::HTTP_HELLO),
    ("typed-exports", test_guests::TYPED_EXPORTS),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Loads `bytes` (whose digest is `digest`) through the loader and returns how long the
/// `compile_new`/`load` call took, asserting the tier it came from: a bench that silently
/// measured the wrong tier would be worse than one that stops.
async fn timed_load(
    core: &Core,
    bytes: &Arc<Vec<u8>>,
    digest: &Digest,
    expect: LoadTier,
) -> Duration {
    let source = {
        let bytes = bytes.clone();
        move |_: &Digest| Ok::<_, String>(bytes.as_ref().clone())
    };
    let started = Instant::now();
    let loaded = match expect {
        LoadTier::Compile => core.loader.compile_new(bytes.clone()).await,
        _ => core.loader.load(digest, &source).await,
    };
    let elapsed = started.elapsed();
    let loaded = loaded.expect("guest loads");
    assert_eq!(loaded.tier, expect, "measured the wrong tier");
    black_box(loaded);
    elapsed
}

/// Runs `iters` timed loads from `tier`. Before each, untimed, the loader is put in the state
/// the tier needs: the memory entry evicted, and for a compile the disk artifact removed too.
fn iterate(
    rt: &tokio::runtime::Runtime,
    core: &Core,
    bytes: &Arc<Vec<u8>>,
    tier: LoadTier,
    iters: u64,
) -> Duration {
    let digest = Digest::of(bytes);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if tier != LoadTier::Memory {
            rt.block_on(core.loader.evict(&digest));
        }
        if tier == LoadTier::Compile {
            core.loader.disk().discard(&digest);
        }
        total += rt.block_on(timed_load(core, bytes, &digest, tier));
    }
    total
}

/// A guest's name and its component bytes.
type Guest = (&'static str, Arc<Vec<u8>>);

/// Every guest, read and deployed into one core (so the disk tier holds them all).
fn setup(rt: &tokio::runtime::Runtime, with_python: bool) -> (Core, Vec<Guest>) {
    let core = Core::new().expect("core");
    let mut guests = GUESTS.to_vec();
    if with_python {
        guests.push(("python-hello", test_guests::PYTHON_HELLO));
    }
    let guests: Vec<_> = guests
        .into_iter()
        .map(|(name, path)| {
            let bytes = read_guest(path).expect("guest component");
            rt.block_on(core.deploy(&bytes)).expect("deploy");
            (name, bytes)
        })
        .collect();
    (core, guests)
}

/// Cold compiles of the small guests: ~0.1-1 s each, so 10 flat samples.
fn compile(c: &mut Criterion) {
    let rt = runtime();
    let (core, guests) = setup(&rt, false);
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    for (name, bytes) in &guests {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| iterate(&rt, &core, bytes, LoadTier::Compile, iters))
        });
    }
    group.finish();
}

/// Disk-cache loads (verify checksum, map the artifact, pre-instantiate) and memory hits, the
/// Python guest included.
fn cached(c: &mut Criterion) {
    let rt = runtime();
    let (core, guests) = setup(&rt, true);
    let mut group = c.benchmark_group("disk_cache_load");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    for (name, bytes) in &guests {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| iterate(&rt, &core, bytes, LoadTier::Disk, iters))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("memory_cache_hit");
    for (name, bytes) in &guests {
        // Fill the memory tier, untimed (evicted first, so the load is a known disk load).
        let digest = Digest::of(bytes);
        rt.block_on(core.loader.evict(&digest));
        rt.block_on(timed_load(&core, bytes, &digest, LoadTier::Disk));
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| iterate(&rt, &core, bytes, LoadTier::Memory, iters))
        });
    }
    group.finish();
}

/// The Python guest's cold compile: seconds per iteration, so criterion's minimum of 10
/// single-iteration samples, no warm-up to speak of (expect ~3 minutes).
fn compile_python(c: &mut Criterion) {
    let rt = runtime();
    let core = Core::new().expect("core");
    let bytes = read_guest(test_guests::PYTHON_HELLO).expect("python guest");
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(60));
    group.bench_function("python-hello", |b| {
        b.iter_custom(|iters| iterate(&rt, &core, &bytes, LoadTier::Compile, iters))
    });
    group.finish();
}

criterion_group!(benches, compile, cached, compile_python);
criterion_main!(benches);
