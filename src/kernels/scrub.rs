//! Free-text scrubbing: identifiers that staff type into notes — BSNs, IBANs, e-mail
//! addresses, Dutch phone numbers, postcodes — replaced by a tag naming their kind.
//!
//! Each kind is found by a pattern and, where one exists, confirmed by its checksum (the
//! elfproef for BSNs, mod-97 for IBANs), so that an order number is not taken for a BSN.
//! The kinds are replaced one after another, longest-structured first (e-mail, IBAN,
//! phone, BSN, postcode); the tags hold no digits, so a later pass never re-matches them.

use regex::Regex;

use super::canonical;

/// The kinds of identifier the scrubber replaces, in the order it looks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    Email,
    Iban,
    Phone,
    Bsn,
    Postcode,
}

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

    /// The pattern that finds this kind in a text; a match still needs confirming.
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            Self::Email => r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            // Contiguous, or in the printed groups of four.
            Self::Iban => {
                r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"
            }
            // 0, +31 or 0031, then the nine digits of a Dutch number with optional
            // separators: 06-12345678, 010-1234567, +31 6 12345678, 0031 (0)43 321 4567.
            Self::Phone => r"(?:\+31|0031|0)[ -]?(?:\(0\)[ -]?)?[1-9](?:[ -]?[0-9]){8}",
            // 8 or 9 digits, optionally grouped with spaces, dots or hyphens.
            Self::Bsn => r"[0-9](?:[ .-]?[0-9]){7,8}",
            // `1234 AB` and `1234AB`; lower case only without a space, since `2019 de`
            // is far more often a year and a word than a postcode.
            Self::Postcode => r"[1-9][0-9]{3}(?: ?[A-Z]{2}|[a-z]{2})",
        }
    }

    /// Whether a pattern match is really this kind of identifier: checksums, and no
    /// digit or letter running on at either end (a match inside a longer number is not one).
    fn confirms(self, text: &str, start: usize, end: usize) -> bool {
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let found = &text[start..end];
        match self {
            Self::Email => true,
            Self::Iban => {
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
                    && iban_checksum(found)
            }
            Self::Phone => {
                // Not glued to letters either: `ABNA0417164300` is part of an account number.
                !before.is_some_and(|c| c.is_alphanumeric() || c == '+')
                    && !after.is_some_and(char::is_alphanumeric)
            }
            Self::Bsn => {
                !before.is_some_and(|c| c.is_ascii_digit())
                    && !after.is_some_and(|c| c.is_ascii_digit())
                    && canonical::bsn(found).is_some()
            }
            Self::Postcode => {
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            }
        }
    }
}

/// mod-97 of the IBAN with its first four characters moved to the end, letters as 10..35.
pub(crate) fn iban_checksum(candidate: &str) -> bool {
    let compact: Vec<u8> = candidate.bytes().filter(|b| *b != b' ').collect();
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

    fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn bump(&mut self, kind: Identifier) {
        self.0[kind as usize] += 1;
    }
}

/// The compiled patterns; build once, share between threads.
pub struct Scrubber {
    patterns: Vec<(Identifier, Regex)>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new()
    }
}

impl Scrubber {
    pub fn new() -> Self {
        let patterns = Identifier::ALL
            .iter()
            .map(|&kind| {
                (
                    kind,
                    Regex::new(kind.pattern()).expect("the patterns are fixed and valid"),
                )
            })
            .collect();
        Self { patterns }
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
        out.push_str(text);
        // A replacement can make a boundary that confirms an identifier it had hidden
        // (`SA049664103SA04B66410320`: the IBAN before the BSN stands alone only once the
        // BSN is a tag), so passes repeat until one replaces nothing. Every replacement
        // removes digits or an `@` and tags hold neither, so this ends.
        loop {
            let before = counts.total();
            self.pass(out, spare, counts);
            if counts.total() == before {
                break;
            }
        }
    }

    /// One pass of every pattern over `out`, in place.
    fn pass(&self, out: &mut String, spare: &mut String, counts: &mut ScrubCounts) {
        for (kind, regex) in &self.patterns {
            if !regex.is_match(out) {
                continue;
            }
            spare.clear();
            let (mut last, mut from) = (0, 0);
            while let Some(m) = regex.find_at(out, from) {
                let mut end = m.end();
                let mut confirmed = kind.confirms(out, m.start(), end);
                if !confirmed && *kind == Identifier::Bsn {
                    // The greedy pattern takes a ninth digit where it can: the first eight
                    // may be the BSN (`61310062 0`).
                    let eighth = out[m.start()..end]
                        .char_indices()
                        .filter(|(_, c)| c.is_ascii_digit())
                        .nth(7)
                        .map(|(i, _)| m.start() + i + 1);
                    if let Some(shorter) = eighth.filter(|&e| e < end)
                        && kind.confirms(out, m.start(), shorter)
                    {
                        (end, confirmed) = (shorter, true);
                    }
                }
                if confirmed {
                    spare.push_str(&out[last..m.start()]);
                    spare.push_str(kind.tag());
                    counts.bump(*kind);
                    last = end;
                    from = end;
                } else {
                    // A match that is not confirmed may hide one that starts inside it:
                    // in `1 123456782` the pattern takes `1 12345678`, glued to a digit.
                    from = m.start() + out[m.start()..].chars().next().map_or(1, char::len_utf8);
                }
            }
            spare.push_str(&out[last..]);
            std::mem::swap(out, spare);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> (String, ScrubCounts) {
        let (mut out, mut spare, mut counts) =
            (String::new(), String::new(), ScrubCounts::default());
        Scrubber::new().scrub_into(text, &mut out, &mut spare, &mut counts);
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
        ] {
            assert_eq!(
                scrub(text),
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
}
