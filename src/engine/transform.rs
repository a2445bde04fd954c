//! The plan's row-local part ([`apply::rows`](crate::apply::rows)) on polars batches:
//! each batch crosses to arrow-rs and back through the C Data Interface, without copying.

use polars::prelude::*;
use polars_arrow::datatypes::Metadata;

use super::EngineError;
use super::bridge::{batch_to_frame, frame_to_batch};
use super::lists::LoadedList;
use crate::apply::ApplyError;
use crate::apply::rows::{BatchStats, ListMatch, ListSets, RowPlan};
use crate::kernels::keys::MasterKey;
use crate::plan::Plan;

pub use crate::apply::rows::ExclusionCounts;

impl From<ApplyError> for EngineError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::InvalidValue(invalid) => Self::InvalidValue(invalid),
            ApplyError::Disclosure(violation) => Self::Disclosure(violation),
            // Only the table step reports these, and it names the pipeline itself.
            ApplyError::Table(problem) => Self::Internal(problem),
            ApplyError::Internal(problem) => Self::Internal(problem),
        }
    }
}

/// The per-batch work of a plan.
pub struct BatchTransform {
    rows: RowPlan,
    /// Field metadata of the pseudonym columns, by output name.
    metadata: Vec<(String, Metadata)>,
}

/// One transformed batch.
pub struct BatchOutput {
    pub frame: DataFrame,
    pub stats: BatchStats,
}

impl BatchTransform {
    /// `lists` are the plan's exclusion lists, loaded.
    pub fn new(plan: &Plan, key: &MasterKey, lists: &[LoadedList]) -> Result<Self, EngineError> {
        let mut sets = ListSets::default();
        for list in lists {
            sets.push(list.reason, &list.bsns)
                .ok_or_else(|| EngineError::Pipeline {
                    pipeline: plan.pipeline.path.clone(),
                    problem: format!(
                        "[exclusions] names more than {} lists; merge some of them",
                        ListSets::MAX_LISTS
                    ),
                })?;
        }
        let rows = RowPlan::new(plan, key, ListMatch::Sets(sets))?;
        let metadata = rows
            .field_metadata()
            .iter()
            .map(|(name, entries)| {
                (
                    name.clone(),
                    Metadata::from_iter(
                        entries
                            .iter()
                            .map(|(k, v)| (PlSmallStr::from_str(k), PlSmallStr::from_str(v))),
                    ),
                )
            })
            .collect();
        Ok(Self { rows, metadata })
    }

    /// Field metadata for the pseudonym columns: spec version, kind, domain, key fingerprint.
    pub fn field_metadata(&self) -> &[(String, Metadata)] {
        &self.metadata
    }

    /// Transform one batch whose first row is data row `first_row` (1-based) of the input.
    pub fn apply(&self, df: &DataFrame, first_row: u64) -> Result<BatchOutput, EngineError> {
        let out = self.rows.apply(&frame_to_batch(df)?, first_row)?;
        Ok(BatchOutput {
            frame: batch_to_frame(&out.batch)?,
            stats: out.stats,
        })
    }
}
