//! The scrubber's recall and false positives on the corpus in `tests/data/scrub/` (its
//! format is at the top of each file; the figures are in `docs/scrubbing.md`).
//!
//! Each note is scrubbed as a whole and the replaced spans recovered from the output, so
//! the figures are those of the real output: an identifier counts as found only if exactly
//! its text became its own kind's tag.
//!
//! `cargo test --no-default-features --test scrub_corpus -- --nocapture` prints the table.

mod fuzz_checks;

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use doel::kernels::scrub::{Identifier, ScrubCounts, Scrubber};

const ISSUE_FORMS: &str = include_str!("data/scrub/issue-forms.txt");
const NOTES: &str = include_str!("data/scrub/notes.txt");
const LOOK_ALIKES: &str = include_str!("data/scrub/look-alikes.txt");
const KNOWN_MISSES: &str = include_str!("data/scrub/known-misses.txt");
/// Notes and look-alikes written by a reviewer who had seen neither the scrubber nor the
/// corpus above: the check that the figures are not the author's own.
const INDEPENDENT: &str = include_str!("data/scrub/independent.txt");
const INDEPENDENT_LOOK_ALIKES: &str = include_str!("data/scrub/independent-look-alikes.txt");

/// The most false positives (look-alikes touched plus tags outside any marker) the
/// scrubber may make on the whole corpus: what was measured when the corpus was built
/// (see `docs/scrubbing.md`). A change that makes more fails here.
const MAX_FALSE_POSITIVES: usize = 4;

/// Recall required over the identifiers of `issue-forms.txt` and `notes.txt` together.
const MIN_RECALL: f64 = 0.99;

/// A marked part of a note: an identifier of a kind, or a look-alike (`None`) that stays.
struct Mark {
    range: Range<usize>,
    kind: Option<Identifier>,
}

struct Note {
    line: usize,
    text: String,
    marks: Vec<Mark>,
}

fn kind_named(name: &str) -> Option<Option<Identifier>> {
    if name == "keep" {
        return Some(None);
    }
    Identifier::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .map(Some)
}

/// One escape (after its `\`) from `chars`, appended to `out`.
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String) {
    match chars.next() {
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('t') => out.push('\t'),
        Some('\\') => out.push('\\'),
        Some('u') => {
            assert_eq!(chars.next(), Some('{'), "\\u needs {{hex}}");
            let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
            let code = u32::from_str_radix(&hex, 16).expect("a hex code point");
            out.push(char::from_u32(code).expect("a code point"));
        }
        other => panic!("unknown escape \\{other:?}"),
    }
}

fn parse(corpus: &str) -> Vec<Note> {
    let mut notes = Vec::new();
    for (i, line) in corpus.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (mut text, mut marks) = (String::new(), Vec::new());
        let mut rest = line;
        while let Some(open) = rest.find("{{") {
            push_unescaped(&rest[..open], &mut text);
            let after = &rest[open + 2..];
            let close = after.find("}}").expect("a marker ends with }}");
            let (name, value) = after[..close].split_once(':').expect("{{kind:text}}");
            let kind = kind_named(name).unwrap_or_else(|| panic!("line {}: kind {name:?}", i + 1));
            let start = text.len();
            push_unescaped(value, &mut text);
            marks.push(Mark {
                range: start..text.len(),
                kind,
            });
            rest = &after[close + 2..];
        }
        push_unescaped(rest, &mut text);
        for tag in Identifier::ALL.map(Identifier::tag) {
            assert!(!text.contains(tag), "line {}: a tag in the input", i + 1);
        }
        notes.push(Note {
            line: i + 1,
            text,
            marks,
        });
    }
    notes
}

fn push_unescaped(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            unescape(&mut chars, out);
        } else {
            out.push(c);
        }
    }
}

fn scrub(scrubber: &Scrubber, text: &str) -> (String, ScrubCounts) {
    let (mut out, mut spare, mut counts) = (String::new(), String::new(), ScrubCounts::default());
    scrubber.scrub_into(text, &mut out, &mut spare, &mut counts);
    (out, counts)
}

