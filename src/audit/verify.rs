//! Verifying what a run left: an extract and its files against the manifest (its
//! signature, every output's SHA-256 and size, with a register the entry of its run),
//! and a register's chain, signatures and noted head. Each check returns findings, one
//! line each, naming files, fields and entries, never a value; the caller prints them.

use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::register::{self, Verified};
use super::signing::{self, VerifyingKey};
use super::{AuditError, crosscheck, sha256_file};
use crate::text::escaped;

/// One line of a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    /// A file or the manifest differs from what the manifest or the register recorded.
    Changed(String),
    /// A file the manifest lists is not there (and should be).
    Missing(String),
    /// A file the manifest lists is not there, as it may not be.
    Absent(String),
    /// What was to be checked does not hold (a signature, the chain, an entry).
    Failed(String),
    /// A check left out on request (`--unsigned`).
    Unsigned(String),
    /// Worth knowing, not a failure.
    Note(String),
    /// The verdict's last line, when every check held.
    Verified(String),
}

impl Finding {
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Changed(_) | Self::Missing(_) | Self::Failed(_))
    }

    /// The line as `doel verify` prints it: a label of eight characters, then the text.
    pub fn line(&self) -> String {
        let (label, text) = match self {
            Self::Ok(t) => ("ok", t),
            Self::Changed(t) => ("CHANGED", t),
            Self::Missing(t) => ("MISSING", t),
            Self::Absent(t) => ("absent", t),
            Self::Failed(t) => ("FAILED", t),
            Self::Unsigned(t) => ("unsigned", t),
            Self::Note(t) => ("note", t),
            Self::Verified(t) => ("verified", t),
        };
        format!("{label:<8} {text}\n")
    }
}

/// A public key and the file it was read from (named in the findings).
pub type PublicKey<'a> = (&'a Path, &'a VerifyingKey);

/// The verdict on a manifest and its files.
#[derive(Debug)]
pub struct ManifestVerdict {
    pub findings: Vec<Finding>,
    /// Output files present and matching.
    pub checked: usize,
    pub failures: usize,
}

