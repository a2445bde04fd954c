//! The rules every pipeline is held to, judged against the export's catalogue before a
//! row is read: the organisation's privacy regulation, made checkable. A pipeline that
//! breaks one is refused, with the rule and the column named.

use std::fmt;

use super::catalogue::{Catalogue, Category};
use super::pipeline::{Column, Generalise, Operation, Pipeline};
use super::raw::{LegalBasis, Purpose};

/// The rules, by the name a refusal gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A released column must be in the catalogue.
    Uncatalogued,
    /// The BSN in clear only for a legal obligation that names its law.
    BsnInClear,
    /// A special category only under a declared exception.
    SpecialCategory,
    /// Free text only through `scrub`.
    FreeText,
    /// No direct identifier as it is in research or statistics.
    DirectIdentifier,
    /// Restricted records are excluded from every purpose.
    Restrictions,
    /// Subjects who objected are excluded from research and statistics.
    Objections,
    /// Exclusion lists are matched against a BSN column.
    ExclusionKey,
    /// Whether a record is restricted or objected to is not released.
    ExclusionFlag,
    /// A legal-obligation extract rests on legal basis legal-obligation.
    PurposeBasis,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uncatalogued => "uncatalogued-column",
            Self::BsnInClear => "bsn-in-clear",
            Self::SpecialCategory => "special-category",
            Self::FreeText => "free-text",
            Self::DirectIdentifier => "direct-identifier",
            Self::Restrictions => "restrictions",
            Self::Objections => "objections",
            Self::ExclusionKey => "exclusion-key",
            Self::ExclusionFlag => "exclusion-flag",
            Self::PurposeBasis => "purpose-basis",
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    /// The input column concerned, if one is.
    pub column: Option<String>,
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}", self.rule.as_str())?;
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// What the rules found: violations refuse the run; notes are shown but do not.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub violations: Vec<Violation>,
    pub notes: Vec<String>,
}

