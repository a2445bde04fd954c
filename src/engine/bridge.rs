//! polars ⇄ arrow-rs without copying, through the Arrow C Data Interface: the kernels
//! take arrow-rs arrays (so that Spark can call them too), polars holds polars-arrow ones.

use std::sync::Arc;

use arrow::array::{ArrayRef, make_array};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use polars::prelude::{
    CompatLevel, DataFrame, IntoColumn, PlSmallStr, Schema as PolarsSchema, Series,
};

use super::{EngineError, safe_summary};

// Both crates declare the C Data Interface's two structs as `#[repr(C)]` copies of the
// same C definitions, so a value of one is a valid value of the other; `transmute`
// checks that their sizes agree. Ownership (and the release callback) moves along.

/// The first (only) chunk of a rechunked series as an arrow-rs array.
pub fn to_arrow_rs(series: &Series) -> Result<ArrayRef, EngineError> {
    let series = series.rechunk();
    let array = series.to_arrow(0, CompatLevel::newest());
    let field =
        polars_arrow::datatypes::Field::new(series.name().clone(), array.dtype().clone(), true);
    let c_array = polars_arrow::ffi::export_array_to_c(array);
    let c_schema = polars_arrow::ffi::export_field_to_c(&field);
    // SAFETY: see above; the structs come straight from the exporting functions.
    let data = unsafe {
        let c_array: arrow::ffi::FFI_ArrowArray = std::mem::transmute(c_array);
        let c_schema: arrow::ffi::FFI_ArrowSchema = std::mem::transmute(c_schema);
        arrow::ffi::from_ffi(c_array, &c_schema)
    }
    .map_err(|e| {
        EngineError::Internal(format!("C Data Interface import into arrow-rs failed: {e}"))
    })?;
    Ok(make_array(data))
}

/// An arrow-rs array as a polars series named `name`.
pub fn from_arrow_rs(name: &str, array: &ArrayRef) -> Result<Series, EngineError> {
    let (c_array, c_schema) = arrow::ffi::to_ffi(&array.to_data()).map_err(|e| {
        EngineError::Internal(format!("C Data Interface export from arrow-rs failed: {e}"))
    })?;
    // SAFETY: see above; the structs come straight from `to_ffi`.
    let array = unsafe {
        let c_array: polars_arrow::ffi::ArrowArray = std::mem::transmute(c_array);
        let c_schema: polars_arrow::ffi::ArrowSchema = std::mem::transmute(c_schema);
        polars_arrow::ffi::import_field_from_c(&c_schema).and_then(|field| {
            polars_arrow::ffi::import_array_from_c(c_array, field.dtype().clone())
        })
    }
    .map_err(|e| {
        EngineError::Internal(format!(
            "C Data Interface import into polars failed: {}",
            safe_summary(&e)
        ))
    })?;
    Series::from_arrow(PlSmallStr::from_str(name), array).map_err(|e| {
        EngineError::Internal(format!(
            "polars rejected a kernel's output: {}",
            safe_summary(&e)
        ))
    })
}

/// A polars frame as an arrow-rs record batch of the same columns, in order.
pub fn frame_to_batch(df: &DataFrame) -> Result<RecordBatch, EngineError> {
    let columns = df
        .columns()
        .iter()
        .map(|c| to_arrow_rs(c.as_materialized_series()))
        .collect::<Result<Vec<_>, _>>()?;
    let fields: Vec<Field> = df
        .columns()
        .iter()
        .zip(&columns)
        .map(|(c, a)| Field::new(c.name().as_str(), a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(df.height())),
    )
    .map_err(|e| EngineError::Internal(format!("a polars batch as arrow-rs: {e}")))
}

/// An arrow-rs record batch as a polars frame (field metadata is not carried).
pub fn batch_to_frame(batch: &RecordBatch) -> Result<DataFrame, EngineError> {
    let columns = batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, array)| from_arrow_rs(field.name(), array).map(Series::into_column))
        .collect::<Result<Vec<_>, _>>()?;
    DataFrame::new(batch.num_rows(), columns).map_err(|e| EngineError::Internal(safe_summary(&e)))
}

/// A polars schema as the arrow-rs schema of the same columns (through the C Data
/// Interface's schema struct, as arrays are handed over).
pub fn arrow_rs_schema(schema: &PolarsSchema) -> Result<Schema, EngineError> {
    let fields = schema
        .iter()
        .map(|(name, dtype)| {
            let field = polars_arrow::datatypes::Field::new(
                name.clone(),
                dtype.to_arrow(CompatLevel::newest()),
                true,
            );
            let c_schema = polars_arrow::ffi::export_field_to_c(&field);
            // SAFETY: as in `to_arrow_rs`; the struct comes straight from the exporter.
            let c_schema: arrow::ffi::FFI_ArrowSchema = unsafe { std::mem::transmute(c_schema) };
            Field::try_from(&c_schema).map_err(|e| {
                EngineError::Internal(format!("the type of column `{name}` in arrow-rs: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema::new(fields))
}
