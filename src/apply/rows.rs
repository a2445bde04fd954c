//! One record batch in, one record batch out: the plan's released columns computed by the
//! kernels, rows excluded (restriction, objection, retention) before anything else, and
//! rows dropped where a `drop_row` column had no canonical form.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array, new_null_array};
use arrow::compute::{cast, concat, filter_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use chrono::NaiveDate;

use super::{ApplyError, InvalidValue};
use crate::kernels::arrays::{KernelError, Strings};
use crate::kernels::canonical;
use crate::kernels::columns::{self, Encoder, Expiry, KernelOutput, LinkSource, Tally};
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
    /// Indices into [`RowPlan::terms`]: where one has passed, the value is null.
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

    fn count(&mut self, excluded: Excluded) {
        match excluded {
            Excluded::Restriction => self.restriction += 1,
            Excluded::Objection => self.objection += 1,
            Excluded::Retention { undated } => {
                self.retention += 1;
                self.retention_undated += u64::from(undated);
            }
            Excluded::Unreadable => self.unreadable += 1,
        }
    }
}

/// Why one record was taken out, in the order the reasons are counted: a record both
/// restricted and objected to counts as restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excluded {
    Restriction,
    Objection,
    /// Past the record key's retention term (`undated`: its anchor is no date).
    Retention {
        undated: bool,
    },
    /// An exclusion flag could not be read.
    Unreadable,
}

impl Excluded {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restriction => "restriction",
            Self::Objection => "objection",
            Self::Retention { undated: false } => "retention",
            Self::Retention { undated: true } => "retention_undated",
            Self::Unreadable => "unreadable",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "restriction" => Self::Restriction,
            "objection" => Self::Objection,
            "retention" => Self::Retention { undated: false },
            "retention_undated" => Self::Retention { undated: true },
            "unreadable" => Self::Unreadable,
            _ => return None,
        })
    }
}

/// A retention term as applied: its anchor column, and the first anchor date still
/// within the term.
struct Term {
    anchor: String,
    cutoff: NaiveDate,
}

/// The canonical BSNs of the exclusion lists: per BSN, which lists name it (bit `i` for
/// list `i`, at most 64 lists), and per list its reason.
#[derive(Debug, Default, Clone)]
pub struct ListSets {
    pub listed: HashMap<[u8; 9], u64>,
    pub reasons: Vec<ExclusionReason>,
}

impl ListSets {
    /// The most lists a plan can match against.
    pub const MAX_LISTS: usize = 64;

    /// Add list number `reasons.len()`, of `bsns`; `None` past [`Self::MAX_LISTS`].
    pub fn push<'a>(
        &mut self,
        reason: ExclusionReason,
        bsns: impl IntoIterator<Item = &'a [u8; 9]>,
    ) -> Option<()> {
        let bit = 1u64.checked_shl(u32::try_from(self.reasons.len()).ok()?)?;
        self.reasons.push(reason);
        for bsn in bsns {
            *self.listed.entry(*bsn).or_default() |= bit;
        }
        Some(())
    }

    /// The lists (as a bit mask) of one reason.
    fn mask(&self, reason: ExclusionReason) -> u64 {
        self.reasons
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == reason)
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }
}

/// How a record is matched against the plan's exclusion lists (when one applies).
pub enum ListMatch {
    /// Its BSN (the plan's `exclusion_key`) looked up in the lists' sets.
    Sets(ListSets),
    /// Already matched, by a join elsewhere (Spark's broadcast join): this column holds
    /// `restriction`, `objection` or null per record.
    Column(String),
}

/// The name of the column [`ListMatch::Column`] reads by convention.
pub const LISTED_COLUMN: &str = "__doel_listed";

/// The row-local work of a plan, ready to apply to any number of batches.
pub struct RowPlan {
    exclusions: Vec<Exclusion>,
    /// The column lists are matched against, and how.
    lists: Option<(String, ListMatch)>,
    /// The record key's term: a record past it is excluded.
    key_term: Option<Term>,
    /// The terms of the released columns' sources.
    terms: Vec<Term>,
    columns: Vec<Prepared>,
    /// Field metadata of the pseudonym columns, by output name.
    metadata: Vec<(String, HashMap<String, String>)>,
}

/// One transformed batch.
pub struct BatchOutput {
    pub batch: RecordBatch,
    pub stats: BatchStats,
}

/// What became of one batch's records and values.
pub struct BatchStats {
    /// Per released column, in plan order.
    pub tallies: Vec<Tally>,
    /// Per released column, in plan order (zero but for `scrub` columns).
    pub scrubbed: Vec<ScrubCounts>,
    /// Per released column, in plan order: values nulled because a term had passed.
    pub expired: Vec<u64>,
    pub rows_dropped: u64,
    pub excluded: ExclusionCounts,
    /// Per exclusion list (matched by [`ListMatch::Sets`]), the records whose BSN it
    /// names, whatever else excluded them.
    pub listed: Vec<u64>,
}

/// A batch after exclusions: the rows kept, their positions in the batch when some were
/// taken out (so messages can name the original row), and the counts.
struct Kept {
    batch: RecordBatch,
    rows: Option<Vec<usize>>,
    counts: ExclusionCounts,
    listed: Vec<u64>,
}

