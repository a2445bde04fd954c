//! Resolution of a [`Pipeline`] against an input schema.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::spec::catalogue::{Category, RetentionTerm, ValueType};
use crate::spec::policy::{self, Violation};
use crate::spec::{
    Catalogue, Column, Generalise, LinkPart, OnInvalid, Operation, Pipeline, PseudonymKind, Purpose,
};

/// An input column's type, as far as the plan cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    /// Any other single value (a timestamp, a decimal, …), by its engine's name: can be
    /// kept or dropped, nothing else.
    Other(String),
    /// A list, struct, binary or other container, by its engine's name: only dropped,
    /// since the plan cannot account for the values inside.
    Nested(String),
}

impl ColumnType {
    pub fn name(&self) -> &str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Other(name) | Self::Nested(name) => name,
        }
    }
}

impl ColumnType {
    /// The columns of the export a catalogue describes, as if read from its schema: for
    /// checking pipelines without data.
    pub fn catalogued(catalogue: &Catalogue) -> Vec<(String, ColumnType)> {
        catalogue
            .entries
            .iter()
            .map(|e| {
                let t = match e.value_type {
                    ValueType::Text => Self::Text,
                    ValueType::Integer => Self::Integer,
                    ValueType::Float => Self::Float,
                    ValueType::Boolean => Self::Boolean,
                    ValueType::Date => Self::Date,
                    ValueType::Other => Self::Other("other".into()),
                };
                (e.column.clone(), t)
            })
            .collect()
    }
}

/// A pipeline that does not fit its input, or breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The pipeline breaks rules of the policy: the run is refused.
    #[error("the policy refuses this pipeline:{}", violations.iter().map(|v| format!("\n  - {v}")).collect::<String>())]
    Policy { violations: Vec<Violation> },
    /// A column the pipeline names is not in the input.
    #[error("column `{column}` (used by `{entry}`) is not in the input")]
    MissingColumn { column: String, entry: String },
    /// A column's type does not suit the operation.
    #[error("column `{column}` is {found}, but `{entry}` needs {expected}")]
    WrongType {
        column: String,
        entry: String,
        found: String,
        expected: &'static str,
    },
}

impl PlanError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Policy { .. } => {
                "docs/policy.md explains each rule; `doel check` checks pipelines without data"
            }
            Self::MissingColumn { .. } => {
                "check the spelling against the export's header (`doel plan` lists the input's columns)"
            }
            Self::WrongType { .. } => {
                "convert the column in the export (to text, a date or a number), or drop it"
            }
        }
    }
}

/// What the engine computes for one released column.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    Keep {
        source: String,
    },
    Scrub {
        source: String,
    },
    Pseudonymise {
        kind: PseudonymKind,
        parts: Vec<LinkPart>,
        /// A reversible token rather than a pseudonym.
        token: bool,
    },
    Generalise {
        source: String,
        to: Generalise,
    },
}

/// One released column.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub transform: Transform,
    /// What happens to a value without a canonical form (`Keep`: never consulted).
    pub on_invalid: OnInvalid,
    /// The retention terms of its sources: where one has passed, the value is null.
    pub retention: Vec<RetentionTerm>,
}

impl OutputColumn {
    /// The input columns read, in order.
    pub fn sources(&self) -> Vec<&str> {
        match &self.transform {
            Transform::Keep { source }
            | Transform::Scrub { source }
            | Transform::Generalise { source, .. } => vec![source],
            Transform::Pseudonymise { parts, .. } => {
                parts.iter().flat_map(LinkPart::columns).collect()
            }
        }
    }

    /// A short description: `pseudonymise (bsn)`, `generalise to pc4`, `keep`.
    pub fn describe(&self) -> String {
        match &self.transform {
            Transform::Keep { .. } => "keep".into(),
            Transform::Scrub { .. } => "scrub identifiers from free text".into(),
            Transform::Pseudonymise {
                kind, token: false, ..
            } => format!("pseudonymise ({})", kind.as_str()),
            Transform::Pseudonymise {
                kind, token: true, ..
            } => format!("token ({}, reversible by the key holder)", kind.as_str()),
            Transform::Generalise { to, .. } => {
                format!("generalise to {}", describe_generalise(to))
            }
        }
    }
}

