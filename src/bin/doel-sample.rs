//! `doel-sample`: writes a synthetic Dutch childcare client export to test `doel` on.
//!
//! Every row is one childcare contract (*kinderopvangcontract*) as a provider's
//! administration system would export it: the child (BSN, name, birth date, sex), one
//! parent (BSN, name, e-mail, phone), the address, the contract (kind of care, location,
//! dates, hours, rate, allowance) and the columns that make such an export sensitive:
//! health notes and religion (special categories, GDPR art. 9), free-text staff notes,
//! and the flags for a parent's objection to research use and for restricted processing.
//! Children have one to three consecutive contracts; about one child in eight is a
//! sibling of the child before it and shares the parent and the address.
//!
//! The values are damaged the way staff and spreadsheets damage them, so that `doel`'s
//! canonicalisation and validation have something to do: BSNs written with spaces or
//! dots, leading zeros lost, typos that fail the elfproef, nulls; names in another case
//! or with stray spaces on some rows; postcodes in four spellings and a few invalid ones;
//! a BSN typed into a free-text note now and then. The same person is damaged the same
//! way on all their rows, apart from the name variants.
//!
//! This is a demo data set, not real people: names are drawn independently from lists of
//! common first names and surnames, addresses combine a street list with random numbers
//! and postcode letters, e-mail addresses use the reserved `example.nl` and
//! `example.com` domains, and BSNs are numbers that pass the elfproef drawn from a keyed
//! permutation (unique per person up to 45 million rows). Such a number may happen to be
//! somebody's real BSN, as any valid number may, but nothing here links it to them.
//!
//! Output is deterministic: the same `--rows` and `--seed` give byte-identical files, and
//! a smaller `--rows` gives a prefix of a larger one. Rows are generated and written in
//! chunks of 100,000, each from its own ChaCha8 stream `(seed, chunk index)`, so memory
//! stays flat for any number of rows.
//!
//! ```text
//! doel-sample --rows 3000 --seed 2026 --out-dir sample-data --formats parquet,csv
//! ```
//!
//! Exit status 3 with `error: ...` on standard error when a file cannot be written.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows generated and written at a time; also the stride of the global row and child
/// numbering, so every chunk is independent of the others.
const CHUNK_ROWS: usize = 100_000;

#[derive(Parser)]
#[command(
    name = "doel-sample",
    version,
    about = "Write a synthetic, deterministic Dutch childcare export (demo data, not real people)"
)]
struct Args {
    /// Number of rows (contracts) to write.
    #[arg(long, default_value_t = 3000)]
    rows: usize,
    /// Seed; the same seed and row count give byte-identical files.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Directory for export.parquet and export.csv (created if missing).
    #[arg(long, default_value = "sample-data")]
    out_dir: PathBuf,
    /// Which files to write, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["parquet", "csv"])]
    formats: Vec<OutputFormat>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Parquet,
    Csv,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let out_dir = &args.out_dir;
    fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create directory {}: {e}", out_dir.display()))?;
    let generator = Generator::new(args.seed);
    let schema = Columns::new(0)
        .finish()
        .map_err(|e| format!("cannot build the schema: {e}"))?
        .schema()
        .as_ref()
        .clone();

    let mut parquet = None;
    let mut csv = None;
    let mut paths = Vec::new();
    if args.formats.contains(&OutputFormat::Parquet) {
        let path = out_dir.join("export.parquet");
        let file = BufWriter::new(create(&path)?);
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        parquet = Some((writer, path.clone()));
        paths.push(path);
    }
    if args.formats.contains(&OutputFormat::Csv) {
        let path = out_dir.join("export.csv");
        // CsvWriter buffers internally.
        let writer = CsvWriter::new(create(&path)?)
            .include_header(true)
            .batched(&schema)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        csv = Some((writer, path.clone()));
        paths.push(path);
    }

