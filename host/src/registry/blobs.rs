//! Content-addressed component bytes on disk:
//! `<root>/sha256/<first 2 hex>/<64 hex>.wasm`, with `<root>` usually `DATA_DIR/components`.
//!
//! Writes are atomic and durable: a temporary file in the target directory, `fsync`, rename
//! over the final name, `fsync` of the directory. A crash leaves either no blob or the whole
//! blob (plus, at worst, a stray `.tmp*` file that [`BlobStore::remove_temp_files`] clears).
//! Reads are verified against the digest: a corrupt blob is an error, never served, and the
//! next [`BlobStore::put`] of the right bytes replaces it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::RegistryError;
use crate::model::{ComponentRef, Digest};

/// Name of the digest-algorithm directory under the blob root.
const ALGORITHM_DIR: &str = "sha256";
/// Extension of blob files.
const BLOB_EXTENSION: &str = "wasm";
/// Prefix of temporary files (as created by `tempfile`).
const TEMP_PREFIX: &str = ".tmp";

/// A directory of content-addressed blobs.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

fn io_err(path: &Path, source: io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl BlobStore {
    /// Opens (creating if needed) a blob store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, RegistryError> {
        let root = root.into();
        let algo = root.join(ALGORITHM_DIR);
        fs::create_dir_all(&algo).map_err(|e| io_err(&algo, e))?;
        Ok(BlobStore { root })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob for `digest` lives.
    pub fn path_of(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root
            .join(ALGORITHM_DIR)
            .join(&hex[..2])
            .join(format!("{hex}.{BLOB_EXTENSION}"))
    }

    /// Stores `bytes` under their digest. If an intact blob is already there, nothing is
    /// written; a missing or corrupt one is (re)written atomically.
    pub fn put(&self, bytes: &[u8]) -> Result<ComponentRef, RegistryError> {
        let digest = Digest::of(bytes);
        let component = ComponentRef {
            digest,
            size: bytes.len() as u64,
        };
        let path = self.path_of(&digest);
        match self.read(&digest) {
            Ok(_) => return Ok(component),
            Err(RegistryError::NotFound { .. } | RegistryError::Corrupt(_)) => {}
            Err(other) => return Err(other),
        }
        let shard = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let created_shard = !shard.exists();
        fs::create_dir_all(&shard).map_err(|e| io_err(&shard, e))?;
        if created_shard {
            // Make the new shard directory's entry durable in its parent.
            sync_dir(&self.root.join(ALGORITHM_DIR))?;
        }
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&shard)
            .map_err(|e| io_err(&shard, e))?;
        temp.write_all(bytes).map_err(|e| io_err(temp.path(), e))?;
        temp.as_file()
            .sync_all()
            .map_err(|e| io_err(temp.path(), e))?;
        temp.persist(&path).map_err(|e| io_err(&path, e.error))?;
        sync_dir(&shard)?;
        Ok(component)
    }

    /// Whether a blob file exists for `digest` (not verified; see [`BlobStore::read`]).
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path_of(digest).is_file()
    }

    /// Reads a blob and checks it against its digest. Missing: `NotFound`; content that does
    /// not hash to `digest`: `Corrupt`.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let path = self.path_of(digest);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RegistryError::NotFound {
                    resource: super::Resource::Component,
                    id: digest.to_hex(),
                });
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io_err(&path, e))?;
        if Digest::of(&bytes) != *digest {
            return Err(RegistryError::Corrupt(format!(
                "component blob {} does not match its digest sha256:{digest}",
                path.display()
            )));
        }
        Ok(bytes)
    }

    /// Removes the blob for `digest`; returns whether a file was removed.
    pub fn remove(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let path = self.path_of(digest);
        match fs::remove_file(&path) {
            Ok(()) => {
                if let Some(shard) = path.parent() {
                    sync_dir(shard)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Digests of every blob file present (files whose names are not digests are skipped).
    pub fn list(&self) -> Result<Vec<Digest>, RegistryError> {
        let mut digests = Vec::new();
        for shard in self.shards()? {
            for entry in fs::read_dir(&shard).map_err(|e| io_err(&shard, e))? {
                let entry = entry.map_err(|e| io_err(&shard, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(hex) = name.strip_suffix(&format!(".{BLOB_EXTENSION}"))
                    && let Ok(digest) = hex.parse::<Digest>()
                {
                    digests.push(digest);
                }
            }
        }
        digests.sort();
        Ok(digests)
    }

    /// Removes temporary files left by interrupted writes. Only call while no write is in
    /// progress (the registry holds its writer lock). Returns how many were removed.
    pub fn remove_temp_files(&self) -> Result<usize, RegistryError> {
        let mut removed = 0;
        for shard in self.shards()? {
            for entry in fs::read_dir(&shard).map_err(|e| io_err(&shard, e))? {
                let entry = entry.map_err(|e| io_err(&shard, e))?;
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    fs::remove_file(entry.path()).map_err(|e| io_err(&entry.path(), e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn shards(&self) -> Result<Vec<PathBuf>, RegistryError> {
        let algo = self.root.join(ALGORITHM_DIR);
        let mut shards = Vec::new();
        for entry in fs::read_dir(&algo).map_err(|e| io_err(&algo, e))? {
            let entry = entry.map_err(|e| io_err(&algo, e))?;
            if entry
                .file_type()
                .map_err(|e| io_err(&entry.path(), e))?
                .is_dir()
            {
                shards.push(entry.path());
            }
        }
        Ok(shards)
    }
}

/// `fsync` a directory so a rename or unlink in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("components")).unwrap();
        let c = store.put(b"\0asm component bytes").unwrap();
        assert_eq!(c.size, 20);
        assert_eq!(c.digest, Digest::of(b"\0asm component bytes"));
        let hex = c.digest.to_hex();
        let expected = dir
            .path()
            .join("components/sha256")
            .join(&hex[..2])
            .join(format!("{hex}.wasm"));
        assert_eq!(store.path_of(&c.digest), expected);
        assert!(expected.is_file());
        assert_eq!(store.read(&c.digest).unwrap(), b"\0asm component bytes");
        // Idempotent.
        assert_eq!(store.put(b"\0asm component bytes").unwrap(), c);
        assert_eq!(store.list().unwrap(), vec![c.digest]);
        assert!(store.remove(&c.digest).unwrap());
        assert!(!store.remove(&c.digest).unwrap());
        assert!(matches!(
            store.read(&c.digest),
            Err(RegistryError::NotFound { .. })
        ));
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn corruption_is_detected_and_healed_by_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let c = store.put(b"original bytes").unwrap();
        let path = store.path_of(&c.digest);
        fs::write(&path, b"original bytez").unwrap();
        let err = store.read(&c.digest).unwrap_err();
        assert!(matches!(err, RegistryError::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("does not match its digest"));
        // Truncation too.
        fs::write(&path, b"orig").unwrap();
        assert!(matches!(
            store.read(&c.digest),
            Err(RegistryError::Corrupt(_))
        ));
        store.put(b"original bytes").unwrap();
        assert_eq!(store.read(&c.digest).unwrap(), b"original bytes");
    }

    #[test]
    fn temp_files_are_swept_and_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let c = store.put(b"x").unwrap();
        let shard = store.path_of(&c.digest).parent().unwrap().to_path_buf();
        fs::write(shard.join(".tmpABC123"), b"partial").unwrap();
        fs::write(shard.join("not-a-digest.wasm"), b"junk").unwrap();
        assert_eq!(store.list().unwrap(), vec![c.digest]);
        assert_eq!(store.remove_temp_files().unwrap(), 1);
        assert!(!shard.join(".tmpABC123").exists());
        assert_eq!(store.read(&c.digest).unwrap(), b"x");
    }
}
