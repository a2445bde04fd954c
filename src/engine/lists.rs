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
    pub bsns: HashSet<[u8; 9]>,
    /// Non-blank entries, valid or not.
    pub entries: u64,
    /// Lines (CSV, counting the header as line 1) or rows (Parquet, from 1) of entries
    /// without a canonical BSN form.
    pub invalid_lines: Vec<u64>,
}

/// Read a list: its first column, with a header row.
pub fn load(list: &ExclusionList) -> Result<LoadedList, EngineError> {
    let spec_input = spec::Input {
        path: list.path.clone(),
        format: None,
        delimiter: b',',
        encoding: encoding_rs::UTF_8,
    };
    let mut opened = input::open(&spec_input)?;
    let schema = opened.schema()?;
    let fail = |problem: &str| EngineError::Input {
        path: list.path.clone(),
        problem: problem.to_owned(),
    };
    let (first, _) = schema
        .first()
        .ok_or_else(|| fail("the list has no column"))?;
    let frame = opened
        .frame
        .clone()
        .select([col(first.as_str()).cast(DataType::String)])
        .collect()
        .map_err(|e| opened.error(&e))?;
    let column = frame
        .column(first)
        .map_err(|e| opened.error(&e))?
        .as_materialized_series()
        .clone();
    let array = to_arrow_rs(&column)?;
    let values =
        Strings::try_new(array.as_ref()).map_err(|_| fail("the first column is not text"))?;
    let header_lines = u64::from(opened.is_csv());
    let mut loaded = LoadedList {
        path: list.path.clone(),
        reason: list.reason,
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
            None => loaded.invalid_lines.push(row as u64 + 1 + header_lines),
        }
    }
    Ok(loaded)
}
