//! Canonical forms of identifying values, as `docs/spec/pseudonyms-v1.md §Canonical forms`
//! defines them. A value without a canonical form gets no pseudonym.

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// Canonical BSN: nine ASCII digits that pass the elfproef.
///
/// `docs/spec/pseudonyms-v1.md §Canonical forms`, `bsn`: trim; remove spaces, dots and hyphens;
/// the rest must be 8 or 9 ASCII digits; left-pad with `0` to 9; the elfproef (weights
/// 9..2, −1) must hold and the value must not be all zeros.
pub fn bsn(input: &str) -> Option<[u8; 9]> {
    let mut digits = [b'0'; 9];
    let mut n = 0usize;
    for &b in input.trim().as_bytes() {
        match b {
            b' ' | b'.' | b'-' => {}
            b'0'..=b'9' if n < 9 => {
                digits[n] = b;
                n += 1;
            }
            _ => return None,
        }
    }
    if n < 8 {
        return None;
    }
    if n == 8 {
        digits.copy_within(0..8, 1);
        digits[0] = b'0';
    }
    elfproef(&digits).then_some(digits)
}

/// The "elevenproof": sum of digit × weight with weights 9,8,...,2,−1 divisible by 11,
/// and not `000000000` (which trivially passes).
fn elfproef(digits: &[u8; 9]) -> bool {
    let mut sum: i32 = 0;
    for (i, &d) in digits.iter().enumerate() {
        let weight = if i == 8 { -1 } else { 9 - i as i32 };
        sum += weight * i32::from(d - b'0');
    }
    sum % 11 == 0 && digits != b"000000000"
}

/// Whether a value is absent rather than malformed: null, empty or only white space.
pub fn is_blank(value: Option<&str>) -> bool {
    value.is_none_or(|v| v.trim().is_empty())
}

/// Canonical name of one or more parts, written into `out` (cleared first); returns
/// `false` when the name has no canonical form (every part empty).
///
/// `docs/spec/pseudonyms-v1.md §Canonical forms`, `name`: trim each part, join the non-empty
/// parts with one space; NFKD; drop nonspacing marks (Mn); lowercase; delete apostrophes;
/// every other non-alphanumeric character becomes a space; collapse spaces; trim.
/// `scratch` is reused between calls so a batch allocates only while buffers grow.
pub fn name<'a>(
    parts: impl IntoIterator<Item = Option<&'a str>>,
    scratch: &mut String,
    out: &mut String,
) -> bool {
    scratch.clear();
    for part in parts.into_iter().flatten() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if !scratch.is_empty() {
            scratch.push(' ');
        }
        scratch.push_str(part);
    }
    out.clear();
    if scratch.is_ascii() {
        // NFKD and mark removal are identities on ASCII; lowercasing is per byte.
        push_folded(scratch.bytes().map(|b| b.to_ascii_lowercase() as char), out);
    } else {
        let decomposed: String = scratch
            .nfkd()
            .filter(|&c| get_general_category(c) != GeneralCategory::NonspacingMark)
            .collect();
        // Lowercase the whole string, not char by char: a Greek capital sigma at the end
        // of a word becomes final sigma (ς), as in Python, Java and Spark.
        push_folded(decomposed.to_lowercase().chars(), out);
    }
    !out.is_empty()
}

/// The tail of the name form: delete apostrophes, turn every other non-alphanumeric
/// character into a separator, collapse separators to one space, trim.
fn push_folded(chars: impl Iterator<Item = char>, out: &mut String) {
    let mut pending_space = false;
    for c in chars {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
}

/// The date of a day count since 1970-01-01 (Arrow `Date32`), if its year has the four
/// digits that `YYYY-MM-DD` can write.
pub fn date_from_days(days: i32) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
        .filter(|d| (0..=9999).contains(&d.year()))
}

