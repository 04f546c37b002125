//! Build script of `test-guests`: builds every guest component and writes their paths into
//! `$OUT_DIR/guests.rs`, which `src/lib.rs` includes.
//!
//! Guests come from three places:
//! - every `cdylib` member of the `examples/` Cargo workspace (when `examples/Cargo.toml` exists);
//! - every `cdylib` member of `test-guests/components/` (test-only guests);
//! - every `examples/NAME/build.sh` (non-Rust guests, run as `build.sh OUT_WASM_PATH`);
//! - every `test-guests/commands/NAME/build.sh` (test-only WASI command modules).
//!
//! The building is `fdo-guest-build`'s, the same code `fdo build` runs: each Rust workspace is
//! built with one `cargo build --workspace` by the toolchain it finds, into the guest target
//! directory shared by every guest build of this machine user (`~/.cache/fdo/guest-target`, see
//! `fdo_guest_build::cache`): `std` is built once for the tests and for users' projects, and the
//! source directories can be watched whole without the build's own output marking them changed.
//! Components land in `$OUT_DIR/guests/NAME.wasm`.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fdo_guest_build::cache::CACHE_DIR_VAR;
use fdo_guest_build::rust::{self, Selection};
use fdo_guest_build::script::{self, ScriptBuild};
use fdo_guest_build::toolchain::{TOOLCHAIN_OVERRIDE_VAR, Toolchain, WASI_LIBC_VAR};

/// The script each non-Rust example provides.
const BUILD_SCRIPT: &str = "build.sh";

/// How it runs: the `build` command `examples/fdo.toml` gives those examples, so `fdo build`
/// there finds the outputs of this build in the shared cache (and the other way round).
const BUILD_COMMAND: &str = r#"bash build.sh "$FDO_COMPONENT""#;

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

    // `examples/` is watched entry by entry, less what `fdo up`/`fdo build` write there (its
    // `build/` outputs and `.fdo/` host data) and build outputs: a file written into a watched
    // tree would make every cargo build rerun this script. A new example shows up in the
    // watched `Cargo.toml` or `fdo.toml`.
    let mut watched = vec![
        manifest_dir.join("build"),
        components.clone(),
        commands.clone(),
        repo.join("wit"),
    ];
    if let Ok(entries) = fs::read_dir(&examples) {
        let mut entries: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                !fdo_guest_build::script::is_ignored(&name) && name != "build"
            })
            .map(|e| e.path())
            .collect();
        entries.sort();
        watched.extend(entries);
    }
    // A watched path that does not exist marks the build dirty every time, so only existing
    // ones are watched (a checkout without `examples/` needs a touch of `build/` once it appears).
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed={TOOLCHAIN_OVERRIDE_VAR}");
    println!("cargo:rerun-if-env-changed={WASI_LIBC_VAR}");
    println!("cargo:rerun-if-env-changed={CACHE_DIR_VAR}");

    let guests_out = out_dir.join("guests");
    // Start empty, so a guest that was removed leaves no file behind.
    if guests_out.exists() {
        fs::remove_dir_all(&guests_out)
            .with_context(|| format!("emptying {}", guests_out.display()))?;
    }
    fs::create_dir_all(&guests_out)
        .with_context(|| format!("creating {}", guests_out.display()))?;
    let target_dir = fdo_guest_build::guest_target_dir();

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
    let script_cache = fdo_guest_build::script_cache_dir();
    let mut scripted = script_guests(&examples)?;
    scripted.extend(script_guests(&commands)?);
    for (name, dir) in scripted {
        let path = guests_out.join(format!("{name}.wasm"));
        let started = Instant::now();
        let outcome = ScriptBuild {
            name: &name,
            dir: &dir,
            recipe: BUILD_COMMAND,
            exclude: &[],
            cache_dir: &script_cache,
        }
        .build(&path, |partial| script::shell(BUILD_COMMAND, partial))
        .with_context(|| {
            format!(
                "building the guest in {} (has scripts/setup.sh run in this checkout? \
                 it runs examples/*/setup.sh)",
                dir.display()
            )
        })?;
        println!("{name}: {outcome:?} in {:.1?}", started.elapsed());
        guests.push(Guest {
            name: name.clone(),
            source: relative(&dir, &repo),
            path,
        });
    }

    write_constants(&mut guests, &out_dir.join(GENERATED_FILE))?;
    println!("built {} guests in {:.1?}", guests.len(), started.elapsed());
    Ok(())
}

/// Every `PARENT/*/build.sh` (under `examples/` or `test-guests/commands/`), as `(name, directory)`
/// sorted by name.
fn script_guests(parent: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut guests = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return Ok(guests);
    };
    for entry in entries {
        let dir = entry
            .with_context(|| format!("listing {}", parent.display()))?
            .path();
        if dir.join(BUILD_SCRIPT).is_file() {
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{} is not a UTF-8 name", dir.display()))?
                .to_string();
            guests.push((name, dir));
        }
    }
    guests.sort();
    Ok(guests)
}

/// Builds every member of `workspace` with one cargo invocation and writes each `cdylib`'s
/// component into `guests_out`. Returns each guest with its dep-info file's contents.
fn build_workspace(
    toolchain: &Toolchain,
    workspace: &Path,
    target_dir: &Path,
    guests_out: &Path,
    repo: &Path,
) -> Result<Vec<(Guest, Option<String>)>> {
    let outcome = rust::build(
        toolchain,
        &workspace.join("Cargo.toml"),
        Selection::Workspace,
        target_dir,
    )?;
    println!(
        "{}: cargo build in {:.1?}",
        workspace.display(),
        outcome.cargo_time
    );
    let mut guests = Vec::new();
    for built in outcome.built {
        let path = guests_out.join(format!("{}.wasm", built.cdylib.package));
        fs::write(&path, &built.component)
            .with_context(|| format!("writing {}", path.display()))?;
        let guest = Guest {
            source: relative(built.cdylib.dir(), repo),
            name: built.cdylib.package,
            path,
        };
        guests.push((guest, built.dep_info));
    }
    Ok(guests)
}

/// The files guests were compiled from that live in this repository but outside the
/// directories already watched (path dependencies such as `guest-sdk/`), read from the dep-info
/// files cargo writes beside the artifacts, plus the `Cargo.toml` of the package holding each.
fn outside_sources(
    dep_infos: &[Option<String>],
    repo: &Path,
    watched: &[PathBuf],
    target_dir: &Path,
) -> BTreeSet<PathBuf> {
    let mut sources = BTreeSet::new();
    for text in dep_infos.iter().flatten() {
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
