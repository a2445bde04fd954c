//! Disclosure control for aggregate tables: primary suppression of cells with too few
//! contributors, secondary suppression so that no suppressed cell can be solved from the
//! published cells and margins, and rounding. Pure functions over the aggregated cells
//! (no polars), so that a Spark driver can apply them to its own aggregates.

use std::collections::HashMap;

/// One coordinate of a cell: a dimension's value (possibly missing), or its total.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Coord {
    Value(Option<String>),
    Total,
}

/// Why a cell is not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// Fewer contributors than the threshold, to the cell or to one of its sums.
    Primary,
    /// Its value could otherwise be solved from published cells and margins.
    Secondary,
    /// One or two contributors make up nearly all of a sum (the p%-rule).
    Dominance,
}

impl Suppression {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "suppressed: too few contributors",
            Self::Secondary => "suppressed: would reveal another cell",
            Self::Dominance => "suppressed: a sum dominated by one or two persons",
        }
    }
}

/// One cell of the table, with its exact counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub coords: Vec<Coord>,
    /// Contributors: distinct persons (or records).
    pub persons: u64,
    pub records: u64,
    /// One sum per summed column (`None`: no value contributed).
    pub sums: Vec<Option<f64>>,
    /// Per sum, its contributors: persons (or records) with a value.
    pub contributors: Vec<u64>,
    /// Whether a sum fails the p%-rule.
    pub dominated: bool,
    pub suppressed: Option<Suppression>,
}

/// The p%-rule: a sum is sensitive when, after the two largest contributions `x1 ≥ x2`,
/// the rest is less than `p` % of `x1` — the second largest contributor could then
/// estimate the largest one's value to within p %. Contributions are taken as
/// non-negative (hours, amounts).
pub fn dominated(sum: f64, x1: f64, x2: f64, p: f64) -> bool {
    sum - x1 - x2 < p / 100.0 * x1
}

/// Suppress every cell with fewer than `min_count` contributors (to its counts, or to
/// a sum that has any), or a dominated sum.
pub fn primary(cells: &mut [Cell], min_count: u64) -> u64 {
    let mut n = 0;
    for cell in cells.iter_mut() {
        let sparse_sum = cell.contributors.iter().any(|&c| c > 0 && c < min_count);
        if cell.persons < min_count || sparse_sum {
            cell.suppressed = Some(Suppression::Primary);
        } else if cell.dominated {
            cell.suppressed = Some(Suppression::Dominance);
        } else {
            continue;
        }
        n += 1;
    }
    n
}

/// The additive relations of a table with totals: for each dimension and each choice of
/// the other coordinates, the cell with that dimension's total and the cells with each of
/// its values. Cells are named by their index in `cells`; a combination absent from the
/// data is a known zero and appears in no relation.
pub fn lines(cells: &[Cell]) -> Vec<(usize, Vec<usize>)> {
    let Some(first) = cells.first() else {
        return Vec::new();
    };
    let dims = first.coords.len();
    let mut relations = Vec::new();
    for d in 0..dims {
        let mut groups: HashMap<Vec<&Coord>, (Option<usize>, Vec<usize>)> = HashMap::new();
        for (i, cell) in cells.iter().enumerate() {
            let others: Vec<&Coord> = cell
                .coords
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != d)
                .map(|(_, c)| c)
                .collect();
            let group = groups.entry(others).or_default();
            match cell.coords[d] {
                Coord::Total => group.0 = Some(i),
                Coord::Value(_) => group.1.push(i),
            }
        }
        let mut found: Vec<(usize, Vec<usize>)> = groups
            .into_values()
            .filter_map(|(total, parts)| total.map(|t| (t, parts)))
            .collect();
        found.sort();
        relations.extend(found);
    }
    relations
}

