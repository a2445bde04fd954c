//! What one value looks like: a BSN, an IBAN, an e-mail address, a Dutch phone number or
//! postcode, a date of birth, a name. `doel scan` counts these per column to suggest a
//! catalogue entry for an export nobody has described yet.
//!
//! A value is of a kind only as a whole (after trimming), never because it holds one:
//! free text that mentions a BSN is not a BSN column. The identifiers are recognised
//! much as the scrubber recognises them, checksums included; the rest are plain shapes,
//! so a share is a hint for a person to check, not a classification.

use chrono::NaiveDate;
use regex::Regex;

use super::canonical;
use super::scrub::{self, Identifier};

/// The kinds of value detected, in the order reports show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bsn,
    Iban,
    Email,
    Phone,
    Postcode,
    BirthDate,
    Name,
}

impl Kind {
    pub const ALL: [Self; 7] = [
        Self::Bsn,
        Self::Iban,
        Self::Email,
        Self::Phone,
        Self::Postcode,
        Self::BirthDate,
        Self::Name,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Bsn => "BSN",
            Self::Iban => "IBAN",
            Self::Email => "e-mail",
            Self::Phone => "phone",
            Self::Postcode => "postcode",
            Self::BirthDate => "date of birth",
            Self::Name => "name",
        }
    }
}

/// A set of [`Kind`]s.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Kinds(u8);

impl Kinds {
    pub const NONE: Self = Self(0);
    pub const ALL: Self = Self((1 << Kind::ALL.len()) - 1);

    pub fn only(kind: Kind) -> Self {
        Self(1 << kind as u8)
    }

    /// The set of `kinds`.
    pub fn of(kinds: &[Kind]) -> Self {
        let mut set = Self::NONE;
        kinds.iter().for_each(|&k| set.insert(k));
        set
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |&k| self.contains(k))
    }

    fn insert(&mut self, kind: Kind) {
        self.0 |= 1 << kind as u8;
    }
}

/// Name particles written in lower case (*tussenvoegsels* and their like in other
/// languages): a name's word starts with a capital or is one of these.
const PARTICLES: &[&str] = &[
    "van", "de", "der", "den", "het", "'t", "’t", "te", "ter", "ten", "in", "op", "aan", "bij",
    "uit", "'s", "’s", "la", "le", "les", "du", "da", "das", "do", "dos", "di", "del", "della",
    "von", "vom", "zu", "zur", "el", "al", "bin", "ben", "ibn",
];

/// The earliest date taken for a date of birth.
const BORN_AFTER: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");

/// The compiled patterns and the reference date; build once, share between threads.
pub struct Detector {
    email: Regex,
    iban: Regex,
    phone: Regex,
    postcode: Regex,
    /// The latest date taken for a date of birth.
    reference_date: NaiveDate,
}

impl Detector {
    /// A date of birth is a date from 1900-01-01 to `reference_date`.
    pub fn new(reference_date: NaiveDate) -> Self {
        let whole = |kind: Identifier| {
            Regex::new(&format!("^(?:{})$", kind.pattern()))
                .expect("the scrubber's patterns are fixed and valid")
        };
        Self {
            email: whole(Identifier::Email),
            iban: whole(Identifier::Iban),
            phone: whole(Identifier::Phone),
            // Any case, with or without the space: the scrubber's pattern leaves out
            // `1234 ab` only because in running text it is more often a year and a word.
            postcode: Regex::new("^[1-9][0-9]{3} ?[A-Za-z]{2}$").expect("a fixed, valid pattern"),
            reference_date,
        }
    }

    /// The kinds among `among` that `value` looks like as a whole.
    pub fn detect(&self, value: &str, among: Kinds) -> Kinds {
        let value = value.trim();
        let mut found = Kinds::NONE;
        if value.is_empty() {
            return found;
        }
        // Every kind but a name needs a digit: one test spares most regexes on text.
        let digits = value.bytes().any(|b| b.is_ascii_digit());
        for kind in among.iter() {
            let hit = match kind {
                // `2026-03-26` loses its hyphens to 8 digits that pass the elfproef
                // one time in eleven: a date is never taken for a BSN.
                Kind::Bsn => digits && canonical::bsn(value).is_some() && date(value).is_none(),
                Kind::Iban => digits && self.iban.is_match(value) && scrub::iban_checksum(value),
                Kind::Email => value.contains('@') && self.email.is_match(value),
                Kind::Phone => digits && self.phone.is_match(value),
                Kind::Postcode => digits && self.postcode.is_match(value),
                Kind::BirthDate => digits && self.is_birth_date(value),
                Kind::Name => !digits && is_name(value),
            };
            if hit {
                found.insert(kind);
            }
        }
        found
    }

    /// A date from 1900-01-01 to the reference date.
    fn is_birth_date(&self, value: &str) -> bool {
        date(value).is_some_and(|d| (BORN_AFTER..=self.reference_date).contains(&d))
    }
}

/// A date written `YYYY-MM-DD` or `DD-MM-YYYY`.
fn date(value: &str) -> Option<NaiveDate> {
    canonical::date_from_iso(value).or_else(|| canonical::date_from_dutch(value))
}

