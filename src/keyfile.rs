//! Reading and creating key files, for the command line and the Python extension alike:
//! a bounded read (a key file is a few bytes; `/dev/zero` is refused, not read until
//! memory runs out), the 64-hex format, a warning (or with `strict` a refusal) when
//! others may read the file, and typed errors with hints. The key's bytes never reach a
//! message or a log; only its fingerprint is printed.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::audit::signing::{PUBLIC_PREFIX, SECRET_PREFIX, SigningSecret, VerifyingKey};
use crate::kernels::keys::{KeyError, MasterKey};

/// A key file that cannot be used, or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("no key given")]
    Missing,
    #[error("cannot read key file {}: {}", path.display(), crate::audit::describe(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {}: {source}", path.display())]
    Malformed { path: PathBuf, source: KeyError },
    #[error("signing key file {}: not a signing key", path.display())]
    MalformedSigning { path: PathBuf },
    /// The published demo key, and the run asked for strict key handling.
    #[error("key file {} is the published demo key, and --strict-key-permissions is set", path.display())]
    Demo { path: PathBuf },
    #[error("key file {} is a signing key, not a pseudonym key", path.display())]
    SigningAsPseudonym { path: PathBuf },
    #[error("key file {} holds the signing key's own bytes (its seed or its public key)", path.display())]
    SameAsSigning { path: PathBuf },
    #[error("public key {}: not an Ed25519 public key: expected 64 hex characters (the .pub file `doel keygen --signing` wrote)", path.display())]
    MalformedPublic { path: PathBuf },
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
            Self::Demo { .. } => {
                "the demo key protects nothing: make your own with `doel keygen --out FILE`"
            }
            Self::SigningAsPseudonym { .. } => {
                "pass the pseudonym key (`doel keygen --out FILE`) as --key-file and the signing key as --signing-key"
            }
            Self::SameAsSigning { .. } => {
                "the public key is handed to recipients: make a separate pseudonym key with `doel keygen --out FILE`"
            }
            Self::MalformedPublic { .. } => {
                "pass the FILE.pub that `doel keygen --signing --out FILE` wrote, as the signer handed it to you"
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

/// The fingerprint of the demo key published in this repository
/// (`sample-data/demo.key`): recognised wherever it is copied.
pub const DEMO_FINGERPRINT: &str = "6ad667b3eaecc0f2";

/// Something worth saying about a key file that was read all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyWarning {
    /// Users other than the owner may read or write the file.
    Shared { path: PathBuf },
    /// The published demo key: whoever has this repository can recompute its pseudonyms
    /// (its file's permissions are beside the point).
    Demo { path: PathBuf },
}

impl fmt::Display for KeyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shared { path } => write!(
                f,
                "key file {} can be read by other users; chmod 600 it",
                path.display()
            ),
            Self::Demo { path } => write!(
                f,
                "key file {} is the published DEMO KEY (fingerprint {DEMO_FINGERPRINT}): its pseudonyms protect nothing; make your own key with `doel keygen --out FILE`",
                path.display()
            ),
        }
    }
}

/// A key read from its file, and what the caller should say about the file.
pub struct Loaded<K> {
    pub key: K,
    pub warning: Option<KeyWarning>,
}

/// Load the key at `path`. When others may read the file: a warning for the caller to
/// show, or with `strict` a refusal.
pub fn load(path: Option<&Path>, strict: bool) -> Result<Loaded<MasterKey>, KeyFileError> {
    let path = path.ok_or(KeyFileError::Missing)?;
    let contents = zeroizing_read(path)?;
    let signing = [SECRET_PREFIX, PUBLIC_PREFIX];
    let legacy_public = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pub"));
    if signing.iter().any(|p| contents.starts_with(p)) || legacy_public {
        return Err(KeyFileError::SigningAsPseudonym {
            path: path.to_owned(),
        });
    }
    let key =
        MasterKey::from_hex_file_contents(&contents).map_err(|source| KeyFileError::Malformed {
            path: path.to_owned(),
            source,
        })?;
    let warning = if key.fingerprint() == DEMO_FINGERPRINT {
        if strict {
            return Err(KeyFileError::Demo {
                path: path.to_owned(),
            });
        }
        Some(KeyWarning::Demo {
            path: path.to_owned(),
        })
    } else {
        permissions(path, strict)?
    };
    Ok(Loaded { key, warning })
}

