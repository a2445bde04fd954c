//! Reading and creating key files. The key's bytes never reach a message or a log;
//! only its fingerprint is printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::audit::signing::SigningSecret;
use crate::kernels::keys::{KeyError, MasterKey};

/// A key file that cannot be used, or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("no key given")]
    Missing,
    #[error("cannot read key file {}: {}", path.display(), source.kind())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {}: {source}", path.display())]
    Malformed { path: PathBuf, source: KeyError },
    #[error("signing key file {}: not a signing key", path.display())]
    MalformedSigning { path: PathBuf },
    #[error("key file {} already exists; doel never overwrites a key", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write key file {}: {}", path.display(), source.kind())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system gave no random bytes")]
    NoRandomness,
    /// Other users may read the key file and the run asked for strict permissions.
    #[error("key file {} can be read by other users, and --strict-key-permissions is set", path.display())]
    Shared { path: PathBuf },
}

impl KeyFileError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Missing => {
                "pass --key-file FILE or set DOEL_KEY_FILE; make a key with `doel keygen --out FILE`"
            }
            Self::Read { .. } => "check the path and that this user may read the file",
            Self::Malformed { .. } => {
                "a key file holds 64 hex characters and at most a final newline; make one with `doel keygen`"
            }
            Self::MalformedSigning { .. } => {
                "pass the secret key file `doel keygen --signing --out FILE` wrote (not FILE.pub)"
            }
            Self::Exists { .. } => {
                "choose another path; delete the old key only if nothing was ever pseudonymised with it"
            }
            Self::Write { .. } => "check that the directory exists and can be written",
            Self::NoRandomness => "this is a problem of the machine, not of doel",
            Self::Shared { .. } => "chmod 600 the key file (and check who could have read it)",
        }
    }
}

/// Load the key at `path`. When others may read the file: a warning on stderr, or with
/// `strict` a refusal.
pub fn load(path: Option<&Path>, strict: bool) -> Result<MasterKey, KeyFileError> {
    let path = path.ok_or(KeyFileError::Missing)?;
    let contents = read_private(path, strict)?;
    MasterKey::from_hex_file_contents(&contents).map_err(|source| KeyFileError::Malformed {
        path: path.to_owned(),
        source,
    })
}

/// Load the signing key at `path`, checked like the pseudonym key.
pub fn load_signing(path: &Path, strict: bool) -> Result<SigningSecret, KeyFileError> {
    let contents = read_private(path, strict)?;
    SigningSecret::from_file_contents(&contents).ok_or_else(|| KeyFileError::MalformedSigning {
        path: path.to_owned(),
    })
}

/// A secret file's bytes (wiped when dropped). When others may read the file: a
/// warning on stderr, or with `strict` a refusal.
fn read_private(path: &Path, strict: bool) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let contents = zeroizing_read(path)?;
    if shared(path) {
        if strict {
            return Err(KeyFileError::Shared {
                path: path.to_owned(),
            });
        }
        eprintln!(
            "warning: key file {} can be read by other users; chmod 600 it",
            path.display()
        );
    }
    Ok(contents)
}

/// The file's bytes, wiped when dropped: at most 4 KiB and one byte, which is already too
/// long for a key (so `--key-file /dev/zero` is refused, not read until memory runs out).
/// The buffer is allocated once, so no copy of the key is left in a freed one.
fn zeroizing_read(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    use std::io::Read;
    const LIMIT: usize = 4096 + 1;
    let mut bytes = Zeroizing::new(Vec::with_capacity(LIMIT));
    std::fs::File::open(path)
        .and_then(|f| f.take(LIMIT as u64).read_to_end(&mut bytes))
        .map_err(|source| KeyFileError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

/// Whether users other than the owner may read or write the file.
#[cfg(unix)]
fn shared(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn shared(_: &Path) -> bool {
    false
}

/// Write a new random key to `path` (mode 0600), refusing to replace any existing file.
pub fn generate(path: &Path) -> Result<MasterKey, KeyFileError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|_| KeyFileError::NoRandomness)?;
    let key = MasterKey::from_bytes(*bytes);
    write_new(path, key.to_hex_file_contents().as_bytes(), 0o600)?;
    Ok(key)
}

/// Write a new Ed25519 signing key to `path` (mode 0600) and its public key to
/// `path.pub` (mode 0644), refusing to replace either. The public key's path.
pub fn generate_signing(path: &Path) -> Result<PathBuf, KeyFileError> {
    let secret = SigningSecret::generate().map_err(|_| KeyFileError::NoRandomness)?;
    let public = crate::audit::signing::public_path(path);
    if public.exists() {
        return Err(KeyFileError::Exists { path: public });
    }
    write_new(path, secret.to_file_contents().as_bytes(), 0o600)?;
    write_new(
        &public,
        format!("{}\n", secret.public_hex()).as_bytes(),
        0o644,
    )?;
    Ok(public)
}

/// Create `path` with `contents` and `mode`; never replaces a file.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => KeyFileError::Exists {
            path: path.to_owned(),
        },
        _ => KeyFileError::Write {
            path: path.to_owned(),
            source,
        },
    })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(source) = written {
        let _ = std::fs::remove_file(path);
        return Err(KeyFileError::Write {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}
