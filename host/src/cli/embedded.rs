//! Files that come inside the `fdo` binary (`host/build.rs` embeds them): the templates of
//! `fdo new`, and the `fdo-sdk` sources and WIT package a project builds against.
//!
//! fdo-sdk is not on crates.io, and a project made by `fdo new` lives outside this repository,
//! maybe on a machine without network. So `fdo new` and `fdo build` write the SDK of the `fdo`
//! that runs into the project's `.fdo/sdk/` (`guest-sdk/`, `guest-sdk/macro/`, `wit/`, laid out
//! as in this repository), and a Rust project depends on it by path. The SDK's manifests
//! inherit settings from this workspace's; they are written standalone. Files are only written
//! when their contents differ, so cargo does not rebuild an unchanged SDK.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use toml::{Table, Value};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The directory under a project's `.fdo/` holding the SDK and WIT.
pub const SDK_DIR: &str = "sdk";

/// The WIT package under the SDK directory.
pub const WIT_DIR: &str = "wit";

/// The workspace manifest the SDK inherits from (embedded, never written).
const WORKSPACE_MANIFEST: &str = "Cargo.toml";

/// The files of template `name`, as `(path under the template, bytes)`.
pub fn template_files(name: &str) -> impl Iterator<Item = (&'static str, &'static [u8])> {
    let prefix = format!("{name}/");
    TEMPLATE_FILES
        .iter()
        .filter_map(move |(path, bytes)| Some((path.strip_prefix(&prefix)?, *bytes)))
}

/// Writes the SDK into `project/.fdo/sdk` (only files whose contents changed) and returns
/// that directory.
pub fn write_sdk(project: &Path) -> Result<PathBuf> {
    let root = project.join(".fdo").join(SDK_DIR);
    for (path, contents) in sdk_files()? {
        let target = root.join(&path);
        if fs::read(&target).is_ok_and(|old| old == contents) {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&target, &contents).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(root)
}

/// A digest of the WIT package, for build caches keyed on what a guest is built against.
pub fn wit_digest() -> u64 {
    let mut hash = fdo_guest_build::script::Fnv::default();
    for (path, bytes) in SDK_FILES.iter().filter(|(p, _)| p.starts_with("wit/")) {
        hash.write(path.as_bytes());
        hash.write(bytes);
    }
    hash.0
}

/// The SDK's files as written into a project: manifests made standalone, the rest as is.
fn sdk_files() -> Result<Vec<(String, Vec<u8>)>> {
    let workspace = SDK_FILES
        .iter()
        .find(|(path, _)| *path == WORKSPACE_MANIFEST)
        .map(|(_, bytes)| std::str::from_utf8(bytes))
        .context("the workspace manifest is not embedded")??;
    let workspace: Table = workspace
        .parse()
        .context("parsing the workspace manifest")?;
    let mut files = Vec::new();
    for (path, bytes) in SDK_FILES {
        if *path == WORKSPACE_MANIFEST {
            continue;
        }
        if path.ends_with("/Cargo.toml") {
            let text =
                std::str::from_utf8(bytes).with_context(|| format!("{path} is not UTF-8"))?;
            let member_dir = Path::new(path).parent().unwrap_or(Path::new(""));
            let standalone = standalone_manifest(text, member_dir, &workspace)
                .with_context(|| format!("making {path} standalone"))?;
            files.push((path.to_string(), standalone.into_bytes()));
        } else {
            files.push((path.to_string(), bytes.to_vec()));
        }
    }
    Ok(files)
}

/// `member` (a workspace member's manifest, at `member_dir` relative to the workspace root)
/// with every `workspace = true` replaced by the workspace's value (as `cargo package` does),
/// its lints and dev-dependencies dropped (they only matter inside this repository).
fn standalone_manifest(member: &str, member_dir: &Path, workspace: &Table) -> Result<String> {
    let mut manifest: Table = member.parse().context("parsing")?;
    let ws = workspace
        .get("workspace")
        .and_then(Value::as_table)
        .context("no [workspace] table")?;
    let empty = Table::new();
    let ws_package = ws
        .get("package")
        .and_then(Value::as_table)
        .unwrap_or(&empty);
    let ws_deps = ws
        .get("dependencies")
        .and_then(Value::as_table)
        .unwrap_or(&empty);

    manifest.remove("lints");
    manifest.remove("dev-dependencies");
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        for (key, value) in package.iter_mut() {
            if inherits(value) {
                *value = ws_package
                    .get(key)
                    .cloned()
                    .with_context(|| format!("package.{key} is not in [workspace.package]"))?;
            }
        }
    }
    let mut tables: Vec<&mut Table> = Vec::new();
    let (direct, targets): (Vec<_>, Vec<_>) = manifest
        .iter_mut()
        .filter(|(key, _)| ["dependencies", "build-dependencies", "target"].contains(&key.as_str()))
        .partition(|(key, _)| key.as_str() != "target");
    for (_, value) in direct {
        if let Value::Table(t) = value {
            tables.push(t);
        }
    }
    for (_, value) in targets {
        if let Value::Table(platforms) = value {
            for (_, platform) in platforms.iter_mut() {
                if let Value::Table(platform) = platform {
                    platform.remove("dev-dependencies");
                    for (key, deps) in platform.iter_mut() {
                        if let ("dependencies" | "build-dependencies", Value::Table(t)) =
                            (key.as_str(), deps)
                        {
                            tables.push(t);
                        }
                    }
                }
            }
        }
    }
    for deps in tables {
        for (name, dep) in deps.iter_mut() {
            if inherits(dep) {
                *dep = inherited_dependency(name, dep, ws_deps, member_dir)?;
            }
        }
    }
    Ok(format!(
        "# Written by fdo from the fdo-sdk sources it comes with; fdo rewrites it.\n{}",
        toml::to_string(&manifest).context("writing")?
    ))
}

