//! A PostgreSQL table or query as input, against a real server: the throwaway cluster
//! `.ci/run` starts (`DOEL_TEST_PGHOST`, `DOEL_TEST_PGUSER`, `DOEL_TEST_PGPASSWORD`).
//! Without one these tests say so and pass, unless `DOEL_REQUIRE_TOOLS=1` (set by
//! `.ci/run`), which makes its absence a failure.

mod common;
#[path = "common/frames.rs"]
mod frames;

use common::{RUN_DATE, doel, repo};
use frames::{read_parquet, sample};

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tempfile::TempDir;

const RESEARCH: &str = "pipelines/onderzoek-ontwikkeling.toml";

/// The test server, if there is one: socket directory, user, password.
fn server() -> Option<(String, String, String)> {
    let var = |k: &str| std::env::var(k).ok();
    match (
        var("DOEL_TEST_PGHOST"),
        var("DOEL_TEST_PGUSER"),
        var("DOEL_TEST_PGPASSWORD"),
    ) {
        (Some(h), Some(u), Some(p)) => Some((h, u, p)),
        _ => {
            assert!(
                std::env::var("DOEL_REQUIRE_TOOLS").is_err(),
                "a PostgreSQL server is required (DOEL_REQUIRE_TOOLS is set): set DOEL_TEST_PGHOST, DOEL_TEST_PGUSER and DOEL_TEST_PGPASSWORD, as .ci/run does"
            );
            eprintln!("no PostgreSQL server (DOEL_TEST_PGHOST): skipped");
            None
        }
    }
}

/// A database of its own for one test, holding the sample export as table `klanten`
/// (its primary key `contract_id`), loaded from `sample-data/export.csv`.
struct Database {
    host: String,
    user: String,
    password: String,
    name: String,
}

impl Database {
    fn new(test: &str) -> Option<Self> {
        let (host, user, password) = server()?;
        let name = format!("doel_{test}_{}", std::process::id());
        let connect = |db: &str| {
            postgres::Config::new()
                .host_path(&host)
                .user(&user)
                .password(&password)
                .dbname(db)
                .connect(postgres::NoTls)
                .unwrap()
        };
        let mut admin = connect("postgres");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut client = connect(&name);
        client
            .batch_execute(
                "CREATE TABLE klanten (contract_id text PRIMARY KEY, kind_bsn text, kind_voornaam text, kind_tussenvoegsel text, kind_achternaam text, kind_geboortedatum date, kind_geslacht text, ouder_bsn text, ouder_voornaam text, ouder_tussenvoegsel text, ouder_achternaam text, ouder_email text, ouder_telefoon text, straat text, huisnummer text, postcode text, woonplaats text, gemeentecode text, opvangsoort text, locatie text, contract_start date, contract_einde date, uren_per_maand double precision, uurtarief double precision, kinderopvangtoeslag boolean, medische_info text, religie text, notities text, bezwaar_onderzoek boolean, verwerking_beperkt boolean)",
            )
            .unwrap();
        let mut writer = client
            .copy_in("COPY klanten FROM STDIN WITH (FORMAT csv, HEADER true)")
            .unwrap();
        writer
            .write_all(&std::fs::read(repo("sample-data/export.csv")).unwrap())
            .unwrap();
        writer.finish().unwrap();
        Some(Self {
            host,
            user,
            password,
            name,
        })
    }

    /// `doel` with this database in libpq's variables.
    fn doel(&self, dir: &TempDir) -> assert_cmd::Command {
        let mut cmd = doel(dir);
        cmd.env_remove("DOEL_PG_URL")
            .env("PGHOST", &self.host)
            .env("PGUSER", &self.user)
            .env("PGPASSWORD", &self.password)
            .env("PGDATABASE", &self.name)
            .env("PGPASSFILE", dir.path().join("no-pgpass"));
        cmd
    }
}

/// The research pipeline reading `[input] postgres = { … }`.
fn pipeline(dir: &TempDir, source: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo(RESEARCH)).unwrap().replace(
        "path = \"sample-data/export.parquet\"",
        &format!("postgres = {source}"),
    );
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(cmd: &mut assert_cmd::Command, pipeline: &Path, output: &Path) -> std::process::Output {
    cmd.arg("run")
        .arg(pipeline)
        .arg("--output")
        .arg(output)
        .arg("--key-file")
        .arg(repo("sample-data/demo.key"))
        .arg("--run-date")
        .arg(RUN_DATE)
        .output()
        .unwrap()
}

fn sorted(frame: &DataFrame) -> DataFrame {
    let names: Vec<PlSmallStr> = frame.get_column_names_owned();
    frame
        .sort(names, SortMultipleOptions::default().with_nulls_last(true))
        .unwrap()
}

