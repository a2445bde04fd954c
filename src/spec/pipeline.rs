//! From the file's loose structure to a [`Pipeline`] in which every column entry is one
//! well-formed operation. Errors name the file, the column entry and the offending key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::raw::{
    Action, AreaAction, ColumnSpec, Declaration, Exclusions, Format, Generalisation, Ground,
    InputFormat, InputSpec, LinkPartSpec, MicrodataSpec, OnInvalid, OnViolation, OutputKind,
    PipelineFile, PseudonymKind, Purpose, SourceSpec, TableSpec,
};
use super::schema::{self, Document, Problem};

/// Age bands used when `to = "age_band"` names none: the childcare ages (0-3 day care,
/// 4-11 after-school care, 12-17, 18+).
pub const DEFAULT_AGE_BANDS: [u32; 4] = [0, 4, 12, 18];

/// What [`SpecError`] calls a pipeline file.
pub const PIPELINE: &str = "pipeline file";
/// What [`SpecError`] calls a catalogue file.
pub const CATALOGUE: &str = "catalogue";

/// A pipeline or catalogue file that cannot be used (`what` says which).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// Not TOML, a missing or unknown key, or a value of the wrong type.
    #[error("{what} {}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    /// Problems of the file's keys and values, each with its line where it has one.
    #[error("{what} {}: {}", path.display(), listed(problems))]
    Problems {
        path: PathBuf,
        what: &'static str,
        problems: Vec<Problem>,
    },
    /// A section other than `[columns]` is not usable.
    #[error("{what} {}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        what: &'static str,
        problem: String,
    },
}

impl SpecError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Read { what, .. } if *what == CATALOGUE => {
                "check [pipeline] catalogue: the path is taken from the current directory"
            }
            Self::Read { .. } => "check the path to the pipeline file",
            Self::Syntax { what, .. }
            | Self::Problems { what, .. }
            | Self::Invalid { what, .. }
                if *what == CATALOGUE =>
            {
                "docs/pipeline.md, section \"Data catalogue\", lists every key and category"
            }
            Self::Syntax { .. } | Self::Problems { .. } | Self::Invalid { .. } => {
                "docs/pipeline.md lists every key and action"
            }
        }
    }
}

impl SpecError {
    pub(super) fn problems(path: &Path, what: &'static str, problems: Vec<Problem>) -> Self {
        Self::Problems {
            path: path.to_owned(),
            what,
            problems,
        }
    }
}

/// How many problems an error lists: a file of the wrong kind has one per key.
const LISTED: usize = 25;

/// One problem on the error's line; several, counted, a line each.
fn listed(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        _ => {
            let mut out = format!("{} problems", problems.len());
            for p in problems.iter().take(LISTED) {
                out.push_str(&format!("\n  {p}"));
            }
            if problems.len() > LISTED {
                out.push_str(&format!("\n  … and {} more", problems.len() - LISTED));
            }
            out
        }
    }
}

/// The problems of a file's values, gathered so that one run names them all.
pub(super) struct Faults<'d, 't> {
    doc: &'d Document<'t>,
    list: Vec<Problem>,
}

impl<'d, 't> Faults<'d, 't> {
    pub(super) fn new(doc: &'d Document<'t>) -> Self {
        Self {
            doc,
            list: Vec::new(),
        }
    }

    /// A problem of the key at `keys` (its line, or its section's).
    pub(super) fn at(&mut self, keys: &[&str], message: impl Into<String>) {
        self.list.push(self.doc.problem(keys, message));
    }

    /// The error naming every problem, if there is one.
    pub(super) fn finish(self, path: &Path, what: &'static str) -> Result<(), SpecError> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(SpecError::problems(path, what, self.list))
        }
    }
}

/// The form in which pseudonym domains and recipients are compared: without surrounding
/// white space, NFKC-normalised and case-folded (the lowercase of the uppercase, so that
/// `ß` and `SS` compare equal), runs of white space inside as one space. Two texts with
/// the same form look alike to a reader.
pub fn folded(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let compatible: String = text.trim().nfkc().collect();
    let folded: String = compatible.to_uppercase().to_lowercase().nfkc().collect();
    // Runs of white space inside count as one space: `UMC  Jeugd` is `UMC Jeugd`.
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A domain is used byte for byte to derive its pseudonyms' key, so one that a reader
/// cannot tell from another (surrounding spaces, an invisible character) is refused; and
/// `pseudonym_domain_shared_with` must name recipients other than the pipeline's own.
fn check_domain(d: &Declaration) -> Result<(), String> {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    let domain = &d.pseudonym_domain;
    if domain.trim() != domain {
        return Err("[pipeline] pseudonym_domain begins or ends with white space: pseudonyms are made from its exact text, so it would look like a domain it does not link with; remove the spaces".into());
    }
    if let Some(c) = domain.chars().find(|&c| {
        crate::text::unsafe_to_show(c)
            || (c.is_whitespace() && c != ' ')
            || matches!(
                get_general_category(c),
                G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
            )
    }) {
        return Err(format!(
            "[pipeline] pseudonym_domain holds the invisible character U+{:04X}: it would look like a domain it does not link with",
            c as u32
        ));
    }
    let own = folded(&d.recipient);
    for (i, other) in d.pseudonym_domain_shared_with.iter().enumerate() {
        if other.trim().is_empty() {
            return Err(format!(
                "[pipeline] pseudonym_domain_shared_with[{i}] is empty: name the recipient the domain is shared with"
            ));
        }
        if folded(other) == own {
            return Err(format!(
                "[pipeline] pseudonym_domain_shared_with[{i}] is this pipeline's own recipient: list only the other recipients the domain is shared with"
            ));
        }
    }
    Ok(())
}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Where the pipeline was read from.
    pub path: PathBuf,
    pub declaration: Declaration,
    pub input: Input,
    pub output: Output,
    pub exclusions: Exclusions,
    /// Special-category columns released under an exception, by column name.
    pub exceptions: Vec<Exception>,
    /// In file order.
    pub columns: Vec<Column>,
    /// Encrypted delivery, if the pipeline asks for it.
    pub delivery: Option<Delivery>,
}

/// A validated `[delivery]` section.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// age X25519 public keys (`age1…`), each checked to parse.
    pub recipients: Vec<String>,
    pub keep_plaintext: bool,
}

