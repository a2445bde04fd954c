//! Exclusion lists: files of BSNs as staff keep them (spaces, dots, a lost leading zero),
//! read whole (they are small) into sets of canonical BSNs. An entry that is not a valid
//! BSN is reported by line number, never silently ignored.

use std::collections::HashSet;
use std::path::PathBuf;

use polars::prelude::*;

use super::bridge::to_arrow_rs;
use super::{EngineError, input};
use crate::kernels::arrays::Strings;
use crate::kernels::canonical;
use crate::plan::{ExclusionList, ExclusionReason};
use crate::spec;

/// One list, loaded.
pub struct LoadedList {
    pub path: PathBuf,
    pub reason: ExclusionReason,
    /// The column the BSNs were read from.
    pub column: String,
    /// The file as it was opened.
    pub stamp: Option<crate::audit::Stamp>,
    pub bsns: HashSet<[u8; 9]>,
    /// Non-blank entries, valid or not.
    pub entries: u64,
    /// Lines (CSV, counting the header as line 1) or rows (Parquet, from 1) of entries
    /// without a canonical BSN form.
    pub invalid_lines: Vec<u64>,
}

impl LoadedList {
    /// Entries with a canonical BSN form.
    pub fn valid(&self) -> u64 {
        self.entries - self.invalid_lines.len() as u64
    }
}

/// The names of a list's BSN column that doel knows, compared after lower-casing and
/// taking out spaces, `_`, `-` and `.`: besides these, the export's own BSN column name.
pub const BSN_COLUMN_NAMES: [&str; 5] = [
    "bsn",
    "burgerservicenummer",
    "bsnnummer",
    "bsnnr",
    "sofinummer",
];

fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which of a list's `columns` holds its BSNs: `declared` (`[exclusions] list_column`)
/// if given; else the one named like a BSN column (or like `export_key`, the export's
/// BSN column); else the only column. Errors name positions and the known names, never
/// a header that could be data.
fn bsn_column<'a>(
    columns: &'a [String],
    declared: Option<&str>,
    export_key: Option<&str>,
) -> Result<&'a str, String> {
    if let Some(declared) = declared {
        return columns
            .iter()
            .find(|c| c.as_str() == declared)
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "has no column `{}` ([exclusions] list_column); its header names {} column{}",
                    crate::text::escaped(declared),
                    columns.len(),
                    if columns.len() == 1 { "" } else { "s" }
                )
            });
    }
    let key = export_key.map(folded);
    let named: Vec<&String> = columns
        .iter()
        .filter(|c| {
            let f = folded(c);
            BSN_COLUMN_NAMES.contains(&f.as_str()) || key.as_deref() == Some(f.as_str())
        })
        .collect();
    match (named.as_slice(), columns) {
        ([one], _) => Ok(one.as_str()),
        ([], [only]) => Ok(only.as_str()),
        ([], _) => Err(format!(
            "none of its {} columns is named as a BSN column (bsn, burgerservicenummer, bsn_nummer, bsn_nr, sofinummer, or the export's BSN column); name it so, or declare it: [exclusions] list_column = \"…\"",
            columns.len()
        )),
        (many, _) => Err(format!(
            "{} of its columns are named as a BSN column; say which one holds the BSNs: [exclusions] list_column = \"…\"",
            many.len()
        )),
    }
}

/// Read a list: its BSN column (see [`bsn_column`]), with a header row.
pub fn load(
    list: &ExclusionList,
    declared: Option<&str>,
    export_key: Option<&str>,
) -> Result<LoadedList, EngineError> {
    let mut opened = input::open(&spec::Input::at(list.path.clone()))?;
    let schema = opened.schema()?;
    let fail = |problem: &str| EngineError::Input {
        path: list.path.clone(),
        problem: problem.to_owned(),
    };
    if schema.is_empty() {
        return Err(fail("the list has no column"));
    }
    let names: Vec<String> = schema.into_iter().map(|(n, _)| n).collect();
    let column = bsn_column(&names, declared, export_key).map_err(|p| fail(&p))?;
    let frame = opened
        .frame
        .clone()
        .select([col(column).cast(DataType::String)])
        .collect()
        .map_err(|e| opened.error(&e))?;
    let series = frame
        .column(column)
        .map_err(|e| opened.error(&e))?
        .as_materialized_series()
        .clone();
    let array = to_arrow_rs(&series)?;
    let values =
        Strings::try_new(array.as_ref()).map_err(|_| fail("the BSN column is not text"))?;
    let first_line = opened.first_record_line();
    let mut loaded = LoadedList {
        path: list.path.clone(),
        reason: list.reason,
        column: column.to_owned(),
        stamp: opened.stamps.first().copied(),
        bsns: HashSet::new(),
        entries: 0,
        invalid_lines: Vec::new(),
    };
    for row in 0..values.len() {
        let value = values.get(row);
        if canonical::is_blank(value) {
            continue;
        }
        loaded.entries += 1;
        match value.and_then(canonical::bsn) {
            Some(bsn) => {
                loaded.bsns.insert(bsn);
            }
            None => loaded.invalid_lines.push(row as u64 + first_line),
        }
    }
    Ok(loaded)
}

