//! Column kernels: one output array from one or more input arrays, computed in parallel
//! over fixed-size chunks with rayon. Every kernel reports a [`Tally`] of the values it
//! could not transform, so the caller can apply `on_invalid` and count by reason.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array, LargeStringArray,
    PrimitiveArray, StringArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;

use super::arrays::{Dates, KernelError, Numbers, Strings};
use super::canonical::{self, Reason};
use super::generalise::{self, AgeBands, Buckets};
use super::keys::{PSEUDONYM_HEX_LEN, Pseudonymiser, Tokeniser, US};
use super::scrub::{ScrubCounts, Scrubber};

/// Rows per parallel task: large enough to amortise scheduling, small enough to balance.
const CHUNK_ROWS: usize = 4096;

/// What became of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Value,
    Rejected(Reason),
}

/// Counts of the values a kernel could not transform (their outputs are null).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub missing: u64,
    pub invalid: u64,
    /// The first rejected row (0-based within the batch) and why.
    pub first_rejected: Option<(usize, Reason)>,
}

impl Tally {
    fn record(&mut self, row: usize, outcome: Outcome) {
        if let Outcome::Rejected(reason) = outcome {
            match reason {
                Reason::Missing => self.missing += 1,
                Reason::Invalid => self.invalid += 1,
            }
            if self.first_rejected.is_none_or(|(r, _)| row < r) {
                self.first_rejected = Some((row, reason));
            }
        }
    }

    fn merge(self, other: Self) -> Self {
        let first_rejected = match (self.first_rejected, other.first_rejected) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            missing: self.missing + other.missing,
            invalid: self.invalid + other.invalid,
            first_rejected,
        }
    }
}

/// A kernel's result: the output column and what it rejected.
pub type KernelOutput = (ArrayRef, Tally);

/// Fixed-width output of 32 hex characters per row, written in place in parallel.
fn hex_column<S: Send>(
    len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [u8; PSEUDONYM_HEX_LEN]) -> Outcome + Sync + Send,
) -> KernelOutput {
    let mut values = vec![0u8; len * PSEUDONYM_HEX_LEN];
    let mut valid = vec![false; len];
    let tally = values
        .par_chunks_mut(CHUNK_ROWS * PSEUDONYM_HEX_LEN)
        .zip(valid.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .map_init(init, |state, (chunk, (out, ok))| {
            let mut tally = Tally::default();
            let slots = out.chunks_exact_mut(PSEUDONYM_HEX_LEN);
            for (j, (slot, ok)) in slots.zip(ok.iter_mut()).enumerate() {
                let row = chunk * CHUNK_ROWS + j;
                let slot: &mut [u8; PSEUDONYM_HEX_LEN] = slot.try_into().expect("exact chunks");
                let outcome = f(state, row, slot);
                *ok = outcome == Outcome::Value;
                tally.record(row, outcome);
            }
            tally
        })
        .reduce(Tally::default, Tally::merge);
    // Null slots keep their zero bytes: Arrow leaves the contents under a null unspecified.
    let offsets = (0..=len).map(|i| i * PSEUDONYM_HEX_LEN);
    (string_array(offsets, values, valid), tally)
}

/// One parallel task's share of a text column: its bytes, each row's end offset within
/// them, validity, tally, and the task's own state (e.g. counts) for the caller.
struct TextChunk<S> {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    ok: Vec<bool>,
    tally: Tally,
    state: S,
}

/// Variable-width text output: each chunk of rows appends to its own buffer with a fresh
/// `init()` state, then the buffers are joined in order.
fn text_column<S: Send>(
    len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut Vec<u8>) -> Outcome + Sync + Send,
) -> KernelOutput {
    let (array, tally, _) = text_column_with_states(len, init, f);
    (array, tally)
}