/// A declared exception to the ban on special categories, for one input column.
#[derive(Debug, Clone)]
pub struct Exception {
    pub column: String,
    pub ground: Ground,
    pub necessity: String,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    /// `None`: taken from the file extension(s).
    pub format: Option<InputFormat>,
    pub delimiter: u8,
    /// CSV only: the files' character encoding, decoded to UTF-8 before parsing.
    pub encoding: &'static encoding_rs::Encoding,
    /// Workbooks only: the sheet (`None`: the first).
    pub sheet: Option<String>,
    /// Workbooks only: the row of the column names, from 1 (`None`: 1).
    pub header_row: Option<u32>,
    /// A PostgreSQL table or query instead of files; `path` then names it for messages.
    pub postgres: Option<PgSource>,
}

/// What `[input] postgres` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgSource {
    /// A table or view: its name's parts (`schema.table`), each quoted when selected.
    Table(Vec<String>),
    /// A query, selected from as a subquery.
    Query(String),
}

impl std::fmt::Display for PgSource {
    /// How messages and the run's account name the source (never the query itself, which
    /// may hold a value).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Table(parts) => write!(f, "PostgreSQL table {}", parts.join(".")),
            Self::Query(_) => f.write_str("PostgreSQL query"),
        }
    }
}

/// `[input] postgres`, checked: one of `table` and `query`, and no file settings beside it.
fn postgres_source(input: &InputSpec, faults: &mut Faults<'_, '_>) -> Option<PgSource> {
    let Some(spec) = &input.postgres else {
        if input.path.as_deref().is_none_or(|p| p.trim().is_empty()) {
            faults.at(
                &["input"],
                "[input] needs `path` (a file or a directory of files) or `postgres` (a table or query)",
            );
        }
        return None;
    };
    if input.path.is_some() {
        faults.at(
            &["input", "path"],
            "[input] names a path and postgres: give one source",
        );
    }
    for (key, given) in [
        ("format", input.format.is_some()),
        ("delimiter", input.delimiter.is_some()),
        ("encoding", input.encoding.is_some()),
        ("sheet", input.sheet.is_some()),
        ("header_row", input.header_row.is_some()),
    ] {
        if given {
            faults.at(
                &["input", key],
                format!("[input] {key} applies to files, not to postgres"),
            );
        }
    }
    match (&spec.table, &spec.query) {
        (Some(table), None) => {
            let parts: Vec<String> = table.split('.').map(|p| p.trim().to_owned()).collect();
            if parts.len() > 2 || parts.iter().any(String::is_empty) {
                faults.at(
                    &["input", "postgres", "table"],
                    "[input] postgres table must be a name or schema.name, e.g. \"klanten\" or \"export.klanten\"",
                );
                return None;
            }
            Some(PgSource::Table(parts))
        }
        (None, Some(query)) => {
            let query = query
                .trim_end_matches(|c: char| c == ';' || c.is_whitespace())
                .trim_start();
            if query.is_empty() {
                faults.at(
                    &["input", "postgres", "query"],
                    "[input] postgres query is empty",
                );
                return None;
            }
            Some(PgSource::Query(query.to_owned()))
        }
        _ => {
            faults.at(
                &["input", "postgres"],
                "[input] postgres needs one of `table` and `query`",
            );
            None
        }
    }
}

impl Input {
    /// A file or directory read with the defaults: format from the extension, comma,
    /// UTF-8, a workbook's first sheet with its names in row 1.
    pub fn at(path: PathBuf) -> Self {
        Self {
            path,
            format: None,
            delimiter: b',',
            encoding: encoding_rs::UTF_8,
            sheet: None,
            header_row: None,
            postgres: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub path: PathBuf,
    pub format: Format,
    /// Disclosure control of the records (`kind = "microdata"`), if any.
    pub microdata: Option<Microdata>,
    /// The aggregate table written instead of records (`kind = "table"`), if any.
    pub table: Option<Table>,
}

/// A validated `[table]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub dimensions: Vec<String>,
    pub person: Option<String>,
    pub sums: Vec<String>,
    pub min_count: u32,
    pub round_to: u32,
    pub totals: bool,
    pub total_label: String,
    pub p_percent: Option<f64>,
}

/// Default contributors a table cell needs (CBS's and the DESIGN's default).
pub const DEFAULT_MIN_COUNT: u32 = 10;
/// Default rounding base of published counts.
pub const DEFAULT_ROUND_TO: u32 = 5;

/// A validated `[microdata]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Microdata {
    /// Released column names, in declaration order.
    pub quasi_identifiers: Vec<String>,
    /// Per quasi-identifier, its steps (the last level, `*`, is implied).
    pub hierarchies: Vec<Vec<HierarchyStep>>,
    pub k: u32,
    pub person: Option<String>,
    pub on_violation: OnViolation,
    pub max_suppressed: f64,
    /// A released column and the distinct values each class must hold.
    pub sensitive: Option<(String, u32)>,
    pub small_area: Option<SmallArea>,
}

/// Default `k`: CBS's and the DESIGN's default for microdata.
pub const DEFAULT_K: u32 = 5;
/// Default share of records the `generalise` search may suppress.
pub const DEFAULT_MAX_SUPPRESSED: f64 = 0.01;

/// A generalisation step of a quasi-identifier's hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HierarchyStep {
    /// `year`: a date or month to its year.
    Year,
    /// `N_years`: a year to its band of N years.
    Years(u32),
    /// `pc3`, `pc2`, `pc1`: a postcode's first digits.
    Prefix(usize),
}

/// Areas (values of a quasi-identifier) with fewer than `min` persons or records.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallArea {
    pub column: String,
    pub min: u32,
    pub action: AreaAction,
}

/// One `[columns]` entry.
#[derive(Debug, Clone)]
pub struct Column {
    /// The entry's key in `[columns]`.
    pub entry: String,
    pub operation: Operation,
}

impl Column {
    /// The released column's name, or `None` for `drop`.
    pub fn output_name(&self) -> Option<&str> {
        match &self.operation {
            Operation::Drop { .. } => None,
            Operation::Keep { output, .. }
            | Operation::Scrub { output, .. }
            | Operation::Pseudonymise { output, .. }
            | Operation::Generalise { output, .. } => Some(output),
        }
    }

