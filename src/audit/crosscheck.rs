//! A manifest held against the register entry of its run (`doel verify --register`): a
//! manifest and an extract edited together still match each other, but no longer the
//! entry the run appended, which holds the manifest's SHA-256 and every output's.
//! Findings name files, fields and entries, never a value.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use super::register::{self, Entry, Verified};
use super::signing::{self, VerifyingKey};
use super::verify::Finding;
use crate::text::escaped;

/// The SHA-256 and size of each output file found beside the manifest, by file name.
pub type Present = BTreeMap<String, (String, u64)>;

/// The manifest's fields a run entry repeats, as (entry key, the manifest's value).
fn repeated(m: &Manifest) -> Vec<(&'static str, Value)> {
    let d = &m.declaration;
    vec![
        ("pipeline_sha256", m.pipeline.sha256.clone().into()),
        ("name", d.name.clone().into()),
        ("controller", d.controller.clone().into()),
        ("purpose", d.purpose.clone().into()),
        ("legal_basis", d.legal_basis.clone().into()),
        ("recipient", d.recipient.clone().into()),
        ("recipient_retention", d.recipient_retention.clone().into()),
        ("subject_categories", d.subject_categories.clone().into()),
        ("data_categories", d.data_categories.clone().into()),
        (
            "rows_read",
            m.counts.get("rows_read").cloned().unwrap_or(Value::Null),
        ),
        (
            "rows_written",
            m.counts.get("rows_written").cloned().unwrap_or(Value::Null),
        ),
        ("domain", m.pseudonyms.domain.clone().into()),
        (
            "key_fingerprint",
            m.pseudonyms.key_fingerprint.clone().into(),
        ),
    ]
}

/// Hold the manifest (`bytes` as read) and the output files `present` beside it against
/// the register (`verified`: its chain checked): the chain must be intact and exactly
/// one run entry must record the manifest's `run_id`, with the manifest's SHA-256, its
/// fields and its outputs' hashes. With `key`, that entry's signature is checked too.
pub fn against_register(
    manifest: &Manifest,
    bytes: &[u8],
    present: &Present,
    verified: &Verified,
    key: Option<&VerifyingKey>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(problem) = &verified.problem {
        findings.push(Finding::Failed(format!("register chain: {problem}")));
    }
    let entry = match register::run_entry(&verified.entries, &manifest.run_id) {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            findings.push(Finding::Failed(format!(
                "no register entry{} records run {}: the manifest is not of a run registered here, or its run_id was changed",
                if verified.problem.is_some() { " before the break" } else { "" },
                escaped(&manifest.run_id)
            )));
            return findings;
        }
        Err(seqs) => {
            let list: Vec<String> = seqs.iter().map(u64::to_string).collect();
            findings.push(Finding::Failed(format!(
                "register entries {} all record run {}: a run has one entry",
                list.join(", "),
                escaped(&manifest.run_id)
            )));
            return findings;
        }
    };
    let n = entry.seq;
    let before = findings.len();
    hold_manifest(entry, manifest, bytes, &mut findings);
    hold_outputs(entry, manifest, present, &mut findings);
    match key {
        Some(key) => findings.push(entry_signature(entry, key)),
        None if manifest_field(entry, "signed") == Some(&Value::Bool(true)) => {
            findings.push(Finding::Note(format!(
                "register entry {n} records the manifest as signed: check its signature with --public-key"
            )))
        }
        None => {}
    }
    if !findings[before..].iter().any(Finding::is_failure) {
        findings.insert(
            before,
            Finding::Ok(format!(
                "register entry {n} records run {}: the manifest and its outputs match it",
                escaped(&manifest.run_id)
            )),
        );
    }
    findings
}

/// A field of the entry's `manifest` object.
fn manifest_field<'a>(entry: &'a Entry, key: &str) -> Option<&'a Value> {
    entry.fields.get("manifest")?.get(key)
}

fn hold_manifest(entry: &Entry, manifest: &Manifest, bytes: &[u8], findings: &mut Vec<Finding>) {
    let n = entry.seq;
    match manifest_field(entry, "sha256").and_then(Value::as_str) {
        Some(sha) if sha == hex::encode(Sha256::digest(bytes)) => {}
        Some(_) => findings.push(Finding::Changed(format!(
            "manifest: its SHA-256 differs from the one register entry {n} records: the manifest was changed after the run"
        ))),
        None => findings.push(Finding::Failed(format!(
            "register entry {n} records no manifest SHA-256"
        ))),
    }
    // Entries of older versions lack some of these fields: those are not compared.
    for (key, value) in repeated(manifest) {
        if entry.fields.get(key).is_some_and(|v| *v != value) {
            findings.push(Finding::Changed(format!(
                "manifest: its {key} differs from register entry {n}'s"
            )));
        }
    }
}

fn hold_outputs(
    entry: &Entry,
    manifest: &Manifest,
    present: &Present,
    findings: &mut Vec<Finding>,
) {
    let n = entry.seq;
    let recorded: Vec<&Value> = entry
        .fields
        .get("outputs")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let file_of = |v: &Value| v.get("file").and_then(Value::as_str).map(String::from);
    for output in &manifest.outputs {
        let Some(theirs) = recorded
            .iter()
            .find(|v| file_of(v).as_deref() == Some(output.file.as_str()))
        else {
            findings.push(Finding::Changed(format!(
                "{} ({}): in the manifest, not in register entry {n}",
                escaped(&output.file),
                escaped(&output.role)
            )));
            continue;
        };
        let sha = theirs.get("sha256").and_then(Value::as_str);
        let size = theirs.get("bytes").and_then(Value::as_u64);
        if sha == Some(output.sha256.as_str()) && size.is_none_or(|b| b == output.bytes) {
            // The manifest agrees with the register: the file was held against it above.
            continue;
        }
        let on_disk = match present.get(&output.file) {
            Some((s, b)) if Some(s.as_str()) == sha && size.is_none_or(|size| size == *b) => {
                "the file beside it still matches the register"
            }
            Some(_) => "the file beside it differs from the register too: both were changed",
            None => "the file is not beside it",
        };
        findings.push(Finding::Changed(format!(
            "{} ({}): the manifest's SHA-256 or size differs from register entry {n}'s; {on_disk}",
            escaped(&output.file),
            escaped(&output.role)
        )));
    }
    for theirs in &recorded {
        let file = file_of(theirs).unwrap_or_default();
        if !manifest.outputs.iter().any(|o| o.file == file) {
            findings.push(Finding::Changed(format!(
                "{}: recorded in register entry {n}, not in the manifest",
                super::quoted(&file)
            )));
        }
    }
}

fn entry_signature(entry: &Entry, key: &VerifyingKey) -> Finding {
    let n = entry.seq;
    // A run with a signing key signs its manifest and its entry alike: an entry that
    // records a signed manifest but holds no signature had its signature taken off.
    let signed_manifest = manifest_field(entry, "signed").and_then(Value::as_bool) == Some(true);
    if !entry.is_signed() && signed_manifest {
        return Finding::Failed(format!(
            "register entry {n} is not signed, though it records a signed manifest: its signature was removed"
        ));
    }
    if !entry.is_signed() {
        return Finding::Note(format!(
            "register entry {n} is not signed: it proves the manifest's hash, not who recorded it"
        ));
    }
    let one = std::slice::from_ref(entry);
    match register::check_signatures(one, key).problems.first() {
        None => Finding::Ok(format!(
            "register entry {n} is signed by this public key ({})",
            signing::fingerprint(key)
        )),
        Some(problem) => Finding::Failed(format!("register {problem}")),
    }
}