    let chunks = args.rows.div_ceil(CHUNK_ROWS);
    for chunk in 0..chunks {
        let rows = CHUNK_ROWS.min(args.rows - chunk * CHUNK_ROWS);
        let df = generator
            .chunk(chunk as u64, rows)
            .map_err(|e| format!("cannot build rows: {e}"))?;
        if let Some((writer, path)) = parquet.as_mut() {
            writer
                .write_batch(&df)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        if let Some((writer, path)) = csv.as_mut() {
            writer
                .write_batch(&df)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }

    if let Some((writer, path)) = parquet {
        writer
            .finish()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some((mut writer, path)) = csv {
        writer
            .finish()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }

    let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok(format!(
        "wrote {} rows to {}",
        args.rows,
        if listed.is_empty() {
            "no files".to_string()
        } else {
            listed.join(", ")
        }
    ))
}

fn create(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Columns

/// Builders for one chunk, in output column order.
struct Columns {
    len: usize,
    contract_id: StringChunkedBuilder,
    kind_bsn: StringChunkedBuilder,
    kind_voornaam: StringChunkedBuilder,
    kind_tussenvoegsel: StringChunkedBuilder,
    kind_achternaam: StringChunkedBuilder,
    kind_geboortedatum: Vec<Option<i32>>,
    kind_geslacht: StringChunkedBuilder,
    ouder_bsn: StringChunkedBuilder,
    ouder_voornaam: StringChunkedBuilder,
    ouder_tussenvoegsel: StringChunkedBuilder,
    ouder_achternaam: StringChunkedBuilder,
    ouder_email: StringChunkedBuilder,
    ouder_telefoon: StringChunkedBuilder,
    straat: StringChunkedBuilder,
    huisnummer: StringChunkedBuilder,
    postcode: StringChunkedBuilder,
    woonplaats: StringChunkedBuilder,
    gemeentecode: StringChunkedBuilder,
    opvangsoort: StringChunkedBuilder,
    locatie: StringChunkedBuilder,
    contract_start: Vec<Option<i32>>,
    contract_einde: Vec<Option<i32>>,
    uren_per_maand: Vec<f64>,
    uurtarief: Vec<f64>,
    kinderopvangtoeslag: Vec<bool>,
    medische_info: StringChunkedBuilder,
    religie: StringChunkedBuilder,
    notities: StringChunkedBuilder,
    bezwaar_onderzoek: Vec<bool>,
    verwerking_beperkt: Vec<bool>,
}

impl Columns {
    fn new(capacity: usize) -> Self {
        let s = |name: &str| StringChunkedBuilder::new(name.into(), capacity);
        Columns {
            len: 0,
            contract_id: s("contract_id"),
            kind_bsn: s("kind_bsn"),
            kind_voornaam: s("kind_voornaam"),
            kind_tussenvoegsel: s("kind_tussenvoegsel"),
            kind_achternaam: s("kind_achternaam"),
            kind_geboortedatum: Vec::with_capacity(capacity),
            kind_geslacht: s("kind_geslacht"),
            ouder_bsn: s("ouder_bsn"),
            ouder_voornaam: s("ouder_voornaam"),
            ouder_tussenvoegsel: s("ouder_tussenvoegsel"),
            ouder_achternaam: s("ouder_achternaam"),
            ouder_email: s("ouder_email"),
            ouder_telefoon: s("ouder_telefoon"),
            straat: s("straat"),
            huisnummer: s("huisnummer"),
            postcode: s("postcode"),
            woonplaats: s("woonplaats"),
            gemeentecode: s("gemeentecode"),
            opvangsoort: s("opvangsoort"),
            locatie: s("locatie"),
            contract_start: Vec::with_capacity(capacity),
            contract_einde: Vec::with_capacity(capacity),
            uren_per_maand: Vec::with_capacity(capacity),
            uurtarief: Vec::with_capacity(capacity),
            kinderopvangtoeslag: Vec::with_capacity(capacity),
            medische_info: s("medische_info"),
            religie: s("religie"),
            notities: s("notities"),
            bezwaar_onderzoek: Vec::with_capacity(capacity),
            verwerking_beperkt: Vec::with_capacity(capacity),
        }
    }

    fn finish(self) -> PolarsResult<DataFrame> {
        let s = |b: StringChunkedBuilder| b.finish().into_series().into_column();
        let date = |name: &str, days: Vec<Option<i32>>| {
            Column::new(name.into(), days).cast(&DataType::Date)
        };
        let columns = vec![
            s(self.contract_id),
            s(self.kind_bsn),
            s(self.kind_voornaam),
            s(self.kind_tussenvoegsel),
            s(self.kind_achternaam),
            date("kind_geboortedatum", self.kind_geboortedatum)?,
            s(self.kind_geslacht),
            s(self.ouder_bsn),
            s(self.ouder_voornaam),
            s(self.ouder_tussenvoegsel),
            s(self.ouder_achternaam),
            s(self.ouder_email),
            s(self.ouder_telefoon),
            s(self.straat),
            s(self.huisnummer),
            s(self.postcode),
            s(self.woonplaats),
            s(self.gemeentecode),
            s(self.opvangsoort),
            s(self.locatie),
            date("contract_start", self.contract_start)?,
            date("contract_einde", self.contract_einde)?,
            Column::new("uren_per_maand".into(), self.uren_per_maand),
            Column::new("uurtarief".into(), self.uurtarief),
            Column::new("kinderopvangtoeslag".into(), self.kinderopvangtoeslag),
            s(self.medische_info),
            s(self.religie),
            s(self.notities),
            Column::new("bezwaar_onderzoek".into(), self.bezwaar_onderzoek),
            Column::new("verwerking_beperkt".into(), self.verwerking_beperkt),
        ];
        DataFrame::new(self.len, columns)
    }
}

// ---------------------------------------------------------------------------------------
// People, households and contracts

struct Parent {
    /// `"moeder"` or `"vader"`, for notes.
    rol: &'static str,
    /// The nine digits before damage, for notes that quote it.
    bsn_digits: [u8; 9],
    bsn: Option<String>,
    voornaam: Option<&'static str>,
    tussenvoegsel: Option<&'static str>,
    achternaam: Option<&'static str>,
    email: Option<String>,
    telefoon: Option<String>,
}

struct Household {
    parent: Parent,
    /// The children's surname.
    tussenvoegsel: Option<&'static str>,
    achternaam: &'static str,
    straat: &'static str,
    huisnummer: String,
    postcode: Option<String>,
    woonplaats: String,
    gemeentecode: &'static str,
    religie: Option<&'static str>,
    toeslag: bool,
    bezwaar: bool,
    beperkt: bool,
}

struct Child {
    bsn_digits: [u8; 9],
    bsn: Option<String>,
    voornaam: &'static str,
    geboren: i32,
    geboortedatum: Option<i32>,
    geslacht: &'static str,
    medisch: Option<String>,
}

struct Contract {
    soort: &'static str,
    locatie: &'static str,
    start: i32,
    einde: Option<i32>,
    uren: f64,
    tarief: f64,
    notitie: Option<String>,
}

struct Generator {
    seed: u64,
    bsn_keys: [u64; 4],
    geo: Geo,
}

impl Generator {
    fn new(seed: u64) -> Self {
        let mut state = seed ^ 0x6273_6e5f_6b65_7973; // "bsn_keys"
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix64(state)
        };
        Generator {
            seed,
            bsn_keys: [next(), next(), next(), next()],
            geo: Geo::new(),
        }
    }

    /// Rows `chunk * CHUNK_ROWS ..` of the export, `rows` of them.
    fn chunk(&self, chunk: u64, rows: usize) -> PolarsResult<DataFrame> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(chunk);
        let first = chunk * CHUNK_ROWS as u64;
        let mut cols = Columns::new(rows);
        let mut previous: Option<Household> = None;
        let mut child_no = 0;
        while cols.len < rows {
            // Each child takes at least one row, so `first + child_no` is a unique
            // person number across the whole export.
            let person = first + child_no;
            child_no += 1;
            let home = match previous.take() {
                // A sibling of the previous child.
                Some(home) if rng.random_bool(0.12) => home,
                _ => self.household(&mut rng, 2 * person + 1),
            };
            let child = self.child(&mut rng, 2 * person);
            let contracts = contracts(&mut rng, &child, &home);
            for contract in contracts.into_iter().take(rows - cols.len) {
                let id = first + cols.len as u64 + 1;
                push_row(&mut rng, &mut cols, id, &child, &home, &contract);
            }
            previous = Some(home);
        }
        cols.finish()
    }

    fn household(&self, rng: &mut ChaCha8Rng, person: u64) -> Household {
        let digits = bsn_for(person, &self.bsn_keys);
        let mother = rng.random_bool(0.75);
        let (p_tv, p_an) = surname(rng);
        // Most children carry this parent's surname; the rest the other parent's.
        let (tussenvoegsel, achternaam) = if rng.random_bool(0.7) {
            (p_tv, p_an)
        } else {
            surname(rng)
        };
        let bsn_null = rng.random_bool(0.03);
        let unknown = bsn_null && rng.random_bool(0.35);
        let bsn = if bsn_null {
            None
        } else {
            damage_bsn(rng, &digits)
        };
        let (rol, voornaam) = if mother {
            ("moeder", pick(rng, MOTHERS))
        } else {
            ("vader", pick(rng, FATHERS))
        };
        let parent = if unknown {
            Parent {
                rol,
                bsn_digits: digits,
                bsn,
                voornaam: None,
                tussenvoegsel: None,
                achternaam: None,
                email: None,
                telefoon: None,
            }
        } else {
            Parent {
                rol,
                bsn_digits: digits,
                bsn,
                voornaam: Some(voornaam),
                tussenvoegsel: p_tv,
                achternaam: Some(p_an),
                email: email(rng, voornaam, p_tv, p_an),
                telefoon: telefoon(rng),
            }
        };
        let (gemeente, pc4) = self.geo.place(rng);
        let woonplaats = if rng.random_bool(0.01) {
            if rng.random_bool(0.5) {
                gemeente.woonplaats.to_uppercase()
            } else {
                gemeente.woonplaats.to_lowercase()
            }
        } else {
            gemeente.woonplaats.to_string()
        };
        Household {
            parent,
            tussenvoegsel,
            achternaam,
            straat: if rng.random_bool(0.6) {
                pick(rng, gemeente.streets)
            } else {
                pick(rng, STREETS)
            },
            huisnummer: huisnummer(rng),
            postcode: postcode(rng, pc4),
            woonplaats,
            gemeentecode: gemeente.code,
            religie: if rng.random_bool(0.4) {
                Some(pick(rng, RELIGIONS))
            } else {
                None
            },
            toeslag: rng.random_bool(0.82),
            bezwaar: rng.random_bool(0.02),
            beperkt: rng.random_bool(0.005),
        }
    }

    fn child(&self, rng: &mut ChaCha8Rng, person: u64) -> Child {
        let digits = bsn_for(person, &self.bsn_keys);
        let bsn = if rng.random_bool(0.005) {
            None
        } else {
            damage_bsn(rng, &digits)
        };
        let (geslacht, voornaam) = match rng.random_range(0..100) {
            0..49 => ("M", pick(rng, BOYS)),
            49..98 => ("V", pick(rng, GIRLS)),
            _ => ("X", pick(rng, NEUTRAL)),
        };
        // Aged 0 to 12 on the reference day.
        let geboren = rng.random_range(days(2013, 11, 2)..=days(2026, 7, 1));
        let medisch = if rng.random_bool(0.15) {
            let first = pick(rng, MEDICAL);
            if rng.random_bool(0.1) {
                let second = pick(rng, MEDICAL);
                if second != first {
                    Some(format!("{first}, {second}"))
                } else {
                    Some(first.to_string())
                }
            } else {
                Some(first.to_string())
            }
        } else {
            None
        };
        Child {
            bsn_digits: digits,
            bsn,
            voornaam,
            geboren,
            geboortedatum: (!rng.random_bool(0.003)).then_some(geboren),
            geslacht,
            medisch,
        }
    }
}

/// One to three consecutive contracts: each ends the day before the next starts; the
/// last is running or ends some time after its start.
fn contracts(rng: &mut ChaCha8Rng, child: &Child, home: &Household) -> Vec<Contract> {
    let count = match rng.random_range(0..100) {
        0..50 => 1,
        50..85 => 2,
        _ => 3,
    };
    let earliest = days(2019, 1, 1).max(child.geboren + 70);
    let latest = days(2026, 10, 1);
    let mut starts: Vec<i32> = (0..count)
        .map(|_| {
            let day = rng.random_range(earliest..=latest);
            if rng.random_bool(0.8) {
                // Most contracts start on the first of a month.
                first_of_month(day).max(earliest)
            } else {
                day
            }
        })
        .collect();
    starts.sort_unstable();
    // A contract lasts at least two weeks before the next one replaces it.
    starts.dedup_by(|later, kept| *later - *kept < 14);
    let mut out = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let mut einde = match starts.get(i + 1) {
            Some(next) => Some(next - 1),
            None if rng.random_bool(0.65) => None,
            None => Some(start + rng.random_range(60..=1200)),
        };
        let age_days = start - child.geboren;
        let roll = rng.random_range(0..100);
        // Day care until the 4th birthday (1461 days on), toddler groups from the 2nd (at
        // most 731 days on), after-school care from the 4th; childminders take any age,
        // and contracts that start in the month before the 4th birthday.
        let soort = if age_days < 731 {
            if roll < 88 { DAGOPVANG } else { GASTOUDER }
        } else if age_days < 1431 {
            match roll {
                0..65 => DAGOPVANG,
                65..87 => PEUTEROPVANG,
                _ => GASTOUDER,
            }
        } else if age_days >= 1461 && roll < 90 {
            BSO
        } else {
            GASTOUDER
        };
        if soort == DAGOPVANG || soort == PEUTEROPVANG {
            let last_day = child.geboren + 1460;
            let running_past = einde.is_none() && last_day < REFERENCE_DAY;
            if running_past || einde.is_some_and(|e| e > last_day) {
                einde = Some(last_day);
            }
        }
        let (locaties, uren, cents): (&[&str], (u32, u32), (u32, u32)) = match soort {
            DAGOPVANG => (KDV, (400, 1800), (950, 1150)),
            PEUTEROPVANG => (PEUTER, (200, 500), (900, 1100)),
            BSO => (BSO_LOCATIES, (200, 1000), (850, 1050)),
            _ => (GASTOUDERBUREAUS, (200, 1600), (850, 980)),
        };
        out.push(Contract {
            soort,
            locatie: pick(rng, locaties),
            start,
            einde,
            uren: f64::from(rng.random_range(uren.0..=uren.1)) / 10.0,
            tarief: f64::from(rng.random_range(cents.0..=cents.1)) / 100.0,
            notitie: rng.random_bool(0.4).then(|| note(rng, child, &home.parent)),
        });
    }
    out
}

fn push_row(
    rng: &mut ChaCha8Rng,
    cols: &mut Columns,
    id: u64,
    child: &Child,
    home: &Household,
    contract: &Contract,
) {
    let parent = &home.parent;
    cols.len += 1;
    cols.contract_id.append_value(format!("C{id:07}"));
    cols.kind_bsn.append_option(child.bsn.as_deref());
    if rng.random_bool(0.01) {
        // The same child typed differently on this row.
        let style = rng.random_range(0..4);
        let both = rng.random_bool(0.5);
        let first_only = !both && rng.random_bool(0.5);
        let voornaam = if both || first_only {
            restyle(child.voornaam, style)
        } else {
            child.voornaam.to_string()
        };
        let achternaam = if both || !first_only {
            restyle(home.achternaam, style)
        } else {
            home.achternaam.to_string()
        };
        cols.kind_voornaam.append_value(voornaam);
        cols.kind_achternaam.append_value(achternaam);
    } else {
        cols.kind_voornaam.append_value(child.voornaam);
        cols.kind_achternaam.append_value(home.achternaam);
    }
    cols.kind_tussenvoegsel.append_option(home.tussenvoegsel);
    cols.kind_geboortedatum.push(child.geboortedatum);
    cols.kind_geslacht.append_value(child.geslacht);
    cols.ouder_bsn.append_option(parent.bsn.as_deref());
    cols.ouder_voornaam.append_option(parent.voornaam);
    cols.ouder_tussenvoegsel.append_option(parent.tussenvoegsel);
    cols.ouder_achternaam.append_option(parent.achternaam);
    cols.ouder_email.append_option(parent.email.as_deref());
    cols.ouder_telefoon
        .append_option(parent.telefoon.as_deref());
    cols.straat.append_value(home.straat);
    cols.huisnummer.append_value(&home.huisnummer);
    cols.postcode.append_option(home.postcode.as_deref());
    cols.woonplaats.append_value(&home.woonplaats);
    cols.gemeentecode.append_value(home.gemeentecode);
    cols.opvangsoort.append_value(contract.soort);
    cols.locatie.append_value(contract.locatie);
    cols.contract_start.push(Some(contract.start));
    cols.contract_einde.push(contract.einde);
    cols.uren_per_maand.push(contract.uren);
    cols.uurtarief.push(contract.tarief);
    cols.kinderopvangtoeslag.push(home.toeslag);
    cols.medische_info.append_option(child.medisch.as_deref());
    cols.religie.append_option(home.religie);
    cols.notities.append_option(contract.notitie.as_deref());
    cols.bezwaar_onderzoek.push(home.bezwaar);
    cols.verwerking_beperkt.push(home.beperkt);
}

/// A name in another case or with stray white space: `"  JAN "`, `"jansen"`.
fn restyle(name: &str, style: u32) -> String {
    match style {
        0 => name.to_uppercase(),
        1 => name.to_lowercase(),
        2 => format!("  {} ", name.to_uppercase()),
        _ => format!(" {name}  "),
    }
}

fn note(rng: &mut ChaCha8Rng, child: &Child, parent: &Parent) -> String {
    if rng.random_bool(0.02) {
        // A BSN typed into the notes: a leak for a later scrub to find.
        let (who, digits) = if parent.voornaam.is_some() && rng.random_bool(0.6) {
            (parent.rol, &parent.bsn_digits)
        } else {
            ("kind", &child.bsn_digits)
        };
        let bsn = match rng.random_range(0..10) {
            0 => format_bsn(digits, BsnStyle::Spaces),
            1 => format_bsn(digits, BsnStyle::Dots),
            _ => format_bsn(digits, BsnStyle::Plain),
        };
        return match rng.random_range(0..4) {
            0 => format!("bsn {who} {bsn} nagevraagd"),
            1 => format!("BSN {who}: {bsn} (gecontroleerd)"),
            2 => format!("Ouder gaf bsn {who} telefonisch door: {bsn}"),
            _ => format!("Toeslag: bsn {who} {bsn} klopt niet met SVB, navragen"),
        };
    }
    match parent.voornaam {
        Some(ouder) if rng.random_bool(0.15) => match rng.random_range(0..3) {
            0 => format!("{ouder} haalt op dinsdag en donderdag op"),
            1 => format!("{ouder} wil graag een oudergesprek"),
            _ => format!("Nieuw telefoonnummer {ouder} doorgegeven"),
        },
        _ => pick(rng, NOTES).to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// BSN

/// The elfproef: digits weighted 9, 8, ..., 2, -1 sum to a multiple of 11, not all zero.
fn elfproef(digits: &[u8; 9]) -> bool {
    let sum: i32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let weight = if i == 8 { -1 } else { 9 - i as i32 };
            weight * i32::from(d)
        })
        .sum();
    sum % 11 == 0 && digits.iter().any(|&d| d != 0)
}

/// A valid BSN for person number `person`, as digit values 0-9. Distinct person numbers
/// below 90 million get distinct BSNs: a keyed Feistel permutation of `0..90_000_000`
/// (cycle-walking on 28 bits) picks a 7-digit core and one of the at least nine
/// 8th digits for which a 9th check digit exists.
fn bsn_for(person: u64, keys: &[u64; 4]) -> [u8; 9] {
    const DOMAIN: u64 = 90_000_000;
    let mut v = person % DOMAIN;
    loop {
        v = feistel(v, keys);
        if v < DOMAIN {
            break;
        }
    }
    let (core, choice) = (v / 9, (v % 9) as usize);
    let mut digits = [0u8; 9];
    let mut rest = core;
    for d in digits[..7].iter_mut().rev() {
        *d = (rest % 10) as u8;
        rest /= 10;
    }
    let partial: u32 = digits[..7]
        .iter()
        .enumerate()
        .map(|(i, &d)| (9 - i as u32) * u32::from(d))
        .sum();
    // sum = partial + 2*d8 - d9 must be 0 mod 11, so d9 = (partial + 2*d8) mod 11,
    // which must be a digit; 2*d8 takes ten distinct residues, so at most one d8 fails.
    let mut options = [(0u8, 0u8); 10];
    let mut n = 0;
    for d8 in 0..10u32 {
        let d9 = (partial + 2 * d8) % 11;
        if d9 <= 9 && (core != 0 || d8 != 0) {
            options[n] = (d8 as u8, d9 as u8);
            n += 1;
        }
    }
    // Only core 0 has fewer than nine options (eight); its ninth shares the eighth's BSN.
    (digits[7], digits[8]) = options[choice.min(n - 1)];
    digits
}

/// A permutation of `0..2^28`: four rounds on two 14-bit halves.
fn feistel(v: u64, keys: &[u64; 4]) -> u64 {
    const MASK: u64 = (1 << 14) - 1;
    let (mut left, mut right) = (v >> 14, v & MASK);
    for key in keys {
        let f = mix64(right ^ key) & MASK;
        (left, right) = (right, left ^ f);
    }
    (left << 14) | right
}

/// SplitMix64's finaliser.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

enum BsnStyle {
    Plain,
    Spaces,
    Dots,
}

fn format_bsn(digits: &[u8; 9], style: BsnStyle) -> String {
    let mut out = String::with_capacity(11);
    for (i, &d) in digits.iter().enumerate() {
        match (&style, i) {
            (BsnStyle::Spaces, 4 | 6) => out.push(' '),
            (BsnStyle::Dots, 3 | 6) => out.push('.'),
            _ => {}
        }
        out.push(char::from(b'0' + d));
    }
    out
}

/// The BSN as it ends up in the export: ~1.5% with a one-digit typo that fails the
/// elfproef; a leading zero lost (eight digits) in half the BSNs that start with 0; of
/// the rest ~4% written `1234 56 782` and ~3% `123.456.782`.
fn damage_bsn(rng: &mut ChaCha8Rng, digits: &[u8; 9]) -> Option<String> {
    let mut digits = *digits;
    if rng.random_bool(0.015) {
        loop {
            let mut typo = digits;
            let pos = rng.random_range(0..9);
            typo[pos] = (typo[pos] + rng.random_range(1..10)) % 10;
            if !elfproef(&typo) {
                digits = typo;
                break;
            }
        }
    }
    if digits[0] == 0 && rng.random_bool(0.5) {
        // Opened in a spreadsheet as a number.
        let plain = format_bsn(&digits, BsnStyle::Plain);
        return Some(plain[1..].to_string());
    }
    let style = match rng.random_range(0..100) {
        0..4 => BsnStyle::Spaces,
        4..7 => BsnStyle::Dots,
        _ => BsnStyle::Plain,
    };
    Some(format_bsn(&digits, style))
}

// ---------------------------------------------------------------------------------------
// Addresses

struct Gemeente {
    code: &'static str,
    woonplaats: &'static str,
    pc4_first: u16,
    pc4_last: u16,
    /// Relative share of the households.
    weight: u32,
    streets: &'static [&'static str],
}

