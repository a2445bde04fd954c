//! Workbooks as input: the sample export written to `.xlsx` by a real writer
//! (rust_xlsxwriter), as an administration system writes it, and run as an analyst
//! runs it; and every refusal, without a cell value in its message.

mod common;
#[path = "common/frames.rs"]
mod frames;

use common::{RUN_DATE, doel, repo};
use frames::{read_parquet, sample};

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use tempfile::TempDir;

const RESEARCH: &str = "pipelines/onderzoek-ontwikkeling.toml";

/// `frame` into `sheet` from row `top` (0-based): names, then the rows. Text as text,
/// except the child's BSN: all digits, it is written as the number an administration
/// system makes of it, its leading zero lost, which the canonical form restores. (Not
/// where that leaves fewer than 8 digits: those are no BSN by the canonical form, and the
/// row would rightly count as invalid; docs/inputs.md tells analysts to store BSNs as
/// text.) Dates as date cells, numbers as numbers, truth values as truth values.
fn write_frame(sheet: &mut Worksheet, frame: &DataFrame, top: u32) {
    let date = Format::new().set_num_format("dd-mm-yyyy");
    for (c, column) in frame.columns().iter().enumerate() {
        let c = u16::try_from(c).unwrap();
        sheet.write_string(top, c, column.name().as_str()).unwrap();
        let series = column.as_materialized_series();
        for r in 0..series.len() {
            let row = top + 1 + u32::try_from(r).unwrap();
            match series.get(r).unwrap() {
                AnyValue::Null => {}
                AnyValue::String(s)
                    if column.name() == "kind_bsn"
                        && !s.is_empty()
                        && s.trim_start_matches('0').len() >= 8
                        && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    sheet
                        .write_number(row, c, s.parse::<f64>().unwrap())
                        .unwrap();
                }
                AnyValue::String(s) => {
                    sheet.write_string(row, c, s).unwrap();
                }
                AnyValue::Float64(f) => {
                    sheet.write_number(row, c, f).unwrap();
                }
                AnyValue::Boolean(b) => {
                    sheet.write_boolean(row, c, b).unwrap();
                }
                AnyValue::Date(days) => {
                    let day =
                        chrono::NaiveDate::default() + chrono::Duration::days(i64::from(days));
                    let cell = ExcelDateTime::parse_from_str(&day.to_string()).unwrap();
                    sheet
                        .write_datetime_with_format(row, c, &cell, &date)
                        .unwrap();
                }
                other => panic!("no cell for {other:?}"),
            }
        }
    }
}

/// The sample as a workbook: a first sheet of notes, the export on sheet "Klanten" with
/// a title row above its names (row 2).
fn sample_workbook(dir: &TempDir) -> PathBuf {
    let mut book = Workbook::new();
    book.add_worksheet()
        .set_name("Toelichting")
        .unwrap()
        .write_string(0, 0, "Export uit het klantsysteem")
        .unwrap();
    let sheet = book.add_worksheet().set_name("Klanten").unwrap();
    sheet.write_string(0, 0, "Klantexport december").unwrap();
    write_frame(sheet, &sample(), 1);
    let path = dir.path().join("export.xlsx");
    book.save(&path).unwrap();
    path
}

/// The research pipeline reading `input` (with its `[input]` lines `extra`).
fn pipeline(dir: &TempDir, input: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo(RESEARCH)).unwrap().replace(
        "path = \"sample-data/export.parquet\"",
        &format!("path = {:?}\n{extra}", input.display().to_string()),
    );
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &TempDir, pipeline: &Path, output: &str) -> std::process::Output {
    doel(dir)
        .arg("run")
        .arg(pipeline)
        .arg("--output")
        .arg(dir.path().join(output))
        .arg("--key-file")
        .arg(repo("sample-data/demo.key"))
        .arg("--run-date")
        .arg(RUN_DATE)
        .output()
        .unwrap()
}

