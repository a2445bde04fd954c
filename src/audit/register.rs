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
use std::path::Path;

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
    regular_or_absent(path).map_err(|e| fail(&e))?;
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| fail(&e))?;
    regular(&file).map_err(|e| fail(&e))?;
    file.lock().map_err(|e| fail(&e))?;
    let (seq, prev) = next_link(path, &mut file)?;
    // An entry appended to a broken chain would make its break look like history, and a
    // check (one pseudonym domain per recipient) cannot trust entries an edit may have
    // changed: the whole chain must hold, read under the lock.
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| fail(&e))?;
    let verified = intact(path, verify_bytes(&bytes))?;
    if let Some(check) = check {
        check(&verified)?;
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
            let next = seq
                .checked_add(1)
                .ok_or_else(|| malformed("its last entry is not a register entry"))?;
            Ok((next, line_hash(&line)))
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
            regular_or_absent(path).map_err(|e| fail(&e))?;
            let mut file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(path)
                .map_err(|e| fail(&e))?;
            regular(&file).map_err(|e| fail(&e))?;
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

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub entries: Vec<Entry>,
    /// The first break in the chain, in words (line numbers from 1); `None`: intact.
    pub problem: Option<String>,
}

/// Read the register and check its chain; stops at the first break.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let bytes = read_all(path).map_err(|e| AuditError::file(WHAT, path, &e))?;
    Ok(verify_bytes(&bytes))
}

/// The whole register, if it is a regular file (a FIFO would block, a device never end).
fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    super::open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Refuse a register path that exists but is no regular file, before opening it.
fn regular_or_absent(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(not_regular()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Refuse an opened register that is no regular file (replaced since it was checked).
fn regular(file: &File) -> std::io::Result<()> {
    if file.metadata()?.is_file() {
        Ok(())
    } else {
        Err(not_regular())
    }
}

fn not_regular() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, super::NOT_REGULAR)
}

