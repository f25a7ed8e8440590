//! Drift between two profiles of one column: the statistics a reviewer
//! expects, computed from the profiles alone (the data is never read again).
//!
//! Numbers, from the histograms (bins fixed in advance, so both sides share
//! their edges): the Kolmogorov–Smirnov distance at the bins' edges (the exact
//! one is at most a bin's share away), Wasserstein-1 between the histograms
//! with each bin's values at its middle, divided by the reference's standard
//! deviation (Evidently's `wasserstein_distance_norm`; a constant reference's
//! by its value's magnitude, or 1), and the population
//! stability index on ten bins holding a tenth of the reference each.
//! Categories: the Jensen–Shannon distance (natural logarithm, as
//! `scipy.spatial.distance.jensenshannon`) and each value's share change.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{bin_range, ColumnProfile, Numeric};

/// Share given to an empty PSI bin, so that its logarithm stays finite.
const PSI_FLOOR: f64 = 1e-4;
/// The reference's quantile bins of the PSI.
const PSI_BINS: usize = 10;

/// Drift statistics of one column between a reference and a current profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    /// Kolmogorov–Smirnov distance of the finite values (numbers).
    pub ks: Option<f64>,
    /// Wasserstein-1 distance over the reference's standard deviation (numbers).
    pub wasserstein_norm: Option<f64>,
    /// Population stability index on the reference's deciles (numbers).
    pub psi: Option<f64>,
    /// Jensen–Shannon distance of the value shares (categories).
    pub jensen_shannon: Option<f64>,
    /// The largest change of one value's share, in absolute terms (categories).
    pub max_share_change: Option<f64>,
    /// Current minus reference share of missing values (nulls, and NaN for numbers).
    pub missing_change: f64,
}

/// The drift of one column from `reference` to `current`.
pub fn column_drift(reference: &ColumnProfile, current: &ColumnProfile) -> ColumnDrift {
    let missing = |c: &ColumnProfile| {
        let nan = c.numeric.as_ref().map_or(0, |n| n.nan);
        if c.rows == 0 {
            0.0
        } else {
            (c.nulls + nan) as f64 / c.rows as f64
        }
    };
    let mut out = ColumnDrift {
        ks: None,
        wasserstein_norm: None,
        psi: None,
        jensen_shannon: None,
        max_share_change: None,
        missing_change: missing(current) - missing(reference),
    };
    if let (Some(r), Some(c)) = (&reference.numeric, &current.numeric) {
        if r.count > 0 && c.count > 0 {
            let (ks, w) = ks_and_wasserstein(r, c);
            out.ks = Some(ks);
            let sd = r.variance().map(f64::sqrt).unwrap_or(0.0);
            // a constant reference: by its value's magnitude (or 1 for zero) instead
            let scale = if sd > 0.0 { sd } else { r.mean.abs().max(1.0) };
            out.wasserstein_norm = Some(w / scale);
            out.psi = Some(psi(r, c));
        }
    }
    if let (Some(r), Some(c)) = (&reference.counts, &current.counts) {
        let (js, change) = category_drift(r, c);
        out.jensen_shannon = js;
        out.max_share_change = change;
    }
    out
}

/// One column's drift in one group (`None`: every row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftRow {
    /// The group's key, or `None` for every row.
    pub group: Option<String>,
    /// The column.
    pub column: String,
    /// Its statistics.
    pub drift: ColumnDrift,
}

/// The drift of every column both profiles hold, over every row and in each
/// group both hold, in column order within groups (every row first).
pub fn profile_drift(reference: &super::Profile, current: &super::Profile) -> Vec<DriftRow> {
    let mut rows = Vec::new();
    let mut add = |group: Option<&String>, r: &super::Columns, c: &super::Columns| {
        for (column, rc) in r {
            if let Some(cc) = c.get(column) {
                rows.push(DriftRow {
                    group: group.cloned(),
                    column: column.clone(),
                    drift: column_drift(rc, cc),
                });
            }
        }
    };
    add(None, &reference.all, &current.all);
    for (group, r) in &reference.groups {
        if let Some(c) = current.groups.get(group) {
            add(Some(group), r, c);
        }
    }
    rows
}

/// Each side's share of its finite values per bin, over the union of bins, in order.
fn shares(r: &Numeric, c: &Numeric) -> Vec<(u32, f64, f64)> {
    let bins: BTreeSet<u32> = r.bins.keys().chain(c.bins.keys()).copied().collect();
    let share = |n: &Numeric, b: u32| n.bins.get(&b).copied().unwrap_or(0) as f64 / n.count as f64;
    bins.into_iter().map(|b| (b, share(r, b), share(c, b))).collect()
}

fn middle(bin: u32) -> f64 {
    let (low, high) = bin_range(bin);
    low / 2.0 + high / 2.0
}