/// The account of a run without the lines that name its files.
fn account(out: &std::process::Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .filter(|l| {
            ![
                "read", "written", "manifest", "report", "register", "pipeline",
            ]
            .iter()
            .any(|w| l.starts_with(w))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn research_on_an_xlsx_export_gives_the_parquet_extract() {
    let dir = TempDir::new().unwrap();
    let workbook = sample_workbook(&dir);
    let from_parquet = run(
        &dir,
        &pipeline(&dir, &repo("sample-data/export.parquet"), ""),
        "p.parquet",
    );
    assert!(
        from_parquet.status.success(),
        "{}",
        String::from_utf8_lossy(&from_parquet.stderr)
    );
    let from_workbook = run(
        &dir,
        &pipeline(&dir, &workbook, "sheet = \"Klanten\"\nheader_row = 2"),
        "w.parquet",
    );
    assert!(
        from_workbook.status.success(),
        "{}",
        String::from_utf8_lossy(&from_workbook.stderr)
    );
    let stdout = String::from_utf8_lossy(&from_workbook.stdout);
    assert!(stdout.contains("read       3000 rows from "), "{stdout}");
    // The same exclusions, rejections and retention, counted alike.
    assert_eq!(account(&from_workbook), account(&from_parquet));
    // The same extract: the same pseudonyms, generalisations and rows, in order.
    let (p, w) = (
        read_parquet(&dir.path().join("p.parquet")),
        read_parquet(&dir.path().join("w.parquet")),
    );
    assert_eq!(p.height(), w.height());
    assert!(p.equals_missing(&w), "{p}\n{w}");
}

#[test]
fn plan_scan_and_check_read_the_cell_types() {
    let dir = TempDir::new().unwrap();
    let workbook = sample_workbook(&dir);
    let pipeline = pipeline(&dir, &workbook, "sheet = \"Klanten\"\nheader_row = 2");
    let out = doel(&dir).arg("plan").arg(&pipeline).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8(out.stdout).unwrap();
    for (column, kind) in [
        ("kind_bsn", "text"),
        ("kind_geboortedatum", "date"),
        ("uren_per_maand", "float"),
        ("verwerking_beperkt", "boolean"),
    ] {
        assert!(
            plan.lines()
                .any(|l| l.starts_with(column) && l.split_whitespace().nth(1) == Some(kind)),
            "{column}: {plan}"
        );
    }
    let out = doel(&dir)
        .args(["scan", "--sheet", "Klanten", "--header-row", "2"])
        .arg(&workbook)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3000 rows"));
    let out = doel(&dir).arg("check").arg(&pipeline).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A value no message may repeat.
const SECRET: &str = "Jansen-123456782";

/// A workbook of one sheet, "Blad1", written by `fill`.
fn workbook(dir: &TempDir, name: &str, fill: impl FnOnce(&mut Worksheet)) -> PathBuf {
    let mut book = Workbook::new();
    fill(book.add_worksheet().set_name("Blad1").unwrap());
    let path = dir.path().join(name);
    book.save(&path).unwrap();
    path
}

/// `doel scan` of `path` (with `args`) fails with exit code 3 and `message`, naming the
/// file and no cell value.
fn refused(dir: &TempDir, path: &Path, args: &[&str], message: &str) {
    let out = doel(dir).arg("scan").args(args).arg(path).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("error: input {}: {message}", path.display())),
        "{stderr}"
    );
    assert!(
        !stderr.contains(SECRET) && !stderr.contains("123456782"),
        "{stderr}"
    );
}

#[test]
fn every_workbook_refusal_names_the_file_and_no_value() {
    let dir = TempDir::new().unwrap();
    let names = |sheet: &mut Worksheet| {
        sheet.write_string(0, 0, "naam").unwrap();
        sheet.write_string(0, 1, "bsn").unwrap();
        sheet.write_string(1, 0, SECRET).unwrap();
        sheet.write_number(1, 1, 123_456_782).unwrap();
    };
    let good = workbook(&dir, "good.xlsx", names);
    refused(
        &dir,
        &good,
        &["--sheet", "Klanten"],
        "has no sheet `Klanten` ([input] sheet); its sheets are `Blad1`",
    );
    refused(
        &dir,
        &good,
        &["--header-row", "5"],
        "sheet `Blad1`: row 5 is empty: it should hold the column names ([input] header_row)",
    );
    // Each sheet as a careless export makes it, and what doel says of it.
    type Fill = Box<dyn Fn(&mut Worksheet)>;
    let cases: [(&str, Fill, &str); 6] = [
        (
            "headless.xlsx",
            // The header row missing: the first row is a record.
            Box::new(|s| {
                s.write_string(0, 0, SECRET).unwrap();
                s.write_number(0, 1, 123_456_782).unwrap();
            }),
            "sheet `Blad1`: column B: the header row holds a number, not a column name: is the header row missing? ([input] header_row)",
        ),
        (
            "named-like-data.xlsx",
            Box::new(|s| {
                s.write_string(0, 0, "123456782").unwrap();
                s.write_string(1, 0, SECRET).unwrap();
            }),
            "row 1 holds data (a BSN, date, IBAN, e-mail address, phone number or postcode), not column names: the header row is missing",
        ),
        (
            "twice.xlsx",
            Box::new(move |s| {
                names(s);
                s.write_string(0, 2, "naam").unwrap();
                s.write_string(1, 2, SECRET).unwrap();
            }),
            "sheet `Blad1`: columns A and C have the same name; an export's column names must differ",
        ),
        (
            "merged.xlsx",
            // Merged header cells: the name stands in the first cell only.
            Box::new(|s| {
                s.merge_range(0, 0, 0, 1, "persoon", &Format::new())
                    .unwrap();
                s.write_string(1, 0, SECRET).unwrap();
                s.write_number(1, 1, 123_456_782).unwrap();
            }),
            "sheet `Blad1`: column B has values but no name in row 1 (a merged or empty header cell?): name every column",
        ),
        (
            "stray.xlsx",
            // A cell far below a wide table would make a table of billions of cells.
            Box::new(|s| {
                for c in 0..250 {
                    s.write_string(0, c, format!("k{c}")).unwrap();
                }
                s.write_string(999_999, 0, SECRET).unwrap();
            }),
            "sheet `Blad1`: 250 columns of 999999 rows is more than doel reads from a sheet (200000000 cells): is there a stray cell far below or beside the table? Otherwise export the sheet to CSV or Parquet",
        ),
        (
            "beside.xlsx",
            // ... and beside it, in a column without a name.
            Box::new(move |s| {
                names(s);
                s.write_string(1_048_575, 16_383, SECRET).unwrap();
            }),
            "sheet `Blad1`: column XFD has values but no name in row 1 (a merged or empty header cell?): name every column",
        ),
    ];
    for (name, fill, message) in cases {
        let path = workbook(&dir, name, fill);
        refused(&dir, &path, &[], message);
    }
    // Encrypted with the password "geheim" by msoffcrypto-tool (an OLE compound file
    // holding the encrypted package), from a sheet with SECRET in it.
    let encrypted = dir.path().join("encrypted.xlsx");
    std::fs::copy(repo("tests/data/encrypted.xlsx"), &encrypted).unwrap();
    refused(
        &dir,
        &encrypted,
        &[],
        "is password-protected (encrypted): save it without a password, or export the sheet to CSV",
    );
    // A compound file that is neither an .xls nor an encrypted package.
    let compound = dir.path().join("compound.xlsx");
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(4096, 0);
    std::fs::write(&compound, bytes).unwrap();
    refused(
        &dir,
        &compound,
        &[],
        "cannot be read as a workbook (damaged, or not the format its extension says)",
    );
    let corrupt = dir.path().join("corrupt.xlsx");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, bytes).unwrap();
    refused(
        &dir,
        &corrupt,
        &[],
        "cannot be read as a workbook (damaged, or not the format its extension says)",
    );
}

#[test]
fn a_directory_of_workbooks_is_read_as_one_export() {
    let dir = TempDir::new().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    let frame = sample();
    for (i, part) in [frame.slice(0, 1000), frame.slice(1000, 2000)]
        .iter()
        .enumerate()
    {
        let mut book = Workbook::new();
        write_frame(book.add_worksheet(), part, 0);
        book.save(exports.join(format!("deel-{i}.xlsx"))).unwrap();
    }
    // The lock file Excel leaves beside a workbook that is open is no export.
    std::fs::write(exports.join("~$deel-0.xlsx"), b"\x0bAnalist  ").unwrap();
    let out = run(&dir, &pipeline(&dir, &exports, ""), "x.parquet");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("read       3000 rows from 2 files"),
        "{stdout}"
    );
}