impl RowPlan {
    /// `lists` says how records are matched against the plan's exclusion lists; it is not
    /// consulted when none applies.
    pub fn new(plan: &Plan, key: &MasterKey, lists: ListMatch) -> Result<Self, ApplyError> {
        let lists = plan.exclusion_key.clone().map(|column| (column, lists));
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
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
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
                                return Err(ApplyError::Internal(format!(
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
                                    ApplyError::Internal("unchecked age bands".into())
                                })?,
                            ),
                            Generalise::Bucket(edges) => Op::Bucket(
                                source,
                                Buckets::new(edges).ok_or_else(|| {
                                    ApplyError::Internal("unchecked bucket edges".into())
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
            .collect::<Result<_, ApplyError>>()?;
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
    pub fn field_metadata(&self) -> &[(String, HashMap<String, String>)] {
        &self.metadata
    }

    /// Whether any record can be excluded (flags, lists or a key retention term).
    fn excludes(&self) -> bool {
        !self.exclusions.is_empty() || self.lists.is_some() || self.key_term.is_some()
    }

    /// Per row of `batch`, why it is excluded (`None`: kept).
    pub fn classify(&self, batch: &RecordBatch) -> Result<Vec<Option<Excluded>>, ApplyError> {
        self.classify_counting(batch).map(|(classes, _)| classes)
    }

    /// [`classify`](Self::classify), and per exclusion list the rows whose BSN it names.
    fn classify_counting(
        &self,
        batch: &RecordBatch,
    ) -> Result<(Vec<Option<Excluded>>, Vec<u64>), ApplyError> {
        let height = batch.num_rows();
        let mut listed = match &self.lists {
            Some((_, ListMatch::Sets(sets))) => vec![0; sets.reasons.len()],
            _ => Vec::new(),
        };
        if !self.excludes() {
            return Ok((vec![None; height], listed));
        }
        // Per row: marked restricted, marked objected, a flag unreadable.
        let mut marks = vec![(false, false, false); height];
        for exclusion in &self.exclusions {
            let flags = columns::flags(input(batch, &exclusion.column, Want::Text)?.as_ref())
                .map_err(|e| {
                    ApplyError::Internal(format!("exclusion flag `{}`: {e}", exclusion.column))
                })?;
            for (mark, flag) in marks.iter_mut().zip(flags) {
                match (flag, exclusion.reason) {
                    (columns::Flag::Yes, ExclusionReason::Restriction) => mark.0 = true,
                    (columns::Flag::Yes, ExclusionReason::Objection) => mark.1 = true,
                    (columns::Flag::Unreadable, _) => mark.2 = true,
                    (columns::Flag::No | columns::Flag::Missing, _) => {}
                }
            }
        }
        match &self.lists {
            None => {}
            Some((key, ListMatch::Sets(sets))) => {
                let key_values = input(batch, key, Want::Text)?;
                let bsns = Strings::try_new(key_values.as_ref())
                    .map_err(|e| ApplyError::Internal(format!("exclusion key `{key}`: {e}")))?;
                let (restricted, objected) = (
                    sets.mask(ExclusionReason::Restriction),
                    sets.mask(ExclusionReason::Objection),
                );
                for (row, mark) in marks.iter_mut().enumerate() {
                    let Some(&lists) = bsns
                        .get(row)
                        .and_then(canonical::bsn)
                        .and_then(|bsn| sets.listed.get(&bsn))
                    else {
                        continue;
                    };
                    mark.0 |= lists & restricted != 0;
                    mark.1 |= lists & objected != 0;
                    for (i, count) in listed.iter_mut().enumerate() {
                        *count += lists >> i & 1;
                    }
                }
            }
            Some((_, ListMatch::Column(column))) => {
                let listed = input(batch, column, Want::Text)?;
                let listed = Strings::try_new(listed.as_ref()).map_err(|e| {
                    ApplyError::Internal(format!("list match column `{column}`: {e}"))
                })?;
                for (row, mark) in marks.iter_mut().enumerate() {
                    match listed.get(row) {
                        Some("restriction") => mark.0 = true,
                        Some("objection") => mark.1 = true,
                        None => {}
                        Some(_) => {
                            return Err(ApplyError::Internal(format!(
                                "list match column `{column}` holds an unknown reason"
                            )));
                        }
                    }
                }
            }
        }
        let past_term = match &self.key_term {
            Some(term) => expired(batch, term)?,
            None => vec![Expiry::Within; height],
        };
        let classes = marks
            .iter()
            .zip(past_term)
            .map(|(&(restricted, objected, unreadable), past_term)| {
                if restricted {
                    Some(Excluded::Restriction)
                } else if objected {
                    Some(Excluded::Objection)
                } else if past_term.is_past() {
                    Some(Excluded::Retention {
                        undated: past_term == Expiry::Undated,
                    })
                } else if unreadable {
                    Some(Excluded::Unreadable)
                } else {
                    None
                }
            })
            .collect();
        Ok((classes, listed))
    }

    /// Transform one batch whose first row is data row `first_row` (1-based) of the input.
    pub fn apply(&self, batch: &RecordBatch, first_row: u64) -> Result<BatchOutput, ApplyError> {
        let Kept {
            batch,
            rows: kept_rows,
            counts: excluded,
            listed,
        } = self.exclude(batch)?;
        let height = batch.num_rows();
        let mut columns = Vec::with_capacity(self.columns.len());
        let mut tallies = Vec::with_capacity(self.columns.len());
        let mut scrubbed = Vec::with_capacity(self.columns.len());
        let mut keep_rows: Option<Vec<bool>> = None;
        let passed: Vec<Vec<bool>> = self
            .terms
            .iter()
            .map(|term| {
                Ok(expired(&batch, term)?
                    .into_iter()
                    .map(Expiry::is_past)
                    .collect())
            })
            .collect::<Result<_, ApplyError>>()?;
        // Per column with a term: the rows whose value is withheld (past, and present).
        let mut withheld: Vec<Option<Vec<bool>>> = Vec::with_capacity(self.columns.len());
        for prepared in &self.columns {
            let past: Option<Vec<bool>> = (!prepared.terms.is_empty())
                .then(|| {
                    (0..height)
                        .map(|row| prepared.terms.iter().any(|&t| passed[t][row]))
                        .collect::<Vec<bool>>()
                })
                .filter(|past| past.contains(&true));
            // A value past its term is withheld before it is transformed: it is not
            // counted, cannot fail the run and does not drop its row.
            let (array, tally, scrub_counts, within) = match &past {
                None => {
                    let (array, tally, counts) = self.column(prepared, &batch)?;
                    (array, tally, counts, None)
                }
                Some(past) => {
                    let (array, tally, counts, within) =
                        self.column_within(prepared, &batch, past)?;
                    (array, tally, counts, Some(within))
                }
            };
            if let Some((row, reason)) = tally.first_rejected {
                let row = within.as_ref().map_or(row, |within| within[row]);
                match prepared.on_invalid {
                    OnInvalid::Fail => {
                        return Err(ApplyError::InvalidValue(InvalidValue {
                            column: prepared.name.clone(),
                            sources: prepared.sources.clone(),
                            row: first_row
                                + kept_rows.as_ref().map_or(row, |rows| rows[row]) as u64,
                            reason,
                        }));
                    }
                    OnInvalid::DropRow => {
                        let mut present = valid(array.as_ref());
                        if let Some(past) = &past {
                            for (p, &was_past) in present.iter_mut().zip(past) {
                                *p |= was_past;
                            }
                        }
                        keep_rows = Some(match keep_rows {
                            Some(mask) => {
                                mask.iter().zip(&present).map(|(a, b)| *a && *b).collect()
                            }
                            None => present,
                        });
                    }
                    OnInvalid::Null => {}
                }
            }
            withheld.push(match past {
                Some(past) => Some(present_where(&batch, &prepared.inputs, past)?),
                None => None,
            });
            columns.push(array);
            tallies.push(tally);
            scrubbed.push(scrub_counts);
        }
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&columns)
            .map(|(prepared, array)| {
                let field = Field::new(&prepared.name, array.data_type().clone(), true);
                match self
                    .metadata
                    .iter()
                    .find(|(name, _)| *name == prepared.name)
                {
                    Some((_, metadata)) => field.with_metadata(metadata.clone()),
                    None => field,
                }
            })
            .collect();
        let mut out = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(height)),
        )
        .map_err(|e| ApplyError::Internal(format!("assembling the batch: {e}")))?;
        // Withheld values are counted in the rows written only.
        let expired_counts = withheld
            .iter()
            .map(|rows| {
                rows.as_ref().map_or(0, |rows| {
                    (0..rows.len())
                        .filter(|&r| rows[r] && keep_rows.as_ref().is_none_or(|w| w[r]))
                        .count() as u64
                })
            })
            .collect();
        let mut rows_dropped = 0;
        if let Some(mask) = keep_rows {
            out = filter_record_batch(&out, &BooleanArray::from(mask))
                .map_err(|e| ApplyError::Internal(format!("dropping rows: {e}")))?;
            rows_dropped = (height - out.num_rows()) as u64;
        }
        Ok(BatchOutput {
            batch: out,
            stats: BatchStats {
                tallies,
                scrubbed,
                expired: expired_counts,
                rows_dropped,
                excluded,
                listed,
            },
        })
    }

    /// Take out the rows [`classify`](Self::classify) excludes, before any
    /// transformation. Also returns the kept rows' positions in `batch` when some were
    /// taken out, so that messages can name the original row.
    fn exclude(&self, batch: &RecordBatch) -> Result<Kept, ApplyError> {
        let mut counts = ExclusionCounts::default();
        let whole = |counts, listed| Kept {
            batch: batch.clone(),
            rows: None,
            counts,
            listed,
        };
        if !self.excludes() {
            return Ok(whole(counts, Vec::new()));
        }
        let (classes, listed) = self.classify_counting(batch)?;
        for excluded in classes.iter().flatten() {
            counts.count(*excluded);
        }
        if counts.total() == 0 {
            return Ok(whole(counts, listed));
        }
        let keep: Vec<bool> = classes.iter().map(Option::is_none).collect();
        let filtered = filter_record_batch(batch, &BooleanArray::from(keep.clone()))
            .map_err(|e| ApplyError::Internal(format!("excluding rows: {e}")))?;
        let rows = keep
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i)
            .collect();
        Ok(Kept {
            batch: filtered,
            rows: Some(rows),
            counts,
            listed,
        })
    }