/// [`text_column`], also returning every chunk's final state, in row order.
fn text_column_with_states<S: Send>(
    len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut Vec<u8>) -> Outcome + Sync + Send,
) -> (ArrayRef, Tally, Vec<S>) {
    let chunks: Vec<TextChunk<S>> = (0..len.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|chunk| {
            let rows = chunk * CHUNK_ROWS..((chunk + 1) * CHUNK_ROWS).min(len);
            let mut state = init();
            let (mut bytes, mut ends, mut ok) = (
                Vec::new(),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
            );
            let mut tally = Tally::default();
            for row in rows {
                let mark = bytes.len();
                let outcome = f(&mut state, row, &mut bytes);
                if outcome != Outcome::Value {
                    bytes.truncate(mark);
                }
                ends.push(bytes.len());
                ok.push(outcome == Outcome::Value);
                tally.record(row, outcome);
            }
            TextChunk {
                bytes,
                ends,
                ok,
                tally,
                state,
            }
        })
        .collect();
    let total: usize = chunks.iter().map(|c| c.bytes.len()).sum();
    let (mut values, mut offsets, mut valid) = (
        Vec::with_capacity(total),
        Vec::with_capacity(len + 1),
        Vec::with_capacity(len),
    );
    let mut tally = Tally::default();
    let mut states = Vec::with_capacity(chunks.len());
    offsets.push(0);
    for chunk in chunks {
        let base = values.len();
        values.extend_from_slice(&chunk.bytes);
        offsets.extend(chunk.ends.iter().map(|e| base + e));
        valid.extend(chunk.ok);
        tally = tally.merge(chunk.tally);
        states.push(chunk.state);
    }
    (
        string_array(offsets.into_iter(), values, valid),
        tally,
        states,
    )
}

/// A UTF-8 array with 32-bit offsets, or 64-bit ones when the values outgrow them.
fn string_array(
    offsets: impl Iterator<Item = usize>,
    values: Vec<u8>,
    valid: Vec<bool>,
) -> ArrayRef {
    let nulls = Some(NullBuffer::from(valid)).filter(|n| n.null_count() > 0);
    if i32::try_from(values.len()).is_ok() {
        let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(offsets.map(|o| o as i32)));
        Arc::new(StringArray::new(offsets, Buffer::from_vec(values), nulls))
    } else {
        let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(offsets.map(|o| o as i64)));
        Arc::new(LargeStringArray::new(
            offsets,
            Buffer::from_vec(values),
            nulls,
        ))
    }
}

/// Primitive output, computed in parallel; `Err` marks a rejected value.
fn primitive_column<T: ArrowPrimitiveType>(
    len: usize,
    f: impl Fn(usize) -> Result<T::Native, Reason> + Sync + Send,
) -> (PrimitiveArray<T>, Tally) {
    let mut values = vec![T::Native::default(); len];
    let mut valid = vec![false; len];
    let tally = values
        .par_chunks_mut(CHUNK_ROWS)
        .zip(valid.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .map(|(chunk, (out, ok))| {
            let mut tally = Tally::default();
            for (j, (slot, ok)) in out.iter_mut().zip(ok.iter_mut()).enumerate() {
                let row = chunk * CHUNK_ROWS + j;
                let outcome = match f(row) {
                    Ok(v) => {
                        *slot = v;
                        *ok = true;
                        Outcome::Value
                    }
                    Err(reason) => Outcome::Rejected(reason),
                };
                tally.record(row, outcome);
            }
            tally
        })
        .reduce(Tally::default, Tally::merge);
    let nulls = Some(NullBuffer::from(valid)).filter(|n| n.null_count() > 0);
    (
        PrimitiveArray::new(ScalarBuffer::from(values), nulls),
        tally,
    )
}

fn check_lengths(expected: usize, arrays: &[&dyn Array]) -> Result<(), KernelError> {
    match arrays.iter().find(|a| a.len() != expected) {
        Some(a) => Err(KernelError::LengthMismatch(expected, a.len())),
        None => Ok(()),
    }
}

/// What a canonical value becomes: a pseudonym (one-way) or a reversible token.
pub enum Encoder {
    Pseudonym(Pseudonymiser),
    /// Boxed: the AES key schedule is large.
    Token(Box<Tokeniser>),
}

/// The encoded column of `len` rows: `f` leaves each row's canonical form in
/// `scratch.message`, or says why it has none.
fn encoded_column(
    encoder: &Encoder,
    len: usize,
    f: impl Fn(&mut NameScratch, usize) -> Outcome + Sync + Send,
) -> KernelOutput {
    match encoder {
        Encoder::Pseudonym(p) => hex_column(len, NameScratch::default, |scratch, row, out| {
            let outcome = f(scratch, row);
            if outcome == Outcome::Value {
                p.write_hex(&scratch.message, out);
            }
            outcome
        }),
        Encoder::Token(t) => text_column(len, NameScratch::default, |scratch, row, out| {
            let outcome = f(scratch, row);
            if outcome == Outcome::Value {
                t.write_token(&scratch.message, out);
            }
            outcome
        }),
    }
}

/// Pseudonyms (or tokens) of BSNs (`kind = bsn`).
pub fn pseudonymise_bsn(
    encoder: &Encoder,
    values: &dyn Array,
) -> Result<KernelOutput, KernelError> {
    let values = Strings::try_new(values)?;
    Ok(encoded_column(encoder, values.len(), |scratch, row| {
        let v = values.get(row);
        if canonical::is_blank(v) {
            return Outcome::Rejected(Reason::Missing);
        }
        match v.and_then(canonical::bsn) {
            Some(bsn) => {
                scratch.message.clear();
                scratch.message.extend_from_slice(&bsn);
                Outcome::Value
            }
            None => Outcome::Rejected(Reason::Invalid),
        }
    }))
}

/// Reusable buffers for the name form, one set per parallel task.
#[derive(Default)]
struct NameScratch {
    joined: String,
    name: String,
    message: Vec<u8>,
}

fn name_outcome<'a>(
    parts: impl Iterator<Item = Option<&'a str>> + Clone,
    scratch: &mut NameScratch,
) -> Outcome {
    if parts.clone().all(|v| canonical::is_blank(v)) {
        return Outcome::Rejected(Reason::Missing);
    }
    if canonical::name(parts, &mut scratch.joined, &mut scratch.name) {
        Outcome::Value
    } else {
        Outcome::Rejected(Reason::Invalid)
    }
}