    /// The input columns the entry reads, in order.
    pub fn sources(&self) -> Vec<&str> {
        match &self.operation {
            Operation::Keep { source, .. }
            | Operation::Scrub { source, .. }
            | Operation::Drop { source }
            | Operation::Generalise { source, .. } => vec![source],
            Operation::Pseudonymise { sources, .. } => {
                sources.iter().flat_map(LinkPart::columns).collect()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Operation {
    Keep {
        source: String,
        output: String,
    },
    Drop {
        source: String,
    },
    /// Free text with identifiers replaced by tags; a null stays null.
    Scrub {
        source: String,
        output: String,
    },
    Pseudonymise {
        kind: PseudonymKind,
        /// `bsn`: one `Name` part of one column; `name`: one `Name` part; `link`: the parts.
        sources: Vec<LinkPart>,
        output: String,
        on_invalid: OnInvalid,
        /// `action = "token"`: a reversible token rather than a pseudonym.
        token: bool,
    },
    Generalise {
        source: String,
        to: Generalise,
        output: String,
        on_invalid: OnInvalid,
    },
}

/// A part of a canonical form's input: a date column, or the columns of one name.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkPart {
    Date(String),
    Name(Vec<String>),
}

impl LinkPart {
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        let columns: &[String] = match self {
            Self::Date(c) => std::slice::from_ref(c),
            Self::Name(cs) => cs,
        };
        columns.iter().map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Generalise {
    Year,
    Month,
    /// Ascending lower bounds in years, starting at 0.
    AgeBand(Vec<u32>),
    Pc4,
    /// Ascending finite edges.
    Bucket(Vec<f64>),
    TopCode(f64),
}

impl Pipeline {
    /// Read and validate a pipeline file. Relative paths inside it are taken relative to
    /// the current directory.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::parse(path, &read_text(path, PIPELINE)?)
    }

    /// Validate a pipeline file's text; `path` is used in messages and recorded. Every
    /// problem found is in the error, each with its line: first the file's shape against
    /// its schema (unknown, missing, mistyped keys), then, when the shape is right, what
    /// the values mean.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SpecError> {
        let doc = Document::parse(text).map_err(|e| syntax(path, PIPELINE, &e, text))?;
        if doc.has_section("catalogue") && !doc.has_section("pipeline") {
            return Err(SpecError::problems(path, PIPELINE, vec![doc.problem(
                &["catalogue"],
                "this is a data catalogue, not a pipeline: give the pipeline file, whose [pipeline] catalogue names this one",
            )]));
        }
        let mut shape = doc.problems(schema::pipeline());
        if !shape.is_empty() {
            shape.extend(entry_problems(&doc, text, &shape));
            shape.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            return Err(SpecError::problems(path, PIPELINE, shape));
        }
        let file: PipelineFile =
            toml::from_str(text).map_err(|e| syntax(path, PIPELINE, &e, text))?;
        printable(path, PIPELINE, text)?;
        let mut faults = Faults::new(&doc);
        for (field, value) in [
            ("name", &file.pipeline.name),
            ("recipient", &file.pipeline.recipient),
            ("controller", &file.pipeline.controller),
            ("contact", &file.pipeline.contact),
            ("recipient_retention", &file.pipeline.recipient_retention),
            ("pseudonym_domain", &file.pipeline.pseudonym_domain),
            ("catalogue", &file.pipeline.catalogue),
        ] {
            if value.trim().is_empty() {
                faults.at(&["pipeline", field], format!("[pipeline] {field} is empty"));
            }
        }
        if !file.pipeline.pseudonym_domain.trim().is_empty()
            && let Err(problem) = check_domain(&file.pipeline)
        {
            faults.at(&["pipeline", "pseudonym_domain"], problem);
        }
        if let Some(basis) = &file.pipeline.bsn_basis {
            if file.pipeline.purpose != Purpose::LegalObligation {
                faults.at(
                    &["pipeline", "bsn_basis"],
                    "[pipeline] bsn_basis applies only to purpose = \"legal-obligation\"",
                );
            } else if basis.trim().is_empty() {
                faults.at(&["pipeline", "bsn_basis"], "[pipeline] bsn_basis is empty");
            }
        }
        let mut exceptions = Vec::new();
        for (column, spec) in &file.exceptions {
            if spec.necessity.trim().is_empty() {
                faults.at(
                    &["exceptions", column, "necessity"],
                    format!(
                        "[exceptions.{column}] necessity is empty: say why the purpose needs this column"
                    ),
                );
            }
            exceptions.push(Exception {
                column: column.clone(),
                ground: spec.ground,
                necessity: spec.necessity.clone(),
            });
        }
        let delimiter = match file.input.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(_) => {
                faults.at(
                    &["input", "delimiter"],
                    "[input] delimiter must be a single ASCII character, e.g. \";\"",
                );
                b','
            }
        };
        let encoding = match file.input.encoding.as_deref() {
            None => encoding_rs::UTF_8,
            Some(label) => encoding_rs::Encoding::for_label(label.trim().as_bytes())
                .filter(|e| e.output_encoding() == *e)
                .unwrap_or_else(|| {
                    faults.at(
                        &["input", "encoding"],
                        format!(
                            "[input] encoding \"{label}\" is not a known encoding for a CSV file; e.g. \"utf-8\", \"windows-1252\" or \"iso-8859-15\""
                        ),
                    );
                    encoding_rs::UTF_8
                }),
        };
        let postgres = postgres_source(&file.input, &mut faults);
        let input_format = file.input.format.or_else(|| {
            Path::new(file.input.path.as_deref().unwrap_or_default())
                .extension()
                .and_then(|e| e.to_str())
                .and_then(InputFormat::from_extension)
        });
        if encoding != encoding_rs::UTF_8
            && file.input.format.is_some_and(|f| f != InputFormat::Csv)
        {
            faults.at(
                &["input", "encoding"],
                "[input] encoding applies to CSV files only",
            );
        }
        for (key, given) in [
            ("sheet", file.input.sheet.is_some()),
            ("header_row", file.input.header_row.is_some()),
        ] {
            if given && input_format.is_some_and(|f| f != InputFormat::Workbook) {
                faults.at(
                    &["input", key],
                    format!(
                        "[input] {key} applies to workbooks only (.xlsx, .xlsm, .xlsb, .xls, .ods)"
                    ),
                );
            }
        }
        if file
            .input
            .sheet
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            faults.at(
                &["input", "sheet"],
                "[input] sheet is empty: name the sheet, or leave it out for the first",
            );
        }
        let output_path = PathBuf::from(&file.output.path);
        let output_format = match file.output.format {
            Some(f) => f,
            None => output_path
                .extension()
                .and_then(|e| e.to_str())
                .and_then(Format::from_extension)
                .unwrap_or_else(|| {
                    faults.at(
                        &["output", "path"],
                        "[output] path has no .parquet, .arrow or .csv extension; set format (doel reads workbooks but never writes them)",
                    );
                    Format::Parquet
                }),
        };
        let mut columns = Vec::new();
        for (entry, value) in &file.columns {
            match column(entry, value) {
                Ok(c) => columns.push(c),
                Err(problem) => faults.at(
                    &["columns", entry],
                    format!("[columns] {}: {problem}", schema::key(entry)),
                ),
            }
        }
        let every_column = columns.len() == file.columns.len();
        let mut seen = std::collections::BTreeSet::new();
        for c in &columns {
            let Some(name) = c.output_name() else {
                continue;
            };
            if name.starts_with(['=', '+', '-', '@', '\t', '\r'])
                || name.chars().any(char::is_control)
            {
                faults.at(
                    &["columns", &c.entry],
                    format!("[columns] {}: its released name starts like a spreadsheet formula (=, +, -, @) or holds a control character: name it otherwise with `as`", schema::key(&c.entry)),
                );
            }
            if !seen.insert(name) {
                faults.at(
                    &["columns", &c.entry],
                    format!(
                        "[columns] {}: a second column is released as `{name}`",
                        schema::key(&c.entry)
                    ),
                );
            }
        }
        if seen.is_empty() && every_column {
            faults.at(&["columns"], "[columns] releases no column");
        }
        let released: Vec<&str> = columns.iter().filter_map(Column::output_name).collect();
        // Which columns a section may name is only known when every entry is well formed.
        let table = match (file.output.kind, &file.table) {
            (OutputKind::Table, Some(spec)) if every_column => table(spec, &released)
                .map_err(|p| faults.at(&["table"], format!("[table] {p}")))
                .ok(),
            (OutputKind::Table, None) => {
                faults.at(
                    &["output", "kind"],
                    "[output] kind = \"table\" needs a [table] section",
                );
                None
            }
            (OutputKind::Records | OutputKind::Microdata, Some(_)) => {
                faults.at(
                    &["table"],
                    "[table] applies only to [output] kind = \"table\"",
                );
                None
            }
            _ => None,
        };
        let microdata = match (file.output.kind, &file.microdata) {
            (OutputKind::Microdata, Some(spec)) if every_column => microdata(spec, &released)
                .map_err(|p| faults.at(&["microdata"], format!("[microdata] {p}")))
                .ok(),
            (OutputKind::Microdata, None) => {
                faults.at(
                    &["output", "kind"],
                    "[output] kind = \"microdata\" needs a [microdata] section",
                );
                None
            }
            (OutputKind::Records | OutputKind::Table, Some(_)) => {
                faults.at(
                    &["microdata"],
                    "[microdata] applies only to [output] kind = \"microdata\"",
                );
                None
            }
            _ => None,
        };
        let lists = &file.exclusions;
        if (!lists.restriction_lists.is_empty() || !lists.objection_lists.is_empty())
            && lists.bsn.is_none()
        {
            faults.at(&["exclusions"], "[exclusions] names lists of BSNs but not `bsn`, the export's column to match them against");
        }
        if let Some(share) = lists.list_invalid_share
            && !(0.0..1.0).contains(&share)
        {
            faults.at(
                &["exclusions", "list_invalid_share"],
                "[exclusions] list_invalid_share must be at least 0 and below 1 (a share, e.g. 0.05)",
            );
        }
        if lists
            .list_column
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            faults.at(
                &["exclusions", "list_column"],
                "[exclusions] list_column is empty",
            );
        }
        for dropped in &columns {
            if let Operation::Drop { source } = &dropped.operation
                && let Some(user) = columns
                    .iter()
                    .find(|c| c.entry != dropped.entry && c.sources().contains(&source.as_str()))
            {
                faults.at(
                    &["columns", &dropped.entry],
                    format!(
                        "[columns] {}: is dropped, but `[columns] {}` reads it; remove one of the two",
                        schema::key(&dropped.entry),
                        schema::key(&user.entry)
                    ),
                );
            }
        }
        let delivery = file.delivery.as_ref().map(|d| {
            if d.recipients.is_empty() {
                faults.at(
                    &["delivery", "recipients"],
                    "[delivery] recipients is empty: name the recipients' age public keys (age1…)",
                );
            }
            for (i, r) in d.recipients.iter().enumerate() {
                if r.trim().parse::<age::x25519::Recipient>().is_err() {
                    faults.at(
                        &["delivery", "recipients"],
                        format!(
                            "[delivery] recipients[{}] is not an age public key (age1… as `age-keygen` prints it)",
                            i + 1
                        ),
                    );
                }
            }
            Delivery {
                recipients: d.recipients.iter().map(|r| r.trim().to_owned()).collect(),
                keep_plaintext: d.keep_plaintext.unwrap_or(true),
            }
        });
        faults.finish(path, PIPELINE)?;
        Ok(Self {
            delivery,
            path: path.to_owned(),
            declaration: file.pipeline,
            input: Input {
                path: match &postgres {
                    Some(source) => PathBuf::from(source.to_string()),
                    None => PathBuf::from(file.input.path.as_deref().unwrap_or_default()),
                },
                postgres,
                format: file.input.format,
                delimiter,
                encoding,
                sheet: file.input.sheet.clone(),
                header_row: file.input.header_row,
            },
            output: Output {
                path: output_path,
                format: output_format,
                microdata,
                table,
            },
            exclusions: file.exclusions,
            exceptions,
            columns,
        })
    }
}