const GEMEENTEN: &[Gemeente] = &[
    Gemeente {
        code: "GM0344",
        woonplaats: "Utrecht",
        pc4_first: 3511,
        pc4_last: 3585,
        weight: 40,
        streets: &[
            "Oudegracht",
            "Biltstraat",
            "Amsterdamsestraatweg",
            "Kanaalstraat",
            "Burgemeester Reigerstraat",
            "Vleutenseweg",
            "Twijnstraat",
            "Croeselaan",
        ],
    },
    Gemeente {
        code: "GM0935",
        woonplaats: "Maastricht",
        pc4_first: 6211,
        pc4_last: 6229,
        weight: 22,
        streets: &[
            "Brusselsestraat",
            "Tongersestraat",
            "Sint Pieterstraat",
            "Avenue Céramique",
            "Boschstraat",
            "Scharnerweg",
        ],
    },
    Gemeente {
        code: "GM1883",
        woonplaats: "Sittard",
        pc4_first: 6130,
        pc4_last: 6139,
        weight: 20,
        streets: &[
            "Rijksweg Zuid",
            "Leyenbroekerweg",
            "Broeksittarderweg",
            "Engelenkampstraat",
            "Bergerweg",
        ],
    },
    Gemeente {
        code: "GM0917",
        woonplaats: "Heerlen",
        pc4_first: 6411,
        pc4_last: 6422,
        weight: 18,
        streets: &[
            "Akerstraat",
            "Geleenstraat",
            "Schaesbergerweg",
            "Kasteelweg",
            "Kissel",
        ],
    },
];

