//! Rust guests: every `cdylib` crate of a Cargo workspace (or one package of it) built with a
//! [`Toolchain`] into the shared guest target directory, each output turned into a component.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cache::BuildLock;
use crate::toolchain::Toolchain;
use crate::wasm;

/// A `cdylib` target: what becomes a component.
#[derive(Debug, Clone)]
pub struct Cdylib {
    /// The package name (names the guest).
    pub package: String,
    /// The library target's name as its artifact is named (dashes turned into underscores).
    pub artifact: String,
    /// The package's `Cargo.toml`.
    pub manifest: PathBuf,
}

impl Cdylib {
    /// The package directory.
    pub fn dir(&self) -> &Path {
        self.manifest.parent().unwrap_or(Path::new(""))
    }
}

/// Which components [`build`] returns. Cargo always builds the whole workspace: building one
/// package alone would resolve the features of shared dependencies differently from a build of
/// the whole workspace and compile them again, for nothing.
#[derive(Debug, Clone, Copy)]
pub enum Selection {
    /// Every `cdylib` member.
    Workspace,
    /// The package whose `Cargo.toml` is the manifest given to [`build`].
    Package,
}

/// A built guest.
#[derive(Debug)]
pub struct Built {
    /// Its `cdylib` target.
    pub cdylib: Cdylib,
    /// The component.
    pub component: Vec<u8>,
    /// Cargo's dep-info file for the artifact (Makefile syntax: every source it was built
    /// from), when cargo wrote one.
    pub dep_info: Option<String>,
}

/// What [`build`] did.
#[derive(Debug)]
pub struct Outcome {
    /// The guests, in the order cargo metadata lists them.
    pub built: Vec<Built>,
    /// How long cargo ran (waiting for the lock excluded).
    pub cargo_time: Duration,
}

/// Builds `manifest`'s workspace into `target_dir` and returns the components of its `cdylib`
/// crates (all, or the package at `manifest`). Cargo's output goes to stderr. A workspace
/// without a `Cargo.lock` first gets one resolved offline from the crates cargo already has
/// (so a new project builds without network when the machine built guests before); when that
/// is not enough, cargo resolves it online.
pub fn build(
    toolchain: &Toolchain,
    manifest: &Path,
    selection: Selection,
    target_dir: &Path,
) -> Result<Outcome> {
    let metadata = Metadata::read(toolchain, manifest, target_dir)?;
    let cdylibs: Vec<Cdylib> = match selection {
        Selection::Workspace => metadata.cdylibs.clone(),
        Selection::Package => {
            let wanted = canonical(manifest);
            let found: Vec<Cdylib> = metadata
                .cdylibs
                .iter()
                .filter(|c| canonical(&c.manifest) == wanted)
                .cloned()
                .collect();
            if found.is_empty() {
                bail!(
                    "{} has no `cdylib` library: add `[lib] crate-type = [\"cdylib\"]` to build \
                     it into a component",
                    manifest.display()
                );
            }
            found
        }
    };
    if !metadata.workspace_root.join("Cargo.lock").is_file() {
        lock_offline(toolchain, manifest, target_dir);
    }

    let _lock = BuildLock::acquire(target_dir)?;
    let started = Instant::now();
    let status = toolchain
        .cargo(target_dir)
        .arg("build")
        .args(toolchain.build_args())
        .arg("--workspace")
        .arg("--manifest-path")
        .arg(manifest)
        .stdout(crate::stdout_to_stderr())
        .status()
        .with_context(|| format!("running {}", toolchain.cargo_path().display()))?;
    if !status.success() {
        bail!("cargo build failed ({status}); its output is above");
    }
    let cargo_time = started.elapsed();

    let artifacts = target_dir.join(toolchain.target()).join("release");
    let mut built = Vec::new();
    for cdylib in cdylibs {
        let artifact = artifacts.join(format!("{}.wasm", cdylib.artifact));
        let bytes =
            fs::read(&artifact).with_context(|| format!("reading {}", artifact.display()))?;
        let component = match wasm::kind(&bytes).with_context(|| artifact.display().to_string())? {
            wasm::WasmKind::Component => bytes,
            wasm::WasmKind::CoreModule => wasm::componentize(&bytes)
                .with_context(|| format!("componentizing {}", artifact.display()))?,
        };
        let dep_info = fs::read_to_string(artifacts.join(format!("{}.d", cdylib.artifact))).ok();
        built.push(Built {
            cdylib,
            component,
            dep_info,
        });
    }
    Ok(Outcome { built, cargo_time })
}

/// What `cargo metadata --no-deps` says of a workspace.
#[derive(Debug)]
struct Metadata {
    workspace_root: PathBuf,
    cdylibs: Vec<Cdylib>,
}

impl Metadata {
    fn read(toolchain: &Toolchain, manifest: &Path, target_dir: &Path) -> Result<Self> {
        let output = toolchain
            .cargo(target_dir)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .arg("--manifest-path")
            .arg(manifest)
            .output()
            .context("running cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed for {}:\n{}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr).trim_end()
            );
        }
        let metadata: Value =
            serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
        let workspace_root = PathBuf::from(
            metadata["workspace_root"]
                .as_str()
                .context("cargo metadata without a workspace root")?,
        );
        let mut cdylibs = Vec::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let name = package["name"].as_str().context("package without a name")?;
            let manifest = package["manifest_path"]
                .as_str()
                .context("package without a manifest")?;
            for target in package["targets"].as_array().into_iter().flatten() {
                let is_cdylib = target["crate_types"]
                    .as_array()
                    .is_some_and(|types| types.iter().any(|t| t == "cdylib"));
                if is_cdylib {
                    let artifact = target["name"]
                        .as_str()
                        .context("target without a name")?
                        .replace('-', "_");
                    cdylibs.push(Cdylib {
                        package: name.to_string(),
                        artifact,
                        manifest: PathBuf::from(manifest),
                    });
                }
            }
        }
        Ok(Metadata {
            workspace_root,
            cdylibs,
        })
    }
}

/// Resolves a missing `Cargo.lock` from the crates cargo already downloaded. Failing is not an
/// error: the build then resolves online.
fn lock_offline(toolchain: &Toolchain, manifest: &Path, target_dir: &Path) {
    let output = toolchain
        .cargo(target_dir)
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(manifest)
        .output();
    match output {
        Ok(o) if o.status.success() => {}
        _ => eprintln!(
            "note: the dependencies of {} are not all in cargo's cache; cargo will download them",
            manifest.display()
        ),
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
