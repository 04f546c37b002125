//! Where guest builds keep what outlives one build, per machine user:
//!
//! - `guest-target/`: one cargo target directory for every guest workspace (fdo's examples, its
//!   test guests, every project `fdo new` made). The offline toolchain compiles `std` for
//!   `wasm32-wasip2` itself, which takes minutes on a small machine; sharing the directory
//!   builds it once, and the registry crates guests have in common too. Cargo's unit hashes
//!   keep different sources apart; [`BuildLock`] keeps two builds from reading each other's
//!   artifacts (cargo names a `cdylib`'s output after its crate, not its workspace).
//! - `script-builds/`: outputs of script builds (Python, JavaScript), keyed by a digest of
//!   their sources.
//!
//! The directory is `$FDO_CACHE_DIR`, else `$XDG_CACHE_HOME/fdo`, else `~/.cache/fdo`.

use std::env;
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Environment variable naming the cache directory.
pub const CACHE_DIR_VAR: &str = "FDO_CACHE_DIR";

/// The lock file in the guest target directory.
const LOCK_FILE: &str = ".fdo-guest-build.lock";

/// The cache directory (see the module docs).
pub fn cache_dir() -> PathBuf {
    let var = |name: &str| {
        env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = var(CACHE_DIR_VAR) {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("fdo");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("fdo");
    }
    env::temp_dir().join("fdo-cache")
}

/// The cargo target directory every guest workspace builds into.
pub fn guest_target_dir() -> PathBuf {
    cache_dir().join("guest-target")
}

/// Where script builds keep their outputs.
pub fn script_cache_dir() -> PathBuf {
    cache_dir().join("script-builds")
}

/// An exclusive lock on a guest target directory, held from a cargo build until its artifacts
/// are read; released on drop.
#[derive(Debug)]
pub struct BuildLock {
    _file: File,
}

impl BuildLock {
    /// Takes the lock of `target_dir`, waiting (and saying so on stderr) while another build
    /// holds it.
    pub fn acquire(target_dir: &Path) -> Result<Self> {
        fs::create_dir_all(target_dir)
            .with_context(|| format!("creating {}", target_dir.display()))?;
        let path = target_dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another guest build to finish with {}",
                    target_dir.display()
                );
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(BuildLock { _file: file })
    }
}
