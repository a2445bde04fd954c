//! Disclosure control for microdata: equivalence classes over the quasi-identifiers,
//! k-anonymity and distinct ℓ-diversity, generalisation hierarchies and the search for
//! the least generalisation that protects every released record. Pure functions over
//! values, no polars: the same code decides in a Spark driver.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// One generalisation step of a quasi-identifier's hierarchy, applied to its released
/// text. Every step leaves an already coarser value as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `YYYY-MM(-DD)` → `YYYY`.
    Year,
    /// A year (the first four digits) → the band of `n` years holding it, `2015-2019`.
    Years(u32),
    /// The first `n` characters: PC4 `6214` → PC3 `621`.
    Prefix(usize),
}

/// What every hierarchy ends in: the value suppressed.
pub const SUPPRESSED: &str = "*";

impl Step {
    pub fn apply(&self, value: &str) -> String {
        if value == SUPPRESSED {
            return value.to_owned();
        }
        let year = || {
            value
                .get(..4)
                .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|y| y.parse::<u32>().ok())
        };
        match self {
            Self::Year => match year() {
                Some(y) => y.to_string(),
                None => value.to_owned(),
            },
            Self::Years(n) => match year() {
                Some(y) => {
                    let from = y - y % n;
                    format!("{from}-{}", from + n - 1)
                }
                None => value.to_owned(),
            },
            Self::Prefix(n) => value.chars().take(*n).collect(),
        }
    }
}

/// A quasi-identifier's hierarchy: level 0 is the released value, level `i` applies the
/// first `i` steps, and the level after the last step suppresses the value (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hierarchy(pub Vec<Step>);

impl Hierarchy {
    /// The highest level: every value suppressed.
    pub fn height(&self) -> usize {
        self.0.len() + 1
    }

    /// `value` at `level`. A missing value stays missing below the top.
    pub fn generalise(&self, value: Option<&str>, level: usize) -> Option<String> {
        if level >= self.height() {
            return Some(SUPPRESSED.to_owned());
        }
        let mut value = value?.to_owned();
        for step in &self.0[..level] {
            value = step.apply(&value);
        }
        Some(value)
    }
}

/// A set of hashes that stops growing at `cap`: enough to know whether a class holds at
/// least `cap` distinct persons (or sensitive values), in bounded memory, and mergeable
/// exactly for that question.
#[derive(Debug, Clone, Default)]
pub struct CappedSet {
    items: Vec<u64>,
}

impl CappedSet {
    pub fn insert(&mut self, item: u64, cap: usize) {
        if self.items.len() < cap && !self.items.contains(&item) {
            self.items.push(item);
        }
    }

    pub fn merge(&mut self, other: &Self, cap: usize) {
        for &item in &other.items {
            self.insert(item, cap);
        }
    }

    /// The distinct items, counted up to the cap.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One equivalence class's counts.
#[derive(Debug, Clone, Default)]
pub struct ClassStats {
    pub records: u64,
    /// Distinct persons, up to `k` (when persons are counted).
    pub persons: CappedSet,
    /// Distinct non-null sensitive values, up to `ℓ`.
    pub sensitive: CappedSet,
}

/// A class's key: its quasi-identifiers' values, in declaration order.
pub type ClassKey = Vec<Option<String>>;

/// What a class must hold to be released.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Requirement {
    pub k: usize,
    /// Count distinct persons (else records).
    pub persons: bool,
    /// Distinct ℓ-diversity of the sensitive column.
    pub l: Option<usize>,
}

impl Requirement {
    /// The class's size in the unit counted (persons up to `k`).
    pub fn size(&self, stats: &ClassStats) -> u64 {
        if self.persons {
            stats.persons.len() as u64
        } else {
            stats.records
        }
    }

    pub fn holds(&self, stats: &ClassStats) -> bool {
        self.size(stats) >= self.k as u64 && self.l.is_none_or(|l| stats.sensitive.len() >= l)
    }
}

/// The classes of all records read, at the released values.
#[derive(Debug, Default)]
pub struct Classes {
    pub map: HashMap<ClassKey, ClassStats>,
}

impl Classes {
    pub fn add(
        &mut self,
        key: ClassKey,
        person: Option<u64>,
        sensitive: Option<u64>,
        requirement: &Requirement,
    ) {
        let stats = self.map.entry(key).or_default();
        stats.records += 1;
        if let Some(p) = person {
            stats.persons.insert(p, requirement.k);
        }
        if let (Some(s), Some(l)) = (sensitive, requirement.l) {
            stats.sensitive.insert(s, l);
        }
    }

