//! The plan as text for people: `doel plan` prints it, the run prints its head.

use std::fmt;

use super::resolve::{Fate, Plan};
use crate::spec::OnInvalid;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.pipeline.declaration;
        writeln!(
            f,
            "pipeline   {} ({})",
            d.name,
            self.pipeline.path.display()
        )?;
        writeln!(
            f,
            "purpose    {} under legal basis {}",
            d.purpose.as_str(),
            d.legal_basis.as_str()
        )?;
        writeln!(f, "recipient  {}", d.recipient)?;
        if let Some(description) = &d.description {
            writeln!(f, "about      {description}")?;
        }
        if d.pseudonym_domain_shared_with.is_empty() {
            writeln!(
                f,
                "domain     {} (pseudonyms link within this domain only)",
                d.pseudonym_domain
            )?;
        } else {
            writeln!(
                f,
                "domain     {} (shared on purpose with {}: their extracts link with this one)",
                d.pseudonym_domain,
                d.pseudonym_domain_shared_with.join("; ")
            )?;
        }
        writeln!(
            f,
            "reference  {} (ages are computed on this day)",
            self.reference_date
        )?;
        writeln!(
            f,
            "output     {} ({})",
            self.pipeline.output.path.display(),
            self.pipeline.output.format.as_str()
        )?;
        if let Some(md) = &self.pipeline.output.microdata {
            writeln!(
                f,
                "protect    microdata: every combination of {} holds at least k = {} {}{}; on violation {}{}",
                md.quasi_identifiers.join(", "),
                md.k,
                md.person
                    .as_ref()
                    .map_or("records".into(), |p| format!("persons (distinct {p})")),
                md.sensitive
                    .as_ref()
                    .map(|(c, l)| format!(" and {l} distinct values of {c}"))
                    .unwrap_or_default(),
                md.on_violation.as_str(),
                if md.on_violation == crate::spec::OnViolation::Generalise {
                    format!(" (at most {}% suppressed)", md.max_suppressed * 100.0)
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            f,
            "catalogue  {} ({})",
            self.catalogue.path.display(),
            self.catalogue.name
        )?;
        if let Some(basis) = &d.bsn_basis {
            writeln!(f, "bsn basis  {basis}")?;
        }
        for list in &self.exclusion_lists {
            writeln!(
                f,
                "exclude    records whose BSN is in {} ({} list)",
                list.path.display(),
                list.reason.as_str()
            )?;
        }
        for term in self.retention_terms() {
            let columns: Vec<&str> = self
                .outputs
                .iter()
                .filter(|o| o.retention.contains(term))
                .map(|o| o.name.as_str())
                .collect();
            write!(
                f,
                "retention  \"{}\", {} year{} after `{}`",
                term.name,
                term.years,
                if term.years == 1 { "" } else { "s" },
                term.after
            )?;
            if let Some(basis) = &term.basis {
                write!(f, " ({basis})")?;
            }
            match &self.retention_key {
                Some((key, key_term)) if key_term == term => {
                    write!(f, ": records whose `{key}` is past it are excluded")?
                }
                _ => write!(f, ": past it, these are null: {}", columns.join(", "))?,
            }
            writeln!(f)?;
        }
        for exception in self.exceptions_applied() {
            writeln!(
                f,
                "exception  `{}` released under GDPR art. 9(2) {}: {}",
                exception.column,
                exception.ground.as_str(),
                exception.necessity
            )?;
        }
        writeln!(f)?;
        let width = self
            .inputs
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0)
            .max(12);
        let type_width = self
            .inputs
            .iter()
            .map(|c| c.column_type.name().len())
            .max()
            .unwrap_or(0)
            .max(4);
        let categories: Vec<String> = self
            .inputs
            .iter()
            .map(|c| {
                c.category
                    .map_or_else(|| "NOT CATALOGUED".to_owned(), |c| c.describe())
            })
            .collect();
        let category_width = categories.iter().map(String::len).max().unwrap_or(0).max(8);
        writeln!(
            f,
            "{:width$}  {:type_width$}  {:category_width$}  fate",
            "input column", "type", "category"
        )?;
        for (input, category) in self.inputs.iter().zip(&categories) {
            write!(
                f,
                "{:width$}  {:type_width$}  {category:category_width$}  ",
                input.name,
                input.column_type.name()
            )?;
            match &input.fate {
                Fate::NotNamed => writeln!(f, "DROP  not named in the pipeline (deny by default)")?,
                Fate::DroppedByPipeline => writeln!(f, "DROP  the pipeline says drop")?,
                Fate::ExclusionFlag {
                    reason,
                    applied: true,
                } => writeln!(
                    f,
                    "USE   {} flag: a record marked yes is excluded before anything else",
                    reason.as_str()
                )?,
                Fate::RetentionAnchor => {
                    writeln!(f, "USE   date a retention term runs from, not released")?
                }
                Fate::ExclusionKey => writeln!(
                    f,
                    "USE   BSN matched against the exclusion lists, not released"
                )?,
                Fate::ExclusionFlag {
                    reason,
                    applied: false,
                } => writeln!(
                    f,
                    "DROP  {} flag, not applied: objections bind research and statistics only",
                    reason.as_str()
                )?,
                Fate::Used { by } => {
                    let uses: Vec<String> = self
                        .outputs
                        .iter()
                        .filter(|o| by.contains(&o.name))
                        .map(|o| {
                            let arrow =
                                if o.sources() == [input.name.as_str()] && o.name == input.name {
                                    String::new()
                                } else {
                                    format!(" -> {}", o.name)
                                };
                            let invalid = match (&o.transform, o.on_invalid) {
                                (
                                    super::Transform::Keep { .. } | super::Transform::Scrub { .. },
                                    _,
                                ) => String::new(),
                                (_, OnInvalid::DropRow) => ", invalid drops the row".into(),
                                (_, OnInvalid::Null) => ", invalid becomes null".into(),
                                (_, OnInvalid::Fail) => ", invalid fails the run".into(),
                            };
                            format!("{}{arrow}{invalid}", o.describe())
                        })
                        .collect();
                    writeln!(f, "USE   {}", uses.join("; "))?
                }
            }
        }
        writeln!(f)?;
        let released: Vec<&str> = self.outputs.iter().map(|o| o.name.as_str()).collect();
        let dropped = self
            .inputs
            .iter()
            .filter(|c| !matches!(c.fate, Fate::Used { .. }))
            .count();
        writeln!(
            f,
            "released   {} columns: {}",
            released.len(),
            released.join(", ")
        )?;
        write!(
            f,
            "dropped    {dropped} of {} input columns",
            self.inputs.len()
        )?;
        for note in &self.notes {
            write!(f, "\nnote       {note}")?;
        }
        Ok(())
    }
}