fn describe_generalise(to: &Generalise) -> String {
    match to {
        Generalise::Year => "year".into(),
        Generalise::Month => "month".into(),
        Generalise::AgeBand(bands) => format!("age band {bands:?}"),
        Generalise::Pc4 => "pc4".into(),
        Generalise::Bucket(edges) => format!("bucket {edges:?}"),
        Generalise::TopCode(max) => format!("top code at {max}"),
    }
}

/// The fate of one input column.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Read for these released columns (possibly under another name or transformed).
    Used { by: Vec<String> },
    /// Dropped because the pipeline says `drop`.
    DroppedByPipeline,
    /// Dropped because the pipeline does not name it (deny by default).
    NotNamed,
    /// Read only to exclude records (`applied`), or named as such but not applied to
    /// this purpose (an objection flag in a management extract).
    ExclusionFlag {
        reason: ExclusionReason,
        applied: bool,
    },
    /// Read only to match records against the exclusion lists.
    ExclusionKey,
    /// Read only as the date a retention term runs from.
    RetentionAnchor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputColumn {
    pub name: String,
    pub column_type: ColumnType,
    /// From the catalogue; `None`: not catalogued (a new column in the export).
    pub category: Option<Category>,
    pub fate: Fate,
}

/// The resolved plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub pipeline: Pipeline,
    /// The day ages are computed on.
    pub reference_date: NaiveDate,
    /// Every input column, in input order.
    pub inputs: Vec<InputColumn>,
    /// The released columns, in pipeline order.
    pub outputs: Vec<OutputColumn>,
    /// Flag columns whose records are taken out before anything else, in the order
    /// they are applied (a record both restricted and objected to counts as restricted).
    pub exclusions: Vec<Exclusion>,
    /// Lists of BSNs whose records are excluded, matched against `exclusion_key`.
    pub exclusion_lists: Vec<ExclusionList>,
    /// The input's BSN column the lists are matched against, when a list applies.
    pub exclusion_key: Option<String>,
    /// The catalogue's key column and its term: a record past it is excluded. Only the
    /// term's anchor is read.
    pub retention_key: Option<(String, RetentionTerm)>,
    pub catalogue: Catalogue,
    /// Things a reviewer should see that do not refuse the run: new columns in the
    /// export, catalogued columns missing from it, unused exceptions.
    pub notes: Vec<String>,
}

/// A file of BSNs whose records are excluded.
#[derive(Debug, Clone, PartialEq)]
pub struct ExclusionList {
    pub path: std::path::PathBuf,
    pub reason: ExclusionReason,
}

/// Why a record is excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclusionReason {
    /// Processing restricted (*beperking*): excluded from every purpose.
    Restriction,
    /// The subject objected (*bezwaar*): excluded from research and statistics.
    Objection,
}

impl ExclusionReason {
    /// Restrictions bind every purpose; objections bind research and statistics.
    pub fn binds(self, purpose: Purpose) -> bool {
        self == Self::Restriction || matches!(purpose, Purpose::Research | Purpose::Statistics)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restriction => "restriction",
            Self::Objection => "objection",
        }
    }
}

/// A yes/no column whose "yes" rows are excluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    pub column: String,
    pub reason: ExclusionReason,
}