/// One to four words of letters, hyphens and apostrophes, each starting with a capital
/// (or `d'` and a capital) or being a lower-case particle, with at least two letters in
/// all: `Chloë`, `van 't Zand`, `Jan-Willem`, `d'Ancona`, but not `V` or `dagopvang`.
fn is_name(value: &str) -> bool {
    let (mut words, mut letters) = (0, 0);
    for word in value.split_whitespace() {
        words += 1;
        if words > 4
            || !word
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
        {
            return false;
        }
        letters += word.chars().filter(|c| c.is_alphabetic()).count();
        let stem = word
            .strip_prefix("d'")
            .or_else(|| word.strip_prefix("d’"))
            .unwrap_or(word);
        let capital = stem.chars().next().is_some_and(char::is_uppercase);
        if !capital && !PARTICLES.contains(&word) {
            return false;
        }
    }
    words > 0 && letters >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn detector() -> Detector {
        Detector::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
    }

    fn kinds(value: &str) -> Vec<Kind> {
        detector().detect(value, Kinds::ALL).iter().collect()
    }

    #[test]
    fn each_kind_as_a_whole_value() {
        let cases = [
            ("123456782", Kind::Bsn),
            (" 1234.56.782 ", Kind::Bsn),
            ("10000021", Kind::Bsn),
            ("NL91ABNA0417164300", Kind::Iban),
            ("NL91 ABNA 0417 1643 00", Kind::Iban),
            ("inge.vantzand@example.com", Kind::Email),
            ("06-10000506", Kind::Phone),
            ("+31 6 12345678", Kind::Phone),
            ("043-3214567", Kind::Phone),
            ("6214 XM", Kind::Postcode),
            ("6214XM", Kind::Postcode),
            ("6214 xm", Kind::Postcode),
            ("2019-03-27", Kind::BirthDate),
            ("27-03-2019", Kind::BirthDate),
            ("2026-03-26", Kind::BirthDate), // 20260326 passes the elfproef
            ("Chloë", Kind::Name),
            ("van 't Zand", Kind::Name),
            ("Jan-Willem", Kind::Name),
            ("d'Ancona", Kind::Name),
            ("Ayşe", Kind::Name),
        ];
        for (value, kind) in cases {
            assert_eq!(kinds(value), vec![kind], "{value:?}");
        }
    }

    #[test]
    fn look_alikes_and_mentions_are_nothing() {
        for value in [
            "",
            "   ",
            "123456789",               // fails the elfproef
            "bsn 123456782",           // holds a BSN, is none
            "NL00ABNA0417164300",      // wrong IBAN check
            "mail a@b.nl",             // holds an address
            "2026-11-02",              // after the reference date
            "1899-12-31",              // before 1900
            "2019-02-30",              // no such day
            "V",                       // one letter
            "dagopvang",               // lower case, no particle
            "Ouder gaf bsn kind",      // lower-case words
            "Een Twee Drie Vier Vijf", // five words
            "KDV 2",                   // a digit
            "Allergie: pinda",         // punctuation
            "GM0344",                  // a code
            "103.3",                   // a number
        ] {
            assert_eq!(kinds(value), Vec::<Kind>::new(), "{value:?}");
        }
    }

    #[test]
    fn only_the_kinds_asked_for() {
        let d = detector();
        assert_eq!(
            d.detect("123456782", Kinds::only(Kind::BirthDate)),
            Kinds::NONE
        );
        assert_eq!(
            d.detect("123456782", Kinds::only(Kind::Bsn)),
            Kinds::only(Kind::Bsn)
        );
        assert!(Kinds::ALL.iter().eq(Kind::ALL));
        assert!(Kinds::NONE.is_empty());
    }

    /// Eight digits and the ninth that makes the elfproef hold, if one does.
    fn valid_bsn(first: &[u8]) -> Option<String> {
        let sum: u32 = first
            .iter()
            .zip((2..=9).rev())
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        let check = sum % 11;
        (check < 10 && first.iter().any(|&d| d != 0)).then(|| {
            first
                .iter()
                .chain(&[check as u8])
                .map(|d| char::from(b'0' + d))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn typed_bsns_are_bsns(
            first in proptest::collection::vec(0u8..10, 8),
            seps in proptest::collection::vec(proptest::sample::select(&["", " ", ".", "-"][..]), 8),
            drop_zero in any::<bool>(),
        ) {
            let Some(bsn) = valid_bsn(&first) else { return Ok(()) };
            // Staff group digits and spreadsheets drop a leading zero.
            let bsn = if drop_zero && bsn.starts_with('0') { &bsn[1..] } else { &bsn[..] };
            let typed: String = bsn
                .chars()
                .zip(seps.iter().copied().chain([""]))
                .flat_map(|(c, s)| [c.to_string(), s.to_owned()])
                .collect();
            // Unless grouped like a date (`1934-05-12`), which no one types for a BSN.
            prop_assume!(date(&typed).is_none());
            prop_assert!(kinds(&typed).contains(&Kind::Bsn), "{typed:?}");
        }

        #[test]
        fn mobile_numbers_are_phones_not_bsns(rest in "[0-9]{8}", sep in "[ -]?") {
            let number = format!("06{sep}{rest}");
            prop_assert_eq!(kinds(&number), vec![Kind::Phone]);
        }

        #[test]
        fn dates_up_to_the_reference_are_dates_of_birth(days in 0i64..48_000) {
            let date = BORN_AFTER + chrono::Duration::days(days);
            let d = detector();
            let expected = if date <= d.reference_date { Kinds::only(Kind::BirthDate) } else { Kinds::NONE };
            prop_assert_eq!(d.detect(&date.format("%Y-%m-%d").to_string(), Kinds::ALL), expected);
            prop_assert_eq!(d.detect(&date.format("%d-%m-%Y").to_string(), Kinds::ALL), expected);
        }

        #[test]
        fn capitalised_words_are_names_until_a_digit(
            words in proptest::collection::vec("[A-ZÀ-Ö][a-zà-öø-ÿ]{1,9}(-[A-Z][a-z]{1,5})?", 1..5),
            digit in 0u8..10,
        ) {
            let name = words.join(" ");
            prop_assert_eq!(kinds(&name), vec![Kind::Name]);
            prop_assert_eq!(kinds(&format!("{name}{digit}")), Vec::<Kind>::new());
        }
    }
}