/// Pseudonyms (or tokens) of names made of one or more parts (`kind = name`), e.g.
/// voornaam, tussenvoegsel, achternaam.
pub fn pseudonymise_name(
    encoder: &Encoder,
    parts: &[&dyn Array],
) -> Result<KernelOutput, KernelError> {
    let parts: Vec<Strings> = parts
        .iter()
        .map(|a| Strings::try_new(*a))
        .collect::<Result<_, _>>()?;
    let len = parts.first().map_or(0, Strings::len);
    check_lengths(len, &parts_as_arrays(&parts))?;
    Ok(encoded_column(encoder, len, |scratch, row| {
        let outcome = name_outcome(parts.iter().map(|s| s.get(row)), scratch);
        if outcome == Outcome::Value {
            scratch.message.clear();
            scratch.message.extend_from_slice(scratch.name.as_bytes());
        }
        outcome
    }))
}

fn parts_as_arrays<'a>(parts: &[Strings<'a>]) -> Vec<&'a dyn Array> {
    parts
        .iter()
        .map(|s| match *s {
            Strings::Utf8(a) => a as &dyn Array,
            Strings::Large(a) => a as &dyn Array,
            Strings::View(a) => a as &dyn Array,
        })
        .collect()
}

/// One part of a composite linkage key, as arrays.
pub enum LinkSource<'a> {
    Date(&'a dyn Array),
    Name(Vec<&'a dyn Array>),
}

enum LinkPart<'a> {
    Date(Dates<'a>),
    Name(Vec<Strings<'a>>),
}

/// Pseudonyms (or tokens) of composite linkage keys (`kind = link`): the parts' canonical
/// forms joined with `US`, in the order given (`docs/spec/pseudonyms-v1.md §Canonical forms`,
/// `link`).
pub fn pseudonymise_link(
    encoder: &Encoder,
    sources: &[LinkSource],
) -> Result<KernelOutput, KernelError> {
    let mut parts = Vec::with_capacity(sources.len());
    let mut arrays: Vec<&dyn Array> = Vec::new();
    for source in sources {
        match source {
            LinkSource::Date(a) => {
                parts.push(LinkPart::Date(Dates::try_new(*a)?));
                arrays.push(*a);
            }
            LinkSource::Name(names) => {
                let names: Vec<Strings> = names
                    .iter()
                    .map(|a| Strings::try_new(*a))
                    .collect::<Result<_, _>>()?;
                arrays.extend(parts_as_arrays(&names));
                parts.push(LinkPart::Name(names));
            }
        }
    }
    let len = arrays.first().map_or(0, |a| a.len());
    check_lengths(len, &arrays)?;
    Ok(encoded_column(encoder, len, |scratch, row| {
        scratch.message.clear();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                scratch.message.push(US);
            }
            match part {
                LinkPart::Date(dates) => match dates.get(row) {
                    Ok(d) => write_iso(&mut scratch.message, d),
                    Err(reason) => return Outcome::Rejected(reason),
                },
                LinkPart::Name(names) => {
                    let outcome = name_outcome(names.iter().map(|s| s.get(row)), scratch);
                    if outcome != Outcome::Value {
                        return outcome;
                    }
                    scratch.message.extend_from_slice(scratch.name.as_bytes());
                }
            }
        }
        Outcome::Value
    }))
}

