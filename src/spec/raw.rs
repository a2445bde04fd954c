//! The pipeline file's structure, as read from TOML. Plain serde structs: what the fields
//! mean is checked in `pipeline` and acted on in `plan`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

/// A whole pipeline file: one purpose, one recipient.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub pipeline: Declaration,
    pub input: InputSpec,
    pub output: OutputSpec,
    /// Records that must not be processed: restricted, or objected to.
    #[serde(default)]
    pub exclusions: Exclusions,
    /// Special-category columns released under an exception of GDPR art. 9(2), by column.
    #[serde(default)]
    pub exceptions: std::collections::BTreeMap<String, ExceptionSpec>,
    /// Encrypted delivery to the recipient.
    #[serde(default)]
    pub delivery: Option<DeliverySpec>,
    /// Disclosure control of a `kind = "microdata"` output.
    #[serde(default)]
    pub microdata: Option<MicrodataSpec>,
    /// The aggregate table of a `kind = "table"` output.
    #[serde(default)]
    pub table: Option<TableSpec>,
    /// Output and input columns by name; see [`ColumnSpec`]. Kept in file order.
    #[schemars(schema_with = "column_entries")]
    pub columns: toml::Table,
}

/// What the extract is for and for whom (`[pipeline]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub name: String,
    pub purpose: Purpose,
    pub legal_basis: LegalBasis,
    pub recipient: String,
    /// The controller (*verwerkingsverantwoordelijke*): the organisation answerable for
    /// the extract.
    pub controller: String,
    /// Whom to ask about it: the privacy officer (FG/DPO), by e-mail or phone.
    pub contact: String,
    /// How long the recipient may keep the extract, e.g. "5 years after the study ends".
    pub recipient_retention: String,
    /// Organisational security measures beside those doel applies (recorded in the
    /// manifest), e.g. "processing agreement of 2026-03-01".
    #[serde(default)]
    pub security_measures: Vec<String>,
    /// One pseudonym domain per recipient or study: pseudonyms link within it only.
    pub pseudonym_domain: String,
    /// Recipients whose extracts this domain is shared with on purpose: a run is refused
    /// when the register shows the domain used for a recipient not named here.
    #[serde(default)]
    pub pseudonym_domain_shared_with: Vec<String>,
    /// The data catalogue of the export (a path, relative to the current directory).
    pub catalogue: String,
    /// The law that requires the BSN in clear: only for purpose `legal-obligation`.
    #[serde(default)]
    pub bsn_basis: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `[delivery]`: the outputs and manifest also written encrypted to the recipients.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverySpec {
    /// The recipients' age public keys (`age1…`).
    pub recipients: Vec<String>,
    /// Keep the unencrypted outputs beside the `.age` files (default true).
    pub keep_plaintext: Option<bool>,
}

/// Why a special-category column may be released (`[exceptions.COLUMN]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    pub ground: Ground,
    /// Why the purpose cannot be served without this column.
    pub necessity: String,
}

/// The exceptions of GDPR art. 9(2) to the ban on processing special categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Ground {
    /// (a) explicit consent of the subject.
    ExplicitConsent,
    /// (b) employment and social security law.
    Employment,
    /// (c) vital interests of a subject who cannot consent.
    VitalInterests,
    /// (e) made public by the subject.
    MadePublic,
    /// (f) legal claims.
    LegalClaims,
    /// (g) substantial public interest, on the basis of law.
    SubstantialPublicInterest,
    /// (h) health or social care.
    HealthCare,
    /// (i) public health.
    PublicHealth,
    /// (j) scientific research or statistics, with safeguards (UAVG art. 24).
    ResearchStatistics,
}

impl Ground {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExplicitConsent => "explicit-consent",
            Self::Employment => "employment",
            Self::VitalInterests => "vital-interests",
            Self::MadePublic => "made-public",
            Self::LegalClaims => "legal-claims",
            Self::SubstantialPublicInterest => "substantial-public-interest",
            Self::HealthCare => "health-care",
            Self::PublicHealth => "public-health",
            Self::ResearchStatistics => "research-statistics",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Research,
    Statistics,
    LegalObligation,
    Management,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Research => "research",
            Self::Statistics => "statistics",
            Self::LegalObligation => "legal-obligation",
            Self::Management => "management",
        }
    }
}

/// The GDPR art. 6(1) grounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

impl LegalBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Contract => "contract",
            Self::LegalObligation => "legal-obligation",
            Self::VitalInterests => "vital-interests",
            Self::PublicTask => "public-task",
            Self::LegitimateInterests => "legitimate-interests",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Ipc,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Ipc => "ipc",
            Self::Csv => "csv",
        }
    }

    /// The format a file name's extension implies.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "arrow" | "ipc" | "feather" => Some(Self::Ipc),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// What doel reads: the formats it writes, and workbooks, which it only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Parquet,
    Ipc,
    Csv,
    /// An Excel or OpenDocument workbook: `.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`.
    Workbook,
}

