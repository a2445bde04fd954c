//! What each fuzz target checks for one input, shared by the fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, which include this file) and by `tests/fuzz_regressions.rs`,
//! which replays the inputs the fuzzers found (`tests/data/fuzz-regressions/<target>/`)
//! in the normal build. Each function panics when an invariant does not hold.

#![allow(dead_code)]

use std::path::Path;
#[cfg(feature = "engine")]
use std::path::PathBuf;
use std::sync::LazyLock;

#[cfg(feature = "engine")]
use doel::engine::{Input, scan};
use doel::kernels::canonical;
use doel::kernels::keys::{MasterKey, Pseudonymiser, Tokeniser};
use doel::kernels::scrub::{Identifier, ScrubCounts, Scrubber};
use doel::plan::{ColumnType, Plan};
use doel::spec::{Catalogue, Pipeline};

fn run_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date")
}

// ---------------------------------------------------------------------------------------
// pipeline: a pipeline file's text → validated `Pipeline` → policy check and plan against
// the sample catalogue; the same text as a catalogue → the sample pipelines judged against
// it. Every step returns `Ok` or a clean `Err`, and errors and plans print. No file is
// read: the sample catalogue and pipelines are compiled in.

const SAMPLE_CATALOGUE: &str = include_str!("../../pipelines/catalogue.toml");
const SAMPLE_PIPELINES: [&str; 5] = [
    include_str!("../../pipelines/onderzoek-ontwikkeling.toml"),
    include_str!("../../pipelines/onderzoek-microdata.toml"),
    include_str!("../../pipelines/gemeente-jeugd.toml"),
    include_str!("../../pipelines/gemeente-tabel.toml"),
    include_str!("../../pipelines/toeslagen-maandlevering.toml"),
];

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::parse(Path::new("pipelines/catalogue.toml"), SAMPLE_CATALOGUE)
        .expect("the sample catalogue is valid")
});
static PIPELINES: LazyLock<Vec<Pipeline>> = LazyLock::new(|| {
    SAMPLE_PIPELINES
        .iter()
        .map(|text| Pipeline::parse(Path::new("sample.toml"), text).expect("sample pipeline"))
        .collect()
});

fn resolve(pipeline: Pipeline, catalogue: Catalogue) {
    let schema = ColumnType::catalogued(&catalogue);
    match Plan::resolve(pipeline, catalogue, &schema, run_date()) {
        Ok(plan) => {
            let _ = plan.to_string();
            let _ = plan.needed_inputs();
            let _ = plan.retention_terms();
        }
        Err(e) => {
            let _ = (e.to_string(), e.hint());
        }
    }
}

pub fn pipeline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Pipeline::parse(Path::new("fuzz.toml"), text) {
        Ok(pipeline) => resolve(pipeline, CATALOGUE.clone()),
        Err(e) => {
            let _ = (e.to_string(), e.hint());
        }
    }
    match Catalogue::parse(Path::new("fuzz-catalogue.toml"), text) {
        Ok(catalogue) => {
            for pipeline in PIPELINES.iter() {
                resolve(pipeline.clone(), catalogue.clone());
            }
        }
        Err(e) => {
            let _ = (e.to_string(), e.hint());
        }
    }
}

// ---------------------------------------------------------------------------------------
// canonical: canonical forms (BSN, name, dates) and the keyed pseudonyms and tokens made of
// them. A BSN's canonical form is nine ASCII digits passing the elfproef and is its own
// canonical form; a name's canonical form is non-empty, lowercase, has no leading,
// trailing or double space, holds only letters, digits and spaces, and is its own
// canonical form; a parsed date prints back to the same date; a pseudonym is 32 lowercase
// hex digits, the same for the same canonical value. Key file contents: refused, never a
// panic.

struct Keys {
    bsn: Pseudonymiser,
    name: Pseudonymiser,
    token: Tokeniser,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let key = MasterKey::from_bytes([0x5a; 32]);
    let domain = key.domain("fuzz");
    Keys {
        bsn: domain.pseudonymiser("bsn"),
        name: domain.pseudonymiser("name"),
        token: key.tokeniser("fuzz", "bsn"),
    }
});

fn elfproef(d: &[u8; 9]) -> bool {
    let weighted: i32 = (0..8)
        .map(|i| (9 - i as i32) * i32::from(d[i] - b'0'))
        .sum();
    (weighted - i32::from(d[8] - b'0')) % 11 == 0 && d != b"000000000"
}

fn name_of(parts: &[Option<&str>]) -> Option<String> {
    let (mut scratch, mut out) = (String::new(), String::new());
    canonical::name(parts.iter().copied(), &mut scratch, &mut out).then_some(out)
}

fn check_pseudonym(p: &Pseudonymiser, canonical: &[u8]) {
    let a = p.pseudonym(canonical);
    assert_eq!(a.len(), 32);
    assert!(
        a.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{a:?}"
    );
    assert_eq!(a, p.pseudonym(canonical), "deterministic");
}

