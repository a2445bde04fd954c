//! doel turns a care or childcare organisation's client export into an extract that holds
//! only what one declared purpose needs: minimised, pseudonymised, generalised.
//!
//! The layers, each using only those listed before it:
//! `spec` (the pipeline file) → `plan` (one decision per column, explained) →
//! `kernels` (pure functions over values and Arrow arrays) → `engine` (executes a plan
//! with polars) → `cli`.

pub mod audit;
pub mod cli;
pub mod engine;
pub mod kernels;
pub mod plan;
pub mod spec;
