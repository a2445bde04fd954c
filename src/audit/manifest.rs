//! The manifest: a JSON file beside every extract that records what the run processed,
//! for which purpose, under which basis, for whom, and how it was protected, with the
//! SHA-256 of every file read and written. Its schema is versioned (`doel-manifest/1`)
//! and documented in `docs/accountability.md`; fields are only ever added within a version.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AuditError;
use super::RunSummary;
use crate::kernels::disclosure::CLASS_SIZE_BOUNDS;
use crate::kernels::keys::SPEC_VERSION;
use crate::kernels::scrub::Identifier;
use crate::plan::{Fate, Plan, Transform};

/// The schema name and version of the manifest.
pub const SCHEMA: &str = "doel-manifest/1";

/// The largest manifest `doel verify` reads: far above any doel writes (a few KiB).
const MANIFEST_LIMIT: u64 = 16 << 20;

/// A whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub run_id: String,
    pub started: String,
    pub finished: String,
    /// The day ages and retention terms were computed on.
    pub reference_date: String,
    pub tool: Tool,
    pub pipeline: FileRecord,
    pub catalogue: FileRecord,
    pub declaration: Declaration,
    /// Every input column: its category and what became of it.
    pub plan: Vec<PlanColumn>,
    pub inputs: Vec<FileRecord>,
    /// The database the input was read from, where it was no file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DatabaseSource>,
    pub exclusion_lists: Vec<FileRecord>,
    /// The extract, and its encrypted copy when delivered encrypted. Paths are file names
    /// in the manifest's own directory.
    pub outputs: Vec<OutputRecord>,
    pub counts: Value,
    /// What disclosure control did (microdata or table), if it ran.
    pub disclosure: Option<Value>,
    pub pseudonyms: Pseudonyms,
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// A database read in place of input files: the server and database (never the
/// credentials), the table or the query's SHA-256 (a query may hold a value), the columns
/// selected, the rows, and the time of the snapshot they were read in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSource {
    /// `postgresql`.
    pub kind: String,
    /// `host:port`, or the socket directory and port.
    pub server: String,
    pub database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_sha256: Option<String>,
    pub columns: Vec<String>,
    /// The order the rows were read in: the primary key, or every column read.
    pub order_by: Vec<String>,
    pub rows: u64,
    /// The transaction's start (UTC): every row is as it was then.
    pub snapshot: String,
}

/// A file read: its path as given, SHA-256, size and (data files) rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A file written, named relative to the manifest's directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputRecord {
    /// `extract`, or `extract.age` for its encrypted copy.
    pub role: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Field>,
    /// Whether the file is left beside the manifest (`false`: only its encrypted copy).
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
}

/// The pipeline's declarations, as the register of processing (art. 30) needs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Declaration {
    pub name: String,
    pub controller: String,
    pub contact: String,
    pub purpose: String,
    pub legal_basis: String,
    pub bsn_basis: Option<String>,
    pub recipient: String,
    pub recipient_retention: String,
    pub description: Option<String>,
    pub subject_categories: Vec<String>,
    pub data_categories: Vec<String>,
    pub special_category_exceptions: Vec<Value>,
    pub retention_terms: Vec<Value>,
    /// What doel applied, then the pipeline's own organisational measures.
    pub security_measures: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanColumn {
    pub column: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub category: Option<String>,
    /// `released`, `dropped`, or `read` (used only to exclude records or apply a term).
    pub fate: String,
    pub detail: String,
    /// The released columns made from it, with their action.
    pub outputs: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pseudonyms {
    pub spec: String,
    pub domain: String,
    pub key_fingerprint: String,
    /// The recipients the pipeline shares the domain with on purpose (their extracts
    /// link with this one); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The recipients' age public keys.
    pub recipients: Vec<String>,
    pub plaintext_kept: bool,
}

/// What the run knows beyond the plan and the summary.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    pub started: &'a str,
    pub finished: &'a str,
    pub key_fingerprint: &'a str,
    /// The pipeline file as read.
    pub pipeline: FileRecord,
    pub catalogue: FileRecord,
    pub inputs: Vec<FileRecord>,
    pub exclusion_lists: Vec<FileRecord>,
    pub outputs: Vec<OutputRecord>,
    /// Measures applied after the run (signature, encryption), described.
    pub extra_measures: Vec<String>,
}