/// `YYYY-MM-DD`.
fn write_iso(out: &mut Vec<u8>, d: NaiveDate) {
    write_year_month(out, d);
    out.push(b'-');
    push_digits(out, d.day(), 2);
}

/// `YYYY-MM`, digit by digit: `write!` was 5 % of a research run. Years outside
/// 0..=9999 (which the date readers never return) are written as `write!` would.
fn write_year_month(out: &mut Vec<u8>, d: NaiveDate) {
    match u32::try_from(d.year()) {
        Ok(year) if year <= 9999 => push_digits(out, year, 4),
        _ => {
            use std::io::Write;
            write!(out, "{:04}", d.year()).expect("writing to a Vec");
        }
    }
    out.push(b'-');
    push_digits(out, d.month(), 2);
}

/// The last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
    }
}

/// Year of a date, as a 32-bit integer.
pub fn year(values: &dyn Array) -> Result<KernelOutput, KernelError> {
    let dates = Dates::try_new(values)?;
    let (array, tally) =
        primitive_column::<Int32Type>(dates.len(), |row| dates.get(row).map(|d| d.year()));
    Ok((Arc::new(array), tally))
}

/// `YYYY-MM` of a date.
pub fn month(values: &dyn Array) -> Result<KernelOutput, KernelError> {
    let dates = Dates::try_new(values)?;
    Ok(text_column(
        dates.len(),
        || (),
        |_, row, out| match dates.get(row) {
            Ok(d) => {
                write_year_month(out, d);
                Outcome::Value
            }
            Err(reason) => Outcome::Rejected(reason),
        },
    ))
}

/// Age band on `reference` of a birth date; a date after `reference` is invalid.
pub fn age_band(
    values: &dyn Array,
    reference: NaiveDate,
    bands: &AgeBands,
) -> Result<KernelOutput, KernelError> {
    let dates = Dates::try_new(values)?;
    Ok(text_column(
        dates.len(),
        || (),
        |_, row, out| {
            let age = dates
                .get(row)
                .and_then(|d| generalise::age_on(d, reference).ok_or(Reason::Invalid));
            match age {
                Ok(age) => {
                    out.extend_from_slice(bands.label(age).as_bytes());
                    Outcome::Value
                }
                Err(reason) => Outcome::Rejected(reason),
            }
        },
    ))
}

/// PC4 of a postcode.
pub fn pc4(values: &dyn Array) -> Result<KernelOutput, KernelError> {
    let values = Strings::try_new(values)?;
    Ok(text_column(
        values.len(),
        || (),
        |_, row, out| {
            let v = values.get(row);
            if canonical::is_blank(v) {
                return Outcome::Rejected(Reason::Missing);
            }
            match v.and_then(generalise::pc4) {
                Some(pc4) => {
                    out.extend_from_slice(pc4.as_bytes());
                    Outcome::Value
                }
                None => Outcome::Rejected(Reason::Invalid),
            }
        },
    ))
}

/// Bucket label of a number.
pub fn bucket(values: &dyn Array, buckets: &Buckets) -> Result<KernelOutput, KernelError> {
    let numbers = Numbers::try_new(values)?;
    Ok(text_column(
        numbers.len(),
        || (),
        |_, row, out| match numbers
            .get(row)
            .and_then(|v| buckets.label(v).ok_or(Reason::Invalid))
        {
            Ok(label) => {
                out.extend_from_slice(label.as_bytes());
                Outcome::Value
            }
            Err(reason) => Outcome::Rejected(reason),
        },
    ))
}

