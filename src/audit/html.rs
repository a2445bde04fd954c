//! The run report: one self-contained HTML page beside the manifest, for the privacy
//! officer — the declarations, the plan as a table, rows in and out with exclusions by
//! reason, and inline SVG charts of the disclosure-control results. No script, no
//! external font or style: it renders the same offline, in any browser, years later.
//! It is made from the manifest alone, so it shows nothing the manifest does not hold.

use std::fmt::Write;

use serde_json::Value;

use super::manifest::Manifest;

/// Escape text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn num(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#1a1a1a}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.dropped{color:#777}.released{font-weight:600}code{font-size:.9em}svg text{font-size:12px;font-family:system-ui,sans-serif}";

/// A horizontal bar chart of labelled counts, as inline SVG.
fn bar_chart(title: &str, bars: &[(String, u64)]) -> String {
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (170.0, 360.0, 22.0);
    let height = row_h * bars.len() as f64 + 10.0;
    let mut svg = format!(
        "<figure><svg role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">",
        esc(title),
        label_w + bar_w + 80.0,
        label_w + bar_w + 80.0
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = bar_w * (*n as f64) / (max as f64);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#3b6ea5\"/><text x=\"{}\" y=\"{}\">{n}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
        );
    }
    let _ = write!(
        svg,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(title)
    );
    svg
}

