//! Finding the input files and scanning them lazily. For CSV every column is read as
//! text: type inference would turn BSNs into integers and lose their leading zeros.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::mapped::Map;
use super::{EngineError, safe_summary};
use crate::audit::Stamp;
use crate::kernels::canonical;
use crate::kernels::detect::{Detector, Kind, Kinds};
use crate::plan::ColumnType;
use crate::spec::{self, Format, InputFormat};

/// The first of `stamps` whose file changed since it was stamped, as the error a run
/// fails with.
pub fn changed(stamps: &[(PathBuf, Stamp)]) -> Option<EngineError> {
    crate::audit::changed(stamps).map(|path| EngineError::Input {
        path: path.to_owned(),
        problem: crate::audit::CHANGED.into(),
    })
}

/// An opened input: its files (in name order) and a lazy scan over all of them.
pub struct Input {
    pub files: Vec<PathBuf>,
    /// Each file as it was opened, in `files` order.
    pub stamps: Vec<Stamp>,
    /// CSV names its columns in its first row, which may be data if the header is missing.
    csv: bool,
    /// A workbook names its columns in a row of the sheet, which may be data too.
    workbook: bool,
    /// That row, from 1.
    header_row: u32,
    pub frame: LazyFrame,
    /// One scan per file, in `files` order: for counting each file's rows.
    parts: Vec<LazyFrame>,
    /// Whether the CSV files are read as UTF-8, as delivered (not decoded from another
    /// encoding).
    utf8: bool,
    /// A PostgreSQL source: connected and described at `open`, read by
    /// [`Input::read_database`].
    database: Option<super::postgres::Source>,
    /// What was read from the database, once it was.
    pub source: Option<crate::audit::DatabaseSource>,
    /// What polars reads, one map per file in `files` order: the file, or for some CSV
    /// files a copy decoded to UTF-8 or with a byte order mark in front
    /// ([`copy_for_polars`]). Released after each batch ([`Map::release`]).
    pub maps: Vec<Map>,
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
        // Plans, scans, manifests and reports show the column names: one with a control
        // character or a line break (a quoted CSV header can hold one) could rewrite the
        // screen or forge a row of the plan. Named by position: it may be data.
        if let Some(position) = schema.iter_names().position(|n| crate::text::has_unsafe(n)) {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "the name of column {} holds a control character, a line break or a character that reorders text; rename it in the export",
                    position + 1
                ),
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
            canonical::date_from_iso(name).is_some()
                || canonical::date_from_dutch(name).is_some()
                || !detector.detect(name, kinds).is_empty()
        };
        // A key file is one line of 64 hex digits: given as an export, its key would be
        // a column name, which plans, manifests and `scan` show.
        let looks_like_key = |name: &str| {
            name.trim().len() >= 32 && name.trim().bytes().all(|b| b.is_ascii_hexdigit())
        };
        let named_by_a_row = self.csv || self.workbook;
        if named_by_a_row && schema.iter_names().any(|n| looks_like_key(n)) {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "{} holds a long string of hex digits, like key material, not column names: is this a key file?",
                    self.header_row_named()
                ),
            });
        }
        if named_by_a_row && schema.iter_names().any(|n| looks_like_data(n)) {
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "{} holds data (a BSN, date, IBAN, e-mail address, phone number or postcode), not column names: the header row is missing",
                    self.header_row_named()
                ),
            });
        }
        // polars renames a repeated CSV column `x` to `x_duplicated_0`: which of the two
        // holds what the pipeline means cannot be known.
        if self.csv
            && let Some((first, second)) = schema.iter_names().enumerate().find_map(|(i, n)| {
                let (base, count) = n.rsplit_once("_duplicated_")?;
                let first = schema
                    .index_of(base)
                    .filter(|_| count.parse::<u32>().is_ok())?;
                Some((first + 1, i + 1))
            })
        {
            // Positions, not the name: in a file without its header row, the "names" are
            // the first record's values.
            return Err(EngineError::Input {
                path: self.files[0].clone(),
                problem: format!(
                    "columns {first} and {second} have the same name; an export's column names must differ"
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
        // One mapping from an Arrow type to the plan's, for every engine: polars' schema
        // is read as the arrow-rs schema Spark would hand over.
        Ok(crate::apply::column_types(&super::bridge::arrow_rs_schema(
            &schema,
        )?))
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

    /// For a database source: read the columns `needed` in one snapshot, and scan them
    /// from then on. Nothing for files.
    pub fn read_database(&mut self, needed: &[String]) -> Result<(), EngineError> {
        let Some(database) = &mut self.database else {
            return Ok(());
        };
        let (copy, record) = database.read(needed)?;
        let map = Map::of(&copy).map_err(|e| EngineError::Input {
            path: database.name.clone(),
            problem: format!("cannot map its copy: {}", e.kind()),
        })?;
        let frame = LazyFrame::scan_ipc_sources(
            map.sources(),
            Default::default(),
            UnifiedScanArgs {
                hive_options: HiveOptions::new_disabled(),
                ..Default::default()
            },
        )
        .map_err(|e| EngineError::Input {
            path: database.name.clone(),
            problem: safe_summary(&e),
        })?;
        self.frame = frame.clone();
        self.parts = vec![frame];
        self.maps = vec![map];
        self.source = Some(record);
        Ok(())
    }

    /// The line (CSV) or sheet row (workbook) of the first record, from 1.
    pub fn first_record_line(&self) -> u64 {
        match (self.csv, self.workbook) {
            (true, _) => 2,
            (_, true) => u64::from(self.header_row) + 1,
            _ => 1,
        }
    }

    /// How messages name the row of column names.
    fn header_row_named(&self) -> String {
        if self.workbook {
            format!("row {}", self.header_row)
        } else {
            "the first row".into()
        }
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

/// Find the input's files and scan them; or connect to the database and describe the
/// table or query.
pub fn open(input: &spec::Input) -> Result<Input, EngineError> {
    if let Some(source) = &input.postgres {
        let database = super::postgres::open(source, input.path.clone())?;
        let frame = database.empty_frame().lazy();
        return Ok(Input {
            files: Vec::new(),
            stamps: Vec::new(),
            csv: false,
            workbook: false,
            header_row: 1,
            frame: frame.clone(),
            parts: vec![frame],
            utf8: true,
            database: Some(database),
            source: None,
            maps: Vec::new(),
        });
    }
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
    // A file name with a line break or an escape sequence (a shared drop folder) would
    // forge lines of the report and of errors: refused, named escaped.
    if let Some(file) = files
        .iter()
        .find(|f| crate::text::has_unsafe(&f.to_string_lossy()))
    {
        return Err(fail(
            &PathBuf::from(crate::text::escaped(&file.to_string_lossy()).into_owned()),
            "its name holds a control character, a line break or a character that reorders text; rename it",
        ));
    }
    let format = match input.format {
        Some(f) => f,
        None => {
            let mut formats: Vec<InputFormat> = files.iter().filter_map(|f| format_of(f)).collect();
            formats.dedup();
            match formats.as_slice() {
                [one] => *one,
                [] => {
                    return Err(fail(
                        &input.path,
                        "no .parquet, .arrow, .csv or workbook (.xlsx, .xlsm, .xlsb, .xls, .ods) file found; set [input] format",
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
    if format != InputFormat::Workbook && (input.sheet.is_some() || input.header_row.is_some()) {
        return Err(fail(
            &input.path,
            "[input] sheet and header_row apply to workbooks only",
        ));
    }
    let utf8 = input.encoding == encoding_rs::UTF_8;
    let stamps = files
        .iter()
        .map(|file| Stamp::of(file).map_err(|e| fail(file, &e.kind().to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // A workbook's sheet is read through an IPC copy, all of a directory's together so
    // that they are typed alike.
    let mut copies = match format {
        InputFormat::Workbook => super::workbook::to_ipc(
            &files,
            &super::workbook::Sheet {
                name: input.sheet.as_deref(),
                header_row: input.header_row.unwrap_or(1),
            },
        )?,
        _ => Vec::new(),
    }
    .into_iter();
    let maps = files
        .iter()
        .map(|file| {
            let map = |f: &std::fs::File| {
                Map::of(f).map_err(|e| fail(file, &format!("cannot map it: {}", e.kind())))
            };
            let open = || std::fs::File::open(file).map_err(|e| fail(file, &e.kind().to_string()));
            match (format, copies.next()) {
                (InputFormat::Workbook, Some(copy)) => return map(&copy),
                (InputFormat::Parquet | InputFormat::Ipc | InputFormat::Workbook, _) => {
                    return map(&open()?);
                }
                (InputFormat::Csv, _) => {}
            }
            let decode = (!utf8).then_some(input.encoding);
            let head = head_of(file).map_err(|e| fail(file, &e.kind().to_string()))?;
            let start = start_of_bytes(&head);
            // gzip's magic number starts with a control character: no text in any encoding
            // a pipeline can declare (all read ASCII's bytes as ASCII). zstd's is no UTF-8,
            // but is text in windows-1252 (`(µ/ý`).
            let compressed = match (&start, decode) {
                (Start::Compressed(what), None) => Some(*what),
                (Start::Compressed("gzip"), Some(_)) => Some("gzip"),
                _ => None,
            };
            if let Some(what) = compressed {
                return Err(fail(
                    file,
                    &format!(
                        "is compressed ({what}); doel reads uncompressed CSV: decompress it first"
                    ),
                ));
            }
            if lone_carriage_return_in(&head) {
                return Err(fail(file, LONE_CR));
            }
            match start {
                _ if decode.is_some() => map(&copy_for_polars(file, decode)?),
                Start::LikeZlib => map(&copy_for_polars(file, None)?),
                _ => map(&open()?),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if format == InputFormat::Csv {
        for (file, map) in files.iter().zip(&maps) {
            super::records::check(map.bytes(), input.delimiter)
                .map_err(|problem| fail(file, &problem.describe()))?;
        }
    } else {
        let written = match format {
            InputFormat::Parquet => Format::Parquet,
            _ => Format::Ipc,
        };
        for (file, map) in files.iter().zip(&maps) {
            if let Some(column) = decimal_column(map.bytes(), written) {
                return Err(fail(
                    file,
                    &format!(
                        "column `{column}` holds decimal numbers, which this version of doel does not read: export it as a floating-point number or as text"
                    ),
                ));
            }
        }
    }
    let frames = files
        .iter()
        .zip(&maps)
        .map(|(file, map)| {
            let scanned = match format {
                InputFormat::Parquet => scan_parquet(map),
                // A workbook's sheet is read through an IPC copy (`workbook::to_ipc`).
                InputFormat::Ipc | InputFormat::Workbook => LazyFrame::scan_ipc_sources(
                    map.sources(),
                    Default::default(),
                    UnifiedScanArgs {
                        hive_options: HiveOptions::new_disabled(),
                        ..Default::default()
                    },
                ),
                InputFormat::Csv => scan_csv(map.sources(), input.delimiter),
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
        stamps,
        csv: format == InputFormat::Csv,
        workbook: format == InputFormat::Workbook,
        header_row: input.header_row.unwrap_or(1),
        database: None,
        source: None,
        frame,
        parts: frames,
        utf8,
        maps,
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

/// A file's first 64 KiB: enough for [`start_of_bytes`], [`lone_carriage_return_in`] and
/// a workbook's magic number.
pub(super) fn head_of(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(1 << 16);
    std::fs::File::open(file)?
        .take(1 << 16)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The first column of a Parquet or IPC file (its bytes) of a decimal type, nested or not.
/// This build of polars has no decimal type and panics on one (exit 4, naming nothing);
/// a file whose schema cannot be read is left to polars' own error.
fn decimal_column(bytes: &[u8], format: Format) -> Option<String> {
    use polars_arrow::datatypes::ArrowDataType as T;
    fn decimal(dtype: &T) -> bool {
        match dtype {
            T::Decimal(..) | T::Decimal32(..) | T::Decimal64(..) | T::Decimal256(..) => true,
            T::List(f) | T::LargeList(f) | T::FixedSizeList(f, _) | T::Map(f, _) => {
                decimal(f.dtype())
            }
            T::Struct(fields) => fields.iter().any(|f| decimal(f.dtype())),
            T::Dictionary(_, values, _) => decimal(values),
            T::Extension(ext) => decimal(&ext.inner),
            _ => false,
        }
    }
    let mut reader = std::io::Cursor::new(bytes);
    let schema = match format {
        Format::Parquet => polars_parquet::read::read_metadata(&mut reader)
            .and_then(|m| polars_parquet::read::infer_schema(&m))
            .ok()?,
        Format::Ipc => polars_arrow::io::ipc::read::read_file_metadata(&mut reader)
            .ok()?
            .schema
            .as_ref()
            .clone(),
        Format::Csv => return None,
    };
    schema
        .iter_values()
        .find(|f| decimal(f.dtype()))
        .map(|f| f.name.to_string())
}

/// Why a CSV file with carriage returns alone as line ends is refused.
const LONE_CR: &str = "ends its lines with a carriage return alone (as Excel's \"CSV (Macintosh)\" \
                       does), which the reader takes for one long header: save it as \"CSV UTF-8\" \
                       or with LF or CRLF line ends";

/// Whether the first line of a CSV file's head holds a carriage return that no line
/// feed follows: a file with carriage returns alone as line ends. polars reads such a
/// file as one header row, its values as column names (which plans, manifests and
/// reports name), and no rows: an exclusion list would match nothing.
fn lone_carriage_return_in(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    // The CR of a CRLF, or one at the end of a head cut off before its LF, is no lone one.
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.contains(&b'\r')
}

/// A copy of `file` for polars to read, in a temporary file without a name (so nothing is
/// left behind when the process is killed): decoded from `decode` to UTF-8 if given, else
/// its bytes as they are. A byte order mark goes in front when the copy would otherwise
/// start like zlib (which the reader then skips; see [`Start`]); only then, so that a
/// file's own mark after a decoded one is read as before.
///
/// Decoding never replaces a byte sequence the encoding does not have: two names that
/// differ only there would get one pseudonym. Such a file is refused, naming the line.
/// A byte order mark at the start is believed over the declared encoding (it cannot be
/// text in a single-byte encoding's first column name by accident).
fn copy_for_polars(
    file: &Path,
    decode: Option<&'static encoding_rs::Encoding>,
) -> Result<std::fs::File, EngineError> {
    use std::io::Read;
    let fail = |problem: String| EngineError::Input {
        path: file.to_owned(),
        problem,
    };
    let written = |e: std::io::Error| fail(format!("cannot write the copy: {}", e.kind()));
    let mut source = std::fs::File::open(file).map_err(|e| fail(e.kind().to_string()))?;
    let temp = tempfile::tempfile().map_err(|e| {
        fail(format!(
            "cannot create a temporary copy to read it through: {}",
            e.kind()
        ))
    })?;
    let mut sink = Copy {
        sink: std::io::BufWriter::new(&temp),
        head: Some(Vec::new()),
        lines: 1,
    };
    let mut chunk = vec![0u8; 1 << 16];
    let mut decoder = decode.map(|e| e.new_decoder());
    let mut utf8 = Vec::new();
    loop {
        let n = source
            .read(&mut chunk)
            .map_err(|e| fail(e.kind().to_string()))?;
        let last = n == 0;
        let Some(decoder) = &mut decoder else {
            if last {
                break;
            }
            sink.write(&chunk[..n]).map_err(written)?;
            continue;
        };
        utf8.resize(decoder.max_utf8_buffer_length(n).unwrap_or(1 << 18), 0);
        let mut offset = 0;
        loop {
            let (result, read, out) =
                decoder.decode_to_utf8_without_replacement(&chunk[offset..n], &mut utf8, last);
            sink.write(&utf8[..out]).map_err(written)?;
            offset += read;
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(..) => {
                    return Err(fail(format!(
                        "line {} holds bytes that are no text in {}; is that the file's encoding? ([input] encoding)",
                        sink.lines,
                        decoder.encoding().name()
                    )));
                }
            }
        }
        if last {
            break;
        }
    }
    sink.finish().map_err(written)?;
    Ok(temp)
}

/// The writing end of [`copy_for_polars`]: holds back the first bytes until it can tell
/// whether the copy starts like zlib, and counts lines.
struct Copy<'a> {
    sink: std::io::BufWriter<&'a std::fs::File>,
    /// The first bytes, until there are four (or the copy ends).
    head: Option<Vec<u8>>,
    /// The line being written, from 1.
    lines: u64,
}

impl Copy<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        match &mut self.head {
            Some(head) => {
                head.extend_from_slice(bytes);
                if head.len() >= 4 {
                    self.flush_head()?;
                }
                Ok(())
            }
            None => self.sink.write_all(bytes),
        }
    }

    fn flush_head(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(head) = self.head.take() {
            if start_of_bytes(&head) == Start::LikeZlib {
                self.sink.write_all(b"\xef\xbb\xbf")?;
            }
            self.sink.write_all(&head)?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.flush_head()?;
        self.sink.flush()
    }
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

/// A Parquet file read through its map. Never column values from directory names
/// (`year=2024/`; hive partitioning is also off for IPC): an export's columns are the
/// file's.
pub(super) fn scan_parquet(map: &Map) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet_sources(
        map.sources(),
        ScanArgsParquet {
            hive_options: HiveOptions::new_disabled(),
            ..Default::default()
        },
    )
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
        if lone_carriage_return_in(&bytes[..bytes.len().min(1 << 16)]) {
            return Err(EngineError::Input {
                path: name,
                problem: LONE_CR.to_owned(),
            });
        }
        if let Err(problem) = super::records::check(&bytes, delimiter) {
            return Err(EngineError::Input {
                path: name,
                problem: problem.describe(),
            });
        }
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
            stamps: Vec::new(),
            csv: true,
            workbook: false,
            header_row: 1,
            database: None,
            source: None,
            parts: vec![frame.clone()],
            frame,
            utf8: true,
            maps: Vec::new(),
        })
    }
}

fn format_of(path: &Path) -> Option<InputFormat> {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(InputFormat::from_extension)
}

/// Temporary and hidden files (such as doel's own `.doel-*.tmp`, and LibreOffice's lock
/// file `.~lock.export.xlsx#`) and the lock file Excel leaves beside an open workbook
/// (`~$export.xlsx`) are never input.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with("~$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_csv(
        bytes: &[u8],
        encoding: &'static encoding_rs::Encoding,
    ) -> Result<Input, EngineError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, bytes).unwrap();
        open(&spec::Input {
            encoding,
            ..spec::Input::at(path)
        })
    }

    fn columns(bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> Vec<String> {
        let mut input = open_csv(bytes, encoding).unwrap();
        input
            .schema()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn a_decoded_copy_keeps_a_second_byte_order_mark_out_of_the_names() {
        // The first mark says UTF-8 over the declared encoding; the reader skips the second.
        let bytes = "\u{feff}\u{feff}naam,leeftijd\nJosé,7\n".as_bytes();
        assert_eq!(
            columns(bytes, encoding_rs::WINDOWS_1252),
            ["naam", "leeftijd"]
        );
        let frame = open_csv(bytes, encoding_rs::WINDOWS_1252)
            .unwrap()
            .frame
            .collect()
            .unwrap();
        assert_eq!(
            frame.column("naam").unwrap().str().unwrap().get(0),
            Some("José")
        );
    }

    #[test]
    fn bytes_the_declared_encoding_does_not_have_are_refused_by_line() {
        // 0x82 opens a two-byte character in Shift_JIS; a newline cannot end it.
        let Err(EngineError::Input { problem, .. }) =
            open_csv(b"naam,leeftijd\nJos\x82\n,7\n", encoding_rs::SHIFT_JIS)
        else {
            panic!("a malformed file was read");
        };
        assert!(
            problem.starts_with("line 2 holds bytes that are no text in Shift_JIS"),
            "{problem}"
        );
    }

    #[test]
    fn carriage_returns_alone_as_line_ends_are_found_in_the_first_line() {
        assert!(lone_carriage_return_in(b"bsn\r111222333\r100000009\r"));
        assert!(lone_carriage_return_in(b"a,b\r1,2\r3,4\n"));
        assert!(!lone_carriage_return_in(b"a,b\r\n1,2\r\n"));
        assert!(!lone_carriage_return_in(b"a,b\n1,\"x\ry\"\n"));
        assert!(!lone_carriage_return_in(b"a,b\r"));
        assert!(!lone_carriage_return_in(b""));
    }

    #[test]
    fn a_header_like_zstd_is_text_in_windows_1252() {
        assert_eq!(
            columns(b"\x28\xb5\x2f\xfda,b\n1,2\n", encoding_rs::WINDOWS_1252),
            ["(µ/ýa", "b"]
        );
    }

    #[test]
    fn a_half_character_at_the_end_is_refused() {
        // Once the copy became `x^` and a replacement character: like zlib, yet text.
        assert!(open_csv(b"x^\x82", encoding_rs::SHIFT_JIS).is_err());
    }

    #[test]
    fn a_decoded_copy_that_starts_like_zlib_is_read_as_text() {
        assert_eq!(
            columns(b"x^a,b\n1,2\n", encoding_rs::WINDOWS_1252),
            ["x^a", "b"]
        );
        assert_eq!(columns(b"x^a,b\n1,2\n", encoding_rs::UTF_8), ["x^a", "b"]);
    }

    proptest::proptest! {
        /// A decoded copy is the decoder's output, whole, behind a byte order mark exactly
        /// when that output starts like zlib; or, if decoding would replace anything, an
        /// error.
        #[test]
        fn a_copy_is_the_decoded_text(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            which in 0usize..3,
            zlib_like in proptest::prelude::any::<bool>(),
        ) {
            let encoding = [encoding_rs::WINDOWS_1252, encoding_rs::SHIFT_JIS, encoding_rs::ISO_8859_15][which];
            let bytes = if zlib_like { [b"x^".as_slice(), &bytes].concat() } else { bytes };
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("export.csv");
            std::fs::write(&path, &bytes).unwrap();
            let (text, _, replaced) = encoding.decode(&bytes);
            match copy_for_polars(&path, Some(encoding)) {
                Err(_) => proptest::prop_assert!(replaced),
                Ok(file) => {
                    proptest::prop_assert!(!replaced);
                    let copy = Map::of(&file).unwrap().buffer().to_vec();
                    let marked = start_of_bytes(text.as_bytes()) == Start::LikeZlib;
                    let expected = [if marked { b"\xef\xbb\xbf".as_slice() } else { b"" }, text.as_bytes()].concat();
                    proptest::prop_assert_eq!(copy, expected);
                }
            }
        }
    }
}
