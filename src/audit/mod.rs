//! Accountability (GDPR art. 5(2) and 30): the manifest that proves what a run did, the
//! hash-chained processing register, Ed25519 signatures over manifests, encrypted
//! delivery to the recipient with age, and the run report for the privacy officer.
//! Nothing here holds a value from the data or key material: only names, counts,
//! hashes and the key's fingerprint.

pub mod delivery;
mod files;
pub mod html;
pub mod manifest;
pub mod register;
pub mod signing;

use std::path::PathBuf;

pub use files::{Backups, sha256_file, write_atomic};

/// Why an accountability step failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file cannot be read or written.
    #[error("{what} {}: {problem}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        problem: String,
    },
    /// A file exists but is not what doel wrote (not JSON, wrong schema, torn line).
    #[error("{what} {}: {problem}", path.display())]
    Malformed {
        what: &'static str,
        path: PathBuf,
        problem: String,
    },
}

impl AuditError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::File { .. } => "check that the path exists, can be written and has free space",
            Self::Malformed { .. } => {
                "the file was not written by this version of doel, or was changed; `doel register verify` and `doel verify` say where"
            }
        }
    }

    fn file(what: &'static str, path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::File {
            what,
            path: path.to_owned(),
            problem: e.kind().to_string(),
        }
    }
}

/// The time now in UTC, as `2026-11-23T16:05:09Z`.
pub fn now_utc() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
