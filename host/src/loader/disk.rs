//! The disk tier: precompiled components, keyed by content digest and engine compatibility.
//!
//! Layout: `<dir>/<engine key>/<digest>.cwasm` holds wasmtime's serialized component, and
//! `<digest>.cwasm.sum` beside it holds the artifact's length and BLAKE3 hash. Both are written
//! to a temporary file and renamed into place, the checksum last, so a crash leaves either a
//! complete pair or an artifact without a checksum, which counts as missing. An artifact is only
//! handed to wasmtime after its checksum matches: a truncated or corrupt file is discarded and the
//! caller recompiles; wasmtime itself rejects artifacts from a different engine.

use crate::model::Digest;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a cached artifact could not be used.
#[derive(Debug, Error)]
pub enum ArtifactError {
    /// The artifact's bytes do not match its recorded checksum (truncated or corrupt).
    #[error("compiled artifact {path} is corrupt: {detail}")]
    Corrupt {
        /// The artifact's path.
        path: PathBuf,
        /// What did not match.
        detail: String,
    },
    /// Reading the artifact failed.
    #[error("reading compiled artifact {path}: {source}")]
    Io {
        /// The artifact's path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Where and whether precompiled artifacts are kept.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    /// Why artifacts are not kept on disk, when the directory is not writable.
    unavailable: Option<String>,
}

impl ArtifactStore {
    /// Opens (creating it if needed) the artifact directory for engine `engine_key` under
    /// `root`. An unwritable directory is not an error: the store reports itself unavailable
    /// and the loader runs memory-only.
    pub fn open(root: &Path, engine_key: &str) -> Self {
        let dir = root.join(engine_key);
        let unavailable = match probe_writable(&dir) {
            Ok(()) => None,
            Err(err) => Some(format!(
                "compiled-code cache directory {} is not writable ({err}); running memory-only",
                dir.display()
            )),
        };
        if let Some(reason) = &unavailable {
            tracing::warn!(%reason, "disk cache degraded");
        }
        Self { dir, unavailable }
    }

    /// A store that keeps nothing on disk (used where no data directory is configured).
    pub fn disabled(reason: impl Into<String>) -> Self {
        Self {
            dir: PathBuf::new(),
            unavailable: Some(reason.into()),
        }
    }

    /// Why the disk tier is unavailable, if it is.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// The artifact path for `digest`.
    pub fn artifact_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{digest}.cwasm"))
    }

    fn checksum_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{digest}.cwasm.sum"))
    }

    /// Returns the path of a verified artifact for `digest`, `Ok(None)` when there is none.
    pub fn verified(&self, digest: &Digest) -> Result<Option<PathBuf>, ArtifactError> {
        if self.unavailable.is_some() {
            return Ok(None);
        }
        let path = self.artifact_path(digest);
        let sum_path = self.checksum_path(digest);
        let recorded = match fs::read_to_string(&sum_path) {
            Ok(s) => s,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(source) => {
                return Err(ArtifactError::Io {
                    path: sum_path,
                    source,
                });
            }
        };
        let corrupt = |detail: String| ArtifactError::Corrupt {
            path: path.clone(),
            detail,
        };
        let (len, hash) = recorded
            .trim()
            .split_once(' ')
            .and_then(|(len, hash)| Some((len.parse::<u64>().ok()?, hash.to_owned())))
            .ok_or_else(|| corrupt("unreadable checksum file".into()))?;
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ArtifactError::Io { path, source }),
        };
        if meta.len() != len {
            return Err(corrupt(format!(
                "length {} but {len} was written",
                meta.len()
            )));
        }
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_mmap(&path)
            .map_err(|source| ArtifactError::Io {
                path: path.clone(),
                source,
            })?;
        let actual = hasher.finalize().to_hex();
        if actual.as_str() != hash {
            return Err(corrupt("checksum mismatch".into()));
        }
        Ok(Some(path))
    }

    /// Removes the artifact for `digest` (after it proved unusable).
    pub fn discard(&self, digest: &Digest) {
        for path in [self.checksum_path(digest), self.artifact_path(digest)] {
            if let Err(err) = fs::remove_file(&path)
                && err.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %err, "could not remove a bad artifact");
            }
        }
    }

    /// Writes `bytes` as the artifact for `digest`, atomically. A failure is logged and
    /// returned; callers keep serving from memory.
    pub fn store(&self, digest: &Digest, bytes: &[u8]) -> io::Result<()> {
        if self.unavailable.is_some() {
            return Ok(());
        }
        let hash = blake3::hash(bytes).to_hex();
        write_atomic(&self.dir, &self.artifact_path(digest), bytes)?;
        let sum = format!("{} {hash}\n", bytes.len());
        write_atomic(&self.dir, &self.checksum_path(digest), sum.as_bytes())?;
        Ok(())
    }
}

fn probe_writable(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let probe = tempfile::NamedTempFile::new_in(dir)?;
    probe.close()
}

/// Writes `bytes` to `dest` through a temporary file in `dir`, synced, then renamed.
pub(crate) fn write_atomic(dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        // Make the rename itself durable; not all filesystems allow syncing a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abc() -> Digest {
        Digest::of(b"abc")
    }

    #[test]
    fn round_trip_and_corruption_detection() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(tmp.path(), "engine");
        assert!(store.unavailable().is_none());
        assert!(store.verified(&abc()).unwrap().is_none());
        store.store(&abc(), b"compiled code").unwrap();
        let path = store.verified(&abc()).unwrap().expect("artifact present");
        assert_eq!(fs::read(&path).unwrap(), b"compiled code");

        // Same length, one byte flipped.
        fs::write(&path, b"compiled cODE").unwrap();
        assert!(matches!(
            store.verified(&abc()),
            Err(ArtifactError::Corrupt { .. })
        ));
        // Truncated.
        fs::write(&path, b"compiled").unwrap();
        assert!(matches!(
            store.verified(&abc()),
            Err(ArtifactError::Corrupt { .. })
        ));
        store.discard(&abc());
        assert!(store.verified(&abc()).unwrap().is_none());
    }

    #[test]
    fn artifact_without_checksum_counts_as_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(tmp.path(), "engine");
        fs::write(store.artifact_path(&abc()), b"half written").unwrap();
        assert!(store.verified(&abc()).unwrap().is_none());
    }

    #[test]
    fn unwritable_directory_is_reported_not_fatal() {
        let tmp = tempfile::tempdir().unwrap();
        // A regular file where the directory should be: nothing can be created under it.
        let blocker = tmp.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let store = ArtifactStore::open(&blocker, "engine");
        let reason = store.unavailable().expect("unavailable");
        assert!(reason.contains("not writable"), "{reason}");
        store.store(&abc(), b"x").unwrap();
        assert!(store.verified(&abc()).unwrap().is_none());
    }
}