const STREETS: &[&str] = &[
    "Kerkstraat",
    "Molenweg",
    "Stationsstraat",
    "Julianastraat",
    "Wilhelminalaan",
    "Beatrixlaan",
    "Dorpsstraat",
    "Schoolstraat",
    "Nieuwstraat",
    "Lindenlaan",
    "Eikenlaan",
    "Burgemeester de Withstraat",
    "Prins Bernhardstraat",
    "Sint-Jozefstraat",
];

/// Municipalities and PC4 areas with cumulative weights; some areas are much rarer
/// than others (weight 1 against 8, 20 or 45, fixed per area whatever the seed).
struct Geo {
    gemeente_cumulative: Vec<u32>,
    pc4_cumulative: Vec<Vec<u32>>,
}

impl Geo {
    fn new() -> Self {
        let cumulative = |weights: &mut dyn Iterator<Item = u32>| {
            weights
                .scan(0, |acc, w| {
                    *acc += w;
                    Some(*acc)
                })
                .collect::<Vec<u32>>()
        };
        Geo {
            gemeente_cumulative: cumulative(&mut GEMEENTEN.iter().map(|g| g.weight)),
            pc4_cumulative: GEMEENTEN
                .iter()
                .map(|g| {
                    cumulative(&mut (g.pc4_first..=g.pc4_last).map(|pc4| {
                        match mix64(u64::from(pc4)) % 100 {
                            0..20 => 1,
                            20..50 => 8,
                            50..80 => 20,
                            _ => 45,
                        }
                    }))
                })
                .collect(),
        }
    }

