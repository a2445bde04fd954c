//! Replays every input the fuzz targets (`fuzz/`) found a crash with, in the normal build:
//! `tests/data/fuzz-regressions/<target>/<file>` goes through the same checks as the fuzz
//! target `<target>` (`tests/fuzz_checks/mod.rs`).

mod fuzz_checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).expect("a regression input");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails again", file.display());
    }
}

#[test]
fn pipeline_inputs() {
    replay("pipeline", fuzz_checks::pipeline);
}

#[test]
fn canonical_inputs() {
    replay("canonical", fuzz_checks::canonical);
}

#[test]
fn scrub_inputs() {
    replay("scrub", fuzz_checks::scrub);
}

#[test]
fn csv_inputs() {
    replay("csv", fuzz_checks::csv);
}
