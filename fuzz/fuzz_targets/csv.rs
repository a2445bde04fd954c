//! Fuzz target `csv`: the checks are in `tests/fuzz_checks/mod.rs`, shared with the
//! regression tests that replay what the fuzzers found.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(
    init: {
        // One core: others build on this machine. Set before polars starts its pools.
        // SAFETY: no other thread exists yet.
        unsafe {
            std::env::set_var("POLARS_MAX_THREADS", "1");
            std::env::set_var("RAYON_NUM_THREADS", "1");
            std::env::remove_var("POLARS_PANIC_ON_ERR");
        }
    },
    |data: &[u8]| checks::csv(data)
);
