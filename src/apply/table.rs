//! A table's aggregated cells protected and published: the cells built from one
//! aggregation per combination of grouped dimensions (whichever engine aggregated), then
//! primary and secondary suppression and rounding by
//! [`kernels::table`](crate::kernels::table), and the table as published.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, UInt64Type};
use arrow::record_batch::RecordBatch;

use super::ApplyError;
use crate::kernels::arrays::Strings;
use crate::kernels::table::{self, Cell, Coord};
use crate::spec::Table;

/// The aggregate columns [`cells`] reads beside the grouped dimensions.
pub const RECORDS: &str = "__records";
/// Distinct persons per cell (only with `[table] person`).
pub const PERSONS: &str = "__persons";

/// The sum of the `i`-th summed column, and its contributors (persons, or records, with
/// a value).
pub fn sum_columns(i: usize) -> (String, String) {
    (format!("__sum{i}"), format!("__n{i}"))
}

/// What the table step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    pub cells: u64,
    /// Cells that are totals over at least one dimension.
    pub margins: u64,
    pub primary: u64,
    pub secondary: u64,
    /// Per summed column, the values that were no finite number (text that is no
    /// number, NaN, ±inf): left out of every sum and of the p%-rule. Filled by the
    /// engine that aggregated.
    pub invalid: Vec<(String, u64)>,
}

/// The cells of one aggregation: `batch` holds one row per cell, a text column per
/// dimension in `grouped` (indices into the spec's dimensions; the others are totals),
/// [`RECORDS`], [`PERSONS`] with a person column, and [`sum_columns`] per summed column.
/// `dominated` holds the grouped values of the cells whose sum fails the p%-rule.
pub fn cells(
    spec: &Table,
    grouped: &[usize],
    batch: &RecordBatch,
    dominated: &HashSet<Vec<Option<String>>>,
) -> Result<Vec<Cell>, ApplyError> {
    let column = |name: &str| {
        batch.column_by_name(name).ok_or_else(|| {
            ApplyError::Internal(format!("the aggregated cells have no column `{name}`"))
        })
    };
    let count = |name: &str| -> Result<UInt64Array, ApplyError> {
        let array = cast(column(name)?.as_ref(), &DataType::UInt64)
            .map_err(|e| ApplyError::Internal(format!("aggregate `{name}`: {e}")))?;
        Ok(array.as_primitive::<UInt64Type>().clone())
    };
    // A sum that is no finite number (an engine that let NaN or ±inf through) is
    // never published: taken as no sum.
    let float = |name: &str| -> Result<Float64Array, ApplyError> {
        let array = cast(column(name)?.as_ref(), &DataType::Float64)
            .map_err(|e| ApplyError::Internal(format!("aggregate `{name}`: {e}")))?;
        Ok(array
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.filter(|v| v.is_finite()))
            .collect())
    };
    let get = |a: &UInt64Array, row: usize| a.is_valid(row).then(|| a.value(row));
    let keys: Vec<ArrayRef> = grouped
        .iter()
        .map(|&d| {
            cast(column(&spec.dimensions[d])?.as_ref(), &DataType::Utf8).map_err(|e| {
                ApplyError::Internal(format!("dimension `{}`: {e}", spec.dimensions[d]))
            })
        })
        .collect::<Result<_, _>>()?;
    let keys: Vec<Strings> = keys
        .iter()
        .map(|a| Strings::try_new(a.as_ref()).map_err(|e| ApplyError::Internal(e.to_string())))
        .collect::<Result<_, _>>()?;
    let records = count(RECORDS)?;
    let persons = spec.person.as_ref().map(|_| count(PERSONS)).transpose()?;
    let sums: Vec<(Float64Array, UInt64Array)> = (0..spec.sums.len())
        .map(|i| {
            let (sum, n) = sum_columns(i);
            Ok((float(&sum)?, count(&n)?))
        })
        .collect::<Result<_, ApplyError>>()?;
    let dims = spec.dimensions.len();
    Ok((0..batch.num_rows())
        .map(|row| {
            let values: Vec<Option<String>> =
                keys.iter().map(|k| k.get(row).map(str::to_owned)).collect();
            let mut coords = vec![Coord::Total; dims];
            for (&d, value) in grouped.iter().zip(&values) {
                coords[d] = Coord::Value(value.clone());
            }
            let records = get(&records, row).unwrap_or(0);
            Cell {
                coords,
                persons: persons
                    .as_ref()
                    .map_or(Some(records), |p| get(p, row))
                    .unwrap_or(0),
                records,
                sums: sums
                    .iter()
                    .map(|(sum, n)| {
                        // A sum that is no finite number (it overflowed) is published
                        // as no sum, never as 0.
                        (get(n, row).unwrap_or(0) > 0 && sum.is_valid(row)).then(|| sum.value(row))
                    })
                    .collect(),
                contributors: sums.iter().map(|(_, n)| get(n, row).unwrap_or(0)).collect(),
                dominated: dominated.contains(&values),
                suppressed: None,
            }
        })
        .collect())
}

