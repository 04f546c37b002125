//! Build script of `test-guests`: builds every guest component and writes their paths into
//! `$OUT_DIR/guests.rs`, which `src/lib.rs` includes.
//!
//! Guests come from three places:
//! - every `cdylib` member of the `examples/` Cargo workspace (when `examples/Cargo.toml` exists);
//! - every `cdylib` member of `test-guests/components/` (test-only guests);
//! - every `examples/NAME/build.sh` (non-Rust guests, see `scripts.rs`);
//! - every `test-guests/commands/NAME/build.sh` (test-only WASI command modules).
//!
//! Each Rust workspace is built with one `cargo build --workspace` by the toolchain
//! `toolchain.rs` finds, in a scrubbed environment. Both workspaces share one target directory
//! *outside* the source tree (`<outer target>/fdo-guests/<checkout>-<hash>/`): it lets them share
//! one build of `std`, keeps checkouts that share `CARGO_TARGET_DIR` apart, and lets the source
//! directories be watched whole without the build's own output marking them changed.
//! Components land in `$OUT_DIR/guests/NAME.wasm`.

mod scripts;
mod toolchain;
mod wasm;

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::toolchain::{TOOLCHAIN_OVERRIDE_VAR, Toolchain, WASI_LIBC_VAR};

/// File cargo writes at the root of every target directory; marks the outer target directory.
const TARGET_DIR_TAG: &str = "CACHEDIR.TAG";

/// Directory under the outer target directory that holds the guests' own target directories.
const GUEST_TARGET_SUBDIR: &str = "fdo-guests";

/// The generated Rust file, in `$OUT_DIR`.
const GENERATED_FILE: &str = "guests.rs";

/// A built guest component.
#[derive(Debug)]
struct Guest {
    /// The guest's name (package or directory name), e.g. `rpc-basic`.
    name: String,
    /// Where its sources live, relative to the repository root.
    source: String,
    /// The component file.
    path: PathBuf,
}

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Builds everything and writes the constants.
fn run() -> Result<()> {
    let started = Instant::now();
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR unset")?);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR unset")?);
    let repo = manifest_dir
        .parent()
        .context("test-guests has no parent directory")?
        .to_path_buf();
    let examples = repo.join("examples");
    let components = manifest_dir.join("components");
    let commands = manifest_dir.join("commands");

    let watched = [
        manifest_dir.join("build"),
        examples.clone(),
        components.clone(),
        commands.clone(),
        repo.join("wit"),
    ];
    // A watched path that does not exist marks the build dirty every time, so only existing
    // ones are watched (a checkout without `examples/` needs a touch of `build/` once it appears).
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed={TOOLCHAIN_OVERRIDE_VAR}");
    println!("cargo:rerun-if-env-changed={WASI_LIBC_VAR}");

    let guests_out = out_dir.join("guests");
    // Start empty, so a guest that was removed leaves no file behind.
    if guests_out.exists() {
        fs::remove_dir_all(&guests_out)
            .with_context(|| format!("emptying {}", guests_out.display()))?;
    }
    fs::create_dir_all(&guests_out)
        .with_context(|| format!("creating {}", guests_out.display()))?;
    let target_dir = guest_target_dir(&out_dir, &repo);

    let toolchain = Toolchain::detect()?;
    println!("guest toolchain: {}", toolchain.describe());
    let mut workspaces = Vec::new();
    if examples.join("Cargo.toml").is_file() {
        workspaces.push(examples.clone());
    }
    workspaces.push(components);

    let mut guests = Vec::new();
    let mut dep_infos = Vec::new();
    for workspace in &workspaces {
        let built = build_workspace(&toolchain, workspace, &target_dir, &guests_out, &repo)
            .with_context(|| format!("building the guests in {}", workspace.display()))?;
        for (guest, dep_info) in built {
            guests.push(guest);
            dep_infos.push(dep_info);
        }
    }
    for path in outside_sources(&dep_infos, &repo, &watched, &target_dir) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let mut script_guests = scripts::find(&examples)?;
    script_guests.extend(scripts::find(&commands)?);
    for script in script_guests {
        let path = guests_out.join(format!("{}.wasm", script.name));
        script
            .build(&target_dir.join("build-sh"), &path)
            .with_context(|| {
                format!(
                    "building the guest in {} (has scripts/setup.sh run in this checkout? \
                     it runs examples/*/setup.sh)",
                    script.dir.display()
                )
            })?;
        guests.push(Guest {
            name: script.name.clone(),
            source: relative(&script.dir, &repo),
            path,
        });
    }

    write_constants(&mut guests, &out_dir.join(GENERATED_FILE))?;
    println!("built {} guests in {:.1?}", guests.len(), started.elapsed());
    Ok(())
}

/// `<outer target>/fdo-guests/<checkout>-<hash of its path>`.
fn guest_target_dir(out_dir: &Path, repo: &Path) -> PathBuf {
    let outer = out_dir
        .ancestors()
        .find(|dir| dir.join(TARGET_DIR_TAG).is_file())
        .unwrap_or(out_dir);
    let repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    let mut hash = scripts::Fnv::default();
    hash.write(repo.to_string_lossy().as_bytes());
    let name = repo
        .file_name()
        .map_or_else(|| "repo".into(), |n| n.to_string_lossy());
    outer
        .join(GUEST_TARGET_SUBDIR)
        .join(format!("{name}-{:08x}", hash.0 as u32))
}

/// A `cdylib` member of a guest workspace.
#[derive(Debug)]
struct Member {
    /// The package name.
    package: String,
    /// The library target's name, as the artifact is named (underscores).
    artifact: String,
    /// The package directory.
    dir: PathBuf,
}

