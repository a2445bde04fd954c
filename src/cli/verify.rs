//! `doel verify` (an extract against its manifest), `doel register list|verify`, and
//! `doel reidentify`, which registers every use before it prints anything.

use std::path::Path;

use serde_json::Value;

use super::{CliError, print_out};
use crate::audit::register;
use crate::audit::signing::SigningSecret;
use crate::audit::verify::{self, Finding};
use crate::kernels::keys::MasterKey;

/// Check the manifest's signature (with `public_key`) and every output file it lists
/// that is present beside it; with `register`, hold both against its run's entry there.
pub fn manifest(
    path: &Path,
    public_key: Option<&Path>,
    register_path: Option<&Path>,
) -> Result<(), CliError> {
    let key = public_key.map(crate::keyfile::load_public).transpose()?;
    let verified = register_path.map(register::verify).transpose()?;
    let verdict = verify::manifest(path, public_key.zip(key.as_ref()), verified.as_ref())?;
    print_findings(&verdict.findings);
    match verdict.failures {
        0 => Ok(()),
        n => Err(CliError::Verification(format!(
            "{} does not match: {n} problem{} (above)",
            path.display(),
            if n == 1 { "" } else { "s" }
        ))),
    }
}

fn print_findings(findings: &[Finding]) {
    print_out(&findings.iter().map(Finding::line).collect::<String>());
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
    let key = public_key.map(crate::keyfile::load_public).transpose()?;
    let verdict = verify::register(path, head, public_key.zip(key.as_ref()))?;
    print_findings(&verdict.findings);
    match verdict.problem {
        Some(problem) => Err(CliError::Verification(problem)),
        None => Ok(()),
    }
}

/// Warn that the register's signed entries stop here: its last entry is signed, and the
/// one about to be appended will not be.
pub fn warn_unsigned(path: &Path, entries: &[register::Entry]) {
    if entries.last().is_some_and(register::Entry::is_signed) {
        eprintln!(
            "warning: register {}: its last entry is signed, this one will not be (no --signing-key): `doel register verify --public-key` fails from here",
            crate::text::escaped(&path.display().to_string())
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
    if signing.is_none() {
        // Only a warning: a register unreadable here fails the append below, if at all.
        if let Ok(entries) = register::read_intact(register_path) {
            warn_unsigned(register_path, &entries);
        }
    }
    let done =
        crate::audit::reidentify::reidentify(key, signing, domain, reason, register_path, tokens)?;
    let (entry, failed, opened) = (&done.entry, done.failed(), &done.opened);
    let mut out = String::new();
    for (token, opened) in tokens.iter().zip(opened) {
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
        crate::text::escaped(&register_path.display().to_string()),
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