/// A floating-point column kept as it is, but for NaN and ±inf, which become null and
/// are counted as invalid (released, they would be published in a table's sums and
/// decide its cells' suppression). `None` when the column holds no float or none of
/// those: it is released as it is.
pub fn finite(values: &dyn Array) -> Option<(ArrayRef, Tally)> {
    use arrow::array::AsArray;
    use arrow::datatypes::Float32Type;
    let floats: Float64Array = match values.data_type() {
        arrow::datatypes::DataType::Float64 => values.as_primitive::<Float64Type>().clone(),
        arrow::datatypes::DataType::Float32 => {
            values.as_primitive::<Float32Type>().unary(f64::from)
        }
        _ => return None,
    };
    let any = floats.iter().flatten().any(|v| !v.is_finite());
    if !any {
        return None;
    }
    let mut tally = Tally::default();
    let kept: Float64Array = floats
        .iter()
        .enumerate()
        .map(|(row, v)| match v {
            Some(v) if !v.is_finite() => {
                tally.record(row, Outcome::Rejected(Reason::Invalid));
                None
            }
            other => other,
        })
        .collect();
    let kept = arrow::compute::cast(&kept, values.data_type()).ok()?;
    Some((kept, tally))
}

/// Values above `max` replaced by `max`; integers stay integers (with `max` rounded down).
pub fn top_code(values: &dyn Array, max: f64) -> Result<KernelOutput, KernelError> {
    let numbers = Numbers::try_new(values)?;
    Ok(match numbers {
        Numbers::Int(ints) => {
            let cap = max.floor() as i64;
            let (array, tally): (Int64Array, Tally) =
                primitive_column::<Int64Type>(ints.len(), |row| {
                    if ints.is_null(row) {
                        Err(Reason::Missing)
                    } else {
                        Ok(ints.value(row).min(cap))
                    }
                });
            (Arc::new(array), tally)
        }
        _ => {
            let (array, tally): (Float64Array, Tally) =
                primitive_column::<Float64Type>(numbers.len(), |row| {
                    numbers.get(row).map(|v| v.min(max))
                });
            (Arc::new(array), tally)
        }
    })
}

/// A yes/no value as exports write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Yes,
    No,
    /// Null, empty or white space.
    Missing,
    /// Text that is not one of the recognised yes/no words.
    Unreadable,
}

/// Yes/no flags from a boolean column or text: `true/false`, `ja/nee`, `j/n`, `yes/no`,
/// `y/n`, `1/0`, `t/f`, `waar/onwaar`, in any case, surrounding white space ignored.
pub fn flags(values: &dyn Array) -> Result<Vec<Flag>, KernelError> {
    if let Some(booleans) = values.as_any().downcast_ref::<arrow::array::BooleanArray>() {
        return Ok((0..booleans.len())
            .map(|i| match booleans.is_valid(i).then(|| booleans.value(i)) {
                Some(true) => Flag::Yes,
                Some(false) => Flag::No,
                None => Flag::Missing,
            })
            .collect());
    }
    const YES: [&str; 8] = ["true", "ja", "j", "yes", "y", "1", "t", "waar"];
    const NO: [&str; 7] = ["false", "nee", "n", "no", "0", "f", "onwaar"];
    let text = Strings::try_new(values)?;
    Ok((0..text.len())
        .map(|i| match text.get(i).map(str::trim) {
            None | Some("") => Flag::Missing,
            Some(v) if YES.iter().any(|w| v.eq_ignore_ascii_case(w)) => Flag::Yes,
            Some(v) if NO.iter().any(|w| v.eq_ignore_ascii_case(w)) => Flag::No,
            Some(_) => Flag::Unreadable,
        })
        .collect())
}

/// Where a value stands against its retention term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Within its term, or its term has not started (no anchor date: a contract still
    /// running).
    Within,
    /// The anchor lies before the cutoff (see
    /// [`retention_cutoff`](super::generalise::retention_cutoff)).
    Past,
    /// The anchor is no date, so nothing shows the term is still running: treated as past.
    Undated,
}

impl Expiry {
    /// Whether the value may not be released.
    pub fn is_past(self) -> bool {
        self != Self::Within
    }
}

/// Per row, where the date in `anchors` stands against a term ending at `cutoff`.
pub fn expired(anchors: &dyn Array, cutoff: NaiveDate) -> Result<Vec<Expiry>, KernelError> {
    let dates = Dates::try_new(anchors)?;
    Ok((0..dates.len())
        .map(|i| match dates.get(i) {
            Ok(date) if date < cutoff => Expiry::Past,
            Ok(_) | Err(Reason::Missing) => Expiry::Within,
            Err(Reason::Invalid) => Expiry::Undated,
        })
        .collect())
}