/// Protect `cells` (every aggregation's) and lay the table out as published.
pub fn protect(
    spec: &Table,
    mut cells: Vec<Cell>,
) -> Result<(RecordBatch, TableReport), ApplyError> {
    let dims = spec.dimensions.len();
    // A published total must not read as a value of its dimension.
    if spec.totals
        && let Some(d) = (0..dims).find(|&d| {
            cells
                .iter()
                .any(|c| c.coords[d] == Coord::Value(Some(spec.total_label.clone())))
        })
    {
        return Err(ApplyError::Table(format!(
            "dimension `{}` has a value equal to the total label; set [table] total_label to another word",
            spec.dimensions[d]
        )));
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
        invalid: Vec::new(),
    };
    Ok((published(spec, &cells)?, report))
}

/// The table as published: dimension values (a total as `total_label`), rounded counts,
/// sums and means, all null in a suppressed cell, and each cell's status.
fn published(spec: &Table, cells: &[Cell]) -> Result<RecordBatch, ApplyError> {
    let base = u64::from(spec.round_to);
    let mut columns: Vec<(String, ArrayRef)> = Vec::new();
    for (d, name) in spec.dimensions.iter().enumerate() {
        let values: StringArray = cells
            .iter()
            .map(|c| match &c.coords[d] {
                Coord::Total => Some(spec.total_label.as_str()),
                Coord::Value(v) => v.as_deref(),
            })
            .collect();
        columns.push((name.clone(), Arc::new(values)));
    }
    let shown = |c: &Cell| c.suppressed.is_none();
    if spec.person.is_some() {
        let persons: UInt64Array = cells
            .iter()
            .map(|c| shown(c).then(|| table::round_to(c.persons, base)))
            .collect();
        columns.push(("persons".into(), Arc::new(persons)));
    }
    let records: UInt64Array = cells
        .iter()
        .map(|c| shown(c).then(|| table::round_to(c.records, base)))
        .collect();
    columns.push(("records".into(), Arc::new(records)));
    for (i, name) in spec.sums.iter().enumerate() {
        let sums: Float64Array = cells
            .iter()
            .map(|c| c.sums[i].filter(|_| shown(c)).map(cents))
            .collect();
        // Over the published (rounded) record count: an exact count could otherwise be
        // worked out as sum ÷ mean.
        let means: Float64Array = cells
            .iter()
            .map(|c| {
                let published = table::round_to(c.records, base);
                c.sums[i]
                    .filter(|_| shown(c) && published > 0)
                    .map(|s| cents(s / published as f64))
            })
            .collect();
        columns.push((format!("sum_{name}"), Arc::new(sums)));
        columns.push((format!("mean_{name}"), Arc::new(means)));
    }
    let status: StringArray = cells
        .iter()
        .map(|c| Some(c.suppressed.map_or("published", |s| s.as_str())))
        .collect();
    columns.push(("status".into(), Arc::new(status)));
    RecordBatch::try_from_iter(columns)
        .map_err(|e| ApplyError::Internal(format!("laying out the table: {e}")))
}

