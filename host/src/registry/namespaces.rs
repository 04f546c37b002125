//! The namespace rules both backends share (issue 22): what a namespace may hold, how a patch
//! applies and what it records in its functions' history, and the checks a deploy makes.

use std::collections::BTreeMap;

use crate::model::access::validate_namespace_name;
use crate::model::{
    DeployMetadata, MAX_NAMESPACE_DESCRIPTION_CHARS, NamespacePatch, NamespaceRecord, Secrets,
    Timestamp,
};
use crate::registry::RegistryError;
use crate::validate::ValidationError;

/// The rules a namespace keeps: its name, a description of at most
/// [`MAX_NAMESPACE_DESCRIPTION_CHARS`] characters without control characters other than
/// newlines and tabs, env and secrets as for functions.
pub(crate) fn validate_namespace(
    name: &str,
    description: &str,
    env: &BTreeMap<String, String>,
    secrets: &Secrets,
) -> Result<(), ValidationError> {
    validate_namespace_name(name)?;
    let max = MAX_NAMESPACE_DESCRIPTION_CHARS;
    if description.chars().count() > max
        || description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            "description",
            description,
            format!("Invalid description: at most {max} characters, no control characters"),
        ));
    }
    crate::validate::validate_env(env)?;
    crate::validate::validate_secrets(secrets.as_map(), env)?;
    Ok(())
}

/// `current` with `patch` applied (dated now), checked, and the history detail of what changed
/// in its env and secrets (names only, never a value; `None` when neither changed).
pub(crate) fn patch_namespace(
    mut record: NamespaceRecord,
    patch: NamespacePatch,
) -> Result<(NamespaceRecord, Option<String>), RegistryError> {
    if let Some(description) = patch.description {
        record.description = description;
    }
    let env_changes = merge_entries(&mut record.env, patch.env);
    let mut secrets = record.secrets.as_map().clone();
    let secret_changes = merge_entries(&mut secrets, patch.secrets);
    record.secrets = Secrets::new(secrets)?;
    validate_namespace(
        &record.name,
        &record.description,
        &record.env,
        &record.secrets,
    )?;
    let mut changes = Vec::new();
    for (what, (set, removed)) in [("env", env_changes), ("secrets", secret_changes)] {
        if !set.is_empty() {
            changes.push(format!("{what} {} set", set.join(", ")));
        }
        if !removed.is_empty() {
            changes.push(format!("{what} {} removed", removed.join(", ")));
        }
    }
    record.updated_at = Timestamp::now();
    let detail =
        (!changes.is_empty()).then(|| format!("namespace {}: {}", record.name, changes.join("; ")));
    Ok((record, detail))
}

/// Applies a merge patch to a map; returns the names set and the names removed.
fn merge_entries(
    map: &mut BTreeMap<String, String>,
    patch: BTreeMap<String, Option<String>>,
) -> (Vec<String>, Vec<String>) {
    let (mut set, mut removed) = (Vec::new(), Vec::new());
    for (name, value) in patch {
        match value {
            Some(v) => {
                if map.get(&name) != Some(&v) {
                    set.push(name.clone());
                }
                map.insert(name, v);
            }
            None => {
                if map.remove(&name).is_some() {
                    removed.push(name);
                }
            }
        }
    }
    (set, removed)
}

/// A deploy naming a namespace other than the function's: functions do not move by deploy.
pub(crate) fn check_same_namespace(
    current: &str,
    metadata: &DeployMetadata,
) -> Result<(), RegistryError> {
    match metadata.namespace() {
        Some(ns) if ns != current => Err(RegistryError::Conflict(format!(
            "function {} is in namespace {current}, not {ns}; functions do not move between namespaces (delete it first, or deploy to {current})",
            metadata.id()
        ))),
        _ => Ok(()),
    }
}

/// The conflict of deleting a namespace that still holds `functions` without cascading.
pub(crate) fn namespace_not_empty(name: &str, functions: &[String]) -> String {
    format!(
        "namespace {name} still holds {} function{} ({}); delete them first or pass cascade=true",
        functions.len(),
        if functions.len() == 1 { "" } else { "s" },
        functions
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )
}
