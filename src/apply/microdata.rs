//! The microdata decision: from the classes of the records an engine transformed, the
//! generalisation of each quasi-identifier (the least information loss that leaves at
//! most `max_suppressed` of the records in classes below k persons or ℓ sensitive
//! values), the small areas to coarsen or null, and the classes to suppress — then each
//! record recoded and kept or left out by that decision.
//!
//! An engine only feeds batches: [`Counter::add`] counts the classes of the transformed
//! records (memory grows with the number of classes, not of records), [`Counter::decide`]
//! decides, and [`Recoder::apply`] recodes the records read back. All over arrow-rs
//! record batches, so that `doel run` and the Python extension decide alike.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema};

use super::ApplyError;
use crate::kernels::arrays::Strings;
use crate::kernels::disclosure::{
    self, ClassKey, Classes, Hierarchy, Node, Requirement, Risk, Step,
};
use crate::spec::{AreaAction, HierarchyStep, Microdata, OnViolation};

/// Classes fail k-anonymity (or ℓ-diversity) and the pipeline says
/// `on_violation = "fail"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[microdata]: {classes} classes ({records} records) hold fewer than k = {k} {}{}, and on_violation = \"fail\"",
    if *persons { "persons" } else { "records" },
    l.map(|l| format!(" or fewer than l = {l} distinct sensitive values")).unwrap_or_default()
)]
pub struct Violation {
    pub classes: u64,
    pub records: u64,
    pub k: u32,
    pub l: Option<u32>,
    pub persons: bool,
}

impl Violation {
    pub const HINT: &str = "set on_violation = \"generalise\" (with hierarchies) or \"suppress\", or release coarser quasi-identifiers";
}

/// Class counts gathered over the transformed batches.
pub struct Counter {
    spec: Microdata,
    requirement: Requirement,
    classes: Classes,
    /// Persons (or records) per area value, counted up to the small-area minimum.
    areas: Classes,
    area_index: Option<usize>,
}

impl Counter {
    pub fn new(spec: &Microdata) -> Self {
        let area_index = spec
            .small_area
            .as_ref()
            .and_then(|a| spec.quasi_identifiers.iter().position(|q| *q == a.column));
        Self {
            requirement: requirement(spec),
            spec: spec.clone(),
            classes: Classes::default(),
            areas: Classes::default(),
            area_index,
        }
    }

