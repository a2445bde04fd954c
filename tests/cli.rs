//! The `doel` binary run as a user runs it, on the committed sample data, each test in a
//! fresh temporary directory.

mod common;
#[path = "common/frames.rs"]
mod frames;

use common::{RUN_DATE, doel, repo};
use frames::{read_parquet, sample};

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hmac::{KeyInit, Mac};
use polars::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

const RESEARCH: &str = "pipelines/onderzoek-ontwikkeling.toml";
const MUNICIPALITY: &str = "pipelines/gemeente-jeugd.toml";
const ALLOWANCE: &str = "pipelines/toeslagen-maandlevering.toml";
/// Anchor dates before these are past the catalogue's terms on `RUN_DATE`: 7 years
/// (administratie: the record key), 2 years (contact) and 1 year (dossier).
const PAST_ADMINISTRATIE: &str = "2019-11-01";
const PAST_DOSSIER: &str = "2025-11-01";

/// `doel run PIPELINE` on the repository file `input`, writing `output` inside `dir`.
fn run(dir: &TempDir, pipeline: &str, input: &str, output: &str) -> Command {
    run_paths(dir, &repo(pipeline), &repo(input), &dir.path().join(output))
}

/// `doel run PIPELINE --input INPUT --output OUTPUT` with the demo key and a fixed run date.
fn run_paths(dir: &TempDir, pipeline: &Path, input: &Path, output: &Path) -> Command {
    let mut cmd = doel(dir);
    cmd.arg("run")
        .arg(pipeline)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--key-file")
        .arg(repo("sample-data/demo.key"))
        .arg("--run-date")
        .arg(RUN_DATE);
    cmd
}

/// Run `cmd`, which must succeed; its stdout.
fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The research pipeline run on the sample, writing `x.parquet` in `dir`; its account.
fn research(dir: &TempDir) -> String {
    succeed(&mut run(
        dir,
        RESEARCH,
        "sample-data/export.parquet",
        "x.parquet",
    ))
}

fn read_csv_as_text(path: &Path) -> DataFrame {
    LazyCsvReader::new(PlRefPath::new(path.to_str().unwrap()))
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .finish()
        .unwrap()
        .collect()
        .unwrap()
}

/// The canonical BSNs of the research pipeline's objection list, read apart from doel.
fn objection_list() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo("sample-data/bezwaren.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(independent::canonical_bsn)
        .collect()
}

/// Why a row is left out of the research extract before any transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Excluded {
    No,
    Restriction,
    Objection,
    Retention,
}

/// Whether the contract ended before `cutoff` (ISO dates compare as text).
fn ended_before(df: &DataFrame, cutoff: &str) -> Vec<bool> {
    strings(df, "contract_einde")
        .into_iter()
        .map(|v| v.is_some_and(|d| !d.is_empty() && d.as_str() < cutoff))
        .collect()
}

/// Why each row is excluded from the research extract, read apart from doel: restricted,
/// objected to (by flag or by the pipeline's objection list), or past the record key's
/// retention term, counted in that order.
fn flagged(df: &DataFrame) -> Vec<Excluded> {
    flags(df)
        .into_iter()
        .zip(ended_before(df, PAST_ADMINISTRATIE))
        .map(|((restricted, objected), expired)| {
            if restricted {
                Excluded::Restriction
            } else if objected {
                Excluded::Objection
            } else if expired {
                Excluded::Retention
            } else {
                Excluded::No
            }
        })
        .collect()
}

fn flags(df: &DataFrame) -> Vec<(bool, bool)> {
    let listed = objection_list();
    let in_list: Vec<bool> = strings(df, "kind_bsn")
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(independent::canonical_bsn)
                .is_some_and(|c| listed.contains(&c))
        })
        .collect();
    let flag = |c: &str| {
        strings(df, c)
            .into_iter()
            .map(|v| v.as_deref() == Some("true"))
            .collect::<Vec<_>>()
    };
    flag("verwerking_beperkt")
        .into_iter()
        .zip(flag("bezwaar_onderzoek"))
        .zip(in_list)
        .map(|((restricted, objected), listed)| (restricted, objected || listed))
        .collect()
}

/// A column's values in the rows not excluded whose contract did not end before `cutoff`
/// (the column's retention term): the values transformed, not withheld.
fn kept_within(df: &DataFrame, column: &str, cutoff: &str) -> Vec<Option<String>> {
    strings(df, column)
        .into_iter()
        .zip(ended_before(df, cutoff))
        .zip(flagged(df))
        .filter(|((_, past), x)| !past && *x == Excluded::No)
        .map(|((v, _), _)| v)
        .collect()
}

/// A column's values in the rows not excluded.
fn kept(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    strings(df, column)
        .into_iter()
        .zip(flagged(df))
        .filter(|(_, x)| *x == Excluded::No)
        .map(|(v, _)| v)
        .collect()
}

fn column_names(df: &DataFrame) -> Vec<&str> {
    df.get_column_names().iter().map(|n| n.as_str()).collect()
}

fn strings(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    let series = df
        .column(column)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::String)
        .unwrap();
    series
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

/// An implementation of the BSN canonical form and pseudonym written apart from the
/// kernels, straight from `docs/spec/pseudonyms-v1.md`.
mod independent {
    use super::*;

    pub fn canonical_bsn(raw: &str) -> Option<String> {
        let digits: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        if !(8..=9).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{digits:0>9}");
        let sum: i64 = padded
            .chars()
            .zip([9, 8, 7, 6, 5, 4, 3, 2, -1])
            .map(|(c, w)| w * c.to_digit(10).unwrap() as i64)
            .sum();
        (sum % 11 == 0 && padded != "000000000").then_some(padded)
    }

    fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    pub fn pseudonym(key_hex: &str, domain: &str, kind: &str, canonical: &str) -> String {
        let key = hex::decode(key_hex.trim()).unwrap();
        let domain_key = hmac(&key, format!("doel/v1/domain/{domain}").as_bytes());
        hex::encode(&hmac(&domain_key, format!("{kind}\x1f{canonical}").as_bytes())[..16])
    }
}

fn demo_key() -> String {
    std::fs::read_to_string(repo("sample-data/demo.key")).unwrap()
}

/// Count, per the independent canonical form, (missing, invalid) values of a column.
fn bsn_rejections(values: &[Option<String>]) -> (usize, usize) {
    let missing = values
        .iter()
        .filter(|v| v.as_deref().is_none_or(|s| s.trim().is_empty()))
        .count();
    let invalid = values
        .iter()
        .filter(|v| {
            v.as_deref()
                .is_some_and(|s| !s.trim().is_empty() && independent::canonical_bsn(s).is_none())
        })
        .count();
    (missing, invalid)
}

#[test]
fn plan_lists_every_sample_column_with_its_fate() {
    let dir = TempDir::new().unwrap();
    let out = doel(&dir)
        .arg("plan")
        .arg(repo(RESEARCH))
        .arg("--input")
        .arg(repo("sample-data/export.parquet"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let input = sample();
    for name in input.get_column_names() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} not in plan:\n{text}"));
        assert!(line.contains("USE") || line.contains("DROP"), "{line}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("notities ") && l.contains("DROP  not named in the pipeline"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("kind_bsn ") && l.contains("pseudonymise (bsn) -> kind_id"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("kind_voornaam ") && l.contains("-> koppelsleutel"))
    );
}

#[test]
fn research_extract_holds_only_named_columns_with_independent_pseudonyms() {
    let dir = TempDir::new().unwrap();
    let stdout = research(&dir);

    let extract = read_parquet(&dir.path().join("x.parquet"));
    assert_eq!(
        column_names(&extract),
        [
            "kind_id",
            "ouder_id",
            "koppelsleutel",
            "geboortejaar",
            "kind_geslacht",
            "postcode",
            "opvangsoort",
            "contract_start_maand",
            "uren_per_maand",
            "gezondheid"
        ]
    );

    // Pseudonyms equal an independent computation, row for row, after the dropped rows.
    let input = sample();
    let key = demo_key();
    let expected: Vec<Option<String>> = kept(&input, "kind_bsn")
        .iter()
        .filter_map(|v| v.as_deref().and_then(independent::canonical_bsn))
        .map(|c| {
            Some(independent::pseudonym(
                &key,
                "onderzoek-umc-jeugd",
                "bsn",
                &c,
            ))
        })
        .collect();
    assert_eq!(strings(&extract, "kind_id"), expected);

    // Counts per reason match the input, and are printed.
    let (missing, invalid) = bsn_rejections(&kept(&input, "kind_bsn"));
    assert!(
        invalid > 0 && missing > 0,
        "the sample must hold damaged BSNs"
    );
    assert!(
        stdout.contains(&format!("read       {} rows", input.height())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("dropped    {} rows", missing + invalid)),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["kind_id", "invalid", &invalid.to_string(), "row", "dropped"]),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["kind_id", "missing", &missing.to_string(), "row", "dropped"]),
        "{stdout}"
    );
    let (parent_missing, parent_invalid) = bsn_rejections(&kept(&input, "ouder_bsn"));
    let nulls = extract.column("ouder_id").unwrap().null_count();
    assert!(parent_missing + parent_invalid >= nulls && nulls > 0);

    // The key itself never appears in what doel prints.
    assert!(!stdout.contains(key.trim()), "the key is in the output");
}

#[test]
fn pseudonym_columns_carry_field_metadata() {
    let dir = TempDir::new().unwrap();
    run(&dir, RESEARCH, "sample-data/export.parquet", "x.parquet")
        .assert()
        .success();
    let mut file = std::fs::File::open(dir.path().join("x.parquet")).unwrap();
    let metadata = polars_parquet::read::read_metadata(&mut file).unwrap();
    let schema = polars_parquet::read::infer_schema(&metadata).unwrap();
    let field = schema.get("kind_id").unwrap();
    let md = field.metadata.as_ref().expect("kind_id has metadata");
    let get = |k: &str| md.get(k).map(|v| v.as_str());
    assert_eq!(get("doel.pseudonym.spec"), Some("pseudonyms-v1"));
    assert_eq!(get("doel.pseudonym.kind"), Some("bsn"));
    assert_eq!(get("doel.pseudonym.domain"), Some("onderzoek-umc-jeugd"));
    assert_eq!(
        get("doel.pseudonym.key_fingerprint"),
        Some("6ad667b3eaecc0f2")
    );
    assert!(schema.get("geboortejaar").unwrap().metadata.is_none());
}