/// The spans of `input` that became tags in `output`, if `output` is `input` with
/// disjoint spans replaced by tags (the first such reading).
fn spans(input: &str, output: &str) -> Option<Vec<(Range<usize>, Identifier)>> {
    let (mut pieces, mut tags) = (Vec::new(), Vec::new());
    let mut rest = output;
    loop {
        let next = Identifier::ALL
            .into_iter()
            .filter_map(|k| rest.find(k.tag()).map(|at| (at, k)))
            .min_by_key(|(at, _)| *at);
        match next {
            Some((at, kind)) => {
                pieces.push(&rest[..at]);
                tags.push(kind);
                rest = &rest[at + kind.tag().len()..];
            }
            None => {
                pieces.push(rest);
                break;
            }
        }
    }
    fn align(
        input: &str,
        pos: usize,
        pieces: &[&str],
        tags: &[Identifier],
        found: &mut Vec<(Range<usize>, Identifier)>,
    ) -> bool {
        let Some((&kind, tags_after)) = tags.split_first() else {
            return pos == input.len();
        };
        let piece = pieces[0];
        for end in pos + 1..=input.len() {
            if !input.is_char_boundary(end) || !input[end..].starts_with(piece) {
                continue;
            }
            found.push((pos..end, kind));
            if align(input, end + piece.len(), &pieces[1..], tags_after, found) {
                return true;
            }
            found.pop();
        }
        false
    }
    let first = pieces[0];
    let mut found = Vec::new();
    (input.starts_with(first) && align(input, first.len(), &pieces[1..], &tags, &mut found))
        .then_some(found)
}

/// Per kind (in `Identifier::ALL` order): identifiers expected, found, missed, wrongly
/// kinded; and false positives per kind of tag.
#[derive(Default)]
struct Tally {
    expected: [usize; 5],
    found: [usize; 5],
    missed: [usize; 5],
    wrong_kind: [usize; 5],
    keep: usize,
    keep_touched: usize,
    /// Tags over a look-alike or over text outside every marker, per kind of tag.
    false_positive: [usize; 5],
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        for k in 0..5 {
            self.expected[k] += other.expected[k];
            self.found[k] += other.found[k];
            self.missed[k] += other.missed[k];
            self.wrong_kind[k] += other.wrong_kind[k];
            self.false_positive[k] += other.false_positive[k];
        }
        self.keep += other.keep;
        self.keep_touched += other.keep_touched;
        self.failures.extend(other.failures.iter().cloned());
    }

    fn total(a: &[usize; 5]) -> usize {
        a.iter().sum()
    }

    fn recall(&self) -> f64 {
        Self::total(&self.found) as f64 / Self::total(&self.expected).max(1) as f64
    }

    fn false_positives(&self) -> usize {
        Self::total(&self.false_positive)
    }
}

fn measure(file: &str, corpus: &str, scrubber: &Scrubber) -> Tally {
    let mut tally = Tally::default();
    for note in parse(corpus) {
        let (out, counts) = scrub(scrubber, &note.text);
        let found = spans(&note.text, &out).unwrap_or_else(|| {
            panic!(
                "{file}:{}: {out:?} is not {:?} with tags",
                note.line, note.text
            )
        });
        for kind in Identifier::ALL {
            let tagged = found.iter().filter(|(_, k)| *k == kind).count() as u64;
            assert_eq!(counts.get(kind), tagged, "{file}:{}: counts", note.line);
        }
        let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
        for mark in &note.marks {
            let near: Vec<_> = found
                .iter()
                .filter(|(r, _)| overlaps(r, &mark.range))
                .collect();
            let Some(kind) = mark.kind else {
                tally.keep += 1;
                if !near.is_empty() {
                    tally.keep_touched += 1;
                    tally.failures.push(format!(
                        "{file}:{}: look-alike {:?} touched: {out:?}",
                        note.line,
                        &note.text[mark.range.clone()]
                    ));
                }
                continue;
            };
            let k = kind as usize;
            tally.expected[k] += 1;
            if near.iter().any(|(r, f)| *r == mark.range && *f == kind) {
                tally.found[k] += 1;
            } else {
                let wrong = near.iter().any(|(_, f)| *f != kind);
                if wrong {
                    tally.wrong_kind[k] += 1;
                } else {
                    tally.missed[k] += 1;
                }
                tally.failures.push(format!(
                    "{file}:{}: {} {:?} {}: {out:?}",
                    note.line,
                    kind.name(),
                    &note.text[mark.range.clone()],
                    if wrong {
                        "taken as another kind"
                    } else {
                        "missed"
                    },
                ));
            }
        }
        for (range, kind) in &found {
            let on_identifier = note
                .marks
                .iter()
                .any(|m| m.kind.is_some() && overlaps(&m.range, range));
            if !on_identifier {
                tally.false_positive[*kind as usize] += 1;
                let marked_keep = note.marks.iter().any(|m| overlaps(&m.range, range));
                if !marked_keep {
                    tally.failures.push(format!(
                        "{file}:{}: {:?} outside every marker taken as {}: {out:?}",
                        note.line,
                        &note.text[range.clone()],
                        kind.name()
                    ));
                }
            }
        }
    }
    tally
}