/// Judge `pipeline` against `catalogue`.
pub fn check(pipeline: &Pipeline, catalogue: &Catalogue) -> Findings {
    let mut findings = Findings::default();
    let declaration = &pipeline.declaration;
    let purpose = declaration.purpose;
    let mut refuse = |rule, column: Option<&str>, problem: String| {
        findings.violations.push(Violation {
            rule,
            column: column.map(str::to_owned),
            problem,
        })
    };
    if purpose == Purpose::LegalObligation && declaration.legal_basis != LegalBasis::LegalObligation
    {
        refuse(
            Rule::PurposeBasis,
            None,
            format!(
                "purpose \"legal-obligation\" rests on legal_basis \"legal-obligation\", not \"{}\"",
                declaration.legal_basis.as_str()
            ),
        );
    }
    for column in pipeline
        .columns
        .iter()
        .filter(|c| c.output_name().is_some())
    {
        for source in column.sources() {
            let Some(entry) = catalogue.entry(source) else {
                refuse(
                    Rule::Uncatalogued,
                    Some(source),
                    format!(
                        "read by `[columns] {}`, but not in the catalogue {}: a column nobody has classified cannot be released",
                        column.entry,
                        catalogue.path.display()
                    ),
                );
                continue;
            };
            let action = describe(column);
            if matches!(entry.category, Category::Restriction | Category::Objection) {
                refuse(
                    Rule::ExclusionFlag,
                    Some(source),
                    format!(
                        "is the export's {} and the pipeline would {action} it; whether a record is restricted or objected to is never released",
                        entry.category.describe()
                    ),
                );
            }
            if entry.retention.is_none() {
                findings.notes.push(format!(
                    "`{source}` has no retention term in the catalogue: it is released whatever its age"
                ));
            }
            if entry.category == Category::Bsn
                && !matches!(column.operation, Operation::Pseudonymise { .. })
            {
                let kept = matches!(column.operation, Operation::Keep { .. });
                let problem = match (purpose, &declaration.bsn_basis) {
                    (Purpose::LegalObligation, Some(_)) if kept => None,
                    (Purpose::LegalObligation, None) if kept => Some(
                        "a BSN kept in clear needs [pipeline] bsn_basis, naming the law that requires it".to_owned(),
                    ),
                    _ => Some(format!(
                        "is a BSN and the pipeline would {action} it; a {} pipeline may only pseudonymise or drop a BSN (in clear only with purpose \"legal-obligation\" and bsn_basis naming the law)",
                        purpose.as_str()
                    )),
                };
                if let Some(problem) = problem {
                    refuse(Rule::BsnInClear, Some(source), problem);
                }
            }
            if let Category::Special(kind) = entry.category
                && !pipeline.exceptions.iter().any(|e| e.column == source)
            {
                refuse(
                    Rule::SpecialCategory,
                    Some(source),
                    format!(
                        "holds a special category of data ({}); releasing it needs [exceptions.{source}] with a ground of GDPR art. 9(2) and a necessity statement",
                        kind.as_str()
                    ),
                );
            }
            if entry.free_text && !matches!(column.operation, Operation::Scrub { .. }) {
                refuse(
                    Rule::FreeText,
                    Some(source),
                    format!(
                        "is free text and the pipeline would {action} it; free text is released only with action = \"scrub\""
                    ),
                );
            }
            if matches!(purpose, Purpose::Research | Purpose::Statistics) {
                let allowed = match (entry.category, &column.operation) {
                    (
                        Category::Identifier | Category::Contact | Category::Address,
                        Operation::Pseudonymise { .. },
                    ) => true,
                    (
                        Category::Address,
                        Operation::Generalise {
                            to: Generalise::Pc4,
                            ..
                        },
                    ) => true,
                    (Category::Identifier | Category::Contact | Category::Address, _) => false,
                    _ => true,
                };
                if !allowed {
                    refuse(
                        Rule::DirectIdentifier,
                        Some(source),
                        format!(
                            "is a direct identifier ({}) and the pipeline would {action} it; a {} pipeline may only pseudonymise it{} or drop it",
                            entry.category.describe(),
                            purpose.as_str(),
                            if entry.category == Category::Address {
                                ", generalise it to pc4"
                            } else {
                                ""
                            }
                        ),
                    );
                }
            }
        }
    }
    let exclusions = &pipeline.exclusions;
    let objections_bind = matches!(purpose, Purpose::Research | Purpose::Statistics);
    let mut flag_missing = [false; 2];
    for entry in &catalogue.entries {
        let (rule, applied, binds, key, missing) = match entry.category {
            Category::Restriction => (
                Rule::Restrictions,
                exclusions.restricted.as_deref(),
                true,
                "restricted",
                &mut flag_missing[0],
            ),
            Category::Objection => (
                Rule::Objections,
                exclusions.objected.as_deref(),
                objections_bind,
                "objected",
                &mut flag_missing[1],
            ),
            _ => continue,
        };
        if binds && applied != Some(entry.column.as_str()) {
            *missing = true;
            refuse(
                rule,
                Some(&entry.column),
                format!(
                    "the catalogue marks it as the export's {} and a {} pipeline must apply it: set [exclusions] {key} = \"{}\"",
                    entry.category.describe(),
                    purpose.as_str(),
                    entry.column
                ),
            );
        }
    }
    let sources = [
        (
            Rule::Restrictions,
            true,
            exclusions.restricted.is_some() || !exclusions.restriction_lists.is_empty(),
            "restricted (a flag column) or restriction_lists",
            "restricted records",
        ),
        (
            Rule::Objections,
            objections_bind,
            exclusions.objected.is_some() || !exclusions.objection_lists.is_empty(),
            "objected (a flag column) or objection_lists",
            "subjects who objected",
        ),
    ];
    for ((rule, binds, present, keys, whom), flagged) in sources.into_iter().zip(flag_missing) {
        if binds && !present && !flagged {
            refuse(
                rule,
                None,
                format!(
                    "a {} pipeline must leave out {whom}: set [exclusions] {keys}",
                    purpose.as_str()
                ),
            );
        }
    }
    if let Some(key) = &exclusions.bsn
        && (!exclusions.restriction_lists.is_empty() || !exclusions.objection_lists.is_empty())
        && catalogue.entry(key).map(|e| e.category) != Some(Category::Bsn)
    {
        refuse(
            Rule::ExclusionKey,
            Some(key),
            "the exclusion lists are matched against it, but the catalogue does not class it as a BSN: no list entry could match".into(),
        );
    }
    for exception in &pipeline.exceptions {
        let special = catalogue
            .entry(&exception.column)
            .is_some_and(|e| matches!(e.category, Category::Special(_)));
        let released = pipeline
            .columns
            .iter()
            .any(|c| c.output_name().is_some() && c.sources().contains(&exception.column.as_str()));
        if !special {
            findings.notes.push(format!(
                "[exceptions.{}] is declared, but the catalogue does not class `{}` as a special category",
                exception.column, exception.column
            ));
        } else if !released {
            findings.notes.push(format!(
                "[exceptions.{}] is declared, but the pipeline does not release `{}`",
                exception.column, exception.column
            ));
        }
    }
    findings
}