#[test]
fn reruns_are_byte_identical_whatever_the_thread_count() {
    let dir = TempDir::new().unwrap();
    run(&dir, RESEARCH, "sample-data/export.parquet", "a.parquet")
        .arg("--threads")
        .arg("1")
        .assert()
        .success();
    run(&dir, RESEARCH, "sample-data/export.parquet", "b.parquet")
        .arg("--threads")
        .arg("2")
        .assert()
        .success();
    run(&dir, RESEARCH, "sample-data/export.parquet", "c.parquet")
        .assert()
        .success();
    let a = std::fs::read(dir.path().join("a.parquet")).unwrap();
    assert_eq!(a, std::fs::read(dir.path().join("b.parquet")).unwrap());
    assert_eq!(a, std::fs::read(dir.path().join("c.parquet")).unwrap());
}

#[test]
fn csv_and_parquet_inputs_give_the_same_extract() {
    let dir = TempDir::new().unwrap();
    run(&dir, RESEARCH, "sample-data/export.parquet", "p.csv")
        .assert()
        .success();
    run(&dir, RESEARCH, "sample-data/export.csv", "c.csv")
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("p.csv")).unwrap(),
        std::fs::read(dir.path().join("c.csv")).unwrap()
    );
}

#[test]
fn municipality_extract_in_csv_and_ipc() {
    let dir = TempDir::new().unwrap();
    run(&dir, MUNICIPALITY, "sample-data/export.csv", "g.csv")
        .assert()
        .success()
        .stdout(contains("written"));
    let extract = read_csv_as_text(&dir.path().join("g.csv"));
    assert_eq!(
        column_names(&extract),
        [
            "kind_id",
            "leeftijdsgroep",
            "postcode",
            "gemeentecode",
            "opvangsoort",
            "uren_per_maand",
            "kinderopvangtoeslag"
        ]
    );
    let bands: std::collections::BTreeSet<_> = strings(&extract, "leeftijdsgroep")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        bands
            .iter()
            .all(|b| ["0-3", "4-11", "12+"].contains(&b.as_str())),
        "{bands:?}"
    );
    assert!(
        strings(&extract, "postcode")
            .iter()
            .flatten()
            .all(|p| p.len() == 4)
    );
    run(&dir, MUNICIPALITY, "sample-data/export.csv", "g.arrow")
        .assert()
        .success();
    let mut ipc = std::fs::File::open(dir.path().join("g.arrow")).unwrap();
    let metadata = polars_arrow::io::ipc::read::read_file_metadata(&mut ipc).unwrap();
    let field = metadata.schema.get("kind_id").unwrap();
    let md = field.metadata.as_ref().expect("kind_id has metadata");
    assert_eq!(
        md.get("doel.pseudonym.domain").map(|v| v.as_str()),
        Some("gemeente-sittard-geleen")
    );
}

/// A copy of the research pipeline with `edit` applied, written into `dir`.
fn edited_pipeline(dir: &TempDir, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo(RESEARCH)).unwrap();
    let path = dir.path().join("edited.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// Run an edited pipeline on the sample Parquet export, writing `x.parquet` in `dir`.
fn run_edited(dir: &TempDir, pipeline: &Path) -> std::process::Output {
    let input = repo("sample-data/export.parquet");
    run_paths(dir, pipeline, &input, &dir.path().join("x.parquet"))
        .output()
        .unwrap()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".parquet"))
        .collect()
}

#[test]
fn a_failed_run_leaves_no_file() {
    let dir = TempDir::new().unwrap();
    let pipeline = edited_pipeline(&dir, |t| {
        t.replace(
            r#"as = "kind_id" }"#,
            r#"as = "kind_id", on_invalid = "fail" }"#,
        )
    });
    let out = run_edited(&dir, &pipeline);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The first BSN without a canonical form, found independently, is named by row only.
    // Excluded rows are never transformed, so the first one among the others.
    let input = sample();
    let bsns = strings(&input, "kind_bsn");
    let first = bsns
        .iter()
        .zip(flagged(&input))
        .position(|(v, x)| {
            x == Excluded::No && v.as_deref().and_then(independent::canonical_bsn).is_none()
        })
        .unwrap();
    let expected = format!(
        "column `kind_id` (from `kind_bsn`): data row {} has no canonical form",
        first + 1
    );
    assert!(
        stderr.contains(&expected) && stderr.contains("on_invalid = \"fail\""),
        "{stderr}"
    );
    for value in bsns.iter().flatten().filter(|v| v.trim().len() >= 8) {
        assert!(
            !stderr.contains(value.trim()),
            "a BSN from the data is in the message"
        );
    }
    assert!(stderr.contains("hint: "));
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

fn assert_error(cmd: &mut Command, code: i32, message: &str) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
}

#[test]
fn missing_key_is_refused() {
    let dir = TempDir::new().unwrap();
    assert_error(
        doel(&dir).arg("run").arg(repo(RESEARCH)),
        1,
        "error: no key given",
    );
}

#[test]
fn short_key_is_refused() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("short.key"), "abcd\n").unwrap();
    assert_error(
        doel(&dir)
            .arg("run")
            .arg(repo(RESEARCH))
            .arg("--key-file")
            .arg(dir.path().join("short.key")),
        1,
        "the key is 4 characters long",
    );
}

#[test]
fn key_file_from_environment() {
    let dir = TempDir::new().unwrap();
    let mut cmd = doel(&dir);
    cmd.env("DOEL_KEY_FILE", dir.path().join("absent.key"))
        .arg("run")
        .arg(repo(RESEARCH));
    assert_error(&mut cmd, 1, "cannot read key file");
}

#[test]
fn three_faults_get_three_messages_in_one_run_from_check_plan_and_run() {
    let dir = TempDir::new().unwrap();
    // A renamed key, a missing key and a column entry that breaks a rule of its action.
    let pipeline = edited_pipeline(&dir, |t| {
        let t = t
            .replace("recipient =", "recipent =")
            .replace("contact =", "# contact =");
        format!("{t}contract_id = {{ action = \"generalise\" }}\n")
    });
    let expected = |text: &str| {
        let problems: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("3 problems"))
            .skip(1)
            .take(3)
            .map(str::trim)
            .collect();
        assert_eq!(problems.len(), 3, "{text}");
        assert!(problems[0].starts_with("line "), "{text}");
        assert!(
            problems[0].ends_with("[pipeline]: missing key `contact`"),
            "{text}"
        );
        assert!(
            problems[1].ends_with("[pipeline]: unknown key `recipent`; did you mean `recipient`?"),
            "{text}"
        );
        assert!(problems[2].contains("[columns] contract_id:"), "{text}");
    };
    for command in ["plan", "run"] {
        let out = doel(&dir)
            .arg(command)
            .arg(&pipeline)
            .arg("--key-file")
            .arg(repo("sample-data/demo.key"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(": 3 problems\n  line "), "{stderr}");
        expected(&stderr);
    }
    let out = doel(&dir).arg("check").arg(&pipeline).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    expected(&stdout);
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["edited.toml"], "nothing written, no register entry");
}

#[test]
fn missing_input_column_is_named() {
    let dir = TempDir::new().unwrap();
    // The export of a vendor update that lost a column the pipeline keeps.
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let without: String = sample
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(',').collect();
            fields.remove(6);
            fields.join(",") + "\n"
        })
        .collect();
    assert!(sample.starts_with("contract_id,kind_bsn,kind_voornaam,kind_tussenvoegsel,kind_achternaam,kind_geboortedatum,kind_geslacht,"));
    let input = dir.path().join("export.csv");
    std::fs::write(&input, without).unwrap();
    assert_error(
        doel(&dir)
            .arg("plan")
            .arg(repo(RESEARCH))
            .arg("--input")
            .arg(&input),
        1,
        "column `kind_geslacht` (used by `[columns] kind_geslacht`) is not in the input",
    );
}

/// Each policy rule refuses an edited research pipeline that breaks it, before reading a
/// row, with exit code 2 and a message naming the rule and the column.
#[test]
fn each_policy_rule_refuses_a_pipeline_that_breaks_it() {
    let dir = TempDir::new().unwrap();
    let cases: [(&str, &str, &str); 10] = [
        (
            "kind_geslacht = \"keep\"",
            "kind_gender = \"keep\"",
            "rule uncatalogued-column, column `kind_gender`: read by `[columns] kind_gender`, but not in the catalogue pipelines/catalogue.toml",
        ),
        (
            "kind_geslacht = \"keep\"",
            "kind_geslacht = \"keep\"\nouder_bsn_2 = \"keep\"",
            "rule uncatalogued-column, column `ouder_bsn_2`",
        ),
        (
            "ouder_bsn = { action = \"pseudonymise\", kind = \"bsn\", as = \"ouder_id\", on_invalid = \"null\" }",
            "ouder_bsn = \"keep\"",
            "rule bsn-in-clear, column `ouder_bsn`: is a BSN and the pipeline would keep it; a research pipeline may only pseudonymise or drop a BSN",
        ),
        (
            "[exceptions.medische_info]",
            "[exceptions.religie]",
            "rule special-category, column `medische_info`: holds a special category of data (health); releasing it needs [exceptions.medische_info]",
        ),
        (
            "medische_info = { action = \"scrub\", as = \"gezondheid\" }",
            "medische_info = { action = \"keep\", as = \"gezondheid\" }",
            "rule free-text, column `medische_info`: is free text and the pipeline would keep it",
        ),
        (
            "postcode = { action = \"generalise\", to = \"pc4\" }",
            "postcode = \"keep\"",
            "rule direct-identifier, column `postcode`: is a direct identifier (address) and the pipeline would keep it; a research pipeline may only pseudonymise it, generalise it to pc4 or drop it",
        ),
        (
            "objected = \"bezwaar_onderzoek\"",
            "",
            "rule objections, column `bezwaar_onderzoek`: the catalogue marks it as the export's objection flag",
        ),
        (
            "restricted = \"verwerking_beperkt\"",
            "",
            "rule restrictions, column `verwerking_beperkt`",
        ),
        (
            "opvangsoort = \"keep\"",
            "opvangsoort = \"keep\"\nbezwaar_onderzoek = { action = \"keep\", as = \"b\" }",
            "rule exclusion-flag, column `bezwaar_onderzoek`: is the export's objection flag and the pipeline would keep it",
        ),
        (
            "bsn = \"kind_bsn\"",
            "bsn = \"ouder_voornaam\"",
            "rule exclusion-key, column `ouder_voornaam`: the exclusion lists are matched against it, but the catalogue does not class it as a BSN",
        ),
    ];
    for (from, to, message) in cases {
        let pipeline = edited_pipeline(&dir, |t| {
            assert!(t.contains(from), "{from}");
            t.replace(from, to)
        });
        let code = if message.starts_with("rule") { 2 } else { 1 };
        assert_error(
            doel(&dir)
                .arg("plan")
                .arg(&pipeline)
                .arg("--input")
                .arg(repo("sample-data/export.parquet")),
            code,
            message,
        );
    }
    // The legal-obligation pipeline keeps BSNs in clear only while it names the law.
    let text = std::fs::read_to_string(repo(ALLOWANCE)).unwrap();
    let without_law = dir.path().join("zonder-wet.toml");
    std::fs::write(
        &without_law,
        text.replace("bsn_basis = \"Regeling Wet kinderopvang art. 11\"\n", ""),
    )
    .unwrap();
    assert_error(
        doel(&dir).arg("plan").arg(&without_law),
        2,
        "rule bsn-in-clear, column `kind_bsn`: a BSN kept in clear needs [pipeline] bsn_basis, naming the law that requires it",
    );
}