/// Whether `value` is `{ workspace = true, ... }`.
fn inherits(value: &Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// The workspace's entry for dependency `name`, merged with the member's own keys (features
/// add up), its path made relative to the member.
fn inherited_dependency(
    name: &str,
    member_dep: &Value,
    ws_deps: &Table,
    member_dir: &Path,
) -> Result<Value> {
    let mut merged = match ws_deps.get(name) {
        Some(Value::String(version)) => {
            let mut t = Table::new();
            t.insert("version".into(), Value::String(version.clone()));
            t
        }
        Some(Value::Table(t)) => t.clone(),
        _ => bail!("dependency {name} is not in [workspace.dependencies]"),
    };
    if let Some(Value::String(path)) = merged.get("path") {
        let rebased = relative_to(member_dir, Path::new(path));
        merged.insert(
            "path".into(),
            Value::String(rebased.to_string_lossy().replace('\\', "/")),
        );
    }
    for (key, value) in member_dep.as_table().into_iter().flatten() {
        match (key.as_str(), value) {
            ("workspace", _) => {}
            ("features", Value::Array(features)) => {
                let all = merged
                    .entry("features")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(all) = all {
                    for f in features {
                        if !all.contains(f) {
                            all.push(f.clone());
                        }
                    }
                }
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(Value::Table(merged))
}

/// `to` (relative to a common root) as seen from `from` (relative to the same root).
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_and_the_sdk_are_embedded() {
        for name in ["rust", "rust-http", "python", "javascript"] {
            assert!(
                template_files(name).any(|(path, _)| path == "fdo.toml"),
                "template {name} has no fdo.toml"
            );
        }
        let files = sdk_files().unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for wanted in [
            "guest-sdk/Cargo.toml",
            "guest-sdk/src/lib.rs",
            "guest-sdk/macro/Cargo.toml",
            "guest-sdk/macro/src/lib.rs",
            "wit/fdo.wit",
        ] {
            assert!(paths.contains(&wanted), "{wanted} missing from {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.starts_with("guest-sdk/tests/")));
    }

    #[test]
    fn sdk_manifests_are_standalone() {
        let files = sdk_files().unwrap();
        let manifest = |path: &str| -> Table {
            let (_, bytes) = files.iter().find(|(p, _)| p == path).unwrap();
            std::str::from_utf8(bytes).unwrap().parse().unwrap()
        };
        let sdk = manifest("guest-sdk/Cargo.toml");
        let text = toml::to_string(&sdk).unwrap();
        assert!(!text.contains("workspace"), "{text}");
        assert_eq!(sdk["package"]["name"].as_str(), Some("fdo-sdk"));
        assert!(sdk["package"]["version"].is_str());
        assert!(sdk["package"]["edition"].is_str());
        let deps = sdk["dependencies"].as_table().unwrap();
        assert_eq!(deps["fdo-sdk-macro"]["path"].as_str(), Some("macro"));
        let wit_bindgen = deps["wit-bindgen"].as_table().unwrap();
        assert!(wit_bindgen["version"].is_str());
        let features = wit_bindgen["features"].as_array().unwrap();
        assert!(features.contains(&Value::String("macros".into())));
        assert!(sdk.get("dev-dependencies").is_none() && sdk.get("lints").is_none());
        let macros = manifest("guest-sdk/macro/Cargo.toml");
        assert!(!toml::to_string(&macros).unwrap().contains("workspace"));
        assert!(macros["dependencies"]["syn"]["version"].is_str());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("guest-sdk"), Path::new("guest-sdk/macro")),
            PathBuf::from("macro")
        );
        assert_eq!(
            relative_to(Path::new("a/b"), Path::new("c")),
            PathBuf::from("../../c")
        );
    }

    #[test]
    fn writing_the_sdk_twice_leaves_files_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let root = write_sdk(dir.path()).unwrap();
        let lib = root.join("guest-sdk/src/lib.rs");
        let before = fs::metadata(&lib).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_sdk(dir.path()).unwrap();
        assert_eq!(fs::metadata(&lib).unwrap().modified().unwrap(), before);
        assert!(root.join("wit/fdo.wit").is_file());
    }
}