    /// Count the records of one transformed batch.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ApplyError> {
        let qis = texts(batch, &self.spec.quasi_identifiers)?;
        let qis = strings(&qis)?;
        let person = optional_text(batch, self.spec.person.as_deref())?;
        let person = person.as_ref().map(strings_of).transpose()?;
        let sensitive = optional_text(batch, self.spec.sensitive.as_ref().map(|s| s.0.as_str()))?;
        let sensitive = sensitive.as_ref().map(strings_of).transpose()?;
        let area_requirement = self.area_requirement();
        for row in 0..batch.num_rows() {
            let key: ClassKey = qis.iter().map(|c| c.get(row).map(str::to_owned)).collect();
            let person = person
                .as_ref()
                .and_then(|c| c.get(row))
                .map(disclosure::hash_value);
            let sensitive = sensitive
                .as_ref()
                .and_then(|c| c.get(row))
                .map(disclosure::hash_value);
            if let (Some(i), Some(req)) = (self.area_index, &area_requirement) {
                self.areas.add(vec![key[i].clone()], person, None, req);
            }
            self.classes.add(key, person, sensitive, &self.requirement);
        }
        Ok(())
    }

    fn area_requirement(&self) -> Option<Requirement> {
        self.spec.small_area.as_ref().map(|a| Requirement {
            k: a.min as usize,
            persons: self.requirement.persons,
            l: None,
        })
    }

    /// Choose the generalisation and the classes to suppress.
    pub fn decide(self) -> Result<Decision, ApplyError> {
        let hierarchies: Vec<Hierarchy> = self
            .spec
            .hierarchies
            .iter()
            .map(|steps| Hierarchy(steps.iter().map(step).collect()))
            .collect();
        let requirement = self.requirement;
        // Small areas first: a fixed recoding of one quasi-identifier's values.
        let mut area_map: HashMap<String, Option<String>> = HashMap::new();
        let mut area_records = 0;
        if let (Some(i), Some(area), Some(area_requirement)) = (
            self.area_index,
            &self.spec.small_area,
            self.area_requirement(),
        ) {
            let hierarchy = &hierarchies[i];
            // The small areas, by value (sorted: the recoding must not depend on hash order).
            let mut small: Vec<(&String, &disclosure::ClassStats)> = self
                .areas
                .map
                .iter()
                .filter(|(_, stats)| !area_requirement.holds(stats))
                .filter_map(|(key, stats)| key[0].as_ref().map(|v| (v, stats)))
                .collect();
            small.sort_by(|a, b| a.0.cmp(b.0));
            area_records = small.iter().map(|(_, s)| s.records).sum();
            match area.action {
                AreaAction::Null => {
                    area_map.extend(small.iter().map(|(v, _)| ((*v).clone(), None)));
                }
                AreaAction::Coarsen => {
                    // Merge small areas only with each other, one level up at a time, until
                    // the merged area they fall in holds the minimum; large areas stay as
                    // they are, so a merged value never hides behind them.
                    for level in 1..=hierarchy.height() {
                        let mut merged: HashMap<Option<String>, disclosure::ClassStats> =
                            HashMap::new();
                        for (value, stats) in &small {
                            let entry = merged
                                .entry(hierarchy.generalise(Some(value), level))
                                .or_default();
                            entry.records += stats.records;
                            entry.persons.merge(&stats.persons, area_requirement.k);
                        }
                        let top = level == hierarchy.height();
                        small.retain(|(value, _)| {
                            let coarse = hierarchy.generalise(Some(value), level);
                            if top || area_requirement.holds(&merged[&coarse]) {
                                area_map.insert((*value).clone(), coarse);
                                false
                            } else {
                                true
                            }
                        });
                    }
                }
            }
        }
        let area_index = self.area_index;
        let with_areas = |key: &ClassKey| -> ClassKey {
            let mut key = key.clone();
            if let Some(i) = area_index
                && let Some(Some(value)) = key.get(i)
                && let Some(recoded) = area_map.get(value)
            {
                key[i] = recoded.clone();
            }
            key
        };
        let classes = self.classes.recoded(with_areas, &requirement);
        let node = match self.spec.on_violation {
            OnViolation::Fail => {
                let (failing, records) = classes.failing(&requirement);
                if !failing.is_empty() {
                    return Err(ApplyError::Disclosure(Violation {
                        classes: failing.len() as u64,
                        records,
                        k: self.spec.k,
                        l: self.spec.sensitive.as_ref().map(|s| s.1),
                        persons: requirement.persons,
                    }));
                }
                Node(vec![0; hierarchies.len()])
            }
            OnViolation::Suppress => Node(vec![0; hierarchies.len()]),
            OnViolation::Generalise => {
                disclosure::search(
                    &classes,
                    &hierarchies,
                    &requirement,
                    self.spec.max_suppressed,
                )
                .0
            }
        };
        let released = classes.recoded(|k| node.recode(k, &hierarchies), &requirement);
        let (suppressed, _) = released.failing(&requirement);
        let kept = released
            .map
            .keys()
            .filter(|k| !suppressed.contains(*k))
            .cloned()
            .collect();
        let risk = disclosure::risk(&released, &requirement);
        Ok(Decision {
            levels: self
                .spec
                .quasi_identifiers
                .iter()
                .zip(&node.0)
                .zip(&hierarchies)
                .zip(&self.spec.hierarchies)
                .map(|(((qi, &level), h), steps)| Level {
                    column: qi.clone(),
                    level,
                    height: h.height(),
                    name: match level {
                        0 => "as released".into(),
                        l if l == h.height() => "suppressed (*)".into(),
                        l => describe(&steps[l - 1]),
                    },
                })
                .collect(),
            areas_recoded: area_map.len() as u64,
            area_records,
            risk,
            recoder: Arc::new(Recoder {
                quasi_identifiers: self.spec.quasi_identifiers,
                hierarchies,
                node,
                area_index,
                area_map,
                kept,
                suppressed,
            }),
        })
    }
}

fn requirement(spec: &Microdata) -> Requirement {
    Requirement {
        k: spec.k as usize,
        persons: spec.person.is_some(),
        l: spec.sensitive.as_ref().map(|s| s.1 as usize),
    }
}

fn step(step: &HierarchyStep) -> Step {
    match *step {
        HierarchyStep::Year => Step::Year,
        HierarchyStep::Years(n) => Step::Years(n),
        HierarchyStep::Prefix(n) => Step::Prefix(n),
    }
}

/// The level chosen for one quasi-identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub column: String,
    pub level: usize,
    /// The level at which every value is `*`.
    pub height: usize,
    /// The level's step, as the pipeline names it (`5_years`, `pc3`, …).
    pub name: String,
}

fn describe(step: &HierarchyStep) -> String {
    match step {
        HierarchyStep::Year => "year".into(),
        HierarchyStep::Years(n) => format!("{n}_years"),
        HierarchyStep::Prefix(n) => format!("pc{n}"),
    }
}

/// What the disclosure step decided and found.
pub struct Decision {
    pub levels: Vec<Level>,
    /// Small areas recoded (coarsened or nulled), and the records in them.
    pub areas_recoded: u64,
    pub area_records: u64,
    pub risk: Risk,
    pub recoder: Arc<Recoder>,
}

