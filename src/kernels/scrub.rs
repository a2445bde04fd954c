//! Free-text scrubbing: identifiers that staff type into notes — BSNs, IBANs, e-mail
//! addresses, Dutch phone numbers, postcodes — replaced by a tag naming their kind.
//!
//! `docs/scrubbing.md` describes the forms accepted and the recall measured on the corpus
//! in `tests/data/scrub/`. In short:
//!
//! * The text is first read through a normalised view: Unicode spaces, tabs and line
//!   breaks become a space, Unicode dashes and minus signs a hyphen, full-width forms
//!   (`１２３`, `＠`) their ASCII characters; zero-width characters and soft hyphens are
//!   left out (a run of digits broken by one counts as two groups). Matching runs on that
//!   view; a map from each of its bytes to the original text lets the replacement cut the
//!   original at the right offsets.
//! * Each kind is found by a pattern (or, for IBANs and BSNs, by walking groups of letters
//!   and digits) and, where one exists, confirmed by its checksum: the elfproef for BSNs,
//!   mod-97 for IBANs.
//! * The kinds claim text in order — e-mail, IBAN, phone, BSN, postcode — and a later kind
//!   never takes a character an earlier one claimed, so no identifier is partly replaced
//!   as another kind. All replacements of a pass are cut at once.
//! * Passes repeat until one replaces nothing: a tag can make a boundary that confirms an
//!   identifier the text around it had hidden. The tags hold no digit or `@`.

use std::cell::RefCell;

use regex::Regex;

use super::canonical;

/// The kinds of identifier the scrubber replaces, in the order they claim text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    Email,
    Iban,
    Phone,
    Bsn,
    Postcode,
}

/// An optional separator between the digit groups of a phone number, in the normalised
/// view: one `-`, `.` or `/` with up to three spaces either side, or one to four spaces.
macro_rules! sep {
    () => {
        r"(?: {0,3}[-./] {0,3}| {1,4})?"
    };
}

/// +31, 0031, (+31) or (0), or a leading 0 (with the area code in parentheses or not),
/// then the nine digits of the national number with optional separators: 06-12345678,
/// (020) 123 45 67, +31 (0)6 1234 5678, 06.12.34.56.78.
#[rustfmt::skip]
const PHONE: &str = concat!(
    r"(?:\+31|0031|\(\+31\))(?:", sep!(), r"\(0\))?", sep!(), r"[1-9](?:", sep!(), r"[0-9]){8}",
    r"|\(0\)", sep!(), r"[1-9](?:", sep!(), r"[0-9]){8}",
    r"|\(0[1-9]\)", sep!(), r"[0-9](?:", sep!(), r"[0-9]){7}",
    r"|\(0[1-9][0-9]\)", sep!(), r"[0-9](?:", sep!(), r"[0-9]){6}",
    r"|\(0[1-9][0-9]{2}\)", sep!(), r"[0-9](?:", sep!(), r"[0-9]){5}",
    r"|0[1-9](?:", sep!(), r"[0-9]){8}",
);

impl Identifier {
    pub const ALL: [Self; 5] = [
        Self::Email,
        Self::Iban,
        Self::Phone,
        Self::Bsn,
        Self::Postcode,
    ];

    /// What replaces a found identifier.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Email => "[EMAIL]",
            Self::Iban => "[IBAN]",
            Self::Phone => "[TELEFOON]",
            Self::Bsn => "[BSN]",
            Self::Postcode => "[POSTCODE]",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Iban => "iban",
            Self::Phone => "phone",
            Self::Bsn => "bsn",
            Self::Postcode => "postcode",
        }
    }

    /// The shape of a whole identifier of this kind in normalised text (ASCII spaces and
    /// hyphens). The scrubber uses the e-mail, phone and postcode patterns to find
    /// candidates, which still need confirming; it finds IBANs and BSNs by walking their
    /// groups, which these two patterns describe for a value that is one as a whole
    /// (`doel scan`).
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            // Letters and digits of any script: `josé.müller@voorbeeld.nl`, `info@bücher.de`;
            // a space either side of the `@` is taken too.
            Self::Email => concat!(
                r"[\p{L}\p{N}_%+-](?:[\p{L}\p{N}._%+'-]*[\p{L}\p{N}_%+-])? ?@ ?",
                r"[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?",
                r"(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,}",
            ),
            // Any case, any grouping: `NL91ABNA0417164300`, `nl91 abna 0417 1643 00`,
            // `NL 91 ABNA 041716 4300`.
            Self::Iban => r"[A-Za-z]{2} ?[0-9]{2}(?:(?: {1,3}|[-.])?[A-Za-z0-9]+)+",
            Self::Phone => PHONE,
            // Groups of digits, 8 or 9 in all, joined by spaces, `-`, ` - `, `.`, `/` or `,`.
            Self::Bsn => r"[0-9]{1,9}(?:(?: {1,4}| {0,3}- {0,3}|[./,])[0-9]{1,9})*",
            // `1234 AB`, `1234AB`, `1234-AB`, `1234  ab`; the letters are checked apart.
            Self::Postcode => r"[1-9][0-9]{3}(?: {1,2}|-)?[A-Za-z]{2}",
        }
    }
}

/// The start of an IBAN: country code and check digits, `NL91`, `nl 91`.
const IBAN_HEAD: &str = r"[A-Za-z]{2} ?[0-9]{2}";