impl Plan {
    /// Judge `pipeline` by the policy against `catalogue`, then resolve it against an
    /// input's columns (in input order).
    pub fn resolve(
        pipeline: Pipeline,
        catalogue: Catalogue,
        schema: &[(String, ColumnType)],
        reference_date: NaiveDate,
    ) -> Result<Self, PlanError> {
        let findings = policy::check(&pipeline, &catalogue);
        if !findings.violations.is_empty() {
            return Err(PlanError::Policy {
                violations: findings.violations,
            });
        }
        let mut notes = findings.notes;
        let types: BTreeMap<&str, &ColumnType> =
            schema.iter().map(|(n, t)| (n.as_str(), t)).collect();
        // A term applies only through its anchor, which must be in the input.
        let check_term = |term: &RetentionTerm| {
            check_source(
                &types,
                &term.after,
                &format!("[retention.{}] after", term.name),
                Needs::Date,
            )
        };
        let purpose = pipeline.declaration.purpose;
        let mut flags: Vec<(String, ExclusionReason, bool)> = Vec::new();
        for (column, reason) in [
            (
                &pipeline.exclusions.restricted,
                ExclusionReason::Restriction,
            ),
            (&pipeline.exclusions.objected, ExclusionReason::Objection),
        ] {
            let Some(column) = column else { continue };
            let entry = format!(
                "[exclusions] {}",
                if reason == ExclusionReason::Restriction {
                    "restricted"
                } else {
                    "objected"
                }
            );
            check_source(&types, column, &entry, Needs::Flag)?;
            flags.push((column.clone(), reason, reason.binds(purpose)));
        }
        let mut exclusion_lists = Vec::new();
        for (paths, reason) in [
            (
                &pipeline.exclusions.restriction_lists,
                ExclusionReason::Restriction,
            ),
            (
                &pipeline.exclusions.objection_lists,
                ExclusionReason::Objection,
            ),
        ] {
            if reason.binds(purpose) {
                exclusion_lists.extend(paths.iter().map(|p| ExclusionList {
                    path: p.into(),
                    reason,
                }));
            }
        }
        let exclusion_key = pipeline
            .exclusions
            .bsn
            .clone()
            .filter(|_| !exclusion_lists.is_empty());
        if let Some(key) = &exclusion_key {
            check_source(&types, key, "[exclusions] bsn", Needs::TextOrInteger)?;
        }
        let retention_key = match &catalogue.key {
            Some(key) => match catalogue.term(key) {
                Some(term) => {
                    check_source(&types, key, "[catalogue] key", Needs::Any)?;
                    check_term(term)?;
                    Some((key.clone(), term.clone()))
                }
                None => None,
            },
            None => None,
        };
        let mut outputs = Vec::new();
        let mut dropped = std::collections::BTreeSet::new();
        for column in &pipeline.columns {
            check_column(column, &types)?;
            let (name, transform, on_invalid) = match &column.operation {
                Operation::Drop { source } => {
                    dropped.insert(source.clone());
                    continue;
                }
                Operation::Keep { source, output } => (
                    output,
                    Transform::Keep {
                        source: source.clone(),
                    },
                    OnInvalid::Null,
                ),
                Operation::Scrub { source, output } => (
                    output,
                    Transform::Scrub {
                        source: source.clone(),
                    },
                    OnInvalid::Null,
                ),
                Operation::Pseudonymise {
                    kind,
                    sources,
                    output,
                    on_invalid,
                    token,
                } => (
                    output,
                    Transform::Pseudonymise {
                        kind: *kind,
                        parts: sources.clone(),
                        token: *token,
                    },
                    *on_invalid,
                ),
                Operation::Generalise {
                    source,
                    to,
                    output,
                    on_invalid,
                } => (
                    output,
                    Transform::Generalise {
                        source: source.clone(),
                        to: to.clone(),
                    },
                    *on_invalid,
                ),
            };
            let mut retention: Vec<RetentionTerm> = Vec::new();
            for term in column
                .sources()
                .into_iter()
                .filter_map(|s| catalogue.term(s))
            {
                // Past the key's term the whole record is excluded already.
                let key_term = retention_key.as_ref().map(|(_, t)| t);
                if !retention.contains(term) && key_term != Some(term) {
                    check_term(term)?;
                    retention.push(term.clone());
                }
            }
            outputs.push(OutputColumn {
                name: name.clone(),
                transform,
                on_invalid,
                retention,
            });
        }
        let anchors: Vec<&str> = outputs
            .iter()
            .flat_map(|o| &o.retention)
            .chain(retention_key.iter().map(|(_, term)| term))
            .map(|t| t.after.as_str())
            .collect();
        if let Some(md) = &pipeline.output.microdata {
            for output in &outputs {
                let known = output.sources().iter().any(|source| {
                    matches!(
                        catalogue.entry(source).map(|e| e.category),
                        Some(
                            Category::BirthDate
                                | Category::Address
                                | Category::Area
                                | Category::Contract
                        )
                    )
                });
                let pseudonym = matches!(output.transform, Transform::Pseudonymise { .. });
                if known
                    && !pseudonym
                    && !md.quasi_identifiers.contains(&output.name)
                    && md.person.as_ref() != Some(&output.name)
                {
                    notes.push(format!(
                        "`{}` is released from data an attacker may know (a date, address, area or contract) but is not a quasi-identifier: k does not protect it",
                        output.name
                    ));
                }
            }
        }
        for (name, _) in schema {
            if catalogue.entry(name).is_none() {
                notes.push(format!(
                    "new column `{name}` in the export is not in the catalogue; it is not released"
                ));
            }
        }
        for entry in &catalogue.entries {
            if !types.contains_key(entry.column.as_str()) {
                notes.push(format!(
                    "catalogued column `{}` is not in the export",
                    entry.column
                ));
            }
        }
        let inputs = schema
            .iter()
            .map(|(name, column_type)| {
                let by: Vec<String> = outputs
                    .iter()
                    .filter(|o| o.sources().contains(&name.as_str()))
                    .map(|o| o.name.clone())
                    .collect();
                let flag = flags.iter().find(|(column, _, _)| column == name);
                let fate = if !by.is_empty() {
                    Fate::Used { by }
                } else if let Some((_, reason, applied)) = flag {
                    Fate::ExclusionFlag {
                        reason: *reason,
                        applied: *applied,
                    }
                } else if exclusion_key.as_deref() == Some(name.as_str()) {
                    Fate::ExclusionKey
                } else if anchors.contains(&name.as_str()) {
                    Fate::RetentionAnchor
                } else if dropped.contains(name) {
                    Fate::DroppedByPipeline
                } else {
                    Fate::NotNamed
                };
                InputColumn {
                    name: name.clone(),
                    column_type: column_type.clone(),
                    category: catalogue.entry(name).map(|e| e.category),
                    fate,
                }
            })
            .collect();
        let exclusions = flags
            .into_iter()
            .filter(|(_, _, applied)| *applied)
            .map(|(column, reason, _)| Exclusion { column, reason })
            .collect();
        Ok(Self {
            pipeline,
            reference_date,
            inputs,
            outputs,
            exclusions,
            exclusion_lists,
            exclusion_key,
            retention_key,
            catalogue,
            notes,
        })
    }