/// Free text with identifiers replaced by tags (see [`Scrubber`]), and how many of each
/// kind were replaced. A null stays null (counted as missing).
pub fn scrub(
    values: &dyn Array,
    scrubber: &Scrubber,
) -> Result<(ArrayRef, Tally, ScrubCounts), KernelError> {
    let values = Strings::try_new(values)?;
    let (array, tally, states) = text_column_with_states(
        values.len(),
        || (String::new(), String::new(), ScrubCounts::default()),
        |(out, spare, counts), row, bytes| match values.get(row) {
            Some(text) => {
                scrubber.scrub_into(text, out, spare, counts);
                bytes.extend_from_slice(out.as_bytes());
                Outcome::Value
            }
            None => Outcome::Rejected(Reason::Missing),
        },
    );
    let mut counts = ScrubCounts::default();
    for (_, _, chunk_counts) in &states {
        counts.add(chunk_counts);
    }
    Ok((array, tally, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::keys::MasterKey;
    use arrow::array::{AsArray, Date32Array, StringViewArray};

    fn pseudonymiser(kind: &str) -> Pseudonymiser {
        MasterKey::from_bytes([1; 32])
            .domain("d")
            .pseudonymiser(kind)
    }

    #[test]
    fn dates_are_written_digit_by_digit_as_format_writes_them() {
        let first = NaiveDate::from_ymd_opt(-1, 12, 31).unwrap();
        let last = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        for d in first.iter_days().step_by(13).take_while(|d| *d <= last) {
            let (mut iso, mut month) = (Vec::new(), Vec::new());
            write_iso(&mut iso, d);
            write_year_month(&mut month, d);
            let (y, m) = (d.year(), d.month());
            assert_eq!(iso, format!("{y:04}-{m:02}-{:02}", d.day()).as_bytes());
            assert_eq!(month, format!("{y:04}-{m:02}").as_bytes());
        }
    }

    #[test]
    fn retention_terms_pass_before_the_cutoff_and_never_without_an_anchor() {
        let reference = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let cutoff = generalise::retention_cutoff(reference, 2);
        assert_eq!(cutoff, NaiveDate::from_ymd_opt(2024, 11, 23).unwrap());
        let leap = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        assert_eq!(
            generalise::retention_cutoff(leap, 1),
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()
        );
        let anchors = StringArray::from(vec![
            Some("2024-11-22"),
            Some("2024-11-23"),
            None,
            Some(" "),
            Some("eind 2020"),
        ]);
        use Expiry::*;
        assert_eq!(
            expired(&anchors, cutoff).unwrap(),
            [Past, Within, Within, Within, Undated]
        );
        let days = Date32Array::from(vec![Some(0), None]);
        assert_eq!(expired(&days, cutoff).unwrap(), [Past, Within]);
    }

    #[test]
    fn bsn_kernel_counts_by_reason_and_keeps_row_order() {
        let values = StringArray::from(vec![
            Some("123456782"),
            None,
            Some("  "),
            Some("123456789"),
            Some("1234.56.782"),
        ]);
        let p = pseudonymiser("bsn");
        let (out, tally) = pseudonymise_bsn(&Encoder::Pseudonym(p.clone()), &values).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), p.pseudonym(b"123456782"));
        assert_eq!(out.value(4), out.value(0));
        assert_eq!((out.null_count(), tally.missing, tally.invalid), (3, 2, 1));
        assert_eq!(tally.first_rejected, Some((1, Reason::Missing)));
    }

    #[test]
    fn token_kernel_matches_the_tokeniser_and_opens_back() {
        let key = MasterKey::from_bytes([1; 32]);
        let values = StringArray::from(vec![Some("1234.56.782"), Some("123456789"), None]);
        let encoder = Encoder::Token(Box::new(key.tokeniser("d", "bsn")));
        let (out, tally) = pseudonymise_bsn(&encoder, &values).unwrap();
        let out = out.as_string::<i32>();
        let t = key.tokeniser("d", "bsn");
        assert_eq!(out.value(0), t.token(b"123456782"));
        assert_eq!(t.open(out.value(0)).unwrap().as_slice(), b"123456782");
        assert!(key.tokeniser("d", "name").open(out.value(0)).is_none());
        assert!(key.tokeniser("e", "bsn").open(out.value(0)).is_none());
        assert_eq!((out.null_count(), tally.invalid, tally.missing), (2, 1, 1));
    }

    #[test]
    fn kernels_accept_every_string_layout() {
        let p = Encoder::Pseudonym(pseudonymiser("name"));
        let utf8 = StringArray::from(vec!["Zoë"]);
        let view = StringViewArray::from(vec!["zoe"]);
        let large = LargeStringArray::from(vec!["ZOE"]);
        let a = pseudonymise_name(&p, &[&utf8]).unwrap().0;
        let b = pseudonymise_name(&p, &[&view]).unwrap().0;
        let c = pseudonymise_name(&p, &[&large]).unwrap().0;
        assert_eq!(a.as_string::<i32>().value(0), b.as_string::<i32>().value(0));
        assert_eq!(a.as_string::<i32>().value(0), c.as_string::<i32>().value(0));
    }

    #[test]
    fn parallel_chunks_join_in_order() {
        let n = CHUNK_ROWS * 3 + 17;
        let values: Vec<Option<String>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| format!("{}AB", 1000 + i % 9000)))
            .collect();
        let array = StringArray::from(values.clone());
        let (out, tally) = pc4(&array).unwrap();
        let out = out.as_string::<i32>();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                out.is_valid(i).then(|| out.value(i)),
                v.as_deref().map(|s| &s[..4])
            );
        }
        assert_eq!(tally.missing as usize, n.div_ceil(5));
    }

    #[test]
    fn date_kernels() {
        let days = Date32Array::from(vec![Some(17982), None]); // 2019-03-27
        let (years, _) = year(&days).unwrap();
        assert_eq!(years.as_primitive::<Int32Type>().value(0), 2019);
        let (months, tally) = month(&StringArray::from(vec!["2019-03-27", "27-03-2019"])).unwrap();
        assert_eq!(months.as_string::<i32>().value(0), "2019-03");
        assert_eq!(tally.invalid, 1);
        let bands = AgeBands::new(&[0, 4, 12]).unwrap();
        let (out, tally) = age_band(&days, "2026-03-27".parse().unwrap(), &bands).unwrap();
        assert_eq!(out.as_string::<i32>().value(0), "4-11");
        assert_eq!(tally.missing, 1);
    }

    #[test]
    fn scrub_kernel_counts_across_chunks() {
        let n = CHUNK_ROWS * 2 + 5;
        let notes = StringArray::from_iter((0..n).map(|i| match i % 3 {
            0 => Some("bsn 123456782 nagevraagd"),
            1 => None,
            _ => Some("niets bijzonders"),
        }));
        let (out, tally, counts) = scrub(&notes, &Scrubber::new()).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "bsn [BSN] nagevraagd");
        assert_eq!(out.value(2), "niets bijzonders");
        assert!(out.is_null(1));
        assert_eq!(
            counts.get(crate::kernels::scrub::Identifier::Bsn) as usize,
            n.div_ceil(3)
        );
        assert_eq!(tally.missing as usize, (n + 1) / 3);
    }

    #[test]
    fn flags_from_booleans_and_text() {
        let text = StringArray::from(vec![
            Some(" Ja"),
            Some("0"),
            None,
            Some("misschien"),
            Some("TRUE"),
        ]);
        assert_eq!(
            flags(&text).unwrap(),
            [
                Flag::Yes,
                Flag::No,
                Flag::Missing,
                Flag::Unreadable,
                Flag::Yes
            ]
        );
        let booleans = arrow::array::BooleanArray::from(vec![Some(true), None]);
        assert_eq!(flags(&booleans).unwrap(), [Flag::Yes, Flag::Missing]);
    }

    #[test]
    fn numeric_kernels() {
        let ints = Int64Array::from(vec![Some(3), Some(25), None]);
        let (out, tally) = top_code(&ints, 18.0).unwrap();
        assert_eq!(out.as_primitive::<Int64Type>().values(), &[3, 18, 0]);
        assert_eq!(tally.missing, 1);
        let text = StringArray::from(vec!["12.5", "abc"]);
        let (out, tally) = bucket(&text, &Buckets::new(&[0.0, 10.0]).unwrap()).unwrap();
        assert_eq!(out.as_string::<i32>().value(0), ">=10");
        assert_eq!(tally.invalid, 1);
    }
}
