//! [`Acting`]: the host's operations on behalf of a [`Principal`], each checked with the one
//! permission check ([`authorize`]) before it runs. The server reaches management operations
//! only through here; trusted in-process callers (`--deploy-dir`, `fdo up`) use
//! [`FunctionHost`] directly.
//!
//! Something outside the caller's namespaces answers exactly as if it did not exist
//! ([`HostError::NotFound`]), in lists too; a valid credential without the right role gets
//! [`HostError::Forbidden`] saying what it lacks.

use std::sync::Arc;

use super::access::AccessError;
use super::tokens::IssuedToken;
use super::{Active, Deployed, FunctionHost, HostError, Versions};
use crate::model::DeployMetadata;
use crate::model::access::{
    Action, DEFAULT_NAMESPACE, Denied, Principal, Privacy, Target, TokenScope, authorize,
    may_create_key, visible,
};
use crate::model::{
    ApiKeyRecord, CreatedKey, FunctionRecord, LogQuery, LogRecord, NamespaceDeleteOutcome,
    NamespaceInfo, NamespacePatch, NamespaceRecord, NamespaceUpdate, NewKey, NewNamespace,
    PrivacyChange, Resource, Timestamp,
};

/// What a token is for, as asked: a function by id, or a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFor {
    /// One function.
    Function(String),
    /// Every function of a namespace.
    Namespace(String),
}

/// The host, acting for `who`.
pub struct Acting<'a> {
    host: &'a FunctionHost,
    who: &'a Principal,
}

impl FunctionHost {
    /// The host's operations, checked against `who`'s rights.
    pub fn acting<'a>(&'a self, who: &'a Principal) -> Acting<'a> {
        Acting { host: self, who }
    }
}

fn not_found(resource: Resource, id: &str) -> HostError {
    HostError::NotFound {
        resource,
        id: id.to_owned(),
    }
}