    /// [`column`](Self::column) computed on the rows not `past` only, with null in the
    /// others; the rows computed on (positions in `batch`), to map the tally's rows back.
    fn column_within(
        &self,
        prepared: &Prepared,
        batch: &RecordBatch,
        past: &[bool],
    ) -> Result<(ArrayRef, Tally, ScrubCounts, Vec<usize>), ApplyError> {
        let internal = |e: arrow::error::ArrowError| ApplyError::Internal(e.to_string());
        let keep = BooleanArray::from(past.iter().map(|p| !p).collect::<Vec<_>>());
        let within: Vec<usize> = (0..past.len()).filter(|&row| !past[row]).collect();
        let indices = prepared
            .inputs
            .iter()
            .map(|name| index_of(batch, name))
            .collect::<Result<Vec<_>, _>>()?;
        let sub = batch
            .project(&indices)
            .and_then(|b| filter_record_batch(&b, &keep))
            .map_err(internal)?;
        let (array, tally, counts) = self.column(prepared, &sub)?;
        // The computed values, then one null that every withheld row takes.
        let computed = array.len() as u32;
        let extended = concat(&[
            array.as_ref(),
            new_null_array(array.data_type(), 1).as_ref(),
        ])
        .map_err(internal)?;
        let mut next: u32 = 0;
        let positions: UInt32Array = past
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
        let full = take(extended.as_ref(), &positions, None).map_err(internal)?;
        Ok((full, tally, counts, within))
    }