    /// The input columns the engine must read (every other column is never decoded).
    pub fn needed_inputs(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .filter(|c| {
                matches!(c.fate, Fate::Used { .. })
                    || self.exclusions.iter().any(|e| e.column == c.name)
                    || self.exclusion_key.as_deref() == Some(c.name.as_str())
                    || self.retention_terms().iter().any(|t| t.after == c.name)
            })
            .map(|c| c.name.as_str())
            .collect()
    }
}

impl Plan {
    /// The declared exceptions that apply: to a special-category column that is released.
    pub fn exceptions_applied(&self) -> impl Iterator<Item = &crate::spec::Exception> {
        self.pipeline.exceptions.iter().filter(|e| {
            matches!(
                self.catalogue.entry(&e.column).map(|c| c.category),
                Some(Category::Special(_))
            ) && self
                .inputs
                .iter()
                .any(|i| i.name == e.column && matches!(i.fate, Fate::Used { .. }))
        })
    }

    /// The distinct retention terms applied, by name.
    pub fn retention_terms(&self) -> Vec<&RetentionTerm> {
        let mut terms: Vec<&RetentionTerm> = self
            .outputs
            .iter()
            .flat_map(|o| &o.retention)
            .chain(self.retention_key.iter().map(|(_, term)| term))
            .collect();
        terms.sort_by(|a, b| a.name.cmp(&b.name));
        terms.dedup_by(|a, b| a.name == b.name);
        terms
    }
}

/// What an operation needs of a source column's type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Anything: the column is only dropped.
    Any,
    /// A single value per row (kept as it is).
    Scalar,
    Text,
    TextOrInteger,
    Date,
    Number,
    /// Yes/no: a boolean, or text or an integer holding one.
    Flag,
}