impl InputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Ipc => "ipc",
            Self::Csv => "csv",
            Self::Workbook => "workbook",
        }
    }

    /// The format a file name's extension implies.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match Format::from_extension(ext) {
            Some(Format::Parquet) => Some(Self::Parquet),
            Some(Format::Ipc) => Some(Self::Ipc),
            Some(Format::Csv) => Some(Self::Csv),
            None => matches!(
                ext.to_ascii_lowercase().as_str(),
                "xlsx" | "xlsm" | "xlsb" | "xls" | "ods"
            )
            .then_some(Self::Workbook),
        }
    }
}

/// `[input]`: a file, or a directory of files of one format, or a PostgreSQL table or
/// query.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The export: a file, or a directory of files of one format (not with `postgres`).
    #[serde(default)]
    pub path: Option<String>,
    /// A PostgreSQL table or query instead of a file; the connection comes from the
    /// environment (`DOEL_PG_URL`, or libpq's `PG*` variables and password file).
    #[serde(default)]
    pub postgres: Option<PostgresSpec>,
    #[serde(default)]
    pub format: Option<InputFormat>,
    /// CSV only: the field separator, one ASCII character (default `,`).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// CSV only: the character encoding, a WHATWG label such as `windows-1252` (default
    /// `utf-8`).
    #[serde(default)]
    pub encoding: Option<String>,
    /// Workbooks only: the sheet's name (default the workbook's first sheet).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Workbooks only: the row that holds the column names, from 1 (default 1); the
    /// rows above it are skipped.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1048576))]
    pub header_row: Option<u32>,
}

/// `[input] postgres`: what to read, one of the two.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresSpec {
    /// A table (or view), optionally with its schema: `klanten`, `export.klanten`.
    #[serde(default)]
    pub table: Option<String>,
    /// A query whose result is the export, e.g. a join; only the plan's columns are
    /// selected from it.
    #[serde(default)]
    pub query: Option<String>,
}

/// `[exclusions]`: flag columns of the export that take records out before anything else.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    /// A yes/no column: a restricted record (*beperking*) is never processed, whatever
    /// the purpose.
    pub restricted: Option<String>,
    /// A yes/no column: a subject who objected (*bezwaar*) is left out of research and
    /// statistics.
    pub objected: Option<String>,
    /// The export's BSN column that the lists below are matched against (canonical forms).
    pub bsn: Option<String>,
    /// Files (CSV with a header, or Parquet; first column) of BSNs of restricted records.
    #[serde(default)]
    pub restriction_lists: Vec<String>,
    /// Files of BSNs of subjects who objected.
    #[serde(default)]
    pub objection_lists: Vec<String>,
    /// The lists' column of BSNs, where its name is none that doel knows (`bsn`,
    /// `burgerservicenummer`, …, or the export's `bsn` column's name).
    pub list_column: Option<String>,
    /// The largest share of a list's entries that may be no valid BSN (default 0.05):
    /// such an entry names nobody that can be matched, so above it the run fails.
    pub list_invalid_share: Option<f64>,
}

/// The share of invalid entries an exclusion list may have when the pipeline sets none.
pub const LIST_INVALID_SHARE: f64 = 0.05;

/// `[output]`: the extract's file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub path: String,
    #[serde(default)]
    pub format: Option<Format>,
    /// `records` (default): the transformed records as they are; `microdata`: records
    /// protected by `[microdata]`.
    #[serde(default)]
    pub kind: OutputKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    #[default]
    Records,
    Microdata,
    Table,
}

/// `[table]`: counts (and sums, means) of persons per combination of dimensions, with
/// small cells suppressed and counts rounded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Released columns to group by.
    pub dimensions: Vec<String>,
    /// A released column identifying the person (a pseudonym): cells count distinct
    /// persons; without it they count records.
    pub person: Option<String>,
    /// Numeric released columns summed (and averaged per record) in each cell.
    #[serde(default)]
    pub sums: Vec<String>,
    /// Contributors a cell needs to be published (default 10).
    pub min_count: Option<u32>,
    /// Published counts are rounded to a multiple of this (default 5; 1 = none).
    pub round_to: Option<u32>,
    /// Publish the margins (totals over each dimension), protected too (default true).
    pub totals: Option<bool>,
    /// The dimension value of a total (default "Totaal").
    pub total_label: Option<String>,
    /// The p%-rule for sums: a cell whose sum the two largest contributors make up to
    /// within p % is suppressed (optional).
    pub p_percent: Option<f64>,
}

