//! The run's account for the person at the terminal (stdout). Counts only, no values.

use std::fmt;

use crate::audit::{ListReport, RunSummary};
use crate::kernels::scrub::Identifier;
use crate::plan::Plan;
use crate::spec::OnInvalid;

/// What a completed run did, ready to print.
pub struct Report<'a> {
    pub plan: &'a Plan,
    pub summary: &'a RunSummary,
    pub fingerprint: &'a str,
    pub recorded: &'a crate::audit::record::Recorded,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            plan,
            summary,
            fingerprint,
            recorded,
        } = self;
        let d = &plan.pipeline.declaration;
        writeln!(
            f,
            "pipeline   {} ({} for {})",
            d.name,
            d.purpose.as_str(),
            d.recipient
        )?;
        writeln!(
            f,
            "key        fingerprint {fingerprint}, domain {}",
            d.pseudonym_domain
        )?;
        let files = match (&summary.source, summary.input_files.as_slice()) {
            (Some(db), _) => format!(
                "{} {} on {}, database {} (snapshot {})",
                db.kind,
                db.table
                    .as_deref()
                    .map_or("query".into(), |t| format!("table {t}")),
                db.server,
                db.database,
                db.snapshot
            ),
            (None, [one]) => one.display().to_string(),
            (None, many) => format!("{} files", many.len()),
        };
        writeln!(f, "read       {} rows from {files}", summary.rows_read)?;
        for list in &summary.lists {
            writeln!(
                f,
                "list       {} ({}, column {}): {} valid BSNs, {} invalid, {} records matched",
                crate::text::escaped(&list.path.display().to_string()),
                list.reason.as_str(),
                crate::text::escaped(&list.column),
                list.valid(),
                list.invalid_lines.len(),
                list.matched
            )?;
            if !list.invalid_lines.is_empty() {
                writeln!(f, "           {}", invalid_lines(list))?;
            }
        }
        let x = &summary.excluded;
        if !plan.exclusions.is_empty()
            || !plan.exclusion_lists.is_empty()
            || plan.retention_key.is_some()
        {
            let undated = match x.retention_undated {
                0 => String::new(),
                n => format!(" ({n} of them with an anchor date that is not YYYY-MM-DD)"),
            };
            writeln!(
                f,
                "excluded   {} rows before any transformation: {} restriction, {} objection, {} retention{undated}, {} unreadable flag",
                x.total(),
                x.restriction,
                x.objection,
                x.retention,
                x.unreadable
            )?;
        }
        writeln!(
            f,
            "dropped    {} rows (a drop_row column had no value)",
            summary.rows_dropped
        )?;
        if summary.table.is_some() {
            writeln!(
                f,
                "written    a table of {} cells to {}",
                summary.rows_written,
                summary.output.display()
            )?;
        } else {
            writeln!(
                f,
                "written    {} rows, {} columns to {}",
                summary.rows_written,
                plan.outputs.len(),
                summary.output.display()
            )?;
        }
        write!(f, "manifest   {}", recorded.manifest.display())?;
        match &recorded.signature {
            Some(sig) => writeln!(f, " (signed: {})", sig.display())?,
            None => writeln!(f, " (not signed: pass --signing-key to sign it)")?,
        }
        writeln!(f, "report     {}", recorded.report.display())?;
        if !recorded.encrypted.is_empty() {
            let files: Vec<String> = recorded
                .encrypted
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            writeln!(
                f,
                "encrypted  {}{}",
                files.join(", "),
                if recorded.plaintext_removed {
                    " (the unencrypted extract is not kept)"
                } else {
                    ""
                }
            )?;
        }
        writeln!(
            f,
            "register   {}: entry {}, sha256 {}",
            recorded.register.display(),
            recorded.entry.seq,
            recorded.entry.sha256
        )?;
        if let (Some(report), Some(md)) = (&summary.microdata, &plan.pipeline.output.microdata) {
            let unit = match &md.person {
                Some(person) => format!("persons (distinct {person})"),
                None => "records".into(),
            };
            let r = &report.risk;
            writeln!(
                f,
                "protected  k = {} {unit}: {} classes released, the smallest {}{}; {} records in {} classes suppressed",
                md.k,
                r.classes,
                r.smallest.map_or("-".into(), |s| s.to_string()),
                if md.person.is_some() {
                    " (counted up to k)"
                } else {
                    ""
                },
                r.records_suppressed,
                r.classes_suppressed
            )?;
            if let (Some((column, l)), Some(least)) = (&md.sensitive, r.least_diverse) {
                writeln!(
                    f,
                    "diversity  l = {l} on {column}: the least diverse class holds {least} distinct values (counted up to l)"
                )?;
            }
            let levels: Vec<String> = report
                .levels
                .iter()
                .map(|l| format!("{} {}", l.column, l.name))
                .collect();
            writeln!(f, "levels     {}", levels.join(", "))?;
            if let Some(area) = &md.small_area {
                writeln!(
                    f,
                    "small area {}: {} areas ({} records) with fewer than {} {}, {}",
                    area.column,
                    report.areas_recoded,
                    report.area_records,
                    area.min,
                    if md.person.is_some() {
                        "persons"
                    } else {
                        "records"
                    },
                    match area.action {
                        crate::spec::AreaAction::Coarsen => "coarsened",
                        crate::spec::AreaAction::Null => "set to null",
                    }
                )?;
            }
        }
        if let (Some(report), Some(spec)) = (&summary.table, &plan.pipeline.output.table) {
            writeln!(
                f,
                "table      {} cells ({} of them totals): {} with fewer than {} {} (or a dominated sum) suppressed, {} more so that none can be worked out from the others; counts rounded to {}",
                report.cells,
                report.margins,
                report.primary,
                spec.min_count,
                if spec.person.is_some() {
                    "persons"
                } else {
                    "records"
                },
                report.secondary,
                spec.round_to
            )?;
        }
        for (column, count) in &summary.expired {
            writeln!(
                f,
                "withheld   {column}: {count} values past their retention term, set to null"
            )?;
        }
        for exception in plan.exceptions_applied() {
            writeln!(
                f,
                "exception  `{}` (special category) released under GDPR art. 9(2) {}",
                exception.column,
                exception.ground.as_str()
            )?;
        }
        for (column, counts) in &summary.scrubbed {
            let found: Vec<String> = Identifier::ALL
                .iter()
                .map(|&kind| format!("{} {}", counts.get(kind), kind.name()))
                .collect();
            writeln!(f, "scrubbed   {column}: {}", found.join(", "))?;
        }
        if summary.rejections.is_empty() {
            return writeln!(
                f,
                "rejected   none: every transformed value had a canonical form"
            );
        }
        writeln!(
            f,
            "rejected   values without a canonical form, by column and reason"
        )?;
        writeln!(
            f,
            "           (over every row transformed, i.e. not excluded, including rows another column dropped):"
        )?;
        let width = summary
            .rejections
            .iter()
            .map(|r| r.column.len())
            .max()
            .unwrap_or(0);
        for r in &summary.rejections {
            let outcome = match r.on_invalid {
                OnInvalid::DropRow => "row dropped",
                OnInvalid::Null => "set to null",
                OnInvalid::Fail => "run failed",
            };
            writeln!(
                f,
                "  {:width$}  {:7}  {:>10}  {outcome}",
                r.column,
                r.reason.as_str(),
                r.count
            )?;
        }
        Ok(())
    }
}

/// Which lines of an exclusion list hold no valid BSN, and what follows.
fn invalid_lines(list: &ListReport) -> String {
    let lines = crate::engine::lines(&list.invalid_lines);
    match list.invalid_lines.len() {
        1 => format!("{lines} holds no valid BSN and matches nothing: correct it"),
        _ => format!("{lines} hold no valid BSN and match nothing: correct them"),
    }
}

/// The warning for an exclusion list with invalid entries: the people they stand for
/// are not excluded.
pub fn invalid_list_lines(list: &ListReport) -> String {
    format!(
        "exclusion list {}: {} ({} of {} entries)",
        crate::text::escaped(&list.path.display().to_string()),
        invalid_lines(list),
        list.invalid_lines.len(),
        list.entries
    )
}