impl Needs {
    fn describe(self) -> &'static str {
        match self {
            Self::Any => "any type",
            Self::Scalar => {
                "a single value per row (not a list or struct, whose contents the plan cannot show)"
            }
            Self::Text => "text",
            Self::TextOrInteger => "text or an integer",
            Self::Date => "a date (or text as YYYY-MM-DD)",
            Self::Number => "a number (or text holding one)",
            Self::Flag => "yes/no (a boolean, or text such as ja/nee, true/false, 1/0)",
        }
    }

    fn accepts(self, found: &ColumnType) -> bool {
        use ColumnType::*;
        match self {
            Self::Any => true,
            Self::Scalar => !matches!(found, Nested(_)),
            Self::Text => *found == Text,
            Self::TextOrInteger => matches!(found, Text | Integer),
            Self::Date => matches!(found, Text | Date),
            Self::Number => matches!(found, Text | Integer | Float),
            Self::Flag => matches!(found, Boolean | Text | Integer),
        }
    }
}

/// Every source exists and has a type the operation can read.
fn check_column(column: &Column, types: &BTreeMap<&str, &ColumnType>) -> Result<(), PlanError> {
    let checks: Vec<(&str, Needs)> = match &column.operation {
        Operation::Drop { source } => vec![(source, Needs::Any)],
        Operation::Keep { source, .. } => vec![(source, Needs::Scalar)],
        Operation::Scrub { source, .. } => vec![(source, Needs::Text)],
        Operation::Pseudonymise {
            kind: PseudonymKind::Bsn,
            sources,
            ..
        } => sources
            .iter()
            .flat_map(LinkPart::columns)
            .map(|c| (c, Needs::TextOrInteger))
            .collect(),
        Operation::Pseudonymise { sources, .. } => sources
            .iter()
            .flat_map(|part| {
                let needs = if matches!(part, LinkPart::Date(_)) {
                    Needs::Date
                } else {
                    Needs::Text
                };
                part.columns().map(move |c| (c, needs))
            })
            .collect(),
        Operation::Generalise { source, to, .. } => vec![(
            source,
            match to {
                Generalise::Year | Generalise::Month | Generalise::AgeBand(_) => Needs::Date,
                Generalise::Pc4 => Needs::TextOrInteger,
                Generalise::Bucket(_) | Generalise::TopCode(_) => Needs::Number,
            },
        )],
    };
    let entry = format!("[columns] {}", column.entry);
    checks
        .into_iter()
        .try_for_each(|(name, needs)| check_source(types, name, &entry, needs))
}

