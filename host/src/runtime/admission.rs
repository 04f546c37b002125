//! Admission of calls: every call holds a slot of its function's `maxConcurrency` and one of the
//! host-wide instance cap for as long as it runs; a call that cannot get both within the queue
//! timeout fails as [`InvokeError::Busy`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{CallSpec, InvokeError, millis};
use crate::engine::EngineHandle;

/// Default time an excess call waits for a free instance slot before it is refused as busy.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_millis(2000);

/// The two caps every call must pass, and the count of instances in flight.
pub(super) struct Admission {
    /// Host-wide instance cap: never more instances than the pooling allocator holds, so a
    /// burst waits here instead of failing inside wasmtime.
    instances: Arc<Semaphore>,
    /// The host-wide cap's size, for messages.
    max_instances: u32,
    /// Per-function caps, keyed by function id, with the limit they were created for.
    functions: DashMap<Arc<str>, (u32, Arc<Semaphore>), crate::FastHash>,
    queue_timeout: Duration,
    in_flight: Arc<AtomicU64>,
}

impl Admission {
    /// Caps of `max_instances` host-wide; excess calls wait up to `queue_timeout`.
    pub(super) fn new(max_instances: u32, queue_timeout: Duration) -> Self {
        Self {
            instances: Arc::new(Semaphore::new(max_instances as usize)),
            max_instances,
            functions: DashMap::default(),
            queue_timeout,
            in_flight: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Instances running right now.
    pub(super) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Waits for a slot of the function's cap and one of the host's, up to the queue timeout.
    pub(super) async fn admit(
        &self,
        spec: &CallSpec,
    ) -> Result<[OwnedSemaphorePermit; 2], InvokeError> {
        let per_function = self.function_semaphore(spec);
        let wait = async {
            let f = per_function.acquire_owned().await;
            let g = self.instances.clone().acquire_owned().await;
            match (f, g) {
                (Ok(f), Ok(g)) => Some([f, g]),
                _ => None,
            }
        };
        match tokio::time::timeout(self.queue_timeout, wait).await {
            Ok(Some(permits)) => Ok(permits),
            Ok(None) => Err(InvokeError::Busy("the host is shutting down".into())),
            Err(_) => Err(InvokeError::Busy(format!(
                "no instance slot became free within {} ms (maxConcurrency {} for this function, {} host-wide)",
                millis(self.queue_timeout),
                spec.limits.max_concurrency,
                self.max_instances
            ))),
        }
    }

    fn function_semaphore(&self, spec: &CallSpec) -> Arc<Semaphore> {
        let limit = spec.limits.max_concurrency.max(1);
        if let Some(entry) = self.functions.get(&spec.function_id)
            && entry.0 == limit
        {
            return entry.1.clone();
        }
        // Under the entry's lock: concurrent first calls must share one semaphore, or each
        // would get its own and together exceed the limit.
        let mut entry = self
            .functions
            .entry(spec.function_id.clone())
            .or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
        if entry.0 != limit {
            // A new version with another limit: calls still running on the old semaphore
            // finish there; new calls count against the new limit.
            *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
        }
        entry.1.clone()
    }

    /// Forgets a function's concurrency state (after it is deleted).
    pub(super) fn forget(&self, function_id: &str) {
        self.functions.remove(function_id);
    }

    /// Counts an instance in flight until the guard drops.
    pub(super) fn in_flight_guard(&self, engine: &EngineHandle) -> InFlight {
        InFlight::new(&self.in_flight, engine)
    }
}

/// Counts an instance in flight for as long as it lives, and keeps the engine's epoch ticker
/// (its deadline and yields) running meanwhile.
pub(super) struct InFlight {
    counter: Arc<AtomicU64>,
    _running: crate::engine::Running,
}

impl InFlight {
    fn new(counter: &Arc<AtomicU64>, engine: &EngineHandle) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self {
            counter: counter.clone(),
            _running: engine.running(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}
