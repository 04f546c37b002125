//! [`SqliteRegistry`]: the [`Registry`] contract over the blocking [`SqliteStore`], each
//! operation on tokio's blocking pool so no async worker ever waits on SQLite.

use std::path::Path;
use std::sync::Arc;

use super::{SqliteOptions, SqliteStore};
use crate::model::access::Privacy;
use crate::model::{
    NamespaceDeleteOutcome, NamespaceInfo, NamespacePatch, NamespaceRecord, NamespaceUpdate,
    NewKey, NewNamespace, PrivacyChange,
};
use crate::registry::{
    ApiKeyRecord, AuthError, BlobStore, CreatedKey, DeleteOutcome, DeployMetadata, DeployOutcome,
    Digest, FunctionRecord, GcReport, HistoryEntry, KeyInfo, LogQuery, LogRecord, LogWriter,
    Registry, RegistryError, RollbackOutcome, VersionRecord,
};

/// The embedded registry: SQLite and content-addressed blobs in the data directory. Cloning
/// is cheap (one store behind an `Arc`).
#[derive(Debug, Clone)]
pub struct SqliteRegistry {
    store: Arc<SqliteStore>,
}

impl SqliteRegistry {
    /// Opens (creating and migrating if needed) the registry in `data_dir` with defaults.
    /// Blocking: call it before serving, or on the blocking pool.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        Self::open_with(data_dir, SqliteOptions::default())
    }

    /// Opens the registry in `data_dir` with `options` (blocking, as [`SqliteRegistry::open`]).
    pub fn open_with(
        data_dir: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, RegistryError> {
        Ok(Self {
            store: Arc::new(SqliteStore::open_with(data_dir, options)?),
        })
    }

    /// The blocking store underneath (for tests and tools that run outside a runtime).
    pub fn store(&self) -> &Arc<SqliteStore> {
        &self.store
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.store.data_dir()
    }

    /// The component blob store.
    pub fn blobs(&self) -> &BlobStore {
        self.store.blobs()
    }

    /// Runs `f` on the store on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SqliteStore) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| RegistryError::Unavailable(format!("storage task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl Registry for SqliteRegistry {
    async fn deploy(
        &self,
        metadata: DeployMetadata,
        component: Arc<Vec<u8>>,
    ) -> Result<DeployOutcome, RegistryError> {
        self.run(move |s| s.deploy(metadata, &component)).await
    }

    async fn get_function(&self, id: &str) -> Result<Arc<FunctionRecord>, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.get_function(&id)).await
    }

    async fn list_functions(&self) -> Result<Vec<Arc<FunctionRecord>>, RegistryError> {
        self.run(|s| s.list_functions()).await
    }

    async fn get_version(&self, id: &str, version: &str) -> Result<VersionRecord, RegistryError> {
        let (id, version) = (id.to_owned(), version.to_owned());
        self.run(move |s| s.get_version(&id, &version)).await
    }

    async fn list_versions(&self, id: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.list_versions(&id)).await
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.history(&id)).await
    }

    async fn rollback(&self, id: &str, version: &str) -> Result<RollbackOutcome, RegistryError> {
        let (id, version) = (id.to_owned(), version.to_owned());
        self.run(move |s| s.rollback(&id, &version)).await
    }

    async fn delete_function(&self, id: &str) -> Result<DeleteOutcome, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.delete_function(&id)).await
    }

    async fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let digest = *digest;
        self.run(move |s| s.read_component(&digest)).await
    }

    async fn gc_components(&self) -> Result<GcReport, RegistryError> {
        self.run(|s| s.gc_components()).await
    }

    async fn create_key(&self, key: NewKey) -> Result<CreatedKey, RegistryError> {
        self.run(move |s| s.create_key(key)).await
    }

    async fn create_first_key(&self, name: &str) -> Result<Option<CreatedKey>, RegistryError> {
        let name = name.to_owned();
        self.run(move |s| s.create_first_key(&name)).await
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, RegistryError> {
        self.run(|s| s.list_keys()).await
    }

    async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.revoke_key(&id)).await
    }

    async fn verify_key(&self, presented: Option<&str>) -> Result<KeyInfo, AuthError> {
        let presented = presented.map(str::to_owned);
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.verify_key(presented.as_deref()))
            .await
            .map_err(|e| {
                AuthError::Unavailable(RegistryError::Unavailable(format!(
                    "key check task failed: {e}"
                )))
            })?
    }

    async fn set_privacy(
        &self,
        id: &str,
        privacy: Privacy,
    ) -> Result<PrivacyChange, RegistryError> {
        let id = id.to_owned();
        self.run(move |s| s.set_privacy(&id, privacy)).await
    }

    async fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, RegistryError> {
        self.run(move |s| s.create_namespace(namespace)).await
    }

    async fn get_namespace(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        let name = name.to_owned();
        self.run(move |s| s.get_namespace(&name)).await
    }

    async fn list_namespaces(&self) -> Result<Vec<NamespaceInfo>, RegistryError> {
        self.run(|s| s.list_namespaces()).await
    }

    async fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, RegistryError> {
        let name = name.to_owned();
        self.run(move |s| s.update_namespace(&name, patch)).await
    }

    async fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, RegistryError> {
        let name = name.to_owned();
        self.run(move |s| s.delete_namespace(&name, cascade)).await
    }

    async fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, RegistryError> {
        let name = name.to_owned();
        self.run(move |s| s.rotate_token_key(&name)).await
    }

    fn log_writer(&self) -> LogWriter {
        self.store.log_writer()
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, RegistryError> {
        let query = query.clone();
        self.run(move |s| s.logs(&query)).await
    }

    #[cfg(test)]
    async fn refresh(&self) -> Result<(), RegistryError> {
        self.run(|s| s.refresh()).await
    }

    #[cfg(test)]
    fn set_deploy_hook(&self, hook: Option<crate::registry::DeployHook>) {
        self.store.set_deploy_hook(hook);
    }
}
