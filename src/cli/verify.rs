//! `doel verify` (an extract against its manifest), `doel register list|verify`, and
//! `doel reidentify`, which registers every use before it prints anything.

use std::path::Path;

use serde_json::{Value, json};

use super::{CliError, print_out};
use crate::audit::crosscheck::{self, Finding};
use crate::audit::manifest::Manifest;
use crate::audit::signing::SigningSecret;
use crate::audit::{register, sha256_file, signing};
use crate::kernels::keys::MasterKey;
use crate::spec::PseudonymKind;

/// Check the manifest's signature (with `public_key`) and every output file it lists
/// that is present beside it; with `register`, hold both against its run's entry there.
pub fn manifest(
    path: &Path,
    public_key: Option<&Path>,
    register_path: Option<&Path>,
) -> Result<(), CliError> {
    let (manifest, bytes) = Manifest::read(path)?;
    let key = public_key.map(signing::load_public).transpose()?;
    let verified = register_path.map(register::verify).transpose()?;
    let mut report = String::new();
    let mut failures = 0;
    match (public_key, &key) {
        (Some(key_path), Some(key)) => {
            let sig_path = signing::signature_path(path);
            match std::fs::read_to_string(&sig_path) {
                Ok(sig) if signing::verify(key, &bytes, &sig) => report.push_str(&format!(
                    "ok       signature of {} by {}\n",
                    path.display(),
                    key_path.display()
                )),
                Ok(_) => {
                    failures += 1;
                    report.push_str(&format!(
                        "FAILED   signature: {} does not match the manifest under this public key (the manifest was changed, or signed with another key)\n",
                        sig_path.display()
                    ));
                }
                Err(e) => {
                    failures += 1;
                    report.push_str(&format!(
                        "FAILED   signature: cannot read {}: {}\n",
                        sig_path.display(),
                        e.kind()
                    ));
                }
            }
        }
        _ => report.push_str("unsigned signature not checked (--unsigned): the hashes below prove integrity, not origin\n"),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let mut checked = 0;
    let mut present = crosscheck::Present::new();
    for output in &manifest.outputs {
        let file = dir.join(&output.file);
        let hashed = sha256_file(&file);
        if let Ok(found) = &hashed {
            present.insert(output.file.clone(), found.clone());
        }
        match hashed {
            Ok((sha, bytes)) if sha == output.sha256 && bytes == output.bytes => {
                checked += 1;
                report.push_str(&format!("ok       {} ({})\n", file.display(), output.role));
            }
            Ok(_) => {
                failures += 1;
                report.push_str(&format!(
                    "CHANGED  {} ({}): its SHA-256 differs from the manifest's\n",
                    file.display(),
                    output.role
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !output.kept => {
                report.push_str(&format!(
                    "absent   {} ({}): not kept, as the manifest records\n",
                    file.display(),
                    output.role
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && output.role.ends_with(".age") => {
                report.push_str(&format!(
                    "absent   {} ({}): the encrypted copy, not needed once decrypted\n",
                    file.display(),
                    output.role
                ));
            }
            Err(e) => {
                failures += 1;
                report.push_str(&format!(
                    "MISSING  {} ({}): {}\n",
                    file.display(),
                    output.role,
                    e.kind()
                ));
            }
        }
    }
    if checked == 0 && failures == 0 {
        failures += 1;
        report.push_str("FAILED   no output file of the manifest is present beside it\n");
    }
    if let Some(verified) = &verified {
        for finding in
            crosscheck::against_register(&manifest, &bytes, &present, verified, key.as_ref())
        {
            failures += usize::from(finding.is_failure());
            let (label, text) = match &finding {
                Finding::Ok(t) => ("ok", t),
                Finding::Changed(t) => ("CHANGED", t),
                Finding::Failed(t) => ("FAILED", t),
                Finding::Note(t) => ("note", t),
            };
            report.push_str(&format!("{label:<8} {text}\n"));
        }
    }
    print_out(&report);
    if failures > 0 {
        return Err(CliError::Verification(format!(
            "{} does not match: {failures} problem{} (above)",
            path.display(),
            if failures == 1 { "" } else { "s" }
        )));
    }
    print_out(&format!(
        "verified {} ({}, run {}): {checked} file{} match{}\n",
        path.display(),
        manifest.declaration.name,
        manifest.run_id,
        if checked == 1 { "" } else { "s" },
        if checked == 1 { "es" } else { "" },
    ));
    Ok(())
}

fn text<'a>(fields: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    fields.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A table of the register's entries (up to the first break in the chain, which is
/// then reported).
pub fn register_list(path: &Path) -> Result<(), CliError> {
    let verified = register::verify(path)?;
    let mut rows = vec![[
        "#".to_owned(),
        "date".into(),
        "kind".into(),
        "pipeline / domain".into(),
        "purpose / reason".into(),
        "recipient".into(),
        "rows in→out".into(),
        "outputs".into(),
    ]];
    for entry in &verified.entries {
        let f = &entry.fields;
        let date = text(f, "time").get(..10).unwrap_or("").to_owned();
        let row = match text(f, "kind") {
            "reidentify" => [
                entry.seq.to_string(),
                date,
                "reidentify".into(),
                text(f, "domain").into(),
                text(f, "reason").into(),
                match (
                    text(f, "operator"),
                    f.get("operator_uid").and_then(Value::as_u64),
                ) {
                    ("", Some(uid)) => format!("by uid {uid}"),
                    (name, _) => format!("by {name}"),
                },
                format!(
                    "{} tokens",
                    f.get("tokens").and_then(Value::as_u64).unwrap_or(0)
                ),
                String::new(),
            ],
            kind => [
                entry.seq.to_string(),
                date,
                kind.into(),
                text(f, "name").into(),
                text(f, "purpose").into(),
                text(f, "recipient").into(),
                format!(
                    "{}→{}",
                    f.get("rows_read").and_then(Value::as_u64).unwrap_or(0),
                    f.get("rows_written").and_then(Value::as_u64).unwrap_or(0)
                ),
                f.get("outputs")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(|x| x.get("file").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            ],
        };
        // A field is text someone wrote into a pipeline or a `--reason`: a line break or
        // tab in it would forge a row or a column, so every cell is escaped whole.
        rows.push(row.map(|cell| crate::text::escaped(&cell).into_owned()));
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    print_out(&out);
    match verified.problem {
        Some(problem) => Err(CliError::Verification(format!(
            "register {}: {problem}",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// Check the register's chain; with `head`, that the entry with that hash is in it; with
/// `public_key`, every entry's signature.
pub fn register_chain(
    path: &Path,
    head: Option<&str>,
    public_key: Option<&Path>,
) -> Result<(), CliError> {
    let key = public_key.map(signing::load_public).transpose()?;
    let verified = register::verify(path)?;
    if let Some(problem) = verified.problem {
        return Err(CliError::Verification(format!(
            "register {}: {problem}",
            path.display()
        )));
    }
    if let (Some(key), Some(key_path)) = (&key, public_key) {
        let found = register::check_signatures(&verified.entries, key);
        if let Some(first) = found.problems.first() {
            let more = found.problems.len() - 1;
            return Err(CliError::Verification(format!(
                "register {}: {first}{}",
                path.display(),
                match more {
                    0 => String::new(),
                    1 => " (and 1 more entry fails)".into(),
                    n => format!(" (and {n} more entries fail)"),
                }
            )));
        }
        let first = found.first_signed.unwrap_or(1);
        let last = verified.entries.last().map_or(0, |e| e.seq);
        print_out(&format!(
            "ok       entries {first}–{last} signed by {} (signer {})\n",
            key_path.display(),
            signing::fingerprint(key)
        ));
        let legacy = match first {
            1 => None,
            2 => Some("entry 1 is unsigned, from before the register's runs were signed: entry 2's signature covers what it holds, not who wrote it".to_owned()),
            _ => Some(format!("entries 1–{} are unsigned, from before the register's runs were signed: entry {first}'s signature covers what they hold, not who wrote them", first - 1)),
        };
        if let Some(legacy) = legacy {
            print_out(&format!("note     {legacy}\n"));
        }
    }
    if let Some(head) = head {
        let head = head.trim().to_ascii_lowercase();
        match verified.entries.iter().find(|e| e.sha256 == head) {
            Some(e) => print_out(&format!(
                "ok       entry {} has the noted hash; {} entr{} after it\n",
                e.seq,
                verified.entries.len() as u64 - e.seq,
                if verified.entries.len() as u64 - e.seq == 1 {
                    "y"
                } else {
                    "ies"
                }
            )),
            None => {
                return Err(CliError::Verification(format!(
                    "register {}: no entry has the noted hash: entries were removed from its end, or it was replaced",
                    path.display()
                )));
            }
        }
    }
    match verified.entries.last() {
        Some(last) => print_out(&format!(
            "verified {}: {} entr{}, chain intact; last entry {} has sha256 {}\n\
             note that hash: an entry removed from the end is detected only against it (--head)\n",
            path.display(),
            verified.entries.len(),
            if verified.entries.len() == 1 {
                "y"
            } else {
                "ies"
            },
            last.seq,
            last.sha256
        )),
        None => print_out(&format!("verified {}: empty\n", path.display())),
    }
    Ok(())
}

/// Warn that the register's signed entries stop here: its last entry is signed, and the
/// one about to be appended will not be.
pub fn warn_unsigned(path: &Path, entries: &[register::Entry]) {
    if entries.last().is_some_and(register::Entry::is_signed) {
        eprintln!(
            "warning: register {}: its last entry is signed, this one will not be (no --signing-key): `doel register verify --public-key` fails from here",
            path.display()
        );
    }
}

/// Open each token in `domain`, register the use with `reason` (signed with `signing`
/// when given), then print the values.
pub fn reidentify(
    key: &MasterKey,
    signing: Option<&SigningSecret>,
    domain: &str,
    reason: &str,
    register_path: &Path,
    tokens: &[String],
) -> Result<(), CliError> {
    let kinds = [PseudonymKind::Bsn, PseudonymKind::Name, PseudonymKind::Link];
    let tokenisers: Vec<_> = kinds
        .iter()
        .map(|k| (k.as_str(), key.tokeniser(domain, k.as_str())))
        .collect();
    type Opened<'a> = Option<(&'a str, zeroize::Zeroizing<Vec<u8>>)>;
    let opened: Vec<Opened> = tokens
        .iter()
        .map(|token| {
            tokenisers
                .iter()
                .find_map(|(kind, t)| t.open(token.trim()).map(|v| (*kind, v)))
        })
        .collect();
    let failed = opened.iter().filter(|o| o.is_none()).count();
    if signing.is_none() {
        // Only a warning: a register unreadable here fails the append below, if at all.
        if let Ok(entries) = register::read(register_path) {
            warn_unsigned(register_path, &entries);
        }
    }
    let operator = crate::audit::operator();
    let body = json!({
        "kind": "reidentify",
        "time": crate::audit::now_utc(),
        "domain": domain,
        "reason": reason,
        "operator": operator.name,
        "operator_uid": operator.uid,
        "tokens": tokens.len(),
        "opened": tokens.len() - failed,
        "token_sha256": tokens.iter().map(|t| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(t.trim().as_bytes()))).collect::<Vec<_>>(),
        "key_fingerprint": key.fingerprint(),
    });
    let Value::Object(body) = body else {
        unreachable!("json! of an object")
    };
    let entry = register::append(register_path, body, signing)?;
    let mut out = String::new();
    for (token, opened) in tokens.iter().zip(&opened) {
        match opened {
            Some((kind, value)) => out.push_str(&format!(
                "{}\t{kind}\t{}\n",
                token.trim(),
                String::from_utf8_lossy(value).replace('\u{1f}', " | ")
            )),
            None => out.push_str(&format!("{}\t-\tcannot be opened\n", token.trim())),
        }
    }
    print_out(&out);
    eprintln!(
        "registered in {}: entry {}, sha256 {}",
        register_path.display(),
        entry.seq,
        entry.sha256
    );
    if failed > 0 {
        return Err(CliError::Tokens {
            failed,
            total: tokens.len(),
            domain: domain.to_owned(),
        });
    }
    Ok(())
}
