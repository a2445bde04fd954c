//! `doel check`: every pipeline judged by the policy against its catalogue and resolved
//! against the columns the catalogue describes, without reading any data. For a data
//! team's CI job: non-zero exit on any violation.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::plan::{ColumnType, Plan};
use crate::spec::{Catalogue, Pipeline, SpecError};

/// What one file turned out to be.
enum Checked {
    Pipeline { plan: Box<Plan> },
    Catalogue { columns: usize },
}

/// The outcome of a whole check: the report to print, and the exit code of the worst
/// failure (0 when every file passed).
pub struct Outcome {
    pub report: String,
    pub failed: usize,
    pub checked: usize,
    pub exit_code: u8,
}

/// Check every pipeline and catalogue among `paths` (files, or directories whose `.toml`
/// files are taken in name order).
pub fn check(paths: &[PathBuf], today: chrono::NaiveDate) -> Result<Outcome, CliError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| SpecError::Read {
                    path: path.clone(),
                    what: "pipeline directory",
                    source,
                })?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut outcome = Outcome {
        report: String::new(),
        failed: 0,
        checked: files.len(),
        exit_code: 0,
    };
    for file in &files {
        match check_file(file, today) {
            Ok(Checked::Pipeline { plan }) => {
                let d = &plan.pipeline.declaration;
                outcome.report += &format!(
                    "ok    {}: {} for {}, {} columns released\n",
                    file.display(),
                    d.purpose.as_str(),
                    d.recipient,
                    plan.outputs.len()
                );
                for note in &plan.notes {
                    outcome.report += &format!("      note: {note}\n");
                }
            }
            Ok(Checked::Catalogue { columns }) => {
                outcome.report +=
                    &format!("ok    {}: catalogue of {columns} columns\n", file.display());
            }
            Err(e) => {
                outcome.failed += 1;
                outcome.exit_code = outcome.exit_code.max(e.exit_code());
                // Every line of the message under the file it is about.
                let message = e.to_string().replace('\n', "\n      ");
                outcome.report += &format!("FAIL  {}\n      {message}\n", file.display());
            }
        }
    }
    Ok(outcome)
}

fn check_file(file: &Path, today: chrono::NaiveDate) -> Result<Checked, CliError> {
    let text = std::fs::read(file).map_err(|source| SpecError::Read {
        path: file.to_owned(),
        what: "file",
        source,
    })?;
    // A catalogue is the one file with a [catalogue] table and no [pipeline] table.
    let is_catalogue = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("catalogue") && !t.contains_key("pipeline"));
    if is_catalogue {
        let catalogue = Catalogue::load(file)?;
        return Ok(Checked::Catalogue {
            columns: catalogue.entries.len(),
        });
    }
    let pipeline = Pipeline::load(file)?;
    let catalogue = Catalogue::load(Path::new(&pipeline.declaration.catalogue))?;
    let schema = ColumnType::catalogued(&catalogue);
    let against = format!("catalogue {}", catalogue.path.display());
    let plan =
        Plan::resolve(pipeline, catalogue, &schema, today).map_err(|source| CliError::Plan {
            pipeline: file.to_owned(),
            against,
            source: Box::new(source),
        })?;
    Ok(Checked::Pipeline {
        plan: Box::new(plan),
    })
}
