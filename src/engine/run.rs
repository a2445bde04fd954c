//! A whole run: scan, transform in fixed-size batches, write, commit.

use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;

use super::mapped::Map;
use super::output::OutputFile;
use super::stream::stream;
use super::transform::{BatchTransform, ExclusionCounts};
use super::{EngineError, Input};
use crate::apply::microdata::{Counter, Decision};
use crate::audit::{ListReport, MicrodataReport, RejectionCount, RunSummary};
use crate::kernels::canonical::Reason;
use crate::kernels::columns::Tally;
use crate::kernels::keys::MasterKey;
use crate::kernels::scrub::ScrubCounts;
use crate::plan::{Plan, Transform};
use crate::spec::Format;

/// Told the rows read so far after each batch (the CLI draws a progress bar with it).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

struct State {
    output: OutputFile,
    /// The maps polars reads the input through: their pages are released after each
    /// batch.
    mapped: Vec<Map>,
    progress: Option<Progress>,
    /// Microdata: the classes of the records written to the first pass's file.
    counter: Option<Counter>,
    /// Table: the person column, written to the first pass's file as 64-bit hashes (the
    /// group-by's distinct counts then hold 8 bytes per person, not a pseudonym).
    hashed_person: Option<String>,
    tallies: Vec<Tally>,
    scrubbed: Vec<ScrubCounts>,
    expired: Vec<u64>,
    excluded: ExclusionCounts,
    /// Per exclusion list, the records whose BSN it names.
    listed: Vec<u64>,
    rows_read: u64,
    rows_written: u64,
    rows_dropped: u64,
}

impl State {
    fn step(&mut self, transform: &BatchTransform, batch: &DataFrame) -> Result<(), EngineError> {
        let mut out = transform.apply(batch, self.rows_read + 1)?;
        self.rows_read += batch.height() as u64;
        if let Some(progress) = &self.progress {
            progress(self.rows_read);
        }
        self.rows_dropped += out.stats.rows_dropped;
        self.excluded.add(&out.stats.excluded);
        for (total, count) in self.listed.iter_mut().zip(&out.stats.listed) {
            *total += count;
        }
        self.rows_written += out.frame.height() as u64;
        if let Some(counter) = &mut self.counter {
            counter.add(&super::bridge::frame_to_batch(&out.frame)?)?;
        }
        if let Some(person) = &self.hashed_person {
            hash_column(&mut out.frame, person)?;
        }
        for (total, tally) in self.tallies.iter_mut().zip(&out.stats.tallies) {
            total.missing += tally.missing;
            total.invalid += tally.invalid;
        }
        for (total, counts) in self.scrubbed.iter_mut().zip(&out.stats.scrubbed) {
            total.add(counts);
        }
        for (total, count) in self.expired.iter_mut().zip(&out.stats.expired) {
            *total += count;
        }
        self.mapped.iter().for_each(Map::release);
        self.output.write(out.frame)
    }
}

/// Replace the column `name` of `frame` by the hashes of its values as text (null stays
/// null).
fn hash_column(frame: &mut DataFrame, name: &str) -> Result<(), EngineError> {
    let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
    let text = frame
        .column(name)
        .and_then(|c| c.as_materialized_series().cast(&DataType::String))
        .map_err(internal)?;
    let hashes: UInt64Chunked = text
        .str()
        .map_err(internal)?
        .iter()
        .map(|v| v.map(crate::kernels::disclosure::hash_value))
        .collect();
    frame
        .replace(
            name,
            hashes.with_name(PlSmallStr::from_str(name)).into_column(),
        )
        .map_err(internal)?;
    Ok(())
}