    fn column(
        &self,
        prepared: &Prepared,
        batch: &RecordBatch,
    ) -> Result<(ArrayRef, Tally, ScrubCounts), ApplyError> {
        let kernel_error =
            |e: KernelError| ApplyError::Internal(format!("column `{}`: {e}", prepared.name));
        let text = |name: &str| input(batch, name, Want::Text);
        let date = |name: &str| input(batch, name, Want::Date);
        let output: KernelOutput = match &prepared.op {
            Op::Keep(source) => {
                let array = Arc::clone(column(batch, source)?);
                let (array, tally) =
                    columns::finite(array.as_ref()).unwrap_or((array, Tally::default()));
                return Ok((array, tally, ScrubCounts::default()));
            }
            Op::Scrub(source, scrubber) => {
                return columns::scrub(text(source)?.as_ref(), scrubber).map_err(kernel_error);
            }
            Op::Bsn(p, source) => columns::pseudonymise_bsn(p, text(source)?.as_ref()),
            Op::Name(p, sources) => {
                let arrays = sources
                    .iter()
                    .map(|s| text(s))
                    .collect::<Result<Vec<_>, _>>()?;
                columns::pseudonymise_name(
                    p,
                    &arrays.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
                )
            }
            Op::Link(p, parts) => {
                let arrays: Vec<Vec<ArrayRef>> = parts
                    .iter()
                    .map(|part| match part {
                        LinkPart::Date(c) => Ok(vec![date(c)?]),
                        LinkPart::Name(cs) => cs.iter().map(|c| text(c)).collect(),
                    })
                    .collect::<Result<_, ApplyError>>()?;
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
                columns::pseudonymise_link(p, &sources)
            }
            Op::Year(source) => columns::year(date(source)?.as_ref()),
            Op::Month(source) => columns::month(date(source)?.as_ref()),
            Op::AgeBand(source, reference, bands) => {
                columns::age_band(date(source)?.as_ref(), *reference, bands)
            }
            Op::Pc4(source) => columns::pc4(text(source)?.as_ref()),
            Op::Bucket(source, buckets) => {
                columns::bucket(input(batch, source, Want::Number)?.as_ref(), buckets)
            }
            Op::TopCode(source, max) => {
                columns::top_code(input(batch, source, Want::Number)?.as_ref(), *max)
            }
        }
        .map_err(kernel_error)?;
        let (array, tally) = output;
        Ok((array, tally, ScrubCounts::default()))
    }
}

/// Per row of `batch`, where it stands against `term`.
fn expired(batch: &RecordBatch, term: &Term) -> Result<Vec<Expiry>, ApplyError> {
    columns::expired(
        input(batch, &term.anchor, Want::Date)?.as_ref(),
        term.cutoff,
    )
    .map_err(|e| ApplyError::Internal(format!("retention anchor `{}`: {e}", term.anchor)))
}

/// Per row, whether `array` holds a value (a null-typed array holds none).
fn valid(array: &dyn Array) -> Vec<bool> {
    match array.logical_nulls() {
        Some(nulls) => nulls.iter().collect(),
        None => vec![true; array.len()],
    }
}