impl Acting<'_> {
    /// [`authorize`], with a hidden target answered as `hidden`.
    fn check(
        &self,
        action: Action,
        target: Target<'_>,
        hidden: impl FnOnce() -> HostError,
    ) -> Result<(), HostError> {
        authorize(self.who, action, target).map_err(|denied| match denied {
            Denied::Hidden => hidden(),
            Denied::Forbidden(message) => HostError::Forbidden(message),
        })
    }

    /// The function, if the caller may do `action` on it.
    async fn function_for(
        &self,
        action: Action,
        id: &str,
    ) -> Result<Arc<FunctionRecord>, HostError> {
        let record = self.host.function(id).await?;
        self.check(
            action,
            Target::Function {
                namespace: &record.namespace,
                id,
            },
            || not_found(Resource::Function, id),
        )?;
        Ok(record)
    }

    /// Whether the caller may do `action` across everything (`/metrics`).
    pub fn check_global(&self, action: Action) -> Result<(), HostError> {
        self.check(action, Target::Global, || {
            HostError::Forbidden("not visible".into())
        })
    }

    /// The function and its active version.
    pub async fn function(&self, id: &str) -> Result<Arc<FunctionRecord>, HostError> {
        self.function_for(Action::Read, id).await
    }

    /// The function, loaded.
    pub async fn get(&self, id: &str) -> Result<Arc<Active>, HostError> {
        self.function_for(Action::Read, id).await?;
        self.host.get(id).await
    }

    /// The functions the caller may see, in `namespace` when given.
    pub async fn list(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<Arc<FunctionRecord>>, HostError> {
        self.check(Action::Read, Target::Visible, || {
            HostError::Forbidden("not visible".into())
        })?;
        let mut all = self.host.list().await?;
        all.retain(|f| {
            visible(self.who, &f.namespace) && namespace.is_none_or(|ns| f.namespace == ns)
        });
        Ok(all)
    }

    /// Whether a function in `namespace` is one the caller may see (for lists built
    /// elsewhere, such as the stats).
    pub fn sees(&self, namespace: &str) -> bool {
        visible(self.who, namespace)
    }

    /// Every version and the history.
    pub async fn versions(&self, id: &str) -> Result<Versions, HostError> {
        self.function_for(Action::Read, id).await?;
        self.host.versions(id).await
    }

    /// The function's logs.
    pub async fn logs(&self, query: LogQuery) -> Result<Vec<LogRecord>, HostError> {
        self.function_for(Action::Read, &query.function_id).await?;
        self.host.logs(query).await
    }

    /// Deploys into the function's namespace (an existing function's, else the one asked
    /// for, else `default`).
    pub async fn deploy(
        &self,
        metadata: DeployMetadata,
        bytes: Vec<u8>,
    ) -> Result<Deployed, HostError> {
        // A namespace asked for and outside the caller's is unknown to it.
        if let Some(ns) = metadata.namespace() {
            self.check(Action::Deploy, Target::Namespace(ns), || {
                not_found(Resource::Namespace, ns)
            })?;
        }
        match self.host.function(metadata.id()).await {
            Ok(existing) => {
                // Ids are global: one taken outside the caller's namespaces cannot be
                // pretended free.
                if !visible(self.who, &existing.namespace) && self.who.namespaces().is_some() {
                    return Err(HostError::Conflict(format!(
                        "function id {} is taken by a function outside this key's namespaces",
                        metadata.id()
                    )));
                }
                self.check(
                    Action::Deploy,
                    Target::Namespace(&existing.namespace),
                    || not_found(Resource::Function, metadata.id()),
                )?;
            }
            Err(HostError::NotFound { .. }) => {
                let ns = metadata.namespace().unwrap_or(DEFAULT_NAMESPACE);
                self.check(Action::Deploy, Target::Namespace(ns), || {
                    not_found(Resource::Namespace, ns)
                })?;
            }
            Err(e) => return Err(e),
        }
        self.host.deploy(metadata, bytes).await
    }

    /// Makes `version` active again.
    pub async fn rollback(
        &self,
        id: &str,
        version: &str,
    ) -> Result<(Arc<Active>, String), HostError> {
        self.function_for(Action::Deploy, id).await?;
        self.host.rollback(id, version).await
    }

    /// Deletes the function.
    pub async fn delete(&self, id: &str) -> Result<(), HostError> {
        self.function_for(Action::Deploy, id).await?;
        self.host.delete(id).await
    }

    /// Sets the function's privacy.
    pub async fn set_privacy(
        &self,
        id: &str,
        privacy: Privacy,
    ) -> Result<PrivacyChange, HostError> {
        self.function_for(Action::Deploy, id).await?;
        self.host.set_privacy(id, privacy).await
    }

    /// The namespaces the caller may see.
    pub async fn namespaces(&self) -> Result<Vec<NamespaceInfo>, HostError> {
        self.check(Action::Read, Target::Visible, || {
            HostError::Forbidden("not visible".into())
        })?;
        let mut all = self.host.namespaces().await?;
        all.retain(|ns| visible(self.who, &ns.record.name));
        Ok(all)
    }

    /// One namespace with its function count.
    pub async fn namespace(&self, name: &str) -> Result<NamespaceInfo, HostError> {
        self.check(Action::Read, Target::Namespace(name), || {
            not_found(Resource::Namespace, name)
        })?;
        self.host
            .namespaces()
            .await?
            .into_iter()
            .find(|ns| ns.record.name == name)
            .ok_or_else(|| not_found(Resource::Namespace, name))
    }

    /// Creates a namespace (a key for every namespace only: a restricted key could not see
    /// it).
    pub async fn create_namespace(
        &self,
        namespace: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, HostError> {
        self.check(Action::ConfigureNamespaces, Target::Global, || {
            HostError::Forbidden("not visible".into())
        })?;
        self.host.create_namespace(namespace).await
    }

    /// Changes a namespace.
    pub async fn update_namespace(
        &self,
        name: &str,
        patch: NamespacePatch,
    ) -> Result<NamespaceUpdate, HostError> {
        self.check(Action::ConfigureNamespaces, Target::Namespace(name), || {
            not_found(Resource::Namespace, name)
        })?;
        self.host.update_namespace(name, patch).await
    }

    /// Deletes a namespace.
    pub async fn delete_namespace(
        &self,
        name: &str,
        cascade: bool,
    ) -> Result<NamespaceDeleteOutcome, HostError> {
        self.check(Action::ConfigureNamespaces, Target::Namespace(name), || {
            not_found(Resource::Namespace, name)
        })?;
        self.host.delete_namespace(name, cascade).await
    }

    /// Rotates a namespace's token key.
    pub async fn rotate_token_key(&self, name: &str) -> Result<Arc<NamespaceRecord>, HostError> {
        self.check(Action::ConfigureNamespaces, Target::Namespace(name), || {
            not_found(Resource::Namespace, name)
        })?;
        self.host.rotate_token_key(name).await
    }

    /// Issues a token for what the caller may call itself, and nothing more.
    pub async fn issue_token(
        &self,
        target: TokenFor,
        expires_at: Option<Timestamp>,
    ) -> Result<IssuedToken, HostError> {
        let scope = match target {
            TokenFor::Function(id) => {
                let record = self.function_for(Action::IssueToken, &id).await?;
                TokenScope::Function {
                    namespace: record.namespace.clone(),
                    id,
                }
            }
            TokenFor::Namespace(name) => {
                self.check(Action::IssueToken, Target::Namespace(&name), || {
                    not_found(Resource::Namespace, &name)
                })?;
                // 404 for a namespace that does not exist, as for one outside the key's.
                self.host.namespace(&name).await?;
                TokenScope::Namespace(name)
            }
        };
        self.host.issue_token(scope, expires_at).await
    }

    /// Creates a key with at most the caller's rights.
    pub async fn create_key(&self, key: NewKey) -> Result<CreatedKey, HostError> {
        may_create_key(self.who, key.role, &key.namespaces).map_err(|denied| match denied {
            Denied::Forbidden(m) => HostError::Forbidden(m),
            Denied::Hidden => HostError::Forbidden("managing API keys needs admin".into()),
        })?;
        self.host.create_key(key).await
    }

    /// The keys the caller manages: those within its namespaces.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, HostError> {
        self.check(Action::ManageKeys, Target::Visible, || {
            HostError::Forbidden("not visible".into())
        })?;
        let mut keys = self.host.list_keys().await?;
        let own = self.who.namespaces().cloned().unwrap_or_default();
        keys.retain(|k| own.covers(&k.namespaces));
        Ok(keys)
    }

    /// Revokes a key within the caller's namespaces (any other is not found).
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord, HostError> {
        let keys = self.list_keys().await?;
        if !keys.iter().any(|k| k.id == id) {
            return Err(not_found(Resource::ApiKey, id));
        }
        self.host.revoke_key(id).await
    }
}

