//! After a run: hash what was read and written, write the manifest (signed when a
//! signing key is given), the HTML report and the encrypted copies, and append the
//! register entry — in that order, so that a register entry always points at a complete
//! manifest. When a step fails, the files this run wrote are removed: an extract is
//! delivered with its manifest or not at all.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::domain::{self, DomainUse};
use super::manifest::{self, FileRecord, Manifest, OutputRecord, RunFacts};
use super::register::{self, Appended};
use super::signing::{self, SigningSecret};
use super::{AuditError, Backups, RunSummary, delivery, html, sha256_file, write_atomic};
use crate::plan::Plan;

/// What the accountability step wrote.
pub struct Recorded {
    pub manifest: PathBuf,
    pub manifest_sha256: String,
    pub signature: Option<PathBuf>,
    pub report: PathBuf,
    /// `.age` copies, in the order written.
    pub encrypted: Vec<PathBuf>,
    /// The extract was removed after encryption (`keep_plaintext = false`).
    pub plaintext_removed: bool,
    pub register: PathBuf,
    pub entry: Appended,
}

/// The run's context, beside the plan and the summary.
pub struct Context<'a> {
    pub run_id: String,
    pub started: String,
    pub key_fingerprint: String,
    pub signing: Option<&'a SigningSecret>,
    pub register: PathBuf,
}

/// Every file a run can write at `output`'s path: the extract, its manifest, signature
/// and report, and their encrypted copies. [`Backups`] of these are taken before a run.
pub fn targets(output: &Path) -> Vec<PathBuf> {
    let manifest = manifest::path_for(output);
    let report = manifest::with_suffix(output, ".report.html");
    let mut paths = vec![
        output.to_owned(),
        manifest.clone(),
        signing::signature_path(&manifest),
        report.clone(),
    ];
    paths.extend([output, &manifest, &report].map(delivery::path_for));
    paths
}

/// Record a completed run. On failure, the extract and everything written here are
/// removed, and `backups` of the previous run's files put back.
pub fn record(
    plan: &Plan,
    summary: &RunSummary,
    context: Context,
    backups: Backups,
) -> Result<Recorded, AuditError> {
    let mut written: Vec<PathBuf> = vec![summary.output.clone()];
    let result = write_all(plan, summary, &context, &mut written);
    if result.is_err() {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        backups.restore();
    }
    result
}

fn hash(what: &'static str, path: &Path) -> Result<(String, u64), AuditError> {
    sha256_file(path).map_err(|e| AuditError::File {
        what,
        path: path.to_owned(),
        problem: e.kind().to_string(),
    })
}

