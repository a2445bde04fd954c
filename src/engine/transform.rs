//! One batch in, one batch out: the plan's released columns computed by the kernels,
//! rows dropped where a `drop_row` column had no canonical form.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::NaiveDate;
use polars::prelude::*;
use polars_arrow::datatypes::Metadata;

use super::EngineError;
use super::bridge::{from_arrow_rs, to_arrow_rs};
use super::lists::LoadedList;
use crate::kernels::arrays::Strings;
use crate::kernels::batch::{self, Encoder, Expiry, KernelOutput, LinkSource, Tally};
use crate::kernels::canonical;
use crate::kernels::generalise::{self, AgeBands, Buckets};
use crate::kernels::keys::{MasterKey, SPEC_VERSION};
use crate::kernels::scrub::{ScrubCounts, Scrubber};
use crate::plan::{Exclusion, ExclusionReason, Plan, Transform};
use crate::spec::{Generalise, LinkPart, OnInvalid, PseudonymKind};

/// A released column with its kernel ready (HMAC keyed once, bands and buckets built).
struct Prepared {
    name: String,
    /// The input columns read, for messages: `` `a`, `b` ``.
    sources: String,
    on_invalid: OnInvalid,
    op: Op,
    /// The input columns read.
    inputs: Vec<String>,
    /// Indices into [`BatchTransform::terms`]: where one has passed, the value is null.
    terms: Vec<usize>,
}

enum Op {
    Keep(String),
    Scrub(String, Scrubber),
    Bsn(Encoder, String),
    Name(Encoder, Vec<String>),
    Link(Encoder, Vec<LinkPart>),
    Year(String),
    Month(String),
    AgeBand(String, NaiveDate, AgeBands),
    Pc4(String),
    Bucket(String, Buckets),
    TopCode(String, f64),
}

/// Records taken out of a batch before any transformation, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExclusionCounts {
    pub restriction: u64,
    pub objection: u64,
    /// Records whose key is past its retention term.
    pub retention: u64,
    /// Of `retention`: records whose anchor is no date, so could not be shown within it.
    pub retention_undated: u64,
    /// Rows whose flag could not be read: excluded too, since they may be marked.
    pub unreadable: u64,
}

impl ExclusionCounts {
    pub fn total(&self) -> u64 {
        self.restriction + self.objection + self.retention + self.unreadable
    }

    pub fn add(&mut self, other: &Self) {
        self.restriction += other.restriction;
        self.objection += other.objection;
        self.retention += other.retention;
        self.retention_undated += other.retention_undated;
        self.unreadable += other.unreadable;
    }
}

/// A retention term as applied: its anchor column, and the first anchor date still
/// within the term.
struct Term {
    anchor: String,
    cutoff: NaiveDate,
}

/// A batch after exclusions: the rows kept, their positions in the batch when some were
/// taken out (so messages can name the original row), and the counts.
struct Kept<'a> {
    frame: Cow<'a, DataFrame>,
    rows: Option<Vec<usize>>,
    counts: ExclusionCounts,
}

/// The BSNs of the exclusion lists, by reason, and the column they are matched against.
struct ListSets {
    key: String,
    restricted: HashSet<[u8; 9]>,
    objected: HashSet<[u8; 9]>,
}

/// The per-batch work of a plan.
pub struct BatchTransform {
    exclusions: Vec<Exclusion>,
    lists: Option<ListSets>,
    /// The record key's term: a record past it is excluded.
    key_term: Option<Term>,
    /// The terms of the released columns' sources.
    terms: Vec<Term>,
    columns: Vec<Prepared>,
    /// Field metadata of the pseudonym columns, by output name.
    metadata: Vec<(String, Metadata)>,
}

/// One transformed batch.
pub struct BatchOutput {
    pub frame: DataFrame,
    /// Per released column, in plan order.
    pub tallies: Vec<Tally>,
    /// Per released column, in plan order (zero but for `scrub` columns).
    pub scrubbed: Vec<ScrubCounts>,
    /// Per released column, in plan order: values nulled because a term had passed.
    pub expired: Vec<u64>,
    pub rows_dropped: u64,
    pub excluded: ExclusionCounts,
}

