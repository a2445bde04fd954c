//! doel turns a care or childcare organisation's client export into an extract that holds
//! only what one declared purpose needs: minimised, pseudonymised, generalised.
//!
//! The layers, each using only those listed before it:
//! `spec` (the pipeline file) → `plan` (one decision per column, explained) →
//! `kernels` (pure functions over values and Arrow arrays) → `apply` (a plan applied to
//! Arrow record batches: rows, exclusions, microdata classes, table cells; every
//! decision on a record or a cell) → `audit` (what a run did, recorded and verified:
//! manifest, register, signatures, delivery) → `engine` (executes a plan with polars) →
//! `cli` (parses, calls, prints).
//!
//! Without the default `engine` feature the first five are built: what the Python
//! extension runs inside Spark (see `python/`), with no polars to compile. `text` makes
//! strings from files safe to show in a terminal, for every layer; `keyfile` reads and
//! writes key files, for the command line and the extension alike.

pub mod apply;
pub mod audit;
#[cfg(feature = "engine")]
pub mod cli;
#[cfg(feature = "engine")]
pub mod engine;
pub mod kernels;
pub mod keyfile;
pub mod plan;
pub mod spec;
pub mod text;
