//! Non-Rust guests: every `examples/NAME/build.sh` (and `test-guests/commands/NAME/build.sh`) is
//! run as `build.sh OUT_WASM_PATH` from its own directory and must leave at `OUT_WASM_PATH` a
//! component or a WASI command module (a core module exporting `_start`, which fdo deploys as
//! is), exit status non-zero on failure.
//!
//! These builds (Python, JavaScript) take seconds each, so results are cached by a digest of the
//! guest's directory: a build script run that did not touch a guest reuses its last output.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The script each non-Rust example provides.
pub const BUILD_SCRIPT: &str = "build.sh";

/// Directory names never hashed: dependencies installed by `setup.sh`, caches, outputs.
const IGNORED_DIRS: &[&str] = &["target", "node_modules", "__pycache__"];

/// A non-Rust guest to build.
#[derive(Debug)]
pub struct ScriptGuest {
    /// The directory name, which names the guest.
    pub name: String,
    /// The directory holding `build.sh`.
    pub dir: PathBuf,
}

/// Every `DIR/*/build.sh` under `examples`, sorted by name.
pub fn find(examples: &Path) -> Result<Vec<ScriptGuest>> {
    let mut guests = Vec::new();
    let Ok(entries) = fs::read_dir(examples) else {
        return Ok(guests);
    };
    for entry in entries {
        let dir = entry
            .with_context(|| format!("listing {}", examples.display()))?
            .path();
        if dir.join(BUILD_SCRIPT).is_file() {
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{} is not a UTF-8 name", dir.display()))?
                .to_string();
            guests.push(ScriptGuest { name, dir });
        }
    }
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(guests)
}

impl ScriptGuest {
    /// Builds the guest into `out`, reusing the output cached in `cache_dir` when the guest's
    /// sources have not changed since.
    pub fn build(&self, cache_dir: &Path, out: &Path) -> Result<()> {
        let digest = self
            .digest()
            .with_context(|| format!("hashing {}", self.dir.display()))?;
        let cached = cache_dir.join(format!("{}-{digest:016x}.wasm", self.name));
        if cached.is_file() {
            println!("{}: unchanged, reusing {}", self.name, cached.display());
            fs::copy(&cached, out).with_context(|| format!("copying {}", cached.display()))?;
            return Ok(());
        }
        let started = Instant::now();
        let partial = out.with_extension("partial.wasm");
        let _ = fs::remove_file(&partial);
        let mut command = Command::new("bash");
        command
            .arg(BUILD_SCRIPT)
            .arg(&partial)
            .current_dir(&self.dir);
        crate::toolchain::scrub_env(&mut command);
        let status = command
            .status()
            .with_context(|| format!("running {}/{BUILD_SCRIPT}", self.dir.display()))?;
        if !status.success() {
            bail!("{}/{BUILD_SCRIPT} failed ({status})", self.dir.display());
        }
        let size = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            bail!(
                "{}/{BUILD_SCRIPT} succeeded but wrote nothing to {}",
                self.dir.display(),
                partial.display()
            );
        }
        let bytes = fs::read(&partial).with_context(|| format!("reading {}", partial.display()))?;
        if crate::wasm::kind(&bytes)? == crate::wasm::WasmKind::CoreModule
            && !crate::wasm::is_command(&bytes)?
        {
            bail!(
                "{}/{BUILD_SCRIPT} wrote a core module without a `_start` export: neither a \
                 component nor a WASI command",
                self.dir.display()
            );
        }
        fs::rename(&partial, out).with_context(|| format!("moving {}", partial.display()))?;
        println!(
            "{}: built by {BUILD_SCRIPT} in {:.1?}",
            self.name,
            started.elapsed()
        );
        fs::create_dir_all(cache_dir)
            .with_context(|| format!("creating {}", cache_dir.display()))?;
        let staged = cached.with_extension("partial");
        fs::copy(out, &staged).with_context(|| format!("caching into {}", staged.display()))?;
        fs::rename(&staged, &cached)
            .with_context(|| format!("caching into {}", cached.display()))?;
        Ok(())
    }

    /// FNV-1a over every file's relative path and contents, in sorted order.
    fn digest(&self) -> Result<u64> {
        let mut files = Vec::new();
        collect_files(&self.dir, &mut files)?;
        files.sort();
        let mut hash = Fnv::default();
        for file in files {
            let relative = file.strip_prefix(&self.dir).unwrap_or(&file);
            hash.write(relative.to_string_lossy().as_bytes());
            hash.write(&[0]);
            hash.write(&fs::read(&file).with_context(|| format!("reading {}", file.display()))?);
            hash.write(&[0]);
        }
        Ok(hash.0)
    }
}

/// Every regular file under `dir`, skipping [`IGNORED_DIRS`] and hidden entries.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || IGNORED_DIRS.contains(&name.as_ref()) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// 64-bit FNV-1a: a cache key, not a security boundary.
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
