//! `--log-format json`: one JSON object per line on stdout, for a scheduled job's log
//! collector. Events: `start`, `plan`, `counts`, `output`, `end`, and `error` (before
//! `end`) when the run fails. Like the text account, they hold names and counts only,
//! never a value from the data or key material.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Value, json};

use crate::audit::RunSummary;
use crate::audit::manifest;
use crate::plan::{Fate, Plan};

/// Whether events are written (set once, by `run --log-format json`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The log formats of `doel run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// The account for people (default).
    Text,
    /// One JSON event per line.
    Json,
}

pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn emit(event: &str, mut fields: Value) {
    if !enabled() {
        return;
    }
    if let Value::Object(map) = &mut fields {
        map.insert("event".into(), event.into());
    }
    super::print_out(&format!("{fields}\n"));
}

/// The run began.
pub fn start(pipeline: &std::path::Path) {
    emit(
        "start",
        json!({
            "command": "run",
            "pipeline": pipeline.display().to_string(),
            "version": env!("CARGO_PKG_VERSION"),
        }),
    );
}

/// The plan was resolved.
pub fn plan(plan: &Plan) {
    let d = &plan.pipeline.declaration;
    emit(
        "plan",
        json!({
            "name": d.name,
            "purpose": d.purpose.as_str(),
            "legal_basis": d.legal_basis.as_str(),
            "recipient": d.recipient,
            "reference_date": plan.reference_date.to_string(),
            "released": plan.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            "dropped": plan.inputs.iter().filter(|c| !matches!(c.fate, Fate::Used { .. })).count(),
            "notes": plan.notes,
        }),
    );
}

/// The run completed: its counts, its output and what recorded it.
pub fn finished(
    plan: &Plan,
    summary: &RunSummary,
    fingerprint: &str,
    recorded: &crate::audit::record::Recorded,
) {
    let mut counts = manifest::counts(summary);
    if let Value::Object(map) = &mut counts {
        let disclosure = manifest::disclosure(summary);
        let kind = disclosure
            .as_ref()
            .and_then(|d| d.get("kind"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for name in ["microdata", "table"] {
            let value = if kind == name {
                disclosure.clone().unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            map.insert(name.into(), value);
        }
    }
    emit("counts", counts);
    emit(
        "output",
        json!({
            "path": summary.output.display().to_string(),
            "format": plan.pipeline.output.format.as_str(),
            "key_fingerprint": fingerprint,
        }),
    );
    emit(
        "recorded",
        json!({
            "manifest": recorded.manifest.display().to_string(),
            "manifest_sha256": recorded.manifest_sha256,
            "signature": recorded.signature.as_ref().map(|p| p.display().to_string()),
            "report": recorded.report.display().to_string(),
            "encrypted": recorded.encrypted.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "register": recorded.register.display().to_string(),
            "register_entry": recorded.entry.seq,
            "register_entry_sha256": recorded.entry.sha256,
        }),
    );
}

/// Something a person must see even with `--quiet`: an event in the JSON log, else a
/// line on stderr.
pub fn warning(message: &str) {
    if enabled() {
        emit("warning", json!({ "message": message }));
    } else {
        eprintln!("warning: {message}");
    }
}

/// The run failed.
pub fn error(message: &str, hint: &str, exit_code: u8) {
    emit(
        "error",
        json!({"message": message, "hint": hint, "exit_code": exit_code}),
    );
}

/// The run ended (after `counts` and `output`, or after `error`).
pub fn end(started: Instant, exit_code: u8) {
    emit(
        "end",
        json!({
            "status": if exit_code == 0 { "ok" } else { "failed" },
            "exit_code": exit_code,
            "seconds": started.elapsed().as_secs_f64(),
        }),
    );
}
