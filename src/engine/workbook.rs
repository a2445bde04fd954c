//! Workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) as input, read with calamine.
//!
//! A sheet is read whole (a workbook holds at most 1 048 576 rows) and written, typed, to
//! an unlinked temporary Arrow IPC file, which the rest of the engine scans as any IPC
//! input: one reader, one set of checks, for every format.
//!
//! Each column takes the type of its cells. Text stays text, so a BSN stored as text
//! keeps its leading zero; a column of numbers is a number column (integers where every
//! number is whole), which the canonical forms read as the number it is; a column of
//! date cells becomes a date column. A column that mixes kinds is text, its numbers
//! written as Excel shows a whole number (`123456782`, not `123456782.0`) and its dates
//! as ISO dates; so is a column of date cells with a time of day
//! (`2026-03-01 08:30:00`). An error cell (`#N/A`) and an empty cell are null.
//!
//! No message holds a cell's value: header problems name the column by its letter, and
//! a workbook's sheets are named (they are the file's structure, not its contents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, DataType as _, Reader};
use polars::prelude::*;

use super::EngineError;
use crate::kernels::canonical;

/// Where a sheet's table is: which sheet (default the first visible worksheet) and the
/// row of its column names (from 1).
pub struct Sheet<'a> {
    pub name: Option<&'a str>,
    pub header_row: u32,
}

/// The most cells (named columns × rows) a sheet may make: a real export of a million
/// rows and 31 columns is 31 million. A cell written far from the rest (`XFD1048576`)
/// would otherwise make a table of terabytes from a file of kilobytes.
const MAX_CELLS: u64 = 200_000_000;

/// The sheet of each workbook in `files`, as unlinked temporary Arrow IPC files in the
/// same order. Where the workbooks of a directory type a column differently (one month
/// all numbers, the next a mix), it is text in all of them; where they hold the same
/// columns in another order, they are put in the first one's order.
pub fn to_ipc(files: &[PathBuf], sheet: &Sheet<'_>) -> Result<Vec<std::fs::File>, EngineError> {
    let fail = |file: &Path, problem: String| EngineError::Input {
        path: file.to_owned(),
        problem,
    };
    let mut frames = files
        .iter()
        .map(|file| read(file, sheet).map_err(|p| fail(file, p)))
        .collect::<Result<Vec<_>, _>>()?;
    align(&mut frames).map_err(|p| fail(&files[0], p))?;
    files
        .iter()
        .zip(&mut frames)
        .map(|(file, frame)| {
            let mut temp = tempfile::tempfile().map_err(|e| {
                fail(
                    file,
                    format!(
                        "cannot create a temporary copy to read it through: {}",
                        e.kind()
                    ),
                )
            })?;
            IpcWriter::new(&mut temp).finish(frame).map_err(|e| {
                fail(
                    file,
                    format!("cannot write the copy: {}", super::safe_summary(&e)),
                )
            })?;
            Ok(temp)
        })
        .collect()
}

/// The workbooks of a directory made alike: the first one's column order, and text where
/// their types differ.
fn align(frames: &mut [DataFrame]) -> Result<(), String> {
    let Some(first) = frames.first() else {
        return Ok(());
    };
    let order: Vec<PlSmallStr> = first.get_column_names_owned();
    let mut to_text = Vec::new();
    for name in &order {
        let types: Vec<Option<&DataType>> = frames
            .iter()
            .map(|f| f.column(name).ok().map(Column::dtype))
            .collect();
        if types.iter().flatten().any(|t| Some(*t) != types[0]) {
            to_text.push(name.clone());
        }
    }
    for frame in frames.iter_mut() {
        let mut same: Vec<PlSmallStr> = frame.get_column_names_owned();
        same.sort();
        let mut expected = order.clone();
        expected.sort();
        if same == expected {
            *frame = frame
                .select(order.clone())
                .map_err(|e| super::safe_summary(&e))?;
        }
        for name in &to_text {
            if let Ok(column) = frame.column(name) {
                let text = column
                    .cast(&DataType::String)
                    .map_err(|e| super::safe_summary(&e))?;
                frame
                    .with_column(text)
                    .map_err(|e| super::safe_summary(&e))?;
            }
        }
    }
    Ok(())
}

