//! Finding the input files and scanning them lazily. For CSV every column is read as
//! text: type inference would turn BSNs into integers and lose their leading zeros.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{EngineError, safe_summary};
use crate::kernels::canonical;
use crate::kernels::detect::{Detector, Kind, Kinds};
use crate::plan::ColumnType;
use crate::spec::{self, Format};

/// An opened input: its files (in name order) and a lazy scan over all of them.
pub struct Input {
    pub files: Vec<PathBuf>,
    /// CSV names its columns in its first row, which may be data if the header is missing.
    csv: bool,
    pub frame: LazyFrame,
}

impl Input {
    /// The columns and their types, from the files' metadata (Parquet, IPC) or header (CSV).
    pub fn schema(&mut self) -> Result<Vec<(String, ColumnType)>, EngineError> {
        let schema = self.frame.collect_schema().map_err(|e| self.error(&e))?;
        // Arrow's C interface, which carries batches to the kernels, cannot name a column
        // with a NUL in it (polars panics); found by the fuzz target `csv`.
        if schema.iter_names().any(|n| n.contains('\0')) {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: "a column name holds a NUL character; is the file really text?".into(),
            });
        }
        // A column name that is a BSN, a date, an IBAN, an e-mail address, a phone number
        // or a postcode means the header row is missing: the names are a person's data and
        // must not be printed in the plan.
        let detector = Detector::new(chrono::NaiveDate::MAX);
        let kinds = Kinds::of(&[
            Kind::Bsn,
            Kind::Iban,
            Kind::Email,
            Kind::Phone,
            Kind::Postcode,
        ]);
        let looks_like_data = |name: &str| {
            canonical::date_from_iso(name).is_some() || !detector.detect(name, kinds).is_empty()
        };
        if self.csv && schema.iter_names().any(|n| looks_like_data(n)) {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: "the first row holds data (a BSN, date, IBAN, e-mail address, phone number or postcode), not column names: the header row is missing".into(),
            });
        }
        Ok(schema
            .iter()
            .map(|(name, dtype)| (name.to_string(), column_type(dtype)))
            .collect())
    }

    /// Whether the input is CSV (its first line a header).
    pub fn is_csv(&self) -> bool {
        self.csv
    }

    pub(super) fn error(&self, e: &PolarsError) -> EngineError {
        let path = match self.files.as_slice() {
            [one] => one.clone(),
            many => many
                .first()
                .and_then(|f| f.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        EngineError::Input {
            path,
            problem: safe_summary(e),
        }
    }
}

fn column_type(dtype: &DataType) -> ColumnType {
    match dtype {
        DataType::String => ColumnType::Text,
        d if d.is_integer() => ColumnType::Integer,
        d if d.is_float() => ColumnType::Float,
        DataType::Boolean => ColumnType::Boolean,
        DataType::Date => ColumnType::Date,
        d if d.is_nested()
            || matches!(
                d,
                DataType::Binary | DataType::BinaryOffset | DataType::Null | DataType::Unknown(_)
            ) =>
        {
            ColumnType::Nested(d.to_string())
        }
        other => ColumnType::Other(other.to_string()),
    }
}

/// Find the input's files and scan them.
pub fn open(input: &spec::Input) -> Result<Input, EngineError> {
    let fail = |path: &Path, problem: &str| EngineError::Input {
        path: path.to_owned(),
        problem: problem.to_owned(),
    };
    let meta =
        std::fs::metadata(&input.path).map_err(|e| fail(&input.path, &e.kind().to_string()))?;
    let files = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&input.path)
            .map_err(|e| fail(&input.path, &e.kind().to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && format_of(p).is_some() && !is_hidden(p))
            .collect();
        files.sort();
        files
    } else {
        vec![input.path.clone()]
    };
    let format = match input.format {
        Some(f) => f,
        None => {
            let mut formats: Vec<Format> = files.iter().filter_map(|f| format_of(f)).collect();
            formats.dedup();
            match formats.as_slice() {
                [one] => *one,
                [] => {
                    return Err(fail(
                        &input.path,
                        "no .parquet, .arrow or .csv file found; set [input] format",
                    ));
                }
                _ => {
                    return Err(fail(
                        &input.path,
                        "the directory mixes file formats; set [input] format",
                    ));
                }
            }
        }
    };
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| meta.is_file() || format_of(f) == Some(format))
        .collect();
    if files.is_empty() {
        return Err(fail(
            &input.path,
            &format!("no {} file in the directory", format.as_str()),
        ));
    }
    let frames = files
        .iter()
        .map(|file| {
            let path = file
                .to_str()
                .ok_or_else(|| fail(file, "the path is not valid UTF-8"))?;
            let path = PlRefPath::new(path);
            let scanned = match format {
                Format::Parquet => LazyFrame::scan_parquet(path, ScanArgsParquet::default()),
                Format::Ipc => LazyFrame::scan_ipc(path, Default::default(), Default::default()),
                Format::Csv => scan_csv(
                    ScanSources::Paths(polars_buffer::Buffer::from_iter([path])),
                    input.delimiter,
                ),
            };
            scanned.map_err(|e| EngineError::Input {
                path: file.clone(),
                problem: safe_summary(&e),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let frame = match frames.len() {
        1 => frames.into_iter().next().expect("one frame"),
        _ => concat(frames, UnionArgs::default()).map_err(|e| EngineError::Input {
            path: input.path.clone(),
            problem: safe_summary(&e),
        })?,
    };
    Ok(Input {
        files,
        csv: format == Format::Csv,
        frame,
    })
}

/// How doel reads CSV: the first row names the columns, and every column is text.
fn scan_csv(sources: ScanSources, delimiter: u8) -> PolarsResult<LazyFrame> {
    LazyCsvReader::new_with_sources(sources)
        .with_has_header(true)
        .with_separator(delimiter)
        .with_infer_schema_length(Some(0))
        .finish()
}

impl Input {
    /// A CSV export held in memory, read exactly as [`open`] reads a CSV file; `name`
    /// stands for its path in errors. For the fuzz target of the CSV ingest path.
    pub fn csv_from_bytes(
        name: PathBuf,
        bytes: Vec<u8>,
        delimiter: u8,
    ) -> Result<Self, EngineError> {
        let frame = scan_csv(
            ScanSources::Buffers([polars_buffer::Buffer::from(bytes)].into()),
            delimiter,
        )
        .map_err(|e| EngineError::Input {
            path: name.clone(),
            problem: safe_summary(&e),
        })?;
        Ok(Self {
            files: vec![name],
            csv: true,
            frame,
        })
    }
}

fn format_of(path: &Path) -> Option<Format> {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(Format::from_extension)
}

/// Temporary and hidden files (such as doel's own `.doel-*.tmp`) are never input.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}
