//! Table outputs: the transformed records (written to a temporary Parquet file by the
//! first pass) aggregated with polars' streaming group-by, once per combination of
//! dimensions when totals are published; the cells then protected by
//! [`apply::table`](crate::apply::table) and written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::EngineError;
use super::bridge::{batch_to_frame, frame_to_batch};
use super::output::OutputFile;
use crate::apply::{self, ApplyError};
use crate::kernels::table;
use crate::spec::{Format, Table};

pub use crate::apply::table::TableReport;

/// Aggregate the records in `records` (a Parquet file) by `spec` and write the protected
/// table to `target`. The output and what was done.
pub fn write(
    pipeline: &Path,
    spec: &Table,
    records: &Path,
    target: &Path,
    format: Format,
) -> Result<(PathBuf, TableReport), EngineError> {
    let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
    let path = records
        .to_str()
        .ok_or_else(|| EngineError::Internal("temporary path is not UTF-8".into()))?;
    let scan = || LazyFrame::scan_parquet(PlRefPath::new(path), ScanArgsParquet::default());
    let dims = spec.dimensions.len();
    // Every subset of the dimensions when totals are published (a bit set: bit d set =
    // dimension d grouped on), else only all of them.
    let subsets: Vec<u32> = if spec.totals {
        (0..1u32 << dims).rev().collect()
    } else {
        vec![(1u32 << dims) - 1]
    };
    let mut cells = Vec::new();
    for subset in subsets {
        let grouped: Vec<usize> = (0..dims).filter(|d| subset & (1 << d) != 0).collect();
        let mut aggregates = vec![len().cast(DataType::UInt64).alias(apply::table::RECORDS)];
        if let Some(person) = &spec.person {
            aggregates.push(
                col(person.as_str())
                    .drop_nulls()
                    .n_unique()
                    .cast(DataType::UInt64)
                    .alias(apply::table::PERSONS),
            );
        }
        for (i, column) in spec.sums.iter().enumerate() {
            let values = amount(column);
            let (sum_name, n_name) = apply::table::sum_columns(i);
            aggregates.push(values.clone().sum().alias(sum_name));
            // Contributors to the sum: persons (or records) with a value.
            let contributors = match &spec.person {
                Some(person) => col(person.as_str())
                    .filter(values.is_not_null())
                    .drop_nulls()
                    .n_unique(),
                None => values.count(),
            };
            aggregates.push(contributors.cast(DataType::UInt64).alias(n_name));
        }
        let keys: Vec<Expr> = grouped
            .iter()
            .map(|&d| {
                let name = spec.dimensions[d].as_str();
                col(name).cast(DataType::String).alias(name)
            })
            .collect();
        let frame = scan().map_err(internal)?;
        let frame = if keys.is_empty() {
            frame.select(aggregates)
        } else {
            frame.group_by(keys.clone()).agg(aggregates)
        };
        // One in-memory sink: a single frame.
        let df = frame
            .collect_with_engine(Engine::Streaming)
            .map_err(internal)?
            .unwrap_single();
        let dominated: HashSet<Vec<Option<String>>> = match spec.p_percent {
            Some(p) => dominance(spec, &keys, p, &scan)?.into_iter().collect(),
            None => HashSet::new(),
        };
        cells.extend(
            apply::table::cells(spec, &grouped, &frame_to_batch(&df)?, &dominated)
                .map_err(EngineError::from)?,
        );
    }
    let (published, mut report) = apply::table::protect(spec, cells).map_err(|e| match e {
        ApplyError::Table(problem) => EngineError::Pipeline {
            pipeline: pipeline.to_owned(),
            problem,
        },
        other => other.into(),
    })?;
    report.invalid = invalid_amounts(spec, &scan)?;
    let frame = batch_to_frame(&published)?;
    let mut output = OutputFile::create(target, format, &frame.schema().clone(), &[])?;
    output.write(frame)?;
    Ok((output.commit()?, report))
}