/// The default sheet is the first visible worksheet: a hidden one may hold what the
/// analyst never sees.
#[test]
fn a_hidden_first_sheet_is_not_the_default() {
    let dir = TempDir::new().unwrap();
    let mut book = Workbook::new();
    let hidden = book.add_worksheet().set_name("Ruw").unwrap();
    hidden.write_string(0, 0, "geheim").unwrap();
    hidden.set_hidden(true);
    let shown = book.add_worksheet().set_name("Klanten").unwrap();
    shown.write_string(0, 0, "opvangsoort").unwrap();
    shown.write_string(1, 0, "dagopvang").unwrap();
    // Excel shows the active sheet; a hidden one cannot be active.
    shown.set_active(true);
    let path = dir.path().join("hidden.xlsx");
    book.save(&path).unwrap();
    let out = doel(&dir).arg("scan").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("opvangsoort") && !stdout.contains("geheim"),
        "{stdout}"
    );
}

/// Times, durations and date-times come out in one form per column, never as a made-up
/// date: read into a CSV extract, as text.
#[test]
fn times_and_durations_are_text_in_one_form() {
    let dir = TempDir::new().unwrap();
    let time = Format::new().set_num_format("hh:mm");
    let duration = Format::new().set_num_format("[hh]:mm:ss");
    let stamp = Format::new().set_num_format("dd-mm-yyyy hh:mm");
    let path = workbook(&dir, "times.xlsx", |s| {
        for (c, name) in ["tijd", "duur", "moment"].iter().enumerate() {
            s.write_string(0, u16::try_from(c).unwrap(), *name).unwrap();
        }
        s.write_datetime_with_format(1, 0, ExcelDateTime::from_hms(8, 30, 0).unwrap(), &time)
            .unwrap();
        s.write_number_with_format(1, 1, 1.25, &duration).unwrap();
        let moment = ExcelDateTime::from_ymd(2024, 3, 1)
            .unwrap()
            .and_hms(8, 30, 0)
            .unwrap();
        s.write_datetime_with_format(1, 2, &moment, &stamp).unwrap();
        let midnight = ExcelDateTime::from_ymd(2024, 3, 2).unwrap();
        s.write_datetime_with_format(2, 2, &midnight, &stamp)
            .unwrap();
    });
    let out = doel(&dir).arg("scan").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for column in ["tijd", "duur", "moment"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(column) && l.contains(" text ")),
            "{column}: {stdout}"
        );
    }
}

#[test]
fn an_extract_is_never_written_as_a_workbook() {
    let dir = TempDir::new().unwrap();
    let out = run(&dir, &repo(RESEARCH), "x.xlsx");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("never workbooks"), "{stderr}");
    assert!(!dir.path().join("x.xlsx").exists());
}
