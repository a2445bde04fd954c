//! doel's plan, kernels and table protection as a Python module over pyarrow record
//! batches (the Arrow C Data Interface: no copy), for Spark's `mapInArrow` and for any
//! other engine that hands out Arrow batches. Everything here calls the crate's `apply`
//! layer, the same code the single-machine engine runs on each batch.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_pyarrow::PyArrowType;
use chrono::NaiveDate;
use doel::apply::rows::{LISTED_COLUMN, ListMatch, RowPlan, canonical_bsns};
use doel::apply::{self, ApplyError};
use doel::kernels::keys::MasterKey;
use doel::kernels::table::Cell;
use doel::keyfile::KeyFileError;
use doel::plan;
use doel::spec::{Catalogue, Pipeline, Table};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _doel,
    DoelError,
    PyException,
    "A pipeline, key or batch doel cannot use; the message names the file or column and a hint, never a value."
);

/// The column [`Rows::bsn_key`] adds: the record's canonical BSN, for the list join.
const BSN_COLUMN: &str = "__doel_bsn";
/// The column [`Rows::classify`] adds: why the record is excluded, or null.
const EXCLUDED_COLUMN: &str = "__doel_excluded";

fn error(message: impl std::fmt::Display, hint: &str) -> PyErr {
    DoelError::new_err(format!("{message}\n  hint: {hint}"))
}

fn apply_error(e: ApplyError) -> PyErr {
    match e {
        // Spark's batches carry no row numbers of the input: name the column only.
        ApplyError::InvalidValue(apply::InvalidValue {
            column,
            sources,
            reason,
            ..
        }) => error(
            format!(
                "column `{column}` (from {sources}): a value has no canonical form ({}), and the pipeline says on_invalid = \"fail\"",
                reason.as_str()
            ),
            "fix the value in the export (`doel scan` finds the rows), or set on_invalid = \"drop_row\" or \"null\" for this column",
        ),
        ApplyError::Disclosure(violation) => {
            error(violation.to_string(), apply::microdata::Violation::HINT)
        }
        ApplyError::Table(problem) => error(problem, "change the pipeline's [table] section"),
        ApplyError::Internal(problem) => error(
            format!("internal error: {problem}"),
            "this is likely a bug in doel; please report it with the command you ran (not the data)",
        ),
    }
}

fn with_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> PyResult<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(name, DataType::Utf8, true));
    let mut columns = batch.columns().to_vec();
    columns.push(array);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| apply_error(ApplyError::Internal(e.to_string())))
}

/// A pipeline resolved against an input's Arrow schema, as `doel plan` resolves it:
/// refused here, on the driver, for the same reasons the CLI refuses it.
#[pyclass(frozen, module = "doel._doel")]
struct Plan {
    plan: plan::Plan,
}

#[pymethods]
impl Plan {
    /// `pipeline_text` and `catalogue_text` are the files' contents (read on the driver,
    /// so executors need no copy); `pipeline_path` is used in messages;
    /// `reference_date` is `YYYY-MM-DD` (ages and retention terms count from it).
    #[new]
    fn new(
        pipeline_path: &str,
        pipeline_text: &str,
        catalogue_text: &str,
        schema: PyArrowType<Schema>,
        reference_date: &str,
    ) -> PyResult<Self> {
        let pipeline = Pipeline::parse(Path::new(pipeline_path), pipeline_text)
            .map_err(|e| error(&e, e.hint()))?;
        let catalogue =
            Catalogue::parse(Path::new(&pipeline.declaration.catalogue), catalogue_text)
                .map_err(|e| error(&e, e.hint()))?;
        let reference_date =
            NaiveDate::parse_from_str(reference_date, "%Y-%m-%d").map_err(|_| {
                error(
                    "the reference date is not YYYY-MM-DD",
                    "pass e.g. 2026-11-23",
                )
            })?;
        let plan = plan::Plan::resolve(
            pipeline,
            catalogue,
            &apply::column_types(&schema.0),
            reference_date,
        )
        .map_err(|e| {
            error(
                format!("pipeline {pipeline_path} against the Spark input: {e}"),
                e.hint(),
            )
        })?;
        Ok(Self { plan })
    }

