//! `doel scan`: what an export nobody has described holds, column by column — type, nulls,
//! distinct values and what the values look like — in one streaming pass, as counts only.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use arrow::array::ArrayRef;
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use super::bridge::to_arrow_rs;
use super::stream::stream;
use super::{EngineError, Input};
use crate::kernels::arrays::Strings;
use crate::kernels::detect::{Detector, Kind, Kinds};
use crate::plan::ColumnType;

/// Distinct values are counted exactly up to this many per column. The count holds a
/// 64-bit hash per value (never the value), so a column costs at most a few megabytes.
pub const DISTINCT_LIMIT: u64 = 100_000;

/// How many distinct values a column holds (nulls not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinct {
    Exact(u64),
    /// More than [`DISTINCT_LIMIT`].
    MoreThanLimit,
    /// Not counted: a list, struct or binary column.
    NotCounted,
}

/// One column as scanned.
#[derive(Debug, Clone)]
pub struct ColumnScan {
    pub name: String,
    pub column_type: ColumnType,
    /// Null values, and in text columns values empty or only white space.
    pub nulls: u64,
    pub distinct: Distinct,
    /// Per [`Kind`], in [`Kind::ALL`] order: how many non-null values look like it.
    pub looks_like: [u64; Kind::ALL.len()],
}

impl ColumnScan {
    pub fn looks_like(&self, kind: Kind) -> u64 {
        self.looks_like[kind as usize]
    }
}

/// What a scan found.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub input_files: Vec<PathBuf>,
    pub rows: u64,
    /// In input order.
    pub columns: Vec<ColumnScan>,
}

/// One column's counts while the batches go by.
struct Counter {
    scan: ColumnScan,
    /// The kinds worth looking for in this column's type.
    among: Kinds,
    /// Hashes of the distinct values; `None` once past the limit, or when not counted.
    hashes: Option<HashSet<u64>>,
}

impl Counter {
    fn new(name: String, column_type: ColumnType) -> Self {
        // An integer BSN has lost its leading zero, which `canonical::bsn` puts back; any
        // date may be a date of birth. Other types hold none of the kinds.
        let among = match column_type {
            ColumnType::Text => Kinds::ALL,
            ColumnType::Integer => Kinds::only(Kind::Bsn),
            ColumnType::Date => Kinds::only(Kind::BirthDate),
            _ => Kinds::NONE,
        };
        let counted = !matches!(column_type, ColumnType::Nested(_));
        Self {
            scan: ColumnScan {
                name,
                column_type,
                nulls: 0,
                distinct: if counted {
                    Distinct::Exact(0)
                } else {
                    Distinct::NotCounted
                },
                looks_like: [0; Kind::ALL.len()],
            },
            among,
            hashes: counted.then(HashSet::new),
        }
    }

    /// The column as the scan reads it: every single value as its text (an integer as
    /// its digits, a date as `YYYY-MM-DD`), a nested column as it is (only its nulls count).
    fn expr(&self) -> Expr {
        let column = col(self.scan.name.as_str());
        match self.scan.column_type {
            ColumnType::Text | ColumnType::Nested(_) => column,
            _ => column.cast(DataType::String),
        }
    }