/// Load the signing key at `path`, checked like the pseudonym key.
pub fn load_signing(path: &Path, strict: bool) -> Result<Loaded<SigningSecret>, KeyFileError> {
    let (contents, warning) = read_private(path, strict)?;
    let key = SigningSecret::from_file_contents(&contents).ok_or_else(|| {
        KeyFileError::MalformedSigning {
            path: path.to_owned(),
        }
    })?;
    Ok(Loaded { key, warning })
}

/// Load an Ed25519 public key (a `.pub` file: 64 hex characters), read bounded too.
pub fn load_public(path: &Path) -> Result<VerifyingKey, KeyFileError> {
    let contents = zeroizing_read(path)?;
    let malformed = || KeyFileError::MalformedPublic {
        path: path.to_owned(),
    };
    let contents = contents.strip_prefix(PUBLIC_PREFIX).unwrap_or(&contents);
    let text = std::str::from_utf8(contents).map_err(|_| malformed())?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| malformed())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| malformed())
}

/// Refuse a pseudonym key that is the signing key's seed or public key: the public key
/// is handed to every recipient, who could then recompute every pseudonym.
pub fn distinct(
    key: &MasterKey,
    key_path: &Path,
    signing: &SigningSecret,
) -> Result<(), KeyFileError> {
    if signing.holds(key.bytes()) {
        return Err(KeyFileError::SameAsSigning {
            path: key_path.to_owned(),
        });
    }
    Ok(())
}

/// Refuse a pseudonym key whose bytes are the public key of one of `signers` (the
/// fingerprints a register's signed entries name): an unmarked public key file of an
/// earlier version, renamed, whose key every signed manifest prints.
pub fn not_a_signer<'a>(
    key: &MasterKey,
    key_path: &Path,
    mut signers: impl Iterator<Item = &'a str>,
) -> Result<(), KeyFileError> {
    let Ok(public) = VerifyingKey::from_bytes(key.bytes()) else {
        return Ok(());
    };
    let fingerprint = crate::audit::signing::fingerprint(&public);
    if signers.any(|s| s == fingerprint) {
        return Err(KeyFileError::SameAsSigning {
            path: key_path.to_owned(),
        });
    }
    Ok(())
}

/// A secret file's bytes (wiped when dropped), and a warning when others may read the
/// file — or with `strict` a refusal.
fn read_private(
    path: &Path,
    strict: bool,
) -> Result<(Zeroizing<Vec<u8>>, Option<KeyWarning>), KeyFileError> {
    let contents = zeroizing_read(path)?;
    Ok((contents, permissions(path, strict)?))
}

/// A warning when others may read the file, or with `strict` a refusal.
fn permissions(path: &Path, strict: bool) -> Result<Option<KeyWarning>, KeyFileError> {
    if !shared(path) {
        return Ok(None);
    }
    if strict {
        return Err(KeyFileError::Shared {
            path: path.to_owned(),
        });
    }
    Ok(Some(KeyWarning::Shared {
        path: path.to_owned(),
    }))
}

/// The file's bytes, wiped when dropped: at most 4 KiB and one byte, which is already too
/// long for a key (so `--key-file /dev/zero` is refused, not read until memory runs out).
/// The buffer is allocated once, so no copy of the key is left in a freed one.
fn zeroizing_read(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    use std::io::Read;
    const LIMIT: usize = 4096 + 1;
    let mut bytes = Zeroizing::new(Vec::with_capacity(LIMIT));
    // A FIFO would block the open: refused first. A device is read bounded, like a file.
    if std::fs::metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_fifo() || m.file_type().is_socket()
    }) {
        return Err(KeyFileError::Read {
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                crate::audit::NOT_REGULAR,
            ),
        });
    }
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
    // A dangling link counts as there: nothing is written through it.
    if std::fs::symlink_metadata(&public).is_ok() {
        return Err(KeyFileError::Exists { path: public });
    }
    write_new(path, secret.to_file_contents().as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public, secret.public_file_contents().as_bytes(), 0o644) {
        // No secret without its public key.
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(public)
}