/// Applies a decision to the records read back.
pub struct Recoder {
    quasi_identifiers: Vec<String>,
    hierarchies: Vec<Hierarchy>,
    node: Node,
    area_index: Option<usize>,
    area_map: HashMap<String, Option<String>>,
    /// The classes released, and those suppressed: a record in neither is an error.
    kept: HashSet<ClassKey>,
    suppressed: HashSet<ClassKey>,
}

impl Recoder {
    /// `batch` with its quasi-identifiers recoded (as text, where any value changes) and
    /// the records of suppressed classes left out.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, ApplyError> {
        let qis = texts(batch, &self.quasi_identifiers)?;
        let qis = strings(&qis)?;
        let rows = batch.num_rows();
        let mut recoded: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows); qis.len()];
        let mut keep = Vec::with_capacity(rows);
        for row in 0..rows {
            let mut key: ClassKey = qis.iter().map(|c| c.get(row).map(str::to_owned)).collect();
            if let Some(i) = self.area_index
                && let Some(Some(value)) = key.get(i)
                && let Some(area) = self.area_map.get(value)
            {
                key[i] = area.clone();
            }
            let key = self.node.recode(&key, &self.hierarchies);
            if self.kept.contains(&key) {
                keep.push(true);
            } else if self.suppressed.contains(&key) {
                keep.push(false);
            } else {
                return Err(ApplyError::Internal(
                    "a record read back falls in a class the first pass did not count".into(),
                ));
            }
            for (column, value) in recoded.iter_mut().zip(key) {
                column.push(value);
            }
        }
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (i, (name, values)) in self.quasi_identifiers.iter().zip(recoded).enumerate() {
            let changed =
                self.node.0[i] > 0 || (self.area_index == Some(i) && !self.area_map.is_empty());
            if changed {
                let at = schema.index_of(name).map_err(|_| missing(name))?;
                fields[at] = Field::new(name, DataType::Utf8, true);
                columns[at] = Arc::new(StringArray::from(values));
            }
        }
        let recoded = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| ApplyError::Internal(format!("recoded batch: {e}")))?;
        filter_record_batch(&recoded, &BooleanArray::from(keep))
            .map_err(|e| ApplyError::Internal(format!("suppressing records: {e}")))
    }
}

fn missing(name: &str) -> ApplyError {
    ApplyError::Internal(format!("column `{name}` is not in the transformed batch"))
}

/// The named columns as text arrays (integers and dates in their usual text form).
fn texts(batch: &RecordBatch, names: &[String]) -> Result<Vec<ArrayRef>, ApplyError> {
    names
        .iter()
        .map(|name| {
            let array = batch.column_by_name(name).ok_or_else(|| missing(name))?;
            match array.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(Arc::clone(array)),
                _ => cast(array.as_ref(), &DataType::Utf8)
                    .map_err(|e| ApplyError::Internal(format!("column `{name}` as text: {e}"))),
            }
        })
        .collect()
}

fn optional_text(batch: &RecordBatch, name: Option<&str>) -> Result<Option<ArrayRef>, ApplyError> {
    name.map(|n| texts(batch, &[n.to_owned()]).map(|mut v| v.remove(0)))
        .transpose()
}

fn strings_of(array: &ArrayRef) -> Result<Strings<'_>, ApplyError> {
    Strings::try_new(array.as_ref()).map_err(|e| ApplyError::Internal(e.to_string()))
}