#[test]
fn unreadable_input_is_an_io_error() {
    let dir = TempDir::new().unwrap();
    let truncated = dir.path().join("truncated.parquet");
    let bytes = std::fs::read(repo("sample-data/export.parquet")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut cmd = doel(&dir);
    cmd.arg("run")
        .arg(repo(RESEARCH))
        .arg("--input")
        .arg(&truncated)
        .arg("--key-file")
        .arg(repo("sample-data/demo.key"));
    assert_error(&mut cmd, 3, "truncated.parquet");
    let mut cmd = doel(&dir);
    cmd.arg("plan")
        .arg(repo(RESEARCH))
        .arg("--input")
        .arg(dir.path().join("absent.parquet"));
    assert_error(&mut cmd, 3, "absent.parquet: entity not found");
}

#[test]
fn keygen_writes_a_private_key_and_never_overwrites() {
    let dir = TempDir::new().unwrap();
    // A relative --out is taken from the current directory.
    let out = doel(&dir)
        .current_dir(dir.path())
        .args(["keygen", "--out", "new.key"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = std::fs::read_to_string(dir.path().join("new.key")).unwrap();
    assert_eq!(key.len(), 65);
    assert!(
        !String::from_utf8(out.stdout).unwrap().contains(key.trim()),
        "only the fingerprint is printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.path().join("new.key"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert_error(
        doel(&dir)
            .current_dir(dir.path())
            .args(["keygen", "--out", "new.key"]),
        1,
        "already exists",
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.key")).unwrap(),
        key
    );
}

/// 50 copies of the sample (150 000 rows) cross a batch boundary: the extract must be
/// the single-batch extract 50 times over, for 1 and 2 threads.
#[test]
fn batches_join_seamlessly() {
    let dir = TempDir::new().unwrap();
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let (header, body) = sample.split_once('\n').unwrap();
    let big = dir.path().join("big.csv");
    std::fs::write(&big, format!("{header}\n{}", body.repeat(50))).unwrap();
    run(&dir, RESEARCH, "sample-data/export.csv", "one.csv")
        .assert()
        .success();
    let one = std::fs::read_to_string(dir.path().join("one.csv")).unwrap();
    let (out_header, out_body) = one.split_once('\n').unwrap();
    let expected = format!("{out_header}\n{}", out_body.repeat(50));
    for threads in ["1", "2"] {
        let output = dir.path().join(format!("big-{threads}.csv"));
        run_paths(&dir, &repo(RESEARCH), &big, &output)
            .arg("--threads")
            .arg(threads)
            .assert()
            .success()
            .stdout(contains("read       150000 rows"));
        assert!(
            std::fs::read_to_string(&output).unwrap() == expected,
            "{threads} threads"
        );
        run_paths(
            &dir,
            &repo(RESEARCH),
            &big,
            &dir.path().join(format!("big-{threads}.parquet")),
        )
        .arg("--threads")
        .arg(threads)
        .assert()
        .success();
    }
    let parquet = |t: &str| std::fs::read(dir.path().join(format!("big-{t}.parquet"))).unwrap();
    assert_eq!(
        parquet("1"),
        parquet("2"),
        "two row groups, the same bytes for 1 and 2 threads"
    );
}

#[test]
fn a_key_given_as_the_pipeline_is_never_echoed() {
    let dir = TempDir::new().unwrap();
    let key = demo_key();
    let out = doel(&dir)
        .arg("plan")
        .arg(repo("sample-data/demo.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 1, column"), "{stderr}");
    assert!(!stderr.contains(&key.trim()[..16]), "{stderr}");
}

#[test]
fn the_output_never_replaces_the_key() {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("k.key");
    std::fs::copy(repo("sample-data/demo.key"), &key).unwrap();
    let before = std::fs::read(&key).unwrap();
    let mut cmd = doel(&dir);
    cmd.arg("run")
        .arg(repo(RESEARCH))
        .arg("--key-file")
        .arg(&key)
        .arg("--output")
        .arg(&key);
    cmd.arg("--input").arg(repo("sample-data/export.parquet"));
    assert_error(&mut cmd, 1, "is the key file");
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn a_csv_without_header_is_refused_without_printing_it() {
    let dir = TempDir::new().unwrap();
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let body = sample.split_once('\n').unwrap().1;
    let headerless = dir.path().join("headerless.csv");
    std::fs::write(&headerless, body).unwrap();
    let mut cmd = doel(&dir);
    cmd.arg("plan")
        .arg(repo(RESEARCH))
        .arg("--input")
        .arg(&headerless);
    assert_error(&mut cmd, 3, "header row is missing");
    let stderr = String::from_utf8(cmd.output().unwrap().stderr).unwrap();
    let first_row = body.lines().next().unwrap();
    for field in first_row.split(',').filter(|f| f.len() > 3) {
        assert!(
            !stderr.contains(field),
            "a value of the first row is in the message"
        );
    }
}

/// An identifier detector written apart from the scrubber: digit runs (with spaces, dots or
/// hyphens between digits) holding an elfproef-valid BSN, 10-digit Dutch phone numbers,
/// and anything with an `@`.
fn independent_findings(text: &str) -> (usize, usize, usize) {
    assert_eq!(independent_ibans(text), 0, "an IBAN in a note");
    let runs = regex::Regex::new(r"\+?[0-9](?:[ .-]?[0-9])*").unwrap();
    let (mut bsns, mut phones) = (0, 0);
    for run in runs.find_iter(text) {
        let digits: String = run.as_str().chars().filter(char::is_ascii_digit).collect();
        if (8..=9).contains(&digits.len()) && independent::canonical_bsn(&digits).is_some() {
            bsns += 1;
        }
        if (digits.len() == 10 && digits.starts_with('0'))
            || (digits.len() == 11 && digits.starts_with("31"))
        {
            phones += 1;
        }
    }
    (bsns, phones, text.matches('@').count())
}

/// IBANs found apart from the scrubber: two capitals and two digits followed by capitals,
/// digits and spaces, of which any 15 to 34 characters (spaces left out) pass mod 97.
fn independent_ibans(text: &str) -> usize {
    let candidates = regex::Regex::new(r"[A-Z]{2}[0-9]{2}[A-Z0-9 ]*").unwrap();
    candidates
        .find_iter(text)
        .filter(|m| {
            let compact: Vec<char> = m.as_str().chars().filter(|c| *c != ' ').collect();
            (15..=compact.len().min(34)).any(|len| {
                let (head, tail) = compact[..len].split_at(4);
                tail.iter().chain(head).try_fold(0u64, |r, c| {
                    let v = c.to_digit(36)? as u64;
                    Some(if v < 10 {
                        (r * 10 + v) % 97
                    } else {
                        (r * 100 + v) % 97
                    })
                }) == Some(1)
            })
        })
        .count()
}

/// A valid Dutch IBAN for account `n`, printed in groups of four when `grouped`.
fn iban(n: u64, grouped: bool) -> String {
    let bban = format!("ABNA{:010}", 417_164_300 + n);
    let digits: String = format!("{bban}NL00")
        .chars()
        .map(|c| c.to_digit(36).unwrap().to_string())
        .collect();
    let rest = digits
        .chars()
        .fold(0u64, |r, c| (r * 10 + c.to_digit(10).unwrap() as u64) % 97);
    let compact = format!("NL{:02}{bban}", 98 - rest);
    if !grouped {
        return compact;
    }
    let chars: Vec<char> = compact.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Notes holding every kind of identifier in the forms staff type them, scrubbed: no BSN,
/// IBAN, e-mail address or phone number is left, and each kind is counted as found
/// independently.
#[test]
fn scrubbed_generated_notes_hold_no_identifiers() {
    let dir = TempDir::new().unwrap();
    let mut input = sample();
    let bsns: Vec<Option<String>> = strings(&input, "kind_bsn")
        .iter()
        .map(|v| v.as_deref().and_then(independent::canonical_bsn))
        .collect();
    let notes: Vec<String> = bsns
        .iter()
        .enumerate()
        .map(|(i, bsn)| {
            let bsn = bsn.clone().unwrap_or_else(|| "111222333".into());
            let dotted = format!("{}.{}.{}", &bsn[..4], &bsn[4..6], &bsn[6..]);
            match i % 4 {
                0 => format!("Toeslag op IBAN {}, bsn {dotted}.", iban(i as u64, true)),
                1 => format!("Mail ouder{i}@voorbeeld.nl of bel 06-{:08}", 10_000_000 + i),
                2 => format!(
                    "Rekening {}; tel. +31 6 {:04} {:04}",
                    iban(i as u64, false),
                    i % 10_000,
                    5678
                ),
                _ => format!(
                    "BSN kind {} (oud: {}) en j.jansen{i}@example.com, 010-{:07}",
                    bsn.trim_start_matches('0'),
                    bsn,
                    1_000_000 + i
                ),
            }
        })
        .collect();
    input
        .with_column(Column::new("notities".into(), notes))
        .unwrap();
    let generated = dir.path().join("export.parquet");
    ParquetWriter::new(std::fs::File::create(&generated).unwrap())
        .finish(&mut input)
        .unwrap();
    let pipeline = edited_pipeline(&dir, |t| {
        format!("{t}notities = {{ action = \"scrub\", as = \"notities_geschoond\" }}\n")
    });
    let stdout = succeed(&mut run_paths(
        &dir,
        &pipeline,
        &generated,
        &dir.path().join("x.parquet"),
    ));
    // Counted over the rows transformed: those not excluded.
    let kept_notes = kept_within(&input, "notities", PAST_DOSSIER);
    let found = kept_notes.iter().flatten().fold([0; 3], |acc, n| {
        let digits = regex::Regex::new(r"\+?[0-9](?:[ .-]?[0-9])*").unwrap();
        let bsns = digits
            .find_iter(n)
            .filter(|m| {
                let d: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
                (8..=9).contains(&d.len()) && independent::canonical_bsn(&d).is_some()
            })
            .count();
        [
            acc[0] + bsns,
            acc[1] + independent_ibans(n),
            acc[2] + n.matches('@').count(),
        ]
    });
    assert!(found.iter().all(|n| *n > 0), "{found:?}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("scrubbed   notities_geschoond:"))
        .expect(&stdout);
    for (count, kind) in found.iter().zip(["bsn", "iban", "email"]) {
        assert!(
            line.contains(&format!(" {count} {kind}")),
            "{line} vs {found:?}"
        );
    }
    let extract = read_parquet(&dir.path().join("x.parquet"));
    let scrubbed = strings(&extract, "notities_geschoond");
    assert!(scrubbed.iter().flatten().count() > 1000);
    for note in scrubbed.iter().flatten() {
        assert_eq!(
            independent_findings(note),
            (0, 0, 0),
            "an identifier is left in a scrubbed note"
        );
    }
}

#[test]
fn scrubbed_notes_hold_no_identifiers() {
    let dir = TempDir::new().unwrap();
    let pipeline = edited_pipeline(&dir, |t| {
        format!("{t}notities = {{ action = \"scrub\", as = \"notities_geschoond\" }}\n")
    });
    let out = run_edited(&dir, &pipeline);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();

    let input = sample();
    let notes = kept_within(&input, "notities", PAST_DOSSIER);
    let before = notes.iter().flatten().fold((0, 0, 0), |acc, n| {
        let (b, p, e) = independent_findings(n);
        (acc.0 + b, acc.1 + p, acc.2 + e)
    });
    assert!(before.0 > 0, "the sample's notes hold BSNs");

    let extract = read_parquet(&dir.path().join("x.parquet"));
    for note in strings(&extract, "notities_geschoond").iter().flatten() {
        assert_eq!(
            independent_findings(note),
            (0, 0, 0),
            "an identifier is left in a scrubbed note"
        );
    }
    // Every BSN found independently in the notes of rows not excluded was counted, and
    // no more (notes of rows dropped for their kind_bsn count too: counts cover every
    // row transformed).
    let line = stdout
        .lines()
        .find(|l| l.starts_with("scrubbed   notities_geschoond:"))
        .expect(&stdout);
    assert!(
        line.contains(&format!(" {} bsn", before.0)),
        "{line} vs {before:?}"
    );
}

#[test]
fn restricted_and_objecting_subjects_are_absent() {
    let dir = TempDir::new().unwrap();
    let stdout = research(&dir);
    let input = sample();
    let flags = flagged(&input);
    let count = |reason| flags.iter().filter(|x| **x == reason).count();
    let restricted = count(Excluded::Restriction);
    let objected = count(Excluded::Objection);
    let expired = count(Excluded::Retention);
    assert!(restricted > 0 && objected > 0 && expired > 0);
    let line = format!(
        "excluded   {} rows before any transformation: {restricted} restriction, {objected} objection, {expired} retention, 0 unreadable flag",
        restricted + objected + expired
    );
    assert!(stdout.contains(&line), "{stdout}");
    assert!(
        stdout.contains(
            "list       sample-data/bezwaren.csv (objection, column bsn): 12 valid BSNs, 0 invalid, 19 records matched\n"
        ),
        "{stdout}"
    );

    // Recompute the pseudonyms of the excluded children (by flag, list or retention): none may be in the extract
    // (a child with both flagged and unflagged rows is left out of the check).
    let key = demo_key();
    let pseudonym = |v: &Option<String>| {
        v.as_deref()
            .and_then(independent::canonical_bsn)
            .map(|c| independent::pseudonym(&key, "onderzoek-umc-jeugd", "bsn", &c))
    };
    let bsns = strings(&input, "kind_bsn");
    let with_flag = |want: bool| -> std::collections::BTreeSet<String> {
        bsns.iter()
            .zip(&flags)
            .filter(|(_, x)| (**x != Excluded::No) == want)
            .filter_map(|(v, _)| pseudonym(v))
            .collect()
    };
    let excluded: std::collections::BTreeSet<String> = with_flag(true)
        .difference(&with_flag(false))
        .cloned()
        .collect();
    assert!(!excluded.is_empty());
    let extract = read_parquet(&dir.path().join("x.parquet"));
    let released: std::collections::BTreeSet<String> =
        strings(&extract, "kind_id").into_iter().flatten().collect();
    assert!(
        excluded.is_disjoint(&released),
        "an excluded child is in the extract"
    );
}

#[test]
fn plan_shows_exclusion_flags_and_objections_bind_research_only() {
    let dir = TempDir::new().unwrap();
    let plan = |pipeline: &Path| {
        let out = doel(&dir)
            .arg("plan")
            .arg(pipeline)
            .arg("--input")
            .arg(repo("sample-data/export.parquet"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let line = |text: &str, column: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{column} ")))
            .unwrap_or_default()
            .to_owned()
    };
    let research = plan(&repo(RESEARCH));
    assert!(
        line(&research, "verwerking_beperkt").contains("USE   restriction flag"),
        "{research}"
    );
    assert!(
        line(&research, "bezwaar_onderzoek").contains("USE   objection flag"),
        "{research}"
    );
    let management = plan(&edited_pipeline(&dir, |t| {
        t.replace("purpose = \"research\"", "purpose = \"management\"")
    }));
    assert!(
        line(&management, "bezwaar_onderzoek").contains("not applied"),
        "{management}"
    );
    assert!(
        line(&management, "verwerking_beperkt").contains("USE   restriction flag"),
        "{management}"
    );
}

#[test]
fn values_past_their_retention_term_are_withheld_and_counted() {
    let dir = TempDir::new().unwrap();
    let stdout = research(&dir);
    let input = sample();
    // Health notes (scrubbed, so present wherever the input has one) of contracts that
    // ended more than a year before the run date are withheld, counted in the rows
    // written (rows with a BSN without canonical form are dropped).
    let rows: Vec<(Option<String>, bool, Option<String>)> = strings(&input, "medische_info")
        .into_iter()
        .zip(ended_before(&input, PAST_DOSSIER))
        .zip(strings(&input, "kind_bsn"))
        .zip(flagged(&input))
        .filter(|(_, x)| *x == Excluded::No)
        .map(|(((note, past), bsn), _)| (note, past, bsn))
        .collect();
    let withheld = rows
        .iter()
        .filter(|(note, past, bsn)| {
            *past
                && note.is_some()
                && bsn
                    .as_deref()
                    .and_then(independent::canonical_bsn)
                    .is_some()
        })
        .count();
    assert!(withheld > 0);
    assert!(
        stdout.contains(&format!(
            "withheld   gezondheid: {withheld} values past their retention term, set to null"
        )),
        "{stdout}"
    );
    // Row for row in the extract (rows with a BSN without canonical form are dropped).
    let expected: Vec<bool> = rows
        .iter()
        .filter(|(_, _, bsn)| {
            bsn.as_deref()
                .and_then(independent::canonical_bsn)
                .is_some()
        })
        .map(|(note, past, _)| note.is_some() && !past)
        .collect();
    let extract = read_parquet(&dir.path().join("x.parquet"));
    let present: Vec<bool> = strings(&extract, "gezondheid")
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(present, expected);
}

#[test]
fn the_legal_obligation_delivery_holds_bsns_in_clear_and_leaves_out_restricted_records() {
    let dir = TempDir::new().unwrap();
    let stdout = succeed(&mut run(
        &dir,
        ALLOWANCE,
        "sample-data/export.parquet",
        "t.csv",
    ));
    let input = sample();
    let restricted: Vec<bool> = flags(&input).into_iter().map(|(r, _)| r).collect();
    let expired = ended_before(&input, PAST_ADMINISTRATIE);
    let kept: Vec<Option<String>> = strings(&input, "kind_bsn")
        .into_iter()
        .zip(restricted.iter().zip(&expired))
        .filter(|(_, (r, e))| !**r && !**e)
        .map(|(v, _)| v)
        .collect();
    let count = |v: &[bool]| v.iter().filter(|x| **x).count();
    let both = restricted
        .iter()
        .zip(&expired)
        .filter(|(r, e)| **r && **e)
        .count();
    assert!(
        stdout.contains(&format!(
            "{} restriction, 0 objection, {} retention",
            count(&restricted),
            count(&expired) - both
        )),
        "{stdout}"
    );
    let extract = read_csv_as_text(&dir.path().join("t.csv"));
    assert_eq!(strings(&extract, "kind_bsn"), kept);
    assert!(!column_names(&extract).contains(&"kind_voornaam"));
}

#[test]
fn check_passes_the_shipped_pipelines_and_fails_a_breach_without_data() {
    let dir = TempDir::new().unwrap();
    doel(&dir)
        .arg("check")
        .assert()
        .success()
        .stdout(contains(
            "ok    pipelines/toeslagen-maandlevering.toml: legal-obligation",
        ))
        .stdout(contains("checked 6 files: all pass"));
    let pipelines = dir.path().join("pipelines");
    std::fs::create_dir(&pipelines).unwrap();
    let research = std::fs::read_to_string(repo(RESEARCH)).unwrap();
    std::fs::write(pipelines.join("a-goed.toml"), &research).unwrap();
    std::fs::write(
        pipelines.join("b-religie.toml"),
        format!("{research}religie = \"keep\"\n"),
    )
    .unwrap();
    std::fs::write(
        pipelines.join("c-kapot.toml"),
        research.replace("[columns]", "[colums]"),
    )
    .unwrap();
    // The input is never opened: a path that does not exist changes nothing.
    std::fs::write(
        pipelines.join("d-elders.toml"),
        research.replace("sample-data/export.parquet", "/nonexistent/export.parquet"),
    )
    .unwrap();
    let out = doel(&dir).arg("check").arg(&pipelines).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    let name = |f: &str| pipelines.join(f).display().to_string();
    assert_eq!(
        lines,
        [
            format!(
                "ok    {}: research for UMC onderzoeksgroep Jeugd, 10 columns released",
                name("a-goed.toml")
            ),
            format!("FAIL  {}", name("b-religie.toml")),
            format!("FAIL  {}", name("c-kapot.toml")),
            format!(
                "ok    {}: research for UMC onderzoeksgroep Jeugd, 10 columns released",
                name("d-elders.toml")
            ),
        ]
    );
    assert!(
        stdout.contains(
            "rule special-category, column `religie`: holds a special category of data (religion)"
        ),
        "{stdout}"
    );
    // The typo is named once, as a typo, and not as a missing section as well.
    assert!(
        stdout.contains(&format!(
            "FAIL  {}\n      pipeline file {}: line 40: unknown section [colums]; did you mean [columns]?\n",
            name("c-kapot.toml"),
            name("c-kapot.toml")
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: 2 of 4 files failed the check\nhint: "),
        "{stderr}"
    );
}

/// The share `doel scan` printed for `kind` in `column`'s table row (`<1` reads as 0).
fn scan_share(stdout: &str, column: &str, kind: &str) -> u64 {
    let row = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(column))
        .unwrap_or_else(|| panic!("no row for {column} in:\n{stdout}"));
    let after = row
        .split_once(&format!("  {kind} "))
        .or_else(|| row.split_once(&format!(", {kind} ")))
        .unwrap_or_else(|| panic!("no {kind} share for {column}: {row}"))
        .1;
    let share = after.split_once(" %").unwrap().0;
    share.parse().unwrap_or(0)
}

#[test]
fn scan_describes_the_sample_without_printing_a_value() {
    let dir = TempDir::new().unwrap();
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let values: Vec<&str> = sample
        .lines()
        .skip(1)
        .take(5)
        .flat_map(|line| line.split(','))
        .filter(|field| field.len() >= 5)
        .collect();
    assert!(values.contains(&"394471283"));
    for (input, birth_type) in [
        ("sample-data/export.csv", "text"),
        ("sample-data/export.parquet", "date"),
    ] {
        let out = doel(&dir).arg("scan").arg(repo(input)).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains("scanned    3000 rows, 30 columns"),
            "{stdout}"
        );
        for (column, kind, at_least) in [
            ("kind_bsn", "BSN", 95),
            ("ouder_bsn", "BSN", 95),
            ("ouder_email", "e-mail", 95),
            ("ouder_telefoon", "phone", 95),
            ("postcode", "postcode", 95),
            ("kind_geboortedatum", "date of birth", 100),
            ("kind_voornaam", "name", 95),
        ] {
            let share = scan_share(&stdout, column, kind);
            assert!(share >= at_least, "{input}: {column} {share} % {kind}");
        }
        for line in [
            r#"kind_bsn = { type = "text", category = "bsn", subjects = ["child"] }"#,
            r#"ouder_email = { type = "text", category = "contact", subjects = ["parent"] }"#,
            r#"medische_info = { type = "text", category = "special", special = "health", subjects = [] }"#,
            &format!(
                r#"kind_geboortedatum = {{ type = "{birth_type}", category = "birth_date", subjects = ["child"] }}"#
            ),
        ] {
            assert!(stdout.contains(line), "{input}: no {line} in:\n{stdout}");
        }
        assert!(stdout.contains("a starting point to review"));
        assert!(stdout.contains("Retention is not guessed"));
        for value in &values {
            assert!(
                !stdout.contains(value) && !stderr.contains(value),
                "{input}: a value of the sample's first rows is printed"
            );
        }
    }
}

#[test]
fn scanning_a_missing_file_is_an_input_error() {
    let dir = TempDir::new().unwrap();
    assert_error(
        doel(&dir).arg("scan").arg("absent.csv"),
        3,
        "absent.csv: entity not found",
    );
}

#[test]
fn the_scan_suggestion_is_a_valid_catalogue() {
    let dir = TempDir::new().unwrap();
    let stdout = succeed(doel(&dir).arg("scan").arg("sample-data/export.parquet"));
    let block = &stdout[stdout.find("[columns]").expect(&stdout)..];
    let catalogue = dir.path().join("catalogue.toml");
    std::fs::write(&catalogue, format!("[catalogue]\nname = \"scan\"\n{block}")).unwrap();
    doel(&dir)
        .arg("check")
        .arg(&catalogue)
        .assert()
        .success()
        .stdout(contains("catalogue of 30 columns"));
}

/// A value past its term is withheld before it is transformed: an invalid postcode of an
/// old contract neither fails a run with on_invalid = "fail" nor counts as invalid.
#[test]
fn withheld_values_are_never_judged() {
    let dir = TempDir::new().unwrap();
    let input = sample();
    // Contracts past the contact term (2 years) but within the record's (7 years).
    let old: Vec<bool> = strings(&input, "contract_einde")
        .iter()
        .map(|d| {
            d.as_deref()
                .is_some_and(|d| (PAST_ADMINISTRATIE.."2024-11-01").contains(&d))
        })
        .collect();
    let mut old_rows = input
        .filter(&BooleanChunked::from_slice("old".into(), &old))
        .unwrap();
    let height = old_rows.height();
    old_rows
        .with_column(Column::new("postcode".into(), vec!["XXXX"; height]))
        .unwrap();
    let generated = dir.path().join("old.parquet");
    ParquetWriter::new(std::fs::File::create(&generated).unwrap())
        .finish(&mut old_rows)
        .unwrap();
    let pipeline = edited_pipeline(&dir, |t| {
        t.replace(
            "postcode = { action = \"generalise\", to = \"pc4\" }",
            "postcode = { action = \"generalise\", to = \"pc4\", on_invalid = \"fail\" }",
        )
    });
    let stdout = succeed(&mut run_paths(
        &dir,
        &pipeline,
        &generated,
        &dir.path().join("x.parquet"),
    ));
    let written = kept(&old_rows, "kind_bsn")
        .iter()
        .filter(|v| v.as_deref().and_then(independent::canonical_bsn).is_some())
        .count();
    assert!(written > 100);
    assert!(
        stdout.contains(&format!(
            "withheld   postcode: {written} values past their retention term"
        )),
        "{stdout}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.trim_start().starts_with("postcode ")),
        "{stdout}"
    );
    let extract = read_parquet(&dir.path().join("x.parquet"));
    assert_eq!(extract.height(), written);
    assert_eq!(extract.column("postcode").unwrap().null_count(), written);
}

const MICRODATA: &str = "pipelines/onderzoek-microdata.toml";

/// Per class of the quasi-identifiers' values in `extract`: the distinct persons and the
/// distinct non-null values of `sensitive`. Brute force, apart from doel.
fn classes(
    extract: &DataFrame,
    quasi_identifiers: &[&str],
    person: &str,
    sensitive: Option<&str>,
) -> Vec<(usize, usize)> {
    let qis: Vec<Vec<Option<String>>> = quasi_identifiers
        .iter()
        .map(|q| strings(extract, q))
        .collect();
    let persons = strings(extract, person);
    let values = sensitive.map(|s| strings(extract, s));
    type Sets = (
        std::collections::HashSet<String>,
        std::collections::HashSet<String>,
    );
    let mut map: std::collections::HashMap<Vec<Option<String>>, Sets> = Default::default();
    for row in 0..extract.height() {
        let key = qis.iter().map(|c| c[row].clone()).collect();
        let entry = map.entry(key).or_default();
        entry.0.insert(persons[row].clone().unwrap_or_default());
        if let Some(Some(v)) = values.as_ref().map(|v| v[row].clone()) {
            entry.1.insert(v);
        }
    }
    map.into_values().map(|(p, s)| (p.len(), s.len())).collect()
}

const QIS: [&str; 4] = ["geboortejaar", "kind_geslacht", "postcode", "opvangsoort"];

#[test]
fn microdata_classes_hold_at_least_k_children() {
    let dir = TempDir::new().unwrap();
    let stdout = succeed(&mut run(
        &dir,
        MICRODATA,
        "sample-data/export.parquet",
        "m.parquet",
    ));
    let extract = read_parquet(&dir.path().join("m.parquet"));
    let sizes = classes(&extract, &QIS, "kind_id", None);
    let smallest = sizes.iter().map(|(p, _)| *p).min().unwrap();
    assert!(smallest >= 5, "a class of {smallest} children");
    // The records released plus those suppressed are the records the plain research
    // extract holds; the counts are printed.
    let plain = succeed(&mut run(
        &dir,
        RESEARCH,
        "sample-data/export.parquet",
        "r.parquet",
    ));
    let all = read_parquet(&dir.path().join("r.parquet")).height();
    let suppressed = all - extract.height();
    assert!(
        suppressed > 0 && suppressed <= all / 20,
        "{suppressed} of {all}"
    );
    assert!(
        stdout.contains(&format!(
            "protected  k = 5 persons (distinct kind_id): {} classes released, the smallest 5 (counted up to k); {suppressed} records in",
            sizes.len()
        )),
        "{stdout}"
    );
    assert!(plain.contains(&format!("written    {all} rows")));
    // Only the first pass's file was in the directory, and it is gone.
    assert_eq!(
        leftovers(dir.path()).len(),
        2,
        "{:?}",
        leftovers(dir.path())
    );
    // Re-runs are byte-identical.
    run(&dir, MICRODATA, "sample-data/export.parquet", "m2.parquet")
        .arg("--threads")
        .arg("1")
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("m.parquet")).unwrap(),
        std::fs::read(dir.path().join("m2.parquet")).unwrap()
    );
}

#[test]
fn microdata_suppress_diversity_and_fail() {
    let dir = TempDir::new().unwrap();
    let microdata = std::fs::read_to_string(repo(MICRODATA)).unwrap();
    let edited = |name: &str, edit: &dyn Fn(&str) -> String| {
        let path = dir.path().join(name);
        std::fs::write(&path, edit(&microdata)).unwrap();
        path
    };
    // Suppression alone, with 2-diversity of the health notes.
    let suppress = edited("suppress.toml", &|t| {
        t.replace(
            "on_violation = \"generalise\"",
            "on_violation = \"suppress\"",
        )
        .replace(
            "small_area = { column = \"postcode\", min = 10 }",
            "sensitive = { column = \"gezondheid\", l = 2 }",
        )
    });
    let out = dir.path().join("s.parquet");
    let stdout = succeed(&mut run_paths(
        &dir,
        &suppress,
        &repo("sample-data/export.parquet"),
        &out,
    ));
    assert!(
        stdout.contains("diversity  l = 2 on gezondheid"),
        "{stdout}"
    );
    let extract = read_parquet(&out);
    for (persons, diverse) in classes(&extract, &QIS, "kind_id", Some("gezondheid")) {
        assert!(persons >= 5 && diverse >= 2, "{persons} {diverse}");
    }
    // Fail: nothing written, exit 2, no value in the message.
    let fail = edited("fail.toml", &|t| {
        t.replace("on_violation = \"generalise\"", "on_violation = \"fail\"")
    });
    let out = dir.path().join("f.parquet");
    let mut cmd = run_paths(&dir, &fail, &repo("sample-data/export.parquet"), &out);
    assert_error(
        &mut cmd,
        2,
        "hold fewer than k = 5 persons, and on_violation = \"fail\"",
    );
    assert!(!out.exists());
}

const TABLE: &str = "pipelines/gemeente-tabel.toml";
const TABLE_DIMS: [&str; 3] = ["gemeentecode", "opvangsoort", "leeftijdsgroep"];

/// The records behind a table: the table pipeline `text` run on `input` as plain records.
fn table_records(dir: &TempDir, text: &str, input: &Path) -> DataFrame {
    let (head, rest) = text.split_once("[table]").unwrap();
    let records_pipeline = dir.path().join("records.toml");
    std::fs::write(
        &records_pipeline,
        format!(
            "{}[columns]{}",
            head.replace("kind = \"table\"", ""),
            rest.split_once("[columns]").unwrap().1
        ),
    )
    .unwrap();
    let out = dir.path().join("records.parquet");
    succeed(&mut run_paths(dir, &records_pipeline, input, &out));
    read_parquet(&out)
}

/// Every cell a record of `records` counts in: its dimension values, with each subset
/// of them replaced by the total.
fn cells_of(records: &DataFrame) -> Vec<Vec<Vec<Option<String>>>> {
    let values: Vec<Vec<Option<String>>> = TABLE_DIMS.iter().map(|d| strings(records, d)).collect();
    (0..records.height())
        .map(|row| {
            (0..8u32)
                .map(|subset| {
                    (0..3)
                        .map(|d| {
                            if subset & (1 << d) != 0 {
                                values[d][row].clone()
                            } else {
                                Some("Totaal".to_owned())
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The rank of `rows`, by Gaussian elimination with full row scans (written apart from
/// doel's own solver).
fn rank(mut rows: Vec<Vec<f64>>) -> usize {
    let columns = rows.first().map_or(0, Vec::len);
    let mut rank = 0;
    for c in 0..columns {
        let Some(p) = (rank..rows.len()).find(|&r| rows[r][c].abs() > 1e-9) else {
            continue;
        };
        rows.swap(rank, p);
        let pivot = rows[rank].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            if r != rank && row[c].abs() > 1e-9 {
                let f = row[c] / pivot[c];
                row.iter_mut().zip(&pivot).for_each(|(x, p)| *x -= f * p);
            }
        }
        rank += 1;
    }
    rank
}

#[test]
fn table_cells_are_suppressed_rounded_and_not_recoverable() {
    let dir = TempDir::new().unwrap();
    let stdout = succeed(&mut run(&dir, TABLE, "sample-data/export.parquet", "t.csv"));
    // The records behind the table, from the same pipeline as plain records.
    let text = std::fs::read_to_string(repo(TABLE)).unwrap();
    let records = table_records(&dir, &text, &repo("sample-data/export.parquet"));
    let persons = strings(&records, "kind_id");
    // Distinct children per cell, for every combination of dimensions and totals.
    let mut truth: std::collections::HashMap<
        Vec<Option<String>>,
        std::collections::HashSet<String>,
    > = Default::default();
    for (row, keys) in cells_of(&records).into_iter().enumerate() {
        for key in keys {
            truth
                .entry(key)
                .or_default()
                .insert(persons[row].clone().unwrap());
        }
    }
    let table = read_csv_as_text(&dir.path().join("t.csv"));
    let coords: Vec<Vec<Option<String>>> = (0..table.height())
        .map(|r| {
            TABLE_DIMS
                .iter()
                .map(|d| strings(&table, d)[r].clone())
                .collect()
        })
        .collect();
    let published = strings(&table, "persons");
    let status = strings(&table, "status");
    assert_eq!(coords.len(), truth.len(), "one row per cell");
    let mut suppressed = Vec::new();
    for (r, key) in coords.iter().enumerate() {
        let n = truth[key].len() as u64;
        let shown = status[r].as_deref() == Some("published");
        if n < 10 {
            assert!(!shown, "a cell of {n} children is published");
        }
        if shown {
            let rounded = (n + 2) / 5 * 5;
            assert_eq!(published[r].as_deref(), Some(rounded.to_string().as_str()));
        } else {
            assert_eq!(published[r], None);
            suppressed.push(r);
        }
    }
    assert!(!suppressed.is_empty());
    // Every additive relation (a total and its parts), over the suppressed cells only.
    let index: std::collections::HashMap<&Vec<Option<String>>, usize> =
        coords.iter().enumerate().map(|(r, k)| (k, r)).collect();
    let column: std::collections::HashMap<usize, usize> = suppressed
        .iter()
        .enumerate()
        .map(|(c, &r)| (r, c))
        .collect();
    let mut relations = Vec::new();
    for (r, key) in coords.iter().enumerate() {
        for d in 0..3 {
            if key[d].as_deref() != Some("Totaal") {
                continue;
            }
            let mut row = vec![0.0; suppressed.len()];
            if let Some(&c) = column.get(&r) {
                row[c] -= 1.0;
            }
            for (other, k) in coords.iter().enumerate() {
                let part = (0..3).all(|j| {
                    if j == d {
                        k[j].as_deref() != Some("Totaal")
                    } else {
                        k[j] == key[j]
                    }
                });
                if part && let Some(&c) = column.get(&other) {
                    row[c] += 1.0;
                }
            }
            relations.push(row);
        }
    }
    assert!(index.len() == coords.len());
    let base = rank(relations.clone());
    for c in 0..suppressed.len() {
        let mut with = relations.clone();
        let mut unit = vec![0.0; suppressed.len()];
        unit[c] = 1.0;
        with.push(unit);
        assert_eq!(
            rank(with),
            base + 1,
            "suppressed cell {:?} can be worked out from the published cells",
            coords[suppressed[c]]
        );
    }
    assert!(
        stdout.contains(&format!("written    a table of {} cells", coords.len())),
        "{stdout}"
    );
    // Re-runs are byte-identical.
    run(&dir, TABLE, "sample-data/export.parquet", "t2.csv")
        .arg("--threads")
        .arg("1")
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("t.csv")).unwrap(),
        std::fs::read(dir.path().join("t2.csv")).unwrap()
    );
}

/// A few children with enormous hours dominate their cells' sums: the p%-rule suppresses
/// those cells, checked apart from doel from the records behind the table.
#[test]
fn table_sums_dominated_by_one_or_two_persons_are_suppressed() {
    let dir = TempDir::new().unwrap();
    let mut input = sample();
    let hours: Vec<Option<f64>> = strings(&input, "uren_per_maand")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i % 500 == 7 {
                Some(1e6)
            } else {
                v.as_deref().and_then(|v| v.parse().ok())
            }
        })
        .collect();
    input
        .with_column(Column::new("uren_per_maand".into(), hours))
        .unwrap();
    let generated = dir.path().join("export.parquet");
    ParquetWriter::new(std::fs::File::create(&generated).unwrap())
        .finish(&mut input)
        .unwrap();
    let text = std::fs::read_to_string(repo(TABLE))
        .unwrap()
        .replace("totals = true", "totals = true\np_percent = 10")
        .replace(
            "uren_per_maand = { action = \"generalise\", to = \"top_code\", max = 200 }",
            "uren_per_maand = \"keep\"",
        );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, &text).unwrap();
    let table_path = dir.path().join("t.csv");
    succeed(&mut run_paths(&dir, &pipeline, &generated, &table_path));
    let records = table_records(&dir, &text, &generated);
    let persons = strings(&records, "kind_id");
    let hours = strings(&records, "uren_per_maand");
    // Hours per child per cell.
    let mut per_person: std::collections::HashMap<
        Vec<Option<String>>,
        std::collections::HashMap<String, f64>,
    > = Default::default();
    for (row, keys) in cells_of(&records).into_iter().enumerate() {
        let h: f64 = hours[row].as_deref().map_or(0.0, |h| h.parse().unwrap());
        for key in keys {
            *per_person
                .entry(key)
                .or_default()
                .entry(persons[row].clone().unwrap())
                .or_default() += h;
        }
    }
    let table = read_csv_as_text(&table_path);
    let status = strings(&table, "status");
    let mut dominated = 0;
    let table_dims: Vec<Vec<Option<String>>> =
        TABLE_DIMS.iter().map(|d| strings(&table, d)).collect();
    for (r, status) in status.iter().enumerate() {
        let key: Vec<Option<String>> = table_dims.iter().map(|c| c[r].clone()).collect();
        let mut contributions: Vec<f64> = per_person[&key].values().copied().collect();
        contributions.sort_by(|a, b| b.total_cmp(a));
        let sum: f64 = contributions.iter().sum();
        let (x1, x2) = (
            contributions[0],
            contributions.get(1).copied().unwrap_or(0.0),
        );
        let sensitive = sum - x1 - x2 < 0.10 * x1;
        if sensitive {
            dominated += 1;
            assert_ne!(status.as_deref(), Some("published"), "{key:?}");
        }
    }
    assert!(dominated > 0);
    assert!(
        status
            .iter()
            .any(|s| s.as_deref() == Some("suppressed: a sum dominated by one or two persons"))
    );
}

/// Without `person`, each record is a contribution, and records without a value in the
/// summed column contribute nothing: two cells with the same contributions (100, 50 and
/// nine times 1: the rest is 9, under 10 % of 100) are both dominated, whether or not the
/// cell also holds records without hours.
#[test]
fn records_without_a_value_do_not_hide_a_dominated_sum() {
    let dir = TempDir::new().unwrap();
    let mut bsns = (100_000_000u32..).map(|n| n.to_string()).filter(|b| {
        let digits: Vec<u32> = b.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: i64 = (0..8)
            .map(|i| (9 - i as i64) * digits[i] as i64)
            .sum::<i64>()
            - digits[8] as i64;
        sum % 11 == 0
    });
    let mut csv = String::from(
        "kind_bsn,gemeentecode,uren_per_maand,contract_einde,bezwaar_onderzoek,verwerking_beperkt\n",
    );
    for (cell, empty) in [("GM1", 2), ("GM2", 0), ("GM3", 1)] {
        let hours = ["100", "50"]
            .into_iter()
            .chain(["1"; 9])
            .chain([""; 3].into_iter().take(empty));
        for h in hours {
            csv += &format!("{},{cell},{h},,false,false\n", bsns.next().unwrap());
        }
    }
    // A cell that is not dominated (rest 50 of 100): one record without hours must not
    // make it so.
    for h in [
        "100", "20", "5", "5", "5", "5", "5", "5", "5", "5", "5", "5", "",
    ] {
        csv += &format!("{},GM4,{h},,false,false\n", bsns.next().unwrap());
    }
    let input = dir.path().join("export.csv");
    std::fs::write(&input, csv).unwrap();
    let text = std::fs::read_to_string(repo(TABLE)).unwrap();
    let text = format!(
        "{}[exclusions]\nrestricted = \"verwerking_beperkt\"\nobjected = \"bezwaar_onderzoek\"\n\n\
         [table]\ndimensions = [\"gemeentecode\"]\nsums = [\"uren_per_maand\"]\n\
         min_count = 10\nround_to = 1\np_percent = 10\ntotals = false\n\n\
         [columns]\nkind_bsn = {{ action = \"pseudonymise\", kind = \"bsn\", as = \"kind_id\" }}\n\
         gemeentecode = \"keep\"\nuren_per_maand = \"keep\"\n",
        &text[..text.find("[exclusions]").unwrap()]
    );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, text).unwrap();
    let table_path = dir.path().join("t.csv");
    succeed(&mut run_paths(&dir, &pipeline, &input, &table_path));
    let table = read_csv_as_text(&table_path);
    let cells = strings(&table, "gemeentecode");
    let status = strings(&table, "status");
    let status_of = |cell: &str| {
        let row = cells
            .iter()
            .position(|c| c.as_deref() == Some(cell))
            .unwrap();
        status[row].clone().unwrap()
    };
    for cell in ["GM1", "GM2", "GM3"] {
        assert_eq!(
            status_of(cell),
            "suppressed: a sum dominated by one or two persons",
            "{cell}"
        );
    }
    assert_eq!(status_of("GM4"), "published");
}

/// A register that cannot take the run's entry fails the run before anything is written:
/// the previous run's extract, manifest and report at the same path stay as they were.
/// The output may not replace the catalogue or an exclusion list either.
#[test]
fn a_register_that_cannot_take_the_entry_leaves_the_previous_extract() {
    let dir = TempDir::new().unwrap();
    research(&dir);
    let files = [
        "x.parquet",
        "x.parquet.manifest.json",
        "x.parquet.report.html",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)).unwrap())
        .collect();
    let unchanged = || {
        assert_unchanged(&dir, &files, &before);
    };
    // A register under a file.
    let mut cmd = run(&dir, RESEARCH, "sample-data/export.parquet", "x.parquet");
    cmd.env("DOEL_REGISTER", dir.path().join("x.parquet/register.jsonl"));
    cmd.assert().code(3).stderr(contains("not a directory"));
    unchanged();
    // A register whose last entry was cut off.
    let register = dir.path().join(common::REGISTER);
    let mut text = std::fs::read(&register).unwrap();
    text.extend_from_slice(b"{\"seq\":2,\"prev\":");
    std::fs::write(&register, &text).unwrap();
    run(&dir, RESEARCH, "sample-data/export.parquet", "x.parquet")
        .assert()
        .code(5)
        .stderr(contains("its last entry is incomplete"));
    unchanged();
    assert_eq!(std::fs::read(&register).unwrap(), text);
    for (protected, what) in [
        ("pipelines/catalogue.toml", "is the catalogue"),
        ("sample-data/bezwaren.csv", "is the exclusion list"),
    ] {
        run_paths(
            &dir,
            &repo(RESEARCH),
            &repo("sample-data/export.parquet"),
            &repo(protected),
        )
        .assert()
        .code(1)
        .stderr(contains(what));
    }
}

/// A run that fails after its extract and manifest replaced the previous ones (here the
/// report cannot be written: its path is a directory) puts the previous extract and
/// manifest back, and leaves no backup or temporary file.
#[test]
fn a_run_failing_after_the_rename_puts_the_previous_files_back() {
    let dir = TempDir::new().unwrap();
    research(&dir);
    let files = ["x.parquet", "x.parquet.manifest.json"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)).unwrap())
        .collect();
    let report = dir.path().join("x.parquet.report.html");
    std::fs::remove_file(&report).unwrap();
    std::fs::create_dir_all(report.join("d")).unwrap();
    // The manifest of this run differs from the previous one (run id, times).
    run(&dir, RESEARCH, "sample-data/export.parquet", "x.parquet")
        .assert()
        .code(3)
        .stderr(contains("is a directory"));
    assert_unchanged(&dir, &files, &before);
}

/// `files` in `dir` hold `before`, and no temporary file or backup of doel's is left.
fn assert_unchanged(dir: &TempDir, files: &[&str], before: &[Vec<u8>]) {
    for (f, bytes) in files.iter().zip(before) {
        assert_eq!(&std::fs::read(dir.path().join(f)).unwrap(), bytes, "{f}");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".doel-")), "{names:?}");
}

/// Ctrl-C in the middle of a run: it stops between batches with exit code 130 and a
/// message, and leaves neither the output nor its temporary file.
#[test]
fn an_interrupted_run_stops_cleanly_and_leaves_nothing() {
    // SIGHUP is a dropped SSH session; SIGPIPE a reader gone.
    for signal in ["INT", "TERM", "HUP", "USR1", "USR2", "ALRM", "PIPE"] {
        let dir = TempDir::new().unwrap();
        let (big, out_dir) = big_export(&dir);
        let child = spawn_research(&big, &out_dir);
        wait_for_output(&out_dir);
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(130), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains(
                "error: interrupted: the run stopped before completing; nothing was written"
            ),
            "SIG{signal}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
        assert!(left.is_empty(), "SIG{signal}: {left:?}");
    }
}

/// The sample export 100 times over as CSV in `dir`, and an empty output directory.
fn big_export(dir: &TempDir) -> (PathBuf, PathBuf) {
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let (header, body) = sample.split_once('\n').unwrap();
    let big = dir.path().join("big.csv");
    std::fs::write(&big, format!("{header}\n{}", body.repeat(100))).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    (big, out_dir)
}

/// The research run on `input`, into `out_dir`, its register there too.
fn spawn_research(input: &Path, out_dir: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_doel"))
        .current_dir(repo("."))
        .env_remove("DOEL_KEY_FILE")
        .args(RESEARCH_RUN)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(out_dir.join("x.parquet"))
        .arg("--register")
        .arg(out_dir.join("register.jsonl"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the output's temporary file exists: the run is under way.
fn wait_for_output(out_dir: &Path) {
    let started = std::time::Instant::now();
    while std::fs::read_dir(out_dir).unwrap().next().is_none() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the run never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// An input cut short or written to while the run reads it: the run fails with exit 3
/// and leaves nothing (cut short, the mapped pages past the end raise SIGBUS, which
/// was exit 135 and the temporary file left; written to, the manifest would have
/// hashed a file the run did not read).
#[test]
fn an_input_changed_during_the_run_fails_it_and_leaves_nothing() {
    for change in ["truncate", "append", "touch", "replace"] {
        let dir = TempDir::new().unwrap();
        let (big, out_dir) = big_export(&dir);
        let child = spawn_research(&big, &out_dir);
        wait_for_output(&out_dir);
        match change {
            "truncate" => std::fs::File::options()
                .write(true)
                .open(&big)
                .unwrap()
                .set_len(100_000)
                .unwrap(),
            "append" => {
                use std::io::Write;
                let mut file = std::fs::File::options().append(true).open(&big).unwrap();
                file.write_all(b"x").unwrap();
            }
            "touch" => std::fs::File::options()
                .write(true)
                .open(&big)
                .unwrap()
                .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
                .unwrap(),
            _ => {
                let copy = dir.path().join("copy.csv");
                std::fs::copy(&big, &copy).unwrap();
                std::fs::rename(&copy, &big).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(3), "{change}: {stderr}");
        assert!(
            stderr.contains("changed while doel read it")
                || stderr.contains("a file was cut short while doel read it"),
            "{change}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
        assert!(left.is_empty(), "{change}: {left:?}");
    }
}

/// `doel run` of the research pipeline with the demo key, for a command built by hand.
const RESEARCH_RUN: [&str; 6] = [
    "run",
    RESEARCH,
    "--key-file",
    "sample-data/demo.key",
    "--run-date",
    RUN_DATE,
];

/// A disk that fills up during the run, simulated by a file size limit of 16 KiB (the
/// write then fails with EFBIG rather than ENOSPC; doel handles both as a failed write):
/// a clear error naming the output, the documented exit code, and nothing at the target,
/// beside it or in the register.
#[test]
fn a_full_disk_fails_cleanly() {
    let dir = TempDir::new().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let register = dir.path().join("register.jsonl");
    let output = out_dir.join("extract.parquet");
    // No `trap '' XFSZ`: doel ignores SIGXFSZ itself, so the write fails instead of the
    // signal killing the process (exit 153).
    let out = std::process::Command::new("bash")
        .current_dir(repo("."))
        .env_remove("DOEL_KEY_FILE")
        .env("DOEL_REGISTER", &register)
        .args(["-c", "ulimit -f 16; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_doel"))
        .args(RESEARCH_RUN)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: output {}: file too large\nhint: check that the output directory can be written and has free space",
            output.display()
        )),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!register.exists());
}

/// `--log-format json`: one event per line, in order, with the counts; a failure ends
/// with an error event and its exit code.
#[test]
fn json_log_events_for_a_scheduled_job() {
    let dir = TempDir::new().unwrap();
    let events = |out: &std::process::Output| -> Vec<serde_json::Value> {
        String::from_utf8(out.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
            .collect()
    };
    let names = |events: &[serde_json::Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    };
    let out = run(&dir, RESEARCH, "sample-data/export.parquet", "x.parquet")
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ok = events(&out);
    // The demo key is recognised: a warning event (not text on stderr), and the only one.
    assert_eq!(
        names(&ok),
        [
            "start", "warning", "plan", "counts", "output", "recorded", "end"
        ]
    );
    assert!(
        ok[1]["message"]
            .as_str()
            .unwrap()
            .ends_with("sample-data/demo.key is the published DEMO KEY (fingerprint 6ad667b3eaecc0f2): its pseudonyms protect nothing; make your own key with `doel keygen --out FILE`"),
        "{}",
        ok[1]
    );
    let ok: Vec<serde_json::Value> = [&ok[..1], &ok[2..]].concat();
    assert_eq!(ok[2]["rows_read"], 3000);
    assert_eq!(ok[2]["excluded"]["restriction"], 22);
    assert_eq!(
        ok[2]["lists"],
        serde_json::json!([{"path": "sample-data/bezwaren.csv", "reason": "objection", "column": "bsn", "entries": 12, "valid": 12, "invalid": 0, "matched": 19}])
    );
    assert_eq!(ok[4]["register_entry"], 1);
    assert_eq!(
        ok[4]["manifest"],
        dir.path()
            .join("x.parquet.manifest.json")
            .display()
            .to_string()
    );
    assert_eq!(ok[5]["exit_code"], 0);
    let out = run(&dir, RESEARCH, "sample-data/absent.parquet", "y.parquet")
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let failed = events(&out);
    assert_eq!(names(&failed), ["start", "warning", "error", "end"]);
    assert_eq!(failed[2]["exit_code"], 3);
    assert_eq!(failed[3]["status"], "failed");
}

/// The key's hex and its raw bytes appear in nothing a run leaves: outputs of every kind,
/// manifests, reports, the register, the text account, the JSON log, the errors.
#[test]
fn the_key_appears_in_no_artefact_of_a_run() {
    let dir = TempDir::new().unwrap();
    let hex_key = demo_key().trim().to_owned();
    let raw = hex::decode(&hex_key).unwrap();
    let mut artefacts: Vec<Vec<u8>> = Vec::new();
    for (pipeline, output) in [
        (RESEARCH, "r.parquet"),
        (MICRODATA, "m.csv"),
        (TABLE, "t.arrow"),
        (MUNICIPALITY, "g.csv"),
    ] {
        for format in ["text", "json"] {
            let out = run(&dir, pipeline, "sample-data/export.parquet", output)
                .args(["--log-format", format])
                .output()
                .unwrap();
            assert!(out.status.success(), "{pipeline}");
            artefacts.push(out.stdout);
            artefacts.push(out.stderr);
        }
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        artefacts.push(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(
        artefacts.len() > 8 * 2 + 4 * 3,
        "outputs, manifests, reports, register"
    );
    let failed = run(&dir, RESEARCH, "sample-data/absent.parquet", "z.parquet")
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    artefacts.extend([failed.stdout, failed.stderr]);
    let upper = hex_key.to_uppercase();
    for bytes in &artefacts {
        for needle in [
            hex_key.as_bytes(),
            upper.as_bytes(),
            &raw,
            &raw[..16],
            &raw[16..],
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "key material in an artefact"
            );
        }
    }
}

/// A key file others may read: a warning, or with --strict-key-permissions a refusal
/// before any input is read.
#[cfg(unix)]
#[test]
fn a_shared_key_file_is_warned_about_or_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("shared.key");
    doel(&dir)
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .assert()
        .success();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let with_key = |strict: bool| {
        let mut cmd = doel(&dir);
        cmd.args(["run", RESEARCH, "--run-date", RUN_DATE, "--key-file"])
            .arg(&key)
            .arg("--output")
            .arg(dir.path().join("x.parquet"));
        if strict {
            cmd.arg("--strict-key-permissions");
        }
        cmd
    };
    with_key(false)
        .assert()
        .success()
        .stderr(contains("can be read by other users; chmod 600 it"));
    assert_error(&mut with_key(true), 1, "--strict-key-permissions is set");

    // The demo key, copied anywhere with any mode, is named as the demo key instead: one
    // line, no permission warning; a strict run refuses it.
    let demo = dir.path().join("copied.key");
    std::fs::copy(repo("sample-data/demo.key"), &demo).unwrap();
    std::fs::set_permissions(&demo, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::copy(&demo, &key).unwrap();
    let out = with_key(false).output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        said.lines()
            .filter(|l| l.starts_with("warning: key file"))
            .count(),
        1,
        "{said}"
    );
    assert!(said.contains("is the published DEMO KEY"), "{said}");
    assert!(!said.contains("can be read by other users"), "{said}");
    assert_error(
        &mut with_key(true),
        1,
        "is the published demo key, and --strict-key-permissions is set",
    );
}

/// The progress line is drawn on an interactive terminal only (a pseudo-terminal made by
/// `script`), never into a pipe or a file, and not with `--quiet`.
#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let dir = TempDir::new().unwrap();
    let binary = doel(&dir).get_program().to_owned();
    let on_terminal = |extra: &str| {
        let command = format!(
            "{} run pipelines/onderzoek-ontwikkeling.toml --key-file sample-data/demo.key --run-date {RUN_DATE} --output {} {extra}",
            binary.to_str().unwrap(),
            dir.path().join("out.parquet").display(),
        );
        let typescript = dir.path().join("typescript");
        let status = std::process::Command::new("script")
            .args(["-qec", &command])
            .arg(&typescript)
            .current_dir(repo("."))
            .env("DOEL_REGISTER", dir.path().join(common::REGISTER))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(typescript).unwrap()
    };
    assert!(on_terminal("").contains("rows read"));
    assert!(!on_terminal("--quiet").contains("rows read"));
    let piped = run(
        &dir,
        "pipelines/onderzoek-ontwikkeling.toml",
        "sample-data/export.parquet",
        "piped.parquet",
    )
    .output()
    .unwrap();
    assert!(piped.status.success());
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("rows read"));
}

/// NaN and ±inf in a summed column (CSV text, or a float kept as it is) are in no
/// published sum and no p%-rule decision: they are counted per column in the manifest.
/// Before, one NaN made its cells' sums `NaN` and `inf` was published as it was.
#[test]
fn nan_and_infinity_are_never_published_in_a_table() {
    let dir = TempDir::new().unwrap();
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let mut lines = sample.lines();
    let header = lines.next().unwrap();
    let hours = header
        .split(',')
        .position(|c| c == "uren_per_maand")
        .unwrap();
    let mut edited = vec![header.to_owned()];
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<&str> = line.split(',').collect();
        if fields.len() > hours && i % 50 == 0 {
            fields[hours] = ["NaN", "inf", "-inf", "infinity"][i / 50 % 4];
        }
        edited.push(fields.join(","));
    }
    let input = dir.path().join("export.csv");
    std::fs::write(&input, edited.join("\n") + "\n").unwrap();
    let text = std::fs::read_to_string(repo(TABLE))
        .unwrap()
        .replace(
            r#"uren_per_maand = { action = "generalise", to = "top_code", max = 200 }"#,
            r#"uren_per_maand = "keep""#,
        )
        .replace("totals = true", "totals = true\np_percent = 10");
    let pipeline = dir.path().join("table.toml");
    std::fs::write(&pipeline, text).unwrap();
    let output = dir.path().join("t.csv");
    succeed(&mut run_paths(&dir, &pipeline, &input, &output));
    let table = std::fs::read_to_string(&output).unwrap();
    for word in ["NaN", "nan", "inf"] {
        assert!(!table.contains(word), "{word} published:\n{table}");
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("t.csv.manifest.json")).unwrap(),
    )
    .unwrap();
    let invalid = &manifest["disclosure"]["invalid_amounts"][0];
    assert_eq!(invalid["column"], "uren_per_maand", "{manifest}");
    let count = invalid["count"].as_u64().unwrap();
    assert!(count > 0 && count <= 60, "{count}");
}

/// An exclusion list's invalid entries are a warning on stderr even with `--quiet`:
/// the people they stand for are not excluded.
#[test]
fn invalid_list_entries_are_a_warning_even_when_quiet() {
    let dir = TempDir::new().unwrap();
    // The sample list with one mistyped entry, as staff mistype them: 1 of 13.
    let list = dir.path().join("bezwaren.csv");
    let sample = std::fs::read_to_string(repo("sample-data/bezwaren.csv")).unwrap();
    std::fs::write(
        &list,
        sample.replacen("690.375.049\n", "690.375.049\n12345678x\n", 1),
    )
    .unwrap();
    let pipeline = edited_pipeline(&dir, |t| {
        t.replace(
            "objection_lists = [\"sample-data/bezwaren.csv\"]",
            &format!(
                "objection_lists = [{:?}]\nlist_invalid_share = 0.1",
                list.display().to_string()
            ),
        )
    });
    let input = repo("sample-data/export.parquet");
    let output = dir.path().join("x.parquet");
    let warning = format!(
        "exclusion list {}: line 8 holds no valid BSN and matches nothing: correct it (1 of 13 entries)",
        list.display()
    );
    let out = run_paths(&dir, &pipeline, &input, &output)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("warning: {warning}")), "{stderr}");

    // A warning event in the JSON log, and counted in the list's summary.
    std::fs::remove_file(&output).unwrap();
    let out = run_paths(&dir, &pipeline, &input, &output)
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "warning" && e["message"] == warning.as_str()),
        "{events:?}"
    );
    let counts = events.iter().find(|e| e["event"] == "counts").unwrap();
    assert_eq!(counts["lists"][0]["entries"], 13);
    assert_eq!(counts["lists"][0]["invalid"], 1);
    assert_eq!(counts["lists"][0]["matched"], 19);
}

/// A file in an input directory whose name holds a line break (a shared drop folder)
/// would forge a line of the report: refused, its name escaped in the error.
#[test]
fn a_file_name_with_a_line_break_is_refused_escaped() {
    let dir = TempDir::new().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    std::fs::copy(
        repo("sample-data/export.csv"),
        exports.join("a\nregister    FORGED.csv"),
    )
    .unwrap();
    let out = doel(&dir).arg("scan").arg(&exports).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("a\\nregister    FORGED.csv"), "{stderr}");
    assert!(!stderr.contains("\nregister    FORGED"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Shell completions and the manual page come from the command definitions: each names
/// the commands.
#[test]
fn completions_and_the_manual_page_are_generated() {
    let dir = TempDir::new().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _doel"),
        ("zsh", "#compdef doel"),
        ("fish", "complete -c doel"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = doel(&dir).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["run", "plan", "verify", "reidentify", "keygen"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let out = doel(&dir).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH doel"),
        "{page}"
    );
    assert!(page.contains(".SH NAME") && page.contains("doel"), "{page}");
    assert!(page.contains("run") && page.contains("verify"), "{page}");
    let out = doel(&dir).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
