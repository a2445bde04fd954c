//! doel turns a care or childcare organisation's client export into an extract that holds
//! only what one declared purpose needs: minimised, pseudonymised, generalised.
//!
//! The layers, each using only those listed before it:
//! `spec` (the pipeline file) → `plan` (one decision per column, explained) →
//! `kernels` (pure functions over values and Arrow arrays) → `apply` (a plan applied to
//! Arrow record batches: rows, exclusions, table cells; no polars) → `engine` (executes a
//! plan with polars) → `audit` (manifest, register, signatures, delivery) → `cli`.
//!
//! Without the default `engine` feature only the first four are built: the part the
//! Python extension runs inside Spark (see `python/`). `text` makes strings from files
//! safe to show in a terminal, for every layer.

pub mod apply;
#[cfg(feature = "engine")]
pub mod audit;
#[cfg(feature = "engine")]
pub mod cli;
#[cfg(feature = "engine")]
pub mod engine;
pub mod kernels;
pub mod plan;
pub mod spec;
pub mod text;