fn file_record(
    what: &'static str,
    path: &Path,
    rows: Option<u64>,
    role: Option<&str>,
) -> Result<FileRecord, AuditError> {
    let (sha256, bytes) = hash(what, path)?;
    Ok(FileRecord {
        path: path.display().to_string(),
        sha256,
        bytes,
        rows,
        role: role.map(String::from),
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The extract, hashed, and its encrypted copy when the pipeline asks for one.
struct OutputRecords {
    outputs: Vec<OutputRecord>,
    encrypted: Vec<PathBuf>,
    /// What the encryption adds to the manifest's security measures.
    measures: Vec<String>,
}

fn record_outputs(
    plan: &Plan,
    summary: &RunSummary,
    written: &mut Vec<PathBuf>,
) -> Result<OutputRecords, AuditError> {
    let output = &summary.output;
    let (sha256, bytes) = hash("output", output)?;
    let mut extract = OutputRecord {
        role: "extract".into(),
        file: file_name(output),
        sha256,
        bytes,
        rows: Some(summary.rows_written),
        format: Some(plan.pipeline.output.format.as_str().into()),
        schema: summary
            .output_schema
            .iter()
            .map(|(name, data_type)| manifest::Field {
                name: name.clone(),
                data_type: data_type.clone(),
            })
            .collect(),
        kept: true,
    };
    let mut outputs = Vec::new();
    let mut encrypted = Vec::new();
    let mut extra_measures = Vec::new();
    let delivery_spec = plan.pipeline.delivery.as_ref();
    if let Some(d) = delivery_spec {
        let sealed = delivery::encrypt(output, &d.recipients)?;
        written.push(sealed.clone());
        let (sha256, bytes) = hash("encrypted copy", &sealed)?;
        extract.kept = d.keep_plaintext;
        outputs.push(extract);
        outputs.push(OutputRecord {
            role: "extract.age".into(),
            file: file_name(&sealed),
            sha256,
            bytes,
            rows: None,
            format: Some("age".into()),
            schema: Vec::new(),
            kept: true,
        });
        encrypted.push(sealed);
        extra_measures.push(format!(
            "encryption: the extract, manifest and report encrypted with age (X25519) to {} recipient{}{}",
            d.recipients.len(),
            if d.recipients.len() == 1 { "" } else { "s" },
            if d.keep_plaintext {
                ""
            } else {
                "; the unencrypted extract is not kept"
            }
        ));
    } else {
        outputs.push(extract);
    }
    Ok(OutputRecords {
        outputs,
        encrypted,
        measures: extra_measures,
    })
}

/// What the run read, hashed: its inputs, the exclusion lists, the pipeline and the
/// catalogue.
struct ReadRecords {
    inputs: Vec<FileRecord>,
    lists: Vec<FileRecord>,
    pipeline: FileRecord,
    catalogue: FileRecord,
}

fn record_reads(plan: &Plan, summary: &RunSummary) -> Result<ReadRecords, AuditError> {
    let inputs = summary
        .input_files
        .iter()
        .zip(&summary.input_rows)
        .map(|(path, rows)| file_record("input", path, Some(*rows), None))
        .collect::<Result<Vec<_>, _>>()?;
    let lists = summary
        .lists
        .iter()
        .map(|l| {
            file_record(
                "exclusion list",
                &l.path,
                Some(l.entries),
                Some(l.reason.as_str()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Hashed after the run: a file changed meanwhile would be recorded as something
    // the run did not read.
    if let Some(path) = super::changed(&summary.stamps) {
        return Err(AuditError::File {
            what: "input",
            path: path.to_owned(),
            problem: super::CHANGED.into(),
        });
    }
    Ok(ReadRecords {
        inputs,
        lists,
        pipeline: file_record("pipeline", &plan.pipeline.path, None, None)?,
        catalogue: file_record("catalogue", &plan.catalogue.path, None, None)?,
    })
}

fn write_all(
    plan: &Plan,
    summary: &RunSummary,
    context: &Context,
    written: &mut Vec<PathBuf>,
) -> Result<Recorded, AuditError> {
    let output = &summary.output;
    // What was read is hashed on a thread of its own while the extract is: the input and
    // the extract are of about the same size, and this step otherwise runs on one core.
    let (written_records, read) = std::thread::scope(|s| {
        let read = s.spawn(|| record_reads(plan, summary));
        let written_records = record_outputs(plan, summary, written);
        let read = read
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written_records, read)
    });
    let OutputRecords {
        outputs,
        mut encrypted,
        measures: mut extra_measures,
    } = written_records?;
    let read = read?;
    if let Some(key) = context.signing {
        extra_measures.push(format!(
            "integrity: manifest signed with Ed25519, public key {}",
            key.public_hex()
        ));
    }
    let delivery_spec = plan.pipeline.delivery.as_ref();
    let finished = super::now_utc();
    let manifest = Manifest::new(
        plan,
        summary,
        RunFacts {
            run_id: &context.run_id,
            started: &context.started,
            finished: &finished,
            key_fingerprint: &context.key_fingerprint,
            pipeline: read.pipeline,
            catalogue: read.catalogue,
            inputs: read.inputs,
            exclusion_lists: read.lists,
            outputs,
            extra_measures,
        },
    );
    let manifest_path = manifest::path_for(output);
    let bytes = manifest.to_bytes();
    written.push(manifest_path.clone());
    write_atomic("manifest", &manifest_path, &bytes)?;
    let manifest_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let signature = match context.signing {
        Some(key) => {
            let path = signing::signature_path(&manifest_path);
            written.push(path.clone());
            write_atomic(
                "signature",
                &path,
                format!("{}\n", key.sign(&bytes)).as_bytes(),
            )?;
            Some(path)
        }
        None => None,
    };
    let report = manifest::with_suffix(output, ".report.html");
    written.push(report.clone());
    write_atomic("report", &report, html::render(&manifest).as_bytes())?;
    if let Some(d) = delivery_spec {
        for path in [&manifest_path, &report] {
            let sealed = delivery::encrypt(path, &d.recipients)?;
            written.push(sealed.clone());
            encrypted.push(sealed);
        }
    }
    let plaintext_removed = delivery_spec.is_some_and(|d| !d.keep_plaintext);
    // Checked again under the register's lock: a run for another recipient may have
    // taken the domain since this run began.
    let register_path = &context.register;
    let domain_check = |entries: &[register::Entry]| {
        domain::check(
            register_path,
            entries,
            DomainUse::of(&plan.pipeline.declaration),
        )
    };
    let entry = register::append_checked(
        register_path,
        run_entry(
            &manifest,
            &manifest_path,
            &manifest_sha256,
            signature.is_some(),
        ),
        context.signing,
        Some(&domain_check),
    )?;
    if plaintext_removed {
        // Recorded as not kept; removing it is the last step, after the register entry.
        let _ = std::fs::remove_file(output);
    }
    Ok(Recorded {
        manifest: manifest_path,
        manifest_sha256,
        signature,
        report,
        encrypted,
        plaintext_removed,
        register: context.register.clone(),
        entry,
    })
}

/// The register entry of a run: a summary of its manifest, with the SHA-256 of the
/// manifest's bytes and every output's SHA-256 and size (held against them by
/// `doel verify --register`).
fn run_entry(m: &Manifest, path: &Path, sha256: &str, signed: bool) -> Map<String, Value> {
    let d = &m.declaration;
    let fields = json!({
        "kind": "run",
        "time": m.finished,
        "run_id": m.run_id,
        "pipeline": m.pipeline.path,
        "pipeline_sha256": m.pipeline.sha256,
        "name": d.name,
        "controller": d.controller,
        "purpose": d.purpose,
        "legal_basis": d.legal_basis,
        "recipient": d.recipient,
        "recipient_retention": d.recipient_retention,
        "subject_categories": d.subject_categories,
        "data_categories": d.data_categories,
        "rows_read": m.counts.get("rows_read"),
        "rows_written": m.counts.get("rows_written"),
        "outputs": m.outputs.iter().map(|o| json!({"file": o.file, "sha256": o.sha256, "bytes": o.bytes})).collect::<Vec<_>>(),
        "manifest": {"path": path.display().to_string(), "sha256": sha256, "signed": signed},
        "domain": m.pseudonyms.domain,
        "key_fingerprint": m.pseudonyms.key_fingerprint,
    });
    let mut map = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if !m.pseudonyms.shared_with.is_empty() {
        map.insert(
            "domain_shared_with".into(),
            m.pseudonyms.shared_with.clone().into(),
        );
    }
    map
}

/// A new random run id (128 bits, hex).
pub fn run_id() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is still unique enough with the time in the entry.
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}
