//! Writing the extract: into a temporary file beside the target, renamed over it only
//! when complete and synced, so a failed run never leaves a partial file at the target.
//! (A process killed outright leaves the hidden temporary file; inputs skip hidden files.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::datatypes::{ArrowSchema, Metadata};
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, Compressor, DynIter, DynStreamingIterator, Encoding,
    FileWriter as ParquetFileWriter, ParquetType, StatisticsOptions, Version, WriteOptions,
    ZstdLevel, array_to_columns, fallible_streaming_iterator, to_parquet_schema,
};
use rayon::prelude::*;
use tempfile::NamedTempFile;

use super::{EngineError, safe_summary};
use crate::spec::Format;

/// Batches waiting for the writer thread: one queued while another is written, so that
/// encoding and compressing one batch overlaps transforming the next.
const QUEUED_BATCHES: usize = 1;

/// An output in the making. Batches are written, in the order given, by a thread of
/// its own.
pub struct OutputFile {
    target: PathBuf,
    /// The columns and types every batch must have.
    schema: Schema,
    /// Declared before `temp`: dropped (stopped) before the file is removed.
    worker: Worker,
    temp: NamedTempFile,
    /// The temporary file removed if the process ends on SIGBUS.
    _fault: super::fault::Registered,
}

/// The writer thread, and the queue of batches to it.
struct Worker {
    /// `None` once closed.
    batches: Option<SyncSender<DataFrame>>,
    /// Set when the output is abandoned: the thread writes no further batch.
    abandoned: Arc<AtomicBool>,
    /// Gives the writer back when the queue is closed and empty, or its first error.
    thread: Option<JoinHandle<Result<Writer, EngineError>>>,
}

impl Worker {
    fn send(&mut self, frame: DataFrame) -> Result<(), EngineError> {
        match &self.batches {
            Some(batches) if batches.send(frame).is_ok() => Ok(()),
            // The thread has stopped, on an error: report it.
            _ => self.stop().and_then(|_| {
                Err(EngineError::Internal(
                    "the writer thread stopped early".into(),
                ))
            }),
        }
    }

    /// Close the queue and wait for the thread to write what is in it.
    fn stop(&mut self) -> Result<Writer, EngineError> {
        self.batches = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(EngineError::Internal("the writer thread panicked".into())),
            None => Err(EngineError::Internal(
                "the writer thread was stopped".into(),
            )),
        }
    }
}

impl Drop for Worker {
    /// A run that fails lets the thread finish the batch at hand, and write no other,
    /// before its temporary file is removed.
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Write the batches in the order received until the queue closes; stop at the
    /// first error.
    fn write_all(
        mut self,
        batches: Receiver<DataFrame>,
        abandoned: &AtomicBool,
        target: &Path,
    ) -> Result<Self, EngineError> {
        let fail = |e: PolarsError| EngineError::Output {
            path: target.to_owned(),
            problem: write_summary(&e),
        };
        for mut frame in batches {
            if abandoned.load(Ordering::Relaxed) {
                break;
            }
            frame.rechunk_mut();
            match &mut self {
                Self::Parquet(sink) => {
                    for batch in frame.iter_chunks(CompatLevel::newest(), false) {
                        sink.write(batch).map_err(fail)?;
                    }
                }
                Self::Ipc(writer) => {
                    for batch in frame.iter_chunks(CompatLevel::oldest(), false) {
                        writer.write(&batch, None).map_err(fail)?;
                    }
                }
                Self::Csv(writer) => {
                    neutralise_formulas(&mut frame).map_err(fail)?;
                    writer.write_batch(&frame).map_err(fail)?
                }
            }
        }
        Ok(self)
    }
}

/// Whether a spreadsheet opening a CSV file would take a cell starting like `text` for a
/// formula (OWASP's list: `=`, `+`, `-`, `@`, tab, carriage return; with their
/// full-width forms, which some spreadsheets fold).
pub fn starts_like_formula(text: &str) -> bool {
    text.starts_with([
        '=', '+', '-', '@', '\t', '\r', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
    ])
}

/// Text values of a CSV batch that a spreadsheet would evaluate get a `'` in front
/// (OWASP's rule for CSV injection): the value is then shown as text. Parquet and IPC
/// outputs keep values as they are; nothing there is evaluated.
fn neutralise_formulas(frame: &mut DataFrame) -> PolarsResult<()> {
    let risky: Vec<PlSmallStr> = frame
        .columns()
        .iter()
        .filter(|c| {
            c.dtype() == &DataType::String
                && c.str()
                    .is_ok_and(|s| s.iter().flatten().any(starts_like_formula))
        })
        .map(|c| c.name().clone())
        .collect();
    for name in risky {
        let safe = frame.column(&name)?.str()?.apply_values(|v| {
            if starts_like_formula(v) {
                std::borrow::Cow::Owned(format!("'{v}"))
            } else {
                std::borrow::Cow::Borrowed(v)
            }
        });
        frame.replace(&name, safe.into_column())?;
    }
    Ok(())
}