#[test]
fn a_table_and_a_query_give_the_parquet_extract() {
    let Some(db) = Database::new("extract") else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let expected_path = dir.path().join("p.parquet");
    let out = run(&mut db.doel(&dir), &repo(RESEARCH), &expected_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = read_parquet(&expected_path);

    // The plan from the server's description of the table, no row read.
    let table = pipeline(&dir, "{ table = \"klanten\" }");
    let out = db.doel(&dir).arg("plan").arg(&table).output().unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(plan.contains("kind_geboortedatum   date"), "{plan}");
    assert!(plan.contains("uren_per_maand       float"), "{plan}");

    let from_table = dir.path().join("t.parquet");
    let out = run(&mut db.doel(&dir), &table, &from_table);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("read       3000 rows from postgresql table klanten on "),
        "{stdout}"
    );
    // Rows in the primary key's order: the Parquet run's extract, byte for byte in value.
    assert!(read_parquet(&from_table).equals_missing(&expected));

    // Only the planned columns left the database, and the manifest says so.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.parquet.manifest.json")).unwrap())
            .unwrap();
    let source = &manifest["source"];
    assert_eq!(source["kind"], "postgresql");
    assert_eq!(source["table"], "klanten");
    assert_eq!(source["database"], db.name.as_str());
    assert_eq!(source["rows"], sample().height());
    assert_eq!(source["order_by"], serde_json::json!(["contract_id"]));
    let columns: Vec<&str> = source["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(columns.contains(&"kind_bsn") && !columns.contains(&"notities"));
    assert!(!columns.contains(&"ouder_email") && !columns.contains(&"religie"));
    assert_eq!(manifest["inputs"], serde_json::json!([]));
    assert!(!manifest.to_string().contains(&db.password));

    // A query: the same rows (ordered by every column read, so compared sorted).
    let query = pipeline(
        &dir,
        "{ query = \"SELECT k.* FROM klanten k WHERE k.contract_id IS NOT NULL;\" }",
    );
    let from_query = dir.path().join("q.parquet");
    let out = run(&mut db.doel(&dir), &query, &from_query);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sorted(&read_parquet(&from_query)).equals_missing(&sorted(&expected)));
    let manifest = std::fs::read_to_string(dir.path().join("q.parquet.manifest.json")).unwrap();
    assert!(manifest.contains("\"query_sha256\"") && !manifest.contains("IS NOT NULL"));
}

/// `doel run` fails with exit code `code` and `message`, naming the source, printing no
/// password, and writing nothing.
fn refused(
    db: &Database,
    dir: &TempDir,
    cmd: &mut assert_cmd::Command,
    pipeline: &Path,
    code: i32,
    message: &str,
) {
    let output = dir.path().join("x.parquet");
    let out = run(cmd, pipeline, &output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    assert!(!stderr.contains(&db.password), "{stderr}");
    assert!(!output.exists());
    assert!(!dir.path().join("x.parquet.manifest.json").exists());
}

#[test]
fn every_database_refusal_is_clear_and_writes_nothing() {
    let Some(db) = Database::new("refusals") else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let table = pipeline(&dir, "{ table = \"klanten\" }");
    refused(
        &db,
        &dir,
        db.doel(&dir).env("PGPASSWORD", "wrong-password"),
        &table,
        3,
        "input PostgreSQL table klanten: the server refused the user or password",
    );
    refused(
        &db,
        &dir,
        db.doel(&dir).env("PGHOST", dir.path().join("no-server")),
        &table,
        3,
        "input PostgreSQL table klanten: cannot connect to ",
    );
    refused(
        &db,
        &dir,
        db.doel(&dir).env("PGDATABASE", "no_such_database"),
        &table,
        3,
        "the database does not exist (PGDATABASE)",
    );
    let missing = pipeline(&dir, "{ table = \"klantjes\" }");
    refused(
        &db,
        &dir,
        &mut db.doel(&dir),
        &missing,
        3,
        "input PostgreSQL table klantjes: the table does not exist, or the user may not see it",
    );
    let narrow = pipeline(
        &dir,
        "{ query = \"SELECT contract_id, kind_bsn FROM klanten\" }",
    );
    refused(
        &db,
        &dir,
        &mut db.doel(&dir),
        &narrow,
        1,
        "column `verwerking_beperkt` (used by `[exclusions] restricted`) is not in the input",
    );
    let twice = pipeline(
        &dir,
        "{ query = \"SELECT k.*, k.kind_bsn FROM klanten k\" }",
    );
    refused(
        &db,
        &dir,
        &mut db.doel(&dir),
        &twice,
        3,
        "input PostgreSQL query: column 31 is named `kind_bsn` like an earlier one",
    );
    // The server goes away during the run: its backend ends while the rows are read.
    let away = pipeline(
        &dir,
        "{ query = \"SELECT k.*, pg_terminate_backend(pg_backend_pid()) AS x FROM klanten k\" }",
    );
    // Its last word may or may not arrive before the connection closes.
    let output = dir.path().join("x.parquet");
    let out = run(&mut db.doel(&dir), &away, &output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("input PostgreSQL query: the server shut down during the run")
            || stderr.contains("input PostgreSQL query: the connection to "),
        "{stderr}"
    );
    assert!(!output.exists());
}

/// The password comes from the password file when no variable gives one, as libpq reads
/// it; a file others may read is ignored, as libpq ignores it.
#[test]
fn the_password_file_is_read_as_libpq_reads_it() {
    use std::os::unix::fs::PermissionsExt;
    let Some(db) = Database::new("pgpass") else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let pgpass = dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        // A socket directory matches itself (only the default one is `localhost`).
        format!(
            "# doel\nlocalhost:*:*:*:not-this\n{}:*:{}:{}:{}\n",
            db.host, db.name, db.user, db.password
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let table = pipeline(&dir, "{ table = \"klanten\" }");
    let with_file = || {
        let mut cmd = db.doel(&dir);
        cmd.env_remove("PGPASSWORD").env("PGPASSFILE", &pgpass);
        cmd
    };
    let out = with_file().arg("plan").arg(&table).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = with_file().arg("plan").arg(&table).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("asks for a password and none was given"),
        "{stderr}"
    );
}
