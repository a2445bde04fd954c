//! `doel scan`: the scan's table and a suggested catalogue for the person at the terminal.
//! Column names, counts and shares only, never a value.

use std::fmt::{self, Write as _};

use super::CliError;
use crate::engine::{self, ColumnScan, Distinct, ScanReport};
use crate::kernels::detect::Kind;
use crate::plan::ColumnType;
use crate::spec::{self, InputFormat};

/// A share at or above this percentage of a column's non-null values is evidence for a
/// category.
const EVIDENCE_PERCENT: u64 = 80;

/// Open and scan `path`, print what was found.
pub(super) fn scan(input: spec::Input, limit: Option<u64>) -> Result<(), CliError> {
    let input = engine::open(&input)?;
    let report = engine::scan(input, limit, super::today())?;
    super::print_out(&Scan(&report).to_string());
    Ok(())
}

/// `--format`: the names of `[input] format`.
pub(super) fn parse_format(s: &str) -> Result<InputFormat, String> {
    match s {
        "parquet" => Ok(InputFormat::Parquet),
        "ipc" => Ok(InputFormat::Ipc),
        "csv" => Ok(InputFormat::Csv),
        "workbook" => Ok(InputFormat::Workbook),
        _ => Err("expected parquet, ipc, csv or workbook".into()),
    }
}

/// `--delimiter`: one ASCII character, as `[input] delimiter`.
pub(super) fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err("expected a single ASCII character, e.g. \";\"".into()),
    }
}

/// A scan report, ready to print.
struct Scan<'a>(&'a ScanReport);

impl fmt::Display for Scan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let files = match report.input_files.as_slice() {
            [one] => one.display().to_string(),
            many => format!("{} files", many.len()),
        };
        writeln!(
            f,
            "scanned    {} rows, {} columns from {files}",
            report.rows,
            report.columns.len()
        )?;
        writeln!(
            f,
            "           (shares of non-null values that look like each kind as a whole; values are never shown)"
        )?;
        writeln!(f)?;
        let name_width = width(report.columns.iter().map(|c| c.name.as_str()), "column");
        let type_width = width(report.columns.iter().map(|c| c.column_type.name()), "type");
        writeln!(
            f,
            "{:name_width$}  {:type_width$}  {:>6}  {:>8}  looks like",
            "column", "type", "null %", "distinct"
        )?;
        for column in &report.columns {
            let distinct = match column.distinct {
                Distinct::Exact(n) => n.to_string(),
                Distinct::MoreThanLimit => format!(">{}", engine::DISTINCT_LIMIT),
                Distinct::NotCounted => "-".into(),
            };
            let shares: Vec<String> = Kind::ALL
                .iter()
                .filter(|&&kind| column.looks_like(kind) > 0)
                .map(|&kind| {
                    format!(
                        "{} {} %",
                        kind.name(),
                        percent(column.looks_like(kind), non_null(column, report.rows))
                    )
                })
                .collect();
            let row = format!(
                "{:name_width$}  {:type_width$}  {:>6}  {:>8}  {}",
                column.name,
                column.column_type.name(),
                percent(column.nulls, report.rows),
                distinct,
                shares.join(", ")
            );
            writeln!(f, "{}", row.trim_end())?;
        }
        if report
            .columns
            .iter()
            .any(|c| c.distinct == Distinct::MoreThanLimit)
        {
            writeln!(
                f,
                "(>{}: more than {} distinct values; not counted further)",
                engine::DISTINCT_LIMIT,
                engine::DISTINCT_LIMIT
            )?;
        }
        writeln!(f)?;
        suggest(f, report)
    }
}

/// The suggested `[columns]` block of a catalogue, one entry per column.
fn suggest(f: &mut fmt::Formatter<'_>, report: &ScanReport) -> fmt::Result {
    writeln!(
        f,
        "# Suggested catalogue entries: a starting point to review, not a catalogue.\n\
         # Guessed from column names and from kinds that at least {EVIDENCE_PERCENT} % of a column's\n\
         # values look like; check every line, above all those marked \"check\".\n\
         # Retention is not guessed: add [retention.NAME] terms and `retention = \"NAME\"`\n\
         # to each column by hand."
    )?;
    writeln!(f, "[columns]")?;
    let entries: Vec<(String, String)> = report
        .columns
        .iter()
        .map(|c| entry(c, non_null(c, report.rows)))
        .collect();
    let entry_width = width(entries.iter().map(|(e, _)| e.as_str()), "");
    for (entry, comment) in entries {
        writeln!(f, "{entry:entry_width$}  # {comment}")?;
    }
    Ok(())
}