impl Manifest {
    pub fn new(plan: &Plan, summary: &RunSummary, facts: RunFacts) -> Self {
        let d = &plan.pipeline.declaration;
        Manifest {
            schema: SCHEMA.into(),
            run_id: facts.run_id.into(),
            started: facts.started.into(),
            finished: facts.finished.into(),
            reference_date: plan.reference_date.to_string(),
            tool: Tool {
                name: "doel".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            pipeline: facts.pipeline,
            catalogue: facts.catalogue,
            declaration: Declaration {
                name: d.name.clone(),
                controller: d.controller.clone(),
                contact: d.contact.clone(),
                purpose: d.purpose.as_str().into(),
                legal_basis: d.legal_basis.as_str().into(),
                bsn_basis: d.bsn_basis.clone(),
                recipient: d.recipient.clone(),
                recipient_retention: d.recipient_retention.clone(),
                description: d.description.clone(),
                subject_categories: subject_categories(plan),
                data_categories: data_categories(plan),
                special_category_exceptions: plan
                    .exceptions_applied()
                    .map(|e| {
                        json!({"column": e.column, "ground": e.ground.as_str(), "necessity": e.necessity})
                    })
                    .collect(),
                retention_terms: plan
                    .retention_terms()
                    .iter()
                    .map(|t| {
                        json!({"name": t.name, "years": t.years, "after": t.after, "basis": t.basis})
                    })
                    .collect(),
                security_measures: security_measures(plan, facts.extra_measures),
            },
            plan: plan_columns(plan),
            inputs: facts.inputs,
            source: summary.source.clone(),
            exclusion_lists: facts.exclusion_lists,
            outputs: facts.outputs,
            counts: counts(summary),
            disclosure: disclosure(summary),
            pseudonyms: Pseudonyms {
                spec: SPEC_VERSION.into(),
                domain: d.pseudonym_domain.clone(),
                key_fingerprint: facts.key_fingerprint.into(),
                shared_with: d.pseudonym_domain_shared_with.clone(),
            },
            delivery: plan.pipeline.delivery.as_ref().map(|d| Delivery {
                recipients: d.recipients.clone(),
                plaintext_kept: d.keep_plaintext,
            }),
        }
    }

    /// The manifest as written: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        bytes
    }

