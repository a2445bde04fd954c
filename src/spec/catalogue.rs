//! The data catalogue: what each column of an export holds, about whom, and how long it
//! may be kept. The policy rules judge a pipeline against it; the plan shows each
//! column's category; retention terms are enforced from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::pipeline::{CATALOGUE, Faults, SpecError, read_text, syntax};
use super::schema::{self, Document};

/// The file's structure, as read from TOML.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CatalogueFile {
    catalogue: Header,
    #[serde(default)]
    retention: BTreeMap<String, TermSpec>,
    // Kept as plain values so that an error names the column.
    #[schemars(schema_with = "entries")]
    columns: toml::Table,
}

/// `[columns]`: each column of the export by name.
fn entries(generator: &mut SchemaGenerator) -> Schema {
    let entry = generator.subschema_for::<EntrySpec>();
    json_schema!({
        "description": "Each column of the export by name, with its type, category and subjects.",
        "type": "object",
        "additionalProperties": entry,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    /// The column that identifies a record's subject; see [`Catalogue::key`].
    key: Option<String>,
    /// For people reading the file.
    #[serde(rename = "description")]
    _description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TermSpec {
    years: u32,
    after: String,
    basis: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    #[serde(rename = "type")]
    value_type: ValueType,
    category: CategoryName,
    special: Option<SpecialKind>,
    subjects: Vec<Subject>,
    retention: Option<String>,
    #[serde(default)]
    free_text: bool,
    /// For people reading the file.
    #[serde(rename = "description")]
    _description: Option<String>,
}

/// What a column's values are, in the export's own terms. In a CSV export every column
/// is read as text; `date` then means text holding dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum CategoryName {
    Bsn,
    Identifier,
    Contact,
    Address,
    Area,
    BirthDate,
    Special,
    Financial,
    Contract,
    FreeText,
    Restriction,
    Objection,
    Other,
}

/// The kind of data a column holds, as far as the policy rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A citizen service number (*burgerservicenummer*).
    Bsn,
    /// A direct identifier other than the BSN: names, client or contract numbers.
    Identifier,
    /// E-mail addresses, phone numbers.
    Contact,
    /// Street, house number, full postcode: finer than PC4.
    Address,
    /// A region no finer than PC4: municipality, town, PC4 area.
    Area,
    BirthDate,
    /// A special category of personal data (GDPR art. 9 and 10).
    Special(SpecialKind),
    Financial,
    Contract,
    /// Text typed by people, which may hold anything.
    FreeText,
    /// A flag marking records whose processing is restricted.
    Restriction,
    /// A flag marking subjects who objected.
    Objection,
    Other,
}

impl Category {
    pub fn describe(self) -> String {
        match self {
            Self::Bsn => "bsn".into(),
            Self::Identifier => "identifier".into(),
            Self::Contact => "contact".into(),
            Self::Address => "address".into(),
            Self::Area => "area".into(),
            Self::BirthDate => "birth date".into(),
            Self::Special(kind) => format!("special: {}", kind.as_str()),
            Self::Financial => "financial".into(),
            Self::Contract => "contract".into(),
            Self::FreeText => "free text".into(),
            Self::Restriction => "restriction flag".into(),
            Self::Objection => "objection flag".into(),
            Self::Other => "other".into(),
        }
    }
}

/// The special categories of GDPR art. 9(1), and criminal data (art. 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpecialKind {
    Health,
    Religion,
    Ethnicity,
    Political,
    TradeUnion,
    Genetic,
    Biometric,
    SexLife,
    Criminal,
}

impl SpecialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Religion => "religion",
            Self::Ethnicity => "ethnicity",
            Self::Political => "political",
            Self::TradeUnion => "trade_union",
            Self::Genetic => "genetic",
            Self::Biometric => "biometric",
            Self::SexLife => "sex_life",
            Self::Criminal => "criminal",
        }
    }
}

/// Whom a column's values describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Child,
    Parent,
    Staff,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::Parent => "parent",
            Self::Staff => "staff",
        }
    }
}