/// One catalogue line for `column`, and the comment that gives its evidence.
fn entry(column: &ColumnScan, non_null: u64) -> (String, String) {
    let strong: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|&kind| {
            non_null > 0 && column.looks_like(kind) * 100 >= EVIDENCE_PERCENT * non_null
        })
        .collect();
    let lower = column.name.to_lowercase();
    let hint = NAME_HINTS.iter().find(|(word, _)| lower.contains(word));
    let category = if strong.contains(&Kind::Bsn) {
        // The elfproef is stronger evidence than any name.
        Category::Plain("bsn")
    } else if let Some((_, category)) = hint {
        *category
    } else {
        Category::Plain(strong.first().map_or("other", |&kind| match kind {
            Kind::Bsn => "bsn",
            Kind::Iban => "financial",
            Kind::Email | Kind::Phone => "contact",
            Kind::Postcode => "address",
            Kind::BirthDate => "birth_date",
            Kind::Name => "identifier",
        }))
    };
    let (category, special) = category.parts();
    let subjects = SUBJECT_PREFIXES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, subject)| *subject);
    let column_type = match column.column_type {
        ColumnType::Text => "text",
        ColumnType::Integer => "integer",
        ColumnType::Float => "float",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::Other(_) | ColumnType::Nested(_) => "other",
    };
    let mut line = format!(
        "{} = {{ type = \"{column_type}\", category = \"{category}\"",
        toml_key(&column.name)
    );
    if let Some(special) = special {
        let _ = write!(line, ", special = \"{special}\"");
    }
    match subjects {
        Some(subject) => {
            let _ = write!(line, ", subjects = [\"{subject}\"] }}");
        }
        None => line.push_str(", subjects = [] }"),
    }
    let mut evidence: Vec<String> = strong
        .iter()
        .map(|&kind| {
            format!(
                "{} % {}",
                percent(column.looks_like(kind), non_null),
                kind.name()
            )
        })
        .collect();
    // A name that suggests another category than the values is no evidence for this one.
    if let Some((word, hinted)) = hint
        && hinted.parts() == (category, special)
    {
        evidence.push(format!("name has \"{word}\""));
    }
    if evidence.is_empty() {
        evidence.push("no evidence, check".into());
    }
    if subjects.is_none() {
        evidence.push("check subjects".into());
    }
    (line, evidence.join("; "))
}