    /// The classes once every key is mapped through `recode`.
    pub fn recoded(
        &self,
        recode: impl Fn(&ClassKey) -> ClassKey,
        requirement: &Requirement,
    ) -> Self {
        let mut out: HashMap<ClassKey, ClassStats> = HashMap::with_capacity(self.map.len());
        for (key, stats) in &self.map {
            let mine = out.entry(recode(key)).or_default();
            mine.records += stats.records;
            mine.persons.merge(&stats.persons, requirement.k);
            if let Some(l) = requirement.l {
                mine.sensitive.merge(&stats.sensitive, l);
            }
        }
        Self { map: out }
    }

    /// The keys of the classes that fail `requirement`, and the records in them.
    pub fn failing(&self, requirement: &Requirement) -> (HashSet<ClassKey>, u64) {
        let mut records = 0;
        let keys = self
            .map
            .iter()
            .filter(|(_, s)| !requirement.holds(s))
            .map(|(key, s)| {
                records += s.records;
                key.clone()
            })
            .collect();
        (keys, records)
    }

    pub fn records(&self) -> u64 {
        self.map.values().map(|s| s.records).sum()
    }
}

/// The generalisation chosen: one level per quasi-identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node(pub Vec<usize>);

impl Node {
    /// The key of `key` at these levels.
    pub fn recode(&self, key: &ClassKey, hierarchies: &[Hierarchy]) -> ClassKey {
        key.iter()
            .zip(hierarchies)
            .zip(&self.0)
            .map(|((value, h), &level)| {
                if level == 0 {
                    value.clone()
                } else {
                    h.generalise(value.as_deref(), level)
                }
            })
            .collect()
    }

    /// Information loss: each quasi-identifier's level as a share of its hierarchy's
    /// height, summed; in units of 1/`scale` (see [`loss_scale`]) so that equal losses
    /// compare equal.
    pub fn loss(&self, hierarchies: &[Hierarchy], scale: u64) -> u64 {
        self.0
            .iter()
            .zip(hierarchies)
            .map(|(&level, h)| level as u64 * (scale / h.height() as u64))
            .sum()
    }
}

/// The least generalisation after which at most `max_suppressed` of the records lie in
/// classes failing `requirement` (those are then suppressed): the lowest total loss,
/// then the fewest records suppressed, then the first node in level order. Nodes are
/// tried in order of loss, so the search stops at the first loss that works. The node of
/// all-suppressed values always works when the records are at least `k`.
pub fn search(
    classes: &Classes,
    hierarchies: &[Hierarchy],
    requirement: &Requirement,
    max_suppressed: f64,
) -> (Node, u64) {
    let total = classes.records();
    let budget = (max_suppressed * total as f64).floor() as u64;
    let mut nodes: Vec<Node> = vec![Node(Vec::new())];
    for h in hierarchies {
        nodes = nodes
            .into_iter()
            .flat_map(|n| {
                (0..=h.height()).map(move |level| {
                    let mut levels = n.0.clone();
                    levels.push(level);
                    Node(levels)
                })
            })
            .collect();
    }
    let scale = loss_scale(hierarchies);
    let loss = |n: &Node| n.loss(hierarchies, scale);
    nodes.sort_by(|a, b| loss(a).cmp(&loss(b)).then_with(|| a.0.cmp(&b.0)));
    let mut best: Option<(Node, u64)> = None;
    let mut best_loss = u64::MAX;
    for node in nodes {
        if best.is_some() && loss(&node) > best_loss {
            break;
        }
        let (_, suppressed) = classes
            .recoded(|k| node.recode(k, hierarchies), requirement)
            .failing(requirement);
        if suppressed <= budget && best.as_ref().is_none_or(|(_, s)| suppressed < *s) {
            best_loss = loss(&node);
            best = Some((node, suppressed));
        }
    }
    best.unwrap_or_else(|| {
        // Fewer records than k: every node fails; suppress everything.
        let top = Node(hierarchies.iter().map(Hierarchy::height).collect());
        (top, total)
    })
}

/// A common multiple of the hierarchies' heights: losses are whole multiples of its
/// inverse.
pub fn loss_scale(hierarchies: &[Hierarchy]) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    hierarchies.iter().fold(1, |lcm, h| {
        let height = h.height() as u64;
        lcm / gcd(lcm, height) * height
    })
}

/// Counts for the risk summary, over the classes released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Risk {
    pub classes: u64,
    /// The smallest released class, in the unit counted (persons counted up to k).
    pub smallest: Option<u64>,
    /// The fewest distinct sensitive values in a released class (counted up to ℓ).
    pub least_diverse: Option<u64>,
    pub records_suppressed: u64,
    pub classes_suppressed: u64,
    /// Released classes by their number of records: entry i counts the classes of at
    /// least `CLASS_SIZE_BOUNDS[i]` records and fewer than the next bound.
    pub class_sizes: [u64; CLASS_SIZE_BOUNDS.len()],
}