/// The report page for a manifest.
pub fn render(m: &Manifest) -> String {
    let d = &m.declaration;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>doel run report: {}</title><style>{STYLE}</style></head><body>",
        esc(&d.name)
    );
    let _ = write!(
        h,
        "<h1>Run report: {}</h1><p>Run <code>{}</code>, {} to {}, reference date {}, doel {}. This page is made from the manifest <code>{}</code>; the manifest is the record.</p>",
        esc(&d.name),
        esc(&m.run_id),
        esc(&m.started),
        esc(&m.finished),
        esc(&m.reference_date),
        esc(&m.tool.version),
        esc(&m
            .outputs
            .first()
            .map(|o| format!("{}.manifest.json", o.file.trim_end_matches(".age")))
            .unwrap_or_default()),
    );
    h.push_str("<h2>Declarations</h2><table>");
    let mut row = |k: &str, v: &str| {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    };
    row("Controller", &d.controller);
    row("Contact (privacy officer)", &d.contact);
    row("Purpose", &d.purpose);
    row("Legal basis", &d.legal_basis);
    if let Some(b) = &d.bsn_basis {
        row("BSN basis", b);
    }
    row("Recipient", &d.recipient);
    row("Retention by the recipient", &d.recipient_retention);
    if let Some(about) = &d.description {
        row("About", about);
    }
    row("Subjects", &d.subject_categories.join(", "));
    row("Data released", &d.data_categories.join(", "));
    row(
        "Pseudonyms",
        &format!(
            "{}, domain {}, key fingerprint {}",
            m.pseudonyms.spec, m.pseudonyms.domain, m.pseudonyms.key_fingerprint
        ),
    );
    row(
        "Pipeline",
        &format!("{} (SHA-256 {})", m.pipeline.path, m.pipeline.sha256),
    );
    h.push_str("</table>");
    if !d.special_category_exceptions.is_empty() {
        h.push_str("<h3>Special categories released (GDPR art. 9(2))</h3><table><tr><th>column</th><th>ground</th><th>necessity</th></tr>");
        for e in &d.special_category_exceptions {
            let s = |k: &str| esc(e.get(k).and_then(Value::as_str).unwrap_or(""));
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                s("column"),
                s("ground"),
                s("necessity")
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h3>Security measures</h3><ul>");
    for measure in &d.security_measures {
        let _ = write!(h, "<li>{}</li>", esc(measure));
    }
    h.push_str("</ul>");

    h.push_str("<h2>Plan</h2><table><tr><th>input column</th><th>type</th><th>category</th><th>fate</th><th>released as</th></tr>");
    for c in &m.plan {
        let outputs: Vec<String> = c
            .outputs
            .iter()
            .map(|o| {
                format!(
                    "{} ({})",
                    o.get("name").and_then(Value::as_str).unwrap_or(""),
                    o.get("action").and_then(Value::as_str).unwrap_or("")
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td><td>{}</td></tr>",
            esc(&c.fate),
            esc(&c.column),
            esc(&c.data_type),
            esc(c.category.as_deref().unwrap_or("NOT CATALOGUED")),
            esc(&c.fate),
            esc(&c.detail),
            esc(&outputs.join("; "))
        );
    }
    h.push_str("</table>");

    let counts = &m.counts;
    let excluded = counts.get("excluded").cloned().unwrap_or(Value::Null);
    h.push_str("<h2>Rows</h2>");
    let reasons = [
        ("restriction", "excluded: restriction"),
        ("objection", "excluded: objection"),
        ("retention", "excluded: retention term passed"),
        ("unreadable_flag", "excluded: flag unreadable"),
    ];
    let mut bars = vec![("read".to_owned(), num(counts, "rows_read"))];
    bars.extend(
        reasons
            .iter()
            .map(|(key, label)| ((*label).to_owned(), num(&excluded, key))),
    );
    bars.push((
        "dropped: no canonical form".into(),
        num(counts, "rows_dropped"),
    ));
    bars.push(("written".into(), num(counts, "rows_written")));
    h.push_str("<table><tr><th>rows</th><th>count</th></tr>");
    for (label, n) in &bars {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            esc(label)
        );
    }
    h.push_str("</table>");
    h.push_str(&bar_chart(
        "Rows read, excluded by reason, and written",
        &bars,
    ));

    if let Some(dc) = &m.disclosure {
        h.push_str("<h2>Disclosure control</h2>");
        match dc.get("kind").and_then(Value::as_str) {
            Some("microdata") => {
                let _ = write!(
                    h,
                    "<p>{} equivalence classes released, the smallest holding {}; {} records in {} classes suppressed.</p>",
                    num(dc, "classes"),
                    dc.get("smallest_class")
                        .map_or("–".into(), Value::to_string),
                    num(dc, "records_suppressed"),
                    num(dc, "classes_suppressed")
                );
                let sizes: Vec<(String, u64)> = dc
                    .get("class_sizes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|b| {
                                (
                                    format!("≥ {} records", num(b, "records_from")),
                                    num(b, "classes"),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                h.push_str(&bar_chart(
                    "Equivalence classes released, by number of records",
                    &sizes,
                ));
            }
            Some("table") => {
                let (cells, primary, secondary) = (
                    num(dc, "cells"),
                    num(dc, "suppressed_primary"),
                    num(dc, "suppressed_secondary"),
                );
                let _ = write!(
                    h,
                    "<p>{cells} cells ({} of them totals): {primary} suppressed as too small or dominated, {secondary} more so that none can be recomputed from the totals.</p>",
                    num(dc, "margins")
                );
                h.push_str(&bar_chart(
                    "Table cells published and suppressed",
                    &[
                        (
                            "published".into(),
                            cells.saturating_sub(primary + secondary),
                        ),
                        ("suppressed: primary".into(), primary),
                        ("suppressed: secondary".into(), secondary),
                    ],
                ));
            }
            _ => {}
        }
    }

    h.push_str("<h2>Files</h2><table><tr><th>role</th><th>file</th><th>SHA-256</th><th>bytes</th><th>rows</th></tr>");
    let inputs = m
        .inputs
        .iter()
        .map(|f| ("input", &f.path, &f.sha256, f.bytes, f.rows));
    let lists = m
        .exclusion_lists
        .iter()
        .map(|f| ("exclusion list", &f.path, &f.sha256, f.bytes, f.rows));
    let outputs = m
        .outputs
        .iter()
        .map(|f| (f.role.as_str(), &f.file, &f.sha256, f.bytes, f.rows));
    if let Some(db) = &m.source {
        let what = match (&db.table, &db.query_sha256) {
            (Some(table), _) => format!("table {table}"),
            (None, Some(sha)) => format!("query with SHA-256 {sha}"),
            (None, None) => "query".into(),
        };
        let _ = write!(
            h,
            "<tr><td>input</td><td>{} {} on {}, database {}, snapshot {}</td><td></td><td></td><td class=\"n\">{}</td></tr>",
            esc(&db.kind),
            esc(&what),
            esc(&db.server),
            esc(&db.database),
            esc(&db.snapshot),
            db.rows
        );
    }
    for (role, path, sha, bytes, rows) in inputs.chain(lists).chain(outputs) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{bytes}</td><td class=\"n\">{}</td></tr>",
            esc(role),
            esc(path),
            esc(sha),
            rows.map_or(String::new(), |r| r.to_string())
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
