//! A whole run: scan, transform in fixed-size batches, write, commit.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use polars::prelude::*;

use super::output::OutputFile;
use super::transform::{BatchTransform, ExclusionCounts};
use super::{EngineError, Input};
use crate::kernels::batch::{Reason, Tally};
use crate::kernels::keys::MasterKey;
use crate::kernels::scrub::ScrubCounts;
use crate::plan::{Plan, Transform};
use crate::spec::OnInvalid;

/// Rows per batch, and so per Parquet row group. Fixed, so that the output's bytes do not
/// depend on how many threads read the input.
const BATCH_ROWS: usize = 128 * 1024;

/// How many values of one released column had no canonical form, and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionCount {
    pub column: String,
    pub reason: Reason,
    pub count: u64,
    pub on_invalid: OnInvalid,
}

/// One exclusion list as read. Entries that are no valid BSN cannot be matched: they are
/// reported, so that someone can correct them.
#[derive(Debug, Clone)]
pub struct ListReport {
    pub path: PathBuf,
    pub reason: crate::plan::ExclusionReason,
    pub entries: u64,
    pub invalid_lines: Vec<u64>,
}

/// What a completed run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub input_files: Vec<PathBuf>,
    pub rows_read: u64,
    pub rows_written: u64,
    /// Rows left out because a `drop_row` column had no canonical form.
    pub rows_dropped: u64,
    pub rejections: Vec<RejectionCount>,
    /// Records excluded before any transformation, by reason.
    pub excluded: ExclusionCounts,
    /// The exclusion lists read: entries, and lines of entries that are no valid BSN.
    pub lists: Vec<ListReport>,
    /// Identifiers replaced, per `scrub` column, in plan order.
    pub scrubbed: Vec<(String, ScrubCounts)>,
    /// Values withheld because their retention term had passed, per released column
    /// that has a term, in plan order.
    pub expired: Vec<(String, u64)>,
    pub output: PathBuf,
}

struct State {
    output: Option<OutputFile>,
    tallies: Vec<Tally>,
    scrubbed: Vec<ScrubCounts>,
    expired: Vec<u64>,
    excluded: ExclusionCounts,
    rows_read: u64,
    rows_written: u64,
    rows_dropped: u64,
    error: Option<EngineError>,
}

impl State {
    fn step(&mut self, transform: &BatchTransform, batch: &DataFrame) -> Result<(), EngineError> {
        let mut out = transform.apply(batch, self.rows_read + 1)?;
        self.rows_read += batch.height() as u64;
        self.rows_dropped += out.rows_dropped;
        self.excluded.add(&out.excluded);
        self.rows_written += out.frame.height() as u64;
        for (total, tally) in self.tallies.iter_mut().zip(&out.tallies) {
            total.missing += tally.missing;
            total.invalid += tally.invalid;
        }
        for (total, counts) in self.scrubbed.iter_mut().zip(&out.scrubbed) {
            total.add(counts);
        }
        for (total, count) in self.expired.iter_mut().zip(&out.expired) {
            *total += count;
        }
        self.output
            .as_mut()
            .ok_or_else(|| EngineError::Internal("output already closed".into()))?
            .write(&mut out.frame)
    }
}

/// Execute `plan` over `input` with `key`. On error nothing is left at the output path
/// (a file already there stays as it was).
pub fn run(plan: &Plan, input: Input, key: &MasterKey) -> Result<RunSummary, EngineError> {
    let output_path = &plan.pipeline.output.path;
    if input.files.iter().any(|f| same_file(f, output_path)) {
        return Err(EngineError::Output {
            path: output_path.clone(),
            problem: "is also the input; an extract never replaces its source".into(),
        });
    }
    let needed: Vec<Expr> = plan.needed_inputs().into_iter().map(col).collect();
    let mut frame = input.frame.clone().select(needed);
    let schema = frame.collect_schema().map_err(|e| input.error(&e))?;
    let lists = plan
        .exclusion_lists
        .iter()
        .map(super::lists::load)
        .collect::<Result<Vec<_>, _>>()?;
    let transform = Arc::new(BatchTransform::new(plan, key, &lists)?);
    // The output schema is what the transform makes of an empty batch.
    let probe = transform.apply(&DataFrame::empty_with_schema(&schema), 1)?;
    let output = OutputFile::create(
        output_path,
        plan.pipeline.output.format,
        probe.frame.schema(),
        transform.field_metadata(),
    )?;
    let state = Arc::new(Mutex::new(State {
        output: Some(output),
        tallies: vec![Tally::default(); plan.outputs.len()],
        scrubbed: vec![ScrubCounts::default(); plan.outputs.len()],
        expired: vec![0; plan.outputs.len()],
        excluded: ExclusionCounts::default(),
        rows_read: 0,
        rows_written: 0,
        rows_dropped: 0,
        error: None,
    }));
    let callback = {
        let state = Arc::clone(&state);
        let transform = Arc::clone(&transform);
        PlanCallback::new(move |batch: DataFrame| {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.error.is_none()
                && let Err(e) = state.step(&transform, &batch)
            {
                state.error = Some(e);
            }
            // `true` asks the engine to stop reading.
            Ok(state.error.is_some())
        })
    };
    let result = frame
        .sink_batches(callback, true, NonZeroUsize::new(BATCH_ROWS))
        .and_then(|sink| sink.collect_with_engine(Engine::Streaming));
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = state.error.take() {
        return Err(e);
    }
    result.map_err(|e| input.error(&e))?;
    let output = state
        .output
        .take()
        .ok_or_else(|| EngineError::Internal("output already closed".into()))?
        .commit()?;
    let rejections = plan
        .outputs
        .iter()
        .zip(&state.tallies)
        .flat_map(|(out, tally)| {
            [
                (Reason::Missing, tally.missing),
                (Reason::Invalid, tally.invalid),
            ]
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(reason, count)| RejectionCount {
                column: out.name.clone(),
                reason,
                count,
                on_invalid: out.on_invalid,
            })
        })
        .collect();
    Ok(RunSummary {
        input_files: input.files.clone(),
        rows_read: state.rows_read,
        rows_written: state.rows_written,
        rows_dropped: state.rows_dropped,
        rejections,
        excluded: state.excluded,
        lists: lists
            .into_iter()
            .map(|l| ListReport {
                path: l.path,
                reason: l.reason,
                entries: l.entries,
                invalid_lines: l.invalid_lines,
            })
            .collect(),
        scrubbed: plan
            .outputs
            .iter()
            .zip(&state.scrubbed)
            .filter(|(out, _)| matches!(out.transform, Transform::Scrub { .. }))
            .map(|(out, counts)| (out.name.clone(), *counts))
            .collect(),
        expired: plan
            .outputs
            .iter()
            .zip(&state.expired)
            .filter(|(out, _)| !out.retention.is_empty())
            .map(|(out, count)| (out.name.clone(), *count))
            .collect(),
        output,
    })
}

/// Whether two paths name one existing file.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
