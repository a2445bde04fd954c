//! The run's account for the person at the terminal (stdout). Counts only, no values.

use crate::engine::RunSummary;
use crate::plan::Plan;
use crate::spec::OnInvalid;

pub fn print(plan: &Plan, summary: &RunSummary, fingerprint: &str) {
    let d = &plan.pipeline.declaration;
    println!(
        "pipeline   {} ({} for {})",
        d.name,
        d.purpose.as_str(),
        d.recipient
    );
    println!(
        "key        fingerprint {fingerprint}, domain {}",
        d.pseudonym_domain
    );
    let files = match summary.input_files.as_slice() {
        [one] => one.display().to_string(),
        many => format!("{} files", many.len()),
    };
    println!("read       {} rows from {files}", summary.rows_read);
    println!(
        "dropped    {} rows (a drop_row column had no value)",
        summary.rows_dropped
    );
    println!(
        "written    {} rows, {} columns to {}",
        summary.rows_written,
        plan.outputs.len(),
        summary.output.display()
    );
    if summary.rejections.is_empty() {
        println!("rejected   none: every transformed value had a canonical form");
        return;
    }
    println!("rejected   values without a canonical form, by column and reason:");
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
        println!(
            "  {:width$}  {:7}  {:>10}  {outcome}",
            r.column,
            r.reason.as_str(),
            r.count
        );
    }
}