    /// Count one batch's values of this column: `text` is the column as [`Self::expr`]
    /// made it, or `None` for a nested column.
    fn add(
        &mut self,
        series: &Series,
        text: Option<&ArrayRef>,
        detector: &Detector,
    ) -> Result<(), EngineError> {
        let Some(array) = text else {
            self.scan.nulls += series.null_count() as u64;
            return Ok(());
        };
        let values = Strings::try_new(array.as_ref())
            .map_err(|e| EngineError::Internal(format!("scanning `{}`: {e}", self.scan.name)))?;
        for row in 0..values.len() {
            let value = match values.get(row) {
                Some(v) if !v.trim().is_empty() => v,
                _ => {
                    self.scan.nulls += 1;
                    continue;
                }
            };
            if let Some(hashes) = &mut self.hashes {
                let mut hasher = DefaultHasher::new();
                value.hash(&mut hasher);
                hashes.insert(hasher.finish());
                if hashes.len() as u64 > DISTINCT_LIMIT {
                    self.hashes = None;
                    self.scan.distinct = Distinct::MoreThanLimit;
                }
            }
            if !self.among.is_empty() {
                for kind in detector.detect(value, self.among).iter() {
                    self.scan.looks_like[kind as usize] += 1;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> ColumnScan {
        if let Some(hashes) = &self.hashes {
            self.scan.distinct = Distinct::Exact(hashes.len() as u64);
        }
        self.scan
    }
}

struct State {
    counters: Vec<Counter>,
    rows: u64,
}

impl State {
    fn step(&mut self, batch: &DataFrame, detector: &Detector) -> Result<(), EngineError> {
        self.rows += batch.height() as u64;
        let columns = self
            .counters
            .iter()
            .map(|counter| {
                let series = batch
                    .column(&counter.scan.name)
                    .map_err(|_| {
                        EngineError::Internal(format!(
                            "column `{}` is not in the batch",
                            counter.scan.name
                        ))
                    })?
                    .as_materialized_series();
                let text = match counter.scan.column_type {
                    ColumnType::Nested(_) => None,
                    _ => Some(to_arrow_rs(series)?),
                };
                Ok((series, text))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        // One task per column: each keeps its own distinct set, so nothing is merged.
        self.counters
            .par_iter_mut()
            .zip(columns)
            .try_for_each(|(counter, (series, text))| counter.add(series, text.as_ref(), detector))
    }
}

/// Scan every row of `input` (or its first `limit` rows) in fixed-size batches. A date of
/// birth is a date from 1900-01-01 to `reference_date`.
pub fn scan(
    mut input: Input,
    limit: Option<u64>,
    reference_date: NaiveDate,
) -> Result<ScanReport, EngineError> {
    let counters: Vec<Counter> = input
        .schema()?
        .into_iter()
        .map(|(name, column_type)| Counter::new(name, column_type))
        .collect();
    let mut frame = input
        .frame
        .clone()
        .select(counters.iter().map(Counter::expr).collect::<Vec<_>>());
    if let Some(limit) = limit {
        frame = frame.limit(IdxSize::try_from(limit).unwrap_or(IdxSize::MAX));
    }
    let state = State { counters, rows: 0 };
    let detector = Detector::new(reference_date);
    let mut state = stream(
        frame,
        state,
        move |state, batch| state.step(&batch, &detector),
        |e| input.error(&e),
    )?;
    Ok(ScanReport {
        input_files: input.files.clone(),
        rows: state.rows,
        columns: std::mem::take(&mut state.counters)
            .into_iter()
            .map(Counter::finish)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    fn scan_frame(mut frame: DataFrame, limit: Option<u64>) -> ScanReport {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut frame)
            .unwrap();
        let input = super::super::open(&spec::Input::at(path)).unwrap();
        scan(input, limit, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()).unwrap()
    }

    #[test]
    fn integers_dates_and_lists() {
        let days = |d: &str| {
            Some(
                (NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() - NaiveDate::default())
                    .num_days() as i32,
            )
        };
        let frame = DataFrame::new(
            5,
            vec![
                // A BSN stored as a number has lost its leading zero.
                Column::new(
                    "bsn".into(),
                    [
                        Some(10000021i64),
                        Some(123456782),
                        Some(123456789),
                        None,
                        Some(1),
                    ],
                ),
                Column::new(
                    "geboren".into(),
                    [
                        days("1990-01-01"),
                        days("2030-01-01"),
                        None,
                        days("1850-06-01"),
                        None,
                    ],
                )
                .cast(&DataType::Date)
                .unwrap(),
                Column::new(
                    "tags".into(),
                    [
                        Some(Series::new("".into(), [1i32, 2])),
                        None,
                        Some(Series::new("".into(), [3i32])),
                        None,
                        None,
                    ],
                ),
            ],
        )
        .unwrap();
        let report = scan_frame(frame, Some(4));
        assert_eq!(report.rows, 4);
        let [bsn, born, tags] = report.columns.as_slice() else {
            panic!("three columns")
        };
        assert_eq!(bsn.column_type, ColumnType::Integer);
        assert_eq!((bsn.nulls, bsn.distinct), (1, Distinct::Exact(3)));
        assert_eq!(bsn.looks_like(Kind::Bsn), 2);
        assert_eq!(born.column_type, ColumnType::Date);
        assert_eq!((born.nulls, born.distinct), (1, Distinct::Exact(3)));
        assert_eq!(born.looks_like(Kind::BirthDate), 1);
        assert_eq!(born.looks_like(Kind::Bsn), 0);
        assert!(matches!(tags.column_type, ColumnType::Nested(_)));
        assert_eq!((tags.nulls, tags.distinct), (2, Distinct::NotCounted));
    }

    #[test]
    fn distinct_values_are_counted_up_to_the_limit() {
        let limit = DISTINCT_LIMIT as usize;
        let exact: Vec<String> = (0..limit + 1).map(|i| (i % limit).to_string()).collect();
        let over: Vec<String> = (0..limit + 1).map(|i| i.to_string()).collect();
        let frame = DataFrame::new(
            limit + 1,
            vec![
                Column::new("exact".into(), exact),
                Column::new("over".into(), over),
            ],
        )
        .unwrap();
        let report = scan_frame(frame, None);
        assert_eq!(report.columns[0].distinct, Distinct::Exact(DISTINCT_LIMIT));
        assert_eq!(report.columns[1].distinct, Distinct::MoreThanLimit);
    }
}