    /// Read a manifest file; its bytes too, for the signature.
    pub fn read(path: &Path) -> Result<(Self, Vec<u8>), AuditError> {
        let bytes = super::read_regular(path, MANIFEST_LIMIT)
            .map_err(|e| AuditError::file("manifest", path, &e))?;
        let manifest: Self = serde_json::from_slice(&bytes).map_err(|e| AuditError::Malformed {
            what: "manifest",
            path: path.to_owned(),
            problem: format!(
                "not a doel manifest (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        if manifest.schema != SCHEMA {
            return Err(AuditError::Malformed {
                what: "manifest",
                path: path.to_owned(),
                problem: format!("schema {:?}; this doel reads {SCHEMA}", manifest.schema),
            });
        }
        Ok((manifest, bytes))
    }
}

/// Where the manifest of the output `output` goes: `OUTPUT.manifest.json`.
pub fn path_for(output: &Path) -> PathBuf {
    with_suffix(output, ".manifest.json")
}

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn subject_categories(plan: &Plan) -> Vec<String> {
    let mut subjects: Vec<&str> = released_entries(plan)
        .flat_map(|e| e.subjects.iter().map(|s| s.as_str()))
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects.into_iter().map(String::from).collect()
}

/// The categories of the input columns released, each with how it was released when
/// not as it was (`bsn (pseudonymised)`).
fn data_categories(plan: &Plan) -> Vec<String> {
    let mut categories: Vec<String> = plan
        .inputs
        .iter()
        .filter_map(|c| match &c.fate {
            Fate::Used { by } => Some((c, by)),
            _ => None,
        })
        .filter_map(|(c, by)| {
            let entry = plan.catalogue.entry(&c.name)?;
            let mut how: Vec<&str> = plan
                .outputs
                .iter()
                .filter(|o| by.contains(&o.name))
                .map(|o| match o.transform {
                    Transform::Keep { .. } => "as is",
                    Transform::Scrub { .. } => "scrubbed",
                    Transform::Pseudonymise { token: false, .. } => "pseudonymised",
                    Transform::Pseudonymise { token: true, .. } => "tokenised",
                    Transform::Generalise { .. } => "generalised",
                })
                .collect();
            how.sort_unstable();
            how.dedup();
            Some(format!(
                "{} ({})",
                entry.category.describe(),
                how.join(", ")
            ))
        })
        .collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// The catalogue entries of the input columns whose values are released.
fn released_entries(plan: &Plan) -> impl Iterator<Item = &crate::spec::catalogue::Entry> {
    plan.inputs
        .iter()
        .filter(|c| matches!(c.fate, Fate::Used { .. }))
        .filter_map(|c| plan.catalogue.entry(&c.name))
}

fn security_measures(plan: &Plan, extra: Vec<String>) -> Vec<String> {
    let mut measures = Vec::new();
    let dropped = plan
        .inputs
        .iter()
        .filter(|c| !matches!(c.fate, Fate::Used { .. }))
        .count();
    measures.push(format!(
        "data minimisation: {dropped} of {} input columns not released (deny by default)",
        plan.inputs.len()
    ));
    let any = |f: &dyn Fn(&Transform) -> bool| plan.outputs.iter().any(|o| f(&o.transform));
    if any(&|t| matches!(t, Transform::Pseudonymise { token: false, .. })) {
        measures.push(format!(
            "pseudonymisation: keyed HMAC-SHA256 ({SPEC_VERSION}), one domain per recipient"
        ));
    }
    if any(&|t| matches!(t, Transform::Pseudonymise { token: true, .. })) {
        measures.push(format!(
            "reversible tokens: AES-256-GCM ({SPEC_VERSION}), reversible only by the key holder, each reversal registered"
        ));
    }
    if any(&|t| matches!(t, Transform::Generalise { .. })) {
        measures.push("generalisation of quasi-identifiers".into());
    }
    if any(&|t| matches!(t, Transform::Scrub { .. })) {
        measures.push(
            "free text scrubbed of BSNs, IBANs, e-mail addresses, phone numbers and postcodes"
                .into(),
        );
    }
    if !plan.exclusions.is_empty() || !plan.exclusion_lists.is_empty() {
        measures.push("restricted and objecting subjects' records excluded".into());
    }
    if plan.retention_key.is_some() || !plan.retention_terms().is_empty() {
        measures.push("retention terms enforced".into());
    }
    if let Some(md) = &plan.pipeline.output.microdata {
        measures.push(format!(
            "k-anonymity: k = {} over {}{}",
            md.k,
            md.quasi_identifiers.join(", "),
            md.sensitive
                .as_ref()
                .map(|(c, l)| format!("; l-diversity l = {l} of {c}"))
                .unwrap_or_default()
        ));
    }
    if let Some(t) = &plan.pipeline.output.table {
        measures.push(format!(
            "table protection: cells under {} contributors suppressed, secondary suppression, counts rounded to {}{}",
            t.min_count,
            t.round_to,
            t.p_percent
                .map(|p| format!(", p%-rule p = {p}"))
                .unwrap_or_default()
        ));
    }
    measures.push("integrity: SHA-256 of every file read and written".into());
    measures.extend(extra);
    measures.extend(
        plan.pipeline
            .declaration
            .security_measures
            .iter()
            .map(|m| format!("declared: {m}")),
    );
    measures
}

fn plan_columns(plan: &Plan) -> Vec<PlanColumn> {
    plan.inputs
        .iter()
        .map(|input| {
            let (fate, detail) = match &input.fate {
                Fate::Used { .. } => ("released", "used for the released columns"),
                Fate::DroppedByPipeline => ("dropped", "the pipeline says drop"),
                Fate::NotNamed => ("dropped", "not named in the pipeline (deny by default)"),
                Fate::ExclusionFlag { applied: true, .. } => {
                    ("read", "exclusion flag: marked records excluded, not released")
                }
                Fate::ExclusionFlag { applied: false, .. } => (
                    "dropped",
                    "objection flag not applied: objections bind research and statistics only",
                ),
                Fate::ExclusionKey => ("read", "BSN matched against the exclusion lists, not released"),
                Fate::RetentionAnchor => ("read", "date a retention term runs from, not released"),
            };
            let outputs = match &input.fate {
                Fate::Used { by } => plan
                    .outputs
                    .iter()
                    .filter(|o| by.contains(&o.name))
                    .map(|o| json!({"name": o.name, "action": o.describe(), "on_invalid": o.on_invalid.as_str()}))
                    .collect(),
                _ => Vec::new(),
            };
            PlanColumn {
                column: input.name.clone(),
                data_type: input.column_type.name().into(),
                category: input.category.map(|c| c.describe()),
                fate: fate.into(),
                detail: detail.into(),
                outputs,
            }
        })
        .collect()
}

/// Rows read, excluded by reason, dropped and written; values rejected, withheld and
/// scrubbed per column.
pub fn counts(summary: &RunSummary) -> Value {
    let x = &summary.excluded;
    json!({
        "rows_read": summary.rows_read,
        "excluded": {
            "restriction": x.restriction,
            "objection": x.objection,
            "retention": x.retention,
            "retention_undated": x.retention_undated,
            "unreadable_flag": x.unreadable,
        },
        "lists": summary.lists.iter().map(|l| json!({
            "path": l.path.display().to_string(),
            "reason": l.reason.as_str(),
            "column": l.column,
            "entries": l.entries,
            "valid": l.valid(),
            "invalid": l.invalid_lines.len(),
            "matched": l.matched,
        })).collect::<Vec<_>>(),
        "rows_dropped": summary.rows_dropped,
        "rows_written": summary.rows_written,
        "rejected": summary.rejections.iter().map(|r| json!({
            "column": r.column,
            "reason": r.reason.as_str(),
            "count": r.count,
            "on_invalid": r.on_invalid.as_str(),
        })).collect::<Vec<_>>(),
        "withheld": summary.expired.iter().map(|(c, n)| json!({"column": c, "count": n})).collect::<Vec<_>>(),
        "scrubbed": summary.scrubbed.iter().map(|(c, counts)| {
            let mut kinds = serde_json::Map::new();
            kinds.insert("column".into(), c.as_str().into());
            for kind in Identifier::ALL {
                kinds.insert(kind.name().into(), counts.get(kind).into());
            }
            Value::Object(kinds)
        }).collect::<Vec<_>>(),
    })
}

/// The disclosure-control results, if a step ran.
pub fn disclosure(summary: &RunSummary) -> Option<Value> {
    if let Some(m) = &summary.microdata {
        return Some(json!({
            "kind": "microdata",
            "classes": m.risk.classes,
            "smallest_class": m.risk.smallest,
            "records_suppressed": m.risk.records_suppressed,
            "classes_suppressed": m.risk.classes_suppressed,
            "least_diverse_class": m.risk.least_diverse,
            "levels": m.levels.iter().map(|l| json!({"column": l.column, "level": l.name})).collect::<Vec<_>>(),
            "small_areas_recoded": m.areas_recoded,
            "small_area_records": m.area_records,
            "class_sizes": CLASS_SIZE_BOUNDS.iter().zip(m.risk.class_sizes).map(|(b, n)| json!({"records_from": b, "classes": n})).collect::<Vec<_>>(),
        }));
    }
    summary.table.as_ref().map(|t| {
        json!({
            "kind": "table",
            "cells": t.cells,
            "margins": t.margins,
            "suppressed_primary": t.primary,
            "suppressed_secondary": t.secondary,
            "invalid_amounts": t.invalid.iter().map(|(c, n)| json!({"column": c, "count": n})).collect::<Vec<_>>(),
        })
    })
}