/// Why a loaded list may not be used: it names nobody that can be matched, or too many
/// of its entries are no BSN (each such entry is someone who cannot be excluded).
pub fn refusal(list: &LoadedList, max_invalid_share: f64) -> Option<String> {
    let invalid = list.invalid_lines.len() as u64;
    if list.entries == 0 {
        return Some(
            "it holds no entry (only its header, or nothing): a list cut off in transfer cannot be told from an empty one; while nobody is on it, leave it out of the pipeline"
                .to_owned(),
        );
    }
    if list.valid() == 0 {
        return Some(format!(
            "none of its {} entries in column `{}` is a valid BSN: is it the right column, or the right file?",
            list.entries,
            crate::text::escaped(&list.column)
        ));
    }
    let share = invalid as f64 / list.entries.max(1) as f64;
    (share > max_invalid_share).then(|| {
        format!(
            "{invalid} of its {} entries ({:.1} %) are no valid BSN, more than the {:.1} % allowed ([exclusions] list_invalid_share): the people they stand for cannot be excluded; correct {}",
            list.entries,
            share * 100.0,
            max_invalid_share * 100.0,
            lines(&list.invalid_lines)
        )
    })
}

/// `line 8` or `lines 8, 12, …` (the first 20).
pub fn lines(numbers: &[u64]) -> String {
    let shown: Vec<String> = numbers.iter().take(20).map(u64::to_string).collect();
    let more = if numbers.len() > 20 { ", …" } else { "" };
    match shown.as_slice() {
        [one] => format!("line {one}"),
        _ => format!("lines {}{more}", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_bsn_column_is_found_by_its_name() {
        assert_eq!(bsn_column(&names(&["naam", "BSN"]), None, None), Ok("BSN"));
        assert_eq!(
            bsn_column(&names(&["naam", "Burger service nummer"]), None, None),
            Ok("Burger service nummer")
        );
        assert_eq!(
            bsn_column(&names(&["datum", "kind_bsn"]), None, Some("kind_bsn")),
            Ok("kind_bsn")
        );
        assert_eq!(bsn_column(&names(&["nummer"]), None, None), Ok("nummer"));
        assert_eq!(
            bsn_column(&names(&["a", "nummer"]), Some("nummer"), None),
            Ok("nummer")
        );
    }

    #[test]
    fn no_or_two_bsn_columns_are_refused() {
        assert!(bsn_column(&names(&["naam", "nummer"]), None, None).is_err());
        assert!(bsn_column(&names(&["bsn", "BSN nr"]), None, None).is_err());
        assert!(bsn_column(&names(&["bsn"]), Some("nummer"), None).is_err());
    }

    fn list(entries: u64, invalid: usize) -> LoadedList {
        LoadedList {
            path: "l.csv".into(),
            reason: ExclusionReason::Objection,
            column: "bsn".into(),
            stamp: None,
            bsns: HashSet::new(),
            entries,
            invalid_lines: (0..invalid as u64).collect(),
        }
    }

    #[test]
    fn a_list_of_no_valid_bsn_or_too_many_invalid_ones_is_refused() {
        assert!(refusal(&list(3, 3), 0.05).is_some());
        assert!(refusal(&list(100, 6), 0.05).is_some());
        assert!(refusal(&list(100, 5), 0.05).is_none());
        assert!(refusal(&list(0, 0), 0.05).is_some());
        assert!(refusal(&list(10, 1), 0.0).is_some());
    }
}
