//! Fuzz target `scrub`: the checks are in `tests/fuzz_checks/mod.rs`, shared with the
//! regression tests that replay what the fuzzers found.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::scrub(data));