static EMPTY: Data = Data::Empty;

/// A sheet's cells that hold something: (row, column) from 0, and the value.
type Cells = Vec<((u32, u32), Data)>;

fn read(file: &Path, sheet: &Sheet<'_>) -> Result<DataFrame, String> {
    let head = super::input::head_of(file).map_err(|e| e.kind().to_string())?;
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    // An OLE compound file: an .xls, or an .xlsx or .xlsb that is encrypted (the
    // compound file holds the encrypted package), whatever its name says.
    let compound = head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let xls = || {
        calamine::open_workbook::<calamine::Xls<_>, _>(file)
            .map(calamine::Sheets::Xls)
            .map_err(calamine::Error::Xls)
    };
    let xlsx = || {
        calamine::open_workbook::<calamine::Xlsx<_>, _>(file)
            .map(calamine::Sheets::Xlsx)
            .map_err(calamine::Error::Xlsx)
    };
    let opened = match extension.as_deref() {
        _ if compound => xls().or_else(|e| match e {
            calamine::Error::Xls(calamine::XlsError::Password) => Err(e),
            _ => xlsx(),
        }),
        Some("xls") => xls(),
        Some("xlsb") => calamine::open_workbook::<calamine::Xlsb<_>, _>(file)
            .map(calamine::Sheets::Xlsb)
            .map_err(calamine::Error::Xlsb),
        Some("ods") => calamine::open_workbook::<calamine::Ods<_>, _>(file)
            .map(calamine::Sheets::Ods)
            .map_err(calamine::Error::Ods),
        _ => xlsx(),
    };
    let mut workbook = opened.map_err(|e| unreadable(&e))?;
    let name = chosen(workbook.sheets_metadata(), sheet.name)?;
    let cells = cells(&mut workbook, &name).map_err(|e| unreadable(&e))?;
    table(cells, sheet.header_row)
        .map_err(|problem| format!("sheet `{}`: {problem}", crate::text::escaped(&name)))
}

/// The sheet asked for, or the first visible worksheet (a hidden sheet may hold raw or
/// lookup data the analyst never sees; a chart sheet holds no table).
fn chosen(sheets: &[calamine::Sheet], wanted: Option<&str>) -> Result<String, String> {
    let Some(wanted) = wanted else {
        return sheets
            .iter()
            .find(|s| {
                s.typ == calamine::SheetType::WorkSheet
                    && s.visible == calamine::SheetVisible::Visible
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| "has no visible worksheet: name the sheet with [input] sheet".into());
    };
    sheets
        .iter()
        .find(|s| s.name == wanted)
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            let listed: Vec<String> = sheets
                .iter()
                .map(|s| format!("`{}`", crate::text::escaped(&s.name)))
                .collect();
            format!(
                "has no sheet `{}` ([input] sheet); its sheets are {}",
                crate::text::escaped(wanted),
                listed.join(", ")
            )
        })
}