/// How long a kind of data may be kept: `years` after the date in column `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionTerm {
    pub name: String,
    pub years: u32,
    /// The date column the term runs from. A record without that date (a contract still
    /// running) has not started its term.
    pub after: String,
    /// Where the term comes from (a law, the organisation's regulation).
    pub basis: Option<String>,
}

/// One column of the export.
#[derive(Debug, Clone)]
pub struct Entry {
    pub column: String,
    pub value_type: ValueType,
    pub category: Category,
    pub subjects: Vec<Subject>,
    /// The name of its retention term, if it has one.
    pub retention: Option<String>,
    /// Typed by people (like category free text): released only through `scrub`.
    pub free_text: bool,
}

/// A validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub path: PathBuf,
    pub name: String,
    /// The column identifying a record's subject: once its retention term has passed,
    /// the whole record is excluded.
    pub key: Option<String>,
    pub terms: BTreeMap<String, RetentionTerm>,
    /// In file order.
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// Read and validate a catalogue file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = read_text(path, CATALOGUE)?;
        Self::parse(path, &text)
    }

    /// Validate a catalogue's text; `path` is used in messages. Every problem found is
    /// in the error, each with its line (see [`super::Pipeline::parse`]).
    pub fn parse(path: &Path, text: &str) -> Result<Self, SpecError> {
        let doc = Document::parse(text).map_err(|e| syntax(path, CATALOGUE, &e, text))?;
        if doc.has_section("pipeline") && !doc.has_section("catalogue") {
            return Err(SpecError::problems(path, CATALOGUE, vec![doc.problem(
                &["pipeline"],
                "this is a pipeline file, not a data catalogue: [pipeline] catalogue names the catalogue file",
            )]));
        }
        let shape = doc.problems(schema::catalogue());
        if !shape.is_empty() {
            return Err(SpecError::problems(path, CATALOGUE, shape));
        }
        let file: CatalogueFile =
            toml::from_str(text).map_err(|e| syntax(path, CATALOGUE, &e, text))?;
        super::pipeline::printable(path, CATALOGUE, text)?;
        let mut faults = Faults::new(&doc);
        let mut entries = Vec::new();
        for (column, value) in &file.columns {
            let made = EntrySpec::deserialize(value.clone())
                .map_err(|e| e.message().trim_end().to_owned())
                .and_then(|spec| entry(column, spec));
            match made {
                Ok(e) => entries.push(e),
                Err(problem) => faults.at(
                    &["columns", column],
                    format!("[columns] {column}: {problem}"),
                ),
            }
        }
        let find = |column: &str| entries.iter().find(|e| e.column == column);
        let mut terms = BTreeMap::new();
        for (name, spec) in file.retention {
            match find(&spec.after) {
                Some(anchor) if anchor.value_type == ValueType::Date => {}
                Some(_) => faults.at(
                    &["retention", &name, "after"],
                    format!(
                        "[retention.{name}] runs after `{}`, which is not a date column",
                        spec.after
                    ),
                ),
                None if !file.columns.contains_key(&spec.after) => faults.at(
                    &["retention", &name, "after"],
                    format!(
                        "[retention.{name}] runs after `{}`, which is not in [columns]",
                        spec.after
                    ),
                ),
                // A column whose entry has a problem of its own: named above.
                None => {}
            }
            terms.insert(
                name.clone(),
                RetentionTerm {
                    name,
                    years: spec.years,
                    after: spec.after,
                    basis: spec.basis,
                },
            );
        }
        for e in &entries {
            if let Some(term) = &e.retention
                && !terms.contains_key(term)
            {
                faults.at(
                    &["columns", &e.column, "retention"],
                    format!(
                        "[columns] {}: retention term \"{term}\" is not defined in [retention]",
                        e.column
                    ),
                );
            }
        }
        if let Some(key) = &file.catalogue.key
            && !file.columns.contains_key(key)
        {
            faults.at(
                &["catalogue", "key"],
                format!("[catalogue] key `{key}` is not in [columns]"),
            );
        }
        faults.finish(path, CATALOGUE)?;
        Ok(Self {
            path: path.to_owned(),
            name: file.catalogue.name,
            key: file.catalogue.key,
            terms,
            entries,
        })
    }

    pub fn entry(&self, column: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.column == column)
    }

    /// The retention term of `column`, if it is catalogued with one.
    pub fn term(&self, column: &str) -> Option<&RetentionTerm> {
        self.entry(column)?
            .retention
            .as_ref()
            .and_then(|name| self.terms.get(name))
    }
}