    /// A municipality and one of its PC4 areas.
    fn place(&self, rng: &mut ChaCha8Rng) -> (&'static Gemeente, u16) {
        let index = weighted(rng, &self.gemeente_cumulative);
        let gemeente = &GEMEENTEN[index];
        let offset = weighted(rng, &self.pc4_cumulative[index]) as u16;
        (gemeente, gemeente.pc4_first + offset)
    }
}

/// An index drawn with the weights whose running totals are `cumulative`.
fn weighted(rng: &mut ChaCha8Rng, cumulative: &[u32]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0);
    if total == 0 {
        return 0;
    }
    let roll = rng.random_range(0..total);
    cumulative.partition_point(|&c| c <= roll)
}

/// Postcode letters: no F, I, O, Q, U or Y, and never SA, SD or SS.
const POSTCODE_LETTERS: &[u8] = b"ABCDEGHJKLMNPRSTVWXZ";

/// `6131AB` in one of four spellings; ~1% invalid (`613AB`, `0131AB`); ~0.5% null.
fn postcode(rng: &mut ChaCha8Rng, pc4: u16) -> Option<String> {
    if rng.random_bool(0.005) {
        return None;
    }
    let (first, second) = loop {
        let a = char::from(pick(rng, POSTCODE_LETTERS));
        let b = char::from(pick(rng, POSTCODE_LETTERS));
        if !(a == 'S' && matches!(b, 'A' | 'D' | 'S')) {
            break (a, b);
        }
    };
    let letters = format!("{first}{second}");
    if rng.random_bool(0.01) {
        let digits = pc4.to_string();
        return Some(if rng.random_bool(0.5) {
            format!("{}{letters}", &digits[..3])
        } else {
            format!("0{}{letters}", &digits[1..])
        });
    }
    Some(match rng.random_range(0..100) {
        0..50 => format!("{pc4}{letters}"),
        50..85 => format!("{pc4} {letters}"),
        85..92 => format!("{pc4} {}", letters.to_lowercase()),
        _ => format!("{pc4}{}", letters.to_lowercase()),
    })
}