/// A catalogue category, or `special` with its kind of special data.
#[derive(Clone, Copy)]
enum Category {
    Plain(&'static str),
    Special(&'static str),
}

impl Category {
    /// The entry's `category`, and its `special` if any.
    fn parts(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Plain(category) => (category, None),
            Self::Special(special) => ("special", Some(special)),
        }
    }
}

/// Words in a column name (lower case) and the category they suggest, most specific
/// first: `emailadres` is contact before it is an address, `huisnummer` an address
/// before it is a number, `contract_id` an identifier before it is a contract.
const NAME_HINTS: &[(&str, Category)] = &[
    ("bsn", Category::Plain("bsn")),
    ("iban", Category::Plain("financial")),
    ("geboorte", Category::Plain("birth_date")),
    ("medisch", Category::Special("health")),
    ("gezondheid", Category::Special("health")),
    ("religie", Category::Special("religion")),
    ("bezwaar", Category::Plain("objection")),
    ("beperk", Category::Plain("restriction")),
    ("notitie", Category::Plain("free_text")),
    ("opmerking", Category::Plain("free_text")),
    ("email", Category::Plain("contact")),
    ("e-mail", Category::Plain("contact")),
    ("telefoon", Category::Plain("contact")),
    ("postcode", Category::Plain("address")),
    ("straat", Category::Plain("address")),
    ("huisnummer", Category::Plain("address")),
    ("adres", Category::Plain("address")),
    ("woonplaats", Category::Plain("area")),
    ("_id", Category::Plain("identifier")),
    ("nummer", Category::Plain("identifier")),
    ("gemeente", Category::Plain("area")),
    ("naam", Category::Plain("identifier")),
    ("tussenvoegsel", Category::Plain("identifier")),
    ("bedrag", Category::Plain("financial")),
    ("toeslag", Category::Plain("financial")),
    ("tarief", Category::Plain("financial")),
    ("contract", Category::Plain("contract")),
    ("start", Category::Plain("contract")),
    ("einde", Category::Plain("contract")),
];

/// Column name prefixes and the data subject they name.
const SUBJECT_PREFIXES: &[(&str, &str)] = &[
    ("kind_", "child"),
    ("ouder_", "parent"),
    ("medewerker_", "staff"),
];

/// Values that are neither null nor blank.
fn non_null(column: &ColumnScan, rows: u64) -> u64 {
    rows.saturating_sub(column.nulls)
}

/// `part` as a whole percentage of `whole`, rounded down, so that `100` means all and
/// `0` none: `<1` for a few.
fn percent(part: u64, whole: u64) -> String {
    match (part, whole) {
        (_, 0) => "-".into(),
        (0, _) => "0".into(),
        _ if part == whole => "100".into(),
        _ => match part * 100 / whole {
            0 => "<1".into(),
            p => p.to_string(),
        },
    }
}

/// The widest of `items` and `header`, in characters.
fn width<'a>(items: impl Iterator<Item = &'a str>, header: &str) -> usize {
    items
        .map(|s| s.chars().count())
        .chain([header.chars().count()])
        .max()
        .unwrap_or(0)
}

/// A column name as a TOML key: bare where TOML allows, quoted otherwise.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, column_type: ColumnType, looks_like: [u64; 7]) -> ColumnScan {
        ColumnScan {
            name: name.into(),
            column_type,
            nulls: 0,
            distinct: Distinct::Exact(10),
            looks_like,
        }
    }

    #[test]
    fn entries_follow_values_then_names() {
        let cases = [
            (
                column("kind_bsn", ColumnType::Text, [98, 0, 0, 0, 0, 0, 0]),
                r#"kind_bsn = { type = "text", category = "bsn", subjects = ["child"] }"#,
                r#"98 % BSN; name has "bsn""#,
            ),
            (
                column("klantnummer", ColumnType::Integer, [100, 0, 0, 0, 0, 0, 0]),
                r#"klantnummer = { type = "integer", category = "bsn", subjects = [] }"#,
                "100 % BSN; check subjects",
            ),
            (
                column("medische_info", ColumnType::Text, [0, 0, 0, 0, 0, 0, 30]),
                r#"medische_info = { type = "text", category = "special", special = "health", subjects = [] }"#,
                r#"name has "medisch"; check subjects"#,
            ),
            (
                column("ouder_mail", ColumnType::Text, [0, 0, 90, 0, 0, 0, 0]),
                r#"ouder_mail = { type = "text", category = "contact", subjects = ["parent"] }"#,
                "90 % e-mail",
            ),
            (
                column("Datum in", ColumnType::Date, [0, 0, 0, 0, 0, 79, 0]),
                r#""Datum in" = { type = "date", category = "other", subjects = [] }"#,
                "no evidence, check; check subjects",
            ),
        ];
        for (scan, line, comment) in cases {
            assert_eq!(entry(&scan, 100), (line.to_owned(), comment.to_owned()));
        }
    }

    #[test]
    fn percentages_say_all_and_none_exactly() {
        assert_eq!(percent(0, 10), "0");
        assert_eq!(percent(1, 1000), "<1");
        assert_eq!(percent(999, 1000), "99");
        assert_eq!(percent(1000, 1000), "100");
        assert_eq!(percent(0, 0), "-");
    }

    #[test]
    fn format_and_delimiter_arguments() {
        assert_eq!(parse_format("ipc"), Ok(InputFormat::Ipc));
        assert_eq!(parse_format("workbook"), Ok(InputFormat::Workbook));
        assert!(parse_format("xlsx").is_err());
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("é").is_err());
    }
}
