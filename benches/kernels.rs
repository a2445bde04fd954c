//! Kernel throughput (values/s) for the BSN and name pseudonym kernels, on 1, 2 and all
//! available threads. `cargo bench --bench kernels`.

use arrow::array::StringArray;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use doel::kernels::batch;
use doel::kernels::canonical;
use doel::kernels::keys::MasterKey;

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
    let bsn = batch::Encoder::Pseudonym(domain.pseudonymiser("bsn"));
    let name = batch::Encoder::Pseudonym(domain.pseudonymiser("name"));
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
            b.iter(|| pool.install(|| batch::pseudonymise_bsn(&bsn, &bsns).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("name", threads), &threads, |b, _| {
            b.iter(|| {
                pool.install(|| {
                    batch::pseudonymise_name(&name, &[&names[0], &names[1], &names[2]]).unwrap()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