fn entry(column: &str, spec: EntrySpec) -> Result<Entry, String> {
    let category = match (spec.category, spec.special) {
        (CategoryName::Special, Some(kind)) => Category::Special(kind),
        (CategoryName::Special, None) => {
            return Err("category \"special\" needs `special` (health, religion, ethnicity, political, trade_union, genetic, biometric, sex_life or criminal)".into());
        }
        (_, Some(_)) => return Err("`special` applies only to category \"special\"".into()),
        (CategoryName::Bsn, None) => Category::Bsn,
        (CategoryName::Identifier, None) => Category::Identifier,
        (CategoryName::Contact, None) => Category::Contact,
        (CategoryName::Address, None) => Category::Address,
        (CategoryName::Area, None) => Category::Area,
        (CategoryName::BirthDate, None) => Category::BirthDate,
        (CategoryName::Financial, None) => Category::Financial,
        (CategoryName::Contract, None) => Category::Contract,
        (CategoryName::FreeText, None) => Category::FreeText,
        (CategoryName::Restriction, None) => Category::Restriction,
        (CategoryName::Objection, None) => Category::Objection,
        (CategoryName::Other, None) => Category::Other,
    };
    Ok(Entry {
        column: column.to_owned(),
        value_type: spec.value_type,
        free_text: spec.free_text || category == Category::FreeText,
        category,
        subjects: spec.subjects,
        retention: spec.retention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[catalogue]
name = "t"
key = "bsn"
[retention.admin]
years = 7
after = "einde"
[columns]
bsn = { type = "text", category = "bsn", subjects = ["child"], retention = "admin" }
einde = { type = "date", category = "contract", subjects = ["child"] }
"#;

    fn err(extra: &str) -> String {
        Catalogue::parse(Path::new("c.toml"), &format!("{BASE}{extra}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_catalogue_parses_with_terms_and_categories() {
        let c = Catalogue::parse(
            Path::new("c.toml"),
            &format!(
                "{BASE}zorg = {{ type = \"text\", category = \"special\", special = \"health\", subjects = [\"child\"], free_text = true }}\n"
            ),
        )
        .unwrap();
        assert_eq!(c.key.as_deref(), Some("bsn"));
        assert_eq!(c.term("bsn").unwrap().years, 7);
        assert_eq!(c.term("einde"), None);
        let zorg = c.entry("zorg").unwrap();
        assert_eq!(zorg.category, Category::Special(SpecialKind::Health));
        assert!(zorg.free_text);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(
            err("x = { type = \"text\", category = \"special\", subjects = [] }")
                .contains("needs `special`")
        );
        assert!(
            err(
                "x = { type = \"text\", category = \"other\", special = \"health\", subjects = [] }"
            )
            .contains("only to category")
        );
        assert!(
            err(
                "x = { type = \"text\", category = \"other\", subjects = [], retention = \"nope\" }"
            )
            .contains("\"nope\" is not defined")
        );
        assert!(
            err("x = { type = \"text\", category = \"secret\", subjects = [] }")
                .contains("[columns] x.category must be one of bsn, identifier")
        );
        assert!(err("[retention.b]\nyears = 1\nafter = \"bsn\"\n").contains("not a date column"));
        let missing_key = Catalogue::parse(
            Path::new("c.toml"),
            &BASE.replace("key = \"bsn\"", "key = \"id\""),
        )
        .unwrap_err()
        .to_string();
        assert!(
            missing_key.contains("key `id` is not in [columns]"),
            "{missing_key}"
        );
    }
}
