//! The outlier fence rule, once: which kept rows a column's fences remove.
//! The in-memory `clean` applies it to the whole frame, the out-of-core and
//! Ray passes to each block; both count what it judged and removed per group.

use rayon::prelude::*;

use super::plan::Bounds;

/// Rows per parallel task.
const BLOCK: usize = 1 << 16;

/// What a fence did, per group: the kept values it judged and the rows it removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceCounts {
    /// Kept rows with a value, per group.
    pub judged: Vec<u64>,
    /// Of those, the rows outside their group's bounds (now no longer kept).
    pub removed: Vec<u64>,
}

/// Removes from `keep` each kept row whose value lies outside its group's
/// bounds (`bounds[group]`, inclusive). A group without bounds (`None`: it
/// had no values) removes nothing; NaN bounds (from infinite values) keep
/// nothing, as pandas' comparisons do. Rows not kept, and rows without a value
/// (`present[row]` false), are not judged. `groups`: each row's group id
/// (`None`: every row in group 0); every id must be below `bounds.len()`.
pub fn apply(
    values: &[f64],
    present: Option<&[bool]>,
    groups: Option<&[u32]>,
    bounds: &[Option<Bounds>],
    keep: &mut [bool],
) -> FenceCounts {
    let n = bounds.len();
    let group_of = |row: usize| groups.map_or(0, |g| g[row] as usize);
    keep.par_chunks_mut(BLOCK)
        .enumerate()
        .map(|(b, block)| {
            let mut counts = FenceCounts {
                judged: vec![0; n],
                removed: vec![0; n],
            };
            for (i, kept) in block.iter_mut().enumerate() {
                let row = b * BLOCK + i;
                if !*kept || present.is_some_and(|p| !p[row]) {
                    continue;
                }
                let g = group_of(row);
                counts.judged[g] += 1;
                if let Some(b) = bounds[g] {
                    if !(b.lower..=b.upper).contains(&values[row]) {
                        *kept = false;
                        counts.removed[g] += 1;
                    }
                }
            }
            counts
        })
        .reduce(
            || FenceCounts {
                judged: vec![0; n],
                removed: vec![0; n],
            },
            FenceCounts::plus,
        )
}

impl FenceCounts {
    /// These counts and `other`'s, group by group.
    fn plus(self, other: Self) -> Self {
        let add = |a: Vec<u64>, b: Vec<u64>| a.iter().zip(&b).map(|(x, y)| x + y).collect();
        Self {
            judged: add(self.judged, other.judged),
            removed: add(self.removed, other.removed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(lower: f64, upper: f64) -> Option<Bounds> {
        Some(Bounds {
            q1: lower,
            q3: upper,
            lower,
            upper,
        })
    }

    #[test]
    fn removes_kept_rows_outside_their_groups_bounds() {
        let values = [1.0, 5.0, 9.0, 100.0, 3.0, f64::INFINITY, 0.0];
        let present = [true, true, true, true, false, true, true];
        let groups = [0, 0, 1, 1, 1, 0, 2];
        let mut keep = [true, true, true, true, true, true, false];
        let counts = apply(
            &values,
            Some(&present),
            Some(&groups),
            &[bounds(0.0, 6.0), bounds(8.0, 10.0), None],
            &mut keep,
        );
        assert_eq!(keep, [true, true, true, false, true, false, false]);
        assert_eq!(counts.judged, [3, 2, 0]);
        assert_eq!(counts.removed, [1, 1, 0]);
    }

    #[test]
    fn nan_bounds_keep_nothing_and_no_bounds_keep_everything() {
        let values = vec![1.0; 200_000]; // several parallel blocks
        let mut keep = vec![true; values.len()];
        let none = apply(&values, None, None, &[None], &mut keep);
        assert_eq!((none.judged, none.removed), (vec![200_000], vec![0]));
        let nan = apply(&values, None, None, &[bounds(f64::NAN, f64::NAN)], &mut keep);
        assert_eq!(nan.removed, vec![200_000]);
        assert!(keep.iter().all(|k| !k));
    }
}