/// Letter pairs that after a four-digit number and a space are more often a word than a
/// postcode, unless written in capitals (`in 2019 de eerste keer`, `vanaf 2024 op di`):
/// Dutch and English two-letter words and weekday abbreviations.
const WORD_PAIRS: &[&[u8; 2]] = &[
    b"aa", b"af", b"al", b"am", b"an", b"as", b"at", b"be", b"by", b"bv", b"da", b"de", b"di",
    b"do", b"el", b"en", b"er", b"eu", b"ga", b"ge", b"go", b"ha", b"he", b"ie", b"if", b"ik",
    b"in", b"is", b"it", b"ja", b"je", b"jl", b"jr", b"la", b"ma", b"me", b"my", b"na", b"no",
    b"nu", b"of", b"oh", b"ok", b"om", b"on", b"op", b"or", b"pa", b"pm", b"so", b"te", b"to",
    b"tv", b"up", b"us", b"vr", b"wc", b"we", b"wo", b"za", b"ze", b"zo",
];

/// Units that follow a four-digit quantity, with or without a space, unless written in
/// capitals (`1500 ml`, `1000mg`, `1200 km`).
const UNIT_PAIRS: &[&[u8; 2]] = &[
    b"cc", b"cl", b"cm", b"ct", b"dl", b"gb", b"gr", b"hz", b"kb", b"kg", b"km", b"kw", b"mb",
    b"mg", b"ml", b"mm", b"pk", b"st",
];

/// mod-97 of an IBAN with its separators (white space, `-`, `.`) left out, in any case:
/// the first four characters moved to the end, letters as 10..35, the remainder must be 1.
pub(crate) fn iban_checksum(candidate: &str) -> bool {
    let mut compact = [0u8; 34];
    let mut len = 0;
    for c in candidate.chars() {
        if c.is_whitespace() || c == '-' || c == '.' {
            continue;
        }
        if !c.is_ascii_alphanumeric() || len == compact.len() {
            return false;
        }
        compact[len] = c.to_ascii_uppercase() as u8;
        len += 1;
    }
    mod97(&compact[..len])
}

/// mod-97 of compact upper-case ASCII letters and digits, 15 to 34 of them.
fn mod97(compact: &[u8]) -> bool {
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rotated = compact[4..].iter().chain(&compact[..4]);
    let mut remainder: u32 = 0;
    for &b in rotated {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// How many identifiers of each kind were replaced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScrubCounts([u64; 5]);

impl ScrubCounts {
    pub fn get(&self, kind: Identifier) -> u64 {
        self.0[kind as usize]
    }

    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    fn bump(&mut self, kind: Identifier) {
        self.0[kind as usize] += 1;
    }
}

/// The compiled patterns; build once, share between threads.
pub struct Scrubber {
    email: Regex,
    iban_head: Regex,
    phone: Regex,
    postcode: Regex,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new()
    }
}

/// An identifier found, as a byte range of the normalised view.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    kind: Identifier,
}

/// Buffers reused between calls on one thread.
#[derive(Default)]
struct Scratch {
    norm: String,
    /// Per byte of `norm`, the offset in the original text of the character it comes from.
    map: Vec<usize>,
    /// Runs of digits in `norm` (start, end), each contiguous in the original text and of
    /// one width (ASCII or full-width).
    groups: Vec<(usize, usize)>,
    claims: Claims,
}

/// The identifiers found in a view so far, and per byte of the view whether one holds
/// it: an overlap check costs the candidate's length, not the number found before (a
/// text of a million identifiers is scrubbed in linear time).
#[derive(Default)]
struct Claims {
    found: Vec<Found>,
    claimed: Vec<bool>,
}

impl Claims {
    fn reset(&mut self, len: usize) {
        self.found.clear();
        self.claimed.clear();
        self.claimed.resize(len, false);
    }

    /// Whether `start..end` overlaps nothing found yet.
    fn is_free(&self, start: usize, end: usize) -> bool {
        !self.claimed[start..end].contains(&true)
    }

    /// Whether the byte at `at` belongs to an identifier found.
    fn holds(&self, at: usize) -> bool {
        self.claimed.get(at).copied().unwrap_or(false)
    }

    fn push(&mut self, found: Found) {
        self.claimed[found.start..found.end].fill(true);
        self.found.push(found);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scrubber {
    pub fn new() -> Self {
        let compile =
            |pattern: &str| Regex::new(pattern).expect("the patterns are fixed and valid");
        Self {
            email: compile(Identifier::Email.pattern()),
            iban_head: compile(IBAN_HEAD),
            phone: compile(Identifier::Phone.pattern()),
            postcode: compile(Identifier::Postcode.pattern()),
        }
    }

    /// Write `text` with every identifier replaced into `out` (cleared first), counting
    /// replacements in `counts`. `spare` is a reusable buffer.
    pub fn scrub_into(
        &self,
        text: &str,
        out: &mut String,
        spare: &mut String,
        counts: &mut ScrubCounts,
    ) {
        out.clear();
        if !self.pass(text, out, counts) {
            out.push_str(text);
            return;
        }
        // A replacement can make a boundary that confirms an identifier it had hidden
        // (`SA049664103SA04B66410320`: the IBAN before the BSN stands alone only once the
        // BSN is a tag), so passes repeat until one replaces nothing. Every replacement
        // removes digits or an `@` and tags hold neither, so this ends.
        loop {
            spare.clear();
            if !self.pass(out, spare, counts) {
                break;
            }
            std::mem::swap(out, spare);
        }
    }

    /// One pass over `text`: when it finds identifiers, writes `text` with them replaced
    /// into `out` (empty), counts them and returns `true`; otherwise leaves `out` alone.
    fn pass(&self, text: &str, out: &mut String, counts: &mut ScrubCounts) -> bool {
        // Every kind needs a digit or an `@`, ASCII or full-width (U+FF10.., all encoded
        // from the lead byte 0xEF): most notes are passed over here.
        if !text
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'@' || b == 0xEF)
        {
            return false;
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch {
                norm,
                map,
                groups,
                claims,
            } = scratch;
            let view = match normalise(text, norm, map) {
                Normal::Same => View::identity(text, text),
                Normal::Copied => View::identity(text, norm),
                Normal::Mapped => View {
                    text,
                    norm,
                    map: Some(map),
                },
            };
            claims.reset(view.norm.len());
            self.find(&view, groups, claims);
            if claims.found.is_empty() {
                return false;
            }
            claims.found.sort_unstable_by_key(|f| f.start);
            let mut last = 0;
            for f in claims.found.iter() {
                let (start, end) = (view.original_start(f.start), view.original_end(f.end));
                out.push_str(&text[last..start]);
                out.push_str(f.kind.tag());
                counts.bump(f.kind);
                last = end;
            }
            out.push_str(&text[last..]);
            true
        })
    }

