//! Guests built by a command rather than by cargo: `build.sh OUT`, `componentize-py ...`,
//! `node componentize.mjs ...`. The command writes to the path it is given a component or a WASI
//! command module (a core module exporting `_start`, which fdo deploys as is) and exits non-zero
//! on failure.
//!
//! These builds take seconds each (Python, JavaScript), so their outputs are cached by a digest
//! of the guest's directory and of the recipe (what the command is): a build whose sources did
//! not change reuses the last output.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Directory names never hashed: dependencies, caches, outputs.
pub const IGNORED_DIRS: &[&str] = &["target", "node_modules", "__pycache__"];

/// Cached outputs kept per guest (older ones are removed).
const KEPT_PER_GUEST: usize = 3;

/// A command build of one guest.
#[derive(Debug)]
pub struct ScriptBuild<'a> {
    /// Names the guest in messages and in the cache (a file-name-safe string).
    pub name: &'a str,
    /// The guest's directory: the command runs there, and its files make the digest.
    pub dir: &'a Path,
    /// What the command is, mixed into the digest (a changed command is a changed build).
    pub recipe: &'a str,
    /// Files or directories under `dir` left out of the digest (the command's own outputs).
    pub exclude: &'a [PathBuf],
    /// Where outputs are cached.
    pub cache_dir: &'a Path,
}

/// What [`ScriptBuild::build`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The sources were unchanged: the cached output was copied.
    Reused,
    /// The command ran, for this long.
    Built(Duration),
}

impl ScriptBuild<'_> {
    /// Builds into `out`, reusing the cached output when the sources have not changed. The
    /// command comes from `command(partial)`, which must write the component to `partial`; the
    /// result moves to `out` only when the command succeeded and wrote something. The command's
    /// standard output goes to stderr.
    pub fn build(&self, out: &Path, command: impl FnOnce(&Path) -> Command) -> Result<Outcome> {
        let digest = self
            .digest()
            .with_context(|| format!("hashing {}", self.dir.display()))?;
        let cached = self
            .cache_dir
            .join(format!("{}.{digest:016x}.wasm", self.name));
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        if cached.is_file() {
            copy_atomically(&cached, out)?;
            return Ok(Outcome::Reused);
        }
        let started = Instant::now();
        let partial = out.with_extension("partial.wasm");
        let _ = fs::remove_file(&partial);
        let mut command = command(&partial);
        command
            .current_dir(self.dir)
            .stdout(crate::stdout_to_stderr());
        crate::toolchain::scrub_env(&mut command);
        let program = command.get_program().to_string_lossy().into_owned();
        let status = command
            .status()
            .with_context(|| format!("running {program} in {}", self.dir.display()))?;
        if !status.success() {
            let _ = fs::remove_file(&partial);
            bail!("{}: `{}` failed ({status})", self.name, self.recipe);
        }
        let size = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            bail!(
                "{}: `{}` succeeded but wrote nothing to {}",
                self.name,
                self.recipe,
                partial.display()
            );
        }
        let bytes = fs::read(&partial).with_context(|| format!("reading {}", partial.display()))?;
        if crate::wasm::kind(&bytes)? == crate::wasm::WasmKind::CoreModule
            && !crate::wasm::is_command(&bytes)?
        {
            let _ = fs::remove_file(&partial);
            bail!(
                "{}: `{}` wrote a core module without a `_start` export: neither a component \
                 nor a WASI command",
                self.name,
                self.recipe
            );
        }
        fs::rename(&partial, out).with_context(|| format!("moving {}", partial.display()))?;
        let elapsed = started.elapsed();
        fs::create_dir_all(self.cache_dir)
            .with_context(|| format!("creating {}", self.cache_dir.display()))?;
        copy_atomically(out, &cached)?;
        self.prune();
        Ok(Outcome::Built(elapsed))
    }

    /// The recipe's digest mixed with [`tree_digest`] of the directory.
    fn digest(&self) -> Result<u64> {
        let mut hash = Fnv::default();
        hash.write(self.recipe.as_bytes());
        hash.write(&[0]);
        hash.write(&tree_digest(self.dir, self.exclude)?.to_le_bytes());
        Ok(hash.0)
    }

    /// Removes all but the newest [`KEPT_PER_GUEST`] cached outputs of this guest.
    fn prune(&self) {
        let Ok(entries) = fs::read_dir(self.cache_dir) else {
            return;
        };
        let mut mine: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.strip_suffix(".wasm")
                    .and_then(|stem| stem.rsplit_once('.'))
                    .is_some_and(|(guest, digest)| guest == self.name && digest.len() == 16)
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        mine.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        for (_, path) in mine.into_iter().skip(KEPT_PER_GUEST) {
            let _ = fs::remove_file(path);
        }
    }
}

/// The command `sh -c COMMAND` with `FDO_COMPONENT` naming `out`, the file it must write: how
/// a manifest's `build` command runs (and the examples' `build.sh`, for the tests).
pub fn shell(command: &str, out: &Path) -> Command {
    let mut shell = Command::new("sh");
    let out = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    shell.arg("-c").arg(command).env("FDO_COMPONENT", out);
    shell
}

/// Copies `from` to `to` through a temporary file beside `to`, so `to` is never half-written.
fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let mut staged = to.as_os_str().to_owned();
    staged.push(format!(".{}.partial", std::process::id()));
    let staged = PathBuf::from(staged);
    fs::copy(from, &staged)
        .with_context(|| format!("copying {} to {}", from.display(), staged.display()))?;
    fs::rename(&staged, to).with_context(|| format!("moving {}", staged.display()))?;
    Ok(())
}

/// FNV-1a over every file's path relative to `dir` and its contents, in sorted order (files as
/// [`collect_files`] finds them): changes when a source changes, not when one is only read or
/// rewritten as it was.
pub fn tree_digest(dir: &Path, exclude: &[PathBuf]) -> Result<u64> {
    let mut files = Vec::new();
    collect_files(dir, exclude, &mut files)?;
    files.sort();
    let mut hash = Fnv::default();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap_or(&file);
        hash.write(relative.to_string_lossy().as_bytes());
        hash.write(&[0]);
        hash.write(&fs::read(&file).with_context(|| format!("reading {}", file.display()))?);
        hash.write(&[0]);
    }
    Ok(hash.0)
}

/// Every regular file under `dir`, skipping [`IGNORED_DIRS`], hidden entries and `exclude`.
pub fn collect_files(dir: &Path, exclude: &[PathBuf], files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if is_ignored(entry.file_name().as_os_str()) || exclude.contains(&path) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&path, exclude, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Whether a file or directory of this name is never a guest's source: hidden entries and
/// [`IGNORED_DIRS`].
pub fn is_ignored(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || IGNORED_DIRS.contains(&name.as_ref())
}

/// 64-bit FNV-1a: a cache key, not a security boundary.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Mixes `bytes` into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