/// A summed column's values as numbers: text is parsed, and what is no finite number
/// (text that is none, NaN, ±inf) is null, so that it is in no sum, no count of
/// contributors and no p%-rule decision.
fn amount(column: &str) -> Expr {
    let value = col(column).cast(DataType::Float64);
    when(value.clone().is_finite())
        .then(value)
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Per summed column, the values present but no finite number.
fn invalid_amounts(
    spec: &Table,
    scan: &dyn Fn() -> PolarsResult<LazyFrame>,
) -> Result<Vec<(String, u64)>, EngineError> {
    let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
    if spec.sums.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<Expr> = spec
        .sums
        .iter()
        .enumerate()
        .map(|(i, column)| {
            col(column.as_str())
                .is_not_null()
                .and(amount(column).is_null())
                .sum()
                .cast(DataType::UInt64)
                .alias(format!("__invalid_{i}"))
        })
        .collect();
    let df = scan()
        .map_err(internal)?
        .select(counts)
        .collect()
        .map_err(internal)?;
    spec.sums
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let n = df
                .column(&format!("__invalid_{i}"))
                .and_then(|c| c.u64().map(|a| a.get(0).unwrap_or(0)))
                .map_err(internal)?;
            Ok((column.clone(), n))
        })
        .collect()
}

/// The keys (the grouped dimensions' values) of the cells in which a sum fails the
/// p%-rule: contributions are summed per person (or taken per record), and a cell's two
/// largest compared with the rest.
fn dominance(
    spec: &Table,
    keys: &[Expr],
    p: f64,
    scan: &dyn Fn() -> PolarsResult<LazyFrame>,
) -> Result<Vec<Vec<Option<String>>>, EngineError> {
    let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
    let key_names: Vec<String> = (0..keys.len()).map(|i| format!("__k{i}")).collect();
    let mut found = std::collections::BTreeSet::new();
    for column in &spec.sums {
        let frame = scan()
            .map_err(internal)?
            .with_columns(
                keys.iter()
                    .zip(&key_names)
                    .map(|(k, n)| k.clone().alias(n.as_str()))
                    .collect::<Vec<_>>(),
            )
            .with_column(amount(column).alias("__v"));
        let contributions = match &spec.person {
            Some(person) => {
                let mut by: Vec<Expr> = key_names.iter().map(|n| col(n.as_str())).collect();
                by.push(col(person.as_str()));
                frame.group_by(by).agg([col("__v").sum().alias("__v")])
            }
            None => frame,
        };
        let descending = SortOptions::default().with_order_descending(true);
        let aggregates = [
            col("__v").sum().alias("__sum"),
            col("__v").max().alias("__x1"),
            // Records without a value contribute nothing: a null sorted first would stand
            // for the second-largest contribution.
            col("__v")
                .drop_nulls()
                .sort(descending)
                .slice(lit(1), lit(1))
                .first()
                .alias("__x2"),
        ];
        let cells = if key_names.is_empty() {
            contributions.select(aggregates)
        } else {
            contributions
                .group_by(
                    key_names
                        .iter()
                        .map(|n| col(n.as_str()))
                        .collect::<Vec<_>>(),
                )
                .agg(aggregates)
        };
        let df = cells
            .collect_with_engine(Engine::Streaming)
            .map_err(internal)?
            .unwrap_single();
        let float = |name: &str| {
            df.column(name)
                .and_then(|c| c.f64().cloned())
                .map_err(internal)
        };
        let (sum, x1, x2) = (float("__sum")?, float("__x1")?, float("__x2")?);
        let key_columns: Vec<StringChunked> = key_names
            .iter()
            .map(|n| {
                df.column(n)
                    .and_then(|c| c.str().cloned())
                    .map_err(internal)
            })
            .collect::<Result<_, _>>()?;
        for row in 0..df.height() {
            let (Some(s), Some(a)) = (sum.get(row), x1.get(row)) else {
                continue;
            };
            if table::dominated(s, a, x2.get(row).unwrap_or(0.0), p) {
                found.insert(
                    key_columns
                        .iter()
                        .map(|c| c.get(row).map(str::to_owned))
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    Ok(found.into_iter().collect())
}