fn strings(arrays: &[ArrayRef]) -> Result<Vec<Strings<'_>>, ApplyError> {
    arrays.iter().map(strings_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SmallArea;
    use arrow::array::{Date32Array, Int64Array};

    /// `[microdata]` over `pc4` (with the steps pc3, pc2) and `jaar`, k = 3.
    fn spec(on_violation: OnViolation) -> Microdata {
        Microdata {
            quasi_identifiers: vec!["pc4".into(), "jaar".into()],
            hierarchies: vec![
                vec![HierarchyStep::Prefix(3), HierarchyStep::Prefix(2)],
                vec![HierarchyStep::Years(5)],
            ],
            k: 3,
            person: None,
            on_violation,
            max_suppressed: 0.0,
            sensitive: None,
            small_area: None,
        }
    }

    fn batch(pc4: &[&str], jaar: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("pc4", Arc::new(StringArray::from(pc4.to_vec())) as ArrayRef),
            (
                "jaar",
                Arc::new(Int64Array::from(jaar.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    /// Three records in 6131/2019, one in 6132/2019: k = 3 fails for the fourth.
    fn counted(spec: &Microdata) -> (Counter, RecordBatch) {
        let records = batch(&["6131", "6131", "6131", "6132"], &[2019; 4]);
        let mut counter = Counter::new(spec);
        counter.add(&records).unwrap();
        (counter, records)
    }

    fn texts_of(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let array = batch.column_by_name(name).unwrap();
        let strings = Strings::try_new(array.as_ref()).unwrap();
        (0..strings.len())
            .map(|i| strings.get(i).map(str::to_owned))
            .collect()
    }

    #[test]
    fn fail_mode_names_the_classes_and_records_below_k() {
        let (counter, _) = counted(&spec(OnViolation::Fail));
        let Err(ApplyError::Disclosure(violation)) = counter.decide() else {
            panic!("a class of one record must fail k = 3");
        };
        assert_eq!(
            violation,
            Violation {
                classes: 1,
                records: 1,
                k: 3,
                l: None,
                persons: false
            }
        );
    }

    #[test]
    fn suppress_mode_leaves_the_small_class_out_and_keeps_the_values() {
        let (counter, records) = counted(&spec(OnViolation::Suppress));
        let decision = counter.decide().unwrap();
        assert_eq!(decision.risk.records_suppressed, 1);
        assert!(decision.levels.iter().all(|l| l.level == 0));
        let out = decision.recoder.apply(&records).unwrap();
        assert_eq!(out.num_rows(), 3);
        assert_eq!(texts_of(&out, "pc4"), vec![Some("6131".to_owned()); 3]);
        // An unchanged quasi-identifier keeps its type.
        assert_eq!(
            out.column_by_name("jaar").unwrap().data_type(),
            &DataType::Int64
        );
    }

    #[test]
    fn generalise_mode_takes_the_least_loss_that_holds() {
        let (counter, records) = counted(&spec(OnViolation::Generalise));
        let decision = counter.decide().unwrap();
        let levels: Vec<(&str, usize, &str)> = decision
            .levels
            .iter()
            .map(|l| (l.column.as_str(), l.level, l.name.as_str()))
            .collect();
        assert_eq!(levels, [("pc4", 1, "pc3"), ("jaar", 0, "as released")]);
        assert_eq!(decision.risk.records_suppressed, 0);
        let out = decision.recoder.apply(&records).unwrap();
        assert_eq!(out.num_rows(), 4);
        assert_eq!(texts_of(&out, "pc4"), vec![Some("613".to_owned()); 4]);
    }

    #[test]
    fn a_record_of_a_class_never_counted_is_an_error() {
        let (counter, _) = counted(&spec(OnViolation::Suppress));
        let decision = counter.decide().unwrap();
        let stranger = batch(&["9999"], &[2019]);
        assert!(matches!(
            decision.recoder.apply(&stranger),
            Err(ApplyError::Internal(_))
        ));
    }

    #[test]
    fn small_areas_are_coarsened_among_themselves() {
        let mut spec = spec(OnViolation::Suppress);
        spec.k = 1;
        spec.small_area = Some(SmallArea {
            column: "pc4".into(),
            min: 2,
            action: AreaAction::Coarsen,
        });
        // 6131 holds three records; 6132 and 6133 one each: together (613) they hold two.
        let records = batch(&["6131", "6131", "6131", "6132", "6133"], &[2019; 5]);
        let mut counter = Counter::new(&spec);
        counter.add(&records).unwrap();
        let decision = counter.decide().unwrap();
        assert_eq!((decision.areas_recoded, decision.area_records), (2, 2));
        let out = decision.recoder.apply(&records).unwrap();
        let pc4: Vec<Option<String>> = texts_of(&out, "pc4");
        assert_eq!(
            pc4,
            ["6131", "6131", "6131", "613", "613"].map(|s| Some(s.to_owned()))
        );
    }

    #[test]
    fn persons_are_counted_once_and_dates_read_as_text() {
        let spec = Microdata {
            quasi_identifiers: vec!["geboren".into()],
            hierarchies: vec![vec![HierarchyStep::Year]],
            k: 2,
            person: Some("kind".into()),
            on_violation: OnViolation::Suppress,
            max_suppressed: 0.0,
            sensitive: None,
            small_area: None,
        };
        // Two records of one child on 2019-03-01: one person, below k = 2.
        let day = 17956; // 2019-03-01
        let records = RecordBatch::try_from_iter([
            (
                "geboren",
                Arc::new(Date32Array::from(vec![day, day, day + 1, day + 1])) as ArrayRef,
            ),
            (
                "kind",
                Arc::new(StringArray::from(vec!["a", "a", "b", "c"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut counter = Counter::new(&spec);
        counter.add(&records).unwrap();
        let decision = counter.decide().unwrap();
        assert_eq!(decision.risk.records_suppressed, 2);
        let out = decision.recoder.apply(&records).unwrap();
        assert_eq!(out.num_rows(), 2);
        assert_eq!(texts_of(&out, "kind"), [Some("b".into()), Some("c".into())]);
    }
}
