//! The wasmtime [`Engine`] fdo runs every component on, and the ticker that drives its deadlines.
//!
//! One engine serves the whole host: its configuration decides what compiled code looks like, so
//! the disk cache is keyed by [`EngineHandle::compatibility_key`]. The pooling allocator is sized
//! from [`EngineConfig`]; where the OS refuses the pool's address-space reservation the engine
//! falls back to on-demand allocation and says so in [`EngineHandle::degraded`].

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

/// How often the epoch ticker advances the engine's epoch. Deadlines are measured in ticks, so
/// this is the resolution of every timeout and of the yields that keep a spinning guest from
/// monopolising a runtime thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Ticks with no call running after which the ticker sleeps until the next call: an idle host
/// does not wake a thousand times a second.
pub const IDLE_TICKS: u32 = 100;

/// Default number of component instances the pool holds at once (the host-wide instance cap).
pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

/// Default largest linear memory any instance may have, in MiB (per-function limits sit below).
pub const DEFAULT_MAX_MEMORY_MB: u64 = 4096;

/// Bytes of each freed linear memory reset in place (memset) rather than returned to the OS,
/// so the next instance in the slot does not fault its pages in again. Small guests touch
/// less than this; larger ones pay `madvise` only for the rest.
pub const DEFAULT_MEMORY_KEEP_RESIDENT: usize = 1 << 20;

/// Bytes of each freed table reset in place (see [`DEFAULT_MEMORY_KEEP_RESIDENT`]).
pub const DEFAULT_TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Default maximum wasm stack, in bytes: deep recursion past it is a stack-overflow trap.
pub const DEFAULT_MAX_WASM_STACK: usize = 1024 * 1024;

/// Settings that shape the engine. Changing any of them changes compiled code or the pool.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Instances the pooling allocator holds at once; also the host-wide concurrency cap.
    pub max_instances: u32,
    /// Largest linear memory of any instance, in MiB.
    pub max_memory_mb: u64,
    /// Maximum wasm stack in bytes.
    pub max_wasm_stack: usize,
    /// Use the pooling allocator (falls back to on-demand if the OS refuses it).
    pub pooling: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_instances: DEFAULT_MAX_INSTANCES,
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            pooling: true,
        }
    }
}

