//! Table outputs: the transformed records (written to a temporary Parquet file by the
//! first pass) aggregated with polars' streaming group-by, once per combination of
//! dimensions when totals are published; the cells then protected by
//! [`kernels::table`](crate::kernels::table) and written.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::EngineError;
use super::output::OutputFile;
use crate::kernels::table::{self, Cell, Coord};
use crate::spec::{Format, Table};

/// What the table step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    pub cells: u64,
    /// Cells that are totals over at least one dimension.
    pub margins: u64,
    pub primary: u64,
    pub secondary: u64,
}

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
        let mut aggregates = vec![len().cast(DataType::UInt64).alias("__records")];
        if let Some(person) = &spec.person {
            aggregates.push(
                col(person.as_str())
                    .drop_nulls()
                    .n_unique()
                    .cast(DataType::UInt64)
                    .alias("__persons"),
            );
        }
        for (i, column) in spec.sums.iter().enumerate() {
            let values = col(column.as_str()).cast(DataType::Float64);
            aggregates.push(values.clone().sum().alias(format!("__sum{i}")));
            // Contributors to the sum: persons (or records) with a value.
            let contributors = match &spec.person {
                Some(person) => col(person.as_str())
                    .filter(values.is_not_null())
                    .drop_nulls()
                    .n_unique(),
                None => values.count(),
            };
            aggregates.push(contributors.cast(DataType::UInt64).alias(format!("__n{i}")));
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
        let text = |name: &str| -> Result<StringChunked, EngineError> {
            df.column(name)
                .and_then(|c| c.str().cloned())
                .map_err(internal)
        };
        let number = |name: &str| -> Result<UInt64Chunked, EngineError> {
            df.column(name)
                .and_then(|c| c.u64().cloned())
                .map_err(internal)
        };
        let key_columns: Vec<StringChunked> = grouped
            .iter()
            .map(|&d| text(&spec.dimensions[d]))
            .collect::<Result<_, _>>()?;
        let records = number("__records")?;
        let persons = spec
            .person
            .as_ref()
            .map(|_| number("__persons"))
            .transpose()?;
        let sums: Vec<(Float64Chunked, UInt64Chunked)> = (0..spec.sums.len())
            .map(|i| {
                let sum = df
                    .column(&format!("__sum{i}"))
                    .and_then(|c| c.f64().cloned())
                    .map_err(internal)?;
                Ok((sum, number(&format!("__n{i}"))?))
            })
            .collect::<Result<_, EngineError>>()?;
        let dominated = match spec.p_percent {
            Some(p) => dominance(spec, &keys, p, &scan)?,
            None => Vec::new(),
        };
        let dominated_keys: std::collections::HashSet<Vec<Option<String>>> =
            dominated.into_iter().collect();
        for row in 0..df.height() {
            let mut coords = vec![Coord::Total; dims];
            for (&d, column) in grouped.iter().zip(&key_columns) {
                coords[d] = Coord::Value(column.get(row).map(str::to_owned));
            }
            let records = records.get(row).unwrap_or(0);
            cells.push(Cell {
                coords,
                persons: persons
                    .as_ref()
                    .map_or(Some(records), |p| p.get(row))
                    .unwrap_or(0),
                records,
                sums: sums
                    .iter()
                    .map(|(sum, n)| {
                        (n.get(row).unwrap_or(0) > 0).then(|| sum.get(row).unwrap_or(0.0))
                    })
                    .collect(),
                contributors: sums.iter().map(|(_, n)| n.get(row).unwrap_or(0)).collect(),
                dominated: dominated_keys.contains(
                    &key_columns
                        .iter()
                        .map(|c| c.get(row).map(str::to_owned))
                        .collect::<Vec<_>>(),
                ),
                suppressed: None,
            });
        }
    }
    // A published total must not read as a value of its dimension.
    if spec.totals
        && let Some(d) = (0..dims).find(|&d| {
            cells
                .iter()
                .any(|c| c.coords[d] == Coord::Value(Some(spec.total_label.clone())))
        })
    {
        return Err(EngineError::Pipeline {
            pipeline: pipeline.to_owned(),
            problem: format!(
                "dimension `{}` has a value equal to the total label; set [table] total_label to another word",
                spec.dimensions[d]
            ),
        });
    }
    // A table of no records has one total cell of zero; no other cell exists.
    cells.sort_by(|a, b| a.coords.cmp(&b.coords));
    let primary = table::primary(&mut cells, u64::from(spec.min_count));
    let secondary = if spec.totals {
        table::secondary(&mut cells)
    } else {
        0
    };
    let report = TableReport {
        cells: cells.len() as u64,
        margins: cells
            .iter()
            .filter(|c| c.coords.contains(&Coord::Total))
            .count() as u64,
        primary,
        secondary,
    };
    let mut frame = published(spec, &cells).map_err(internal)?;
    let mut output = OutputFile::create(target, format, &frame.schema().clone(), &[])?;
    output.write(&mut frame)?;
    Ok((output.commit()?, report))
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
            .with_column(col(column.as_str()).cast(DataType::Float64).alias("__v"));
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
            col("__v")
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

/// The table as published: dimension values (a total as `total_label`), rounded counts,
/// sums and means, all null in a suppressed cell, and each cell's status.
fn published(spec: &Table, cells: &[Cell]) -> PolarsResult<DataFrame> {
    let base = u64::from(spec.round_to);
    let mut columns: Vec<Column> = Vec::new();
    for (d, name) in spec.dimensions.iter().enumerate() {
        let values: Vec<Option<&str>> = cells
            .iter()
            .map(|c| match &c.coords[d] {
                Coord::Total => Some(spec.total_label.as_str()),
                Coord::Value(v) => v.as_deref(),
            })
            .collect();
        columns.push(Column::new(name.into(), values));
    }
    let shown = |c: &Cell| c.suppressed.is_none();
    if spec.person.is_some() {
        let persons: Vec<Option<u64>> = cells
            .iter()
            .map(|c| shown(c).then(|| table::round_to(c.persons, base)))
            .collect();
        columns.push(Column::new("persons".into(), persons));
    }
    let records: Vec<Option<u64>> = cells
        .iter()
        .map(|c| shown(c).then(|| table::round_to(c.records, base)))
        .collect();
    columns.push(Column::new("records".into(), records));
    for (i, name) in spec.sums.iter().enumerate() {
        let sums: Vec<Option<f64>> = cells
            .iter()
            .map(|c| c.sums[i].filter(|_| shown(c)).map(cents))
            .collect();
        // Over the published (rounded) record count: an exact count could otherwise be
        // worked out as sum ÷ mean.
        let means: Vec<Option<f64>> = cells
            .iter()
            .map(|c| {
                let published = table::round_to(c.records, base);
                c.sums[i]
                    .filter(|_| shown(c) && published > 0)
                    .map(|s| cents(s / published as f64))
            })
            .collect();
        columns.push(Column::new(format!("sum_{name}").into(), sums));
        columns.push(Column::new(format!("mean_{name}").into(), means));
    }
    let status: Vec<&str> = cells
        .iter()
        .map(|c| c.suppressed.map_or("published", |s| s.as_str()))
        .collect();
    columns.push(Column::new("status".into(), status));
    DataFrame::new(cells.len(), columns)
}

/// `value` to two decimals: the order in which a parallel sum adds up its parts shows in
/// the last bits, which must not make a re-run's output differ.
fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
