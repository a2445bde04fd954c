//! The processing register: an append-only JSON Lines file, one entry per run (a summary
//! of its manifest) or re-identification. Each entry holds its sequence number and the
//! SHA-256 of the previous entry's line, so an edited, removed or reordered entry breaks
//! the chain at a place `verify` names. An entry removed from the end leaves a shorter but
//! intact chain: it is detected against a head hash noted earlier (`--head`).
//!
//! An entry appended with a signing key ends in `"signer":FINGERPRINT,"signature":SIG`:
//! `SIG` is the Ed25519 signature (128 hex characters) of [`SIGNED_PREFIX`] followed by
//! the entry's line as it is without its last member: the line with
//! `,"signature":"SIG"` cut from before its closing brace. That line holds `seq` and
//! `prev`, so a signature also covers every entry before it through the chain: an entry
//! edited and the chain recomputed after it fails the signatures from there on.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AuditError;
use super::signing::{self, SigningSecret};

const WHAT: &str = "register";

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where an entry went: its number and the SHA-256 of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub sha256: String,
}

/// What an entry's signature is over, before the entry's line: it keeps an entry's
/// signature from being taken for a manifest's, made with the same key.
pub const SIGNED_PREFIX: &[u8] = b"doel-register/1 entry\n";

fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// A check of the entries already in the register, made under the register's lock just
/// before an entry is appended.
pub type Check<'a> = &'a dyn Fn(&[Entry]) -> Result<(), AuditError>;

/// Append `body` (a JSON object; `seq` and `prev` are set here) to the register at
/// `path`, creating it if needed; signed with `signer` when given (see the module's
/// documentation). Concurrent runs take turns on an exclusive lock. The line is written
/// with one `write` and synced before the lock is released.
pub fn append(
    path: &Path,
    body: Map<String, Value>,
    signer: Option<&SigningSecret>,
) -> Result<Appended, AuditError> {
    append_checked(path, body, signer, None)
}

/// [`append`], after `check` accepts the entries in the register (read under its lock,
/// so that no other run appends between the check and the entry).
pub fn append_checked(
    path: &Path,
    body: Map<String, Value>,
    signer: Option<&SigningSecret>,
    check: Option<Check>,
) -> Result<Appended, AuditError> {
    let fail = |e: &std::io::Error| AuditError::file(WHAT, path, e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| fail(&e))?;
    file.lock().map_err(|e| fail(&e))?;
    let (seq, prev) = next_link(path, &mut file)?;
    if let Some(check) = check {
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| fail(&e))?;
        check(&parse(path, &bytes)?)?;
    }
    let len = file.metadata().map_err(|e| fail(&e))?.len();
    let mut entry = Map::new();
    entry.insert("seq".into(), seq.into());
    entry.insert("prev".into(), prev.into());
    debug_assert!(!body.contains_key("signature") && !body.contains_key("signer"));
    entry.extend(body);
    if let Some(key) = signer {
        entry.insert("signer".into(), key.fingerprint().into());
    }
    let mut line = serde_json::to_vec(&Value::Object(entry)).expect("an entry serialises");
    if let Some(key) = signer {
        let signature = key.sign(&[SIGNED_PREFIX, &line].concat());
        line.pop();
        line.extend_from_slice(format!(",\"signature\":\"{signature}\"}}").as_bytes());
    }
    let sha256 = line_hash(&line);
    line.push(b'\n');
    if let Err(e) = file.write_all(&line).and_then(|()| file.sync_all()) {
        // A write cut off (a full disk, a file size limit) would leave a torn last line,
        // and every later run would refuse the register: cut it back.
        let _ = file.set_len(len).and_then(|()| file.sync_all());
        return Err(fail(&e));
    }
    Ok(Appended { seq, sha256 })
}

/// The `seq` and `prev` of the entry that would follow the register's last one.
fn next_link(path: &Path, file: &mut File) -> Result<(u64, String), AuditError> {
    let malformed = |problem: &str| AuditError::Malformed {
        what: WHAT,
        path: path.to_owned(),
        problem: format!("{problem}; nothing was appended"),
    };
    match last_line(file).map_err(|e| AuditError::file(WHAT, path, &e))? {
        None => Ok((1, GENESIS.to_owned())),
        Some(Tail::Torn) => Err(malformed(
            "its last entry is incomplete (a write was cut off)",
        )),
        Some(Tail::Line(line)) => {
            let seq = serde_json::from_slice::<Value>(&line)
                .ok()
                .and_then(|v| v.get("seq").and_then(Value::as_u64))
                .ok_or_else(|| malformed("its last entry is not a register entry"))?;
            Ok((seq + 1, line_hash(&line)))
        }
    }
}

