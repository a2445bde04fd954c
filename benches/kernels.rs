//! Kernel throughput (values/s) for the BSN and name pseudonym kernels, on 1, 2 and all
//! available threads, and the HMAC against this CPU's raw limit: the HMAC of a short
//! value with pre-keyed state is two SHA-256 compressions (`limit`).
//! The scrubber's throughput (bytes/s, one thread) on the notes of its corpus, which all
//! hold identifiers, and on notes without digits (the quick skip).
//! `cargo bench --no-default-features --bench kernels` (no polars to build).

use arrow::array::StringArray;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use doel::kernels::canonical;
use doel::kernels::columns;
use doel::kernels::keys::MasterKey;
use doel::kernels::scrub::{ScrubCounts, Scrubber};

const VALUES: usize = 200_000;

/// Valid BSNs, one in five written with spaces or dots as exports have them.
fn bsns() -> StringArray {
    let mut out = Vec::with_capacity(VALUES);
    let mut n: u64 = 100_000_000;
    while out.len() < VALUES {
        n += 7;
        let digits = format!("{n:09}");
        if canonical::bsn(&digits).is_some() {
            out.push(match out.len() % 5 {
                0 => format!("{} {} {}", &digits[..4], &digits[4..6], &digits[6..]),
                1 => format!("{}.{}.{}", &digits[..3], &digits[3..6], &digits[6..]),
                _ => digits,
            });
        }
    }
    StringArray::from(out)
}

/// Three name parts; a quarter of the first names carry diacritics (the non-ASCII path).
fn names() -> [StringArray; 3] {
    let first = [
        "Jan", "Zoë", "Noah", "Emma", "Sem", "Anaïs", "Julia", "Liam",
    ];
    let middle = [
        None,
        Some("van der"),
        None,
        Some("de"),
        None,
        Some("van 't"),
        None,
        None,
    ];
    let last = [
        "Jansen",
        "de Vries",
        "Bakker",
        "El Idrissi",
        "Visser",
        "Smit",
        "Yılmaz",
        "Berg",
    ];
    [
        StringArray::from_iter_values((0..VALUES).map(|i| first[i % 8])),
        StringArray::from_iter((0..VALUES).map(|i| middle[(i / 8) % 8])),
        StringArray::from_iter_values(
            (0..VALUES).map(|i| format!("{}{}", last[(i / 64) % 8], i % 1000)),
        ),
    ]
}

fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2, all];
    counts.sort_unstable();
    counts.dedup();
    counts
}

fn kernels(c: &mut Criterion) {
    let key = MasterKey::from_bytes([42; 32]);
    let domain = key.domain("bench");
    let bsn = columns::Encoder::Pseudonym(domain.pseudonymiser("bsn"));
    let name = columns::Encoder::Pseudonym(domain.pseudonymiser("name"));
    let bsns = bsns();
    let names = names();
    let mut group = c.benchmark_group("pseudonymise");
    group.throughput(Throughput::Elements(VALUES as u64));
    for threads in thread_counts() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        group.bench_with_input(BenchmarkId::new("bsn", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| columns::pseudonymise_bsn(&bsn, &bsns).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("name", threads), &threads, |b, _| {
            b.iter(|| {
                pool.install(|| {
                    columns::pseudonymise_name(&name, &[&names[0], &names[1], &names[2]]).unwrap()
                })
            })
        });
    }
    group.finish();
}

/// One thread: the pseudonym of a canonical BSN from the pre-keyed states
/// (`hmac`), against two bare SHA-256 compressions per value (`two_compressions`), the
/// least any HMAC-SHA256 of a message under 56 bytes can cost.
fn limit(c: &mut Criterion) {
    let key = MasterKey::from_bytes([42; 32]);
    let pseudonymiser = key.domain("bench").pseudonymiser("bsn");
    let canonical: Vec<[u8; 9]> = (0..VALUES)
        .map(|i| {
            let mut digits = [b'0'; 9];
            digits.copy_from_slice(format!("{:09}", 100_000_000 + i * 7).as_bytes());
            digits
        })
        .collect();
    let mut group = c.benchmark_group("limit");
    group.throughput(Throughput::Elements(VALUES as u64));
    group.bench_function("hmac", |b| {
        let mut out = [0u8; 32];
        b.iter(|| {
            for value in &canonical {
                pseudonymiser.write_hex(value, &mut out);
                std::hint::black_box(&out);
            }
        })
    });
    group.bench_function("two_compressions", |b| {
        // The inner block: the value and SHA-256 padding, as HMAC's inner hash sees it.
        let prekeyed = [0x6a09e667u32; 8];
        b.iter(|| {
            for value in &canonical {
                let mut block = [0u8; 64];
                block[..9].copy_from_slice(value);
                block[9] = 0x80;
                block[62..].copy_from_slice(&((64 + 9) as u16 * 8).to_be_bytes());
                let mut inner = prekeyed;
                sha2::block_api::compress256(&mut inner, &[block]);
                let mut outer_block = [0u8; 64];
                for (i, word) in inner.iter().enumerate() {
                    outer_block[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
                }
                outer_block[32] = 0x80;
                outer_block[62..].copy_from_slice(&((64 + 32) as u16 * 8).to_be_bytes());
                let mut outer = prekeyed;
                sha2::block_api::compress256(&mut outer, &[outer_block]);
                std::hint::black_box(&outer);
            }
        })
    });
    group.finish();
}

/// The corpus's notes with their markers (`{{kind:text}}`) taken out, escapes left as
/// they are.
fn corpus_notes() -> Vec<String> {
    include_str!("../tests/data/scrub/notes.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            let mut rest = line;
            while let Some(open) = rest.find("{{") {
                out.push_str(&rest[..open]);
                let inner = &rest[open + 2..];
                let close = inner.find("}}").unwrap_or(inner.len());
                let marked = &inner[..close];
                out.push_str(marked.split_once(':').map_or(marked, |(_, text)| text));
                rest = inner.get(close + 2..).unwrap_or("");
            }
            out.push_str(rest);
            out
        })
        .collect()
}

fn scrub(c: &mut Criterion) {
    let scrubber = Scrubber::new();
    let plain: Vec<String> = (0..400)
        .map(|i| {
            format!(
                "Kind {} vandaag goed gegeten, moeder gesproken over de wenperiode; \
                 opgehaald door oma, volgende week een gesprek met de mentor.",
                ["was", "had", "is"][i % 3]
            )
        })
        .collect();
    let mut group = c.benchmark_group("scrub");
    for (name, notes) in [("corpus_notes", corpus_notes()), ("plain_notes", plain)] {
        let bytes: usize = notes.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| {
            let (mut out, mut spare, mut counts) =
                (String::new(), String::new(), ScrubCounts::default());
            b.iter(|| {
                for note in &notes {
                    scrubber.scrub_into(note, &mut out, &mut spare, &mut counts);
                    std::hint::black_box(&out);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels, limit, scrub);
criterion_main!(benches);