enum Writer {
    Parquet(Box<ParquetSink>),
    Ipc(polars_arrow::io::ipc::write::FileWriter<BufWriter<File>>),
    /// Unbuffered: the CSV writer formats a whole batch before each write.
    Csv(polars::io::csv::write::BatchedWriter<File>),
}

struct ParquetSink {
    writer: ParquetFileWriter<BufWriter<File>>,
    encodings: Vec<Vec<Encoding>>,
    fields: Vec<ParquetType>,
    options: WriteOptions,
}

impl ParquetSink {
    /// Encode and compress a row group's columns in parallel (the writer would otherwise
    /// do it lazily, one column after another, as it writes), then write them in order:
    /// the same pages, so the same bytes.
    fn write(&mut self, batch: RecordBatchT<Box<dyn Array>>) -> PolarsResult<()> {
        let rows = batch.len() as u64;
        let options = self.options;
        let columns: Vec<Vec<Vec<CompressedPage>>> = batch
            .into_arrays()
            .into_par_iter()
            .zip(self.fields.par_iter())
            .zip(self.encodings.par_iter())
            .map(|((array, type_), encodings)| {
                array_to_columns(array, type_.clone(), options, encodings)?
                    .into_iter()
                    .map(|pages| {
                        let pages = pages.map(|page| {
                            page.map_err(|e| ParquetError::OutOfSpec(safe_summary(&e)))
                        });
                        Compressor::new(pages, options.compression, vec![])
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(PolarsError::from)
                    })
                    .collect()
            })
            .collect::<PolarsResult<_>>()?;
        let row_group = DynIter::new(columns.iter().flatten().map(|pages| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(pages.iter().map(PolarsResult::Ok)),
            ))
        }));
        self.writer.write(rows, row_group)
    }
}