    /// The input columns the plan reads; select only these before anything else.
    #[getter]
    fn needed_inputs(&self) -> Vec<String> {
        self.plan
            .needed_inputs()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The input's BSN column that exclusion lists are matched against, when a list applies.
    #[getter]
    fn exclusion_key(&self) -> Option<String> {
        self.plan.exclusion_key.clone()
    }

    /// The exclusion lists that apply: `(path, reason)`, reason `restriction` or `objection`.
    #[getter]
    fn exclusion_lists(&self) -> Vec<(String, &'static str)> {
        self.plan
            .exclusion_lists
            .iter()
            .map(|l| (l.path.display().to_string(), l.reason.as_str()))
            .collect()
    }

    /// `records`, `microdata` (records with a disclosure check) or `table`.
    #[getter]
    fn output_kind(&self) -> &'static str {
        let output = &self.plan.pipeline.output;
        match (&output.table, &output.microdata) {
            (Some(_), _) => "table",
            (None, Some(_)) => "microdata",
            (None, None) => "records",
        }
    }

    /// The pipeline's `[table]` section, validated (defaults filled in), or None.
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(table) = &self.plan.pipeline.output.table else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("dimensions", &table.dimensions)?;
        dict.set_item("person", &table.person)?;
        dict.set_item("sums", &table.sums)?;
        dict.set_item("min_count", table.min_count)?;
        dict.set_item("round_to", table.round_to)?;
        dict.set_item("totals", table.totals)?;
        dict.set_item("total_label", &table.total_label)?;
        dict.set_item("p_percent", table.p_percent)?;
        Ok(Some(dict))
    }

    /// The row-local work, keyed: the key is read here, from the file `key_file` (hex, as
    /// `doel keygen` writes it) or the environment variable `key_env`, so that it never
    /// travels in a pickled closure. `lists_joined`: list matches arrive in the column
    /// `__doel_listed` (Spark's broadcast join) rather than being looked up here.
    #[pyo3(signature = (key_file=None, key_env=None, lists_joined=true))]
    fn rows(
        &self,
        key_file: Option<&str>,
        key_env: Option<&str>,
        lists_joined: bool,
    ) -> PyResult<Rows> {
        let key = load_key(key_file, key_env)?;
        let lists = if lists_joined {
            ListMatch::Column(LISTED_COLUMN.to_owned())
        } else if self.plan.exclusion_lists.is_empty() {
            ListMatch::Sets(Default::default())
        } else {
            return Err(error(
                "the pipeline's exclusion lists must be joined before the rows are applied",
                "call rows(..., lists_joined=True) and add the `__doel_listed` column by a join",
            ));
        };
        let rows = RowPlan::new(&self.plan, &key, lists).map_err(apply_error)?;
        Ok(Rows {
            rows,
            key_column: self.plan.exclusion_key.clone(),
        })
    }

    /// An accumulator of the table's aggregated cells.
    fn cells(&self) -> PyResult<Cells> {
        let spec = self.plan.pipeline.output.table.clone().ok_or_else(|| {
            error(
                "the pipeline writes no table",
                "set [output] kind = \"table\" and a [table] section",
            )
        })?;
        Ok(Cells {
            spec,
            cells: Mutex::new(Vec::new()),
        })
    }
}

