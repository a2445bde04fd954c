//! Accountability (GDPR art. 5(2) and 30): the manifest that proves what a run did, the
//! hash-chained processing register, Ed25519 signatures over manifests, encrypted
//! delivery to the recipient with age, and the run report for the privacy officer.
//! Nothing here holds a value from the data or key material: only names, counts,
//! hashes and the key's fingerprint.

pub mod crosscheck;
pub mod delivery;
pub mod domain;
mod files;
pub mod html;
pub mod manifest;
pub mod record;
pub mod register;
pub mod reidentify;
pub mod signing;
pub mod summary;
pub mod verify;

use std::path::PathBuf;

pub use files::{
    Backups, CHANGED, NOT_REGULAR, Stamp, changed, describe, open_regular, read_regular,
    sha256_file, write_atomic,
};
pub use manifest::DatabaseSource;
pub use summary::{ListReport, MicrodataReport, RejectionCount, RunSummary};

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

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
    /// The register shows that the run would break a rule of accountability (a pseudonym
    /// domain of another recipient's, or one that only looks like another).
    #[error("register {}, {problem}", path.display())]
    Refused {
        path: PathBuf,
        problem: String,
        hint: &'static str,
    },
}

impl AuditError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::File { .. } => "check that the path exists, can be written and has free space",
            Self::Malformed { .. } => {
                "the file was not written by this version of doel, or was changed; `doel register verify` and `doel verify` say where"
            }
            Self::Refused { hint, .. } => hint,
        }
    }

    fn file(what: &'static str, path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::File {
            what,
            path: path.to_owned(),
            problem: files::describe(e),
        }
    }
}

/// The time now in UTC, as `2026-11-23T16:05:09Z`.
pub fn now_utc() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `text` in double quotes, for a message: a quote, a backslash and any character a
/// terminal would not show as itself (control and formatting characters, line and
/// paragraph separators) are escaped, so that pipeline or register text cannot rewrite
/// what a message says.
pub fn quoted(text: &str) -> String {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if matches!(
                get_general_category(c),
                G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
            ) =>
            {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Who runs doel, as the operating system knows them: the real user id and its user
/// name (`None` when no user entry has that id). Unlike `$USER`, which whoever runs a
/// command can set, neither can be chosen by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub uid: u32,
    pub name: Option<String>,
}

/// The operator of this process (see [`Operator`]).
pub fn operator() -> Operator {
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut buffer: Vec<libc::c_char> = vec![0; 1024];
    let name = loop {
        // SAFETY: a zeroed passwd is a valid out-parameter (pointers null, numbers 0).
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call, and the buffer's length is given.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || entry.pw_name.is_null() {
            break None;
        }
        // SAFETY: on success pw_name points at a NUL-terminated string inside `buffer`.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        break Some(name.to_string_lossy().into_owned());
    };
    Operator { uid, name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_cannot_rewrite_a_message() {
        assert_eq!(quoted("Gemeente \"X\""), "\"Gemeente \\\"X\\\"\"");
        assert_eq!(quoted("a\nb\u{202e}c"), "\"a\\u{000a}b\\u{202e}c\"");
        assert_eq!(quoted("Zoë"), "\"Zoë\"");
    }

    #[test]
    fn the_operator_is_the_real_user() {
        let me = operator();
        // SAFETY: as in `operator`.
        assert_eq!(me.uid, unsafe { libc::getuid() });
    }
}
