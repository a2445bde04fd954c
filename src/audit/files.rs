//! Hashing files and writing small files atomically.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::AuditError;

/// The SHA-256 (lowercase hex) and size in bytes of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// The directory a file is in (`.` for a bare name).
pub(super) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Write `bytes` to `path` through a hidden temporary file beside it, synced and renamed
/// over it only when complete: a reader sees the old file or the whole new one.
pub fn write_atomic(what: &'static str, path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let fail = |e: &std::io::Error| AuditError::file(what, path, e);
    let dir = dir_of(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".doel-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| fail(&e))?;
    temp.write_all(bytes).map_err(|e| fail(&e))?;
    temp.as_file().sync_all().map_err(|e| fail(&e))?;
    temp.persist(path).map_err(|e| fail(&e.error))?;
    let _ = File::open(&dir).and_then(|d| d.sync_all());
    Ok(())
}