/// The cells of sheet `name` that hold something. Excel's formats are streamed cell by
/// cell, so that memory follows the cells there are, not the rectangle around them; an
/// .xls (at most 65 536 × 256) and an .ods are read as calamine reads them.
fn cells<R: std::io::Read + std::io::Seek>(
    workbook: &mut calamine::Sheets<R>,
    name: &str,
) -> Result<Cells, calamine::Error> {
    let mut out = Cells::new();
    let mut keep = |(row, column): (u32, u32), value: Data| {
        if !value.is_empty() {
            out.push(((row, column), value));
        }
    };
    match workbook {
        calamine::Sheets::Xlsx(book) => {
            let mut reader = book.worksheet_cells_reader(name)?;
            while let Some(cell) = reader.next_cell()? {
                keep(cell.get_position(), Data::from(cell.get_value().clone()));
            }
        }
        calamine::Sheets::Xlsb(book) => {
            let mut reader = book.worksheet_cells_reader(name)?;
            while let Some(cell) = reader.next_cell()? {
                keep(cell.get_position(), Data::from(cell.get_value().clone()));
            }
        }
        other => {
            let range = other.worksheet_range(name)?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (row, column, value) in range.used_cells() {
                #[allow(clippy::cast_possible_truncation)] // within the sheet's range
                keep((top + row as u32, left + column as u32), value.clone());
            }
        }
    }
    Ok(out)
}

/// What a workbook that calamine cannot open is, said without its contents.
fn unreadable(error: &calamine::Error) -> String {
    use calamine::Error as E;
    match error {
        E::Xlsx(calamine::XlsxError::Password)
        | E::Xls(calamine::XlsError::Password)
        | E::Xlsb(calamine::XlsbError::Password)
        | E::Ods(calamine::OdsError::Password) => {
            "is password-protected (encrypted): save it without a password, or export the sheet to CSV".into()
        }
        E::Io(e) => e.kind().to_string(),
        _ => "cannot be read as a workbook (damaged, or not the format its extension says)".into(),
    }
}

/// The sheet's table: the names in `header_row`, the rows below it down to the last one
/// with a value.
fn table(cells: Cells, header_row: u32) -> Result<DataFrame, String> {
    let header = header_row
        .checked_sub(1)
        .ok_or("[input] header_row counts from 1")?;
    let mut names: BTreeMap<u32, &Data> = BTreeMap::new();
    let mut last = header;
    for ((row, column), value) in &cells {
        if *row == header {
            names.insert(*column, value);
        } else if *row > header {
            last = last.max(*row);
        }
    }
    if names.is_empty() {
        return Err(format!(
            "row {header_row} is empty: it should hold the column names ([input] header_row)"
        ));
    }
    let mut named: BTreeMap<u32, String> = BTreeMap::new();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for (&column, cell) in &names {
        let name = match cell {
            Data::String(s) => s.trim().to_owned(),
            Data::Int(_) | Data::Float(_) => {
                return Err(format!(
                    "column {}: the header row holds a number, not a column name: is the header row missing? ([input] header_row)",
                    column_letter(column)
                ));
            }
            _ => {
                return Err(format!(
                    "column {}: the header row holds a date, a truth value or an error, not a column name: is the header row missing? ([input] header_row)",
                    column_letter(column)
                ));
            }
        };
        if name.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(&name) {
            return Err(format!(
                "columns {} and {} have the same name; an export's column names must differ",
                column_letter(*first),
                column_letter(column)
            ));
        }
        seen.insert(name.clone(), column);
        named.insert(column, name);
    }
    let rows = (last - header) as usize;
    let width = named.len() as u64;
    if width * rows as u64 > MAX_CELLS {
        return Err(format!(
            "{width} columns of {rows} rows is more than doel reads from a sheet ({MAX_CELLS} cells): is there a stray cell far below or beside the table? Otherwise export the sheet to CSV or Parquet"
        ));
    }
    let position: BTreeMap<u32, usize> = named.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut grid: Vec<Vec<Option<&Data>>> = vec![vec![None; rows]; named.len()];
    for ((row, column), value) in &cells {
        if *row <= header {
            continue;
        }
        // A value in a column without a name (a merged header cell names only its first
        // column) belongs to no column a pipeline can name.
        let Some(&i) = position.get(column) else {
            return Err(format!(
                "column {} has values but no name in row {header_row} (a merged or empty header cell?): name every column",
                column_letter(*column)
            ));
        };
        grid[i][(row - header - 1) as usize] = Some(value);
    }
    let columns: Vec<Column> = named
        .values()
        .zip(&grid)
        .map(|(name, cells)| column(name, cells.iter().map(|c| c.unwrap_or(&EMPTY))))
        .collect();
    DataFrame::new_infer_height(columns).map_err(|e| super::safe_summary(&e))
}