impl BatchTransform {
    /// `lists` are the plan's exclusion lists, loaded.
    pub fn new(plan: &Plan, key: &MasterKey, lists: &[LoadedList]) -> Result<Self, EngineError> {
        let lists = plan.exclusion_key.as_ref().map(|key| {
            let mut sets = ListSets {
                key: key.clone(),
                restricted: HashSet::new(),
                objected: HashSet::new(),
            };
            for list in lists {
                let set = match list.reason {
                    ExclusionReason::Restriction => &mut sets.restricted,
                    ExclusionReason::Objection => &mut sets.objected,
                };
                set.extend(&list.bsns);
            }
            sets
        });
        let term = |t: &crate::spec::catalogue::RetentionTerm| Term {
            anchor: t.after.clone(),
            cutoff: generalise::retention_cutoff(plan.reference_date, t.years),
        };
        let key_term = plan.retention_key.as_ref().map(|(_, t)| term(t));
        let applied = plan.retention_terms();
        let terms = applied.iter().map(|t| term(t)).collect();
        let domain_name = &plan.pipeline.declaration.pseudonym_domain;
        let domain = key.domain(domain_name);
        let fingerprint = key.fingerprint();
        let mut metadata = Vec::new();
        let columns = plan
            .outputs
            .iter()
            .map(|out| {
                let op = match &out.transform {
                    Transform::Keep { source } => Op::Keep(source.clone()),
                    Transform::Scrub { source } => Op::Scrub(source.clone(), Scrubber::new()),
                    Transform::Pseudonymise { kind, parts, token } => {
                        let p = if *token {
                            Encoder::Token(Box::new(key.tokeniser(domain_name, kind.as_str())))
                        } else {
                            Encoder::Pseudonym(domain.pseudonymiser(kind.as_str()))
                        };
                        metadata.push((
                            out.name.clone(),
                            Metadata::from_iter(
                                [
                                    ("doel.pseudonym.spec", SPEC_VERSION),
                                    ("doel.pseudonym.kind", kind.as_str()),
                                    (
                                        "doel.pseudonym.encoding",
                                        if *token { "token" } else { "pseudonym" },
                                    ),
                                    ("doel.pseudonym.domain", domain_name),
                                    ("doel.pseudonym.key_fingerprint", &fingerprint),
                                ]
                                .map(|(k, v)| (PlSmallStr::from_str(k), PlSmallStr::from_str(v))),
                            ),
                        ));
                        match (kind, parts.as_slice()) {
                            (PseudonymKind::Bsn, [LinkPart::Name(cols)]) if cols.len() == 1 => {
                                Op::Bsn(p, cols[0].clone())
                            }
                            (PseudonymKind::Name, [LinkPart::Name(cols)]) => {
                                Op::Name(p, cols.clone())
                            }
                            (PseudonymKind::Link, parts) => Op::Link(p, parts.to_vec()),
                            _ => {
                                return Err(EngineError::Internal(format!(
                                    "malformed sources for `{}`",
                                    out.name
                                )));
                            }
                        }
                    }
                    Transform::Generalise { source, to } => {
                        let source = source.clone();
                        match to {
                            Generalise::Year => Op::Year(source),
                            Generalise::Month => Op::Month(source),
                            Generalise::Pc4 => Op::Pc4(source),
                            Generalise::TopCode(max) => Op::TopCode(source, *max),
                            Generalise::AgeBand(bounds) => Op::AgeBand(
                                source,
                                plan.reference_date,
                                AgeBands::new(bounds).ok_or_else(|| {
                                    EngineError::Internal("unchecked age bands".into())
                                })?,
                            ),
                            Generalise::Bucket(edges) => Op::Bucket(
                                source,
                                Buckets::new(edges).ok_or_else(|| {
                                    EngineError::Internal("unchecked bucket edges".into())
                                })?,
                            ),
                        }
                    }
                };
                let sources = out
                    .sources()
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Prepared {
                    name: out.name.clone(),
                    sources,
                    on_invalid: out.on_invalid,
                    op,
                    inputs: out.sources().into_iter().map(str::to_owned).collect(),
                    terms: out
                        .retention
                        .iter()
                        .filter_map(|t| applied.iter().position(|a| a.name == t.name))
                        .collect(),
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Self {
            exclusions: plan.exclusions.clone(),
            lists,
            key_term,
            terms,
            columns,
            metadata,
        })
    }

    /// Field metadata for the pseudonym columns: spec version, kind, domain, key fingerprint.
    pub fn field_metadata(&self) -> &[(String, Metadata)] {
        &self.metadata
    }

    /// Transform one batch whose first row is data row `first_row` (1-based) of the input.
    pub fn apply(&self, df: &DataFrame, first_row: u64) -> Result<BatchOutput, EngineError> {
        let Kept {
            frame,
            rows: kept_rows,
            counts: excluded,
        } = self.exclude(df)?;
        let df = frame.as_ref();
        let mut columns = Vec::with_capacity(self.columns.len());
        let mut tallies = Vec::with_capacity(self.columns.len());
        let mut scrubbed = Vec::with_capacity(self.columns.len());
        let mut keep_rows: Option<BooleanChunked> = None;
        let passed: Vec<Vec<bool>> = self
            .terms
            .iter()
            .map(|term| {
                Ok(expired(df, term)?
                    .into_iter()
                    .map(Expiry::is_past)
                    .collect())
            })
            .collect::<Result<_, EngineError>>()?;
        // Per column with a term: the rows whose value is withheld (past, and present).
        let mut withheld: Vec<Option<Vec<bool>>> = Vec::with_capacity(self.columns.len());
        for prepared in &self.columns {
            let past: Option<Vec<bool>> = (!prepared.terms.is_empty())
                .then(|| {
                    (0..df.height())
                        .map(|row| prepared.terms.iter().any(|&t| passed[t][row]))
                        .collect::<Vec<bool>>()
                })
                .filter(|past| past.contains(&true));
            // A value past its term is withheld before it is transformed: it is not
            // counted, cannot fail the run and does not drop its row.
            let (series, tally, scrub_counts, within) = match &past {
                None => {
                    let (series, tally, counts) = self.column(prepared, df)?;
                    (series, tally, counts, None)
                }
                Some(past) => {
                    let (series, tally, counts, within) = self.column_within(prepared, df, past)?;
                    (series, tally, counts, Some(within))
                }
            };
            if let Some((row, reason)) = tally.first_rejected {
                let row = within.as_ref().map_or(row, |within| within[row]);
                match prepared.on_invalid {
                    OnInvalid::Fail => {
                        return Err(EngineError::InvalidValue {
                            column: prepared.name.clone(),
                            sources: prepared.sources.clone(),
                            row: first_row
                                + kept_rows.as_ref().map_or(row, |rows| rows[row]) as u64,
                            reason,
                        });
                    }
                    OnInvalid::DropRow => {
                        let mut present = series.is_not_null();
                        if let Some(past) = &past {
                            present = &present
                                | &BooleanChunked::from_slice(
                                    PlSmallStr::from_static("past"),
                                    past,
                                );
                        }
                        keep_rows = Some(match keep_rows {
                            Some(mask) => &mask & &present,
                            None => present,
                        });
                    }
                    OnInvalid::Null => {}
                }
            }
            withheld.push(match past {
                Some(past) => Some(present_where(df, &prepared.inputs, past)?),
                None => None,
            });
            columns.push(series.into_column());
            tallies.push(tally);
            scrubbed.push(scrub_counts);
        }
        let mut frame = DataFrame::new(df.height(), columns)
            .map_err(|e| EngineError::Internal(super::safe_summary(&e)))?;
        let mut rows_dropped = 0;
        // Withheld values are counted in the rows written only.
        let written: Option<Vec<bool>> = keep_rows
            .as_ref()
            .map(|mask| mask.iter().map(|k| k == Some(true)).collect());
        let expired_counts = withheld
            .iter()
            .map(|rows| {
                rows.as_ref().map_or(0, |rows| {
                    (0..rows.len())
                        .filter(|&r| rows[r] && written.as_ref().is_none_or(|w| w[r]))
                        .count() as u64
                })
            })
            .collect();
        if let Some(mask) = keep_rows {
            frame = frame
                .filter(&mask)
                .map_err(|e| EngineError::Internal(super::safe_summary(&e)))?;
            rows_dropped = (df.height() - frame.height()) as u64;
        }
        Ok(BatchOutput {
            frame,
            tallies,
            scrubbed,
            expired: expired_counts,
            rows_dropped,
            excluded,
        })
    }

    /// Take out the rows an exclusion marks (counted as restriction first, then
    /// objection, then retention), before any transformation. Also returns the kept rows'
    /// positions in `df` when some were taken out, so that messages can name the
    /// original row.
    fn exclude<'a>(&self, df: &'a DataFrame) -> Result<Kept<'a>, EngineError> {
        let mut counts = ExclusionCounts::default();
        if self.exclusions.is_empty() && self.lists.is_none() && self.key_term.is_none() {
            return Ok(Kept {
                frame: Cow::Borrowed(df),
                rows: None,
                counts,
            });
        }
        // Per row: marked restricted, marked objected, a flag unreadable.
        let mut marks = vec![(false, false, false); df.height()];
        for exclusion in &self.exclusions {
            let flags =
                batch::flags(input(df, &exclusion.column, Want::Text)?.as_ref()).map_err(|e| {
                    EngineError::Internal(format!("exclusion flag `{}`: {e}", exclusion.column))
                })?;
            for (mark, flag) in marks.iter_mut().zip(flags) {
                match (flag, exclusion.reason) {
                    (batch::Flag::Yes, ExclusionReason::Restriction) => mark.0 = true,
                    (batch::Flag::Yes, ExclusionReason::Objection) => mark.1 = true,
                    (batch::Flag::Unreadable, _) => mark.2 = true,
                    (batch::Flag::No | batch::Flag::Missing, _) => {}
                }
            }
        }
        if let Some(lists) = &self.lists {
            let key = input(df, &lists.key, Want::Text)?;
            let bsns = Strings::try_new(key.as_ref()).map_err(|e| {
                EngineError::Internal(format!("exclusion key `{}`: {e}", lists.key))
            })?;
            for (row, mark) in marks.iter_mut().enumerate() {
                if let Some(bsn) = bsns.get(row).and_then(canonical::bsn) {
                    mark.0 |= lists.restricted.contains(&bsn);
                    mark.1 |= lists.objected.contains(&bsn);
                }
            }
        }
        let past_term = match &self.key_term {
            Some(term) => expired(df, term)?,
            None => vec![Expiry::Within; df.height()],
        };
        let keep: Vec<bool> = marks
            .iter()
            .zip(past_term)
            .map(|(&(restricted, objected, unreadable), past_term)| {
                if restricted {
                    counts.restriction += 1;
                } else if objected {
                    counts.objection += 1;
                } else if past_term.is_past() {
                    counts.retention += 1;
                    counts.retention_undated += u64::from(past_term == Expiry::Undated);
                } else if unreadable {
                    counts.unreadable += 1;
                } else {
                    return true;
                }
                false
            })
            .collect();
        if counts.total() == 0 {
            return Ok(Kept {
                frame: Cow::Borrowed(df),
                rows: None,
                counts,
            });
        }
        let mask = BooleanChunked::from_slice(PlSmallStr::from_static("keep"), &keep);
        let filtered = df
            .filter(&mask)
            .map_err(|e| EngineError::Internal(super::safe_summary(&e)))?;
        let rows = keep
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i)
            .collect();
        Ok(Kept {
            frame: Cow::Owned(filtered),
            rows: Some(rows),
            counts,
        })
    }

    /// [`column`](Self::column) computed on the rows not `past` only, with null in the
    /// others; the rows computed on (positions in `df`), to map the tally's rows back.
    fn column_within(
        &self,
        prepared: &Prepared,
        df: &DataFrame,
        past: &[bool],
    ) -> Result<(Series, Tally, ScrubCounts, Vec<usize>), EngineError> {
        let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
        let keep: Vec<bool> = past.iter().map(|p| !p).collect();
        let within: Vec<usize> = (0..past.len()).filter(|&row| !past[row]).collect();
        let sub = df
            .select(prepared.inputs.iter().map(String::as_str))
            .and_then(|d| {
                d.filter(&BooleanChunked::from_slice(
                    PlSmallStr::from_static("within"),
                    &keep,
                ))
            })
            .map_err(internal)?;
        let (series, tally, counts) = self.column(prepared, &sub)?;
        // The computed values, then one null that every withheld row takes.
        let computed = series.len() as IdxSize;
        let mut extended = series.clone();
        extended
            .append(&Series::full_null(series.name().clone(), 1, series.dtype()))
            .map_err(internal)?;
        let mut next: IdxSize = 0;
        let positions: Vec<IdxSize> = past
            .iter()
            .map(|&p| {
                if p {
                    computed
                } else {
                    next += 1;
                    next - 1
                }
            })
            .collect();
        let full = extended
            .take(&IdxCa::from_vec(PlSmallStr::from_static("rows"), positions))
            .map_err(internal)?;
        Ok((full, tally, counts, within))
    }

    fn column(
        &self,
        prepared: &Prepared,
        df: &DataFrame,
    ) -> Result<(Series, Tally, ScrubCounts), EngineError> {
        let kernel_error = |e: crate::kernels::arrays::KernelError| {
            EngineError::Internal(format!("column `{}`: {e}", prepared.name))
        };
        let text = |name: &str| input(df, name, Want::Text);
        let date = |name: &str| input(df, name, Want::Date);
        let output: KernelOutput = match &prepared.op {
            Op::Keep(source) => {
                let series = source_series(df, source)?
                    .clone()
                    .with_name(PlSmallStr::from_str(&prepared.name));
                return Ok((series, Tally::default(), ScrubCounts::default()));
            }
            Op::Scrub(source, scrubber) => {
                let (array, tally, counts) =
                    batch::scrub(text(source)?.as_ref(), scrubber).map_err(kernel_error)?;
                return Ok((from_arrow_rs(&prepared.name, &array)?, tally, counts));
            }
            Op::Bsn(p, source) => batch::pseudonymise_bsn(p, text(source)?.as_ref()),
            Op::Name(p, sources) => {
                let arrays = sources
                    .iter()
                    .map(|s| text(s))
                    .collect::<Result<Vec<_>, _>>()?;
                batch::pseudonymise_name(p, &arrays.iter().map(|a| a.as_ref()).collect::<Vec<_>>())
            }
            Op::Link(p, parts) => {
                let arrays: Vec<Vec<arrow::array::ArrayRef>> = parts
                    .iter()
                    .map(|part| match part {
                        LinkPart::Date(c) => Ok(vec![date(c)?]),
                        LinkPart::Name(cs) => cs.iter().map(|c| text(c)).collect(),
                    })
                    .collect::<Result<_, EngineError>>()?;
                let sources: Vec<LinkSource> = parts
                    .iter()
                    .zip(&arrays)
                    .map(|(part, arrays)| match part {
                        LinkPart::Date(_) => LinkSource::Date(arrays[0].as_ref()),
                        LinkPart::Name(_) => {
                            LinkSource::Name(arrays.iter().map(|a| a.as_ref()).collect())
                        }
                    })
                    .collect();
                batch::pseudonymise_link(p, &sources)
            }
            Op::Year(source) => batch::year(date(source)?.as_ref()),
            Op::Month(source) => batch::month(date(source)?.as_ref()),
            Op::AgeBand(source, reference, bands) => {
                batch::age_band(date(source)?.as_ref(), *reference, bands)
            }
            Op::Pc4(source) => batch::pc4(text(source)?.as_ref()),
            Op::Bucket(source, buckets) => {
                batch::bucket(input(df, source, Want::Number)?.as_ref(), buckets)
            }
            Op::TopCode(source, max) => {
                batch::top_code(input(df, source, Want::Number)?.as_ref(), *max)
            }
        }
        .map_err(kernel_error)?;
        let (array, tally) = output;
        Ok((
            from_arrow_rs(&prepared.name, &array)?,
            tally,
            ScrubCounts::default(),
        ))
    }
}

