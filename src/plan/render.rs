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
        writeln!(
            f,
            "domain     {} (pseudonyms link within this domain only)",
            d.pseudonym_domain
        )?;
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
        for list in &self.exclusion_lists {
            writeln!(
                f,
                "exclude    records whose BSN is in {} ({} list)",
                list.path.display(),
                list.reason.as_str()
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
        writeln!(f, "{:width$}  {:type_width$}  fate", "input column", "type")?;
        for input in &self.inputs {
            write!(
                f,
                "{:width$}  {:type_width$}  ",
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
        )
    }
}
