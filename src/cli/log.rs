//! `--log-format json`: one JSON object per line on stdout, for a scheduled job's log
//! collector. Events: `start`, `plan`, `counts`, `output`, `end`, and `error` (before
//! `end`) when the run fails. Like the text account, they hold names and counts only,
//! never a value from the data or key material.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Value, json};

use crate::engine::RunSummary;
use crate::kernels::scrub::Identifier;
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

/// The run completed: its counts and its output.
pub fn finished(plan: &Plan, summary: &RunSummary, fingerprint: &str) {
    let x = &summary.excluded;
    emit(
        "counts",
        json!({
            "rows_read": summary.rows_read,
            "excluded": {
                "restriction": x.restriction,
                "objection": x.objection,
                "retention": x.retention,
                "unreadable_flag": x.unreadable,
            },
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
            "microdata": summary.microdata.as_ref().map(|m| json!({
                "classes": m.risk.classes,
                "smallest_class": m.risk.smallest,
                "records_suppressed": m.risk.records_suppressed,
                "classes_suppressed": m.risk.classes_suppressed,
                "least_diverse_class": m.risk.least_diverse,
                "levels": m.levels.iter().map(|l| json!({"column": l.column, "level": l.name})).collect::<Vec<_>>(),
                "small_areas_recoded": m.areas_recoded,
            })),
            "table": summary.table.as_ref().map(|t| json!({
                "cells": t.cells,
                "margins": t.margins,
                "suppressed_primary": t.primary,
                "suppressed_secondary": t.secondary,
            })),
        }),
    );
    emit(
        "output",
        json!({
            "path": summary.output.display().to_string(),
            "format": plan.pipeline.output.format.as_str(),
            "key_fingerprint": fingerprint,
        }),
    );
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