/// Per row of `batch`, whether `past` and any of `inputs` holds a value (text that is
/// empty or only white space is missing, as everywhere else, not withheld).
fn present_where(
    batch: &RecordBatch,
    inputs: &[String],
    past: Vec<bool>,
) -> Result<Vec<bool>, ApplyError> {
    let mut rows = vec![false; batch.num_rows()];
    for name in inputs {
        let array = column(batch, name)?;
        match Strings::try_new(array.as_ref()) {
            Ok(strings) => {
                for (row, present) in rows.iter_mut().enumerate() {
                    *present |= !canonical::is_blank(strings.get(row));
                }
            }
            Err(_) => {
                for (row, present) in valid(array.as_ref()).into_iter().enumerate() {
                    rows[row] |= present;
                }
            }
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

fn index_of(batch: &RecordBatch, name: &str) -> Result<usize, ApplyError> {
    batch
        .schema_ref()
        .index_of(name)
        .map_err(|_| ApplyError::Internal(format!("planned column `{name}` is not in the batch")))
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ApplyError> {
    Ok(batch.column(index_of(batch, name)?))
}

/// A source column as the array a kernel takes: integers become text for BSNs and
/// postcodes, every integer width becomes int64 and every float float64 for numbers.
fn input(batch: &RecordBatch, name: &str, want: Want) -> Result<ArrayRef, ApplyError> {
    let array = column(batch, name)?;
    let dtype = array.data_type();
    let target = match want {
        Want::Text if dtype.is_integer() => Some(DataType::Utf8),
        // Unsigned 64-bit values may not fit int64: those become floats rather than null.
        Want::Number if *dtype == DataType::UInt64 => Some(DataType::Float64),
        Want::Number if dtype.is_integer() && *dtype != DataType::Int64 => Some(DataType::Int64),
        Want::Number if dtype.is_floating() && *dtype != DataType::Float64 => {
            Some(DataType::Float64)
        }
        Want::Text | Want::Date | Want::Number => None,
    };
    match target {
        Some(t) => cast(array.as_ref(), &t)
            .map_err(|e| ApplyError::Internal(format!("casting `{name}` to {t}: {e}"))),
        None => Ok(Arc::clone(array)),
    }
}

/// Per row, the canonical form of the BSN in `values` (text, or integers as exports
/// sometimes hold them) as its nine digits, or null where there is none.
pub fn canonical_bsns(values: &ArrayRef) -> Result<arrow::array::StringArray, ApplyError> {
    let values = if values.data_type().is_integer() {
        cast(values.as_ref(), &DataType::Utf8)
            .map_err(|e| ApplyError::Internal(format!("BSNs as text: {e}")))?
    } else {
        Arc::clone(values)
    };
    let strings =
        Strings::try_new(values.as_ref()).map_err(|e| ApplyError::Internal(e.to_string()))?;
    Ok((0..strings.len())
        .map(|row| {
            strings
                .get(row)
                .and_then(canonical::bsn)
                .map(|digits| String::from_utf8_lossy(&digits).into_owned())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use arrow::array::{AsArray, Float64Array, StringArray};
    use arrow::datatypes::Int32Type;
    use hmac::{KeyInit, Mac};

    use crate::kernels::canonical::Reason;
    use crate::spec::{Catalogue, Pipeline};

    const CATALOGUE: &str = r#"
[catalogue]
name = "t"
key = "bsn"
[retention.dossier]
years = 7
after = "einde"
[retention.kort]
years = 2
after = "afgemeld"
[columns]
bsn = { type = "text", category = "bsn", subjects = ["child"], retention = "dossier" }
voornaam = { type = "text", category = "identifier", subjects = ["child"], retention = "kort" }
postcode = { type = "text", category = "address", subjects = ["child"] }
geboren = { type = "date", category = "birth_date", subjects = ["child"] }
einde = { type = "date", category = "contract", subjects = ["child"] }
afgemeld = { type = "date", category = "contract", subjects = ["child"] }
beperkt = { type = "boolean", category = "restriction", subjects = ["child"] }
bezwaar = { type = "text", category = "objection", subjects = ["child"] }
uren = { type = "float", category = "other", subjects = ["child"] }
"#;

    const KEY: [u8; 32] = [7; 32];

    /// The run date: the key's term (7 years after `einde`) starts at 2019-01-01, the
    /// first name's (2 years after `afgemeld`) at 2024-01-01.
    fn run_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    /// One row per case:
    /// 0 kept; 1 restricted and objected; 2 objected; 3 past the key's term; 4 an anchor
    /// that is no date; 5 a BSN failing the elfproef; 6 the first name past its term;
    /// 7 an objection flag that cannot be read.
    fn batch() -> RecordBatch {
        let text = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as ArrayRef;
        RecordBatch::try_from_iter_with_nullable([
            (
                "bsn",
                text(vec![
                    Some("123456782"),
                    Some("111222333"),
                    Some("999999990"),
                    Some("100000009"),
                    Some("123456782"),
                    Some("123456789"),
                    Some("111222333"),
                    Some("999999990"),
                ]),
                true,
            ),
            (
                "voornaam",
                text(vec![
                    Some("Anna"),
                    Some("Bram"),
                    Some("Cas"),
                    Some("Daan"),
                    Some("Eva"),
                    Some("Fem"),
                    Some("Gijs"),
                    Some("Hugo"),
                ]),
                true,
            ),
            ("postcode", text(vec![Some("1234AB"); 8]), true),
            (
                "geboren",
                text(vec![
                    Some("2020-05-01"),
                    Some("2019-02-03"),
                    Some("2018-01-01"),
                    Some("2017-01-01"),
                    Some("2016-01-01"),
                    Some("2021-07-07"),
                    Some("2022-08-08"),
                    Some("2015-03-03"),
                ]),
                true,
            ),
            (
                "einde",
                text(vec![
                    None,
                    None,
                    None,
                    Some("2018-06-30"),
                    Some("30-06-2018"),
                    None,
                    Some("2020-01-01"),
                    None,
                ]),
                true,
            ),
            (
                "afgemeld",
                text(vec![
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some("2023-01-01"),
                    None,
                ]),
                true,
            ),
            (
                "beperkt",
                Arc::new(BooleanArray::from(vec![
                    Some(false),
                    Some(true),
                    Some(false),
                    Some(false),
                    Some(false),
                    Some(false),
                    Some(false),
                    None,
                ])) as ArrayRef,
                true,
            ),
            (
                "bezwaar",
                text(vec![
                    Some("nee"),
                    Some("ja"),
                    Some("JA "),
                    Some("nee"),
                    Some("nee"),
                    Some("nee"),
                    Some("n"),
                    Some("misschien"),
                ]),
                true,
            ),
            (
                "uren",
                Arc::new(Float64Array::from(vec![
                    3.5,
                    1.0,
                    2.0,
                    4.0,
                    5.0,
                    6.0,
                    f64::NAN,
                    7.0,
                ])) as ArrayRef,
                true,
            ),
        ])
        .unwrap()
    }

    /// The plan of a research pipeline over `batch`'s columns, resolved as `doel run`
    /// resolves it (policy checked, the schema read from the batch).
    fn plan(batch: &RecordBatch, exclusions: &str, columns: &str) -> Plan {
        let text = format!(
            "[pipeline]\nname='t'\npurpose='research'\nlegal_basis='public-task'\nrecipient='r'\ncontroller='c'\ncontact='fg'\nrecipient_retention='1y'\npseudonym_domain='d'\ncatalogue='c.toml'\n[input]\npath='i.csv'\n[output]\npath='o.csv'\n[exclusions]\nrestricted='beperkt'\nobjected='bezwaar'\n{exclusions}\n[columns]\n{columns}"
        );
        Plan::resolve(
            Pipeline::parse(Path::new("p.toml"), &text).unwrap(),
            Catalogue::parse(Path::new("c.toml"), CATALOGUE).unwrap(),
            &crate::apply::column_types(&batch.schema()),
            run_date(),
        )
        .unwrap()
    }

    fn columns(on_invalid: &str) -> String {
        format!(
            "bsn = {{ action = 'pseudonymise', kind = 'bsn', as = 'kind_id', on_invalid = '{on_invalid}' }}\n\
             voornaam = {{ action = 'pseudonymise', kind = 'name', as = 'naam' }}\n\
             postcode = 'drop'\n\
             geboren = {{ action = 'generalise', to = 'year' }}\n\
             uren = 'keep'\n"
        )
    }

    fn row_plan(batch: &RecordBatch, on_invalid: &str) -> RowPlan {
        let plan = plan(batch, "", &columns(on_invalid));
        RowPlan::new(
            &plan,
            &MasterKey::from_bytes(KEY),
            ListMatch::Sets(ListSets::default()),
        )
        .unwrap()
    }

    fn pseudonym(kind: &str, canonical: &[u8]) -> String {
        MasterKey::from_bytes(KEY)
            .domain("d")
            .pseudonymiser(kind)
            .pseudonym(canonical)
    }

    fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column `{name}`"))
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    fn names(batch: &RecordBatch) -> Vec<String> {
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn each_row_is_classified_by_the_first_reason_that_excludes_it() {
        let batch = batch();
        let classes = row_plan(&batch, "null").classify(&batch).unwrap();
        assert_eq!(
            classes,
            [
                None,
                Some(Excluded::Restriction),
                Some(Excluded::Objection),
                Some(Excluded::Retention { undated: false }),
                Some(Excluded::Retention { undated: true }),
                None,
                None,
                Some(Excluded::Unreadable),
            ]
        );
    }

    #[test]
    fn excluded_rows_are_counted_by_reason_and_left_out() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        assert_eq!(
            out.stats.excluded,
            ExclusionCounts {
                restriction: 1,
                objection: 1,
                retention: 2,
                retention_undated: 1,
                unreadable: 1,
            }
        );
        assert_eq!(out.stats.excluded.total(), 5);
        assert_eq!(out.stats.rows_dropped, 0);
        // Rows 0, 5 and 6 remain, in order.
        assert_eq!(out.batch.num_rows(), 3);
        let years: Vec<Option<i32>> = out
            .batch
            .column_by_name("geboren")
            .unwrap()
            .as_primitive::<Int32Type>()
            .iter()
            .collect();
        assert_eq!(years, [Some(2020), Some(2021), Some(2022)]);
    }

    #[test]
    fn only_released_columns_are_in_the_output() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        assert_eq!(names(&out.batch), ["kind_id", "naam", "geboren", "uren"]);
        for absent in [
            "bsn", "voornaam", "postcode", "einde", "afgemeld", "beperkt", "bezwaar",
        ] {
            assert!(out.batch.column_by_name(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn a_bsn_becomes_the_keyed_pseudonym_of_its_canonical_form() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        assert_eq!(
            texts(&out.batch, "kind_id"),
            [
                Some(pseudonym("bsn", b"123456782")),
                None,
                Some(pseudonym("bsn", b"111222333")),
            ]
        );
        // The same value from the spec's definition, with the HMAC crate:
        // hex(H(H(K, "doel/v1/domain/d"), "bsn" US "123456782")[..16]).
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&KEY).unwrap();
        mac.update(b"doel/v1/domain/d");
        let domain = mac.finalize().into_bytes();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&domain).unwrap();
        mac.update(b"bsn\x1f123456782");
        let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
        assert_eq!(texts(&out.batch, "kind_id")[0].as_deref(), Some(&*expected));
        // Another domain or key gives another pseudonym.
        let other = MasterKey::from_bytes(KEY)
            .domain("e")
            .pseudonymiser("bsn")
            .pseudonym(b"123456782");
        assert_ne!(other, expected);
    }

    #[test]
    fn pseudonym_columns_carry_their_metadata() {
        let batch = batch();
        let rows = row_plan(&batch, "null");
        let out = rows.apply(&batch, 1).unwrap();
        let schema = out.batch.schema();
        let metadata = schema.field_with_name("kind_id").unwrap().metadata();
        let fingerprint = MasterKey::from_bytes(KEY).fingerprint();
        for (key, value) in [
            ("doel.pseudonym.spec", SPEC_VERSION),
            ("doel.pseudonym.kind", "bsn"),
            ("doel.pseudonym.encoding", "pseudonym"),
            ("doel.pseudonym.domain", "d"),
            ("doel.pseudonym.key_fingerprint", fingerprint.as_str()),
        ] {
            assert_eq!(metadata.get(key).map(String::as_str), Some(value), "{key}");
        }
        assert!(
            schema
                .field_with_name("geboren")
                .unwrap()
                .metadata()
                .is_empty()
        );
        let named: Vec<&str> = rows
            .field_metadata()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(named, ["kind_id", "naam"]);
    }

    #[test]
    fn on_invalid_null_releases_the_row_with_the_value_null() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        let bsn = &out.stats.tallies[0];
        assert_eq!((bsn.missing, bsn.invalid), (0, 1));
        // Row 1 of the three kept: batch row 5.
        assert_eq!(bsn.first_rejected, Some((1, Reason::Invalid)));
        assert_eq!(out.batch.num_rows(), 3);
        assert_eq!(out.stats.rows_dropped, 0);
    }

    #[test]
    fn on_invalid_drop_row_leaves_the_row_out() {
        let batch = batch();
        let out = row_plan(&batch, "drop_row").apply(&batch, 1).unwrap();
        assert_eq!(out.stats.rows_dropped, 1);
        assert_eq!(out.stats.tallies[0].invalid, 1);
        assert_eq!(
            texts(&out.batch, "kind_id"),
            [
                Some(pseudonym("bsn", b"123456782")),
                Some(pseudonym("bsn", b"111222333")),
            ]
        );
        assert_eq!(out.stats.excluded.total(), 5);
    }

    #[test]
    fn drop_row_is_the_default_for_a_bsn() {
        let batch = batch();
        let columns = columns("null").replace(", on_invalid = 'null'", "");
        let plan = plan(&batch, "", &columns);
        assert_eq!(plan.outputs[0].on_invalid, OnInvalid::DropRow);
        let rows = RowPlan::new(
            &plan,
            &MasterKey::from_bytes(KEY),
            ListMatch::Sets(ListSets::default()),
        )
        .unwrap();
        assert_eq!(rows.apply(&batch, 1).unwrap().stats.rows_dropped, 1);
    }

    #[test]
    fn on_invalid_fail_names_the_data_row_of_the_input() {
        let batch = batch();
        let Err(ApplyError::InvalidValue(e)) = row_plan(&batch, "fail").apply(&batch, 101) else {
            panic!("an invalid BSN under on_invalid = \"fail\" must fail");
        };
        // Batch row 5 (0-based), after five rows excluded before it was transformed:
        // data row 101 + 5.
        assert_eq!(e.row, 106);
        assert_eq!(e.column, "kind_id");
        assert_eq!(e.sources, "`bsn`");
        assert_eq!(e.reason, Reason::Invalid);
        let message = e.to_string();
        assert!(message.contains("data row 106"), "{message}");
        assert!(!message.contains("123456789"), "{message}");
    }

    #[test]
    fn on_invalid_fail_counts_a_missing_value_too() {
        let mut columns: Vec<ArrayRef> = batch().columns().to_vec();
        columns[0] = Arc::new(StringArray::from(vec![
            Some("123456782"),
            None,
            None,
            None,
            None,
            Some("  "),
            None,
            None,
        ]));
        let batch = RecordBatch::try_new(batch().schema(), columns).unwrap();
        let Err(ApplyError::InvalidValue(e)) = row_plan(&batch, "fail").apply(&batch, 1) else {
            panic!("a blank BSN under on_invalid = \"fail\" must fail");
        };
        assert_eq!((e.row, e.reason), (6, Reason::Missing));
    }

    #[test]
    fn a_value_past_its_term_is_withheld_and_the_row_stays() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        assert_eq!(
            texts(&out.batch, "naam"),
            [
                Some(pseudonym("name", b"anna")),
                Some(pseudonym("name", b"fem")),
                None,
            ]
        );
        // Per released column: the name's one value withheld, counted in rows written.
        assert_eq!(out.stats.expired, [0, 1, 0, 0]);
        // A withheld value is neither missing nor invalid.
        let naam = &out.stats.tallies[1];
        assert_eq!(
            (naam.missing, naam.invalid, naam.first_rejected),
            (0, 0, None)
        );
    }

    #[test]
    fn a_blank_value_past_its_term_is_missing_not_withheld() {
        let mut columns: Vec<ArrayRef> = batch().columns().to_vec();
        // Row 6's name is past its term and only white space: nothing was withheld.
        columns[1] = Arc::new(StringArray::from(vec![
            Some("Anna"),
            Some("Bram"),
            Some("Cas"),
            Some("Daan"),
            Some("Eva"),
            Some("Fem"),
            Some(" \t"),
            Some("Hugo"),
        ]));
        let batch = RecordBatch::try_new(batch().schema(), columns).unwrap();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        assert_eq!(out.stats.expired, [0, 0, 0, 0]);
        assert_eq!(texts(&out.batch, "naam")[2], None);
    }

    #[test]
    fn a_withheld_value_cannot_fail_the_run_but_later_rows_still_do() {
        let mut columns: Vec<ArrayRef> = batch().columns().to_vec();
        // Row 6's name is past its term and missing; row 7 has an empty name in term, but
        // is excluded (its objection flag is unreadable).
        columns[1] = Arc::new(StringArray::from(vec![
            Some("Anna"),
            Some("Bram"),
            Some("Cas"),
            Some("Daan"),
            Some("Eva"),
            Some("Fem"),
            None,
            Some(""),
        ]));
        let batch = RecordBatch::try_new(batch().schema(), columns).unwrap();
        let name_fails = columns_with_name_on_invalid("fail");
        let plan = plan(&batch, "", &name_fails);
        let rows = RowPlan::new(
            &plan,
            &MasterKey::from_bytes(KEY),
            ListMatch::Sets(ListSets::default()),
        )
        .unwrap();
        let out = rows.apply(&batch, 1).unwrap();
        assert_eq!(out.batch.num_rows(), 3);
        assert_eq!(out.stats.expired, [0, 0, 0, 0]);
        assert_eq!(texts(&out.batch, "naam")[2], None);

        // With no row excluded by a flag, row 7's empty name (after the withheld one)
        // fails: its data row is mapped back through the rows excluded by retention and
        // the withheld one.
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[7] = Arc::new(StringArray::from(vec![Some("nee"); 8]));
        columns[6] = Arc::new(BooleanArray::from(vec![Some(false); 8]));
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let Err(ApplyError::InvalidValue(e)) = rows.apply(&batch, 1) else {
            panic!("the empty name of row 7 must fail");
        };
        assert_eq!(
            (e.column.as_str(), e.row, e.reason),
            ("naam", 8, Reason::Missing)
        );
    }

    fn columns_with_name_on_invalid(on_invalid: &str) -> String {
        columns("null").replace(
            "as = 'naam' }",
            &format!("as = 'naam', on_invalid = '{on_invalid}' }}"),
        )
    }

    #[test]
    fn drop_row_keeps_a_row_whose_value_was_withheld() {
        let batch = batch();
        let plan = plan(&batch, "", &columns_with_name_on_invalid("drop_row"));
        let rows = RowPlan::new(
            &plan,
            &MasterKey::from_bytes(KEY),
            ListMatch::Sets(ListSets::default()),
        )
        .unwrap();
        let out = rows.apply(&batch, 1).unwrap();
        assert_eq!(out.stats.rows_dropped, 0);
        assert_eq!(out.batch.num_rows(), 3);
        assert_eq!(out.stats.expired, [0, 1, 0, 0]);
    }

    #[test]
    fn a_kept_float_loses_nan_as_an_invalid_value() {
        let batch = batch();
        let out = row_plan(&batch, "null").apply(&batch, 1).unwrap();
        let uren: Vec<Option<f64>> = out
            .batch
            .column_by_name("uren")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect();
        assert_eq!(uren, [Some(3.5), Some(6.0), None]);
        assert_eq!(out.stats.tallies[3].invalid, 1);
    }

    #[test]
    fn a_record_within_its_term_a_day_later_is_excluded_a_day_earlier() {
        // The key's term starts at 2019-01-01 for the run date: an anchor that day is
        // within, the day before is past.
        let batch = batch();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let mut einde: Vec<Option<&str>> = vec![None; 8];
        einde[0] = Some("2019-01-01");
        einde[5] = Some("2018-12-31");
        columns[4] = Arc::new(StringArray::from(einde));
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let classes = row_plan(&batch, "null").classify(&batch).unwrap();
        assert_eq!(classes[0], None);
        assert_eq!(classes[5], Some(Excluded::Retention { undated: false }));
    }

    #[test]
    fn exclusion_lists_exclude_by_canonical_bsn_and_count_per_list() {
        let batch = batch();
        let plan = plan(
            &batch,
            "bsn = 'bsn'\nobjection_lists = ['o.csv']\nrestriction_lists = ['r.csv']",
            &columns("null"),
        );
        assert_eq!(plan.exclusion_key.as_deref(), Some("bsn"));
        let mut sets = ListSets::default();
        // Row 0's BSN on the objection list, row 6's on the restriction list.
        sets.push(ExclusionReason::Objection, [b"123456782"])
            .unwrap();
        sets.push(ExclusionReason::Restriction, [b"111222333"])
            .unwrap();
        let rows = RowPlan::new(&plan, &MasterKey::from_bytes(KEY), ListMatch::Sets(sets)).unwrap();
        let out = rows.apply(&batch, 1).unwrap();
        // Only row 5 (an invalid BSN, on no list) remains.
        assert_eq!(out.batch.num_rows(), 1);
        assert_eq!(texts(&out.batch, "kind_id"), [None]);
        let e = out.stats.excluded;
        // Row 1 is restricted by its flag and listed for restriction; rows 0, 4 by the
        // objection list (row 4 would be undated otherwise); row 6 by the restriction list.
        assert_eq!(
            (
                e.restriction,
                e.objection,
                e.retention,
                e.retention_undated,
                e.unreadable
            ),
            (2, 3, 1, 0, 1)
        );
        // Per list, the records it names whatever else excluded them: 0 and 4; 1 and 6.
        assert_eq!(out.stats.listed, [2, 2]);
    }

    #[test]
    fn a_listed_column_decides_the_list_match() {
        let batch = batch();
        let plan = plan(
            &batch,
            "bsn = 'bsn'\nobjection_lists = ['o.csv']",
            &columns("null"),
        );
        let rows = RowPlan::new(
            &plan,
            &MasterKey::from_bytes(KEY),
            ListMatch::Column(LISTED_COLUMN.into()),
        )
        .unwrap();
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| (**f).clone())
            .collect();
        fields.push(Field::new(LISTED_COLUMN, DataType::Utf8, true));
        let with = |listed: Vec<Option<&str>>| {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(StringArray::from(listed)));
            RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), columns).unwrap()
        };
        let mut listed = vec![None; 8];
        listed[0] = Some("objection");
        listed[5] = Some("restriction");
        let classes = rows.classify(&with(listed)).unwrap();
        assert_eq!(classes[0], Some(Excluded::Objection));
        assert_eq!(classes[5], Some(Excluded::Restriction));
        assert_eq!(classes[6], None);
        let mut unknown = vec![None; 8];
        unknown[3] = Some("bezwaar");
        assert!(matches!(
            rows.classify(&with(unknown)),
            Err(ApplyError::Internal(m)) if m.contains(LISTED_COLUMN)
        ));
    }

    #[test]
    fn excluded_rows_are_not_transformed_or_counted() {
        // Every excluded row holds an invalid BSN: under "fail" none of them fails the run.
        let mut columns: Vec<ArrayRef> = batch().columns().to_vec();
        columns[0] = Arc::new(StringArray::from(vec![
            Some("123456782"),
            Some("x"),
            Some("x"),
            Some("x"),
            Some("x"),
            Some("100000009"),
            Some("111222333"),
            Some("x"),
        ]));
        let batch = RecordBatch::try_new(batch().schema(), columns).unwrap();
        let out = row_plan(&batch, "fail").apply(&batch, 1).unwrap();
        assert_eq!(out.stats.tallies[0].invalid, 0);
        assert_eq!(out.batch.num_rows(), 3);
    }

    #[test]
    fn exclusion_reasons_read_back_as_written() {
        for e in [
            Excluded::Restriction,
            Excluded::Objection,
            Excluded::Retention { undated: false },
            Excluded::Retention { undated: true },
            Excluded::Unreadable,
        ] {
            assert_eq!(Excluded::parse(e.as_str()), Some(e));
        }
        assert_eq!(Excluded::parse("bezwaar"), None);
    }

    #[test]
    fn integer_bsns_are_read_as_text() {
        let values: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![
            Some(123456782),
            Some(12345678),
            None,
            Some(100000009),
        ]));
        let canonical = canonical_bsns(&values).unwrap();
        let got: Vec<Option<&str>> = canonical.iter().collect();
        // 12345678 padded to 012345678 fails the elfproef.
        assert_eq!(got, [Some("123456782"), None, None, Some("100000009")]);
    }

    #[test]
    fn at_most_64_lists_are_matched() {
        let mut sets = ListSets::default();
        for _ in 0..ListSets::MAX_LISTS {
            sets.push(ExclusionReason::Objection, [b"123456782"])
                .unwrap();
        }
        assert_eq!(
            sets.push(ExclusionReason::Restriction, [b"111222333"]),
            None
        );
        assert_eq!(sets.reasons.len(), 64);
        assert_eq!(sets.listed.len(), 1);
        assert_eq!(sets.listed[b"123456782"], u64::MAX);
        assert_eq!(sets.mask(ExclusionReason::Objection), u64::MAX);
        assert_eq!(sets.mask(ExclusionReason::Restriction), 0);
    }
}