/// The day count since 1970-01-01 (Arrow `Date32`) of a date: the inverse of
/// [`date_from_days`].
pub fn days_from_date(date: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// A date written as ISO 8601 `YYYY-MM-DD` (surrounding white space allowed), nothing else.
pub fn date_from_iso(input: &str) -> Option<chrono::NaiveDate> {
    digit_date(input, [4, 7], 0..4, 5..7, 8..10)
}

/// A date written `DD-MM-YYYY`, as Dutch forms and spreadsheets do (surrounding white
/// space allowed).
pub fn date_from_dutch(input: &str) -> Option<chrono::NaiveDate> {
    digit_date(input, [2, 5], 6..10, 3..5, 0..2)
}

/// A ten-character date of digits with `-` at `dashes`, its parts at the given ranges.
#[inline]
fn digit_date(
    input: &str,
    dashes: [usize; 2],
    year: std::ops::Range<usize>,
    month: std::ops::Range<usize>,
    day: std::ops::Range<usize>,
) -> Option<chrono::NaiveDate> {
    let s = input.trim().as_bytes();
    let shape_ok = s.len() == 10
        && s.iter().enumerate().all(|(i, b)| {
            if dashes.contains(&i) {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        s[r].iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    chrono::NaiveDate::from_ymd_opt(num(year) as i32, num(month), num(day))
}

/// Days from 0001-01-01 (day 1 in chrono's count) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Why a value has no canonical form, and so produced no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Null, empty or only white space.
    Missing,
    /// Present, but with no canonical form (e.g. a BSN failing the elfproef).
    Invalid,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name_of(parts: &[Option<&str>]) -> Option<String> {
        let (mut scratch, mut out) = (String::new(), String::new());
        name(parts.iter().copied(), &mut scratch, &mut out).then_some(out)
    }

    #[test]
    fn bsn_repairs_spreadsheet_damage() {
        assert_eq!(bsn("10000021"), Some(*b"010000021"));
        assert_eq!(bsn(" 1234-56-782 "), Some(*b"123456782"));
        assert_eq!(bsn("123456789"), None, "fails the elfproef");
        assert_eq!(bsn("000000000"), None);
        assert_eq!(bsn("00000000"), None, "pads to all zeros");
        assert_eq!(bsn("１２３４５６７８２"), None, "only ASCII digits");
    }

    #[test]
    fn names_fold_to_one_form() {
        assert_eq!(
            name_of(&[Some("Zoë"), Some("van der"), Some("Berg")]).as_deref(),
            Some("zoe van der berg")
        );
        assert_eq!(
            name_of(&[Some("d'Ancona"), None]).as_deref(),
            Some("dancona")
        );
        assert_eq!(
            name_of(&[Some("ﬁona")]).as_deref(),
            Some("fiona"),
            "NFKD splits ligatures"
        );
        assert_eq!(name_of(&[Some(" - "), Some("")]), None, "punctuation only");
    }

    #[test]
    fn iso_dates_only() {
        assert_eq!(
            date_from_iso(" 2019-03-27")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2019-03-27")
        );
        assert_eq!(date_from_iso("2019-02-30"), None);
        assert_eq!(date_from_iso("27-03-2019"), None);
        assert_eq!(date_from_iso("2019-3-27"), None);
        assert_eq!(
            date_from_days(0).map(|d| d.to_string()).as_deref(),
            Some("1970-01-01")
        );
        for days in [-719_162, -1, 0, 20_000, 2_932_896] {
            assert_eq!(date_from_days(days).map(days_from_date), Some(days));
        }
    }

    proptest! {
        #[test]
        fn bsn_form_is_nine_digits_passing_elfproef(s in "[0-9 .-]{0,14}") {
            if let Some(c) = bsn(&s) {
                prop_assert!(c.iter().all(u8::is_ascii_digit));
                prop_assert!(elfproef(&c));
                // The canonical form is a fixed point.
                prop_assert_eq!(bsn(std::str::from_utf8(&c).unwrap()), Some(c));
            }
        }

        #[test]
        fn bsn_ignores_separators(d in "[0-9]{9}", seps in proptest::collection::vec("[ .-]", 9)) {
            let spaced: String = d.chars().zip(&seps).flat_map(|(c, s)| [c.to_string(), s.clone()]).collect();
            prop_assert_eq!(bsn(&spaced), bsn(&d));
        }

        #[test]
        fn name_form_is_idempotent_and_tidy(parts in proptest::collection::vec(proptest::option::of("\\PC{0,12}"), 1..4)) {
            let refs: Vec<Option<&str>> = parts.iter().map(|p| p.as_deref()).collect();
            if let Some(c) = name_of(&refs) {
                prop_assert_eq!(name_of(&[Some(c.as_str())]), Some(c.clone()));
                prop_assert!(!c.starts_with(' ') && !c.ends_with(' ') && !c.contains("  "));
                prop_assert!(c.chars().all(|ch| ch == ' ' || ch.is_alphanumeric()));
            }
        }

        #[test]
        fn name_form_ignores_case_and_spacing(a in "[A-Za-z]{1,8}", b in "[A-Za-z]{1,8}") {
            let loose = format!("  {}   {} ", a.to_uppercase(), b);
            prop_assert_eq!(name_of(&[Some(&loose)]), name_of(&[Some(&a), Some(&b.to_lowercase())]));
        }
    }
}
