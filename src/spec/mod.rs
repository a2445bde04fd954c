//! The declarations: the pipeline file's grammar (`pipeline`) and the checks that turn it
//! into a validated [`Pipeline`] (`validate`); the export's data catalogue (`catalogue`);
//! and the policy rules a pipeline is judged by against the catalogue (`policy`). No I/O
//! beyond reading the files, no polars.

pub mod catalogue;
mod pipeline;
pub mod policy;
mod validate;

pub use catalogue::Catalogue;
pub use pipeline::{
    Action, AreaAction, Declaration, Exclusions, Format, Ground, LIST_INVALID_SHARE, LegalBasis,
    OnInvalid, OnViolation, PseudonymKind, Purpose,
};
pub use validate::{
    Column, Delivery, Exception, Generalise, HierarchyStep, Input, LinkPart, Microdata, Operation,
    Output, Pipeline, SmallArea, SpecError, Table, folded,
};
