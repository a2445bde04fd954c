//! The declarations: the pipeline file as written (`raw`: its grammar, as serde reads
//! it) and the validated [`Pipeline`] it is turned into with every check (`pipeline`);
//! the export's data catalogue (`catalogue`); and the policy rules a pipeline is judged
//! by against the catalogue (`policy`). No I/O beyond reading the files, no polars.

pub mod catalogue;
mod pipeline;
pub mod policy;
mod raw;
pub mod schema;

pub use catalogue::Catalogue;
pub use pipeline::{
    Column, Delivery, Exception, Generalise, HierarchyStep, Input, LinkPart, Microdata, Operation,
    Output, PgSource, Pipeline, SmallArea, SpecError, Table, folded,
};
pub use raw::{
    Action, AreaAction, Declaration, Exclusions, Format, Ground, InputFormat, LIST_INVALID_SHARE,
    LegalBasis, OnInvalid, OnViolation, PseudonymKind, Purpose,
};
