//! Executes a [`Plan`](crate::plan::Plan) with polars: a lazy scan that decodes only the
//! columns the plan reads, fixed-size batches from the streaming engine, the kernels on
//! each batch, and an output written to a temporary file that is renamed only when
//! complete. The engine takes no policy decisions: every choice is in the plan.

mod bridge;
pub mod fault;
mod input;
mod lists;
mod mapped;
mod output;
mod postgres;
mod records;
mod run;
mod scan;
mod stream;
mod table;
mod transform;
mod workbook;

use std::path::PathBuf;

use polars::prelude::PolarsError;

pub use crate::apply::microdata::Level;
pub use input::{Input, changed, open};
pub use lists::lines;
pub use run::{Progress, run, same_file};
pub use scan::{ColumnScan, DISTINCT_LIMIT, Distinct, ScanReport, scan};
pub use stream::{interrupted, interruption};
pub use table::TableReport;
pub use transform::ExclusionCounts;

/// Why a run could not complete. No message holds a value from the data.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input cannot be found, read or decoded.
    #[error("input {}: {problem}", path.display())]
    Input { path: PathBuf, problem: String },
    /// The database cannot be reached, or refuses the table or query.
    #[error("input {}: {problem}", database.display())]
    Database { database: PathBuf, problem: String },
    /// The output cannot be written.
    #[error("output {}: {problem}", path.display())]
    Output { path: PathBuf, problem: String },
    /// A value had no canonical form and the pipeline says `on_invalid = "fail"`.
    #[error(transparent)]
    InvalidValue(crate::apply::InvalidValue),
    /// A microdata class fails k-anonymity (or ℓ-diversity) and the pipeline says
    /// `on_violation = "fail"`.
    #[error(transparent)]
    Disclosure(crate::apply::microdata::Violation),
    /// The data does not fit the pipeline in a way only the data shows.
    #[error("pipeline {}: {problem}", pipeline.display())]
    Pipeline { pipeline: PathBuf, problem: String },
    /// An exclusion list that cannot be relied on: none of its entries, or too many of
    /// them, are valid BSNs. A policy refusal: the people it lists cannot be excluded.
    #[error("exclusion list {}: {problem}", path.display())]
    List { path: PathBuf, problem: String },
    /// The process was asked to stop (SIGINT, SIGTERM) before the run completed.
    #[error("interrupted: the run stopped before completing; nothing was written")]
    Interrupted,
    /// Likely a bug in doel.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Input { .. } => {
                "check the input's path and format (a pipeline's [input], or the command line) and that the file is a complete export"
            }
            Self::Output { .. } => {
                "check that the output directory can be written and has free space"
            }
            Self::Database { .. } => {
                "check the connection in the environment (DOEL_PG_URL, or PGHOST, PGPORT, PGDATABASE, PGUSER and the password file) and [input] postgres; docs/inputs.md"
            }
            Self::Pipeline { .. } => "change the pipeline as the message says",
            Self::List { .. } => {
                "correct the list (one BSN per line, under a header such as `bsn`), or name its column: [exclusions] list_column"
            }
            Self::Interrupted => "run it again; a complete run writes the same bytes",
            Self::Disclosure(_) => crate::apply::microdata::Violation::HINT,
            Self::InvalidValue(_) => {
                "fix the value in the export, or set on_invalid = \"drop_row\" or \"null\" for this column"
            }
            Self::Internal(_) => {
                "this is likely a bug in doel; please report it with the command you ran (not the data)"
            }
        }
    }
}

/// What a polars error may say without risking a value from the data: the kind of
/// failure, and the message only for kinds whose messages carry types and schema names.
/// Column names are left out too: in a CSV without a header row they are data.
pub(crate) fn safe_summary(error: &PolarsError) -> String {
    match error {
        PolarsError::IO { error, .. } => error.kind().to_string(),
        PolarsError::ColumnNotFound(_) => "a column is missing from one of the files".into(),
        PolarsError::Duplicate(_) => {
            "two columns have the same name (is the header row missing or damaged?)".into()
        }
        PolarsError::SchemaMismatch(_) => "the files' columns or types differ".into(),
        PolarsError::SchemaFieldNotFound(_) => "a column is missing from one of the files".into(),
        PolarsError::NoData(m) => format!("no data: {m}"),
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => {
            safe_summary(error)
        }
        // polars' own text may quote the row: only its kind is kept.
        PolarsError::ComputeError(m) if m.contains("more fields than") => {
            "a row has more fields than the header row (a separator inside a value that is not quoted?)".into()
        }
        PolarsError::ComputeError(_) => {
            "the file could not be decoded (malformed or truncated?)".into()
        }
        _ => "the file could not be processed".into(),
    }
}
