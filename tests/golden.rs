//! Golden CLI tests: bad inputs and user mistakes, one case a file in `tests/cmd/`
//! (`NAME.toml`: the command and its exit code; `NAME.stdout`, `NAME.stderr`: the exact
//! output; `NAME.out/`: files the run must leave). Every case runs in a fresh copy of
//! `tests/cmd/fixtures/`, so paths in messages are relative to it.
//!
//! After a deliberate change of a message: `TRYCMD=overwrite cargo test --test golden`,
//! then review the diff of `tests/cmd/`.

use std::path::{Path, PathBuf};

const CASES: &str = "tests/cmd";
const FIXTURES: &str = "tests/cmd/fixtures";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(path)
}

/// The golden cases' key: a TEST KEY that protects nothing, written into the fixtures at
/// each run rather than kept as a key file in the repository.
const TEST_KEY: &str = "dc1acaadde020905e73d1d581038f63fe0feee5bfe752aaa2c1f488a7029b7b5";

/// Write the fixture key files (good, shared, and each malformed kind) with their modes.
fn write_keys() {
    let good = format!("{TEST_KEY}\n");
    let files: [(&str, String, u32); 6] = [
        ("test.key", good.clone(), 0o600),
        ("shared.key", good, 0o644),
        ("crlf.key", format!("{TEST_KEY}\r\n"), 0o600),
        ("empty.key", String::new(), 0o600),
        ("nothex.key", format!("{}\n", "z".repeat(64)), 0o600),
        ("short.key", "abcd1234\n".into(), 0o600),
    ];
    for (name, contents, mode) in files {
        let path = fixture(&format!("keys/{name}"));
        std::fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
    }
}

#[test]
fn golden() {
    write_keys();
    trycmd::TestCases::new()
        .register_bin("doel", Path::new(env!("CARGO_BIN_EXE_doel")))
        // For the few cases that need a shell around doel (a file size limit).
        .register_bin("sh", Path::new("/bin/sh"))
        .env("DOEL", env!("CARGO_BIN_EXE_doel"))
        .env("NO_COLOR", "1")
        .case(format!("{CASES}/*.toml"));
}

/// The values of the fixtures' data and keys that no message may repeat.
fn secrets() -> Vec<String> {
    let mut secrets: Vec<String> = [
        "Geheim",
        "Zoë",
        "111222333",
        "123456782",
        "100000009",
        "999999999",
    ]
    .map(String::from)
    .to_vec();
    secrets.extend([TEST_KEY.to_owned(), "z".repeat(64), "abcd1234".into()]);
    secrets
}

/// The pinned output of every case: since the golden test checks that each run prints
/// exactly this, no run prints a data value or key material.
#[test]
fn no_pinned_output_holds_a_value_or_the_key() {
    let secrets = secrets();
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(CASES)).unwrap() {
        let path = entry.unwrap().path();
        let pinned = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("stdout" | "stderr")
        );
        if !pinned {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a value of the fixtures",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} pinned outputs");
}

/// The fixtures hold what the cases claim: recognisable values and a real Windows-1252
/// file.
#[test]
fn fixtures_hold_the_values_the_check_looks_for() {
    let export = std::fs::read_to_string(fixture("export.csv")).unwrap();
    assert!(export.contains("Geheimvoornaam") && export.contains("111222333"));
    let latin = std::fs::read(fixture("inputs/cp1252.csv")).unwrap();
    assert!(std::str::from_utf8(&latin).is_err());
    assert!(latin.windows(3).any(|w| w == b"Zo\xeb"));
}