/// What the entry does with its sources, for messages: "keep", "scrub", …
fn describe(column: &Column) -> &'static str {
    match &column.operation {
        Operation::Keep { .. } => "keep",
        Operation::Drop { .. } => "drop",
        Operation::Scrub { .. } => "scrub",
        Operation::Pseudonymise { token: false, .. } => "pseudonymise",
        Operation::Pseudonymise { token: true, .. } => "token",
        Operation::Generalise { .. } => "generalise",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CATALOGUE: &str = r#"
[catalogue]
name = "t"
[columns]
bsn = { type = "text", category = "bsn", subjects = ["child"] }
naam = { type = "text", category = "identifier", subjects = ["child"] }
email = { type = "text", category = "contact", subjects = ["parent"] }
postcode = { type = "text", category = "address", subjects = ["child"] }
zorg = { type = "text", category = "special", special = "health", subjects = ["child"] }
notities = { type = "text", category = "free_text", subjects = ["child"] }
soort = { type = "text", category = "contract", subjects = ["child"] }
bezwaar = { type = "boolean", category = "objection", subjects = ["child"] }
beperkt = { type = "boolean", category = "restriction", subjects = ["child"] }
"#;

    fn findings(purpose: &str, extra_pipeline: &str, rest: &str) -> Findings {
        let text = format!(
            "[pipeline]\nname='t'\npurpose='{purpose}'\nlegal_basis='{}'\nrecipient='r'\ncontroller='c'\ncontact='fg'\nrecipient_retention='1y'\npseudonym_domain='d'\ncatalogue='c.toml'\n{extra_pipeline}\n[input]\npath='i.csv'\n[output]\npath='o.csv'\n{rest}",
            if purpose == "legal-obligation" {
                "legal-obligation"
            } else {
                "public-task"
            }
        );
        let pipeline = Pipeline::parse(Path::new("p.toml"), &text).unwrap();
        let catalogue = Catalogue::parse(Path::new("c.toml"), CATALOGUE).unwrap();
        check(&pipeline, &catalogue)
    }

    const EXCLUDE: &str = "[exclusions]\nrestricted = 'beperkt'\nobjected = 'bezwaar'\n";

    fn refusals(purpose: &str, extra: &str, columns: &str) -> Vec<(Rule, Option<String>)> {
        findings(purpose, extra, &format!("{EXCLUDE}[columns]\n{columns}"))
            .violations
            .into_iter()
            .map(|v| (v.rule, v.column))
            .collect()
    }

    fn one(rule: Rule, column: &str) -> Vec<(Rule, Option<String>)> {
        vec![(rule, Some(column.to_owned()))]
    }

    #[test]
    fn a_compliant_pipeline_passes() {
        let f = findings(
            "research",
            "",
            &format!(
                "{EXCLUDE}[exceptions.zorg]\nground = 'research-statistics'\nnecessity = 'n'\n[columns]\nbsn = {{ action = 'pseudonymise', kind = 'bsn' }}\nnaam = {{ action = 'pseudonymise', kind = 'name' }}\npostcode = {{ action = 'generalise', to = 'pc4' }}\nzorg = 'keep'\nnotities = 'scrub'\nsoort = 'keep'\nemail = 'drop'"
            ),
        );
        assert_eq!(f.violations, []);
        assert!(
            f.notes.iter().all(|n| n
                .ends_with("no retention term in the catalogue: it is released whatever its age")),
            "{:?}",
            f.notes
        );
    }

    #[test]
    fn uncatalogued_columns_are_refused() {
        assert_eq!(
            refusals("research", "", "nieuw = 'keep'"),
            one(Rule::Uncatalogued, "nieuw")
        );
    }

    #[test]
    fn bsn_in_clear_only_for_a_named_legal_obligation() {
        assert_eq!(
            refusals("research", "", "bsn = 'keep'"),
            one(Rule::BsnInClear, "bsn")
        );
        assert_eq!(
            refusals("management", "", "bsn = 'keep'"),
            one(Rule::BsnInClear, "bsn")
        );
        assert_eq!(
            refusals("legal-obligation", "", "bsn = 'keep'"),
            one(Rule::BsnInClear, "bsn")
        );
        assert_eq!(
            refusals(
                "legal-obligation",
                "bsn_basis = 'Wet kinderopvang art. 1.1'",
                "bsn = 'keep'"
            ),
            []
        );
        assert_eq!(
            refusals("legal-obligation", "bsn_basis = 'Wet'", "bsn = 'scrub'"),
            one(Rule::BsnInClear, "bsn")
        );
    }

    #[test]
    fn special_categories_need_an_exception() {
        assert_eq!(
            refusals("research", "", "zorg = 'keep'"),
            one(Rule::SpecialCategory, "zorg")
        );
    }

    #[test]
    fn free_text_only_through_scrub() {
        assert_eq!(
            refusals("management", "", "notities = 'keep'"),
            one(Rule::FreeText, "notities")
        );
        assert_eq!(refusals("management", "", "notities = 'scrub'"), []);
    }

    #[test]
    fn direct_identifiers_not_as_they_are_in_research_or_statistics() {
        assert_eq!(
            refusals("statistics", "", "naam = 'keep'"),
            one(Rule::DirectIdentifier, "naam")
        );
        assert_eq!(
            refusals("research", "", "email = 'keep'"),
            one(Rule::DirectIdentifier, "email")
        );
        assert_eq!(
            refusals("research", "", "postcode = 'keep'"),
            one(Rule::DirectIdentifier, "postcode")
        );
        assert_eq!(refusals("management", "", "naam = 'keep'"), []);
    }

    #[test]
    fn exclusions_the_catalogue_knows_must_be_applied() {
        let without = |purpose| {
            findings(purpose, "", "[columns]\nsoort = 'keep'")
                .violations
                .into_iter()
                .map(|v| (v.rule, v.column))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            without("research"),
            [
                (Rule::Objections, Some("bezwaar".to_owned())),
                (Rule::Restrictions, Some("beperkt".to_owned())),
            ]
        );
        assert_eq!(
            without("management"),
            [(Rule::Restrictions, Some("beperkt".to_owned()))]
        );
    }

    #[test]
    fn flags_are_never_released_and_lists_match_a_bsn() {
        assert_eq!(
            refusals("management", "", "bezwaar = { action = 'keep', as = 'b' }"),
            one(Rule::ExclusionFlag, "bezwaar")
        );
        let lists = |key: &str| {
            findings(
                "research",
                "",
                &format!(
                    "{EXCLUDE}bsn = '{key}'\nobjection_lists = ['l.csv']\n[columns]\nsoort = 'keep'"
                ),
            )
            .violations
            .into_iter()
            .map(|v| (v.rule, v.column))
            .collect::<Vec<_>>()
        };
        assert_eq!(lists("naam"), one(Rule::ExclusionKey, "naam"));
        assert_eq!(lists("bsn"), []);
    }

    #[test]
    fn every_purpose_needs_a_restriction_source() {
        let catalogue = Catalogue::parse(
            Path::new("c.toml"),
            "[catalogue]\nname='t'\n[columns]\nsoort = { type = 'text', category = 'contract', subjects = [] }",
        )
        .unwrap();
        let text = |purpose: &str, exclusions: &str| {
            format!(
                "[pipeline]\nname='t'\npurpose='{purpose}'\nlegal_basis='public-task'\nrecipient='r'\ncontroller='c'\ncontact='fg'\nrecipient_retention='1y'\npseudonym_domain='d'\ncatalogue='c.toml'\n[input]\npath='i.csv'\n[output]\npath='o.csv'\n{exclusions}[columns]\nsoort='keep'"
            )
        };
        let rules = |purpose: &str, exclusions: &str| {
            let pipeline =
                Pipeline::parse(Path::new("p.toml"), &text(purpose, exclusions)).unwrap();
            check(&pipeline, &catalogue)
                .violations
                .into_iter()
                .map(|v| v.rule)
                .collect::<Vec<_>>()
        };
        assert_eq!(rules("management", ""), [Rule::Restrictions]);
        assert_eq!(
            rules("statistics", ""),
            [Rule::Restrictions, Rule::Objections]
        );
        assert_eq!(
            rules(
                "statistics",
                "[exclusions]\nbsn='soort'\nrestriction_lists=['r.csv']\nobjection_lists=['o.csv']\n"
            ),
            [Rule::ExclusionKey]
        );
    }

    #[test]
    fn purpose_and_basis_must_agree_and_stale_exceptions_are_noted() {
        let text = "[pipeline]\nname='t'\npurpose='legal-obligation'\nlegal_basis='consent'\nrecipient='r'\ncontroller='c'\ncontact='fg'\nrecipient_retention='1y'\npseudonym_domain='d'\ncatalogue='c.toml'\n[input]\npath='i.csv'\n[output]\npath='o.csv'\n[exclusions]\nrestricted='beperkt'\n[exceptions.soort]\nground='health-care'\nnecessity='n'\n[columns]\nsoort='keep'";
        let pipeline = Pipeline::parse(Path::new("p.toml"), text).unwrap();
        let catalogue = Catalogue::parse(Path::new("c.toml"), CATALOGUE).unwrap();
        let f = check(&pipeline, &catalogue);
        assert_eq!(f.violations.len(), 1);
        assert_eq!(f.violations[0].rule, Rule::PurposeBasis);
        assert!(
            f.notes.iter().any(|n| n.contains("does not class `soort`")),
            "{:?}",
            f.notes
        );
    }
}
