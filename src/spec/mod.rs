//! The pipeline file: its grammar (`pipeline`), and the checks that turn it into a
//! validated [`Pipeline`] (`validate`). No I/O beyond reading the file, no polars.

mod pipeline;
mod validate;

pub use pipeline::{
    Action, Declaration, Exclusions, Format, LegalBasis, OnInvalid, PseudonymKind, Purpose,
};
pub use validate::{Column, Generalise, Input, LinkPart, Operation, Output, Pipeline, SpecError};