fn table(rows: &[(&str, &Tally)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<18} {:<9} {:>8} {:>6} {:>6} {:>6} {:>8} {:>6}",
        "corpus", "kind", "expected", "found", "missed", "wrong", "recall", "fp"
    );
    for (name, t) in rows {
        for kind in Identifier::ALL {
            let k = kind as usize;
            if t.expected[k] == 0 && t.false_positive[k] == 0 {
                continue;
            }
            let recall = if t.expected[k] == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", 100.0 * t.found[k] as f64 / t.expected[k] as f64)
            };
            let _ = writeln!(
                s,
                "{:<18} {:<9} {:>8} {:>6} {:>6} {:>6} {:>8} {:>6}",
                name,
                kind.name(),
                t.expected[k],
                t.found[k],
                t.missed[k],
                t.wrong_kind[k],
                recall,
                t.false_positive[k]
            );
        }
        let _ = writeln!(
            s,
            "{:<18} {:<9} {:>8} {:>6} {:>6} {:>6} {:>8} {:>6}   look-alikes {} (touched {})",
            name,
            "all",
            Tally::total(&t.expected),
            Tally::total(&t.found),
            Tally::total(&t.missed),
            Tally::total(&t.wrong_kind),
            if Tally::total(&t.expected) == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", 100.0 * t.recall())
            },
            t.false_positives(),
            t.keep,
            t.keep_touched
        );
    }
    s
}

#[test]
fn recall_and_false_positives_on_the_corpus() {
    let scrubber = Scrubber::new();
    let issue = measure("issue-forms.txt", ISSUE_FORMS, &scrubber);
    let notes = measure("notes.txt", NOTES, &scrubber);
    let look = measure("look-alikes.txt", LOOK_ALIKES, &scrubber);
    let known = measure("known-misses.txt", KNOWN_MISSES, &scrubber);
    let independent = measure("independent.txt", INDEPENDENT, &scrubber);
    let independent_look = measure(
        "independent-look-alikes.txt",
        INDEPENDENT_LOOK_ALIKES,
        &scrubber,
    );
    let mut identifiers = Tally::default();
    identifiers.add(&issue);
    identifiers.add(&notes);
    identifiers.add(&independent);
    let mut all = Tally::default();
    all.add(&identifiers);
    all.add(&look);
    all.add(&independent_look);
    println!(
        "{}",
        table(&[
            ("issue-forms.txt", &issue),
            ("notes.txt", &notes),
            ("look-alikes.txt", &look),
            ("independent.txt", &independent),
            ("independent-look-alikes.txt", &independent_look),
            ("all (not known)", &all),
            ("known-misses.txt", &known),
        ])
    );
    for failure in &all.failures {
        println!("{failure}");
    }
    for failure in &known.failures {
        println!("(known) {failure}");
    }
    println!(
        "known misses (documented, not counted): {} of {} still not caught",
        Tally::total(&known.expected) - Tally::total(&known.found),
        Tally::total(&known.expected)
    );

    assert_eq!(
        Tally::total(&issue.found),
        Tally::total(&issue.expected),
        "every form the issue lists is caught"
    );
    assert_eq!(issue.keep_touched, 0, "the issue's look-alikes stay");
    assert!(
        identifiers.recall() >= MIN_RECALL,
        "recall {:.4} below {MIN_RECALL}",
        identifiers.recall()
    );
    assert!(
        Tally::total(&identifiers.expected) >= 300,
        "the corpus holds at least 300 identifiers"
    );
    assert!(
        all.false_positives() <= MAX_FALSE_POSITIVES,
        "{} false positives, at most {MAX_FALSE_POSITIVES} measured",
        all.false_positives()
    );
}

/// The fuzz target's invariants (idempotent, no BSN left, every tag counted) on every
/// corpus note, the fuzz target's seed corpus and the inputs it found crashes with.
#[test]
fn fuzz_invariants_hold_on_the_corpus() {
    for corpus in [
        ISSUE_FORMS,
        NOTES,
        LOOK_ALIKES,
        KNOWN_MISSES,
        INDEPENDENT,
        INDEPENDENT_LOOK_ALIKES,
    ] {
        for note in parse(corpus) {
            fuzz_checks::scrub(note.text.as_bytes());
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["fuzz/corpus/scrub", "tests/data/fuzz-regressions/scrub"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let data = std::fs::read(entry.expect("an entry").path()).expect("an input");
            fuzz_checks::scrub(&data);
        }
    }
}

#[test]
fn the_corpus_format_reads_back() {
    let notes = parse("# c\n\nbsn {{bsn:123\\u{a0}456\\n782}} en {{keep:12-03-2024}}\\t.\n");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].text, "bsn 123\u{a0}456\n782 en 12-03-2024\t.");
    assert_eq!(notes[0].marks[0].range, 4..16);
    assert_eq!(notes[0].marks[0].kind, Some(Identifier::Bsn));
    assert_eq!(notes[0].marks[1].kind, None);
    let found = spans("a 123456782 b", "a [BSN] b").unwrap();
    assert_eq!(found, vec![(2..11, Identifier::Bsn)]);
}
