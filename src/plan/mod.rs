//! A pipeline resolved against one input's schema: one decision per input column, each
//! with its reason, and the list of released columns. Made before any row is read;
//! `doel plan` prints it and the engine executes it without further policy decisions.

mod render;
mod resolve;

pub use resolve::{
    ColumnType, Exclusion, ExclusionList, ExclusionReason, Fate, InputColumn, OutputColumn, Plan,
    PlanError, Transform,
};