/// Execute `plan` over `input` with `key`. On error nothing is left at the output path
/// (a file already there stays as it was).
pub fn run(
    plan: &Plan,
    mut input: Input,
    key: &MasterKey,
    progress: Option<Progress>,
) -> Result<RunSummary, EngineError> {
    let output_path = &plan.pipeline.output.path;
    if input.files.iter().any(|f| same_file(f, output_path)) {
        return Err(EngineError::Output {
            path: output_path.clone(),
            problem: "is also the input; an extract never replaces its source".into(),
        });
    }
    let names: Vec<String> = plan
        .needed_inputs()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    // A database hands over only these columns, before anything is written.
    input.read_database(&names)?;
    let needed: Vec<Expr> = names.iter().map(|n| col(n.as_str())).collect();
    let mut frame = input.frame.clone().select(needed);
    if input.is_csv() {
        // polars checks a CSV row's field count only when it decodes every column: with
        // the projection pushed into the scan, a row with an unquoted comma would be read
        // shifted, a value landing in another column. Decode them all.
        frame = frame.with_projection_pushdown(false);
    }
    let schema = frame.collect_schema().map_err(|e| input.error(&e))?;
    let exclusions = &plan.pipeline.exclusions;
    let lists = plan
        .exclusion_lists
        .iter()
        .map(|list| {
            let loaded = super::lists::load(
                list,
                exclusions.list_column.as_deref(),
                plan.exclusion_key.as_deref(),
            )?;
            let share = exclusions
                .list_invalid_share
                .unwrap_or(crate::spec::LIST_INVALID_SHARE);
            match super::lists::refusal(&loaded, share) {
                Some(problem) => Err(EngineError::List {
                    path: loaded.path,
                    problem,
                }),
                None => Ok(loaded),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let transform = Arc::new(BatchTransform::new(plan, key, &lists)?);
    // The output schema is what the transform makes of an empty batch.
    let mut probe = transform.apply(&DataFrame::empty_with_schema(&schema), 1)?;
    let microdata = plan.pipeline.output.microdata.as_ref();
    let table = plan.pipeline.output.table.as_ref();
    if let Some(person) = table.and_then(|t| t.person.as_deref()) {
        hash_column(&mut probe.frame, person)?;
    }
    // Microdata is written first to a temporary Parquet file, read back once protected.
    // Parquet rather than Arrow IPC: reading the IPC file back peaked at 2.3 GiB for 10M
    // rows, Parquet at 0.9 GiB, for 8 % more time.
    let output = OutputFile::create(
        output_path,
        if microdata.is_some() || table.is_some() {
            Format::Parquet
        } else {
            plan.pipeline.output.format
        },
        probe.frame.schema(),
        transform.field_metadata(),
    )?;
    let state = State {
        output,
        mapped: input.maps.clone(),
        progress,
        counter: microdata.map(Counter::new),
        hashed_person: table.and_then(|t| t.person.clone()),
        tallies: vec![Tally::default(); plan.outputs.len()],
        scrubbed: vec![ScrubCounts::default(); plan.outputs.len()],
        expired: vec![0; plan.outputs.len()],
        excluded: ExclusionCounts::default(),
        listed: vec![0; lists.len()],
        rows_read: 0,
        rows_written: 0,
        rows_dropped: 0,
    };
    let transform_step = Arc::clone(&transform);
    let mut state = stream(
        frame,
        state,
        move |state, batch| state.step(&transform_step, &batch),
        |e| input.error(&e),
    )?;
    // A file changed during the run: what was read is not what is there (and what the
    // manifest would hash). Refused before the output replaces anything.
    let stamps: Vec<(PathBuf, crate::audit::Stamp)> = input
        .files
        .iter()
        .cloned()
        .zip(input.stamps.iter().copied())
        .chain(
            lists
                .iter()
                .filter_map(|l| l.stamp.map(|stamp| (l.path.clone(), stamp))),
        )
        .collect();
    if let Some(changed) = super::changed(&stamps) {
        return Err(changed);
    }
    let written = state.output;
    let mut table_report = None;
    let (output, microdata) = match state.counter.take() {
        None if table.is_some() => {
            let first_pass = written.finish()?;
            let spec = table.ok_or_else(|| EngineError::Internal("no table".into()))?;
            let (output, report) = super::table::write(
                &plan.pipeline.path,
                spec,
                first_pass.path(),
                output_path,
                plan.pipeline.output.format,
            )?;
            state.rows_written = report.cells;
            table_report = Some(report);
            (output, None)
        }
        None => (written.commit()?, None),
        Some(counter) => {
            let first_pass = written.finish()?;
            let decision = counter.decide()?;
            let (output, rows) = protect(plan, &first_pass, &decision, transform.field_metadata())?;
            state.rows_written = rows;
            (
                output,
                Some(MicrodataReport {
                    levels: decision.levels,
                    areas_recoded: decision.areas_recoded,
                    area_records: decision.area_records,
                    risk: decision.risk,
                }),
            )
        }
    };
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
    let output_schema = written_schema(&output, plan.pipeline.output.format)?;
    Ok(RunSummary {
        input_files: input.files.clone(),
        source: input.source.clone(),
        stamps,
        input_rows: input.rows_per_file()?,
        rows_read: state.rows_read,
        rows_written: state.rows_written,
        rows_dropped: state.rows_dropped,
        rejections,
        excluded: state.excluded,
        lists: lists
            .into_iter()
            .zip(state.listed)
            .map(|(l, matched)| ListReport {
                path: l.path,
                reason: l.reason,
                column: l.column,
                entries: l.entries,
                invalid_lines: l.invalid_lines,
                matched,
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
        microdata,
        table: table_report,
        output,
        output_schema,
    })
}

/// The columns and types of a written output, read back from its metadata (CSV: its
/// header; every column is text).
fn written_schema(
    path: &std::path::Path,
    format: Format,
) -> Result<Vec<(String, String)>, EngineError> {
    let fail = |e: PolarsError| EngineError::Output {
        path: path.to_owned(),
        problem: super::safe_summary(&e),
    };
    let text = path
        .to_str()
        .ok_or_else(|| EngineError::Internal("output path is not UTF-8".into()))?;
    let text = PlRefPath::new(text);
    let mut frame = match format {
        Format::Parquet => LazyFrame::scan_parquet(text, ScanArgsParquet::default()),
        Format::Ipc => LazyFrame::scan_ipc(text, Default::default(), Default::default()),
        Format::Csv => LazyCsvReader::new(text)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
    }
    .map_err(fail)?;
    let schema = frame.collect_schema().map_err(fail)?;
    Ok(schema
        .iter()
        .map(|(name, dtype)| (name.to_string(), dtype.to_string()))
        .collect())
}

/// The second pass of a microdata output: the first pass's records read back in
/// batches, recoded and filtered by `decision`, written to the pipeline's output. The
/// output and the number of records written.
fn protect(
    plan: &Plan,
    first_pass: &tempfile::NamedTempFile,
    decision: &Decision,
    metadata: &[(String, polars_arrow::datatypes::Metadata)],
) -> Result<(PathBuf, u64), EngineError> {
    let output_path = &plan.pipeline.output.path;
    let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
    let map = Map::open(first_pass.path())
        .map_err(|e| EngineError::Internal(format!("cannot map the first pass: {}", e.kind())))?;
    let mut frame = super::input::scan_parquet(&map).map_err(internal)?;
    let schema = frame.collect_schema().map_err(internal)?;
    let recoder = Arc::clone(&decision.recoder);
    let recode = move |frame: &DataFrame| -> Result<DataFrame, EngineError> {
        let batch = recoder.apply(&super::bridge::frame_to_batch(frame)?)?;
        super::bridge::batch_to_frame(&batch)
    };
    let probe = recode(&DataFrame::empty_with_schema(&schema))?;
    let output = OutputFile::create(
        output_path,
        plan.pipeline.output.format,
        probe.schema(),
        metadata,
    )?;
    let (output, rows) = stream(
        frame,
        (output, 0u64),
        move |(output, rows), batch| {
            map.release();
            let frame = recode(&batch)?;
            *rows += frame.height() as u64;
            output.write(frame)
        },
        internal,
    )?;
    Ok((output.commit()?, rows))
}

/// Whether two paths name one existing file.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
