//! Typed views over the Arrow (arrow-rs) arrays the kernels accept, so one kernel serves
//! `string`, `large_string` and `string_view` columns alike (Parquet readers, polars and
//! Spark each hand over a different one).

use arrow::array::{
    Array, AsArray, Date32Array, Float64Array, Int64Array, LargeStringArray, StringArray,
    StringViewArray,
};
use arrow::datatypes::DataType;
use chrono::NaiveDate;

use super::canonical;
use super::canonical::Reason;

/// An input array of a type a kernel cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// The array's Arrow type is not one this kernel reads.
    #[error("a column of type {found} cannot be used here; expected {expected}")]
    UnsupportedType {
        found: String,
        expected: &'static str,
    },
    /// Several input arrays of one multi-column kernel differ in length.
    #[error("input arrays differ in length ({0} vs {1})")]
    LengthMismatch(usize, usize),
}

fn unsupported(array: &dyn Array, expected: &'static str) -> KernelError {
    KernelError::UnsupportedType {
        found: array.data_type().to_string(),
        expected,
    }
}

/// A string array of any of Arrow's three layouts.
#[derive(Clone, Copy)]
pub enum Strings<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strings<'a> {
    pub const EXPECTED: &'static str = "text (utf8, large_utf8 or utf8_view)";

    pub fn try_new(array: &'a dyn Array) -> Result<Self, KernelError> {
        Ok(match array.data_type() {
            DataType::Utf8 => Self::Utf8(array.as_string()),
            DataType::LargeUtf8 => Self::Large(array.as_string()),
            DataType::Utf8View => Self::View(array.as_string_view()),
            _ => return Err(unsupported(array, Self::EXPECTED)),
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Utf8(a) => a.len(),
            Self::Large(a) => a.len(),
            Self::View(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Self::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// A date array: Arrow `date32`, or text in ISO 8601 `YYYY-MM-DD` (as CSV delivers dates).
#[derive(Clone, Copy)]
pub enum Dates<'a> {
    Days(&'a Date32Array),
    Iso(Strings<'a>),
}

impl<'a> Dates<'a> {
    pub const EXPECTED: &'static str = "a date (date32, or text as YYYY-MM-DD)";

    pub fn try_new(array: &'a dyn Array) -> Result<Self, KernelError> {
        match array.data_type() {
            DataType::Date32 => Ok(Self::Days(array.as_primitive())),
            _ => Strings::try_new(array)
                .map(Self::Iso)
                .map_err(|_| unsupported(array, Self::EXPECTED)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Days(a) => a.len(),
            Self::Iso(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The date in row `i`, or why there is none.
    #[inline]
    pub fn get(&self, i: usize) -> Result<NaiveDate, Reason> {
        match self {
            Self::Days(a) if a.is_null(i) => Err(Reason::Missing),
            Self::Days(a) => canonical::date_from_days(a.value(i)).ok_or(Reason::Invalid),
            Self::Iso(s) => match s.get(i) {
                Some(v) if !canonical::is_blank(Some(v)) => {
                    canonical::date_from_iso(v).ok_or(Reason::Invalid)
                }
                _ => Err(Reason::Missing),
            },
        }
    }
}

/// A numeric array: 64-bit integers, 64-bit floats, or text holding a decimal number.
#[derive(Clone, Copy)]
pub enum Numbers<'a> {
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Text(Strings<'a>),
}

impl<'a> Numbers<'a> {
    pub const EXPECTED: &'static str = "a number (int64, float64, or text holding a number)";

    pub fn try_new(array: &'a dyn Array) -> Result<Self, KernelError> {
        match array.data_type() {
            DataType::Int64 => Ok(Self::Int(array.as_primitive())),
            DataType::Float64 => Ok(Self::Float(array.as_primitive())),
            _ => Strings::try_new(array)
                .map(Self::Text)
                .map_err(|_| unsupported(array, Self::EXPECTED)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Int(a) => a.len(),
            Self::Float(a) => a.len(),
            Self::Text(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number in row `i`, or why there is none (text that is no number, NaN and ±inf
    /// are invalid).
    #[inline]
    pub fn get(&self, i: usize) -> Result<f64, Reason> {
        let v = match self {
            Self::Int(a) if a.is_null(i) => return Err(Reason::Missing),
            Self::Int(a) => a.value(i) as f64,
            Self::Float(a) if a.is_null(i) => return Err(Reason::Missing),
            Self::Float(a) => a.value(i),
            Self::Text(s) => match s.get(i) {
                Some(v) if !canonical::is_blank(Some(v)) => {
                    v.trim().parse::<f64>().map_err(|_| Reason::Invalid)?
                }
                _ => return Err(Reason::Missing),
            },
        };
        // NaN and ±inf are no amounts: in a sum they would be published as `NaN` or
        // `inf`, and one NaN would disable the p%-rule for its cell.
        if !v.is_finite() {
            Err(Reason::Invalid)
        } else {
            Ok(v)
        }
    }
}