/// Builds every member of `workspace` with one cargo invocation, then turns each `cdylib`'s
/// output into a component in `guests_out`. Returns each guest with its dep-info file.
fn build_workspace(
    toolchain: &Toolchain,
    workspace: &Path,
    target_dir: &Path,
    guests_out: &Path,
    repo: &Path,
) -> Result<Vec<(Guest, PathBuf)>> {
    let manifest = workspace.join("Cargo.toml");
    let members = cdylib_members(toolchain, &manifest, target_dir)?;

    let started = Instant::now();
    let status = toolchain
        .cargo(target_dir)
        .arg("build")
        .args(toolchain.build_args())
        .arg("--workspace")
        .arg("--manifest-path")
        .arg(&manifest)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status}); its output is above");
    }
    println!(
        "{}: cargo build in {:.1?}",
        workspace.display(),
        started.elapsed()
    );

    let artifacts = target_dir.join(toolchain.target()).join("release");
    let mut guests = Vec::new();
    for member in members {
        let artifact = artifacts.join(format!("{}.wasm", member.artifact));
        let bytes =
            fs::read(&artifact).with_context(|| format!("reading {}", artifact.display()))?;
        let component = match wasm::kind(&bytes).with_context(|| artifact.display().to_string())? {
            wasm::WasmKind::Component => bytes,
            wasm::WasmKind::CoreModule => wasm::componentize(&bytes)
                .with_context(|| format!("componentizing {}", artifact.display()))?,
        };
        let path = guests_out.join(format!("{}.wasm", member.package));
        fs::write(&path, component).with_context(|| format!("writing {}", path.display()))?;
        let dep_info = artifacts.join(format!("{}.d", member.artifact));
        let guest = Guest {
            name: member.package,
            source: relative(&member.dir, repo),
            path,
        };
        guests.push((guest, dep_info));
    }
    Ok(guests)
}

/// The `cdylib` members of the workspace at `manifest`, from `cargo metadata --no-deps`.
fn cdylib_members(
    toolchain: &Toolchain,
    manifest: &Path,
    target_dir: &Path,
) -> Result<Vec<Member>> {
    let output = toolchain
        .cargo(target_dir)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    let mut members = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().context("package without a name")?;
        let manifest_path = package["manifest_path"]
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
                let dir = Path::new(manifest_path)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                members.push(Member {
                    package: name.to_string(),
                    artifact,
                    dir,
                });
            }
        }
    }
    Ok(members)
}

/// The files guests were compiled from that live in this repository but outside the
/// directories already watched (path dependencies such as `guest-sdk/`), read from the dep-info
/// files cargo writes beside the artifacts, plus the `Cargo.toml` of the package holding each.
fn outside_sources(
    dep_infos: &[PathBuf],
    repo: &Path,
    watched: &[PathBuf],
    target_dir: &Path,
) -> BTreeSet<PathBuf> {
    let mut sources = BTreeSet::new();
    for dep_info in dep_infos {
        let Ok(text) = fs::read_to_string(dep_info) else {
            continue;
        };
        for line in text.lines() {
            let Some((_, deps)) = line.split_once(": ") else {
                continue;
            };
            for dep in split_unescaped(deps) {
                let dep = PathBuf::from(dep);
                let covered = watched.iter().any(|dir| dep.starts_with(dir));
                if !dep.starts_with(repo) || covered || dep.starts_with(target_dir) {
                    continue;
                }
                let manifest = dep
                    .ancestors()
                    .skip(1)
                    .take_while(|dir| dir.starts_with(repo) && *dir != repo)
                    .map(|dir| dir.join("Cargo.toml"))
                    .find(|manifest| manifest.is_file());
                sources.extend(manifest);
                sources.insert(dep);
            }
        }
    }
    sources
}

/// Splits a Makefile dependency list on spaces that are not escaped by a backslash.
fn split_unescaped(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = list.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// `path` relative to `repo`, for documentation.
fn relative(path: &Path, repo: &Path) -> String {
    path.strip_prefix(repo)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Writes one `pub const NAME: &str` per guest plus `ALL`, sorted by name.
fn write_constants(guests: &mut [Guest], file: &Path) -> Result<()> {
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = guests.windows(2).find(|pair| pair[0].name == pair[1].name) {
        bail!(
            "two guests are named `{}` ({} and {}): rename one",
            pair[0].name,
            pair[0].source,
            pair[1].source
        );
    }
    let mut code = String::from("// Generated by test-guests/build/main.rs. Do not edit.\n\n");
    let mut all = String::new();
    for guest in guests.iter() {
        let constant = guest.name.replace('-', "_").to_uppercase();
        let valid = constant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && constant
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if !valid || constant == "ALL" {
            bail!(
                "guest name `{}` does not make a Rust constant name",
                guest.name
            );
        }
        let path = guest
            .path
            .to_str()
            .with_context(|| format!("{} is not UTF-8", guest.path.display()))?;
        writeln!(
            code,
            "/// The `{}` component, built from `{}`.",
            guest.name, guest.source
        )?;
        writeln!(code, "pub const {constant}: &str = {path:?};\n")?;
        writeln!(all, "    ({:?}, {constant}),", guest.name)?;
    }
    writeln!(
        code,
        "/// Every guest component as `(name, path)`, sorted by name."
    )?;
    writeln!(code, "pub const ALL: &[(&str, &str)] = &[\n{all}];")?;
    fs::write(file, code).with_context(|| format!("writing {}", file.display()))
}
