//! Microdata outputs: the transformed records are written to a temporary file while
//! their equivalence classes are counted (memory grows with the number of classes, not
//! of records); then the generalisation is chosen and the records are read back,
//! recoded, and those of classes that still fail are suppressed on the way to the output.

use std::collections::HashMap;

use polars::prelude::*;

use super::EngineError;
use crate::kernels::disclosure::{
    self, ClassKey, Classes, Hierarchy, Node, Requirement, Risk, Step,
};
use crate::spec::{AreaAction, HierarchyStep, Microdata, OnViolation};

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
    pub fn add(&mut self, frame: &DataFrame) -> Result<(), EngineError> {
        let qis = text_columns(frame, &self.spec.quasi_identifiers)?;
        let person = optional_text(frame, self.spec.person.as_deref())?;
        let sensitive = optional_text(frame, self.spec.sensitive.as_ref().map(|s| s.0.as_str()))?;
        let area_requirement = self.area_requirement();
        for row in 0..frame.height() {
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
    pub fn decide(self) -> Result<Decision, EngineError> {
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
                    return Err(EngineError::Disclosure {
                        classes: failing.len() as u64,
                        records,
                        k: self.spec.k,
                        l: self.spec.sensitive.as_ref().map(|s| s.1),
                        persons: requirement.persons,
                    });
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
            recoder: std::sync::Arc::new(Recoder {
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
    pub recoder: std::sync::Arc<Recoder>,
}

/// Applies a decision to the records read back.
pub struct Recoder {
    quasi_identifiers: Vec<String>,
    hierarchies: Vec<Hierarchy>,
    node: Node,
    area_index: Option<usize>,
    area_map: HashMap<String, Option<String>>,
    /// The classes released, and those suppressed: a record in neither is an error.
    kept: std::collections::HashSet<ClassKey>,
    suppressed: std::collections::HashSet<ClassKey>,
}

impl Recoder {
    /// `frame` with its quasi-identifiers recoded (as text, where any value changes) and
    /// the records of suppressed classes left out.
    pub fn apply(&self, frame: &DataFrame) -> Result<DataFrame, EngineError> {
        let internal = |e: PolarsError| EngineError::Internal(super::safe_summary(&e));
        let qis = text_columns(frame, &self.quasi_identifiers)?;
        let mut recoded: Vec<Vec<Option<String>>> =
            vec![Vec::with_capacity(frame.height()); qis.len()];
        let mut keep = Vec::with_capacity(frame.height());
        for row in 0..frame.height() {
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
                return Err(EngineError::Internal(
                    "a record read back falls in a class the first pass did not count".into(),
                ));
            }
            for (column, value) in recoded.iter_mut().zip(key) {
                column.push(value);
            }
        }
        let mut out = frame.clone();
        for (i, (name, values)) in self.quasi_identifiers.iter().zip(recoded).enumerate() {
            let changed =
                self.node.0[i] > 0 || (self.area_index == Some(i) && !self.area_map.is_empty());
            if changed {
                let series = Series::new(PlSmallStr::from_str(name), values);
                out.replace(name, series.into_column()).map_err(internal)?;
            }
        }
        out.filter(&BooleanChunked::from_slice(
            PlSmallStr::from_static("keep"),
            &keep,
        ))
        .map_err(internal)
    }
}

/// The named columns as text (integers and dates in their usual text form).
fn text_columns(frame: &DataFrame, names: &[String]) -> Result<Vec<StringChunked>, EngineError> {
    names
        .iter()
        .map(|name| {
            frame
                .column(name)
                .and_then(|c| c.as_materialized_series().cast(&DataType::String))
                .and_then(|s| s.str().cloned())
                .map_err(|e| {
                    EngineError::Internal(format!("column `{name}`: {}", super::safe_summary(&e)))
                })
        })
        .collect()
}

fn optional_text(
    frame: &DataFrame,
    name: Option<&str>,
) -> Result<Option<StringChunked>, EngineError> {
    name.map(|n| text_columns(frame, &[n.to_owned()]).map(|mut v| v.remove(0)))
        .transpose()
}
