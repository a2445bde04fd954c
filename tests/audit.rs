//! Accountability as a user meets it: the manifest beside every extract, its signature
//! and `doel verify`, the hash-chained register, encrypted delivery, reversible tokens
//! with `doel reidentify`, and the run report. Each test in a fresh temporary directory.
//!
//! Two checks use reference programs that `.ci/run` installs: `age` (Debian package
//! `age`) and `chromium`. Without them these checks are skipped with a note, unless
//! `DOEL_REQUIRE_TOOLS=1` (set by `.ci/run`), which makes their absence a failure.

mod common;

use common::{RUN_DATE, doel, repo};

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const RESEARCH: &str = "pipelines/onderzoek-ontwikkeling.toml";
const MICRODATA: &str = "pipelines/onderzoek-microdata.toml";
const TABLE: &str = "pipelines/gemeente-tabel.toml";

/// `doel run PIPELINE` on the sample, writing `output` in `dir`.
fn run(dir: &TempDir, pipeline: &Path, output: &str) -> Command {
    let mut cmd = doel(dir);
    cmd.arg("run")
        .arg(pipeline)
        .arg("--input")
        .arg(repo("sample-data/export.parquet"))
        .arg("--output")
        .arg(dir.path().join(output))
        .args(["--key-file", "sample-data/demo.key", "--run-date", RUN_DATE]);
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A copy of a repository pipeline in `dir`, edited.
fn edited(dir: &TempDir, pipeline: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo(pipeline)).unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// `doel keygen --signing` into `dir`: the secret key's path.
fn signing_key(dir: &TempDir) -> PathBuf {
    let key = dir.path().join("sign.key");
    ok(doel(dir)
        .arg("keygen")
        .arg("--signing")
        .arg("--out")
        .arg(&key));
    key
}

/// Whether a reference program is present; its absence fails the test when the run
/// requires the tools.
fn tool(name: &str) -> bool {
    let present = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok();
    if !present {
        assert!(
            std::env::var("DOEL_REQUIRE_TOOLS").is_err(),
            "{name} is required (DOEL_REQUIRE_TOOLS is set) but not installed"
        );
        eprintln!("note: {name} not installed; its cross-check is skipped (.ci/run installs it)");
    }
    present
}

#[test]
fn the_manifest_records_the_run_and_its_hashes_match_the_files() {
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    let account = ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    let manifest_path = dir.path().join("x.parquet.manifest.json");
    assert!(account.contains(&format!("manifest   {}", manifest_path.display())));
    let m = json(&manifest_path);
    assert_eq!(m["schema"], "doel-manifest/1");
    assert_eq!(m["reference_date"], RUN_DATE);
    assert_eq!(m["pipeline"]["sha256"], sha256_hex(&repo(RESEARCH)));
    assert_eq!(
        m["catalogue"]["sha256"],
        sha256_hex(&repo("pipelines/catalogue.toml"))
    );
    assert_eq!(
        m["inputs"][0]["sha256"],
        sha256_hex(&repo("sample-data/export.parquet"))
    );
    assert_eq!(m["inputs"][0]["rows"], 3000);
    assert_eq!(
        m["exclusion_lists"][0]["sha256"],
        sha256_hex(&repo("sample-data/bezwaren.csv"))
    );
    let extract = &m["outputs"][0];
    assert_eq!(extract["file"], "x.parquet");
    assert_eq!(extract["sha256"], sha256_hex(&dir.path().join("x.parquet")));
    assert_eq!(
        extract["bytes"],
        std::fs::metadata(dir.path().join("x.parquet"))
            .unwrap()
            .len()
    );
    let columns: Vec<&str> = extract["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
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
    assert_eq!(extract["rows"], m["counts"]["rows_written"]);
    let d = &m["declaration"];
    assert_eq!(d["purpose"], "research");
    assert_eq!(d["recipient"], "UMC onderzoeksgroep Jeugd");
    assert!(d["controller"].as_str().unwrap().contains("Zonnestraal"));
    assert_eq!(
        d["special_category_exceptions"][0]["column"],
        "medische_info"
    );
    assert!(d["security_measures"].as_array().unwrap().iter().any(|s| {
        s.as_str()
            .unwrap()
            .starts_with("integrity: manifest signed")
    }));
    // Every input column is in the plan; 30 in the sample.
    assert_eq!(m["plan"].as_array().unwrap().len(), 30);
    let fates: Vec<(&str, &str)> = m["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["column"].as_str().unwrap(), c["fate"].as_str().unwrap()))
        .collect();
    assert!(fates.contains(&("kind_voornaam", "released")));
    assert!(fates.contains(&("ouder_email", "dropped")));
    assert!(fates.contains(&("verwerking_beperkt", "read")));
    let counts = &m["counts"];
    let excluded = &counts["excluded"];
    let total: u64 = ["restriction", "objection", "retention", "unreadable_flag"]
        .iter()
        .map(|k| excluded[k].as_u64().unwrap())
        .sum();
    assert_eq!(
        counts["rows_read"].as_u64().unwrap(),
        total + counts["rows_dropped"].as_u64().unwrap() + counts["rows_written"].as_u64().unwrap()
    );
    assert_eq!(m["pseudonyms"]["spec"], "pseudonyms-v1");
    assert_eq!(m["pseudonyms"]["domain"], "onderzoek-umc-jeugd");
    assert_eq!(
        m["pseudonyms"]["key_fingerprint"].as_str().unwrap().len(),
        16
    );
    // The register entry points at this manifest by its hash.
    let register = std::fs::read_to_string(dir.path().join(common::REGISTER)).unwrap();
    let entry: Value = serde_json::from_str(register.lines().next().unwrap()).unwrap();
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["kind"], "run");
    assert_eq!(entry["manifest"]["sha256"], sha256_hex(&manifest_path));
    assert_eq!(entry["run_id"], m["run_id"]);
}

#[test]
fn verify_detects_a_changed_output_a_changed_manifest_and_a_wrong_key() {
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    let manifest = dir.path().join("x.parquet.manifest.json");
    let public = dir.path().join("sign.key.pub");
    let verify = |public: &Path| {
        let mut cmd = doel(&dir);
        cmd.arg("verify")
            .arg(&manifest)
            .arg("--public-key")
            .arg(public);
        cmd
    };
    assert!(ok(&mut verify(&public)).contains("1 file matches"));
    // No secret is needed: the public key file holds the public key's 64 hex characters,
    // marked so that it cannot be taken for a pseudonym key.
    let public_text = std::fs::read_to_string(&public).unwrap();
    let hex = public_text
        .trim()
        .strip_prefix("doel-ed25519-public ")
        .unwrap();
    assert_eq!(hex.len(), 64);

    // One byte of the extract changed.
    let extract = dir.path().join("x.parquet");
    let original = std::fs::read(&extract).unwrap();
    let mut changed = original.clone();
    changed[original.len() / 2] ^= 1;
    std::fs::write(&extract, &changed).unwrap();
    let out = fails(&mut verify(&public), 5);
    assert!(text(&out).contains("CHANGED"), "{}", text(&out));
    std::fs::write(&extract, &original).unwrap();
    ok(&mut verify(&public));

    // The extract removed.
    std::fs::rename(&extract, dir.path().join("moved")).unwrap();
    assert!(text(&fails(&mut verify(&public), 5)).contains("MISSING"));
    std::fs::rename(dir.path().join("moved"), &extract).unwrap();

    // The manifest edited to match a changed extract: the signature no longer fits.
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text_before.replace("UMC onderzoeksgroep Jeugd", "UMC onderzoeksgroep Jeugt"),
    )
    .unwrap();
    let out = fails(&mut verify(&public), 5);
    assert!(text(&out).contains("FAILED   signature"), "{}", text(&out));
    std::fs::write(&manifest, &text_before).unwrap();

    // Another key's public key.
    let other = TempDir::new().unwrap();
    let other_key = signing_key(&other);
    let out = fails(&mut verify(&crate_pub(&other_key)), 5);
    assert!(text(&out).contains("FAILED   signature"));

    // An unsigned check still catches a changed file, and says it proves no origin.
    let out = ok(doel(&dir).arg("verify").arg(&manifest).arg("--unsigned"));
    assert!(out.contains("signature not checked"));
    std::fs::write(&extract, &changed).unwrap();
    fails(doel(&dir).arg("verify").arg(&manifest).arg("--unsigned"), 5);
    // Neither a public key nor --unsigned: a usage error.
    fails(doel(&dir).arg("verify").arg(&manifest), 1);
}

fn crate_pub(secret: &Path) -> PathBuf {
    let mut name = secret.file_name().unwrap().to_os_string();
    name.push(".pub");
    secret.with_file_name(name)
}

/// A reidentification with one vector token: a quick register entry.
fn reidentify(dir: &TempDir, reason: &str) {
    ok(doel(dir).args([
        "reidentify",
        "--key-file",
        "sample-data/demo.key",
        "--domain",
        "onderzoek-umc-jeugd",
        "--reason",
        reason,
        &token_of(DEMO_BSN),
    ]));
}

/// A canonical BSN (elfproef-valid) for tokens made apart from doel.
const DEMO_BSN: &str = "111222333";

/// A token computed apart from doel, as `docs/spec/pseudonyms-v1.md §Reversible token` says.
fn token_of(bsn: &str) -> String {
    use aes_gcm::aead::{Aead, Payload};
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    type H = hmac::Hmac<Sha256>;
    let key = hex::decode(
        std::fs::read_to_string(repo("sample-data/demo.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let h = |k: &[u8], parts: &[&[u8]]| {
        let mut mac = <H as KeyInit>::new_from_slice(k).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let domain = b"onderzoek-umc-jeugd";
    let enc = h(&key, &[b"doel/v1/token-enc/", domain]);
    let nonce_key = h(&key, &[b"doel/v1/token-nonce/", domain]);
    let nonce = h(&nonce_key, &[b"bsn", &[0x1f], bsn.as_bytes()])[..12].to_vec();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&enc).unwrap();
    let sealed = cipher
        .encrypt(
            &aes_gcm::Nonce::try_from(nonce.as_slice()).unwrap(),
            Payload {
                msg: bsn.as_bytes(),
                aad: b"bsn",
            },
        )
        .unwrap();
    let raw = [nonce, sealed].concat();
    format!(
        "t1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

#[test]
fn register_verify_names_an_edited_removed_or_reordered_entry() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    for reason in ["case 1", "case 2", "case 3"] {
        reidentify(&dir, reason);
    }
    let register = dir.path().join(common::REGISTER);
    let verify = |head: Option<&str>| {
        let mut cmd = doel(&dir);
        cmd.args(["register", "verify"]);
        if let Some(h) = head {
            cmd.args(["--head", h]);
        }
        cmd
    };
    let intact = ok(&mut verify(None));
    assert!(intact.contains("4 entries, chain intact"), "{intact}");
    let head = intact
        .split("sha256 ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    ok(&mut verify(Some(&head)));
    let list = ok(doel(&dir).args(["register", "list"]));
    assert!(list.contains("onderzoek-ontwikkeling-2026"));
    assert!(list.contains("research"));
    assert!(list.contains("3000→"));
    assert!(list.contains("case 2"));

    let original = std::fs::read_to_string(&register).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let write = |lines: &[&str]| {
        std::fs::write(
            &register,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    let problem = |head: Option<&str>| text(&fails(&mut verify(head), 5));

    // Entry 2 edited (its reason changed).
    let edited_line = lines[1].replace("case 1", "case 9");
    write(&[lines[0], &edited_line, lines[2], lines[3]]);
    let p = problem(None);
    assert!(p.contains("line 3: entry 3 does not match entry 2"), "{p}");
    // Entry 2 removed.
    write(&[lines[0], lines[2], lines[3]]);
    let p = problem(None);
    assert!(
        p.contains("line 2 holds entry 3: entry 2 was removed"),
        "{p}"
    );
    // Entries 2 and 3 swapped.
    write(&[lines[0], lines[2], lines[1], lines[3]]);
    let p = problem(None);
    assert!(p.contains("entries were reordered"), "{p}");
    // The last entry removed: the chain is intact, but the noted head is gone.
    write(&lines[..3]);
    ok(&mut verify(None));
    let p = problem(Some(&head));
    assert!(p.contains("no entry has the noted hash"), "{p}");
    // The list stops at a break and says where.
    write(&[lines[0], lines[2], lines[3]]);
    let out = fails(doel(&dir).args(["register", "list"]), 5);
    assert!(text(&out).contains("entry 2 was removed"));
}

#[test]
fn tokens_reverse_only_with_a_reason_and_every_reversal_is_registered() {
    let dir = TempDir::new().unwrap();
    let pipeline = edited(&dir, RESEARCH, |t| {
        t.replace(
            r#"kind_bsn = { action = "pseudonymise", kind = "bsn", as = "kind_id" }"#,
            r#"kind_bsn = { action = "token", kind = "bsn", as = "kind_id" }"#,
        )
    });
    let plan = ok(doel(&dir)
        .arg("plan")
        .arg(&pipeline)
        .args(["--run-date", RUN_DATE]));
    assert!(
        plan.contains("token (bsn, reversible by the key holder) -> kind_id"),
        "{plan}"
    );
    ok(&mut run(&dir, &pipeline, "t.parquet"));
    let out = polars::prelude::LazyFrame::scan_parquet(
        polars::prelude::PlRefPath::new(dir.path().join("t.parquet").to_str().unwrap()),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let tokens: Vec<String> = out
        .column("kind_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    assert!(tokens.iter().all(|t| t.starts_with("t1.")));
    let register = dir.path().join(common::REGISTER);
    let entries = || std::fs::read_to_string(&register).unwrap().lines().count();
    assert_eq!(entries(), 1);

    let reidentify = |reason: Option<&str>, tokens: &[&str]| {
        let mut cmd = doel(&dir);
        cmd.args([
            "reidentify",
            "--key-file",
            "sample-data/demo.key",
            "--domain",
            "onderzoek-umc-jeugd",
        ]);
        if let Some(r) = reason {
            cmd.args(["--reason", r]);
        }
        cmd.args(tokens);
        cmd
    };
    // Without a reason: refused, nothing printed, nothing registered.
    let refused = fails(&mut reidentify(None, &[&tokens[0]]), 1);
    assert!(text(&refused).contains("--reason"));
    assert!(refused.stdout.is_empty());
    assert_eq!(entries(), 1);

    // The first token of the extract opens to a BSN of the sample, whose token computed
    // apart from doel is that token.
    let token = tokens[0].clone();
    let printed = ok(&mut reidentify(
        Some("signal: child at risk, case 2026-114"),
        &[&token],
    ));
    let bsn = printed.trim_end().rsplit('\t').next().unwrap().to_owned();
    assert_eq!(printed, format!("{token}\tbsn\t{bsn}\n"));
    assert_eq!(token_of(&bsn), token);
    let sample = std::fs::read_to_string(repo("sample-data/export.csv")).unwrap();
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    assert!(
        sample
            .lines()
            .flat_map(|l| l.split(','))
            .any(|field| format!("{:0>9}", digits(field)) == bsn && field.len() >= 8),
        "the value is a BSN of the sample"
    );
    assert_eq!(entries(), 2);
    let log = std::fs::read_to_string(&register).unwrap();
    let entry: Value = serde_json::from_str(log.lines().nth(1).unwrap()).unwrap();
    assert_eq!(entry["kind"], "reidentify");
    assert_eq!(entry["reason"], "signal: child at risk, case 2026-114");
    assert_eq!(entry["domain"], "onderzoek-umc-jeugd");
    assert_eq!(entry["opened"], 1);
    assert!(!log.contains(&bsn), "the register never holds the value");

    // A token of another domain cannot be opened (and the attempt is registered).
    let out = fails(
        doel(&dir).args([
            "reidentify",
            "--key-file",
            "sample-data/demo.key",
            "--domain",
            "gemeente-sittard-geleen",
            "--reason",
            "test",
            &token,
        ]),
        1,
    );
    assert!(text(&out).contains("cannot be opened"));
    assert!(!text(&out).contains(&bsn));
    assert_eq!(entries(), 3);
    ok(doel(&dir).args(["register", "verify"]));
}

/// An age identity made with the age crate: (identity file, public key).
fn age_identity(dir: &TempDir) -> (PathBuf, String) {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let path = dir.path().join("recipient.key");
    std::fs::write(&path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    (path, identity.to_public().to_string())
}

fn decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let identities = age::IdentityFile::from_file(identity.to_str().unwrap().to_owned())
        .unwrap()
        .into_identities()
        .unwrap();
    let sealed = std::fs::read(file).unwrap();
    let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut plain).unwrap();
    plain
}

#[test]
fn encrypted_delivery_decrypts_to_the_exact_bytes() {
    let dir = TempDir::new().unwrap();
    let (identity, recipient) = age_identity(&dir);
    let pipeline = edited(&dir, RESEARCH, |t| {
        t.replace(
            "[input]",
            &format!("[delivery]\nrecipients = [\"{recipient}\"]\n\n[input]"),
        )
    });
    let account = ok(&mut run(&dir, &pipeline, "x.parquet"));
    assert!(account.contains("encrypted  "), "{account}");
    let m = json(&dir.path().join("x.parquet.manifest.json"));
    assert_eq!(m["outputs"][1]["role"], "extract.age");
    assert_eq!(
        m["outputs"][1]["sha256"],
        sha256_hex(&dir.path().join("x.parquet.age"))
    );
    for name in [
        "x.parquet",
        "x.parquet.manifest.json",
        "x.parquet.report.html",
    ] {
        let plain = std::fs::read(dir.path().join(name)).unwrap();
        let sealed = dir.path().join(format!("{name}.age"));
        assert_ne!(std::fs::read(&sealed).unwrap(), plain);
        assert_eq!(decrypt(&identity, &sealed), plain, "{name}");
        if tool("age") {
            let out = std::process::Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&identity)
                .arg(&sealed)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, plain, "age -d {name}.age");
        }
    }

    // Without keeping the plaintext: only the encrypted extract stays, and the manifest
    // says so; decrypted, it has the recorded hash.
    let dir = TempDir::new().unwrap();
    let (identity, recipient) = age_identity(&dir);
    let pipeline = edited(&dir, RESEARCH, |t| {
        t.replace(
            "[input]",
            &format!(
                "[delivery]\nrecipients = [\"{recipient}\"]\nkeep_plaintext = false\n\n[input]"
            ),
        )
    });
    ok(&mut run(&dir, &pipeline, "x.parquet"));
    assert!(!dir.path().join("x.parquet").exists());
    let m = json(&dir.path().join("x.parquet.manifest.json"));
    assert_eq!(m["outputs"][0]["kept"], false);
    let plain = decrypt(&identity, &dir.path().join("x.parquet.age"));
    assert_eq!(
        hex::encode(Sha256::digest(&plain)),
        m["outputs"][0]["sha256"]
    );
    ok(doel(&dir)
        .arg("verify")
        .arg(dir.path().join("x.parquet.manifest.json"))
        .arg("--unsigned"));
    // A recipient that is no age key is refused before any row is read.
    let bad = edited(&dir, RESEARCH, |t| {
        t.replace(
            "[input]",
            "[delivery]\nrecipients = [\"age1nope\"]\n\n[input]",
        )
    });
    let out = fails(&mut run(&dir, &bad, "y.parquet"), 1);
    assert!(text(&out).contains("recipients[1] is not an age public key"));
}

#[test]
fn the_run_report_is_self_contained_and_renders_in_chromium() {
    let dir = TempDir::new().unwrap();
    for (pipeline, output) in [(MICRODATA, "m.parquet"), (TABLE, "t.csv")] {
        ok(&mut run(&dir, &repo(pipeline), output));
        let report = dir.path().join(format!("{output}.report.html"));
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        for forbidden in ["<script", "http://", "https://", "<link", "@import", "url("] {
            assert!(!html.contains(forbidden), "{forbidden} in the report");
        }
        assert!(html.contains("<svg"));
        let chart = if pipeline == MICRODATA {
            "Equivalence classes released"
        } else {
            "Table cells published and suppressed"
        };
        assert!(html.contains(chart));
        if tool("chromium") {
            let profile = TempDir::new().unwrap();
            let out = std::process::Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--enable-logging=stderr",
                    "--v=0",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("--dump-dom")
                .arg(format!("file://{}", report.display()))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dom = String::from_utf8_lossy(&out.stdout);
            assert!(dom.contains("<svg"), "rendered DOM lacks the chart");
            assert!(dom.contains(chart));
            let log = String::from_utf8_lossy(&out.stderr);
            assert!(!log.contains("Uncaught"), "{log}");
            assert!(!log.contains("CONSOLE"), "{log}");
        }
    }
}

/// The register's lines.
fn register_lines(dir: &TempDir) -> Vec<String> {
    std::fs::read_to_string(dir.path().join(common::REGISTER))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_pseudonym_domain_serves_one_recipient_unless_shared_on_purpose() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "umc.parquet"));
    const UMC: &str = r#"recipient = "UMC onderzoeksgroep Jeugd""#;
    const CITY: &str = r#"recipient = "Gemeente Sittard-Geleen, team Jeugd""#;
    let other_recipient = edited(&dir, RESEARCH, |t| t.replace(UMC, CITY));

    // The research domain for another recipient: refused before anything is written.
    let out = fails(&mut run(&dir, &other_recipient, "city.parquet"), 2);
    let said = text(&out);
    assert!(
        said.contains(r#"entry 1: pseudonym_domain "onderzoek-umc-jeugd" is used there for recipient "UMC onderzoeksgroep Jeugd", and this pipeline's recipient is "Gemeente Sittard-Geleen, team Jeugd": their extracts would link"#),
        "{said}"
    );
    assert!(said.contains("pseudonym_domain_shared_with"), "{said}");
    assert!(!dir.path().join("city.parquet").exists());
    assert_eq!(register_lines(&dir).len(), 1);

    // The same recipient written with other case and spaces is the same recipient.
    let same = edited(&dir, RESEARCH, |t| {
        t.replace(UMC, r#"recipient = "umc onderzoeksgroep jeugd ""#)
    });
    ok(&mut run(&dir, &same, "umc2.parquet"));

    // Declared shared on purpose: the run goes ahead, and the sharing is recorded.
    let shared = edited(&dir, RESEARCH, |t| {
        t.replace(
            UMC,
            &format!("{CITY}\npseudonym_domain_shared_with = [\"UMC onderzoeksgroep jeugd\"]"),
        )
    });
    let plan = ok(doel(&dir)
        .arg("plan")
        .arg(&shared)
        .args(["--run-date", RUN_DATE]));
    assert!(
        plan.contains("onderzoek-umc-jeugd (shared on purpose with UMC onderzoeksgroep jeugd:"),
        "{plan}"
    );
    ok(&mut run(&dir, &shared, "city.parquet"));
    let entry: Value = serde_json::from_str(&register_lines(&dir)[2]).unwrap();
    assert_eq!(
        entry["domain_shared_with"],
        serde_json::json!(["UMC onderzoeksgroep jeugd"])
    );
    let m = json(&dir.path().join("city.parquet.manifest.json"));
    assert_eq!(
        m["pseudonyms"]["shared_with"],
        serde_json::json!(["UMC onderzoeksgroep jeugd"])
    );
    // A manifest of a domain not shared holds no such field (as before).
    assert!(
        json(&dir.path().join("umc.parquet.manifest.json"))["pseudonyms"]
            .get("shared_with")
            .is_none()
    );

    // The research pipeline, which does not name the municipality, is now refused: the
    // sharing must be declared in both pipelines.
    let out = fails(&mut run(&dir, &repo(RESEARCH), "umc3.parquet"), 2);
    assert!(
        text(&out).contains(r#"entry 3: pseudonym_domain "onderzoek-umc-jeugd" is used there for recipient "Gemeente Sittard-Geleen, team Jeugd""#),
        "{}",
        text(&out)
    );
}

#[test]
fn a_domain_differing_from_a_registered_one_only_in_case_or_spaces_is_refused() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    const DOMAIN: &str = r#"pseudonym_domain = "onderzoek-umc-jeugd""#;
    let upper = edited(&dir, RESEARCH, |t| {
        t.replace(DOMAIN, r#"pseudonym_domain = "Onderzoek-UMC-Jeugd""#)
    });
    let out = fails(&mut run(&dir, &upper, "y.parquet"), 2);
    assert!(
        text(&out).contains(r#"entry 1: pseudonym_domain "Onderzoek-UMC-Jeugd" differs from "onderzoek-umc-jeugd", used there for recipient "UMC onderzoeksgroep Jeugd", only once folded (case, width and compatibility forms, white space)"#),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("y.parquet").exists());
    // Spaces around a domain are refused by the pipeline's own check (exit 1), register
    // or not.
    let spaced = edited(&dir, RESEARCH, |t| {
        t.replace(DOMAIN, r#"pseudonym_domain = "onderzoek-umc-jeugd ""#)
    });
    let out = fails(&mut run(&dir, &spaced, "y.parquet"), 1);
    assert!(
        text(&out).contains("pseudonym_domain begins or ends with white space"),
        "{}",
        text(&out)
    );
    assert_eq!(register_lines(&dir).len(), 1);
}

/// `doel verify MANIFEST --unsigned --register REGISTER`.
fn verify_unsigned(dir: &TempDir, manifest: &Path, register: &Path) -> Command {
    let mut cmd = doel(dir);
    cmd.arg("verify")
        .arg(manifest)
        .arg("--unsigned")
        .arg("--register")
        .arg(register);
    cmd
}

#[test]
fn verify_holds_the_manifest_and_its_files_against_the_register() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    let register = dir.path().join(common::REGISTER);
    let manifest = dir.path().join("x.parquet.manifest.json");
    let out = ok(&mut verify_unsigned(&dir, &manifest, &register));
    assert!(
        out.contains("ok       register entry 1 records run"),
        "{out}"
    );
    assert!(out.contains("1 file matches"), "{out}");

    // The extract and the unsigned manifest edited together: they still match each
    // other, but not the register entry.
    let extract = dir.path().join("x.parquet");
    let (original_extract, original_manifest) = (
        std::fs::read(&extract).unwrap(),
        std::fs::read_to_string(&manifest).unwrap(),
    );
    let mut changed = original_extract.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 1;
    std::fs::write(&extract, &changed).unwrap();
    std::fs::write(
        &manifest,
        original_manifest.replace(
            &sha256_hex_bytes(&original_extract),
            &sha256_hex_bytes(&changed),
        ),
    )
    .unwrap();
    ok(doel(&dir).arg("verify").arg(&manifest).arg("--unsigned"));
    let out = fails(&mut verify_unsigned(&dir, &manifest, &register), 5);
    let said = text(&out);
    assert!(
        said.contains(
            "CHANGED  manifest: its SHA-256 differs from the one register entry 1 records"
        ),
        "{said}"
    );
    assert!(
        said.contains("CHANGED  x.parquet (extract): the manifest's SHA-256 or size differs from register entry 1's; the file beside it differs from the register too"),
        "{said}"
    );
    // Only the manifest edited (a declared field): named, the extract still matches.
    std::fs::write(&extract, &original_extract).unwrap();
    std::fs::write(
        &manifest,
        original_manifest.replace("UMC onderzoeksgroep Jeugd", "UMC onderzoeksgroep Jeugt"),
    )
    .unwrap();
    let said = text(&fails(&mut verify_unsigned(&dir, &manifest, &register), 5));
    assert!(
        said.contains("CHANGED  manifest: its recipient differs from register entry 1's"),
        "{said}"
    );
    assert!(
        !said.contains("Jeugt"),
        "no value of the manifest is quoted: {said}"
    );
    std::fs::write(&manifest, &original_manifest).unwrap();
    ok(&mut verify_unsigned(&dir, &manifest, &register));

    // A register without the run's entry.
    let elsewhere = TempDir::new().unwrap();
    ok(&mut run(&elsewhere, &repo(RESEARCH), "x.parquet"));
    let other_register = elsewhere.path().join(common::REGISTER);
    let said = text(&fails(
        &mut verify_unsigned(&dir, &manifest, &other_register),
        5,
    ));
    assert!(
        said.contains("FAILED   no register entry records run"),
        "{said}"
    );

    // A register whose chain is broken before the entry.
    reidentify(&dir, "case 1");
    let lines = register_lines(&dir);
    let edited_first = lines[0].replace("\"rows_read\":3000", "\"rows_read\":2999");
    assert_ne!(edited_first, lines[0]);
    std::fs::write(&register, format!("{edited_first}\n{}\n", lines[1])).unwrap();
    let said = text(&fails(&mut verify_unsigned(&dir, &manifest, &register), 5));
    assert!(said.contains("FAILED   register chain: line 2"), "{said}");
    assert!(
        said.contains("its rows_read differs from register entry 1's"),
        "{said}"
    );
}

fn sha256_hex_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn the_reidentify_operator_is_the_os_user_not_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new().unwrap();
    ok(doel(&dir)
        .env("USER", "mallory")
        .env("LOGNAME", "mallory")
        .args([
            "reidentify",
            "--key-file",
            "sample-data/demo.key",
            "--domain",
            "onderzoek-umc-jeugd",
            "--reason",
            "case 1",
            &token_of(DEMO_BSN),
        ]));
    let entry: Value = serde_json::from_str(&register_lines(&dir)[0]).unwrap();
    // The uid of this process, as the owner of a file it made.
    let uid = std::fs::metadata(dir.path().join(common::REGISTER))
        .unwrap()
        .uid();
    assert_eq!(entry["operator_uid"], uid);
    assert_ne!(entry["operator"], "mallory");
    if let Ok(id) = std::process::Command::new("id").arg("-un").output()
        && id.status.success()
    {
        let name = String::from_utf8(id.stdout).unwrap();
        assert_eq!(entry["operator"], name.trim());
    }
    let list = ok(doel(&dir).args(["register", "list"]));
    assert!(!list.contains("mallory"), "{list}");
}

/// The register with each entry's `prev` recomputed after the lines were edited, as one
/// who can write the register could: the chain holds again.
fn rechain(lines: &[String]) -> String {
    let mut out = String::new();
    let mut prev = "0".repeat(64);
    for line in lines {
        let mut entry: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        entry.insert("prev".into(), prev.clone().into());
        let line = serde_json::to_string(&entry).unwrap();
        prev = sha256_hex_bytes(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn a_signed_register_catches_an_edit_whose_chain_was_recomputed() {
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    let public = crate_pub(&key);
    ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    for reason in ["case 1", "case 2"] {
        ok(doel(&dir)
            .args([
                "reidentify",
                "--key-file",
                "sample-data/demo.key",
                "--domain",
                "onderzoek-umc-jeugd",
                "--reason",
                reason,
                "--signing-key",
            ])
            .arg(&key)
            .arg(token_of(DEMO_BSN)));
    }
    let register = dir.path().join(common::REGISTER);
    let verify_signed = |public: &Path| {
        let mut cmd = doel(&dir);
        cmd.args(["register", "verify", "--public-key"]).arg(public);
        cmd
    };
    let out = ok(&mut verify_signed(&public));
    assert!(out.contains("ok       entries 1–3 signed by"), "{out}");
    assert!(out.contains("3 entries, chain intact"), "{out}");
    let lines = register_lines(&dir);
    let entry: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(entry["signer"].as_str().unwrap().len(), 32);
    assert!(lines[0].ends_with(&format!(
        ",\"signature\":\"{}\"}}",
        entry["signature"].as_str().unwrap()
    )));
    // The manifest's verification holds the entry's signature too.
    let out = ok(doel(&dir)
        .arg("verify")
        .arg(dir.path().join("x.parquet.manifest.json"))
        .arg("--public-key")
        .arg(&public)
        .arg("--register")
        .arg(&register));
    assert!(
        out.contains("ok       register entry 1 is signed by this public key"),
        "{out}"
    );

    // Entry 2's reason edited and the chain recomputed after it: the chain holds, the
    // signatures do not.
    let mut edited_lines = lines.clone();
    edited_lines[1] = lines[1].replace("case 1", "case 9");
    std::fs::write(&register, rechain(&edited_lines)).unwrap();
    ok(doel(&dir).args(["register", "verify"]));
    let said = text(&fails(&mut verify_signed(&public), 5));
    assert!(
        said.contains("entry 2: its signature does not match the entry under this public key")
            && said.contains("(and 1 more entry fails)"),
        "{said}"
    );

    // Every signature removed and the chain recomputed: no entry is signed.
    let stripped: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut entry: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            entry.remove("signature");
            entry.remove("signer");
            serde_json::to_string(&entry).unwrap()
        })
        .collect();
    std::fs::write(&register, rechain(&stripped)).unwrap();
    ok(doel(&dir).args(["register", "verify"]));
    assert!(text(&fails(&mut verify_signed(&public), 5)).contains("no entry is signed"));

    // Another key's public key.
    let other = TempDir::new().unwrap();
    let other_public = crate_pub(&signing_key(&other));
    std::fs::write(
        &register,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let said = text(&fails(&mut verify_signed(&other_public), 5));
    assert!(
        said.contains("entry 1: signed by another key (signer \""),
        "{said}"
    );

    // An entry appended without the key: warned about, and it fails the check.
    let out = ok_output(doel(&dir).args([
        "reidentify",
        "--key-file",
        "sample-data/demo.key",
        "--domain",
        "onderzoek-umc-jeugd",
        "--reason",
        "case 3",
        &token_of(DEMO_BSN),
    ]));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("its last entry is signed, this one will not be"),
        "{}",
        text(&out)
    );
    let said = text(&fails(&mut verify_signed(&public), 5));
    assert!(
        said.contains("entry 4 is not signed, though the entries from 1 on are"),
        "{said}"
    );
}

fn ok_output(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    out
}

#[test]
fn a_register_begun_unsigned_verifies_from_its_first_signed_entry() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    let key = signing_key(&dir);
    ok(run(&dir, &repo(RESEARCH), "y.parquet")
        .arg("--signing-key")
        .arg(&key));
    let verify_signed = || {
        let mut cmd = doel(&dir);
        cmd.args(["register", "verify", "--public-key"])
            .arg(crate_pub(&key));
        cmd
    };
    let out = ok(&mut verify_signed());
    assert!(out.contains("ok       entries 2–2 signed by"), "{out}");
    assert!(out.contains("note     entry 1 is unsigned"), "{out}");
    // The unsigned entry edited and the chain recomputed: entry 2's signature covers it.
    let lines = register_lines(&dir);
    let edited = [
        lines[0].replace("\"rows_read\":3000", "\"rows_read\":2999"),
        lines[1].clone(),
    ];
    std::fs::write(dir.path().join(common::REGISTER), rechain(&edited)).unwrap();
    ok(doel(&dir).args(["register", "verify"]));
    let said = text(&fails(&mut verify_signed(), 5));
    assert!(
        said.contains("entry 2: its signature does not match"),
        "{said}"
    );
}

/// A field holding a line break or an escape sequence (an entry edited and rechained)
/// cannot forge a row or hide text in `register list`: each cell is escaped.
#[test]
fn register_list_cannot_be_forged_by_a_field() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    let lines = register_lines(&dir);
    let mut entry: serde_json::Map<String, Value> = serde_json::from_str(&lines[0]).unwrap();
    entry.insert(
        "recipient".into(),
        "UMC\n2  2026-01-01  run  fake  forged\u{1b}[8m".into(),
    );
    let edited = vec![serde_json::to_string(&entry).unwrap()];
    std::fs::write(dir.path().join(common::REGISTER), rechain(&edited)).unwrap();
    let list = ok(doel(&dir).args(["register", "list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("UMC\\n2  2026-01-01"), "{list}");
    assert!(list.contains("forged\\u{1b}[8m"), "{list}");
    assert!(!list.contains('\u{1b}'), "{list}");
}

/// A signing key's public half (handed to every recipient) or the signing key itself is
/// never taken as the pseudonym key.
#[test]
fn a_signing_key_is_never_the_pseudonym_key() {
    let run_with_key = |dir: &TempDir, key: &Path| {
        let mut cmd = doel(dir);
        cmd.arg("run")
            .arg(repo(RESEARCH))
            .arg("--output")
            .arg(dir.path().join("x.parquet"))
            .arg("--key-file")
            .arg(key)
            .args(["--run-date", RUN_DATE]);
        cmd
    };
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    let public = crate_pub(&key);
    for as_key in [&public, &key] {
        let out = fails(&mut run_with_key(&dir, as_key), 1);
        assert!(
            text(&out).contains("is a signing key, not a pseudonym key"),
            "{}",
            text(&out)
        );
    }
    // Files of an earlier version hold the bare hex: the public key under another name
    // is refused as the signing key's own bytes when the run signs.
    let hex = std::fs::read_to_string(&public).unwrap();
    let hex = hex.trim().strip_prefix("doel-ed25519-public ").unwrap();
    let bare = dir.path().join("renamed.key");
    std::fs::write(&bare, format!("{hex}\n")).unwrap();
    let out = fails(run_with_key(&dir, &bare).arg("--signing-key").arg(&key), 1);
    assert!(
        text(&out).contains("holds the signing key's own bytes"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(hex), "{}", text(&out));
    assert!(!dir.path().join("x.parquet").exists());
}

/// A run appends only to an intact chain: an earlier entry deleted (which would hide the
/// domain's first recipient) or a last entry with a huge `seq` fails with exit 5 before
/// anything is written.
#[test]
fn a_run_does_not_append_to_a_broken_register() {
    let dir = TempDir::new().unwrap();
    ok(&mut run(&dir, &repo(RESEARCH), "x.parquet"));
    ok(&mut run(&dir, &repo(RESEARCH), "y.parquet"));
    let register = dir.path().join(common::REGISTER);
    let lines = register_lines(&dir);
    std::fs::write(&register, format!("{}\n", lines[1])).unwrap();
    let out = fails(&mut run(&dir, &repo(RESEARCH), "z.parquet"), 5);
    assert!(text(&out).contains("its chain is broken"), "{}", text(&out));
    assert!(!dir.path().join("z.parquet").exists());
    assert_eq!(register_lines(&dir).len(), 1);

    std::fs::write(
        &register,
        "{\"seq\":18446744073709551615,\"prev\":\"x\",\"kind\":\"note\"}\n",
    )
    .unwrap();
    fails(&mut run(&dir, &repo(RESEARCH), "z.parquet"), 5);
    assert!(!dir.path().join("z.parquet").exists());
}

/// `verify --register --public-key` fails when a signed run's entry had its signature
/// taken off (and the chain recomputed); a manifest naming a path instead of a file
/// beside it is not read, and its fields are printed escaped.
#[test]
fn verify_holds_signed_entries_and_reads_only_files_beside_the_manifest() {
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    let public = crate_pub(&key);
    ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    let register = dir.path().join(common::REGISTER);
    let stripped: Vec<String> = register_lines(&dir)
        .iter()
        .map(|l| {
            let mut e: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            e.remove("signature");
            e.remove("signer");
            serde_json::to_string(&e).unwrap()
        })
        .collect();
    std::fs::write(&register, rechain(&stripped)).unwrap();
    let manifest = dir.path().join("x.parquet.manifest.json");
    let out = fails(
        doel(&dir)
            .arg("verify")
            .arg(&manifest)
            .arg("--public-key")
            .arg(&public)
            .arg("--register")
            .arg(&register),
        5,
    );
    assert!(
        text(&out).contains("is not signed, though it records a signed manifest"),
        "{}",
        text(&out)
    );

    // An output named by a path, and a run id with a line break.
    let mut m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["outputs"][0]["file"] = "../../etc/hostname".into();
    m["run_id"] = "abc\nverified forged".into();
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = fails(doel(&dir).arg("verify").arg(&manifest).arg("--unsigned"), 5);
    let said = text(&out);
    assert!(
        said.contains(
            "FAILED   output ../../etc/hostname: not a file name beside the manifest; not read"
        ),
        "{said}"
    );
    assert!(!said.lines().any(|l| l.starts_with("verified")), "{said}");
}

/// A register, a signature or an output that is no regular file (a device, a FIFO) is
/// never read: /dev/zero would never end.
#[test]
fn registers_signatures_and_outputs_must_be_regular_files() {
    let dir = TempDir::new().unwrap();
    let out = fails(
        run(&dir, &repo(RESEARCH), "x.parquet")
            .arg("--register")
            .arg("/dev/zero"),
        3,
    );
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
    assert!(!dir.path().join("x.parquet").exists());

    let key = signing_key(&dir);
    ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    let manifest = dir.path().join("x.parquet.manifest.json");
    let sig = dir.path().join("x.parquet.manifest.json.sig");
    std::fs::remove_file(&sig).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &sig).unwrap();
    let out = fails(
        doel(&dir)
            .arg("verify")
            .arg(&manifest)
            .arg("--public-key")
            .arg(crate_pub(&key)),
        5,
    );
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));

    let extract = dir.path().join("x.parquet");
    std::fs::remove_file(&extract).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &extract).unwrap();
    let out = fails(doel(&dir).arg("verify").arg(&manifest).arg("--unsigned"), 5);
    assert!(
        text(&out).contains("MISSING") && text(&out).contains("not a regular file"),
        "{}",
        text(&out)
    );
}

/// The public key of a signer in the register, in the unmarked form of an earlier
/// version and renamed, is refused as the pseudonym key even without --signing-key:
/// every signed manifest prints it.
#[test]
fn a_registered_signers_public_key_is_no_pseudonym_key() {
    let dir = TempDir::new().unwrap();
    let key = signing_key(&dir);
    ok(run(&dir, &repo(RESEARCH), "x.parquet")
        .arg("--signing-key")
        .arg(&key));
    let public = std::fs::read_to_string(crate_pub(&key)).unwrap();
    let hex = public.trim().strip_prefix("doel-ed25519-public ").unwrap();
    let renamed = dir.path().join("renamed.key");
    std::fs::write(&renamed, format!("{hex}\n")).unwrap();
    let mut cmd = doel(&dir);
    cmd.arg("run")
        .arg(repo(RESEARCH))
        .arg("--output")
        .arg(dir.path().join("y.parquet"))
        .arg("--key-file")
        .arg(&renamed)
        .args(["--run-date", RUN_DATE]);
    let out = fails(&mut cmd, 1);
    assert!(
        text(&out).contains("holds the signing key's own bytes"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("y.parquet").exists());
}
