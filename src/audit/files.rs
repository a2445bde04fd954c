//! Hashing files and writing small files atomically.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::AuditError;

/// The SHA-256 (lowercase hex) and size in bytes of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = open_regular(path)?;
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

/// Hard links to the files a run is about to replace, taken before it starts: when the
/// run fails after some of them were replaced (the extract is renamed into place before
/// the manifest and report are written), [`Backups::restore`] puts the previous ones
/// back, so a failed run leaves the previous delivery as it was; dropped, they are
/// removed. A link is
/// `.doel-PID-N.bak` beside its file; where a link cannot be made (a file system
/// without hard links), that file has no backup.
pub struct Backups(Vec<(PathBuf, PathBuf)>);

impl Backups {
    /// Backups of those of `paths` that are regular files now.
    pub fn of(paths: &[PathBuf]) -> Self {
        let mut links = Vec::new();
        for path in paths {
            if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let dir = dir_of(path);
            for n in 0..100 {
                let link = dir.join(format!(".doel-{}-{n}.bak", std::process::id()));
                match std::fs::hard_link(path, &link) {
                    Ok(()) => {
                        links.push((path.clone(), link));
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(_) => break,
                }
            }
        }
        Self(links)
    }

    /// Put each backed-up file back where its path is now empty: the run failed and
    /// removed what it wrote there. A path that holds a file (one this run did not
    /// touch, or one another run wrote meanwhile) is left as it is.
    pub fn restore(self) {
        for (path, link) in &self.0 {
            if std::fs::symlink_metadata(path).is_err() {
                let _ = std::fs::rename(link, path);
            }
        }
    }
}

/// The links go when the backups do: after a success, a restore, or a failure that
/// replaced nothing (the engine renames the extract as its last step), and when a panic
/// unwinds past them.
impl Drop for Backups {
    fn drop(&mut self) {
        for (_, link) in &self.0 {
            let _ = std::fs::remove_file(link);
        }
    }
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

/// What a file was when a run opened it: a file changed, cut short or replaced
/// meanwhile differs in one of these (the change time cannot be set back). The record
/// step hashes the inputs after the run and checks that they are still the files read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    device: u64,
    inode: u64,
    bytes: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(Self {
            device: m.dev(),
            inode: m.ino(),
            bytes: m.len(),
            modified: (m.mtime(), m.mtime_nsec()),
            changed: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Whether `path` is still the file stamped.
    pub fn holds(&self, path: &Path) -> bool {
        Self::of(path).is_ok_and(|now| now == *self)
    }
}

/// The first of `stamps` whose file changed since it was stamped.
pub fn changed(stamps: &[(PathBuf, Stamp)]) -> Option<&Path> {
    stamps
        .iter()
        .find(|(path, stamp)| !stamp.holds(path))
        .map(|(path, _)| path.as_path())
}

/// Why a run fails when a file it read changed during it.
pub const CHANGED: &str = "changed while doel read it (written to, cut short or replaced): what was read cannot be told from what is there now, so nothing is written; run again once the export is complete";

/// What [`open_regular`] says of a path that is not a regular file.
pub const NOT_REGULAR: &str = "not a regular file (a device, a FIFO or a directory)";

/// `path` opened for reading, if it is a regular file (after symlinks): a FIFO would
/// block the open and a device (`/dev/zero`) never ends, so neither is opened.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let not_regular = || std::io::Error::new(std::io::ErrorKind::InvalidInput, NOT_REGULAR);
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, refused when it holds more than `limit`.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// An I/O error in words: the kind, or what [`open_regular`] and [`read_regular`] said.
pub fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::FileTooLarge => e
            .get_ref()
            .map_or_else(|| e.kind().to_string(), ToString::to_string),
        kind => kind.to_string(),
    }
}