/// The register's entries, read and checked: every line an entry and the chain intact
/// (else exit 5, naming the break). What a run checks its pseudonym domain against, and
/// what every append extends.
pub fn read_intact(path: &Path) -> Result<Vec<Entry>, AuditError> {
    match read_all(path) {
        Ok(bytes) => intact(path, verify_bytes(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(AuditError::file(WHAT, path, &e)),
    }
}

fn intact(path: &Path, verified: Verified) -> Result<Vec<Entry>, AuditError> {
    match verified.problem {
        None => Ok(verified.entries),
        Some(problem) => Err(AuditError::Malformed {
            what: WHAT,
            path: path.to_owned(),
            problem: format!(
                "its chain is broken ({problem}); nothing was appended: `doel register verify` says where"
            ),
        }),
    }
}

/// The entries of a register's bytes and the first break in their chain.
fn verify_bytes(bytes: &[u8]) -> Verified {
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
    Verified { entries, problem }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn body(run_id: &str, rows: u64) -> Map<String, Value> {
        match json!({ "kind": "run", "run_id": run_id, "rows": rows }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[&str]) {
        std::fs::write(
            path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    fn sha(line: &str) -> String {
        hex::encode(Sha256::digest(line.as_bytes()))
    }

    /// A register of three unsigned entries, and its path.
    fn three() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doel-register.jsonl");
        for i in 1..=3 {
            append(&path, body(&format!("r{i}"), i), None).unwrap();
        }
        (dir, path)
    }

    fn problem(path: &Path) -> String {
        verify(path).unwrap().problem.expect("a broken chain")
    }

    fn public(secret: &SigningSecret) -> signing::VerifyingKey {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(secret.public_hex(), &mut bytes).unwrap();
        signing::VerifyingKey::from_bytes(&bytes).unwrap()
    }

    fn assert_malformed(result: Result<Appended, AuditError>, needle: &str) {
        match result {
            Err(AuditError::Malformed { what, problem, .. }) => {
                assert_eq!(what, "register");
                assert!(problem.contains(needle), "{problem}");
                assert!(problem.contains("nothing was appended"), "{problem}");
            }
            Err(other) => panic!("expected Malformed, got {other}"),
            Ok(appended) => panic!("appended entry {}", appended.seq),
        }
    }

    #[test]
    fn the_first_entry_starts_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        // A directory that does not exist yet is created.
        let path = dir.path().join("sub").join("doel-register.jsonl");
        let appended = append(&path, body("r1", 5), None).unwrap();
        assert_eq!(appended.seq, 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        let line = text.trim_end_matches('\n');
        assert_eq!(appended.sha256, sha(line));
        assert_eq!(
            line,
            format!(
                "{{\"seq\":1,\"prev\":\"{GENESIS}\",\"kind\":\"run\",\"run_id\":\"r1\",\"rows\":5}}"
            )
        );
        assert_eq!(GENESIS, "0".repeat(64));
    }

    #[test]
    fn a_second_entry_links_to_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let first = append(&path, body("r1", 5), None).unwrap();
        let second = append(&path, body("r2", 6), None).unwrap();
        assert_eq!(second.seq, 2);
        let lines = lines(&path);
        assert_eq!(first.sha256, sha(&lines[0]));
        assert_eq!(second.sha256, sha(&lines[1]));
        let entry: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(entry["seq"], 2);
        assert_eq!(entry["prev"], Value::String(sha(&lines[0])));
        let verified = verify(&path).unwrap();
        assert_eq!(verified.problem, None);
        let seqs: Vec<u64> = verified.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(verified.entries[1].sha256, second.sha256);
        assert_eq!(verified.entries[1].fields["run_id"], "r2");
        assert_eq!(verified.entries[1].line, lines[1].as_bytes());
    }

    #[test]
    fn verify_names_a_removed_first_entry() {
        let (_dir, path) = three();
        let all = lines(&path);
        write_lines(&path, &[&all[1], &all[2]]);
        assert_eq!(problem(&path), "line 1 holds entry 2: entry 1 was removed");
        write_lines(&path, &[&all[2]]);
        assert_eq!(
            problem(&path),
            "line 1 holds entry 3: entries 1–2 were removed"
        );
    }

    #[test]
    fn verify_names_a_removed_middle_entry() {
        let (_dir, path) = three();
        let all = lines(&path);
        write_lines(&path, &[&all[0], &all[2]]);
        let verified = verify(&path).unwrap();
        assert_eq!(
            verified.problem.as_deref(),
            Some("line 2 holds entry 3: entry 2 was removed")
        );
        assert_eq!(verified.entries.len(), 1);
    }

    #[test]
    fn verify_names_reordered_entries() {
        let (_dir, path) = three();
        let all = lines(&path);
        write_lines(&path, &[&all[0], &all[2], &all[1]]);
        assert_eq!(
            problem(&path),
            "line 2 holds entry 3 and line 3 holds entry 2: entries were reordered"
        );
    }

    #[test]
    fn verify_names_an_edited_entry() {
        let (_dir, path) = three();
        let all = lines(&path);
        let edited = all[0].replace("\"rows\":1", "\"rows\":9");
        assert_ne!(edited, all[0]);
        write_lines(&path, &[&edited, &all[1], &all[2]]);
        let verified = verify(&path).unwrap();
        assert_eq!(
            verified.problem.as_deref(),
            Some(
                "line 2: entry 2 does not match entry 1 before it: entry 1 was changed (or entry 2 itself)"
            )
        );
        // It stops at the first break.
        assert_eq!(verified.entries.len(), 1);
    }

    #[test]
    fn verify_names_a_first_entry_that_does_not_start_the_chain() {
        let (_dir, path) = three();
        let all = lines(&path);
        let edited = all[0].replace(GENESIS, &"1".repeat(64));
        write_lines(&path, &[&edited, &all[1], &all[2]]);
        assert_eq!(
            problem(&path),
            "line 1: entry 1 does not start the chain: it was changed, or entries before it were removed"
        );
    }

    #[test]
    fn verify_names_a_line_that_is_no_entry() {
        let (_dir, path) = three();
        let all = lines(&path);
        write_lines(&path, &[&all[0], "[1, 2]", &all[2]]);
        assert_eq!(
            problem(&path),
            "line 2: not a register entry (not a JSON object)"
        );
        write_lines(&path, &[&all[0], "{\"seq\":2}"]);
        assert_eq!(problem(&path), "line 2: the entry lacks `seq` or `prev`");
        write_lines(&path, &[&all[0], &all[0]]);
        assert_eq!(problem(&path), "line 2 holds entry 1: an entry was copied");
    }

    #[test]
    fn append_refuses_a_broken_chain_and_leaves_the_file_unchanged() {
        let (_dir, path) = three();
        let all = lines(&path);
        let edited = all[0].replace("\"rows\":1", "\"rows\":9");
        write_lines(&path, &[&edited, &all[1], &all[2]]);
        let before = std::fs::read(&path).unwrap();
        assert_malformed(append(&path, body("r4", 4), None), "its chain is broken");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(matches!(
            read_intact(&path),
            Err(AuditError::Malformed { problem, .. }) if problem.contains("line 2: entry 2 does not match")
        ));
    }

    #[test]
    fn append_refuses_a_torn_last_line_and_leaves_the_file_unchanged() {
        let (_dir, path) = three();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"seq\":4,\"prev\":\"ab");
        std::fs::write(&path, &bytes).unwrap();
        assert_malformed(
            append(&path, body("r4", 4), None),
            "its last entry is incomplete",
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert!(matches!(
            check_appendable(&path),
            Err(AuditError::Malformed { .. })
        ));
        assert_eq!(
            problem(&path),
            "line 4: the entry is incomplete (a write was cut off)"
        );
    }

    #[test]
    fn append_refuses_a_last_line_that_is_no_entry() {
        let (_dir, path) = three();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"not json\n");
        std::fs::write(&path, &bytes).unwrap();
        assert_malformed(
            append(&path, body("r4", 4), None),
            "its last entry is not a register entry",
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_check_that_refuses_appends_nothing() {
        let (_dir, path) = three();
        let before = std::fs::read(&path).unwrap();
        let seen = std::cell::Cell::new(0);
        let check = |entries: &[Entry]| {
            seen.set(entries.len());
            Err(AuditError::Refused {
                path: PathBuf::from("x"),
                problem: "no".into(),
                hint: "",
            })
        };
        let result = append_checked(&path, body("r4", 4), None, Some(&check));
        assert!(matches!(result, Err(AuditError::Refused { .. })));
        assert_eq!(seen.get(), 3);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let accept = |_: &[Entry]| Ok(());
        let appended = append_checked(&path, body("r4", 4), None, Some(&accept)).unwrap();
        assert_eq!(appended.seq, 4);
    }

    #[test]
    fn read_intact_of_a_missing_register_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.jsonl");
        assert!(read_intact(&path).unwrap().is_empty());
        assert!(!path.exists());
        assert!(matches!(verify(&path), Err(AuditError::File { .. })));
        check_appendable(&path).unwrap();
        assert!(!path.exists());
        let (_dir, path) = three();
        assert_eq!(read_intact(&path).unwrap().len(), 3);
    }

    #[test]
    fn check_appendable_refuses_a_file_as_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            check_appendable(&file.join("r.jsonl")),
            Err(AuditError::File { .. })
        ));
    }

    #[test]
    fn signed_entries_verify_under_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let secret = SigningSecret::generate().unwrap();
        append(&path, body("r1", 1), Some(&secret)).unwrap();
        append(&path, body("r2", 2), Some(&secret)).unwrap();
        let lines = lines(&path);
        let entry: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(entry["signer"], Value::String(secret.fingerprint()));
        assert!(lines[1].ends_with("\"}"));
        let verified = verify(&path).unwrap();
        assert_eq!(verified.problem, None);
        assert!(verified.entries.iter().all(Entry::is_signed));
        let found = check_signatures(&verified.entries, &public(&secret));
        assert_eq!(found.problems, Vec::<String>::new());
        assert_eq!((found.first_signed, found.valid), (Some(1), 2));
        // The signature is over the prefix and the line without its signature.
        let (signed, signature) = lines[1].rsplit_once(",\"signature\":\"").unwrap();
        let signature = signature.trim_end_matches("\"}");
        let message = [SIGNED_PREFIX, signed.as_bytes(), b"}"].concat();
        assert!(signing::verify(&public(&secret), &message, signature));
        assert!(!signing::verify(
            &public(&secret),
            &[signed.as_bytes(), b"}"].concat(),
            signature
        ));
    }

    #[test]
    fn an_edited_signed_entry_fails_its_signature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let secret = SigningSecret::generate().unwrap();
        append(&path, body("r1", 1), Some(&secret)).unwrap();
        append(&path, body("r2", 2), Some(&secret)).unwrap();
        let all = lines(&path);
        // The last entry edited: the chain holds (nothing follows it), its signature not.
        let edited = all[1].replace("\"rows\":2", "\"rows\":3");
        write_lines(&path, &[&all[0], &edited]);
        let verified = verify(&path).unwrap();
        assert_eq!(verified.problem, None);
        let found = check_signatures(&verified.entries, &public(&secret));
        assert_eq!(found.valid, 1);
        assert_eq!(
            found.problems,
            [
                "entry 2: its signature does not match the entry under this public key: the entry was changed after it was signed"
            ]
        );
        // The first entry edited and the chain recomputed after it: both fail.
        let first = all[0].replace("\"rows\":1", "\"rows\":7");
        let second = all[1].replace(&sha(&all[0]), &sha(&first));
        write_lines(&path, &[&first, &second]);
        let verified = verify(&path).unwrap();
        assert_eq!(verified.problem, None);
        let found = check_signatures(&verified.entries, &public(&secret));
        assert_eq!((found.valid, found.problems.len()), (0, 2));
    }

    #[test]
    fn signatures_of_another_key_or_missing_ones_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let secret = SigningSecret::generate().unwrap();
        let other = SigningSecret::generate().unwrap();
        append(&path, body("r1", 1), None).unwrap();
        append(&path, body("r2", 2), Some(&secret)).unwrap();
        append(&path, body("r3", 3), None).unwrap();
        let entries = read_intact(&path).unwrap();
        let found = check_signatures(&entries, &public(&secret));
        // Entry 1 predates signing; entry 3 after a signed one is not signed.
        assert_eq!((found.first_signed, found.valid), (Some(2), 1));
        assert_eq!(found.problems.len(), 1);
        assert!(
            found.problems[0].starts_with("entry 3 is not signed"),
            "{:?}",
            found.problems
        );
        let found = check_signatures(&entries, &public(&other));
        assert_eq!(found.valid, 0);
        assert!(
            found.problems[0].starts_with("entry 2: signed by another key (signer \""),
            "{:?}",
            found.problems
        );
        let found = check_signatures(&entries[..1], &public(&secret));
        assert_eq!(found.first_signed, None);
        assert!(found.problems[0].starts_with("no entry is signed"));
        let found = check_signatures(&[], &public(&secret));
        assert_eq!(
            found.problems,
            ["the register has no entry, so none is signed"]
        );
    }

    #[test]
    fn a_signature_in_another_form_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let secret = SigningSecret::generate().unwrap();
        append(&path, body("r1", 1), Some(&secret)).unwrap();
        let line = lines(&path).remove(0);
        // The signature moved before `signer`: no longer the last member.
        let value: Map<String, Value> = serde_json::from_str(&line).unwrap();
        let mut moved = Map::new();
        for (k, v) in &value {
            if k == "signer" {
                continue;
            }
            moved.insert(k.clone(), v.clone());
        }
        moved.insert("signer".into(), value["signer"].clone());
        let moved = serde_json::to_string(&moved).unwrap();
        assert_ne!(moved, line);
        write_lines(&path, &[&moved]);
        let found = check_signatures(&read_intact(&path).unwrap(), &public(&secret));
        assert_eq!(
            found.problems,
            ["entry 1: its signature is not in the form doel writes"]
        );
    }

    #[test]
    fn run_entry_finds_one_entry_per_run() {
        let (_dir, path) = three();
        append(&path, body("r2", 9), None).unwrap();
        let entries = read_intact(&path).unwrap();
        assert_eq!(run_entry(&entries, "r1").unwrap().map(|e| e.seq), Some(1));
        assert!(run_entry(&entries, "r9").unwrap().is_none());
        assert_eq!(run_entry(&entries, "r2").unwrap_err(), [2, 4]);
    }
}