/// Check the manifest at `path`: its signature (with `public_key`; otherwise an
/// `unsigned` line), every output file it lists that is present beside it, and with
/// `register` (its chain read) the entry of its run there.
pub fn manifest(
    path: &Path,
    public_key: Option<PublicKey>,
    register: Option<&Verified>,
) -> Result<ManifestVerdict, AuditError> {
    let (manifest, bytes) = Manifest::read(path)?;
    let mut findings = Vec::new();
    match public_key {
        Some((key_path, key)) => {
            let sig_path = signing::signature_path(path);
            let sig = super::read_regular(&sig_path, 1024)
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            findings.push(match sig {
                Ok(sig) if signing::verify(key, &bytes, &sig) => Finding::Ok(format!(
                    "signature of {} by {}",
                    path.display(),
                    key_path.display()
                )),
                Ok(_) => Finding::Failed(format!(
                    "signature: {} does not match the manifest under this public key (the manifest was changed, or signed with another key)",
                    sig_path.display()
                )),
                Err(e) => Finding::Failed(format!(
                    "signature: cannot read {}: {}",
                    sig_path.display(),
                    super::describe(&e)
                )),
            });
        }
        None => findings.push(Finding::Unsigned(
            "signature not checked (--unsigned): the hashes below prove integrity, not origin"
                .into(),
        )),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut checked = 0;
    let mut present = crosscheck::Present::new();
    for output in &manifest.outputs {
        // A manifest names its outputs beside it: a path (`/etc/…`, `../…`, a device)
        // is never opened.
        if !is_file_name(&output.file) {
            findings.push(Finding::Failed(format!(
                "output {}: not a file name beside the manifest; not read",
                escaped(&output.file)
            )));
            continue;
        }
        let file = dir.join(&output.file);
        let hashed = sha256_file(&file);
        if let Ok(found) = &hashed {
            present.insert(output.file.clone(), found.clone());
        }
        let (file, role) = (
            escaped(&file.display().to_string()).into_owned(),
            escaped(&output.role),
        );
        findings.push(match hashed {
            Ok((sha, bytes)) if sha == output.sha256 && bytes == output.bytes => {
                checked += 1;
                Finding::Ok(format!("{file} ({role})"))
            }
            Ok(_) => Finding::Changed(format!(
                "{file} ({role}): its SHA-256 differs from the manifest's"
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !output.kept => Finding::Absent(
                format!("{file} ({role}): not kept, as the manifest records"),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && output.role.ends_with(".age") => {
                Finding::Absent(format!(
                    "{file} ({role}): the encrypted copy, not needed once decrypted"
                ))
            }
            Err(e) => Finding::Missing(format!("{file} ({role}): {}", super::describe(&e))),
        });
    }
    if checked == 0 && !findings.iter().any(Finding::is_failure) {
        findings.push(Finding::Failed(
            "no output file of the manifest is present beside it".into(),
        ));
    }
    if let Some(verified) = register {
        findings.extend(crosscheck::against_register(
            &manifest,
            &bytes,
            &present,
            verified,
            public_key.map(|(_, key)| key),
        ));
    }
    let failures = findings.iter().filter(|f| f.is_failure()).count();
    if failures == 0 {
        findings.push(Finding::Verified(format!(
            "{} ({}, run {}): {checked} file{} match{}",
            path.display(),
            escaped(&manifest.declaration.name),
            escaped(&manifest.run_id),
            if checked == 1 { "" } else { "s" },
            if checked == 1 { "es" } else { "" },
        )));
    }
    Ok(ManifestVerdict {
        findings,
        checked,
        failures,
    })
}

/// The verdict on a register.
#[derive(Debug)]
pub struct RegisterVerdict {
    /// What held, in order, up to the first problem.
    pub findings: Vec<Finding>,
    /// The problem that fails the check, in words.
    pub problem: Option<String>,
}

/// Check the register at `path`: its chain; with `public_key`, every entry's signature;
/// with `head`, that the entry with that hash is in it.
pub fn register(
    path: &Path,
    head: Option<&str>,
    public_key: Option<PublicKey>,
) -> Result<RegisterVerdict, AuditError> {
    let verified = register::verify(path)?;
    let mut findings = Vec::new();
    let failed = |findings, problem: String| RegisterVerdict {
        findings,
        problem: Some(format!("register {}: {problem}", path.display())),
    };
    if let Some(problem) = verified.problem {
        return Ok(failed(findings, problem));
    }
    if let Some((key_path, key)) = public_key {
        let found = register::check_signatures(&verified.entries, key);
        if let Some(first) = found.problems.first() {
            let more = match found.problems.len() - 1 {
                0 => String::new(),
                1 => " (and 1 more entry fails)".into(),
                n => format!(" (and {n} more entries fail)"),
            };
            return Ok(failed(findings, format!("{first}{more}")));
        }
        let first = found.first_signed.unwrap_or(1);
        let last = verified.entries.last().map_or(0, |e| e.seq);
        findings.push(Finding::Ok(format!(
            "entries {first}–{last} signed by {} (signer {})",
            key_path.display(),
            signing::fingerprint(key)
        )));
        match first {
            1 => {}
            2 => findings.push(Finding::Note("entry 1 is unsigned, from before the register's runs were signed: entry 2's signature covers what it holds, not who wrote it".into())),
            _ => findings.push(Finding::Note(format!("entries 1–{} are unsigned, from before the register's runs were signed: entry {first}'s signature covers what they hold, not who wrote them", first - 1))),
        }
    }
    if let Some(head) = head {
        let head = head.trim().to_ascii_lowercase();
        let Some(e) = verified.entries.iter().find(|e| e.sha256 == head) else {
            return Ok(failed(
                findings,
                "no entry has the noted hash: entries were removed from its end, or it was replaced"
                    .into(),
            ));
        };
        let after = verified.entries.len() as u64 - e.seq;
        findings.push(Finding::Ok(format!(
            "entry {} has the noted hash; {after} entr{} after it",
            e.seq,
            if after == 1 { "y" } else { "ies" }
        )));
    }
    findings.push(Finding::Verified(match verified.entries.last() {
        Some(last) => format!(
            "{}: {} entr{}, chain intact; last entry {} has sha256 {}\n\
             note that hash: an entry removed from the end is detected only against it (--head)",
            path.display(),
            verified.entries.len(),
            if verified.entries.len() == 1 {
                "y"
            } else {
                "ies"
            },
            last.seq,
            last.sha256
        ),
        None => format!("{}: empty", path.display()),
    }));
    Ok(RegisterVerdict {
        findings,
        problem: None,
    })
}

/// Whether `name` is a plain file name: no directory, no `..`, not empty.
fn is_file_name(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty() && !name.contains(['/', '\\']) && path.file_name().is_some_and(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::signing::SigningSecret;
    use serde_json::{Map, Value, json};

    #[test]
    fn a_finding_is_a_label_of_eight_characters_then_its_text() {
        let cases = [
            (Finding::Ok("a".into()), "ok       a\n"),
            (Finding::Changed("a".into()), "CHANGED  a\n"),
            (Finding::Missing("a".into()), "MISSING  a\n"),
            (Finding::Absent("a".into()), "absent   a\n"),
            (Finding::Failed("a".into()), "FAILED   a\n"),
            (Finding::Unsigned("a".into()), "unsigned a\n"),
            (Finding::Note("a".into()), "note     a\n"),
            (Finding::Verified("a b".into()), "verified a b\n"),
        ];
        for (finding, line) in &cases {
            assert_eq!(finding.line(), *line);
        }
        let failures: Vec<bool> = cases.iter().map(|(f, _)| f.is_failure()).collect();
        assert_eq!(
            failures,
            [false, true, true, false, true, false, false, false]
        );
    }

    #[test]
    fn only_a_plain_file_name_is_a_file_name() {
        for refused in [
            "a/b",
            "../x",
            "",
            "..",
            ".",
            "/etc/x",
            "x/",
            "a\\b",
            "/dev/zero",
        ] {
            assert!(!is_file_name(refused), "{refused:?}");
        }
        for accepted in ["x.parquet", "extract.csv.age", "..x", "x..", ".hidden"] {
            assert!(is_file_name(accepted), "{accepted:?}");
        }
    }

    fn body(run_id: &str) -> Map<String, Value> {
        match json!({ "kind": "run", "run_id": run_id }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// A register of `n` entries (signed with `signer` from entry `signed_from` on), and
    /// the hashes of its entries.
    fn register_of(
        dir: &Path,
        n: u64,
        signer: Option<(&SigningSecret, u64)>,
    ) -> (PathBuf, Vec<String>) {
        let path = dir.join("doel-register.jsonl");
        let hashes = (1..=n)
            .map(|i| {
                let key = signer.filter(|(_, from)| i >= *from).map(|(k, _)| k);
                register::append(&path, body(&format!("r{i}")), key)
                    .unwrap()
                    .sha256
            })
            .collect();
        (path, hashes)
    }

    fn public(secret: &SigningSecret) -> VerifyingKey {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(secret.public_hex(), &mut bytes).unwrap();
        VerifyingKey::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn an_intact_register_is_verified_and_its_last_hash_shown() {
        let dir = tempfile::tempdir().unwrap();
        let (path, hashes) = register_of(dir.path(), 3, None);
        let verdict = register(&path, None, None).unwrap();
        assert_eq!(verdict.problem, None);
        assert_eq!(verdict.findings.len(), 1);
        let Finding::Verified(text) = &verdict.findings[0] else {
            panic!("{:?}", verdict.findings);
        };
        assert!(
            text.starts_with(&format!(
                "{}: 3 entries, chain intact; last entry 3 has sha256 {}\n",
                path.display(),
                hashes[2]
            )),
            "{text}"
        );
    }

    #[test]
    fn a_head_in_the_register_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (path, hashes) = register_of(dir.path(), 3, None);
        // As noted by hand: upper case, with a newline.
        let noted = format!(" {}\n", hashes[1].to_ascii_uppercase());
        let verdict = register(&path, Some(&noted), None).unwrap();
        assert_eq!(verdict.problem, None);
        assert_eq!(
            verdict.findings[0],
            Finding::Ok("entry 2 has the noted hash; 1 entry after it".into())
        );
        assert!(matches!(verdict.findings[1], Finding::Verified(_)));
        let verdict = register(&path, Some(&hashes[2]), None).unwrap();
        assert_eq!(
            verdict.findings[0],
            Finding::Ok("entry 3 has the noted hash; 0 entries after it".into())
        );
    }

    #[test]
    fn a_head_not_in_the_register_fails_it() {
        let dir = tempfile::tempdir().unwrap();
        let (path, hashes) = register_of(dir.path(), 3, None);
        // The last entry removed: the chain that is left is intact.
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, kept).unwrap();
        assert_eq!(register(&path, None, None).unwrap().problem, None);
        let verdict = register(&path, Some(&hashes[2]), None).unwrap();
        assert_eq!(
            verdict.problem,
            Some(format!(
                "register {}: no entry has the noted hash: entries were removed from its end, or it was replaced",
                path.display()
            ))
        );
        assert!(verdict.findings.is_empty());
    }

    #[test]
    fn a_broken_chain_fails_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let (path, hashes) = register_of(dir.path(), 3, None);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
        let verdict = register(&path, Some(&hashes[2]), None).unwrap();
        assert_eq!(
            verdict.problem,
            Some(format!(
                "register {}: line 1 holds entry 2: entry 1 was removed",
                path.display()
            ))
        );
        assert!(verdict.findings.is_empty());
    }

    #[test]
    fn an_empty_register_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "").unwrap();
        let verdict = register(&path, None, None).unwrap();
        assert_eq!(
            verdict.findings,
            [Finding::Verified(format!("{}: empty", path.display()))]
        );
        assert!(register(&dir.path().join("none.jsonl"), None, None).is_err());
    }

    #[test]
    fn signatures_are_checked_with_a_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let secret = SigningSecret::generate().unwrap();
        let key = public(&secret);
        let key_path = Path::new("signing.key.pub");
        let (path, _) = register_of(dir.path(), 3, Some((&secret, 2)));
        let verdict = register(&path, None, Some((key_path, &key))).unwrap();
        assert_eq!(verdict.problem, None);
        assert_eq!(
            verdict.findings[0],
            Finding::Ok(format!(
                "entries 2–3 signed by signing.key.pub (signer {})",
                secret.fingerprint()
            ))
        );
        assert!(
            matches!(&verdict.findings[1], Finding::Note(n) if n.starts_with("entry 1 is unsigned")),
            "{:?}",
            verdict.findings
        );
        // Another key: both signed entries fail.
        let other = public(&SigningSecret::generate().unwrap());
        let verdict = register(&path, None, Some((key_path, &other))).unwrap();
        let problem = verdict.problem.unwrap();
        assert!(
            problem.contains("entry 2: signed by another key")
                && problem.ends_with(" (and 1 more entry fails)"),
            "{problem}"
        );
    }
}