impl FunctionHost {
    /// The function, loaded, for a call by `who` (`None`: no credential was presented). A
    /// public function takes every call; a private one needs a credential that covers it:
    /// none is a 401 (for an unknown id too, so the answer does not say which ids exist), one
    /// outside its namespaces a 404, one without the right a 403. The function's record is
    /// checked before anything is loaded, and a loaded function's from memory.
    pub async fn callable(
        &self,
        id: &str,
        who: Option<&Principal>,
    ) -> Result<Arc<Active>, HostError> {
        if let Some(active) = self.loaded(id) {
            may_call(who, &active.record)?;
            return Ok(active);
        }
        let record = match self.function(id).await {
            Err(HostError::NotFound { .. }) if who.is_none() => {
                return Err(HostError::Unauthenticated(AccessError::Missing));
            }
            other => other?,
        };
        may_call(who, &record)?;
        self.get(id).await
    }
}

fn may_call(who: Option<&Principal>, record: &FunctionRecord) -> Result<(), HostError> {
    if record.privacy == Privacy::Public {
        return Ok(());
    }
    let Some(who) = who else {
        return Err(HostError::Unauthenticated(AccessError::Missing));
    };
    let target = Target::Function {
        namespace: &record.namespace,
        id: &record.id,
    };
    authorize(who, Action::Invoke, target).map_err(|denied| match denied {
        Denied::Hidden => not_found(Resource::Function, &record.id),
        Denied::Forbidden(message) => HostError::Forbidden(message),
    })
}