/// Secondary suppression: suppress further cells, smallest first, until no suppressed
/// cell can be solved from the published ones through the table's relations (checked
/// exactly, by linear algebra over the suppressed cells). Returns the cells added.
pub fn secondary(cells: &mut [Cell]) -> u64 {
    let relations = lines(cells);
    let mut added = 0;
    loop {
        // Cheap pass: a relation with exactly one suppressed cell reveals it.
        let mut changed = true;
        while changed {
            changed = false;
            for (total, parts) in &relations {
                let members: Vec<usize> = std::iter::once(*total)
                    .chain(parts.iter().copied())
                    .collect();
                let suppressed = members
                    .iter()
                    .filter(|&&i| cells[i].suppressed.is_some())
                    .count();
                if suppressed == 1 && suppress_smallest(cells, &members) {
                    added += 1;
                    changed = true;
                }
            }
        }
        // Exact pass: a cell determined by several relations together. Its value follows
        // from relations linked to it through suppressed cells: suppress the smallest
        // published member of those.
        let Some(revealed) = determined(cells, &relations).into_iter().next() else {
            return added;
        };
        let members: Vec<usize> = linked(cells, &relations, revealed)
            .into_iter()
            .flat_map(|r| std::iter::once(relations[r].0).chain(relations[r].1.iter().copied()))
            .collect();
        if !suppress_smallest(cells, &members) {
            // Nothing published is linked to it: nothing left to add.
            return added;
        }
        added += 1;
    }
}

/// The relations linked to `cell`: those holding it, and, transitively, those holding a
/// suppressed member of a linked relation.
fn linked(cells: &[Cell], relations: &[(usize, Vec<usize>)], cell: usize) -> Vec<usize> {
    let holds = |r: usize, c: usize| relations[r].0 == c || relations[r].1.contains(&c);
    let mut found: Vec<usize> = Vec::new();
    let mut frontier = vec![cell];
    let mut seen_cells = std::collections::HashSet::from([cell]);
    while let Some(c) = frontier.pop() {
        for r in (0..relations.len()).filter(|&r| holds(r, c)) {
            if found.contains(&r) {
                continue;
            }
            found.push(r);
            let (total, parts) = &relations[r];
            for &m in std::iter::once(total).chain(parts) {
                if cells[m].suppressed.is_some() && seen_cells.insert(m) {
                    frontier.push(m);
                }
            }
        }
    }
    found.sort_unstable();
    found
}

/// Suppress the published member with the fewest contributors (then the first); false
/// when every member is suppressed already.
fn suppress_smallest(cells: &mut [Cell], members: &[usize]) -> bool {
    let candidate = members
        .iter()
        .copied()
        .filter(|&i| cells[i].suppressed.is_none())
        .min_by_key(|&i| (cells[i].persons, i));
    match candidate {
        Some(i) => {
            cells[i].suppressed = Some(Suppression::Secondary);
            true
        }
        None => false,
    }
}

/// The suppressed cells whose value follows from the relations, the published cells
/// being known: those whose unit vector lies in the row space of the relations restricted
/// to the suppressed cells.
pub fn determined(cells: &[Cell], relations: &[(usize, Vec<usize>)]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..cells.len())
        .filter(|&i| cells[i].suppressed.is_some())
        .collect();
    let column: HashMap<usize, usize> = unknown.iter().enumerate().map(|(c, &i)| (i, c)).collect();
    let mut rows: Vec<Vec<f64>> = relations
        .iter()
        .filter_map(|(total, parts)| {
            let mut row = vec![0.0; unknown.len()];
            let mut any = false;
            if let Some(&c) = column.get(total) {
                row[c] -= 1.0;
                any = true;
            }
            for p in parts {
                if let Some(&c) = column.get(p) {
                    row[c] += 1.0;
                    any = true;
                }
            }
            any.then_some(row)
        })
        .collect();
    let basis = reduce(&mut rows, unknown.len());
    unknown
        .iter()
        .enumerate()
        .filter(|(c, _)| {
            let mut e = vec![0.0; unknown.len()];
            e[*c] = 1.0;
            in_span(&basis, e)
        })
        .map(|(_, &i)| i)
        .collect()
}

const EPSILON: f64 = 1e-9;