/// The column is in the input and of a type `needs` accepts; `entry` names the pipeline
/// entry that reads it, for the message.
fn check_source(
    types: &BTreeMap<&str, &ColumnType>,
    column: &str,
    entry: &str,
    needs: Needs,
) -> Result<(), PlanError> {
    let found = types.get(column).ok_or_else(|| PlanError::MissingColumn {
        column: column.to_owned(),
        entry: entry.to_owned(),
    })?;
    if needs.accepts(found) {
        Ok(())
    } else {
        Err(PlanError::WrongType {
            column: column.to_owned(),
            entry: entry.to_owned(),
            found: found.name().to_owned(),
            expected: needs.describe(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CATALOGUE: &str = r#"
[catalogue]
name = "t"
key = "bsn"
[retention.admin]
years = 7
after = "einde"
[retention.kort]
years = 2
after = "einde"
[columns]
bsn = { type = "text", category = "bsn", subjects = ["child"], retention = "admin" }
voornaam = { type = "text", category = "identifier", subjects = ["child"], retention = "kort" }
geboren = { type = "date", category = "birth_date", subjects = ["child"] }
notities = { type = "text", category = "free_text", subjects = ["child"] }
bedrag = { type = "float", category = "financial", subjects = ["parent"], retention = "admin" }
einde = { type = "date", category = "contract", subjects = ["child"] }
beperkt = { type = "boolean", category = "restriction", subjects = ["child"] }
"#;

    fn pipeline(columns: &str) -> Pipeline {
        let text = format!(
            "[pipeline]\nname='t'\npurpose='management'\nlegal_basis='public-task'\nrecipient='r'\ncontroller='c'\ncontact='fg'\nrecipient_retention='1y'\npseudonym_domain='d'\ncatalogue='c.toml'\n[input]\npath='i.csv'\n[output]\npath='o.csv'\n[exclusions]\nrestricted='beperkt'\n[columns]\n{columns}"
        );
        Pipeline::parse(Path::new("p.toml"), &text).unwrap()
    }

    fn schema() -> Vec<(String, ColumnType)> {
        [
            ("bsn", ColumnType::Text),
            ("voornaam", ColumnType::Text),
            ("geboren", ColumnType::Date),
            ("notities", ColumnType::Text),
            ("bedrag", ColumnType::Float),
            ("einde", ColumnType::Date),
            ("nieuw", ColumnType::Text),
            ("beperkt", ColumnType::Boolean),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect()
    }

    fn resolve(columns: &str) -> Result<Plan, PlanError> {
        Plan::resolve(
            pipeline(columns),
            Catalogue::parse(Path::new("c.toml"), CATALOGUE).unwrap(),
            &schema(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
    }

    #[test]
    fn every_input_column_has_a_fate() {
        let plan = resolve("bsn = { action = 'pseudonymise', kind = 'bsn', as = 'id' }\nnaam = { action = 'pseudonymise', kind = 'name', from = ['voornaam'] }\nbedrag = 'drop'\ngeboren = { action = 'generalise', to = 'year' }").unwrap();
        let fates: Vec<_> = plan
            .inputs
            .iter()
            .map(|c| (c.name.as_str(), &c.fate))
            .collect();
        assert_eq!(
            fates[0],
            (
                "bsn",
                &Fate::Used {
                    by: vec!["id".into()]
                }
            )
        );
        assert_eq!(
            fates[1],
            (
                "voornaam",
                &Fate::Used {
                    by: vec!["naam".into()]
                }
            )
        );
        assert_eq!(fates[3], ("notities", &Fate::NotNamed));
        assert_eq!(fates[4], ("bedrag", &Fate::DroppedByPipeline));
        assert_eq!(fates[5], ("einde", &Fate::RetentionAnchor));
        assert_eq!(plan.inputs[6].category, None);
        assert_eq!(
            plan.needed_inputs(),
            ["bsn", "voornaam", "geboren", "einde", "beperkt"]
        );
        assert!(
            plan.notes.iter().any(|n| n.contains("new column `nieuw`")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn retention_terms_follow_the_sources() {
        let plan = resolve("naam = { action = 'pseudonymise', kind = 'name', from = ['voornaam'] }\ngeboren = { action = 'generalise', to = 'year' }").unwrap();
        let terms: Vec<Vec<&str>> = plan
            .outputs
            .iter()
            .map(|o| o.retention.iter().map(|t| t.name.as_str()).collect())
            .collect();
        assert_eq!(terms, [vec!["kort"], vec![]]);
        let (key, term) = plan.retention_key.as_ref().unwrap();
        assert_eq!((key.as_str(), term.years), ("bsn", 7));
        assert_eq!(plan.inputs[0].fate, Fate::NotNamed);
        assert_eq!(
            plan.needed_inputs(),
            ["voornaam", "geboren", "einde", "beperkt"]
        );
    }

    #[test]
    fn missing_and_mistyped_columns_are_refused() {
        assert_eq!(
            resolve("nieuw = 'keep'").unwrap_err(),
            PlanError::Policy {
                violations: vec![Violation {
                    rule: policy::Rule::Uncatalogued,
                    column: Some("nieuw".into()),
                    problem: "read by `[columns] nieuw`, but not in the catalogue c.toml: a column nobody has classified cannot be released".into()
                }]
            }
        );
        assert_eq!(
            resolve("geboren = { action = 'generalise', to = 'year' }\nbsnn = 'drop'").unwrap_err(),
            PlanError::MissingColumn {
                column: "bsnn".into(),
                entry: "[columns] bsnn".into()
            }
        );
        assert!(matches!(
            resolve("bedrag = { action = 'generalise', to = 'year' }"),
            Err(PlanError::WrongType { .. })
        ));
        assert!(matches!(
            resolve("geboren = { action = 'pseudonymise', kind = 'bsn' }"),
            Err(PlanError::WrongType { .. })
        ));
    }
}