/// `A`, `B`, …, `Z`, `AA`: a column as Excel names it, from 0.
fn column_letter(index: u32) -> String {
    let mut index = index as usize;
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// What a column's cells hold, as far as its type goes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Whole,
    Number,
    Date,
    DateTime,
    Bool,
}

/// The kind of one cell; `None` for a cell that is null.
fn kind(cell: &Data) -> Option<Kind> {
    Some(match cell {
        Data::Empty | Data::Error(_) => return None,
        Data::String(_) | Data::DurationIso(_) => Kind::Text,
        Data::Int(_) => Kind::Whole,
        Data::Float(f) if whole(*f) => Kind::Whole,
        Data::Float(_) => Kind::Number,
        Data::Bool(_) => Kind::Bool,
        // A duration, or a time of day without a date (serial below 1).
        Data::DateTime(d) if d.is_duration() || d.as_f64() < 1.0 => Kind::Text,
        Data::DateTime(_) | Data::DateTimeIso(_) => match datetime(cell) {
            Some(t) if t.time() == chrono::NaiveTime::MIN => Kind::Date,
            Some(_) => Kind::DateTime,
            None => Kind::Text,
        },
    })
}

/// A float that is a whole number a 64-bit integer holds exactly.
fn whole(f: f64) -> bool {
    f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0
}

fn datetime(cell: &Data) -> Option<chrono::NaiveDateTime> {
    match cell {
        Data::DateTime(d) => d.as_datetime(),
        Data::DateTimeIso(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .map(|d| d.and_time(chrono::NaiveTime::MIN))
            }),
        _ => None,
    }
}