/// Row-reduce `rows` (Gaussian elimination with partial pivoting); the pivot rows with
/// their pivot columns.
fn reduce(rows: &mut [Vec<f64>], columns: usize) -> Vec<(usize, Vec<f64>)> {
    let mut basis: Vec<(usize, Vec<f64>)> = Vec::new();
    let mut remaining: Vec<Vec<f64>> = rows.to_vec();
    for c in 0..columns {
        let Some(pivot) = (0..remaining.len())
            .filter(|&r| remaining[r][c].abs() > EPSILON)
            .max_by(|&a, &b| remaining[a][c].abs().total_cmp(&remaining[b][c].abs()))
        else {
            continue;
        };
        let mut row = remaining.swap_remove(pivot);
        let lead = row[c];
        row.iter_mut().for_each(|v| *v /= lead);
        for other in remaining.iter_mut().chain(basis.iter_mut().map(|(_, r)| r)) {
            let factor = other[c];
            if factor.abs() > EPSILON {
                other
                    .iter_mut()
                    .zip(&row)
                    .for_each(|(v, p)| *v -= factor * p);
            }
        }
        basis.push((c, row));
    }
    basis
}

/// Whether `v` is a combination of the reduced `basis`.
fn in_span(basis: &[(usize, Vec<f64>)], mut v: Vec<f64>) -> bool {
    for (c, row) in basis {
        let factor = v[*c];
        if factor.abs() > EPSILON {
            v.iter_mut().zip(row).for_each(|(x, r)| *x -= factor * r);
        }
    }
    v.iter().all(|x| x.abs() <= EPSILON)
}

/// `value` rounded to the nearest multiple of `base` (halves up); `base` 1 leaves it.
pub fn round_to(value: u64, base: u64) -> u64 {
    if base <= 1 {
        return value;
    }
    (value + base / 2) / base * base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(coords: [&str; 2], persons: u64) -> Cell {
        Cell {
            coords: coords
                .iter()
                .map(|c| {
                    if *c == "T" {
                        Coord::Total
                    } else {
                        Coord::Value(Some((*c).to_owned()))
                    }
                })
                .collect(),
            persons,
            records: persons,
            sums: Vec::new(),
            contributors: Vec::new(),
            dominated: false,
            suppressed: None,
        }
    }

    /// A 2×2 table with margins: one small cell needs three more suppressed.
    fn table() -> Vec<Cell> {
        vec![
            cell(["a", "x"], 3),
            cell(["a", "y"], 20),
            cell(["b", "x"], 30),
            cell(["b", "y"], 40),
            cell(["a", "T"], 23),
            cell(["b", "T"], 70),
            cell(["T", "x"], 33),
            cell(["T", "y"], 60),
            cell(["T", "T"], 93),
        ]
    }

    #[test]
    fn a_lone_small_cell_takes_a_rectangle_with_it() {
        let mut cells = table();
        assert_eq!(primary(&mut cells, 10), 1);
        assert_eq!(secondary(&mut cells), 3);
        let suppressed: Vec<usize> = (0..cells.len())
            .filter(|&i| cells[i].suppressed.is_some())
            .collect();
        // The rectangle a/b × x/y: no margin pins down any of its cells.
        assert_eq!(suppressed, [0, 1, 2, 3]);
        assert_eq!(determined(&cells, &lines(&cells)), Vec::<usize>::new());
    }

    #[test]
    fn determined_cells_are_found_through_several_relations() {
        let mut cells = table();
        // Suppressing a/x and its row total: the column x still gives a/x, then a/T.
        cells[0].suppressed = Some(Suppression::Primary);
        cells[4].suppressed = Some(Suppression::Secondary);
        assert_eq!(determined(&cells, &lines(&cells)), [0, 4]);
    }

    #[test]
    fn the_p_rule_flags_sums_two_contributors_make() {
        // 100 = 80 + 15 + 5: the rest (5) is under 10 % of 80.
        assert!(dominated(100.0, 80.0, 15.0, 10.0));
        assert!(!dominated(100.0, 40.0, 30.0, 10.0));
    }

    #[test]
    fn rounding_to_a_base() {
        assert_eq!(
            [0, 2, 3, 7, 8, 12].map(|v| round_to(v, 5)),
            [0, 0, 5, 5, 10, 10]
        );
        assert_eq!(round_to(7, 1), 7);
    }
}
