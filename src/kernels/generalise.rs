//! Generalisations of quasi-identifiers, value by value: dates to year, month or age
//! band; postcodes to PC4; numbers to buckets or top-coded values.

use chrono::NaiveDate;

/// Age in whole years on `reference`, or `None` when the date lies after it.
pub fn age_on(birth: NaiveDate, reference: NaiveDate) -> Option<u32> {
    reference.years_since(birth)
}

/// The first day still within a retention term of `years` on `reference`: a value whose
/// anchor date lies before it is past its term. 29 February falls back to the 28th.
pub fn retention_cutoff(reference: NaiveDate, years: u32) -> NaiveDate {
    reference
        .checked_sub_months(chrono::Months::new(years.saturating_mul(12)))
        .unwrap_or(NaiveDate::MIN)
}

/// Age bands given by ascending lower bounds starting at 0, e.g. `[0, 4, 12, 18]`:
/// labels `0-3`, `4-11`, `12-17`, `18+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeBands {
    lower_bounds: Vec<u32>,
    labels: Vec<String>,
}

impl AgeBands {
    /// `None` unless the bounds start at 0 and strictly increase.
    pub fn new(lower_bounds: &[u32]) -> Option<Self> {
        let valid =
            lower_bounds.first() == Some(&0) && lower_bounds.windows(2).all(|w| w[0] < w[1]);
        if !valid {
            return None;
        }
        let labels = lower_bounds
            .iter()
            .enumerate()
            .map(|(i, lo)| match lower_bounds.get(i + 1) {
                Some(next) if *next == lo + 1 => lo.to_string(),
                Some(next) => format!("{lo}-{}", next - 1),
                None => format!("{lo}+"),
            })
            .collect();
        Some(Self {
            lower_bounds: lower_bounds.to_vec(),
            labels,
        })
    }

    /// The label of the band holding `age`.
    pub fn label(&self, age: u32) -> &str {
        let band = self.lower_bounds.partition_point(|lo| *lo <= age) - 1;
        &self.labels[band]
    }
}

/// The four digits of a Dutch postcode: `1234AB`, `1234 ab`, `1234` all give `1234`.
/// Anything else (a leading zero, letters missing or in the wrong place) has no PC4.
pub fn pc4(input: &str) -> Option<&str> {
    let trimmed = input.trim();
    let bytes = trimmed.as_bytes();
    if bytes.len() < 4
        || !(b'1'..=b'9').contains(&bytes[0])
        || !bytes[1..4].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let rest: Vec<u8> = bytes[4..].iter().copied().filter(|b| *b != b' ').collect();
    let letters_ok =
        rest.is_empty() || (rest.len() == 2 && rest.iter().all(u8::is_ascii_alphabetic));
    letters_ok.then(|| &trimmed[..4])
}

/// Numeric buckets given by ascending edges `[e0, …, en]`: labels `<e0`, `[e0,e1)`, …, `>=en`.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    edges: Vec<f64>,
    labels: Vec<String>,
}

impl Buckets {
    /// `None` unless the edges are finite and strictly increase.
    pub fn new(edges: &[f64]) -> Option<Self> {
        let valid = !edges.is_empty()
            && edges.iter().all(|e| e.is_finite())
            && edges.windows(2).all(|w| w[0] < w[1]);
        if !valid {
            return None;
        }
        let mut labels = vec![format!("<{}", edges[0])];
        labels.extend(edges.windows(2).map(|w| format!("[{},{})", w[0], w[1])));
        labels.push(format!(">={}", edges[edges.len() - 1]));
        Some(Self {
            edges: edges.to_vec(),
            labels,
        })
    }

    /// The label of the bucket holding `value`; `None` for NaN.
    pub fn label(&self, value: f64) -> Option<&str> {
        if value.is_nan() {
            return None;
        }
        Some(&self.labels[self.edges.partition_point(|e| *e <= value)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_on(d("2019-03-27"), d("2026-03-26")), Some(6));
        assert_eq!(age_on(d("2019-03-27"), d("2026-03-27")), Some(7));
        assert_eq!(age_on(d("2020-02-29"), d("2021-02-28")), Some(0));
        assert_eq!(age_on(d("2027-01-01"), d("2026-01-01")), None);
    }

    #[test]
    fn age_band_labels() {
        let bands = AgeBands::new(&[0, 4, 12, 18]).unwrap();
        assert_eq!(
            [0, 3, 4, 11, 12, 17, 18, 80].map(|a| bands.label(a)),
            ["0-3", "0-3", "4-11", "4-11", "12-17", "12-17", "18+", "18+"]
        );
        assert_eq!(AgeBands::new(&[0, 1, 2]).unwrap().label(0), "0");
        assert!(AgeBands::new(&[1, 4]).is_none());
        assert!(AgeBands::new(&[0, 4, 4]).is_none());
    }

    #[test]
    fn postcodes() {
        for ok in ["6131AB", "6131 ab", " 6131ab ", "6131", "6131 A B"] {
            assert_eq!(pc4(ok), Some("6131"), "{ok:?}");
        }
        for bad in ["0131AB", "613AB", "6131A", "6131ABC", "61X1AB", ""] {
            assert_eq!(pc4(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bucket_labels() {
        let b = Buckets::new(&[0.0, 10.0, 20.5]).unwrap();
        assert_eq!(
            [-1.0, 0.0, 9.99, 10.0, 20.5].map(|v| b.label(v).unwrap()),
            ["<0", "[0,10)", "[0,10)", "[10,20.5)", ">=20.5"]
        );
        assert_eq!(b.label(f64::NAN), None);
        assert!(Buckets::new(&[1.0, 1.0]).is_none());
    }

    proptest! {
        #[test]
        fn pc4_of_valid_pc6_is_its_digits(n in 1000u32..10000, l in "[a-zA-Z]{2}", space in proptest::bool::ANY) {
            let pc6 = format!("{n}{}{l}", if space { " " } else { "" });
            let expected = n.to_string();
            prop_assert_eq!(pc4(&pc6), Some(expected.as_str()));
        }

        #[test]
        fn every_age_has_exactly_one_band(age in 0u32..130) {
            let bands = AgeBands::new(&[0, 4, 12, 18, 65]).unwrap();
            let label = bands.label(age);
            prop_assert!(bands.labels.iter().filter(|l| l.as_str() == label).count() == 1);
        }

        #[test]
        fn buckets_are_monotone(a in -1e6f64..1e6, b in -1e6f64..1e6) {
            let bk = Buckets::new(&[-100.0, 0.0, 50.0, 1000.0]).unwrap();
            let idx = |v: f64| bk.labels.iter().position(|l| Some(l.as_str()) == bk.label(v)).unwrap();
            if a <= b { prop_assert!(idx(a) <= idx(b)); }
        }
    }
}
