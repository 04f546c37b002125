//! The in-memory cache of functions, namespaces and keys (read on every request), kept coherent by the
//! store's `generation` counter, and the pool of read connections.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Instant;

use rusqlite::Connection;

use super::rows::{StoredKey, load_keys, read_generation};
use super::{SqliteStore, lock};
use crate::model::{FunctionRecord, NamespaceRecord};
use crate::registry::RegistryError;

/// What is cached, and the bookkeeping that keeps it coherent.
#[derive(Default)]
pub(super) struct CacheState {
    /// Bumped on every invalidation; a load started under an older epoch is not cached.
    pub(super) epoch: u64,
    /// The store's `generation` counter the cache reflects.
    pub(super) generation: i64,
    pub(super) functions: HashMap<String, Arc<FunctionRecord>>,
    pub(super) namespaces: HashMap<String, Arc<NamespaceRecord>>,
    pub(super) keys: Option<Arc<Vec<StoredKey>>>,
}

impl SqliteStore {
    pub(super) fn reader(&self) -> MutexGuard<'_, Connection> {
        for conn in &self.readers {
            if let Ok(guard) = conn.try_lock() {
                return guard;
            }
        }
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        lock(&self.readers[index])
    }

    pub(super) fn cache_read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn invalidate(&self, generation: i64) {
        let mut cache = self.cache_write();
        cache.epoch += 1;
        cache.generation = generation;
        cache.functions.clear();
        cache.namespaces.clear();
        cache.keys = None;
    }

    /// Invalidates the cache if another process changed the store since the last look.
    pub(super) fn poll_external_changes(&self) -> Result<(), RegistryError> {
        let Ok(mut last) = self.last_poll.try_lock() else {
            return Ok(()); // another thread is polling right now
        };
        if last.elapsed() < self.external_change_poll {
            return Ok(());
        }
        *last = Instant::now();
        drop(last);
        let generation = read_generation(&self.reader())?;
        if generation != self.cache_read().generation {
            self.invalidate(generation);
        }
        Ok(())
    }

    pub(super) fn cached_keys(&self) -> Result<Arc<Vec<StoredKey>>, RegistryError> {
        self.poll_external_changes()?;
        let epoch = {
            let cache = self.cache_read();
            if let Some(keys) = &cache.keys {
                return Ok(Arc::clone(keys));
            }
            cache.epoch
        };
        let keys = Arc::new(load_keys(&self.reader())?);
        let mut cache = self.cache_write();
        if cache.epoch == epoch {
            cache.keys = Some(Arc::clone(&keys));
        }
        Ok(keys)
    }
}