fn is_released(released: &[&str], name: &str, what: &str) -> Result<(), String> {
    if released.contains(&name) {
        Ok(())
    } else {
        Err(format!("{what} `{name}` is not a released column"))
    }
}

/// `names` (the list `key`) is not empty and names distinct released columns.
fn distinct_released(
    released: &[&str],
    names: &[String],
    key: &str,
    what: &str,
) -> Result<(), String> {
    if names.is_empty() {
        return Err(format!("{key} is empty"));
    }
    for (i, name) in names.iter().enumerate() {
        is_released(released, name, what)?;
        if names[..i].contains(name) {
            return Err(format!("{what} `{name}` is named twice"));
        }
    }
    Ok(())
}

/// `[table]` checked against the released columns; the error is the problem.
fn table(spec: &TableSpec, released: &[&str]) -> Result<Table, String> {
    let check = |name: &str, what: &str| is_released(released, name, what);
    distinct_released(released, &spec.dimensions, "dimensions", "dimension")?;
    for (what, column) in spec
        .person
        .iter()
        .map(|p| ("person", p))
        .chain(spec.sums.iter().map(|s| ("sum", s)))
    {
        check(column, what)?;
        if spec.dimensions.contains(column) {
            return Err(format!("{what} `{column}` is also a dimension"));
        }
    }
    let min_count = spec.min_count.unwrap_or(DEFAULT_MIN_COUNT);
    let round_to = spec.round_to.unwrap_or(DEFAULT_ROUND_TO);
    if min_count < 1 || round_to < 1 {
        return Err("min_count and round_to must be at least 1".into());
    }
    let total_label = spec.total_label.clone().unwrap_or_else(|| "Totaal".into());
    if total_label.trim().is_empty() {
        return Err("total_label is empty".into());
    }
    if let Some(p) = spec.p_percent
        && (spec.sums.is_empty() || !(p > 0.0 && p <= 100.0))
    {
        return Err("p_percent needs sums, and is a percentage above 0 and at most 100".into());
    }
    Ok(Table {
        p_percent: spec.p_percent,
        dimensions: spec.dimensions.clone(),
        person: spec.person.clone(),
        sums: spec.sums.clone(),
        min_count,
        round_to,
        totals: spec.totals.unwrap_or(true),
        total_label,
    })
}