fn huisnummer(rng: &mut ChaCha8Rng) -> String {
    let number = if rng.random_bool(0.7) {
        rng.random_range(1..=80)
    } else {
        rng.random_range(1..=250)
    };
    match rng.random_range(0..100) {
        0..85 => number.to_string(),
        85..95 => format!("{number}{}", pick(rng, &["a", "b", "c", "A", "bis"])),
        _ => format!("{number}-{}", rng.random_range(1..=4)),
    }
}

// ---------------------------------------------------------------------------------------
// Names and contact details

fn surname(rng: &mut ChaCha8Rng) -> (Option<&'static str>, &'static str) {
    if rng.random_bool(0.3) {
        let (tv, an) = pick(rng, SURNAMES_WITH_TUSSENVOEGSEL);
        (Some(tv), an)
    } else {
        (None, pick(rng, SURNAMES))
    }
}

/// `j.jansen@example.nl`, `sanne.devries@example.com`, `fatima87@example.com`; ~4% none.
fn email(
    rng: &mut ChaCha8Rng,
    voornaam: &str,
    tussenvoegsel: Option<&str>,
    achternaam: &str,
) -> Option<String> {
    if rng.random_bool(0.04) {
        return None;
    }
    let first = ascii_fold(voornaam);
    let last = ascii_fold(&format!("{}{achternaam}", tussenvoegsel.unwrap_or("")));
    let initial = first.chars().next().unwrap_or('x');
    Some(match rng.random_range(0..10) {
        0..5 => format!("{initial}.{last}@example.nl"),
        5..8 => format!("{first}.{last}@example.com"),
        _ => format!("{first}{}@example.com", rng.random_range(70..100)),
    })
}

