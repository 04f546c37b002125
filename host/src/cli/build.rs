//! `fdo build`: builds the component of every function of a project manifest (or of those
//! named with `--function`), each into its `component` path.
//!
//! How a function is built: its `build` command when the manifest gives one (run by `sh -c` in
//! the function's `dir`, writing to `$FDO_COMPONENT`), otherwise its language's default:
//!
//! - **rust**: `cargo build` of the crate in `dir` (and the rest of its workspace) with the
//!   toolchain `fdo_guest_build::Toolchain` finds (rustup's `wasm32-wasip2`, else the offline
//!   recipe), in the guest target directory shared by every guest build of this user;
//! - **python**: `componentize-py` (from `dir/.venv`, the project's `.venv`, or `PATH`) on the
//!   module `entryPoint` names, with the WIT package fdo comes with;
//! - **javascript**: componentize-js (the project's `node_modules`) under Node.js 20+.
//!
//! Command and script builds are cached by a digest of the function's directory. A missing
//! tool is reported with what installs it. Progress goes to stderr; stdout gets one line per
//! component (or, with `--json`, one JSON array).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use fdo_guest_build::Toolchain;
use fdo_guest_build::rust::{self, Selection};
use fdo_guest_build::script::{self, ScriptBuild};
use serde_json::json;

use super::manifest::{self, DEFAULT_MANIFEST, FunctionSpec};
use super::{CliError, embedded, output};

/// The componentize-py release the Python template pins (its `requirements.txt`).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The oldest Node.js that runs componentize-js.
const MIN_NODE_MAJOR: u32 = 20;

/// The WIT world every RPC guest implements.
const RPC_WORLD: &str = "fdo:function/function";

/// The script `fdo build` runs under Node.js to build a JavaScript function: `node
/// componentize.mjs SOURCE WIT_DIR OUT`. It is written beside the project's `node_modules`
/// (in `.fdo/`), so Node finds componentize-js there.
const COMPONENTIZE_JS: &str = r#"// Written by fdo build: builds a JavaScript function with componentize-js.
import { writeFile } from 'node:fs/promises';
import { componentize } from '@bytecodealliance/componentize-js';

