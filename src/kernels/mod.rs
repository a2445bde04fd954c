//! Pure functions over values and Arrow (arrow-rs) arrays: canonical forms, keyed
//! pseudonyms and generalisations. No polars and no I/O here, so that the same code can
//! run over Arrow batches anywhere (polars via the C Data Interface, Spark via pyarrow).

pub mod arrays;
pub mod canonical;
pub mod columns;
pub mod detect;
pub mod disclosure;
pub mod generalise;
pub mod keys;
pub mod scrub;
pub mod table;