/// Per row of `df`, where it stands against `term`.
fn expired(df: &DataFrame, term: &Term) -> Result<Vec<Expiry>, EngineError> {
    batch::expired(input(df, &term.anchor, Want::Date)?.as_ref(), term.cutoff)
        .map_err(|e| EngineError::Internal(format!("retention anchor `{}`: {e}", term.anchor)))
}

/// Per row of `df`, whether `past` and any of `inputs` holds a value.
fn present_where(
    df: &DataFrame,
    inputs: &[String],
    past: Vec<bool>,
) -> Result<Vec<bool>, EngineError> {
    let mut rows = vec![false; df.height()];
    for name in inputs {
        for (row, present) in source_series(df, name)?.is_not_null().iter().enumerate() {
            rows[row] |= present == Some(true);
        }
    }
    Ok(rows.into_iter().zip(past).map(|(r, p)| r && p).collect())
}

/// The arrow type a kernel reads.
#[derive(Clone, Copy)]
enum Want {
    Text,
    Date,
    Number,
}

fn source_series<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Series, EngineError> {
    df.column(name)
        .map(Column::as_materialized_series)
        .map_err(|_| EngineError::Internal(format!("planned column `{name}` is not in the batch")))
}

/// A source column as the arrow-rs array a kernel takes: integers become text for BSNs
/// and postcodes, every integer width becomes int64 and every float float64 for numbers.
fn input(df: &DataFrame, name: &str, want: Want) -> Result<arrow::array::ArrayRef, EngineError> {
    let series = source_series(df, name)?;
    let dtype = series.dtype();
    let target = match want {
        Want::Text if dtype.is_integer() => Some(DataType::String),
        // Unsigned 64-bit values may not fit int64: those become floats rather than null.
        Want::Number if *dtype == DataType::UInt64 => Some(DataType::Float64),
        Want::Number if dtype.is_integer() && *dtype != DataType::Int64 => Some(DataType::Int64),
        Want::Number if dtype.is_float() && *dtype != DataType::Float64 => Some(DataType::Float64),
        Want::Text | Want::Date | Want::Number => None,
    };
    match target {
        Some(t) => {
            let cast = series.cast(&t).map_err(|e| {
                EngineError::Internal(format!("casting `{name}`: {}", super::safe_summary(&e)))
            })?;
            to_arrow_rs(&cast)
        }
        None => to_arrow_rs(series),
    }
}