pub fn canonical(data: &[u8]) {
    let _ = MasterKey::from_hex_file_contents(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Some(c) = canonical::bsn(text) {
        assert!(c.iter().all(u8::is_ascii_digit), "{c:?}");
        assert!(elfproef(&c), "{c:?}");
        let again = std::str::from_utf8(&c).expect("digits");
        assert_eq!(canonical::bsn(again), Some(c), "BSN form is a fixed point");
        check_pseudonym(&KEYS.bsn, &c);
        let t = KEYS.token.token(&c);
        assert!(t.starts_with("t1."));
        assert_eq!(t, KEYS.token.token(&c), "equal values, equal tokens");
    }

    // Up to four name parts separated by NUL; a part that is exactly "\u{1}" is null.
    let parts: Vec<Option<&str>> = text
        .split('\0')
        .take(4)
        .map(|p| (p != "\u{1}").then_some(p))
        .collect();
    if let Some(c) = name_of(&parts) {
        assert!(!c.is_empty());
        assert!(!c.starts_with(' ') && !c.ends_with(' '), "{c:?}");
        assert!(!c.contains("  "), "{c:?}");
        // Lowercase as Unicode (and Python, Java, Spark) lowercases: a letter with no
        // lowercase mapping, such as U+1F150, stays as it is.
        assert_eq!(c.to_lowercase(), c, "not lowercase: {c:?}");
        assert!(
            c.chars().all(|ch| ch == ' ' || ch.is_alphanumeric()),
            "{c:?}"
        );
        assert_eq!(
            name_of(&[Some(&c)]).as_deref(),
            Some(c.as_str()),
            "name form is a fixed point"
        );
        check_pseudonym(&KEYS.name, c.as_bytes());
    }

    if let Some(d) = canonical::date_from_iso(text) {
        assert_eq!(
            canonical::date_from_iso(&d.format("%Y-%m-%d").to_string()),
            Some(d)
        );
    }
    if let Some(d) = canonical::date_from_dutch(text) {
        assert_eq!(
            canonical::date_from_dutch(&d.format("%d-%m-%Y").to_string()),
            Some(d)
        );
    }
    if let [a, b, c, d, ..] = *data
        && let Some(date) = canonical::date_from_days(i32::from_le_bytes([a, b, c, d]))
    {
        let iso = date.format("%Y-%m-%d").to_string();
        assert_eq!(canonical::date_from_iso(&iso), Some(date), "{iso}");
    }
}

// ---------------------------------------------------------------------------------------
// scrub: the free-text scrubber. Scrubbing is idempotent (a scrubbed text scrubs to itself
// and nothing is counted); no maximal run of 8 or 9 ASCII digits in the output is a valid
// BSN (the scrubber claims every BSN no digit runs on into); every tag in the output that
// was not in the input is a counted replacement.

static SCRUBBER: LazyLock<Scrubber> = LazyLock::new(Scrubber::new);

fn scrubbed(text: &str) -> (String, ScrubCounts) {
    let (mut out, mut spare, mut counts) = (String::new(), String::new(), ScrubCounts::default());
    SCRUBBER.scrub_into(text, &mut out, &mut spare, &mut counts);
    (out, counts)
}

fn tags(s: &str) -> u64 {
    Identifier::ALL
        .iter()
        .map(|k| s.matches(k.tag()).count() as u64)
        .sum()
}

pub fn scrub(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (once, counts) = scrubbed(text);
    let (twice, again) = scrubbed(&once);
    assert_eq!(once, twice, "scrubbing is not idempotent for {text:?}");
    assert_eq!(again, ScrubCounts::default(), "more to scrub in {once:?}");
    for run in once.split(|c: char| !c.is_ascii_digit()) {
        if run.len() == 8 || run.len() == 9 {
            assert!(
                canonical::bsn(run).is_none(),
                "a BSN survived scrubbing: {run:?} in {once:?} (from {text:?})"
            );
        }
    }
    let total: u64 = Identifier::ALL.iter().map(|&k| counts.get(k)).sum();
    assert_eq!(tags(&once), tags(text) + total, "{text:?} → {once:?}");
}

// ---------------------------------------------------------------------------------------
// csv: bytes → polars' CSV reader configured as doel configures it (`engine::input`) → the
// header check and a streaming read of every row and column (`doel scan`'s path, which
// `doel run` shares up to the kernels). `Ok` or a clean `Err`, never a panic. The first
// byte chooses the delimiter.

#[cfg(feature = "engine")]
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

#[cfg(feature = "engine")]
pub fn csv(data: &[u8]) {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let delimiter = DELIMITERS[usize::from(first) % DELIMITERS.len()];
    match Input::csv_from_bytes(PathBuf::from("fuzz.csv"), bytes.to_vec(), delimiter) {
        Ok(input) => match scan(input, None, run_date()) {
            Ok(report) => {
                let _ = report.rows;
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
