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
    /// One scan per file, in `files` order: for counting each file's rows.
    parts: Vec<LazyFrame>,
    /// Whether the CSV files are read as UTF-8, as delivered (not decoded from another
    /// encoding).
    utf8: bool,
    /// Temporary copies that polars reads instead of some CSV files: decoded to UTF-8,
    /// or with a byte order mark in front ([`copy_for_polars`]). Deleted when the input
    /// is dropped.
    _copies: Vec<tempfile::NamedTempFile>,
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
        // polars renames a repeated CSV column `x` to `x_duplicated_0`: which of the two
        // holds what the pipeline means cannot be known.
        if self.csv
            && let Some(name) = schema.iter_names().find_map(|n| {
                let (base, count) = n.rsplit_once("_duplicated_")?;
                (count.parse::<u32>().is_ok() && schema.contains(base)).then_some(base)
            })
        {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "two columns are named `{name}`; an export's column names must differ"
                ),
            });
        }
        // One column whose name holds another separator: the file is not separated by
        // commas (or by what [input] declares).
        let single = schema.iter_names().next().filter(|_| schema.len() == 1);
        if let Some(name) = single.filter(|_| self.csv)
            && let Some(separator) = [';', '\t', '|', ',']
                .into_iter()
                .find(|c| name.contains(*c))
        {
            let shown = match separator {
                '\t' => "\\t".to_owned(),
                other => other.to_string(),
            };
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "the header row reads as one column holding `{shown}`: the fields seem separated by `{shown}`; declare it: [input] delimiter = \"{shown}\""
                ),
            });
        }
        Ok(schema
            .iter()
            .map(|(name, dtype)| (name.to_string(), column_type(dtype)))
            .collect())
    }

    /// Whether the input is CSV (its first line a header).
    /// Each file's number of data rows, in `files` order (Parquet and IPC from their
    /// metadata; CSV by reading the file once more).
    pub fn rows_per_file(&self) -> Result<Vec<u64>, EngineError> {
        self.files
            .iter()
            .zip(&self.parts)
            .map(|(file, part)| {
                let fail = |e: PolarsError| EngineError::Input {
                    path: file.clone(),
                    problem: safe_summary(&e),
                };
                let counted = part.clone().select([len()]).collect().map_err(fail)?;
                let rows = counted
                    .column("len")
                    .and_then(|c| c.get(0))
                    .map_err(fail)?
                    .extract::<u64>()
                    .unwrap_or(0);
                Ok(rows)
            })
            .collect()
    }

    pub fn is_csv(&self) -> bool {
        self.csv
    }

    pub(super) fn error(&self, e: &PolarsError) -> EngineError {
        // A CSV that is not UTF-8 fails somewhere in polars; say where, and what to do.
        if self.csv && self.utf8 {
            for file in &self.files {
                if let Some(line) = first_invalid_utf8_line(file) {
                    return EngineError::Input {
                        path: file.clone(),
                        problem: format!(
                            "line {line} is not valid UTF-8; if the export is in another encoding, declare it: [input] encoding = \"windows-1252\" (or its own)"
                        ),
                    };
                }
            }
        }
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
    let utf8 = input.encoding == encoding_rs::UTF_8;
    let copies = if format == Format::Csv {
        files
            .iter()
            .map(|file| {
                let decode = (!utf8).then_some(input.encoding);
                match start_of(file).map_err(|e| fail(file, &e.kind().to_string()))? {
                    Start::Compressed(what) => Err(fail(
                        file,
                        &format!("is compressed ({what}); doel reads uncompressed CSV: decompress it first"),
                    )),
                    Start::LikeZlib => copy_for_polars(file, decode).map(Some),
                    Start::Text if decode.is_some() => copy_for_polars(file, decode).map(Some),
                    Start::Text => Ok(None),
                }
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let frames = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let read = match copies.get(i) {
                Some(Some(copy)) => copy.path(),
                _ => file.as_path(),
            };
            let path = read
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
        1 => frames[0].clone(),
        _ => concat(frames.clone(), UnionArgs::default()).map_err(|e| EngineError::Input {
            path: input.path.clone(),
            problem: safe_summary(&e),
        })?,
    };
    Ok(Input {
        files,
        csv: format == Format::Csv,
        frame,
        parts: frames,
        utf8,
        _copies: copies.into_iter().flatten().collect(),
    })
}

/// How a CSV file starts, as polars' CSV reader sees it. The reader takes a file that
/// starts with the magic bytes of gzip, zlib or zstd for a compressed one; this build
/// has no decompression, and the reader panicked (found by the `csv` fuzz target). Two of
/// zlib's are text, though: `x^` and `x` followed by byte 1 (or, in UTF-8, by some
/// Arabic letters) may begin a header.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// gzip or zstd: never the start of text.
    Compressed(&'static str),
    /// One of zlib's magic numbers: read through a copy with a byte order mark in front,
    /// which the reader skips after its check.
    LikeZlib,
    Text,
}

/// [`Start`] from a file's first bytes, as polars 0.55 checks them.
fn start_of_bytes(bytes: &[u8]) -> Start {
    match bytes {
        [0x1f, 0x8b, _, _, ..] => Start::Compressed("gzip"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Start::Compressed("zstd"),
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, _, _, ..] => Start::LikeZlib,
        _ => Start::Text,
    }
}

fn start_of(file: &Path) -> std::io::Result<Start> {
    use std::io::Read;
    let mut first = Vec::with_capacity(4);
    std::fs::File::open(file)?.take(4).read_to_end(&mut first)?;
    Ok(start_of_bytes(&first))
}

/// A copy of `file` for polars to read, in a hidden temporary file (mode 0600) in the
/// system's temporary directory: decoded from `decode` to UTF-8 if given, else its bytes
/// as they are, behind a UTF-8 byte order mark (which the reader skips; see [`Start`]).
fn copy_for_polars(
    file: &Path,
    decode: Option<&'static encoding_rs::Encoding>,
) -> Result<tempfile::NamedTempFile, EngineError> {
    use std::io::{Read, Write};
    let fail = |problem: String| EngineError::Input {
        path: file.to_owned(),
        problem,
    };
    let mut source = std::fs::File::open(file).map_err(|e| fail(e.kind().to_string()))?;
    let temp = tempfile::Builder::new()
        .prefix(".doel-")
        .suffix(".tmp")
        .tempfile()
        .map_err(|e| {
            fail(format!(
                "cannot create a temporary copy to read it through: {}",
                e.kind()
            ))
        })?;
    let mut sink = std::io::BufWriter::new(temp.as_file());
    sink.write_all(b"\xef\xbb\xbf")
        .map_err(|e| fail(format!("cannot write the copy: {}", e.kind())))?;
    let Some(encoding) = decode else {
        std::io::copy(&mut source, &mut sink)
            .map_err(|e| fail(format!("cannot copy the file: {}", e.kind())))?;
        sink.flush()
            .map_err(|e| fail(format!("cannot write the copy: {}", e.kind())))?;
        drop(sink);
        return Ok(temp);
    };
    let mut decoder = encoding.new_decoder();
    let mut chunk = vec![0u8; 1 << 16];
    let mut utf8 = Vec::new();
    loop {
        let n = source
            .read(&mut chunk)
            .map_err(|e| fail(e.kind().to_string()))?;
        let last = n == 0;
        utf8.resize(decoder.max_utf8_buffer_length(n).unwrap_or(1 << 18), 0);
        let mut offset = 0;
        loop {
            let (result, read, written, _) =
                decoder.decode_to_utf8(&chunk[offset..n], &mut utf8, last);
            sink.write_all(&utf8[..written])
                .map_err(|e| fail(format!("cannot write the copy: {}", e.kind())))?;
            offset += read;
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        if last {
            break;
        }
    }
    sink.flush()
        .map_err(|e| fail(format!("cannot write the copy: {}", e.kind())))?;
    drop(sink);
    Ok(temp)
}

/// The first line (from 1) of `file` that is not valid UTF-8, if any.
fn first_invalid_utf8_line(file: &Path) -> Option<u64> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(std::fs::File::open(file).ok()?);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        number += 1;
        if std::str::from_utf8(&line).is_err() {
            return Some(number);
        }
    }
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
        let bytes = match start_of_bytes(&bytes) {
            Start::Compressed(what) => {
                return Err(EngineError::Input {
                    path: name,
                    problem: format!("is compressed ({what}); doel reads uncompressed CSV"),
                });
            }
            Start::LikeZlib => [b"\xef\xbb\xbf".as_slice(), &bytes].concat(),
            Start::Text => bytes,
        };
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
            parts: vec![frame.clone()],
            frame,
            utf8: true,
            _copies: Vec::new(),
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