impl OutputFile {
    /// Start writing `target` with `schema`; `metadata` is attached to the named fields
    /// (Parquet and IPC keep it; CSV has nowhere to put it).
    pub fn create(
        target: &Path,
        format: Format,
        schema: &Schema,
        metadata: &[(String, Metadata)],
    ) -> Result<Self, EngineError> {
        let fail = |problem: String| EngineError::Output {
            path: target.to_owned(),
            problem,
        };
        // Renaming over a directory fails only at the end; over a device (`/dev/null`),
        // as root, it would replace the device.
        if let Ok(meta) = std::fs::metadata(target)
            && !meta.is_file()
        {
            let what = if meta.is_dir() {
                "a directory"
            } else {
                "a device or other special file"
            };
            return Err(fail(format!(
                "is {what}; doel writes a new file or replaces a regular one"
            )));
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotADirectory => {
                    "a part of the path is a file, not a directory".to_owned()
                }
                kind => kind.to_string(),
            };
            fail(format!("cannot create its directory: {why}"))
        })?;
        let temp = tempfile::Builder::new()
            .prefix(".doel-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| {
                fail(format!(
                    "cannot create a temporary file in its directory: {}",
                    e.kind()
                ))
            })?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|e| fail(e.kind().to_string()))?;
        let polars_fail = |e: PolarsError| fail(write_summary(&e));
        let with_metadata = |compat: CompatLevel| -> ArrowSchema {
            schema
                .to_arrow(compat)
                .into_iter()
                .map(|(name, field)| {
                    let field = match metadata.iter().find(|(n, _)| n.as_str() == name.as_str()) {
                        Some((_, md)) => field.with_metadata(md.clone()),
                        None => field,
                    };
                    (name, field)
                })
                .collect()
        };
        let writer = match format {
            Format::Parquet => {
                let arrow_schema = with_metadata(CompatLevel::newest());
                let options = WriteOptions {
                    statistics: StatisticsOptions::default(),
                    version: Version::V1,
                    compression: CompressionOptions::Zstd(ZstdLevel::try_new(1).ok()),
                    data_page_size: None,
                };
                let fields = to_parquet_schema(&arrow_schema)
                    .map_err(polars_fail)?
                    .fields()
                    .to_vec();
                // Pseudonyms and tokens are unique per person: a dictionary only costs
                // time (it was 7 % of a research run) and is then not used.
                let encodings: Vec<Vec<Encoding>> =
                    polars::io::parquet::write::get_encodings(&arrow_schema)
                        .iter()
                        .zip(arrow_schema.iter())
                        .map(|(leaves, (name, _))| {
                            if metadata.iter().any(|(n, _)| n.as_str() == name.as_str()) {
                                vec![Encoding::Plain; leaves.len()]
                            } else {
                                leaves.clone()
                            }
                        })
                        .collect();
                let sink = BufWriter::with_capacity(1 << 20, file);
                let writer =
                    ParquetFileWriter::try_new(sink, arrow_schema, options).map_err(polars_fail)?;
                Writer::Parquet(Box::new(ParquetSink {
                    writer,
                    encodings,
                    fields,
                    options,
                }))
            }
            Format::Ipc => {
                // The oldest Arrow layouts (large_utf8 rather than utf8_view) for readers of any age.
                let arrow_schema = with_metadata(CompatLevel::oldest());
                let options = polars_arrow::io::ipc::write::WriteOptions { compression: None };
                let sink = BufWriter::with_capacity(1 << 20, file);
                Writer::Ipc(
                    polars_arrow::io::ipc::write::FileWriter::try_new(
                        sink,
                        arrow_schema.into(),
                        None,
                        options,
                    )
                    .map_err(polars_fail)?,
                )
            }
            Format::Csv => Writer::Csv(
                CsvWriter::new(file)
                    .include_header(true)
                    .batched(schema)
                    .map_err(polars_fail)?,
            ),
        };
        let (batches, queue) = sync_channel(QUEUED_BATCHES);
        let path = target.to_owned();
        let abandoned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&abandoned);
        let worker = std::thread::Builder::new()
            .name("doel-writer".into())
            .spawn(move || writer.write_all(queue, &flag, &path))
            .map_err(|e| fail(format!("cannot start the writer thread: {}", e.kind())))?;
        Ok(Self {
            target: target.to_owned(),
            schema: schema.clone(),
            worker: Worker {
                batches: Some(batches),
                abandoned,
                thread: Some(worker),
            },
            _fault: super::fault::remove_on_fault(temp.path()),
            temp,
        })
    }

    /// Append a batch (one Parquet row group or IPC record batch per call). It is
    /// written in the background: a failure to write it is reported by a later call,
    /// or by [`commit`](Self::commit) or [`finish`](Self::finish).
    pub fn write(&mut self, frame: DataFrame) -> Result<(), EngineError> {
        if frame.height() == 0 {
            return Ok(());
        }
        // A batch of other columns, or in another order, would be written under the
        // wrong names (CSV) or fail in the writer.
        if frame.schema().as_ref() != &self.schema {
            return Err(EngineError::Internal(
                "a batch's columns differ from the output's".into(),
            ));
        }
        self.worker.send(frame)
    }

    /// Finish the file, sync it to disk and move it over the target in one rename —
    /// unless the process has been interrupted: then the temporary file is removed and
    /// nothing is written.
    pub fn commit(self) -> Result<PathBuf, EngineError> {
        super::stream::check_interrupted()?;
        let target = self.target.clone();
        let fail = |problem: String| EngineError::Output {
            path: target.clone(),
            problem,
        };
        let temp = self.finish()?;
        // Finishing takes a while on a large output: a Ctrl-C meanwhile still counts.
        super::stream::check_interrupted()?;
        temp.persist(&target).map_err(|e| {
            fail(format!(
                "cannot move the finished file into place: {}",
                e.error.kind()
            ))
        })?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; a failure here loses nothing already written.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(target)
    }

    /// Finish the file but leave it where it is, hidden beside the target: deleted when
    /// the returned handle is dropped. For a pass whose result is read back.
    pub fn finish(mut self) -> Result<NamedTempFile, EngineError> {
        let writer = self.worker.stop()?;
        let fail = |problem: String| EngineError::Output {
            path: self.target.clone(),
            problem,
        };
        let polars_fail = |e: PolarsError| fail(write_summary(&e));
        let buffered = match writer {
            Writer::Parquet(mut sink) => {
                sink.writer.end(None).map_err(polars_fail)?;
                Some(sink.writer.into_inner())
            }
            Writer::Ipc(mut writer) => {
                writer.finish().map_err(polars_fail)?;
                Some(writer.into_inner())
            }
            Writer::Csv(mut writer) => {
                writer.finish().map_err(polars_fail)?;
                None
            }
        };
        if let Some(mut buffered) = buffered {
            buffered.flush().map_err(|e| fail(e.kind().to_string()))?;
        }
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| fail(e.kind().to_string()))?;
        Ok(self.temp)
    }
}

/// What went wrong writing an output, without polars' text (which may quote a value): the
/// kind of an I/O error, such as "no storage space" or "file too large" (polars' writers
/// may carry it only as text ending in "(os error N)"), else a line that says no more.
fn write_summary(error: &PolarsError) -> String {
    if let PolarsError::IO { error, .. } = error {
        return error.kind().to_string();
    }
    error
        .to_string()
        .rsplit_once("(os error ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(code, _)| code.parse::<i32>().ok())
        .map(|code| std::io::Error::from_raw_os_error(code).kind().to_string())
        .unwrap_or_else(|| "the file could not be written".into())
}