/// Whether [`append`] could add an entry to the register at `path`, checked before a run
/// writes anything: an existing register must be a file opened for appending whose last
/// entry is whole; a new one needs its nearest existing ancestor to be a directory.
/// Nothing is created.
pub fn check_appendable(path: &Path) -> Result<(), AuditError> {
    let fail = |e: &std::io::Error| AuditError::file(WHAT, path, e);
    match std::fs::metadata(path) {
        Ok(_) => {
            let mut file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(path)
                .map_err(|e| fail(&e))?;
            next_link(path, &mut file).map(drop)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let ancestor = path
                .ancestors()
                .skip(1)
                .map(|a| {
                    if a.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        a
                    }
                })
                .find(|a| std::fs::symlink_metadata(a).is_ok());
            match ancestor.map(std::fs::metadata) {
                Some(Ok(meta)) if !meta.is_dir() => Err(fail(&std::io::Error::from(
                    std::io::ErrorKind::NotADirectory,
                ))),
                Some(Err(e)) => Err(fail(&e)),
                _ => Ok(()),
            }
        }
        Err(e) => Err(fail(&e)),
    }
}

enum Tail {
    Line(Vec<u8>),
    /// The file does not end with a newline.
    Torn,
}

/// The last line of the file (without its newline), reading backwards from the end.
fn last_line(file: &mut File) -> std::io::Result<Option<Tail>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        Read::take(&mut *file, len - start).read_to_end(&mut buf)?;
        if buf.last() != Some(&b'\n') {
            return Ok(Some(Tail::Torn));
        }
        let body = &buf[..buf.len() - 1];
        match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => return Ok(Some(Tail::Line(body[i + 1..].to_vec()))),
            None if start == 0 => return Ok(Some(Tail::Line(body.to_vec()))),
            None => window *= 4,
        }
    }
}

/// One entry as read back.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub sha256: String,
    pub fields: Map<String, Value>,
    /// The line, without its newline.
    pub line: Vec<u8>,
}

impl Entry {
    /// Whether the entry carries a signature (valid or not).
    pub fn is_signed(&self) -> bool {
        self.fields.contains_key("signature")
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// The bytes its signature covers and the signature: `None` when it has none; `Err`
    /// when it has one in another form than [`append`] writes.
    fn signed_parts(&self) -> Option<Result<(Vec<u8>, &str), ()>> {
        let signature = self.fields.get("signature")?;
        let well_formed = signature
            .as_str()
            .filter(|s| s.len() == 128 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .filter(|_| self.fields.keys().next_back().map(String::as_str) == Some("signature"));
        let Some(signature) = well_formed else {
            return Some(Err(()));
        };
        let suffix = format!(",\"signature\":\"{signature}\"}}");
        let Some(content) = self.line.strip_suffix(suffix.as_bytes()) else {
            return Some(Err(()));
        };
        Some(Ok(([SIGNED_PREFIX, content, b"}"].concat(), signature)))
    }
}

/// Every entry of the register at `path`, as far as each line is a JSON object, whether
/// or not the chain holds (none when there is no register yet): for checks that must see
/// every entry, which `verify` does not past a break.
pub fn read(path: &Path) -> Result<Vec<Entry>, AuditError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(AuditError::file(WHAT, path, &e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Entry>, AuditError> {
    let mut entries = Vec::new();
    for (i, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let n = i as u64 + 1;
        let malformed = |problem: String| AuditError::Malformed {
            what: WHAT,
            path: path.to_owned(),
            problem: format!("line {n}: {problem}; nothing was appended"),
        };
        let Some(line) = raw.strip_suffix(b"\n") else {
            return Err(malformed(
                "the entry is incomplete (a write was cut off)".into(),
            ));
        };
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(line) else {
            return Err(malformed("not a register entry (not a JSON object)".into()));
        };
        entries.push(Entry {
            seq: fields.get("seq").and_then(Value::as_u64).unwrap_or(n),
            sha256: line_hash(line),
            fields,
            line: line.to_vec(),
        });
    }
    Ok(entries)
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub entries: Vec<Entry>,
    /// The first break in the chain, in words (line numbers from 1); `None`: intact.
    pub problem: Option<String>,
}

/// Read the register and check its chain; stops at the first break.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let bytes = std::fs::read(path).map_err(|e| AuditError::file(WHAT, path, &e))?;
    let mut entries = Vec::new();
    let mut prev = GENESIS.to_owned();
    let mut problem = None;
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let Some(line) = raw.strip_suffix(b"\n") else {
            problem = Some(format!(
                "line {n}: the entry is incomplete (a write was cut off)"
            ));
            break;
        };
        let fields = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => {
                problem = Some(format!(
                    "line {n}: not a register entry (not a JSON object)"
                ));
                break;
            }
        };
        let seq = fields.get("seq").and_then(Value::as_u64);
        let recorded_prev = fields.get("prev").and_then(Value::as_str);
        match (seq, recorded_prev) {
            (Some(seq), _) if seq != n => {
                let moved = lines.iter().position(|l| {
                    serde_json::from_slice::<Value>(l.strip_suffix(b"\n").unwrap_or(l))
                        .ok()
                        .and_then(|v| v.get("seq").and_then(Value::as_u64))
                        == Some(n)
                });
                problem = Some(match moved {
                    Some(at) => format!(
                        "line {n} holds entry {seq} and line {} holds entry {n}: entries were reordered",
                        at + 1
                    ),
                    None if seq > n => format!(
                        "line {n} holds entry {seq}: entr{} {n}{} removed",
                        if seq == n + 1 { "y" } else { "ies" },
                        if seq == n + 1 {
                            " was".to_owned()
                        } else {
                            format!("–{} were", seq - 1)
                        }
                    ),
                    None => format!("line {n} holds entry {seq}: an entry was copied"),
                });
                break;
            }
            (Some(_), Some(p)) if p == prev => {}
            (Some(_), Some(_)) => {
                problem = Some(if n == 1 {
                    "line 1: entry 1 does not start the chain: it was changed, or entries before it were removed".to_owned()
                } else {
                    format!(
                        "line {n}: entry {n} does not match entry {} before it: entry {} was changed (or entry {n} itself)",
                        n - 1,
                        n - 1
                    )
                });
                break;
            }
            _ => {
                problem = Some(format!("line {n}: the entry lacks `seq` or `prev`"));
                break;
            }
        }
        let sha256 = line_hash(line);
        prev.clone_from(&sha256);
        entries.push(Entry {
            seq: n,
            sha256,
            fields,
            line: line.to_vec(),
        });
    }
    Ok(Verified { entries, problem })
}

/// What [`check_signatures`] found.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    /// The first entry signed (in any form); `None`: none is.
    pub first_signed: Option<u64>,
    /// Entries whose signature by the key holds.
    pub valid: u64,
    /// What fails, entry by entry, in words: unsigned entries from the first signed one
    /// on, signatures in another form, of another key or not matching the entry.
    pub problems: Vec<String>,
}

