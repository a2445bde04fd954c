//! What a completed run did, as the accountability step records it: the files read,
//! the counts of every decision (exclusions, invalid values, scrubbing, retention,
//! disclosure control) and the output written. An engine fills it; the manifest, the
//! register entry, the report and the run's summary line are made from it, so that
//! every engine is recorded alike.

use std::path::PathBuf;

use crate::apply::microdata::Level;
use crate::apply::rows::ExclusionCounts;
use crate::apply::table::TableReport;
use crate::kernels::canonical::Reason;
use crate::kernels::disclosure::Risk;
use crate::kernels::scrub::ScrubCounts;
use crate::plan::ExclusionReason;
use crate::spec::OnInvalid;

/// How many values of one released column had no canonical form, and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionCount {
    pub column: String,
    pub reason: Reason,
    pub count: u64,
    pub on_invalid: OnInvalid,
}

/// One exclusion list as read. Entries that are no valid BSN cannot be matched: they are
/// reported, so that someone can correct them.
#[derive(Debug, Clone)]
pub struct ListReport {
    pub path: PathBuf,
    pub reason: ExclusionReason,
    /// The column its BSNs were read from.
    pub column: String,
    pub entries: u64,
    pub invalid_lines: Vec<u64>,
    /// Records of the export whose BSN it names (whatever else excluded them).
    pub matched: u64,
}

impl ListReport {
    /// Entries with a canonical BSN form.
    pub fn valid(&self) -> u64 {
        self.entries - self.invalid_lines.len() as u64
    }
}

/// What a completed run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub input_files: Vec<PathBuf>,
    /// The database read in place of files, if any.
    pub source: Option<super::DatabaseSource>,
    /// The files read (inputs, then exclusion lists) as they were opened: the record
    /// step, which hashes them, checks that they are still those files.
    pub stamps: Vec<(PathBuf, super::Stamp)>,
    /// Each input file's data rows, in `input_files` order.
    pub input_rows: Vec<u64>,
    pub rows_read: u64,
    pub rows_written: u64,
    /// Rows left out because a `drop_row` column had no canonical form.
    pub rows_dropped: u64,
    pub rejections: Vec<RejectionCount>,
    /// Records excluded before any transformation, by reason.
    pub excluded: ExclusionCounts,
    /// The exclusion lists read: entries, and lines of entries that are no valid BSN.
    pub lists: Vec<ListReport>,
    /// Identifiers replaced, per `scrub` column, in plan order.
    pub scrubbed: Vec<(String, ScrubCounts)>,
    /// Values withheld because their retention term had passed, per released column
    /// that has a term, in plan order.
    pub expired: Vec<(String, u64)>,
    /// What disclosure control did, for a microdata output.
    pub microdata: Option<MicrodataReport>,
    /// What disclosure control did, for a table output.
    pub table: Option<TableReport>,
    pub output: PathBuf,
    /// The output's columns and their types, as read back from the written file.
    pub output_schema: Vec<(String, String)>,
}

/// The disclosure step of a microdata output.
#[derive(Debug, Clone)]
pub struct MicrodataReport {
    /// The level chosen per quasi-identifier.
    pub levels: Vec<Level>,
    pub areas_recoded: u64,
    pub area_records: u64,
    pub risk: Risk,
}
