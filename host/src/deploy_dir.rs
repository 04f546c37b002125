//! Deploying a directory of components at start-up (`fdo serve --deploy-dir`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::functions::FunctionHost;
use crate::model::{DeployFields, Language, Limits, Secrets};

/// The version given to components deployed from a directory.
pub const DEPLOY_DIR_VERSION: &str = "0.1.0";

/// Deploys every `NAME.wasm` in `dir` as function `NAME` at [`DEPLOY_DIR_VERSION`]; an
/// identical existing version is left as it is.
pub async fn deploy_dir(host: &Arc<FunctionHost>, dir: &Path) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.replace('_', "-"))
        else {
            continue;
        };
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let metadata = DeployFields {
            id: name.clone(),
            version: DEPLOY_DIR_VERSION.into(),
            language: Language::Rust,
            entry_point: format!("{name}.wasm"),
            dependencies: Default::default(),
            limits: Limits::default(),
            env: Default::default(),
            secrets: Secrets::default(),
            allowed_hosts: Vec::new(),
            interface: Default::default(),
            namespace: None,
            privacy: None,
        }
        .try_into()
        .with_context(|| format!("deploying {}", path.display()))?;
        let deployed = host
            .deploy(metadata, bytes)
            .await
            .with_context(|| format!("deploying {}", path.display()))?;
        println!(
            "deployed {name} {} ({})",
            deployed.version.version,
            deployed.kind.as_str()
        );
    }
    Ok(())
}