/// Check every entry's signature under `key`. Entries before the first signed one (a
/// register that began before its runs were signed) may be unsigned: the first signed
/// entry's signature covers them through the chain (what they hold since, not who
/// wrote them). From it on, every entry must be signed by `key`; and a register with no
/// signed entry at all fails (its signatures could all have been removed).
pub fn check_signatures(entries: &[Entry], key: &signing::VerifyingKey) -> Signatures {
    let fingerprint = signing::fingerprint(key);
    let mut found = Signatures::default();
    for entry in entries {
        let n = entry.seq;
        match entry.signed_parts() {
            None => {
                if let Some(first) = found.first_signed {
                    found.problems.push(format!(
                        "entry {n} is not signed, though the entries from {first} on are: it was appended without a signing key, or its signature was removed"
                    ));
                }
            }
            Some(Err(())) => {
                found.first_signed.get_or_insert(n);
                found.problems.push(format!(
                    "entry {n}: its signature is not in the form doel writes"
                ));
            }
            Some(Ok((message, signature))) => {
                found.first_signed.get_or_insert(n);
                if signing::verify(key, &message, signature) {
                    found.valid += 1;
                } else if entry.text("signer") != Some(fingerprint.as_str()) {
                    found.problems.push(format!(
                        "entry {n}: signed by another key (signer {}), or changed",
                        super::quoted(entry.text("signer").unwrap_or("not named"))
                    ));
                } else {
                    found.problems.push(format!(
                        "entry {n}: its signature does not match the entry under this public key: the entry was changed after it was signed"
                    ));
                }
            }
        }
    }
    if found.first_signed.is_none() {
        found.problems.push(if entries.is_empty() {
            "the register has no entry, so none is signed".to_owned()
        } else {
            "no entry is signed: the register's runs were not given a signing key, or the signatures were removed".to_owned()
        });
    }
    found
}

/// The register entry of the run `run_id`, if exactly one entry records it; `Err` names
/// the entries when more than one does.
pub fn run_entry<'a>(entries: &'a [Entry], run_id: &str) -> Result<Option<&'a Entry>, Vec<u64>> {
    let found: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.text("kind") == Some("run") && e.text("run_id") == Some(run_id))
        .collect();
    match found[..] {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(found.iter().map(|e| e.seq).collect()),
    }
}

/// The default register: `doel-register.jsonl` beside the output.
pub fn default_path(output: &Path) -> PathBuf {
    super::files::dir_of(output).join("doel-register.jsonl")
}