/// `value` to two decimals: the order in which a parallel sum adds up its parts shows in
/// the last bits, which must not make a re-run's output differ.
fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum that overflowed to infinity (every value finite) is no sum, never 0.
    #[test]
    fn a_sum_that_is_no_finite_number_is_no_sum() {
        let spec = Table {
            dimensions: vec!["gemeente".into()],
            person: None,
            sums: vec!["uren".into()],
            min_count: 1,
            round_to: 1,
            totals: false,
            total_label: "Totaal".into(),
            p_percent: None,
        };
        let (sum, n) = sum_columns(0);
        let batch = RecordBatch::try_from_iter([
            (
                "gemeente",
                Arc::new(StringArray::from(vec!["GM1", "GM2", "GM3"])) as ArrayRef,
            ),
            (
                RECORDS,
                Arc::new(UInt64Array::from(vec![20, 20, 20])) as ArrayRef,
            ),
            (
                sum.as_str(),
                Arc::new(Float64Array::from(vec![f64::INFINITY, f64::NAN, 200.0])) as ArrayRef,
            ),
            (
                n.as_str(),
                Arc::new(UInt64Array::from(vec![20, 20, 20])) as ArrayRef,
            ),
        ])
        .unwrap();
        let cells = cells(&spec, &[0], &batch, &HashSet::new()).unwrap();
        let sums: Vec<Option<f64>> = cells.iter().map(|c| c.sums[0]).collect();
        assert_eq!(sums, [None, None, Some(200.0)]);
    }

    fn spec(dimensions: &[&str], min_count: u32, round_to: u32, totals: bool) -> Table {
        Table {
            dimensions: dimensions.iter().map(|d| (*d).to_owned()).collect(),
            person: None,
            sums: vec!["uren".into()],
            min_count,
            round_to,
            totals,
            total_label: "Totaal".into(),
            p_percent: None,
        }
    }

    /// One aggregation: per cell its dimension values (`grouped` of them), records and
    /// sum of `uren` (every record contributing).
    fn aggregation(spec: &Table, grouped: &[usize], rows: &[(&[&str], u64, f64)]) -> Vec<Cell> {
        let (sum, n) = sum_columns(0);
        let mut columns: Vec<(String, ArrayRef)> = grouped
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let values: StringArray = rows.iter().map(|r| Some(r.0[i])).collect();
                (spec.dimensions[d].clone(), Arc::new(values) as ArrayRef)
            })
            .collect();
        let records: UInt64Array = rows.iter().map(|r| Some(r.1)).collect();
        let sums: Float64Array = rows.iter().map(|r| Some(r.2)).collect();
        columns.push((RECORDS.into(), Arc::new(records.clone())));
        columns.push((sum, Arc::new(sums)));
        columns.push((n, Arc::new(records)));
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        cells(spec, grouped, &batch, &HashSet::new()).unwrap()
    }

    fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    fn counts(batch: &RecordBatch, name: &str) -> Vec<Option<u64>> {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<UInt64Type>()
            .iter()
            .collect()
    }

    fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .iter()
            .collect()
    }

    const PUBLISHED: &str = "published";
    const PRIMARY: &str = "suppressed: too few contributors";
    const SECONDARY: &str = "suppressed: would reveal another cell";

    fn statuses(batch: &RecordBatch) -> Vec<String> {
        strings(batch, "status")
            .into_iter()
            .map(Option::unwrap)
            .collect()
    }

    /// In every line of the published table (a total and the cells it adds up, along one
    /// dimension), the number of suppressed cells is 0 or at least 2: no suppressed
    /// count is the margin minus the published ones.
    fn no_line_reveals_one(spec: &Table, batch: &RecordBatch) {
        let dims: Vec<Vec<Option<String>>> =
            spec.dimensions.iter().map(|d| strings(batch, d)).collect();
        let records = counts(batch, "records");
        for d in 0..dims.len() {
            let mut lines: std::collections::HashMap<Vec<Option<String>>, (usize, u64)> =
                std::collections::HashMap::new();
            for row in 0..batch.num_rows() {
                let others: Vec<Option<String>> = (0..dims.len())
                    .filter(|&e| e != d)
                    .map(|e| dims[e][row].clone())
                    .collect();
                let line = lines.entry(others).or_default();
                line.0 += 1;
                line.1 += u64::from(records[row].is_none());
            }
            for (others, (members, suppressed)) in lines {
                assert!(
                    suppressed != 1,
                    "dimension {d}, line {others:?} ({members} cells) shows all but one: {records:?}"
                );
            }
        }
    }

    #[test]
    fn a_cell_below_the_threshold_and_one_that_would_reveal_it_are_suppressed() {
        let spec = spec(&["gemeente"], 10, 1, true);
        let mut all = aggregation(
            &spec,
            &[0],
            &[
                (&["GM1"], 20, 200.0),
                (&["GM2"], 3, 30.0),
                (&["GM3"], 30, 300.0),
            ],
        );
        all.extend(aggregation(&spec, &[], &[(&[], 53, 530.0)]));
        let (batch, report) = protect(&spec, all).unwrap();
        assert_eq!(
            report,
            TableReport {
                cells: 4,
                margins: 1,
                primary: 1,
                secondary: 1,
                invalid: Vec::new(),
            }
        );
        assert_eq!(
            strings(&batch, "gemeente"),
            [Some("GM1"), Some("GM2"), Some("GM3"), Some("Totaal")].map(|v| v.map(str::to_owned))
        );
        // GM2 alone would be 53 − 20 − 30: the smallest other cell of its line goes too.
        assert_eq!(statuses(&batch), [SECONDARY, PRIMARY, PUBLISHED, PUBLISHED]);
        assert_eq!(counts(&batch, "records"), [None, None, Some(30), Some(53)]);
        assert_eq!(
            floats(&batch, "sum_uren"),
            [None, None, Some(300.0), Some(530.0)]
        );
        assert_eq!(
            floats(&batch, "mean_uren"),
            [None, None, Some(10.0), Some(10.0)]
        );
        assert!(batch.column_by_name("persons").is_none());
        no_line_reveals_one(&spec, &batch);
    }

    #[test]
    fn secondary_suppression_covers_both_dimensions_of_a_table() {
        let spec = spec(&["gemeente", "leeftijd"], 10, 1, true);
        let mut all = aggregation(
            &spec,
            &[0, 1],
            &[
                (&["A", "x"], 20, 1.0),
                (&["A", "y"], 3, 1.0),
                (&["B", "x"], 25, 1.0),
                (&["B", "y"], 30, 1.0),
            ],
        );
        all.extend(aggregation(
            &spec,
            &[0],
            &[(&["A"], 23, 2.0), (&["B"], 55, 2.0)],
        ));
        all.extend(aggregation(
            &spec,
            &[1],
            &[(&["x"], 45, 2.0), (&["y"], 33, 2.0)],
        ));
        all.extend(aggregation(&spec, &[], &[(&[], 78, 4.0)]));
        let (batch, report) = protect(&spec, all).unwrap();
        assert_eq!((report.cells, report.margins, report.primary), (9, 5, 1));
        // Order: (A,x) (A,y) (A,T) (B,x) (B,y) (B,T) (T,x) (T,y) (T,T). The smallest
        // published member of each revealing line goes: (A,x), then (B,y), then (B,x).
        assert_eq!(report.secondary, 3);
        assert_eq!(
            statuses(&batch),
            [
                SECONDARY, PRIMARY, PUBLISHED, SECONDARY, SECONDARY, PUBLISHED, PUBLISHED,
                PUBLISHED, PUBLISHED
            ]
        );
        no_line_reveals_one(&spec, &batch);
    }

    #[test]
    fn without_totals_there_is_no_secondary_suppression() {
        let spec = spec(&["gemeente"], 10, 1, false);
        let all = aggregation(&spec, &[0], &[(&["GM1"], 20, 1.0), (&["GM2"], 3, 1.0)]);
        let (batch, report) = protect(&spec, all).unwrap();
        assert_eq!(
            (report.primary, report.secondary, report.margins),
            (1, 0, 0)
        );
        assert_eq!(statuses(&batch), [PUBLISHED, PRIMARY]);
        assert_eq!(counts(&batch, "records"), [Some(20), None]);
    }

    #[test]
    fn counts_are_rounded_and_means_use_the_rounded_count() {
        let spec = spec(&["gemeente"], 1, 5, false);
        let all = aggregation(
            &spec,
            &[0],
            &[
                (&["GM1"], 12, 100.004),
                (&["GM2"], 13, 13.0),
                (&["GM3"], 2, 5.0),
                (&["GM4"], 10, 25.0),
            ],
        );
        let (batch, _) = protect(&spec, all).unwrap();
        assert_eq!(
            counts(&batch, "records"),
            [Some(10), Some(15), Some(0), Some(10)]
        );
        // Sums to cents; a mean over the rounded count, and none over a count rounded to 0.
        assert_eq!(
            floats(&batch, "sum_uren"),
            [Some(100.0), Some(13.0), Some(5.0), Some(25.0)]
        );
        assert_eq!(
            floats(&batch, "mean_uren"),
            [Some(10.0), Some(0.87), None, Some(2.5)]
        );
    }

    #[test]
    fn a_sum_that_is_no_number_is_left_out_and_the_count_still_published() {
        let spec = spec(&["gemeente"], 10, 1, false);
        let all = aggregation(
            &spec,
            &[0],
            &[
                (&["GM1"], 20, f64::NAN),
                (&["GM2"], 20, f64::NEG_INFINITY),
                (&["GM3"], 20, 40.0),
            ],
        );
        let (batch, report) = protect(&spec, all).unwrap();
        assert_eq!(report.primary, 0);
        assert_eq!(statuses(&batch), [PUBLISHED, PUBLISHED, PUBLISHED]);
        assert_eq!(counts(&batch, "records"), [Some(20), Some(20), Some(20)]);
        assert_eq!(floats(&batch, "sum_uren"), [None, None, Some(40.0)]);
        assert_eq!(floats(&batch, "mean_uren"), [None, None, Some(2.0)]);
    }

    #[test]
    fn a_sum_with_too_few_contributors_suppresses_its_cell() {
        let spec = spec(&["gemeente"], 10, 1, false);
        let (sum, n) = sum_columns(0);
        let batch = RecordBatch::try_from_iter([
            (
                "gemeente",
                Arc::new(StringArray::from(vec!["GM1", "GM2", "GM3"])) as ArrayRef,
            ),
            (
                RECORDS,
                Arc::new(UInt64Array::from(vec![20, 20, 20])) as ArrayRef,
            ),
            (
                sum.as_str(),
                Arc::new(Float64Array::from(vec![Some(9.0), None, Some(50.0)])) as ArrayRef,
            ),
            (
                n.as_str(),
                Arc::new(UInt64Array::from(vec![2, 0, 20])) as ArrayRef,
            ),
        ])
        .unwrap();
        let all = cells(&spec, &[0], &batch, &HashSet::new()).unwrap();
        assert_eq!(all[1].sums, [None]);
        let (batch, report) = protect(&spec, all).unwrap();
        // Two contributors to GM1's sum: suppressed; none to GM2's: no sum, published.
        assert_eq!(report.primary, 1);
        assert_eq!(statuses(&batch), [PRIMARY, PUBLISHED, PUBLISHED]);
        assert_eq!(floats(&batch, "sum_uren"), [None, None, Some(50.0)]);
    }

    #[test]
    fn persons_not_records_meet_the_threshold() {
        let mut spec = spec(&["gemeente"], 10, 1, false);
        spec.person = Some("kind_id".into());
        spec.sums.clear();
        let batch = RecordBatch::try_from_iter([
            (
                "gemeente",
                Arc::new(StringArray::from(vec!["GM1", "GM2"])) as ArrayRef,
            ),
            (
                RECORDS,
                Arc::new(UInt64Array::from(vec![40, 40])) as ArrayRef,
            ),
            (
                PERSONS,
                Arc::new(UInt64Array::from(vec![4, 12])) as ArrayRef,
            ),
        ])
        .unwrap();
        let all = cells(&spec, &[0], &batch, &HashSet::new()).unwrap();
        let (batch, _) = protect(&spec, all).unwrap();
        assert_eq!(statuses(&batch), [PRIMARY, PUBLISHED]);
        assert_eq!(counts(&batch, "persons"), [None, Some(12)]);
        assert_eq!(counts(&batch, "records"), [None, Some(40)]);
    }

    #[test]
    fn a_dominated_sum_suppresses_its_cell() {
        let spec = spec(&["gemeente"], 10, 1, false);
        let (sum, n) = sum_columns(0);
        let batch = RecordBatch::try_from_iter([
            (
                "gemeente",
                Arc::new(StringArray::from(vec!["GM1", "GM2"])) as ArrayRef,
            ),
            (
                RECORDS,
                Arc::new(UInt64Array::from(vec![20, 20])) as ArrayRef,
            ),
            (
                sum.as_str(),
                Arc::new(Float64Array::from(vec![1000.0, 20.0])) as ArrayRef,
            ),
            (
                n.as_str(),
                Arc::new(UInt64Array::from(vec![20, 20])) as ArrayRef,
            ),
        ])
        .unwrap();
        let dominated = HashSet::from([vec![Some("GM1".to_owned())]]);
        let all = cells(&spec, &[0], &batch, &dominated).unwrap();
        let (batch, report) = protect(&spec, all).unwrap();
        assert_eq!(report.primary, 1);
        assert_eq!(
            statuses(&batch),
            [
                "suppressed: a sum dominated by one or two persons",
                PUBLISHED
            ]
        );
        assert_eq!(floats(&batch, "sum_uren"), [None, Some(20.0)]);
    }

    #[test]
    fn a_value_equal_to_the_total_label_is_refused_with_totals() {
        let spec = spec(&["gemeente"], 1, 1, true);
        let mut all = aggregation(&spec, &[0], &[(&["Totaal"], 20, 1.0), (&["GM2"], 20, 1.0)]);
        all.extend(aggregation(&spec, &[], &[(&[], 40, 2.0)]));
        let Err(ApplyError::Table(problem)) = protect(&spec, all) else {
            panic!("a value equal to the total label must be refused");
        };
        assert!(problem.contains("`gemeente`"), "{problem}");
        // Without totals no cell reads as one.
        let spec = Table {
            totals: false,
            ..spec
        };
        let all = aggregation(&spec, &[0], &[(&["Totaal"], 20, 1.0)]);
        assert!(protect(&spec, all).is_ok());
    }
}