/// A cell as text, for a column of mixed kinds.
fn text(cell: &Data) -> Option<String> {
    Some(match cell {
        Data::Empty | Data::Error(_) => return None,
        Data::String(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        #[allow(clippy::cast_possible_truncation)] // whole and within 2^53
        Data::Float(f) if whole(*f) => (*f as i64).to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_duration() => {
            #[allow(clippy::cast_possible_truncation)] // seconds of a duration
            let seconds = (d.as_f64() * 86_400.0).round() as i64;
            format!(
                "PT{:02}H{:02}M{:02}S",
                seconds / 3600,
                seconds % 3600 / 60,
                seconds % 60
            )
        }
        Data::DateTime(d) if d.as_f64() < 1.0 => match datetime(cell) {
            Some(t) => t.format("%H:%M:%S").to_string(),
            None => cell.to_string(),
        },
        Data::DateTime(_) | Data::DateTimeIso(_) => match (kind(cell), datetime(cell)) {
            (Some(Kind::Date), Some(t)) => t.date().to_string(),
            (_, Some(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            (_, None) => cell.to_string(),
        },
    })
}

fn column<'c>(name: &str, cells: impl Iterator<Item = &'c Data> + Clone) -> Column {
    let mut kinds = cells.clone().filter_map(kind);
    let first = kinds.next();
    let one = kinds.try_fold(first, |acc, k| match (acc, k) {
        (Some(a), b) if a == b => Some(Some(a)),
        (Some(Kind::Whole | Kind::Number), Kind::Whole | Kind::Number) => Some(Some(Kind::Number)),
        (Some(Kind::Date | Kind::DateTime), Kind::Date | Kind::DateTime) => {
            Some(Some(Kind::DateTime))
        }
        _ => None,
    });
    let name = PlSmallStr::from(name);
    match one.flatten() {
        // A column of nulls only: text, as a CSV column would be.
        None | Some(Kind::Text) => Column::new(name, cells.map(text).collect::<Vec<_>>()),
        // One form for the whole column, with the time, also at midnight.
        Some(Kind::DateTime) => Column::new(
            name,
            cells
                .map(|c| datetime(c).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()))
                .collect::<Vec<_>>(),
        ),
        Some(Kind::Whole) => Column::new(
            name,
            cells
                .map(|c| match c {
                    Data::Int(i) => Some(*i),
                    #[allow(clippy::cast_possible_truncation)] // whole and within 2^53
                    Data::Float(f) => Some(*f as i64),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(Kind::Number) => Column::new(
            name,
            cells
                .map(|c| match c {
                    #[allow(clippy::cast_precision_loss)] // as Excel holds it
                    Data::Int(i) => Some(*i as f64),
                    Data::Float(f) => Some(*f),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(Kind::Bool) => Column::new(
            name,
            cells
                .map(|c| match c {
                    Data::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(Kind::Date) => {
            let days: Vec<Option<i32>> = cells
                .map(|c| datetime(c).map(|t| canonical::days_from_date(t.date())))
                .collect();
            Column::new(name, days)
                .cast(&DataType::Date)
                .expect("days since 1970 are a date")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_durations_and_date_times_are_text_in_one_form() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        let at = |serial: f64, kind| Data::DateTime(ExcelDateTime::new(serial, kind, false));
        let strings = |column: Column| -> Vec<Option<String>> {
            column
                .str()
                .unwrap()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect()
        };
        let duration = at(1.25, ExcelDateTimeType::TimeDelta);
        let time = at(8.5 / 24.0, ExcelDateTimeType::DateTime);
        assert_eq!(
            strings(column("t", [duration, time].iter())),
            [Some("PT30H00M00S".into()), Some("08:30:00".into())]
        );
        // 2024-03-01 08:30 and 2024-03-02 (midnight): one form, with the time.
        let cells = [
            at(45_352.0 + 8.5 / 24.0, ExcelDateTimeType::DateTime),
            at(45_353.0, ExcelDateTimeType::DateTime),
        ];
        assert_eq!(
            strings(column("m", cells.iter())),
            [
                Some("2024-03-01 08:30:00".into()),
                Some("2024-03-02 00:00:00".into())
            ]
        );
    }

    #[test]
    fn the_workbooks_of_a_directory_are_typed_alike() {
        let mut frames = [
            df!("bsn" => [123_456_782_i64], "n" => [1_i64]).unwrap(),
            df!("n" => [2_i64], "bsn" => ["012345672"]).unwrap(),
        ];
        align(&mut frames).unwrap();
        for frame in &frames {
            assert_eq!(frame.get_column_names(), ["bsn", "n"]);
            assert_eq!(frame.column("bsn").unwrap().dtype(), &DataType::String);
            assert_eq!(frame.column("n").unwrap().dtype(), &DataType::Int64);
        }
        assert_eq!(
            frames[0].column("bsn").unwrap().str().unwrap().get(0),
            Some("123456782")
        );
    }

    #[test]
    fn columns_are_named_as_excel_names_them() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn a_column_takes_the_type_of_its_cells() {
        let types = |cells: &[Data]| column("x", cells.iter()).dtype().clone();
        assert_eq!(types(&[Data::Int(1), Data::Float(2.0)]), DataType::Int64);
        assert_eq!(types(&[Data::Int(1), Data::Float(2.5)]), DataType::Float64);
        assert_eq!(types(&[Data::Empty, Data::Empty]), DataType::String);
        let mixed = column(
            "x",
            [Data::Float(123_456_782.0), Data::String("012345678".into())].iter(),
        );
        assert_eq!(mixed.dtype(), &DataType::String);
        assert_eq!(
            mixed.str().unwrap().iter().collect::<Vec<_>>(),
            [Some("123456782"), Some("012345678")]
        );
        let error = Data::Error(calamine::CellErrorType::NA);
        assert_eq!(types(&[error, Data::Bool(true)]), DataType::Boolean);
    }
}