fn ks_and_wasserstein(r: &Numeric, c: &Numeric) -> (f64, f64) {
    let (mut cdf_r, mut cdf_c, mut ks, mut w) = (0.0, 0.0, 0.0f64, 0.0);
    let bins = shares(r, c);
    for (i, &(bin, sr, sc)) in bins.iter().enumerate() {
        cdf_r += sr;
        cdf_c += sc;
        let gap = (cdf_c - cdf_r).abs();
        ks = ks.max(gap);
        if let Some(&(next, _, _)) = bins.get(i + 1) {
            w += gap * (middle(next) - middle(bin));
        }
    }
    (ks.min(1.0), w)
}

fn psi(r: &Numeric, c: &Numeric) -> f64 {
    // the reference's deciles as bin boundaries: each PSI bin ends where the reference's share passes k/10
    let (mut edges, mut seen) = (Vec::with_capacity(PSI_BINS), 0.0);
    for (bin, n) in &r.bins {
        seen += *n as f64 / r.count as f64;
        if seen >= (edges.len() + 1) as f64 / PSI_BINS as f64 - 1e-12 && edges.len() < PSI_BINS - 1 {
            edges.push(*bin);
        }
    }
    let bucket_of = |bin: u32| edges.partition_point(|&e| e < bin);
    let buckets = |n: &Numeric| {
        let mut out = vec![0.0; edges.len() + 1];
        for (bin, k) in &n.bins {
            out[bucket_of(*bin)] += *k as f64 / n.count as f64;
        }
        out
    };
    let (ref_shares, cur_shares) = (buckets(r), buckets(c));
    ref_shares
        .iter()
        .zip(&cur_shares)
        .map(|(&a, &b)| {
            let (a, b) = (a.max(PSI_FLOOR), b.max(PSI_FLOOR));
            (b - a) * (b / a).ln()
        })
        .sum()
}

fn category_drift(r: &BTreeMap<String, u64>, c: &BTreeMap<String, u64>) -> (Option<f64>, Option<f64>) {
    let (total_r, total_c) = (r.values().sum::<u64>() as f64, c.values().sum::<u64>() as f64);
    if total_r == 0.0 || total_c == 0.0 {
        return (None, None);
    }
    let values: BTreeSet<&String> = r.keys().chain(c.keys()).collect();
    let (mut js, mut change) = (0.0, 0.0f64);
    for v in values {
        let p = r.get(v).copied().unwrap_or(0) as f64 / total_r;
        let q = c.get(v).copied().unwrap_or(0) as f64 / total_c;
        let m = (p + q) / 2.0;
        let term = |x: f64| if x > 0.0 { x * (x / m).ln() } else { 0.0 };
        js += (term(p) + term(q)) / 2.0;
        change = change.max((q - p).abs());
    }
    (Some(js.max(0.0).sqrt()), Some(change))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn profile_of(values: Vec<Option<f64>>) -> ColumnProfile {
        ColumnProfile::of(&Column::new("x".into(), values)).unwrap()
    }

    #[test]
    fn equal_sides_do_not_drift_and_shifted_ones_do() {
        let a: Vec<Option<f64>> = (1..=1000).map(|i| Some(i as f64)).collect();
        let shifted: Vec<Option<f64>> = (1..=1000).map(|i| Some(i as f64 * 1.3)).collect();
        let same = column_drift(&profile_of(a.clone()), &profile_of(a.clone()));
        assert_eq!(
            (same.ks, same.wasserstein_norm, same.psi),
            (Some(0.0), Some(0.0), Some(0.0))
        );
        let moved = column_drift(&profile_of(a.clone()), &profile_of(shifted));
        // exact: W = 0.3 · mean = 150.15, sd = 288.8: 0.52; KS ≈ 0.23
        assert!((moved.wasserstein_norm.unwrap() - 0.52).abs() < 0.03, "{moved:?}");
        assert!((moved.ks.unwrap() - 0.23).abs() < 0.03, "{moved:?}");
        assert!(moved.psi.unwrap() > 0.2);
        let mut holes = a.clone();
        holes.iter_mut().step_by(3).for_each(|v| *v = None);
        let missing = column_drift(&profile_of(a), &profile_of(holes));
        assert!((missing.missing_change - 0.334).abs() < 1e-9);
    }

    #[test]
    fn category_shares_drift_by_jensen_shannon_and_share_change() {
        let counts = |h: u64, a: u64, b: u64| {
            let mut m = BTreeMap::new();
            m.insert("hde".to_string(), h);
            m.insert("amst".to_string(), a);
            m.insert("baseline".to_string(), b);
            m
        };
        let (js, change) = category_drift(&counts(50, 30, 20), &counts(40, 30, 30));
        assert!((js.unwrap() - 0.0884).abs() < 1e-3, "{js:?}");
        assert!((change.unwrap() - 0.1).abs() < 1e-12);
    }
}
