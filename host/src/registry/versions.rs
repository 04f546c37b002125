//! Versions as every backend writes them: the record a deploy creates, and whether a redeploy
//! of an existing version is the identical no-op or a conflict.

use super::RegistryError;
use crate::model::{ComponentRef, DeployMetadata, Digest, Timestamp, VersionRecord};

/// The version `metadata` deploys with the component `component` (content address and
/// size), first deployed `now`.
pub(crate) fn new_version(
    metadata: &DeployMetadata,
    component: ComponentRef,
    now: Timestamp,
) -> VersionRecord {
    VersionRecord {
        function_id: metadata.id().to_owned(),
        version: metadata.version().to_owned(),
        language: metadata.language(),
        entry_point: metadata.entry_point().to_owned(),
        dependencies: metadata.dependencies().clone(),
        component,
        limits: metadata.limits(),
        env: metadata.env().clone(),
        secrets: metadata.secrets().clone(),
        allowed_hosts: metadata.allowed_hosts().to_vec(),
        interface: metadata.interface(),
        created_at: now,
    }
}

/// `Ok` if redeploying `metadata` with code `digest` is identical to `existing` (an
/// idempotent no-op), else the [`RegistryError::Conflict`] naming what differs (API
/// field names; never values, which could be secrets).
pub(crate) fn check_redeploy(
    existing: &VersionRecord,
    metadata: &DeployMetadata,
    digest: &Digest,
) -> Result<(), RegistryError> {
    let checks = [
        (existing.component.digest != *digest, "code"),
        (existing.language != metadata.language(), "language"),
        (existing.entry_point != metadata.entry_point(), "entryPoint"),
        (
            existing.dependencies != *metadata.dependencies(),
            "dependencies",
        ),
        (existing.limits != metadata.limits(), "limits"),
        (existing.env != *metadata.env(), "env"),
        (existing.secrets != *metadata.secrets(), "secrets"),
        (
            existing.allowed_hosts != metadata.allowed_hosts(),
            "allowedHosts",
        ),
        (existing.interface != metadata.interface(), "interface"),
    ];
    let differences: Vec<&str> = checks
        .iter()
        .filter(|(differs, _)| *differs)
        .map(|(_, field)| *field)
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(RegistryError::Conflict(format!(
        "version {} of function {} already exists with different {}; versions are immutable, deploy a new version",
        metadata.version(),
        metadata.id(),
        differences.join(", ")
    )))
}