/// The key from a file (doel's own reader: bounded, checked, the permission warning
/// once per process) or from an environment variable.
fn load_key(key_file: Option<&str>, key_env: Option<&str>) -> PyResult<MasterKey> {
    match (key_file, key_env) {
        (Some(path), None) => {
            let loaded = doel::keyfile::load(Some(Path::new(path)), false).map_err(|e| {
                let hint = match e {
                    KeyFileError::Read { .. } => {
                        "ship the key file to every executor (spark.files) and pass its local name"
                    }
                    _ => e.hint(),
                };
                error(e.to_string(), hint)
            })?;
            if let Some(warning) = &loaded.warning {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| eprintln!("doel: warning: {warning}"));
            }
            Ok(loaded.key)
        }
        (None, Some(name)) => {
            let mut contents = std::env::var(name)
                .map_err(|_| {
                    error(
                        format!("the environment variable {name} holds no key"),
                        "set it on the driver and every executor from the cluster's secret store; with SECRET in its name Spark's UI and logs redact it",
                    )
                })?
                .into_bytes();
            let key = MasterKey::from_hex_file_contents(&contents);
            contents.fill(0);
            key.map_err(|e| {
                error(
                    format!("the key in {name}: {e}"),
                    "a key is 64 hex digits, as `doel keygen` writes it",
                )
            })
        }
        _ => Err(error(
            "give exactly one of key_file and key_env",
            "the key is read on each executor, never passed as a value",
        )),
    }
}

/// A plan's row-local work with its key: exclusions, pseudonyms, tokens,
/// generalisations, scrubbing, invalid values.
#[pyclass(frozen, module = "doel._doel")]
struct Rows {
    rows: RowPlan,
    key_column: Option<String>,
}

#[pymethods]
impl Rows {
    /// `batch` with the column `__doel_bsn`: the canonical BSN of the exclusion key
    /// column (nine digits, or null), to join with the lists' canonical BSNs.
    fn bsn_key(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let key = self.key_column.as_deref().ok_or_else(|| {
            error(
                "no exclusion list applies to this pipeline",
                "join lists only when plan.exclusion_key is set",
            )
        })?;
        let column = batch.column_by_name(key).cloned().ok_or_else(|| {
            error(
                format!("the batch has no column `{key}`"),
                "select plan.needed_inputs",
            )
        })?;
        let bsns = py.detach(|| canonical_bsns(&column)).map_err(apply_error)?;
        with_column(&batch, BSN_COLUMN, Arc::new(bsns)).map(PyArrowType)
    }

    /// `batch` with the column `__doel_excluded`: `restriction`, `objection`,
    /// `retention`, `retention_undated` or `unreadable` where the record is excluded,
    /// null where it is kept.
    fn classify(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let classes = py
            .detach(|| self.rows.classify(&batch))
            .map_err(apply_error)?;
        let array: arrow::array::StringArray =
            classes.iter().map(|c| c.map(|c| c.as_str())).collect();
        with_column(&batch, EXCLUDED_COLUMN, Arc::new(array)).map(PyArrowType)
    }

    /// The released columns of `batch`'s records (excluded ones taken out first, rows
    /// dropped where a `drop_row` column has no canonical form).
    fn apply(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let out = py
            .detach(|| self.rows.apply(&batch, 1))
            .map_err(apply_error)?;
        Ok(PyArrowType(out.batch))
    }

    /// The schema [`apply`](Self::apply) returns for an input of `schema`.
    fn output_schema(&self, schema: PyArrowType<Schema>) -> PyResult<PyArrowType<Schema>> {
        let empty = RecordBatch::new_empty(Arc::new(schema.0));
        let out = self.rows.apply(&empty, 1).map_err(apply_error)?;
        Ok(PyArrowType(out.batch.schema().as_ref().clone()))
    }
}

/// A table's cells, added one aggregation at a time, then protected together.
#[pyclass(frozen, module = "doel._doel")]
struct Cells {
    spec: Table,
    cells: Mutex<Vec<Cell>>,
}

