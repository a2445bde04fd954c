//! A resolved plan applied to Arrow (arrow-rs) record batches, without polars: the
//! row-local part (exclusions, per-column actions, invalid values) and the protection of
//! a table's aggregated cells. The engine feeds it polars' batches through the C Data
//! Interface; the Python extension feeds it the batches Spark hands to `mapInArrow`.
//! Whichever engine runs a job, these functions decide every row and every cell.

pub mod microdata;
pub mod rows;
pub mod table;

use crate::kernels::canonical::Reason;

/// A value had no canonical form and the pipeline says `on_invalid = "fail"`. `row`
/// counts data rows from the `first_row` the caller gave (from 1, across the input's
/// files in name order, in `doel run`).
#[derive(Debug, thiserror::Error)]
#[error(
    "column `{column}` (from {sources}): data row {row} has no canonical form ({}), and the pipeline says on_invalid = \"fail\"",
    reason.as_str()
)]
pub struct InvalidValue {
    pub column: String,
    pub sources: String,
    pub row: u64,
    pub reason: Reason,
}

/// Why a batch could not be applied. No message holds a value from the data.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    InvalidValue(InvalidValue),
    /// Microdata classes fail k-anonymity (or ℓ-diversity), and the pipeline says
    /// `on_violation = "fail"`.
    #[error(transparent)]
    Disclosure(microdata::Violation),
    /// The aggregated table cannot be published as the pipeline says.
    #[error("{0}")]
    Table(String),
    /// Likely a bug in doel.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The plan's view of an Arrow schema (as another engine, such as Spark, reads the input).
pub fn column_types(schema: &arrow::datatypes::Schema) -> Vec<(String, crate::plan::ColumnType)> {
    use crate::plan::ColumnType;
    use arrow::datatypes::DataType;
    schema
        .fields()
        .iter()
        .map(|field| {
            let dtype = field.data_type();
            let column_type = match dtype {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::Text,
                d if d.is_integer() => ColumnType::Integer,
                d if d.is_floating() => ColumnType::Float,
                DataType::Boolean => ColumnType::Boolean,
                DataType::Date32 => ColumnType::Date,
                d if d.is_nested()
                    || matches!(
                        d,
                        DataType::Binary
                            | DataType::LargeBinary
                            | DataType::BinaryView
                            | DataType::FixedSizeBinary(_)
                            | DataType::Null
                    ) =>
                {
                    ColumnType::Nested(d.to_string())
                }
                other => ColumnType::Other(other.to_string()),
            };
            (field.name().clone(), column_type)
        })
        .collect()
}