    /// Every identifier in the view, kind by kind, none overlapping one found before.
    fn find(&self, view: &View, groups: &mut Vec<(usize, usize)>, claims: &mut Claims) {
        let norm = view.norm;
        if norm.contains('@') {
            for m in self.email.find_iter(norm) {
                claims.push(Found {
                    start: m.start(),
                    end: m.end(),
                    kind: Identifier::Email,
                });
            }
        }
        if !norm.bytes().any(|b| b.is_ascii_digit()) {
            return;
        }
        self.ibans(norm, claims);
        let phone = |s: usize, e: usize, claims: &Claims| self.phone_confirms(norm, s, e, claims);
        search(&self.phone, norm, Identifier::Phone, phone, claims);
        digit_groups(view, groups);
        bsns(view, groups, claims);
        let postcode = |s: usize, e: usize, _: &Claims| postcode_confirms(norm, s, e);
        search(&self.postcode, norm, Identifier::Postcode, postcode, claims);
    }

    /// Whether the phone-pattern match `start..end` is a phone number: no digit (or a
    /// number joined by `.,-/`) on either side — but two numbers joined by `/` or `,`
    /// are two phone numbers (`06-12345678/06-87654321`) —, no letters-and-digits code
    /// glued before it (`ABNA0417164300` is the tail of an account number;
    /// `mobiel0612345678` is a phone), a first group as people write it, and not a date
    /// with a time after it.
    fn phone_confirms(&self, norm: &str, start: usize, end: usize, claims: &Claims) -> bool {
        if let Some(c) = before(norm, start) {
            let after_phone = matches!(norm.as_bytes()[start - 1], b'/' | b',')
                && claims.holds(start.wrapping_sub(2));
            if c.is_ascii_digit() || c == '+' || (joined_before(norm, start) && !after_phone) {
                return false;
            }
            if c.is_alphanumeric()
                && norm[..start]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric())
                    .any(|c| c.is_numeric())
            {
                return false;
            }
        }
        if after(norm, end).is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        if joined_after(norm, end) {
            let pair =
                matches!(norm.as_bytes()[end], b'/' | b',') && self.phone_starts(norm, end + 1);
            if !pair {
                return false;
            }
        }
        let t = &norm.as_bytes()[start..end];
        phone_groups(t) && !date_first(t)
    }

    /// Whether a phone number that nothing runs on after starts at `at` (the second of
    /// two joined by `/` or `,`).
    fn phone_starts(&self, norm: &str, at: usize) -> bool {
        self.phone.find_at(norm, at).is_some_and(|m| {
            let t = &norm.as_bytes()[m.start()..m.end()];
            m.start() == at
                && !after(norm, m.end()).is_some_and(|c| c.is_ascii_digit())
                && !joined_after(norm, m.end())
                && phone_groups(t)
                && !date_first(t)
        })
    }

    /// IBANs: a country code and check digits standing alone, then groups of letters and
    /// digits, the longest run of groups that passes mod-97.
    fn ibans(&self, norm: &str, claims: &mut Claims) {
        let mut from = 0;
        while let Some(m) = self.iban_head.find_at(norm, from) {
            let iban = if before(norm, m.start()).is_some_and(char::is_alphanumeric) {
                None
            } else {
                iban_end(norm, m.start(), m.end()).filter(|&e| claims.is_free(m.start(), e))
            };
            match iban {
                Some(end) => {
                    claims.push(Found {
                        start: m.start(),
                        end,
                        kind: Identifier::Iban,
                    });
                    from = end;
                }
                // The head is ASCII: the next candidate starts a byte on at the earliest.
                None => from = m.start() + 1,
            }
        }
    }
}