/// The lower bounds of the class-size histogram in [`Risk`].
pub const CLASS_SIZE_BOUNDS: [u64; 10] = [1, 2, 3, 5, 10, 20, 50, 100, 500, 1000];

/// The risk summary of `classes` (already recoded) when the failing ones are suppressed.
pub fn risk(classes: &Classes, requirement: &Requirement) -> Risk {
    let mut risk = Risk::default();
    for stats in classes.map.values() {
        if requirement.holds(stats) {
            risk.classes += 1;
            let bucket = CLASS_SIZE_BOUNDS
                .iter()
                .rposition(|&b| stats.records >= b)
                .unwrap_or(0);
            risk.class_sizes[bucket] += 1;
            let size = requirement.size(stats);
            risk.smallest = Some(risk.smallest.map_or(size, |s| s.min(size)));
            if requirement.l.is_some() {
                let l = stats.sensitive.len() as u64;
                risk.least_diverse = Some(risk.least_diverse.map_or(l, |d| d.min(l)));
            }
        } else {
            risk.classes_suppressed += 1;
            risk.records_suppressed += stats.records;
        }
    }
    risk
}

/// A hash of one row's value for the person or sensitive column (fixed keys: the same
/// value hashes the same in every batch of a run).
pub fn hash_value(value: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(values: &[&str]) -> ClassKey {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    }

    #[test]
    fn steps_and_levels() {
        let h = Hierarchy(vec![Step::Year, Step::Years(5), Step::Years(10)]);
        assert_eq!(h.generalise(Some("2017-03"), 0).as_deref(), Some("2017-03"));
        assert_eq!(h.generalise(Some("2017-03"), 1).as_deref(), Some("2017"));
        assert_eq!(
            h.generalise(Some("2017-03"), 2).as_deref(),
            Some("2015-2019")
        );
        assert_eq!(
            h.generalise(Some("2017-03"), 3).as_deref(),
            Some("2010-2019")
        );
        assert_eq!(h.generalise(Some("2017-03"), 4).as_deref(), Some("*"));
        assert_eq!(h.generalise(None, 2), None);
        assert_eq!(h.generalise(None, 4).as_deref(), Some("*"));
        assert_eq!(Step::Prefix(3).apply("6214"), "621");
        assert_eq!(Step::Prefix(3).apply("621"), "621");
    }

    #[test]
    fn capped_sets_answer_at_least_k_exactly_after_merging() {
        let (mut a, mut b) = (CappedSet::default(), CappedSet::default());
        for i in 0..3 {
            a.insert(i, 5);
            b.insert(i + 2, 5);
        }
        a.merge(&b, 5);
        assert_eq!(a.len(), 5);
        a.insert(99, 5);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn search_finds_the_least_generalisation() {
        let requirement = Requirement {
            k: 2,
            persons: false,
            l: None,
        };
        let mut classes = Classes::default();
        for (year, pc) in [
            ("2017", "6214"),
            ("2018", "6214"),
            ("2017", "6215"),
            ("2018", "6215"),
        ] {
            classes.add(key(&[year, pc]), None, None, &requirement);
        }
        let hierarchies = [
            Hierarchy(vec![Step::Years(5)]),
            Hierarchy(vec![Step::Prefix(3)]),
        ];
        // Every class has one record: both must be generalised one step, or one suppressed.
        let (node, suppressed) = search(&classes, &hierarchies, &requirement, 0.0);
        assert_eq!((node.0.clone(), suppressed), (vec![0, 1], 0));
        let recoded = classes.recoded(|k| node.recode(k, &hierarchies), &requirement);
        assert_eq!(risk(&recoded, &requirement).smallest, Some(2));
        // With no budget and k above the total, everything is suppressed.
        let big = Requirement {
            k: 9,
            ..requirement
        };
        assert_eq!(search(&classes, &hierarchies, &big, 0.0).1, 4);
    }

    #[test]
    fn persons_and_diversity_count_distinct_values() {
        let requirement = Requirement {
            k: 2,
            persons: true,
            l: Some(2),
        };
        let mut classes = Classes::default();
        for (person, diagnosis) in [(1, "a"), (1, "b"), (2, "a")] {
            classes.add(
                key(&["x"]),
                Some(person),
                Some(hash_value(diagnosis)),
                &requirement,
            );
        }
        classes.add(key(&["y"]), Some(3), Some(hash_value("a")), &requirement);
        classes.add(key(&["y"]), Some(3), Some(hash_value("b")), &requirement);
        let r = risk(&classes, &requirement);
        assert_eq!(
            (r.classes, r.classes_suppressed, r.records_suppressed),
            (1, 1, 2)
        );
        assert_eq!((r.smallest, r.least_diverse), (Some(2), Some(2)));
    }
}
