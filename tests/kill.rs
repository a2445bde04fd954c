//! No partial outputs, ever (issue 7, part 2): runs killed with SIGKILL at random
//! (seeded) moments leave nothing at the output path but, possibly, hidden `.doel-*.tmp`
//! files; the next run ignores those and writes the same bytes as an undisturbed run.
//! A manifest or report, when present, is complete, and the register's chain holds.
//!
//! The export is small enough for a debug build (`DOEL_KILL_ROWS`, default 15 000 rows);
//! `benches/kill.sh` does the same on a large export with a release build.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

const KILLS: usize = 20;
const SEED: u64 = 7;

/// `doel run PIPELINE` on `input`, writing `output`; the register beside the output's
/// directory.
fn doel_run(pipeline: &str, input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doel"));
    let register = output.parent().unwrap().with_extension("register.jsonl");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DOEL_KEY_FILE")
        .env("DOEL_REGISTER", register)
        .arg("run")
        .arg(pipeline)
        .args([
            "--key-file",
            "sample-data/demo.key",
            "--run-date",
            "2026-11-01",
        ])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn is_leftover(name: &str) -> bool {
    name.starts_with(".doel-") && name.ends_with(".tmp")
}

#[test]
fn sigkill_never_leaves_a_partial_output() {
    let rows: u64 = std::env::var("DOEL_KILL_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15_000);
    let work = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_doel-sample"))
        .args([
            "--rows",
            &rows.to_string(),
            "--formats",
            "parquet",
            "--out-dir",
        ])
        .arg(work.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let input = work.path().join("export.parquet");

    // Records (one pass) and microdata (a hidden first-pass file, then the output).
    let pipelines = [
        "pipelines/onderzoek-ontwikkeling.toml",
        "pipelines/onderzoek-microdata.toml",
    ];
    let mut references = Vec::new();
    for (i, pipeline) in pipelines.iter().enumerate() {
        let output = work.path().join(format!("reference-{i}.parquet"));
        let started = Instant::now();
        assert!(
            doel_run(pipeline, &input, &output)
                .status()
                .unwrap()
                .success()
        );
        references.push((std::fs::read(&output).unwrap(), started.elapsed()));
    }

    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("extract.parquet");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    let (mut killed, mut completed) = (0, 0);
    for i in 0..KILLS {
        let which = i % pipelines.len();
        let (reference, duration) = &references[which];
        // Mostly during the run, now and then just after it could have finished.
        let delay = duration.mul_f64(rng.random_range(0.0..1.1));
        let mut child = doel_run(pipelines[which], &input, &output).spawn().unwrap();
        std::thread::sleep(delay);
        // SIGKILL on Unix: no handler runs, nothing is cleaned up.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if output.exists() {
            // Renamed into place: complete, even if the kill came before the exit.
            completed += 1;
            assert_eq!(&std::fs::read(&output).unwrap(), reference, "kill {i}");
            std::fs::remove_file(&output).unwrap();
            let manifest = out_dir.join("extract.parquet.manifest.json");
            if let Ok(bytes) = std::fs::read(&manifest) {
                let m: serde_json::Value =
                    serde_json::from_slice(&bytes).expect("a whole manifest");
                assert_eq!(m["schema"], "doel-manifest/1");
                std::fs::remove_file(&manifest).unwrap();
            }
            let report = out_dir.join("extract.parquet.report.html");
            if let Ok(html) = std::fs::read_to_string(&report) {
                assert!(html.ends_with("</html>\n"), "kill {i}: a whole report");
                std::fs::remove_file(&report).unwrap();
            }
        } else {
            killed += 1;
            assert!(
                !status.success(),
                "kill {i}: a run succeeded without output"
            );
        }
        for name in names(&out_dir) {
            assert!(is_leftover(&name), "kill {i}: unexpected file {name}");
        }
    }
    assert!(
        killed >= KILLS / 2,
        "only {killed} runs were killed mid-way"
    );

    // The next run ignores the leftovers (and leaves them), and writes the reference.
    let leftovers = names(&out_dir);
    for (which, pipeline) in pipelines.iter().enumerate() {
        assert!(
            doel_run(pipeline, &input, &output)
                .status()
                .unwrap()
                .success()
        );
        assert_eq!(std::fs::read(&output).unwrap(), references[which].0);
        let mut after = names(&out_dir);
        after.retain(|n| !n.starts_with("extract.parquet"));
        assert_eq!(after, leftovers);
    }
    // Every register entry a killed run may have written is whole, and the chain holds.
    let verified = Command::new(env!("CARGO_BIN_EXE_doel"))
        .args(["register", "verify", "--register"])
        .arg(out_dir.with_extension("register.jsonl"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    eprintln!(
        "{killed} runs killed, {completed} had written their output, {} temporary files left over; \
         reference runs {:?}",
        leftovers.len(),
        references.iter().map(|r| r.1).collect::<Vec<Duration>>()
    );
}