/// Candidates of `kind` by `regex`, kept where `confirms` and clear of those found before;
/// after a rejected candidate the search goes on one character further, since a match that
/// is not confirmed may hide one that starts inside it.
fn search(
    regex: &Regex,
    norm: &str,
    kind: Identifier,
    confirms: impl Fn(usize, usize, &Claims) -> bool,
    claims: &mut Claims,
) {
    let mut from = 0;
    while let Some(m) = regex.find_at(norm, from) {
        if claims.is_free(m.start(), m.end()) && confirms(m.start(), m.end(), claims) {
            claims.push(Found {
                start: m.start(),
                end: m.end(),
                kind,
            });
            from = m.end();
        } else {
            from = m.start() + norm[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

fn before(norm: &str, at: usize) -> Option<char> {
    norm[..at].chars().next_back()
}

fn after(norm: &str, at: usize) -> Option<char> {
    norm[at..].chars().next()
}

/// Whether a digit and one of `.,-/` come right before `at`: the number goes on.
fn joined_before(norm: &str, at: usize) -> bool {
    let b = norm.as_bytes();
    at >= 2 && matches!(b[at - 1], b'.' | b',' | b'-' | b'/') && b[at - 2].is_ascii_digit()
}

/// Whether one of `.,-/` and a digit come right after `at`: the number goes on.
fn joined_after(norm: &str, at: usize) -> bool {
    let b = norm.as_bytes();
    at + 1 < b.len() && matches!(b[at], b'.' | b',' | b'-' | b'/') && b[at + 1].is_ascii_digit()
}

/// The end of the IBAN whose head (country code, check digits) is `start..head_end`, if
/// the groups after it hold one. A group is a run of ASCII letters and digits after up to
/// three spaces, one hyphen or one dot; the first may be four letters (the bank code of
/// `NL91 ABNA 0417 1643 00`), every other must hold a digit, so that the words after an
/// IBAN are not taken for its groups. The longest run of groups that passes mod-97 wins.
fn iban_end(norm: &str, start: usize, head_end: usize) -> Option<usize> {
    let b = norm.as_bytes();
    let mut compact = [0u8; 34];
    let mut len = 0;
    for &c in &b[start..head_end] {
        if c != b' ' {
            compact[len] = c.to_ascii_uppercase();
            len += 1;
        }
    }
    let mut ends = [(0usize, 0usize); 34];
    let (mut n_ends, mut groups, mut pos) = (0, 0, head_end);
    loop {
        let mut q = pos;
        let spaces = b[q..].iter().take(4).take_while(|&&c| c == b' ').count();
        if spaces > 3 {
            break;
        }
        q += spaces;
        if spaces == 0 && matches!(b.get(q), Some(b'-' | b'.')) {
            q += 1;
        }
        let glen = b[q..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if glen == 0 {
            break;
        }
        let group = &b[q..q + glen];
        let bank_code = groups == 0 && glen == 4;
        if (!bank_code && !group.iter().any(u8::is_ascii_digit)) || len + glen > compact.len() {
            break;
        }
        for &c in group {
            compact[len] = c.to_ascii_uppercase();
            len += 1;
        }
        groups += 1;
        pos = q + glen;
        // A letter of another script glued on: not an IBAN's end.
        if after(norm, pos).is_some_and(char::is_alphanumeric) {
            break;
        }
        if len >= 15 {
            ends[n_ends] = (pos, len);
            n_ends += 1;
        }
    }
    ends[..n_ends]
        .iter()
        .rev()
        .find(|(_, l)| mod97(&compact[..*l]))
        .map(|(e, _)| *e)
}

/// Whether the first digit group of a phone number's national number is as people write
/// it: the area code or all of it (`06`, `020`, `0118`, `0612345678`; after +31 or (0):
/// `6`, `20`, `118`, `612345678`). This keeps `012345674 5` (a BSN with a leading zero
/// and a digit after it) from being taken for a phone number.
fn phone_groups(t: &[u8]) -> bool {
    let (rest, national) = [&b"+31"[..], b"0031", b"(+31)", b"(0)"]
        .iter()
        .find_map(|p| t.strip_prefix(*p))
        .map_or((t, false), |rest| (rest, true));
    // After +31 a separator and `(0)` may come before the national number.
    let seps = rest
        .iter()
        .take_while(|c| matches!(c, b' ' | b'-' | b'.' | b'/'))
        .count();
    let rest = rest[seps..].strip_prefix(b"(0)").unwrap_or(rest);
    let skip = rest.iter().take_while(|c| !c.is_ascii_digit()).count();
    let first = rest[skip..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if national {
        matches!(first, 1 | 2 | 3 | 9)
    } else {
        matches!(first, 2 | 3 | 4 | 10)
    }
}

/// Whether `t` starts with a date: day and month of one or two digits, a four-digit year,
/// the same `-`, `.` or `/` between them (`06-12-2024 10` is a date and an hour) — or a
/// two-digit year with a time after it (`06-12-24 10.30`).
fn date_first(t: &[u8]) -> bool {
    let digits = |from: usize| t[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let day = digits(0);
    if !(1..=2).contains(&day) || day >= t.len() {
        return false;
    }
    let sep = t[day];
    if !matches!(sep, b'-' | b'.' | b'/') {
        return false;
    }
    let month = digits(day + 1);
    let at = day + 1 + month;
    if !(1..=2).contains(&month) || t.get(at) != Some(&sep) {
        return false;
    }
    match digits(at + 1) {
        4 => true,
        // `06-12-24 10.30`: a two-digit year, then the time (hours, a dot, minutes) and
        // nothing more.
        2 => {
            let rest = &t[at + 3..];
            let hours = rest
                .iter()
                .skip(1)
                .take_while(|c| c.is_ascii_digit())
                .count();
            rest.first() == Some(&b' ')
                && (1..=2).contains(&hours)
                && rest.get(1 + hours) == Some(&b'.')
                && rest.len() == 1 + hours + 3
                && rest[2 + hours..].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Whether the postcode-pattern match `start..end` is a postcode: standing alone, letters
/// other than the never-issued SA, SD and SS, and — unless in capitals or after a hyphen —
/// not a unit (`1000mg`, `1500 ml`) nor, after a space, a common word (`in 2019 de eerste
/// keer`).
fn postcode_confirms(norm: &str, start: usize, end: usize) -> bool {
    if before(norm, start).is_some_and(char::is_alphanumeric)
        || joined_before(norm, start)
        || after(norm, end).is_some_and(char::is_alphanumeric)
    {
        return false;
    }
    let t = &norm.as_bytes()[start..end];
    let pair = [t[t.len() - 2], t[t.len() - 1]];
    let upper = pair.map(|c| c.to_ascii_uppercase());
    if matches!(&upper, b"SA" | b"SD" | b"SS") {
        return false;
    }
    if pair.iter().all(u8::is_ascii_uppercase) || t[4] == b'-' {
        return true;
    }
    let lower = pair.map(|c| c.to_ascii_lowercase());
    let spaced = t[4] == b' ';
    !(UNIT_PAIRS.contains(&&lower) || (spaced && WORD_PAIRS.contains(&&lower)))
}

/// How two digit groups are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Nothing visible (a width change or a zero-width character) or one of `.-/,`.
    Tight(u8),
    /// One to four spaces, or a hyphen with spaces around it (`123 - 456`).
    Loose(u8),
    /// Not one number.
    Break,
}

impl Link {
    fn between(norm: &str, from: usize, to: usize) -> Self {
        let s = &norm.as_bytes()[from..to];
        match s {
            [] => Self::Tight(0),
            [p @ (b'.' | b'-' | b'/' | b',')] => Self::Tight(*p),
            _ if s.len() <= 4 && s.iter().all(|&c| c == b' ') => Self::Loose(0),
            _ if s.len() <= 7
                && s.iter().all(|&c| c == b' ' || c == b'-')
                && s.iter().filter(|&&c| c == b'-').count() == 1 =>
            {
                Self::Loose(b'-')
            }
            _ => Self::Break,
        }
    }

    fn punct(self) -> u8 {
        match self {
            Self::Tight(p) | Self::Loose(p) => p,
            Self::Break => 0,
        }
    }
}

/// The runs of digits in the view, each contiguous in the original text and of one width.
fn digit_groups(view: &View, groups: &mut Vec<(usize, usize)>) {
    groups.clear();
    let b = view.norm.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() && view.contiguous(i - 1) {
            i += 1;
        }
        groups.push((start, i));
    }
}

/// BSNs: every run of 8 or 9 digits that passes the elfproef, whatever is around it (but a
/// digit), then numbers written in groups (`1234.56.782`, `123 - 456 - 782`, `123 45\n6
/// 782`).
fn bsns(view: &View, groups: &[(usize, usize)], claims: &mut Claims) {
    let norm = view.norm;
    for &(start, end) in groups {
        if matches!(end - start, 8 | 9)
            && is_bsn(norm, &[(start, end)])
            && claims.is_free(start, end)
        {
            claims.push(Found {
                start,
                end,
                kind: Identifier::Bsn,
            });
        }
    }
    let mut c = 0;
    while c < groups.len() {
        let mut d = c;
        while d + 1 < groups.len()
            && Link::between(norm, groups[d].1, groups[d + 1].0) != Link::Break
        {
            d += 1;
        }
        if d > c {
            grouped_bsns(norm, &groups[c..=d], claims);
        }
        c = d + 1;
    }
}

/// BSNs of two groups or more in one chain of linked groups, leftmost first, nine digits
/// before eight. Not where the number runs on by a tight link (`.-/,` or nothing between
/// the digits) or is glued to a letter (`F2024-01234`), nor after a currency sign, nor
/// with mixed punctuation (`123.456,78`), nor holding a date (`15-03-2024`, `2024-03-14`)
/// or two years (`2024/2025`).
fn grouped_bsns(norm: &str, chain: &[(usize, usize)], claims: &mut Claims) {
    let link = |k: usize| Link::between(norm, chain[k].1, chain[k + 1].0);
    let len = |k: usize| chain[k].1 - chain[k].0;
    let mut i = 0;
    while i + 1 < chain.len() {
        let mut total = len(i);
        let mut ends = [0usize; 9];
        let mut n = 0;
        for j in i + 1..chain.len() {
            total += len(j);
            if total > 9 {
                break;
            }
            if total >= 8 {
                ends[n] = j;
                n += 1;
            }
        }
        let fits = |j: usize| {
            let left = if i == 0 {
                !before(norm, chain[0].0).is_some_and(char::is_alphabetic)
                    && !after_currency(norm, chain[0].0)
            } else {
                !matches!(link(i - 1), Link::Tight(_))
            };
            let right = if j + 1 == chain.len() {
                !after(norm, chain[j].1).is_some_and(char::is_alphabetic)
            } else {
                !matches!(link(j), Link::Tight(_))
            };
            // One kind of punctuation throughout: `123.456,78` is an amount.
            let mut punct = 0;
            let consistent = (i..j).all(|k| match link(k).punct() {
                0 => true,
                p if punct == 0 || punct == p => {
                    punct = p;
                    true
                }
                _ => false,
            });
            let date = (i..j.saturating_sub(1)).any(|k| {
                let (a, b, c) = (len(k), len(k + 1), len(k + 2));
                let shaped = (a <= 2 && b <= 2 && c == 4) || (a == 4 && b <= 2 && c <= 2);
                let (l1, l2) = (link(k), link(k + 1));
                shaped && l1 == l2 && matches!(l1, Link::Tight(b'-' | b'.' | b'/'))
            });
            // `2024/2025`, `2023-2024`: a school or tax year.
            let year = |k: usize| {
                let g = &norm.as_bytes()[chain[k].0..chain[k].1];
                g.len() == 4 && matches!(&g[..2], b"19" | b"20")
            };
            let years = j == i + 1 && year(i) && year(j);
            left && right
                && consistent
                && !date
                && !years
                && claims.is_free(chain[i].0, chain[j].1)
                && is_bsn(norm, &chain[i..=j])
        };
        match ends[..n].iter().rev().copied().find(|&j| fits(j)) {
            Some(j) => {
                claims.push(Found {
                    start: chain[i].0,
                    end: chain[j].1,
                    kind: Identifier::Bsn,
                });
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

/// Whether an amount's currency comes right before `at`: `€ 12.345.678`, `EUR 123 456 78`.
fn after_currency(norm: &str, at: usize) -> bool {
    let t = norm[..at].trim_end_matches(' ');
    t.ends_with('€') || (t.len() >= 3 && t.as_bytes()[t.len() - 3..].eq_ignore_ascii_case(b"eur"))
}

/// Whether the digits of `groups` (8 or 9 in all) pass the elfproef.
fn is_bsn(norm: &str, groups: &[(usize, usize)]) -> bool {
    let mut digits = [0u8; 9];
    let mut n = 0;
    for &(start, end) in groups {
        for &d in &norm.as_bytes()[start..end] {
            if n == digits.len() {
                return false;
            }
            digits[n] = d;
            n += 1;
        }
    }
    std::str::from_utf8(&digits[..n]).is_ok_and(|s| canonical::bsn(s).is_some())
}

/// What became of the text in the normalised view.
enum Normal {
    /// The view is the text: ASCII without tabs or line breaks.
    Same,
    /// ASCII with tabs or line breaks, now spaces: same offsets, in `norm`.
    Copied,
    /// In `norm`, with the original offsets in `map`.
    Mapped,
}

/// What one character becomes in the normalised view.
enum Fold {
    Keep,
    To(u8),
    Drop,
}

fn fold(c: char) -> Fold {
    match c {
        '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' => Fold::To(b' '),
        c if c.is_ascii() => Fold::Keep,
        '\u{85}'
        | '\u{a0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200a}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202f}'
        | '\u{205f}'
        | '\u{3000}' => Fold::To(b' '),
        '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => Fold::Drop,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' => Fold::To(b'-'),
        '\u{2044}' | '\u{2215}' => Fold::To(b'/'),
        // Full-width ASCII: `１２３`, `ＮＬ`, `＠`, `－`.
        '\u{ff01}'..='\u{ff5e}' => Fold::To((c as u32 - 0xfee0) as u8),
        _ => Fold::Keep,
    }
}

fn normalise(text: &str, norm: &mut String, map: &mut Vec<usize>) -> Normal {
    let line_or_tab = |b: u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    norm.clear();
    if text.is_ascii() {
        if !text.bytes().any(line_or_tab) {
            return Normal::Same;
        }
        norm.extend(
            text.chars()
                .map(|c| if line_or_tab(c as u8) { ' ' } else { c }),
        );
        return Normal::Copied;
    }
    map.clear();
    for (i, c) in text.char_indices() {
        match fold(c) {
            Fold::Keep => {
                norm.push(c);
                map.extend(std::iter::repeat_n(i, c.len_utf8()));
            }
            Fold::To(b) => {
                norm.push(char::from(b));
                map.push(i);
            }
            Fold::Drop => {}
        }
    }
    Normal::Mapped
}

/// The normalised view of a text and the way back to the text's offsets.
struct View<'a> {
    text: &'a str,
    norm: &'a str,
    /// `None` where the view's offsets are the text's.
    map: Option<&'a [usize]>,
}

impl<'a> View<'a> {
    fn identity(text: &'a str, norm: &'a str) -> Self {
        Self {
            text,
            norm,
            map: None,
        }
    }

    /// Where in the text the character at view offset `at` starts.
    fn original_start(&self, at: usize) -> usize {
        self.map.map_or(at, |m| m[at])
    }

    /// Where in the text the character ending at view offset `at` ends.
    fn original_end(&self, at: usize) -> usize {
        let Some(map) = self.map else { return at };
        let last = self.norm[..at]
            .chars()
            .next_back()
            .map_or(0, char::len_utf8);
        let start = map[at - last];
        start + self.text[start..].chars().next().map_or(0, char::len_utf8)
    }

    /// Whether the digits at view offsets `at` and `at + 1` stand side by side in the
    /// text, both ASCII or both full-width.
    fn contiguous(&self, at: usize) -> bool {
        let Some(map) = self.map else { return true };
        let bytes = self.text.as_bytes();
        let (a, b) = (map[at], map[at + 1]);
        let wide = |o: usize| bytes[o] >= 0x80;
        let width = if wide(a) { 3 } else { 1 };
        b == a + width && wide(a) == wide(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SCRUBBER: std::sync::LazyLock<Scrubber> = std::sync::LazyLock::new(Scrubber::new);

    fn scrub(text: &str) -> (String, ScrubCounts) {
        let (mut out, mut spare, mut counts) =
            (String::new(), String::new(), ScrubCounts::default());
        SCRUBBER.scrub_into(text, &mut out, &mut spare, &mut counts);
        (out, counts)
    }

    #[test]
    fn each_kind_is_replaced_by_its_tag() {
        let cases = [
            (
                "bsn moeder 123456782 nagevraagd",
                "bsn moeder [BSN] nagevraagd",
            ),
            ("BSN: 1234.56.782.", "BSN: [BSN]."),
            ("bsn 10000021 (zonder nul)", "bsn [BSN] (zonder nul)"),
            ("rekening NL91ABNA0417164300", "rekening [IBAN]"),
            ("IBAN NL91 ABNA 0417 1643 00 graag", "IBAN [IBAN] graag"),
            ("mail j.jansen@example.nl svp", "mail [EMAIL] svp"),
            (
                "bel 06-12345678 of +31 6 12345678",
                "bel [TELEFOON] of [TELEFOON]",
            ),
            ("vast 043-3214567", "vast [TELEFOON]"),
            // A rejected match (`1 12345678`, glued to the `2`) hid the BSN (fuzz target `scrub`).
            ("kamer 1 123456782", "kamer 1 [BSN]"),
            // Nine digits taken, the first eight a BSN (fuzz target `scrub`).
            ("bsn 61310062 0", "bsn [BSN] 0"),
            // An IBAN that stands alone only once the BSN glued to it is a tag (fuzz
            // target `scrub`).
            ("r$wB$SA049664103SA04B66410320", "r$wB$[IBAN][BSN]"),
            (
                "woont 6131 AB Sittard, was 6211ab",
                "woont [POSTCODE] Sittard, was [POSTCODE]",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(input).0, expected, "{input:?}");
        }
    }

    #[test]
    fn look_alikes_stay() {
        for text in [
            "ordernummer 123456789",       // nine digits failing the elfproef
            "kenmerk 1234567820",          // a BSN inside a longer number
            "rekening NL00ABNA0417164300", // IBAN with a wrong check
            "in 2019 de eerste keer",      // year and word, not a postcode
            "om 10.30 uur, 3 kinderen",
            "op 06-12-2024 10.00 uur gesprek", // a date and a time, not a phone
            "Op 06-12-24 10.30 uur, 05/06/24 09.00 en 07.11.23 13.30",
            "15-03-2024 en 2024-03-14", // dates, not BSNs (15032024 passes)
            "bedrag € 12.345.678 en 123.456,78",
            "1500 ml water, 1000 mg, vanaf 2024 op di",
            "de 12 kinderen op de groep",
        ] {
            let (out, counts) = scrub(text);
            assert_eq!(
                (out, counts),
                (text.to_owned(), ScrubCounts::default()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn counts_per_kind() {
        let (_, counts) = scrub("123456782 en 111222333, mail a@b.nl, 6131AB");
        assert_eq!(counts.get(Identifier::Bsn), 2);
        assert_eq!(counts.get(Identifier::Email), 1);
        assert_eq!(counts.get(Identifier::Postcode), 1);
        assert_eq!(counts.get(Identifier::Phone), 0);
    }

    /// Every form the issue lists (testers found each surviving the old scrubber).
    #[test]
    fn the_forms_people_type() {
        let cases = [
            // BSNs pasted from Word or Outlook, grouped every way.
            ("bsn 123 45\n6 782 kind", "bsn [BSN] kind"),
            ("bsn 123 45\r\n6 782", "bsn [BSN]"),
            ("bsn\u{a0}123\u{a0}456\u{a0}782.", "bsn\u{a0}[BSN]."),
            ("bsn 123\u{202f}456\u{2009}782", "bsn [BSN]"),
            ("bsn 123 - 456 - 782", "bsn [BSN]"),
            ("bsn 123/456/782", "bsn [BSN]"),
            ("bsn 123,456,782", "bsn [BSN]"),
            ("bsn 123  456  782", "bsn [BSN]"),
            ("bsn １２３４５６７８２ ok", "bsn [BSN] ok"),
            ("bsn １２３ ４５６ ７８２", "bsn [BSN]"),
            ("bsn 123\u{2013}456\u{2013}782", "bsn [BSN]"),
            ("bsn 1234\u{ad}56782", "bsn [BSN]"),
            // Phones.
            ("bel (020) 123 45 67", "bel [TELEFOON]"),
            ("bel (0)20-1234567", "bel [TELEFOON]"),
            ("bel 06 - 1234 5678", "bel [TELEFOON]"),
            ("bel 06.12.34.56.78", "bel [TELEFOON]"),
            ("bel 06\u{2013}12345678", "bel [TELEFOON]"),
            ("tel:0612345678", "tel:[TELEFOON]"),
            ("mobiel0612345678", "mobiel[TELEFOON]"),
            ("bel06-12345678", "bel[TELEFOON]"),
            ("+31 (0)6 1234 5678", "[TELEFOON]"),
            ("0031 6 12345678", "[TELEFOON]"),
            ("+31612345678", "[TELEFOON]"),
            // Two numbers joined by `/` or `,`.
            ("tel 06-12345678/06-87654321", "tel [TELEFOON]/[TELEFOON]"),
            ("0612345678,0687654321", "[TELEFOON],[TELEFOON]"),
            (
                "020-1234567/06-12345678 bellen",
                "[TELEFOON]/[TELEFOON] bellen",
            ),
            // IBANs.
            ("iban nl91abna0417164300", "iban [IBAN]"),
            (
                "iban nl91 abna 0417 1643 00 ivm teruggave",
                "iban [IBAN] ivm teruggave",
            ),
            ("NL91 ABNA 041716 4300", "[IBAN]"),
            ("NL 91 ABNA 0417 1643 00", "[IBAN]"),
            ("NL91\u{a0}ABNA\u{a0}0417\u{a0}1643\u{a0}00", "[IBAN]"),
            // E-mail addresses.
            ("mail josé.müller@voorbeeld.nl", "mail [EMAIL]"),
            ("mail info@bücher.de.", "mail [EMAIL]."),
            ("mail j.jansen＠example.nl", "mail [EMAIL]"),
            // Postcodes.
            ("6131 ab Sittard", "[POSTCODE] Sittard"),
            ("6131-AB", "[POSTCODE]"),
            ("6131  AB", "[POSTCODE]"),
            ("6131ab", "[POSTCODE]"),
            ("6131\u{a0}AB", "[POSTCODE]"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(input).0, expected, "{input:?}");
        }
    }

    /// A whole identifier is replaced as its own kind, never partly as another.
    #[test]
    fn no_identifier_is_partly_another_kind() {
        // The spaced account number's tail `0417 1643 00` is shaped like a phone number.
        let (out, counts) = scrub("NL91 ABNA 041716 4300 graag");
        assert_eq!(out, "[IBAN] graag");
        assert_eq!(counts.get(Identifier::Phone), 0);
        // A phone number is not half eaten as a BSN (`12345678` alone might pass).
        for phone in ["06 - 1234 5678", "06.12.34.56.78", "(020) 123 45 67"] {
            let (out, counts) = scrub(phone);
            assert_eq!(out, "[TELEFOON]", "{phone:?}");
            assert_eq!(counts.get(Identifier::Bsn), 0);
        }
        // A BSN with a leading zero and a digit after it is not a phone number.
        assert_eq!(scrub("bsn 029141771 5 jaar").0, "bsn [BSN] 5 jaar");
        // An e-mail address holding a BSN and a phone number is one e-mail address.
        assert_eq!(scrub("0612345678.123456782@voorbeeld.nl").0, "[EMAIL]");
    }

    #[test]
    fn replacements_cut_the_original_text() {
        // Multi-byte separators inside and around: the tag takes exactly the identifier.
        let text = "é\u{a0}bsn:\u{a0}１２３\u{a0}４５６\u{a0}７８２\u{a0}—\u{a0}klaar";
        assert_eq!(scrub(text).0, "é\u{a0}bsn:\u{a0}[BSN]\u{a0}—\u{a0}klaar");
        // A zero-width space splits an ASCII run: the BSN after it is still found.
        assert_eq!(scrub("1\u{200b}123456782").0, "1\u{200b}[BSN]");
        // A full-width digit glued on.
        assert_eq!(scrub("１123456782").0, "１[BSN]");
    }

    #[test]
    fn iban_checksum_ignores_case_and_separators() {
        assert!(iban_checksum("NL91ABNA0417164300"));
        assert!(iban_checksum("nl91 abna 0417 1643 00"));
        assert!(iban_checksum("NL91-ABNA-0417-1643-00"));
        assert!(!iban_checksum("NL00ABNA0417164300"));
        assert!(iban_checksum("NL91.ABNA.0417.1643.00"));
        assert!(!iban_checksum("NL91ABNA04171643:00"));
    }

    /// Pieces that make identifiers and their look-alikes when strung together.
    const PIECES: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "5",
        "6",
        "7",
        "8",
        "9",
        "06",
        "123456782",
        "12345678",
        "111222333",
        "NL91ABNA0417164300",
        "nl91",
        "ABNA",
        "0417",
        " ",
        "  ",
        "-",
        ".",
        "/",
        ",",
        "\n",
        "\r\n",
        "\t",
        "\u{a0}",
        "\u{202f}",
        "\u{2013}",
        "\u{200b}",
        "\u{ad}",
        "１",
        "２",
        "８",
        "\u{ff20}",
        "@",
        "a",
        "é",
        "x.nl",
        "AB",
        "ab",
        "de",
        "SA",
        "(",
        ")",
        "(0)",
        "+31",
        "0031",
        "€",
        "[BSN]",
        "[IBAN",
    ];

    proptest::proptest! {
        /// The fuzz target's invariants (`tests/fuzz_checks`): scrubbing is idempotent, no
        /// run of 8 or 9 ASCII digits left passes the elfproef, and every new tag is counted.
        #[test]
        fn scrubbing_keeps_its_invariants(
            picks in proptest::collection::vec(proptest::sample::select(PIECES), 0..24),
        ) {
            let text: String = picks.concat();
            let (once, counts) = scrub(&text);
            let (twice, again) = scrub(&once);
            proptest::prop_assert_eq!(&once, &twice, "{:?}", text);
            proptest::prop_assert_eq!(again, ScrubCounts::default());
            for run in once.split(|c: char| !c.is_ascii_digit()) {
                if run.len() == 8 || run.len() == 9 {
                    let left = canonical::bsn(run);
                    proptest::prop_assert!(left.is_none(), "{:?} in {:?}", run, once);
                }
            }
            let tags = |s: &str| -> u64 {
                Identifier::ALL.iter().map(|k| s.matches(k.tag()).count() as u64).sum()
            };
            let total: u64 = Identifier::ALL.iter().map(|&k| counts.get(k)).sum();
            proptest::prop_assert_eq!(tags(&once), tags(&text) + total, "{:?}", text);
        }
    }
}