/// `[microdata]`: k-anonymity (and optionally ℓ-diversity) over released columns.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MicrodataSpec {
    /// Released columns that together could single a person out.
    pub quasi_identifiers: Vec<String>,
    #[serde(default)]
    pub k: Option<u32>,
    /// A released column identifying the person (a pseudonym): classes then count
    /// distinct persons rather than records.
    pub person: Option<String>,
    #[serde(default)]
    pub on_violation: Option<OnViolation>,
    /// `generalise`: the share of records the least generalisation may still suppress.
    pub max_suppressed: Option<f64>,
    /// Distinct ℓ-diversity of one sensitive released column.
    pub sensitive: Option<SensitiveSpec>,
    /// Areas with too few persons coarsened or nulled.
    pub small_area: Option<SmallAreaSpec>,
    /// Per quasi-identifier, its generalisation steps (`year`, `5_years`, `pc3`, …).
    #[serde(default)]
    pub hierarchies: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    Suppress,
    Generalise,
    Fail,
}

impl OnViolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suppress => "suppress",
            Self::Generalise => "generalise",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SensitiveSpec {
    pub column: String,
    pub l: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmallAreaSpec {
    pub column: String,
    /// Persons (or records) an area needs to be released as it is.
    pub min: u32,
    #[serde(default)]
    pub action: Option<AreaAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AreaAction {
    /// Walk the column's hierarchy until the area is large enough (or `*`).
    Coarsen,
    /// Release the area as null.
    Null,
}

/// One entry of `[columns]` in its long form; the short form `name = "keep"` (or
/// `"drop"`) is an entry with only `action`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// What happens to the column (required in the long form).
    #[schemars(required)]
    pub action: Option<Action>,
    /// `pseudonymise` and `token`: which canonical form (`bsn`, `name`, `link`).
    pub kind: Option<PseudonymKind>,
    /// The output column's name, when it differs from the entry's name.
    #[serde(rename = "as")]
    pub rename: Option<String>,
    /// Source columns, when not the entry's own name: a list of names (`name`), or of
    /// `{ date = "col" }` / `{ name = ["col", …] }` parts (`link`).
    /// Read as plain values and sorted into [`SourceSpec`]s by `validate`, so that an
    /// unknown key inside a part is named in the error.
    #[serde(default)]
    #[schemars(schema_with = "sources")]
    pub from: Option<Vec<toml::Value>>,
    /// `generalise`: the target (`year`, `month`, `age_band`, `pc4`, `bucket`, `top_code`).
    pub to: Option<Generalisation>,
    /// What happens to a value without a canonical form.
    pub on_invalid: Option<OnInvalid>,
    /// `age_band`: ascending lower bounds in years, starting at 0.
    pub bands: Option<Vec<u32>>,
    /// `bucket`: ascending edges.
    pub edges: Option<Vec<f64>>,
    /// `top_code`: the largest value released.
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Keep,
    Drop,
    Pseudonymise,
    /// Like `pseudonymise`, but reversible by the key's holder (`doel reidentify`).
    Token,
    Generalise,
    /// Free text with BSNs, IBANs, e-mail addresses, phone numbers and postcodes replaced.
    Scrub,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Drop => "drop",
            Self::Pseudonymise => "pseudonymise",
            Self::Token => "token",
            Self::Generalise => "generalise",
            Self::Scrub => "scrub",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PseudonymKind {
    Bsn,
    Name,
    Link,
}

impl PseudonymKind {
    /// The `kind` string of `docs/spec/pseudonyms-v1.md §Pseudonym`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bsn => "bsn",
            Self::Name => "name",
            Self::Link => "link",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Generalisation {
    Year,
    Month,
    AgeBand,
    Pc4,
    Bucket,
    TopCode,
}

impl Generalisation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::AgeBand => "age_band",
            Self::Pc4 => "pc4",
            Self::Bucket => "bucket",
            Self::TopCode => "top_code",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    /// Leave the row out of the extract (counted).
    DropRow,
    /// Release the row with this value null (counted).
    Null,
    /// Stop the run: nothing is written.
    Fail,
}

impl OnInvalid {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DropRow => "drop_row",
            Self::Null => "null",
            Self::Fail => "fail",
        }
    }
}

/// `[columns]`: each entry an action (the short form) or a [`ColumnSpec`].
fn column_entries(generator: &mut SchemaGenerator) -> Schema {
    let action = generator.subschema_for::<Action>();
    let spec = generator.subschema_for::<ColumnSpec>();
    json_schema!({
        "description": "Each column of the export by name: an action (`bsn = \"drop\"`) or a table of the action and its settings. Columns not named are dropped.",
        "type": "object",
        "additionalProperties": { "anyOf": [action, spec] },
    })
}

/// `from`: column names, or the parts of a `link` key.
fn sources(generator: &mut SchemaGenerator) -> Schema {
    let part = generator.subschema_for::<LinkPartSpec>();
    json_schema!({
        "description": "Source columns, when not the entry's own name: column names (`name`), or `{ date = \"col\" }` / `{ name = [\"col\", ...] }` parts (`link`).",
        "type": "array",
        "items": { "anyOf": [{ "type": "string" }, part] },
    })
}

/// One element of `from`.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    Column(String),
    Part(LinkPartSpec),
}

/// A part of a `link` key: exactly one of `date` or `name`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkPartSpec {
    pub date: Option<String>,
    pub name: Option<Vec<String>>,
}