const [sourcePath, witPath, out] = process.argv.slice(2);
try {
  const { component } = await componentize({
    sourcePath,
    witPath,
    worldName: 'function',
    // RPC functions: no fetch() and no incoming HTTP handler.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(out, component);
} catch (err) {
  console.error(`componentize-js failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
"#;

/// Arguments of `fdo build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project manifest.
    #[arg(long, short = 'f', default_value = DEFAULT_MANIFEST)]
    pub file: PathBuf,
    /// Build only this function (repeatable).
    #[arg(long = "function", value_name = "ID")]
    pub only: Vec<String>,
    /// Run command and script builds even when their sources did not change.
    #[arg(long)]
    pub force: bool,
    /// Print JSON (one entry per component) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A built function.
#[derive(Debug, Clone)]
pub struct BuiltFunction {
    /// The function id.
    pub id: String,
    /// Its component file.
    pub component: PathBuf,
    /// The component's size.
    pub bytes: u64,
    /// How long building took.
    pub elapsed: Duration,
    /// Whether a cached output was reused (sources unchanged).
    pub reused: bool,
}

impl BuiltFunction {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "component": self.component.display().to_string(),
            "bytes": self.bytes,
            "seconds": (self.elapsed.as_secs_f64() * 100.0).round() / 100.0,
            "reused": self.reused,
        })
    }
}

/// Runs `fdo build`.
pub async fn run(args: BuildArgs) -> Result<(), CliError> {
    let specs = load(&args.file, &args.only)?;
    let builder = Builder::new(&args.file, args.force)?;
    let total = specs.len();
    let mut built = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        eprintln!(
            "[{}/{total}] {}: building ({})",
            i + 1,
            spec.id,
            builder.describe(&spec)
        );
        let builder = builder.clone();
        let result = tokio::task::spawn_blocking(move || builder.build(&spec))
            .await
            .map_err(|e| CliError::Other(e.into()))?;
        let function = result.map_err(CliError::Other)?;
        eprintln!("[{}/{total}] {}", i + 1, summary(&function));
        if !args.json {
            outln!("{}", function.component.display());
        }
        built.push(function);
    }
    if args.json {
        output::print_json(&json!(
            built.iter().map(BuiltFunction::to_json).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// One line saying what was built: `ID: PATH (SIZE, TIME)`.
pub fn summary(f: &BuiltFunction) -> String {
    let how = if f.reused {
        "unchanged, reused".to_string()
    } else {
        format!("{:.1} s", f.elapsed.as_secs_f64())
    };
    format!(
        "{}: {} ({:.1} MiB, {how})",
        f.id,
        f.component.display(),
        f.bytes as f64 / (1024.0 * 1024.0)
    )
}

/// The functions of `manifest`, or those of them named in `only`.
pub fn load(manifest: &Path, only: &[String]) -> Result<Vec<FunctionSpec>, CliError> {
    let mut specs = manifest::load(manifest).map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(unknown) = only.iter().find(|id| !specs.iter().any(|s| &&s.id == id)) {
        return Err(CliError::usage(format!(
            "{} has no function {unknown:?}",
            manifest.display()
        )));
    }
    if !only.is_empty() {
        specs.retain(|s| only.contains(&s.id));
    }
    Ok(specs)
}

/// Builds functions of one project; cheap to clone (shares the toolchain it found).
#[derive(Debug, Clone)]
pub struct Builder {
    project: PathBuf,
    wit: PathBuf,
    force: bool,
    toolchain: std::sync::Arc<OnceLock<Result<Toolchain, String>>>,
}

impl Builder {
    /// A builder for the project of `manifest`; writes the SDK and WIT into its `.fdo/`.
    pub fn new(manifest: &Path, force: bool) -> Result<Self, CliError> {
        let project = manifest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let sdk = embedded::write_sdk(&project).map_err(CliError::Other)?;
        Ok(Builder {
            project,
            wit: absolute(&sdk.join(embedded::WIT_DIR)),
            force,
            toolchain: Default::default(),
        })
    }

    /// How `spec` is built, for the progress line.
    pub fn describe(&self, spec: &FunctionSpec) -> String {
        match (&spec.build, spec.language()) {
            (Some(command), _) => format!("`{command}`"),
            (None, "rust") => match self.toolchain() {
                Ok(t) => format!("rust, {}", t.describe()),
                Err(_) => "rust".into(),
            },
            (None, "python") => "python, componentize-py".into(),
            (None, "javascript") => "javascript, componentize-js".into(),
            (None, other) => other.to_string(),
        }
    }

    fn toolchain(&self) -> anyhow::Result<&Toolchain> {
        self.toolchain
            .get_or_init(|| Toolchain::detect().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Builds `spec`'s component into its `component` path (blocking: run it off the async
    /// runtime).
    pub fn build(&self, spec: &FunctionSpec) -> anyhow::Result<BuiltFunction> {
        let started = Instant::now();
        let dir = clean(&absolute(&spec.dir));
        let component = clean(&absolute(&spec.component));
        if !dir.is_dir() {
            bail!(
                "function {}: its directory {} does not exist (set `dir` in the manifest)",
                spec.id,
                dir.display()
            );
        }
        if let Some(parent) = component.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let reused = match (&spec.build, spec.language()) {
            (Some(command), _) => self.command_build(spec, &dir, &component, command)?,
            (None, "rust") => self.rust_build(spec, &dir, &component)?,
            (None, "python") => self.python_build(spec, &dir, &component)?,
            (None, "javascript") => self.javascript_build(spec, &dir, &component)?,
            (None, other) => bail!(
                "function {}: fdo build has no default build for {other} functions: add \
                 `build = \"...\"` to [functions.{}] in the manifest, a command that writes the \
                 component to $FDO_COMPONENT",
                spec.id,
                spec.id
            ),
        };
        let bytes = std::fs::metadata(&component)
            .with_context(|| format!("{}: no component at {}", spec.id, component.display()))?
            .len();
        Ok(BuiltFunction {
            id: spec.id.clone(),
            component,
            bytes,
            elapsed: started.elapsed(),
            reused,
        })
    }

    fn rust_build(
        &self,
        spec: &FunctionSpec,
        dir: &Path,
        component: &Path,
    ) -> anyhow::Result<bool> {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            bail!(
                "function {} (rust): no Cargo.toml in {}: set `dir` to the crate's directory",
                spec.id,
                dir.display()
            );
        }
        let toolchain = self.toolchain()?;
        let outcome = rust::build(
            toolchain,
            &manifest,
            Selection::Package,
            &fdo_guest_build::guest_target_dir(),
        )?;
        let built = outcome
            .built
            .into_iter()
            .next()
            .context("cargo built no component")?;
        write_atomically(component, &built.component)?;
        Ok(false)
    }

    fn python_build(
        &self,
        spec: &FunctionSpec,
        dir: &Path,
        component: &Path,
    ) -> anyhow::Result<bool> {
        let tool = find_tool("componentize-py", &[dir, &self.project]).with_context(|| {
            format!(
                "function {}: componentize-py not found (in {}/.venv/bin or on PATH). Install \
                 it with: pip install {COMPONENTIZE_PY}",
                spec.id,
                dir.display()
            )
        })?;
        let entry = spec.metadata["entryPoint"].as_str().unwrap_or("app.py");
        let module = entry.strip_suffix(".py").with_context(|| {
            format!(
                "function {}: entryPoint {entry:?} is not a Python module (NAME.py)",
                spec.id
            )
        })?;
        let module = module.replace('/', ".");
        // componentize-py bundles whatever is on its module path: give it a copy of the
        // sources alone (not build outputs, .fdo/ or .venv/).
        let stage = tempfile::tempdir().context("creating a staging directory")?;
        copy_python_sources(dir, stage.path())?;
        let recipe = format!(
            "{} -w {RPC_WORLD} componentize {module} (wit {:016x})",
            tool.display(),
            embedded::wit_digest()
        );
        self.cached(spec, dir, component, &recipe, |partial| {
            let mut command = Command::new(&tool);
            command
                .arg("-d")
                .arg(&self.wit)
                .args(["-w", RPC_WORLD, "componentize", &module, "-p"])
                .arg(stage.path())
                .arg("-o")
                .arg(partial);
            command
        })
    }

    fn javascript_build(
        &self,
        spec: &FunctionSpec,
        dir: &Path,
        component: &Path,
    ) -> anyhow::Result<bool> {
        let node = node_path().with_context(|| {
            format!(
                "function {}: Node.js {MIN_NODE_MAJOR} or newer is needed to build JavaScript \
                 (componentize-js); install it from https://nodejs.org or your package manager",
                spec.id
            )
        })?;
        let modules_root = [dir, self.project.as_path()]
            .into_iter()
            .find(|d| {
                d.join("node_modules/@bytecodealliance/componentize-js")
                    .is_dir()
            })
            .with_context(|| {
                format!(
                    "function {}: componentize-js is not installed. Install it with: npm install \
                     (in {})",
                    spec.id,
                    dir.display()
                )
            })?;
        let entry = spec.metadata["entryPoint"].as_str().unwrap_or("index.js");
        if !(entry.ends_with(".js") || entry.ends_with(".mjs")) {
            bail!(
                "function {}: entryPoint {entry:?} is not a JavaScript file",
                spec.id
            );
        }
        let script = modules_root.join(".fdo").join("componentize.mjs");
        if std::fs::read_to_string(&script).ok().as_deref() != Some(COMPONENTIZE_JS) {
            std::fs::create_dir_all(script.parent().unwrap_or(modules_root))?;
            std::fs::write(&script, COMPONENTIZE_JS)
                .with_context(|| format!("writing {}", script.display()))?;
        }
        let source = absolute(&dir.join(entry));
        let recipe = format!(
            "componentize-js {entry} (wit {:016x})",
            embedded::wit_digest()
        );
        self.cached(spec, dir, component, &recipe, |partial| {
            let mut command = Command::new(&node);
            command
                .arg(&script)
                .arg(&source)
                .arg(&self.wit)
                .arg(partial);
            command
        })
    }

    fn command_build(
        &self,
        spec: &FunctionSpec,
        dir: &Path,
        component: &Path,
        build: &str,
    ) -> anyhow::Result<bool> {
        self.cached(spec, dir, component, build, |partial| {
            let mut command = script::shell(build, partial);
            command
                .env("FDO_WIT_DIR", &self.wit)
                .env("FDO_FUNCTION", &spec.id);
            command
        })
    }

    /// A [`ScriptBuild`] of `spec` into `component`; true when the cached output was reused.
    fn cached(
        &self,
        spec: &FunctionSpec,
        dir: &Path,
        component: &Path,
        recipe: &str,
        command: impl FnOnce(&Path) -> Command,
    ) -> anyhow::Result<bool> {
        let exclude = outputs(dir, component);
        let recipe = if self.force {
            format!("{recipe} (forced {:?})", std::time::SystemTime::now())
        } else {
            recipe.to_string()
        };
        let outcome = ScriptBuild {
            name: &spec.id,
            dir,
            recipe: &recipe,
            exclude: &exclude,
            cache_dir: &fdo_guest_build::script_cache_dir(),
        }
        .build(component, command)?;
        Ok(outcome == script::Outcome::Reused)
    }
}

/// What a build writes under `dir`, left out of source digests: the component's directory when
/// it is a subdirectory of `dir`, else the component file.
fn outputs(dir: &Path, component: &Path) -> Vec<PathBuf> {
    match component.parent() {
        Some(parent) if parent != dir && parent.starts_with(dir) => vec![parent.to_path_buf()],
        _ => vec![component.to_path_buf()],
    }
}

/// A digest of `spec`'s sources (the files of its `dir`, less ignored ones and its output):
/// `fdo up --watch` rebuilds only when it changes, not on every event (builds read, and may
/// rewrite unchanged, files such as `Cargo.lock`).
pub fn source_digest(spec: &FunctionSpec) -> anyhow::Result<u64> {
    let dir = clean(&absolute(&spec.dir));
    let component = clean(&absolute(&spec.component));
    script::tree_digest(&dir, &outputs(&dir, &component))
}

/// `path` without `.` components.
fn clean(path: &Path) -> PathBuf {
    path.components().collect()
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Writes `bytes` to `path` through a temporary file beside it.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".partial");
    let staged = PathBuf::from(staged);
    std::fs::write(&staged, bytes).with_context(|| format!("writing {}", staged.display()))?;
    std::fs::rename(&staged, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `name` in `DIR/.venv/bin` for each of `dirs`, else on `PATH`.
fn find_tool(name: &str, dirs: &[&Path]) -> Option<PathBuf> {
    let venvs = dirs.iter().map(|d| d.join(".venv/bin").join(name));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .collect::<Vec<_>>();
    venvs
        .chain(on_path)
        .find(|p| p.is_file())
        .map(|p| absolute(&p))
}

/// A `node` on `PATH` of version [`MIN_NODE_MAJOR`] or newer.
fn node_path() -> Option<PathBuf> {
    let node = find_tool("node", &[])?;
    let output = Command::new(&node).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&output.stdout);
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()?;
    (major >= MIN_NODE_MAJOR).then_some(node)
}

/// Copies the Python sources of `dir` (`*.py` files and package directories, none of the
/// ignored ones) into `stage`.
fn copy_python_sources(dir: &Path, stage: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    script::collect_files(dir, &[], &mut files)?;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "py"))
    {
        let relative = file.strip_prefix(dir).unwrap_or(file);
        let target = stage.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(file, &target).with_context(|| format!("copying {}", file.display()))?;
    }
    Ok(())
}