/// Lower-case ASCII letters and digits of a name, diacritics dropped.
fn ascii_fold(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = match c {
                'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'Ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
                'í' | 'ì' | 'î' | 'ï' | 'ı' | 'İ' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ö' => 'o',
                'ú' | 'ù' | 'û' | 'ü' | 'Ü' => 'u',
                'ç' | 'Ç' => 'c',
                'ş' | 'Ş' => 's',
                'ğ' => 'g',
                'ñ' => 'n',
                c => c.to_ascii_lowercase(),
            };
            c.is_ascii_alphanumeric().then_some(c)
        })
        .collect()
}

/// `06-12345678` mostly, in a few other spellings; ~4% none.
fn telefoon(rng: &mut ChaCha8Rng) -> Option<String> {
    let number = rng.random_range(10_000_000..100_000_000u32);
    Some(match rng.random_range(0..100) {
        0..75 => format!("06-{number}"),
        75..87 => format!("06{number}"),
        87..93 => format!("+316{number}"),
        93..96 => format!("06 {} {:04}", number / 10_000, number % 10_000),
        _ => return None,
    })
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

// ---------------------------------------------------------------------------------------
// Dates (days since 1970-01-01, as Arrow Date32)

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
const fn days(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first day of the month that `day` falls in.
fn first_of_month(day: i32) -> i32 {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day_of_month = doy - (153 * mp + 2) / 5 + 1;
    day - day_of_month + 1
}

// ---------------------------------------------------------------------------------------
// Vocabulary

/// 2026-11-01, the day the export is as of: children are aged 0 to 12 then.
const REFERENCE_DAY: i32 = days(2026, 11, 1);

const DAGOPVANG: &str = "dagopvang";
const BSO: &str = "bso";
const PEUTEROPVANG: &str = "peuteropvang";
const GASTOUDER: &str = "gastouderopvang";

const KDV: &[&str] = &[
    "KDV De Regenboog",
    "KDV 't Kikkertje",
    "KDV De Zonnebloem",
    "Kinderdagverblijf Pinkeltje",
];
const BSO_LOCATIES: &[&str] = &["BSO Het Speelhuis", "BSO De Boomhut", "BSO Buitenkans"];
const PEUTER: &[&str] = &[
    "Peuteropvang Dikkertje Dap",
    "Peuterspeelzaal Het Mierennest",
];
const GASTOUDERBUREAUS: &[&str] = &[
    "Gastouderbureau Thuisgevoel",
    "Gastouderbureau De Knuffelbeer",
];

const BOYS: &[&str] = &[
    "Noah", "Sem", "Liam", "Lucas", "Daan", "Finn", "Levi", "Luuk", "Bram", "Mees", "Milan",
    "Jesse", "Thijs", "Mohammed", "Ömer", "Yusuf", "Adam", "Ayoub", "Jan", "Julian", "Hugo",
    "Gijs", "Teun", "Stijn", "Thomas", "Ilias", "Emir", "Mehmet", "Joël", "Rayan", "Duc", "Siem",
    "Jens", "Mateusz",
];
const GIRLS: &[&str] = &[
    "Emma",
    "Julia",
    "Tess",
    "Yara",
    "Fenna",
    "Mila",
    "Sophie",
    "Zoë",
    "Nora",
    "Saar",
    "Lotte",
    "Anna",
    "Evi",
    "Lieke",
    "Sara",
    "Daniëlle",
    "Anaïs",
    "Noor",
    "Fleur",
    "Maryam",
    "Aya",
    "Elif",
    "Ecem",
    "Chloë",
    "Noëlle",
    "Linh",
    "Hiba",
    "Liv",
    "Jasmijn",
    "Wies",
    "Zuzanna",
];
const NEUTRAL: &[&str] = &[
    "Sam", "Robin", "Kim", "Noa", "Charlie", "Luca", "Alex", "Jip",
];
const MOTHERS: &[&str] = &[
    "Sanne",
    "Laura",
    "Lisa",
    "Anouk",
    "Kim",
    "Iris",
    "Fatima",
    "Naima",
    "Esra",
    "Merve",
    "Daniëlle",
    "Marloes",
    "Linda",
    "Chantal",
    "Thi Hoa",
    "Inge",
    "Miriam",
    "Soraya",
    "Ayşe",
    "Renée",
    "Eline",
    "Joyce",
    "Nadia",
    "Hatice",
    "Agnieszka",
];
const FATHERS: &[&str] = &[
    "Mark", "Tim", "Jeroen", "Dennis", "Kevin", "Bas", "Mohamed", "Hassan", "Ahmet", "Mustafa",
    "Stefan", "René", "Joël", "Minh", "Sander", "Rob", "Youssef", "Emre", "Piotr", "Niels",
    "Frank", "Rachid", "Hüseyin",
];
const SURNAMES: &[&str] = &[
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Dijkstra",
    "Bos",
    "Peters",
    "Hendriks",
    "Janssen",
    "Willems",
    "Hermans",
    "Huijbers",
    "Vermeulen",
    "Schouten",
    "El Idrissi",
    "Yılmaz",
    "Öztürk",
    "Nguyen",
    "Çelik",
    "Kaya",
    "Demir",
    "El Amrani",
    "Benali",
    "Tran",
    "Pinas",
    "Martis",
    "Kowalski",
    "Nowak",
    "Bouzid",
    "Şahin",
    "Lemmens",
    "Claessens",
    "Berg",
    "Hof",
    "Horst",
    "Müller",
    "Hernández",
];
const SURNAMES_WITH_TUSSENVOEGSEL: &[(&str, &str)] = &[
    ("de", "Vries"),
    ("de", "Jong"),
    ("de", "Wit"),
    ("van", "Dijk"),
    ("van", "Leeuwen"),
    ("van", "Beek"),
    ("van der", "Berg"),
    ("van der", "Linden"),
    ("van den", "Heuvel"),
    ("van den", "Broek"),
    ("ter", "Horst"),
    ("ter", "Haar"),
    ("van 't", "Hof"),
    ("van 't", "Zand"),
    ("den", "Hartog"),
    ("den", "Boer"),
    ("in 't", "Veld"),
    ("in 't", "Zandt"),
];

const MEDICAL: &[&str] = &[
    "astma",
    "pinda-allergie",
    "koemelkallergie",
    "diabetes type 1",
    "epilepsie",
    "eczeem",
    "glutenintolerantie",
    "hartafwijking, controle UMC",
    "gehoorapparaat links",
    "ADHD, gebruikt medicatie",
];
const RELIGIONS: &[&str] = &[
    "rooms-katholiek",
    "rooms-katholiek",
    "protestant",
    "islam",
    "islam",
    "geen",
    "geen",
    "geen",
    "hindoeïsme",
    "joods",
    "boeddhisme",
];
const NOTES: &[&str] = &[
    "Ouder belt voor ophalen",
    "Allergie doorgeven aan keuken",
    "Opa haalt op woensdag op",
    "Wenperiode goed verlopen",
    "Factuur naar ander adres sturen",
    "Let op: alleen moeder mag ophalen",
    "Ophalen door oma, niet door vader",
    "Logopedie op woensdagochtend",
    "Broertje staat op de wachtlijst",
    "Slaapt 's middags 2 uur",
    "Vanaf 1 maart een extra dag",
    "Contract verlengd na overleg",
    "Noemt zichzelf \"Mimi\"",
    "Zwemles op vrijdag, eerder ophalen",
    "Machtiging incasso ontbreekt",
    "Geen foto's op social media",
];