/// The engine plus what the rest of the host needs to know about how it was built.
#[derive(Clone)]
pub struct EngineHandle {
    engine: Engine,
    /// Why the engine runs in a degraded mode (pooling refused), if it does.
    degraded: Option<String>,
    /// Stops the ticker thread when the last handle is dropped; wakes it for calls.
    ticker: Arc<Ticker>,
    compatibility_key: String,
    config: EngineConfig,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle")
            .field("degraded", &self.degraded)
            .field("compatibility_key", &self.compatibility_key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EngineHandle {
    /// Builds the engine: pooling if possible, on-demand (degraded) otherwise, and starts the
    /// epoch ticker.
    pub fn new(config: EngineConfig) -> anyhow::Result<Self> {
        let (engine, degraded) = if config.pooling {
            match Engine::new(base_config(&config).allocation_strategy(pooling_strategy(&config))) {
                Ok(engine) => (engine, None),
                Err(err) => {
                    let reason = format!(
                        "pooling allocator unavailable ({err:#}); using on-demand allocation"
                    );
                    tracing::warn!(%reason, "engine degraded");
                    (Engine::new(&base_config(&config))?, Some(reason))
                }
            }
        } else {
            (Engine::new(&base_config(&config))?, None)
        };
        let compatibility_key = compatibility_key(&engine);
        let ticker = Arc::new(Ticker::start(engine.clone())?);
        Ok(Self {
            engine,
            degraded,
            ticker,
            compatibility_key,
            config,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Why the engine is degraded (on-demand allocation), if it is.
    pub fn degraded(&self) -> Option<&str> {
        self.degraded.as_deref()
    }

    /// A short hex key that changes whenever compiled code from this engine would not load in
    /// another: wasmtime's own compatibility hash.
    pub fn compatibility_key(&self) -> &str {
        &self.compatibility_key
    }

    /// The settings the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Marks a call as running until the guard is dropped: the epoch ticker (which the call's
    /// deadline and yields depend on) runs while any guard lives, and is woken if it slept.
    /// Take it before the guest runs.
    pub fn running(&self) -> Running {
        Running::new(self.ticker.activity.clone())
    }

    /// Whether the ticker is asleep because no call has run for [`IDLE_TICKS`] ticks.
    pub fn ticker_asleep(&self) -> bool {
        self.ticker.activity.asleep.load(Ordering::SeqCst)
    }

    /// Number of epoch ticks that cover `duration` (at least one).
    pub fn ticks(duration: Duration) -> u64 {
        let ticks = duration.as_micros() / EPOCH_TICK.as_micros().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

fn base_config(config: &EngineConfig) -> Config {
    let mut c = Config::new();
    c.epoch_interruption(true)
        .wasm_component_model(true)
        .cranelift_opt_level(OptLevel::Speed)
        .max_wasm_stack(config.max_wasm_stack)
        .memory_init_cow(true)
        .parallel_compilation(true);
    c
}

fn pooling_strategy(config: &EngineConfig) -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::new();
    let instances = config.max_instances.max(1);
    // A component instance holds several core instances, memories and tables (interpreted
    // languages link a dozen core modules); size the totals so `instances` such components fit.
    //
    // Memories get three slots per instance, all of them allowed to stay warm. Wasmtime splits
    // the memory pool (and its warm-slot budget) into one shard per CPU and a thread only finds
    // a module's warm slot in its own shard, so with calls moving between worker threads each
    // module ends up wanting a warm slot in every shard; with two slots per instance, a host
    // rotating over `instances` distinct components kept only half of them warm per shard and
    // remapped a memory image on most calls (1,000 distinct components: 8.5k -> 14.7k req/s
    // with three, benches/RESULTS.md). Unused slots are address space only.
    let memories = instances.saturating_mul(3);
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(4))
        .total_memories(memories)
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        .table_elements(100_000)
        .max_memory_size(usize::try_from(config.max_memory_mb << 20).unwrap_or(usize::MAX))
        // Every free slot stays warm for the module it last ran, so a call finds a slot that
        // already holds its copy-on-write memory image. With fewer, a host rotating over many
        // components remaps an image on almost every call (mmap/munmap, TLB shootdowns):
        // 300 distinct components ran at 6.0k req/s with 100 warm slots, 9.5k with all of them
        // (benches/RESULTS.md), for ~50 KiB more resident memory per warm slot of a small guest.
        .max_unused_warm_slots(memories)
        // Reset the low part of a freed memory or table with memset (and with PAGEMAP_SCAN,
        // Linux 6.7+, only the pages the call dirtied) instead of madvise: no syscall when a
        // slot is freed and no page faults when it is reused. Costs at most this much RSS per
        // warm slot.
        .linear_memory_keep_resident(DEFAULT_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(DEFAULT_TABLE_KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    InstanceAllocationStrategy::Pooling(pool)
}

fn compatibility_key(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// What the ticker and the calls share.
#[derive(Debug)]
struct Activity {
    /// Calls running (guards alive).
    running: AtomicU64,
    /// Set by the ticker before it parks, cleared when it wakes.
    asleep: AtomicBool,
    /// Set when the last engine handle goes.
    stop: AtomicBool,
    /// The ticker thread, to unpark.
    thread: std::sync::OnceLock<Thread>,
}

impl Activity {
    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// A call running on the engine; see [`EngineHandle::running`].
#[derive(Debug)]
pub struct Running(Arc<Activity>);

impl Running {
    fn new(activity: Arc<Activity>) -> Self {
        // SeqCst on both sides: either the ticker, after announcing that it sleeps, sees this
        // call and stays awake, or this call sees the announcement and wakes it. (An unpark
        // that comes before the park makes the park return at once.)
        activity.running.fetch_add(1, Ordering::SeqCst);
        if activity.asleep.load(Ordering::SeqCst) {
            activity.wake();
        }
        Self(activity)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] while calls run, and
/// sleeps after [`IDLE_TICKS`] ticks without any.
struct Ticker {
    activity: Arc<Activity>,
}

impl Ticker {
    /// Without the ticker no deadline would ever fire, so failing to start it is an error.
    fn start(engine: Engine) -> std::io::Result<Self> {
        let activity = Arc::new(Activity {
            running: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
        });
        let shared = activity.clone();
        let handle = std::thread::Builder::new()
            .name("fdo-epoch".into())
            .spawn(move || {
                let activity = shared;
                let mut idle = 0;
                while !activity.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                    if activity.running.load(Ordering::SeqCst) > 0 {
                        idle = 0;
                        continue;
                    }
                    idle += 1;
                    if idle < IDLE_TICKS {
                        continue;
                    }
                    activity.asleep.store(true, Ordering::SeqCst);
                    if activity.running.load(Ordering::SeqCst) == 0
                        && !activity.stop.load(Ordering::SeqCst)
                    {
                        // Until a call (or the drop) unparks it; a spurious wake-up just
                        // ticks again and comes back here.
                        std::thread::park();
                    }
                    activity.asleep.store(false, Ordering::SeqCst);
                    idle = 0;
                }
            })?;
        let _ = activity.thread.set(handle.thread().clone());
        Ok(Self { activity })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.activity.stop.store(true, Ordering::SeqCst);
        self.activity.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_ticker_sleeps_when_idle_and_wakes_for_a_call() {
        let engine = EngineHandle::new(EngineConfig {
            pooling: false,
            ..EngineConfig::default()
        })
        .unwrap();
        wait_until("the ticker never fell asleep", || engine.ticker_asleep());
        let call = engine.running();
        wait_until("a call did not wake the ticker", || !engine.ticker_asleep());
        // Awake for as long as the call runs, however long that is.
        std::thread::sleep(EPOCH_TICK * IDLE_TICKS * 3);
        assert!(!engine.ticker_asleep(), "the ticker slept during a call");
        drop(call);
        wait_until("the ticker did not sleep again", || engine.ticker_asleep());
    }
}
