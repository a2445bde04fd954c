//! Encrypted delivery: a file encrypted with age to the recipients' X25519 public keys,
//! written atomically beside the original as `FILE.age`. Any age implementation decrypts
//! it (`age -d -i KEY FILE.age`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::AuditError;

/// Where the encrypted copy of `path` goes: `PATH.age`.
pub fn path_for(path: &Path) -> PathBuf {
    super::manifest::with_suffix(path, ".age")
}

/// Encrypt `source` to `recipients` (age1… keys, already validated) into `PATH.age`; its
/// path.
pub fn encrypt(source: &Path, recipients: &[String]) -> Result<PathBuf, AuditError> {
    let target = path_for(source);
    let fail = |e: &std::io::Error| AuditError::file("encrypted copy", &target, e);
    let keys: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| AuditError::Malformed {
            what: "encrypted copy",
            path: target.clone(),
            problem: "a recipient is not an age public key".into(),
        })?;
    let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
        .map_err(|_| AuditError::Malformed {
            what: "encrypted copy",
            path: target.clone(),
            problem: "no recipient to encrypt to".into(),
        })?;
    let mut input =
        BufReader::new(File::open(source).map_err(|e| AuditError::file("output", source, &e))?);
    let dir = super::files::dir_of(&target);
    let temp = tempfile::Builder::new()
        .prefix(".doel-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| fail(&e))?;
    let sink = BufWriter::new(temp.as_file().try_clone().map_err(|e| fail(&e))?);
    let mut writer = encryptor.wrap_output(sink).map_err(|e| fail(&e))?;
    std::io::copy(&mut input, &mut writer).map_err(|e| fail(&e))?;
    let mut sink = writer.finish().map_err(|e| fail(&e))?;
    sink.flush().map_err(|e| fail(&e))?;
    drop(sink);
    temp.as_file().sync_all().map_err(|e| fail(&e))?;
    temp.persist(&target).map_err(|e| fail(&e.error))?;
    Ok(target)
}