#[pymethods]
impl Cells {
    /// The cells of one aggregation: `grouped` are the indices of the dimensions grouped
    /// on (the others are totals); `batch` holds those dimensions (as text), `__records`,
    /// `__persons` (with a person column) and `__sum{i}`, `__n{i}` per summed column.
    fn add(&self, grouped: Vec<usize>, batch: PyArrowType<RecordBatch>) -> PyResult<()> {
        if grouped.iter().any(|&d| d >= self.spec.dimensions.len()) {
            return Err(error(
                "a grouped dimension index is out of range",
                "count from 0",
            ));
        }
        if self.spec.p_percent.is_some() {
            return Err(error(
                "[table] p_percent is not applied on Spark yet",
                "run this pipeline with `doel run`, or remove p_percent",
            ));
        }
        let cells = apply::table::cells(&self.spec, &grouped, &batch.0, &Default::default())
            .map_err(apply_error)?;
        self.cells
            .lock()
            .map_err(|_| error("a previous call failed midway", "start again"))?
            .extend(cells);
        Ok(())
    }

    /// The protected table as published, and what was done: `cells`, `margins`,
    /// `primary`, `secondary`.
    fn protect<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(PyArrowType<RecordBatch>, Bound<'py, PyDict>)> {
        let cells = std::mem::take(
            &mut *self
                .cells
                .lock()
                .map_err(|_| error("a previous call failed midway", "start again"))?,
        );
        let (batch, report) = apply::table::protect(&self.spec, cells).map_err(apply_error)?;
        let dict = PyDict::new(py);
        dict.set_item("cells", report.cells)?;
        dict.set_item("margins", report.margins)?;
        dict.set_item("primary", report.primary)?;
        dict.set_item("secondary", report.secondary)?;
        Ok((PyArrowType(batch), dict))
    }
}

/// A pipeline file's declarations the driver needs before it reads any data: the
/// catalogue's path, the input (`path`, `format` or None, `delimiter`, `encoding`) and
/// the output (`path`, `format`). The file is validated as `doel check` validates it.
#[pyfunction]
fn pipeline_info<'py>(py: Python<'py>, path: &str, text: &str) -> PyResult<Bound<'py, PyDict>> {
    let pipeline = Pipeline::parse(Path::new(path), text).map_err(|e| error(&e, e.hint()))?;
    if pipeline.input.postgres.is_some() {
        return Err(error(
            format!("pipeline {path}: [input] postgres is read by `doel run`, not on Spark"),
            "give Spark the table as Parquet files, or run the pipeline with `doel run`",
        ));
    }
    let dict = PyDict::new(py);
    dict.set_item("name", &pipeline.declaration.name)?;
    dict.set_item("catalogue", &pipeline.declaration.catalogue)?;
    dict.set_item("input", pipeline.input.path.display().to_string())?;
    dict.set_item("input_format", pipeline.input.format.map(|f| f.as_str()))?;
    dict.set_item(
        "delimiter",
        char::from(pipeline.input.delimiter).to_string(),
    )?;
    dict.set_item("encoding", pipeline.input.encoding.name())?;
    dict.set_item("output", pipeline.output.path.display().to_string())?;
    dict.set_item("output_format", pipeline.output.format.as_str())?;
    Ok(dict)
}

/// The canonical BSNs of an exclusion list's column (nine digits, or null where an entry
/// has none), as `doel run` reads its lists.
#[pyfunction]
fn canonical_bsn(
    values: PyArrowType<arrow::array::ArrayData>,
) -> PyResult<PyArrowType<arrow::array::ArrayData>> {
    let values = arrow::array::make_array(values.0);
    let bsns = canonical_bsns(&values).map_err(apply_error)?;
    Ok(PyArrowType(arrow::array::Array::to_data(&bsns)))
}

#[pymodule]
fn _doel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Plan>()?;
    m.add_class::<Rows>()?;
    m.add_class::<Cells>()?;
    m.add_function(wrap_pyfunction!(canonical_bsn, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline_info, m)?)?;
    m.add("DoelError", m.py().get_type::<DoelError>())?;
    m.add("BSN_COLUMN", BSN_COLUMN)?;
    m.add("EXCLUDED_COLUMN", EXCLUDED_COLUMN)?;
    m.add("LISTED_COLUMN", LISTED_COLUMN)?;
    m.add("SPEC_VERSION", doel::kernels::keys::SPEC_VERSION)?;
    Ok(())
}