/// `[microdata]` checked against the released columns; the error is the problem.
fn microdata(spec: &MicrodataSpec, released: &[&str]) -> Result<Microdata, String> {
    let is_released = |name: &str, what: &str| is_released(released, name, what);
    distinct_released(
        released,
        &spec.quasi_identifiers,
        "quasi_identifiers",
        "quasi-identifier",
    )?;
    for (what, column) in [
        ("person", spec.person.as_ref()),
        (
            "sensitive column",
            spec.sensitive.as_ref().map(|s| &s.column),
        ),
    ] {
        if let Some(column) = column {
            is_released(column, what)?;
            if spec.quasi_identifiers.contains(column) {
                return Err(format!("{what} `{column}` is also a quasi-identifier"));
            }
        }
    }
    if let Some(column) = spec
        .hierarchies
        .keys()
        .find(|c| !spec.quasi_identifiers.contains(c))
    {
        return Err(format!(
            "hierarchies names `{column}`, which is not a quasi-identifier"
        ));
    }
    let hierarchies = spec
        .quasi_identifiers
        .iter()
        .map(|qi| {
            spec.hierarchies.get(qi).map_or(Ok(Vec::new()), |steps| {
                let steps = steps
                    .iter()
                    .map(|s| step(qi, s))
                    .collect::<Result<Vec<_>, _>>()?;
                coarser_and_coarser(qi, &steps)?;
                Ok(steps)
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let k = spec.k.unwrap_or(DEFAULT_K);
    if k < 2 {
        return Err("k must be at least 2".into());
    }
    let max_suppressed = spec.max_suppressed.unwrap_or(DEFAULT_MAX_SUPPRESSED);
    if !(0.0..=1.0).contains(&max_suppressed) {
        return Err("max_suppressed is a share, from 0 to 1".into());
    }
    let sensitive = match &spec.sensitive {
        Some(s) if s.l < 2 => return Err("sensitive.l must be at least 2".into()),
        Some(s) => Some((s.column.clone(), s.l)),
        None => None,
    };
    let small_area = match &spec.small_area {
        Some(a) => {
            if !spec.quasi_identifiers.contains(&a.column) {
                return Err(format!(
                    "small_area.column `{}` must be one of the quasi_identifiers",
                    a.column
                ));
            }
            if a.min < 1 {
                return Err("small_area.min must be at least 1".into());
            }
            Some(SmallArea {
                column: a.column.clone(),
                min: a.min,
                action: a.action.unwrap_or(AreaAction::Coarsen),
            })
        }
        None => None,
    };
    Ok(Microdata {
        quasi_identifiers: spec.quasi_identifiers.clone(),
        hierarchies,
        k,
        person: spec.person.clone(),
        on_violation: spec.on_violation.unwrap_or(OnViolation::Suppress),
        max_suppressed,
        sensitive,
        small_area,
    })
}

/// Each step must coarsen the one before: `year` first, then bands of N years that
/// nest (each N a multiple of the one before), or postcode prefixes that shorten.
fn coarser_and_coarser(column: &str, steps: &[HierarchyStep]) -> Result<(), String> {
    let ordered = steps.windows(2).all(|w| match (w[0], w[1]) {
        (HierarchyStep::Year, HierarchyStep::Years(_)) => true,
        (HierarchyStep::Years(a), HierarchyStep::Years(b)) => b > a && b % a == 0,
        (HierarchyStep::Prefix(a), HierarchyStep::Prefix(b)) => b < a,
        _ => false,
    });
    if ordered {
        Ok(())
    } else {
        Err(format!(
            "hierarchy of `{column}`: each step must coarsen the one before (year, then N_years with each N a multiple of the last; or pc3, pc2, pc1)"
        ))
    }
}

/// One hierarchy step: `year`, `N_years`, `pc3`, `pc2` or `pc1`.
fn step(column: &str, text: &str) -> Result<HierarchyStep, String> {
    let years = text
        .strip_suffix("_years")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (2..=100).contains(n));
    match (text, years) {
        ("year", _) => Ok(HierarchyStep::Year),
        (_, Some(n)) => Ok(HierarchyStep::Years(n)),
        ("pc3", _) => Ok(HierarchyStep::Prefix(3)),
        ("pc2", _) => Ok(HierarchyStep::Prefix(2)),
        ("pc1", _) => Ok(HierarchyStep::Prefix(1)),
        _ => Err(format!(
            "hierarchy of `{column}`: unknown step \"{text}\"; expected year, N_years (e.g. 5_years), pc3, pc2 or pc1"
        )),
    }
}

/// A file's text; `what` names the kind of file in errors.
pub(super) fn read_text(path: &Path, what: &'static str) -> Result<String, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        what,
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| SpecError::Syntax {
        path: path.to_owned(),
        what,
        message: "the file is not UTF-8 text".into(),
    })
}

/// A file that is no TOML, or that serde cannot read.
pub(super) fn syntax(
    path: &Path,
    what: &'static str,
    error: &toml::de::Error,
    text: &str,
) -> SpecError {
    SpecError::Syntax {
        path: path.to_owned(),
        what,
        message: syntax_message(error, text),
    }
}

/// A TOML error as `line L, column C: message`. toml's own rendering quotes the offending
/// line, which is not safe: a key file or a data file passed as the pipeline by mistake
/// would be printed.
fn syntax_message(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// One `[columns]` entry; the error is the problem, without the column's name.
/// The problems of the column entries whose shape is right, in a file whose shape is
/// wrong elsewhere: serde cannot read such a file, but each entry can still be judged,
/// so that one run names those problems too.
fn entry_problems(doc: &Document<'_>, text: &str, shape: &[Problem]) -> Vec<Problem> {
    let Ok(file) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(toml::Value::Table(columns)) = file.get("columns") else {
        return Vec::new();
    };
    let mut faults = Faults::new(doc);
    for (entry, value) in columns {
        let place = format!("[columns] {}", schema::key(entry));
        let shaped_wrong = shape
            .iter()
            .any(|p| p.keys.len() > 1 && p.keys[0] == "columns" && p.keys[1] == *entry);
        if !shaped_wrong && let Err(problem) = column(entry, value) {
            faults.at(&["columns", entry], format!("{place}: {problem}"));
        }
    }
    faults.list
}

fn column(entry: &str, value: &toml::Value) -> Result<Column, String> {
    let spec = match value {
        toml::Value::String(s) => {
            let action = Action::deserialize(toml::Value::String(s.clone())).map_err(|_| {
                format!(
                    "unknown action \"{s}\"; expected keep, drop, pseudonymise, token, generalise or scrub"
                )
            })?;
            ColumnSpec {
                action: Some(action),
                ..ColumnSpec::default()
            }
        }
        toml::Value::Table(_) => ColumnSpec::deserialize(value.clone())
            .map_err(|e| e.to_string().trim_end().to_owned())?,
        _ => {
            return Err(
                "expected an action (\"keep\", \"drop\") or a table { action = ... }".into(),
            );
        }
    };
    let action = spec.action.ok_or("missing key `action`")?;
    let output = spec.rename.clone().unwrap_or_else(|| entry.to_owned());
    if output.trim().is_empty() {
        return Err("`as` is empty".into());
    }
    let allowed: &[&str] = match (action, spec.kind, spec.to) {
        (Action::Keep | Action::Scrub, ..) => &["as"],
        (Action::Drop, ..) => &[],
        (Action::Pseudonymise | Action::Token, Some(PseudonymKind::Bsn), _) => {
            &["kind", "as", "on_invalid"]
        }
        (Action::Pseudonymise | Action::Token, ..) => &["kind", "as", "from", "on_invalid"],
        (Action::Generalise, Some(_), _) => &[],
        (Action::Generalise, None, Some(Generalisation::AgeBand)) => {
            &["to", "as", "on_invalid", "bands"]
        }
        (Action::Generalise, None, Some(Generalisation::Bucket)) => {
            &["to", "as", "on_invalid", "edges"]
        }
        (Action::Generalise, None, Some(Generalisation::TopCode)) => {
            &["to", "as", "on_invalid", "max"]
        }
        (Action::Generalise, None, _) => &["to", "as", "on_invalid"],
    };
    let present = [
        ("kind", spec.kind.is_some()),
        ("as", spec.rename.is_some()),
        ("from", spec.from.is_some()),
        ("to", spec.to.is_some()),
        ("on_invalid", spec.on_invalid.is_some()),
        ("bands", spec.bands.is_some()),
        ("edges", spec.edges.is_some()),
        ("max", spec.max.is_some()),
    ];
    if let Some((key, _)) = present.iter().find(|(k, p)| *p && !allowed.contains(k)) {
        let what = match (action, spec.to) {
            (Action::Generalise, Some(to)) => format!("generalise to \"{}\"", to.as_str()),
            _ => format!("action \"{}\"", action.as_str()),
        };
        return Err(format!("`{key}` does not apply to {what}"));
    }
    let operation = match action {
        Action::Keep => Operation::Keep {
            source: entry.to_owned(),
            output,
        },
        Action::Scrub => Operation::Scrub {
            source: entry.to_owned(),
            output,
        },
        Action::Drop => Operation::Drop {
            source: entry.to_owned(),
        },
        Action::Pseudonymise | Action::Token => {
            let kind = spec.kind.ok_or("missing key `kind` (bsn, name or link)")?;
            let sources = match kind {
                PseudonymKind::Bsn => vec![LinkPart::Name(vec![entry.to_owned()])],
                PseudonymKind::Name => vec![LinkPart::Name(match &spec.from {
                    None => vec![entry.to_owned()],
                    Some(from) => name_columns(&source_specs(from)?)?,
                })],
                PseudonymKind::Link => link_parts(&source_specs(spec.from.as_deref().ok_or("kind \"link\" needs `from`, a list of { date = ... } and { name = [...] } parts")?)?)?,
            };
            let default = if kind == PseudonymKind::Bsn {
                OnInvalid::DropRow
            } else {
                OnInvalid::Null
            };
            Operation::Pseudonymise {
                kind,
                sources,
                output,
                on_invalid: spec.on_invalid.unwrap_or(default),
                token: action == Action::Token,
            }
        }
        Action::Generalise => {
            let to = match spec
                .to
                .ok_or("missing key `to` (year, month, age_band, pc4, bucket or top_code)")?
            {
                Generalisation::Year => Generalise::Year,
                Generalisation::Month => Generalise::Month,
                Generalisation::Pc4 => Generalise::Pc4,
                Generalisation::AgeBand => {
                    let bands = spec
                        .bands
                        .clone()
                        .unwrap_or_else(|| DEFAULT_AGE_BANDS.to_vec());
                    if bands.first() != Some(&0) || bands.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(
                            "`bands` must start at 0 and increase, e.g. [0, 4, 12, 18]".into()
                        );
                    }
                    Generalise::AgeBand(bands)
                }
                Generalisation::Bucket => {
                    let edges = spec
                        .edges
                        .clone()
                        .ok_or("to = \"bucket\" needs `edges`, e.g. [0, 10, 20]")?;
                    if edges.is_empty()
                        || edges.iter().any(|e| !e.is_finite())
                        || edges.windows(2).any(|w| w[0] >= w[1])
                    {
                        return Err("`edges` must be finite numbers in increasing order".into());
                    }
                    Generalise::Bucket(edges)
                }
                Generalisation::TopCode => {
                    let max = spec.max.ok_or("to = \"top_code\" needs `max`")?;
                    if !max.is_finite() {
                        return Err("`max` must be a finite number".into());
                    }
                    Generalise::TopCode(max)
                }
            };
            Operation::Generalise {
                source: entry.to_owned(),
                to,
                output,
                on_invalid: spec.on_invalid.unwrap_or(OnInvalid::Null),
            }
        }
    };
    Ok(Column {
        entry: entry.to_owned(),
        operation,
    })
}

/// The elements of `from`: a column name, or a `{ date = … }` / `{ name = [...] }` part.
fn source_specs(from: &[toml::Value]) -> Result<Vec<SourceSpec>, String> {
    from.iter()
        .map(|value| match value {
            toml::Value::String(column) => Ok(SourceSpec::Column(column.clone())),
            toml::Value::Table(_) => LinkPartSpec::deserialize(value.clone())
                .map(SourceSpec::Part)
                .map_err(|e| format!("in `from`: {}", e.message().trim_end())),
            _ => Err(
                "`from` lists column names or { date = ... } / { name = [...] } parts".to_owned(),
            ),
        })
        .collect()
}

fn name_columns(from: &[SourceSpec]) -> Result<Vec<String>, String> {
    if from.is_empty() {
        return Err("`from` is empty".into());
    }
    from.iter()
        .map(|s| match s {
            SourceSpec::Column(c) => Ok(c.clone()),
            SourceSpec::Part(_) => {
                Err("kind \"name\" takes `from` as a list of column names".to_owned())
            }
        })
        .collect()
}

fn link_parts(from: &[SourceSpec]) -> Result<Vec<LinkPart>, String> {
    if from.is_empty() {
        return Err("`from` is empty".into());
    }
    from.iter()
        .map(|s| match s {
            SourceSpec::Part(LinkPartSpec { date: Some(d), name: None }) => Ok(LinkPart::Date(d.clone())),
            SourceSpec::Part(LinkPartSpec { date: None, name: Some(n) }) if !n.is_empty() => Ok(LinkPart::Name(n.clone())),
            _ => Err("each part of a link's `from` is { date = \"column\" } or { name = [\"column\", ...] }".to_owned()),
        })
        .collect()
}

/// Refuse a pipeline or catalogue file (its `text`, already parsed once) whose keys or
/// strings hold characters that must not reach a terminal (control characters, a line
/// break inside a string, bidirectional overrides): plans, checks, reports and the
/// register show these strings, where such a character can hide part of a recipient's
/// name or forge a row. Named by its key path, escaped.
pub(crate) fn printable(path: &Path, what: &'static str, text: &str) -> Result<(), SpecError> {
    fn find(value: &toml::Value, at: &str) -> Option<String> {
        match value {
            toml::Value::String(s) if crate::text::has_unsafe(s) => Some(at.to_owned()),
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find(v, &format!("{at}[{i}]"))),
            toml::Value::Table(table) => table.iter().find_map(|(k, v)| {
                let here = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if crate::text::has_unsafe(k) {
                    Some(here)
                } else {
                    find(v, &here)
                }
            }),
            _ => None,
        }
    }
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    // The one string where a control character is meant: a tab as CSV separator.
    if let Some(toml::Value::Table(input)) = table.get_mut("input")
        && input.get("delimiter").and_then(toml::Value::as_str) == Some("\t")
    {
        input.remove("delimiter");
    }
    match find(&toml::Value::Table(table), "") {
        None => Ok(()),
        Some(at) => Err(unprintable(path, what, &at)),
    }
}

fn unprintable(path: &Path, what: &'static str, at: &str) -> SpecError {
    SpecError::Invalid {
        path: path.to_owned(),
        what,
        problem: format!(
            "`{}` holds a control character, a line break or a character that reorders text; write it on one line, in plain characters",
            crate::text::escaped(at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
[pipeline]
name = "t"
purpose = "research"
legal_basis = "public-task"
recipient = "r"
controller = "c"
contact = "fg@example.org"
recipient_retention = "1 year"
pseudonym_domain = "d"
catalogue = "c.toml"
[input]
path = "in.parquet"
[output]
path = "out.parquet"
"#;

    fn parse(columns: &str) -> Result<Pipeline, SpecError> {
        Pipeline::parse(Path::new("p.toml"), &format!("{HEAD}[columns]\n{columns}"))
    }

    fn err(columns: &str) -> String {
        parse(columns).unwrap_err().to_string()
    }

    #[test]
    fn the_issue_example_parses() {
        let p = parse(
            r#"
kind_bsn = { action = "pseudonymise", kind = "bsn", as = "kind_id" }
ouder_bsn = { action = "pseudonymise", kind = "bsn", as = "ouder_id", on_invalid = "null" }
kind_naam = { action = "pseudonymise", kind = "name", from = ["kind_voornaam", "kind_tussenvoegsel", "kind_achternaam"] }
koppelsleutel = { action = "pseudonymise", kind = "link", from = [{ date = "kind_geboortedatum" }, { name = ["kind_voornaam", "kind_tussenvoegsel", "kind_achternaam"] }] }
kind_geboortedatum = { action = "generalise", to = "year", as = "geboortejaar" }
postcode = { action = "generalise", to = "pc4" }
opvangsoort = "keep"
"#,
        )
        .unwrap();
        let outputs: Vec<_> = p.columns.iter().filter_map(Column::output_name).collect();
        assert_eq!(
            outputs,
            [
                "kind_id",
                "ouder_id",
                "kind_naam",
                "koppelsleutel",
                "geboortejaar",
                "postcode",
                "opvangsoort"
            ]
        );
        assert_eq!(
            p.columns[3].sources(),
            [
                "kind_geboortedatum",
                "kind_voornaam",
                "kind_tussenvoegsel",
                "kind_achternaam"
            ]
        );
        assert!(matches!(
            p.columns[0].operation,
            Operation::Pseudonymise {
                on_invalid: OnInvalid::DropRow,
                ..
            }
        ));
        assert_eq!(p.output.format, Format::Parquet);
    }

    #[test]
    fn unknown_keys_are_named() {
        assert!(
            err(r#"a = { action = "keep", colour = "x" }"#)
                .contains("[columns] a: unknown key `colour`")
        );
        let top = Pipeline::parse(Path::new("p.toml"), &HEAD.replace("recipient", "recipent"))
            .unwrap_err()
            .to_string();
        assert!(top.contains("recipent"), "{top}");
    }

    #[test]
    fn options_must_fit_the_action() {
        assert!(
            err(r#"a = { action = "keep", to = "year" }"#)
                .contains("`to` does not apply to action \"keep\"")
        );
        assert!(
            err(r#"a = { action = "generalise", to = "year", bands = [0, 4] }"#)
                .contains("`bands` does not apply")
        );
        assert!(
            err(r#"a = { action = "pseudonymise", kind = "bsn", from = ["x"] }"#)
                .contains("`from` does not apply")
        );
        assert!(err(r#"a = { action = "generalise", to = "bucket" }"#).contains("needs `edges`"));
        assert!(
            err(r#"a = { action = "generalise", to = "age_band", bands = [1, 4] }"#)
                .contains("start at 0")
        );
        assert!(err(r#"a = "hide""#).contains("[columns] a must be one of keep, drop"));
        assert!(err(r#"a = { action = "pseudonymise", kind = "link", from = [{ date = "d", name = ["n"] }] }"#).contains("each part"));
    }

    #[test]
    fn link_part_keys_are_named_and_drops_are_not_read() {
        assert!(err(r#"a = { action = "pseudonymise", kind = "link", from = [{ date = "d", nme = ["n"] }] }"#).contains("[columns] a.from[1]: unknown key `nme`; did you mean `name`?"));
        assert!(
            err("n = \"drop\"\na = { action = \"pseudonymise\", kind = \"name\", from = [\"n\"] }")
                .contains("is dropped, but `[columns] a` reads it")
        );
    }

    #[test]
    fn syntax_errors_never_quote_the_file() {
        let secret = "37848eb353b7e14cffc3347c3c37e883b9314c8f6e8fd4090f9b981d44c7b1cc";
        let e = Pipeline::parse(Path::new("k.key"), &format!("{secret}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1, column") && !e.contains(secret), "{e}");
        let e = Pipeline::parse(Path::new("x.csv"), "bsn,naam\n123456782,Jan\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("123456782") && !e.contains("Jan"), "{e}");
    }

    #[test]
    fn microdata_is_checked_against_the_released_columns() {
        let with = |microdata: &str| {
            Pipeline::parse(
                Path::new("p.toml"),
                &format!(
                    "{}\nkind = \"microdata\"\n{microdata}\n[columns]\na = \"keep\"\nb = \"keep\"\n",
                    HEAD.trim_end()
                ),
            )
            .map_err(|e| e.to_string())
        };
        let ok = with("[microdata]\nquasi_identifiers = [\"a\"]\nperson = \"b\"\n[microdata.hierarchies]\na = [\"year\", \"5_years\", \"10_years\"]").unwrap();
        let md = ok.output.microdata.unwrap();
        assert_eq!(md.k, DEFAULT_K);
        assert_eq!(
            md.hierarchies,
            [vec![
                HierarchyStep::Year,
                HierarchyStep::Years(5),
                HierarchyStep::Years(10)
            ]]
        );
        for (section, problem) in [
            ("", "needs a [microdata] section"),
            (
                "[microdata]\nquasi_identifiers = [\"c\"]",
                "quasi-identifier `c` is not a released column",
            ),
            (
                "[microdata]\nquasi_identifiers = [\"a\"]\nperson = \"a\"",
                "person `a` is also a quasi-identifier",
            ),
            (
                "[microdata]\nquasi_identifiers = [\"a\"]\nk = 1",
                "k must be at least 2",
            ),
            (
                "[microdata]\nquasi_identifiers = [\"a\"]\n[microdata.hierarchies]\na = [\"decade\"]",
                "unknown step \"decade\"",
            ),
            (
                "[microdata]\nquasi_identifiers = [\"a\"]\nsmall_area = { column = \"b\", min = 5 }",
                "must be one of the quasi_identifiers",
            ),
            (
                "[microdata]\nquasi_identifiers = [\"a\"]\n[microdata.hierarchies]\na = [\"10_years\", \"5_years\"]",
                "each step must coarsen",
            ),
        ] {
            let e = with(section).unwrap_err();
            assert!(e.contains(problem), "{e}");
        }
    }

    #[test]
    fn output_names_are_unique_and_something_is_released() {
        assert!(
            err("a = \"keep\"\nb = { action = \"keep\", as = \"a\" }")
                .contains("second column is released as `a`")
        );
        assert!(err("a = \"drop\"").contains("releases no column"));
    }

    #[test]
    fn domains_and_recipients_compare_folded() {
        assert_eq!(folded("  Onderzoek-UMC "), "onderzoek-umc");
        assert_eq!(folded("Straße"), folded("STRASSE"));
        assert_eq!(folded("ｏｎｄｅｒｚｏｅｋ"), "onderzoek");
        assert_eq!(folded("Zoe\u{0308}"), folded("zo\u{eb}"));
        assert_ne!(folded("onderzoek-a"), folded("onderzoek-b"));
    }

    #[test]
    fn a_domain_that_looks_like_another_is_refused() {
        let with = |from: &str, to: &str| {
            Pipeline::parse(
                Path::new("p.toml"),
                &format!("{}[columns]\na = \"keep\"\n", HEAD.replace(from, to)),
            )
            .map_err(|e| e.to_string())
        };
        for (to, problem) in [
            (
                "pseudonym_domain = \" d\"",
                "begins or ends with white space",
            ),
            // A tab or a zero-width character anywhere in the file is refused first.
            ("pseudonym_domain = \"d\\t\"", "holds a control character"),
            (
                "pseudonym_domain = \"d\\u200B\"",
                "holds a control character",
            ),
            (
                "pseudonym_domain = \"u\\u00A0mc\"",
                "invisible character U+00A0",
            ),
            (
                "pseudonym_domain = \"u\\u200Amc\"",
                "invisible character U+200A",
            ),
            (
                "pseudonym_domain = \"d\"\npseudonym_domain_shared_with = [\" \"]",
                "pseudonym_domain_shared_with[0] is empty",
            ),
            (
                "pseudonym_domain = \"d\"\npseudonym_domain_shared_with = [\"x\", \" R \"]",
                "pseudonym_domain_shared_with[1] is this pipeline's own recipient",
            ),
        ] {
            let e = with("pseudonym_domain = \"d\"", to).unwrap_err();
            assert!(e.contains(problem), "{e}");
        }
        let shared = with(
            "pseudonym_domain = \"d\"",
            "pseudonym_domain = \"D-1\"\npseudonym_domain_shared_with = [\"Other\"]",
        )
        .unwrap();
        assert_eq!(shared.declaration.pseudonym_domain_shared_with, ["Other"]);
    }
}