/// Create `path` with `contents` and `mode`; never replaces a file. The key is written
/// to a hidden temporary file beside it and linked into place whole, so that an
/// interrupted `keygen` leaves no empty or cut key at `path` (at worst a hidden
/// `.doel-key-*` file, mode `mode`).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let exists = || KeyFileError::Exists {
        path: path.to_owned(),
    };
    let write_error = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".doel-key-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    #[cfg(not(unix))]
    let _ = mode;
    let mut temp = builder.tempfile_in(dir).map_err(write_error)?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(write_error)?;
    temp.persist_noclobber(path)
        .map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => exists(),
            _ => write_error(e.error),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// A file in `dir` holding `contents`, with `mode`.
    fn file(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn seed(secret: &SigningSecret) -> [u8; 32] {
        let contents = secret.to_file_contents();
        let hex_part = contents
            .strip_prefix(std::str::from_utf8(SECRET_PREFIX).unwrap())
            .unwrap()
            .trim_end();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_key_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "k.key", format!("{HEX}\n").as_bytes(), 0o600);
        let loaded = load(Some(&path), true).unwrap();
        assert_eq!(loaded.warning, None);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(HEX, &mut bytes).unwrap();
        assert_eq!(loaded.key.bytes(), &bytes);
        assert_eq!(
            loaded.key.fingerprint(),
            MasterKey::from_bytes(bytes).fingerprint()
        );
    }

    #[test]
    fn no_key_or_a_missing_file_is_refused() {
        assert!(matches!(load(None, false), Err(KeyFileError::Missing)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.key");
        match load(Some(&path), false) {
            Err(KeyFileError::Read { path: p, source }) => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn dev_zero_is_refused_after_a_bounded_read() {
        match load(Some(Path::new("/dev/zero")), false) {
            // 4 KiB and one byte read, no more.
            Err(KeyFileError::Malformed { path, source }) => {
                assert_eq!(path, Path::new("/dev/zero"));
                assert_eq!(source, KeyError::WrongLength { found: 4097 });
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_large_file_is_refused_after_a_bounded_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "big.key", &vec![b'a'; 1 << 20], 0o600);
        match load(Some(&path), true) {
            Err(KeyFileError::Malformed { source, .. }) => {
                assert_eq!(source, KeyError::WrongLength { found: 4097 });
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn malformed_keys_are_refused_without_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let not_hex = HEX.replace('0', "g");
        for (contents, expected) in [
            (HEX[..63].to_owned(), KeyError::WrongLength { found: 63 }),
            (format!("{HEX}\n\n"), KeyError::WrongLength { found: 65 }),
            (format!("{HEX}\r\n"), KeyError::WrongLength { found: 65 }),
            (not_hex.clone(), KeyError::NotHex),
        ] {
            let path = file(dir.path(), "k.key", contents.as_bytes(), 0o600);
            match load(Some(&path), false) {
                Err(e @ KeyFileError::Malformed { .. }) => {
                    let KeyFileError::Malformed { source, .. } = &e else {
                        unreachable!()
                    };
                    assert_eq!(*source, expected);
                    let message = e.to_string();
                    assert!(!message.contains(&HEX[..16]), "{message}");
                    assert!(!message.contains(&not_hex[..16]), "{message}");
                }
                other => panic!("{:?}", other.err()),
            }
        }
    }

    #[test]
    fn a_signing_key_is_no_pseudonym_key() {
        let dir = tempfile::tempdir().unwrap();
        let secret = SigningSecret::generate().unwrap();
        let public = file(
            dir.path(),
            "s.key.pub",
            secret.public_file_contents().as_bytes(),
            0o600,
        );
        let secret_file = file(
            dir.path(),
            "s.key",
            secret.to_file_contents().as_bytes(),
            0o600,
        );
        // A public key without its prefix, as older versions wrote it, named `.pub`.
        let legacy = file(
            dir.path(),
            "old.pub",
            format!("{}\n", secret.public_hex()).as_bytes(),
            0o600,
        );
        // The public key's contents under another name.
        let renamed = file(
            dir.path(),
            "renamed.key",
            secret.public_file_contents().as_bytes(),
            0o600,
        );
        for path in [public, secret_file, legacy, renamed] {
            match load(Some(&path), false) {
                Err(KeyFileError::SigningAsPseudonym { path: p }) => assert_eq!(p, path),
                other => panic!("{}: {:?}", path.display(), other.err()),
            }
        }
    }

    #[test]
    fn a_key_others_may_read_is_warned_of_or_refused_when_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "k.key", HEX.as_bytes(), 0o644);
        let loaded = load(Some(&path), false).unwrap();
        assert_eq!(
            loaded.warning,
            Some(KeyWarning::Shared { path: path.clone() })
        );
        assert_eq!(
            loaded.warning.unwrap().to_string(),
            format!(
                "key file {} can be read by other users; chmod 600 it",
                path.display()
            )
        );
        match load(Some(&path), true) {
            Err(KeyFileError::Shared { path: p }) => assert_eq!(p, path),
            other => panic!("{:?}", other.err()),
        }
        // Group-readable only is shared too; owner-only is not.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load(Some(&path), true),
            Err(KeyFileError::Shared { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(load(Some(&path), true).unwrap().warning, None);
    }

    #[test]
    fn a_pseudonym_key_must_not_be_the_signing_keys_bytes() {
        let secret = SigningSecret::generate().unwrap();
        let mut public = [0u8; 32];
        hex::decode_to_slice(secret.public_hex(), &mut public).unwrap();
        let path = Path::new("k.key");
        match distinct(&MasterKey::from_bytes(public), path, &secret) {
            Err(KeyFileError::SameAsSigning { path: p }) => assert_eq!(p, path),
            other => panic!("{:?}", other.err()),
        }
        assert!(matches!(
            distinct(&MasterKey::from_bytes(seed(&secret)), path, &secret),
            Err(KeyFileError::SameAsSigning { .. })
        ));
        let mut other = [0u8; 32];
        hex::decode_to_slice(HEX, &mut other).unwrap();
        distinct(&MasterKey::from_bytes(other), path, &secret).unwrap();
    }

    #[test]
    fn a_generated_key_loads_with_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 65);
        let loaded = load(Some(&path), true).unwrap();
        assert_eq!(loaded.warning, None);
        assert_eq!(loaded.key.fingerprint(), key.fingerprint());
        assert_eq!(loaded.key.bytes(), key.bytes());
        // Two keys are not the same key.
        let other = generate(&dir.path().join("k2.key")).unwrap();
        assert_ne!(other.fingerprint(), key.fingerprint());
    }

    #[test]
    fn generate_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "k.key", b"old", 0o600);
        match generate(&path) {
            Err(KeyFileError::Exists { path: p }) => assert_eq!(p, path),
            other => panic!("{:?}", other.err().map(|e| e.to_string())),
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        match generate(&dir.path().join("no-such-dir").join("k.key")) {
            Err(KeyFileError::Write { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{:?}", other.err().map(|e| e.to_string())),
        }
    }

    #[test]
    fn a_generated_signing_key_and_its_public_key_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.key");
        let public_path = generate_signing(&path).unwrap();
        assert_eq!(public_path, dir.path().join("s.key.pub"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(&public_path)), (0o600, 0o644));
        let secret = load_signing(&path, true).unwrap();
        assert_eq!(secret.warning, None);
        let public = load_public(&public_path).unwrap();
        assert_eq!(
            crate::audit::signing::fingerprint(&public),
            secret.key.fingerprint()
        );
        // Neither file is taken for a pseudonym key.
        assert!(matches!(
            load(Some(&path), false),
            Err(KeyFileError::SigningAsPseudonym { .. })
        ));
        assert!(matches!(
            load(Some(&public_path), false),
            Err(KeyFileError::SigningAsPseudonym { .. })
        ));
        // Neither is replaced.
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            generate_signing(&path),
            Err(KeyFileError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // A public key alone in the way: no secret key is written.
        let lone = dir.path().join("t.key");
        file(dir.path(), "t.key.pub", b"x", 0o644);
        match generate_signing(&lone) {
            Err(KeyFileError::Exists { path: p }) => assert_eq!(p, dir.path().join("t.key.pub")),
            other => panic!("{:?}", other.err().map(|e| e.to_string())),
        }
        assert!(!lone.exists());
    }

    #[test]
    fn malformed_signing_and_public_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = file(dir.path(), "bad", b"doel-ed25519-secret xyz\n", 0o600);
        assert!(matches!(
            load_signing(&bad, false),
            Err(KeyFileError::MalformedSigning { .. })
        ));
        assert!(matches!(
            load_public(&bad),
            Err(KeyFileError::MalformedPublic { .. })
        ));
        assert!(matches!(
            load_public(Path::new("/dev/zero")),
            Err(KeyFileError::MalformedPublic { .. })
        ));
    }

    #[test]
    fn the_demo_key_is_named_as_such_whatever_its_mode() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/demo.key");
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("private.key");
        std::fs::copy(&demo, &copy).unwrap();
        for mode in [0o600, 0o644] {
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(mode)).unwrap();
            let loaded = load(Some(&copy), false).unwrap();
            assert_eq!(loaded.key.fingerprint(), DEMO_FINGERPRINT);
            assert_eq!(
                loaded.warning,
                Some(KeyWarning::Demo { path: copy.clone() })
            );
            assert!(matches!(
                load(Some(&copy), true),
                Err(KeyFileError::Demo { .. })
            ));
        }
    }
}
