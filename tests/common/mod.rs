//! What the CLI and audit tests share: the fixed run date and the binary as a user runs it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub const RUN_DATE: &str = "2026-11-01";

/// The register each test's runs append to, inside its own directory.
pub const REGISTER: &str = "register.jsonl";

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The binary, run from the repository's root as a user runs the example pipelines (their
/// paths are relative to it); the register inside `dir`, which holds what a test writes.
pub fn doel(dir: &TempDir) -> Command {
    assert!(dir.path().is_dir());
    let mut cmd = Command::cargo_bin("doel").unwrap();
    cmd.current_dir(repo("."))
        .env_remove("DOEL_KEY_FILE")
        .env_remove("DOEL_SIGNING_KEY_FILE")
        .env("DOEL_REGISTER", dir.path().join(REGISTER));
    cmd
}
