//! Exact quantiles without sorting, with pandas' default linear interpolation.
//!
//! Small inputs use O(n) selection. Large ones are not copied: a strided
//! sample brackets each wanted rank, one parallel pass counts the values below
//! the bracket and collects the few inside it, and selection finishes inside
//! that band. If a bracket misses its rank (the sample misled), the exact
//! selection over all values runs instead: the result is always exact.

use rayon::prelude::*;

/// Inputs at most this large are copied and selected directly.
const SMALL: usize = 1 << 16;
/// Rows sampled to place the brackets.
const SAMPLE: usize = 1 << 16;

/// The `q`-quantiles of `values` (each `q` in [0, 1], ascending), interpolated
/// linearly between the two nearest ranks as pandas does; `None` for no values.
///
/// `values` is reordered (selection, not a sort) and must hold no NaN.
pub fn quantiles(values: &mut [f64], qs: &[f64]) -> Option<Vec<f64>> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    // `done`: values[..done] are all <= values[done..]; selections only look right of it.
    let mut done = 0;
    let mut out = Vec::with_capacity(qs.len());
    for &q in qs {
        let (low, fraction) = rank(q, n);
        let rest = &mut values[done..];
        let (_, low_value, right) = rest.select_nth_unstable_by(low - done, f64::total_cmp);
        let low_value = *low_value;
        let high_value = if fraction > 0.0 {
            right.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            low_value
        };
        out.push(low_value + (high_value - low_value) * fraction);
        done = low;
    }
    Some(out)
}

/// The lower rank of quantile `q` among `n` values and the interpolation fraction.
fn rank(q: f64, n: usize) -> (usize, f64) {
    let position = q * (n - 1) as f64;
    let low = (position.floor() as usize).min(n - 1);
    (low, position - low as f64)
}

/// Rows per parallel task of the passes over a column.
const BLOCK: usize = 1 << 16;

/// [`quantiles`] of `values[row]` over the rows where `include[row]` holds,
/// without copying them (values must hold no NaN where included).
pub fn quantiles_where(values: &[f64], include: &[bool], qs: &[f64]) -> Option<Vec<f64>> {
    let blocks = || values.par_chunks(BLOCK).zip(include.par_chunks(BLOCK));
    let n: usize = include
        .par_chunks(BLOCK)
        .map(|b| b.iter().filter(|&&i| i).count())
        .sum();
    let exact = || {
        let mut kept: Vec<f64> = blocks()
            .flat_map_iter(|(v, m)| v.iter().zip(m).filter(|(_, &i)| i).map(|(&x, _)| x))
            .collect();
        quantiles(&mut kept, qs)
    };
    if n <= SMALL {
        return exact();
    }
    let stride = (values.len() / SAMPLE).max(1);
    let mut sample: Vec<f64> = (0..values.len())
        .step_by(stride)
        .filter(|&r| include[r])
        .map(|r| values[r])
        .collect();
    if sample.len() < SAMPLE / 8 {
        return exact();
    }
    sample.sort_unstable_by(f64::total_cmp);
    let m = sample.len() as f64;
    let margin = 4.0 * m.sqrt() + 8.0;
    // One bracket [a, b] per quantile, meant to hold its two ranks.
    let brackets: Vec<(f64, f64)> = qs
        .iter()
        .map(|&q| {
            let p = rank(q, n).0 as f64 / n as f64 * m;
            let lo = p - margin;
            let hi = p + 1.0 + margin;
            let a = if lo <= 0.0 {
                f64::NEG_INFINITY
            } else {
                sample[lo as usize]
            };
            let b = if hi >= m - 1.0 {
                f64::INFINITY
            } else {
                sample[hi as usize]
            };
            (a, b)
        })
        .collect();
    let per_block: Vec<(Vec<usize>, Vec<Vec<f64>>)> = blocks()
        .map(|(v, m)| {
            let mut below = vec![0usize; brackets.len()];
            let mut bands = vec![Vec::new(); brackets.len()];
            for (j, &(a, b)) in brackets.iter().enumerate() {
                for (&x, &i) in v.iter().zip(m) {
                    below[j] += usize::from(i & (x < a));
                    if i & (x >= a) & (x <= b) {
                        bands[j].push(x);
                    }
                }
            }
            (below, bands)
        })
        .collect();
    let mut out = Vec::with_capacity(qs.len());
    for (j, &q) in qs.iter().enumerate() {
        let below: usize = per_block.iter().map(|(b, _)| b[j]).sum();
        let mut band: Vec<f64> = per_block
            .iter()
            .flat_map(|(_, bands)| bands[j].iter().copied())
            .collect();
        let (low, fraction) = rank(q, n);
        let high = if fraction > 0.0 { low + 1 } else { low };
        if low < below || high >= below + band.len() {
            return exact();
        }
        let (_, low_value, right) = band.select_nth_unstable_by(low - below, f64::total_cmp);
        let low_value = *low_value;
        let high_value = if high > low {
            right.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            low_value
        };
        out.push(low_value + (high_value - low_value) * fraction);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_linear_interpolation() {
        // pandas: Series([7, 1, 3, 9, 5]).quantile([0.25, 0.75]) == [3.0, 7.0]
        assert_eq!(
            quantiles(&mut [7.0, 1.0, 3.0, 9.0, 5.0], &[0.25, 0.75]),
            Some(vec![3.0, 7.0])
        );
        // pandas: Series([1, 2, 3, 4]).quantile([0.25, 0.75]) == [1.75, 3.25]
        assert_eq!(
            quantiles(&mut [4.0, 2.0, 1.0, 3.0], &[0.25, 0.75]),
            Some(vec![1.75, 3.25])
        );
        assert_eq!(quantiles(&mut [4.0, 2.0, 1.0, 3.0], &[0.5]), Some(vec![2.5]));
        assert_eq!(quantiles(&mut [5.0], &[0.5]), Some(vec![5.0]));
        assert_eq!(quantiles(&mut [], &[0.5]), None);
    }

    #[test]
    fn sampled_brackets_give_the_exact_answer() {
        // A skewed, tied, large input with every other row excluded.
        let values: Vec<f64> = (0..1_000_003u64)
            .map(|i| ((i * 7919) % 10_007) as f64 / ((i % 13) + 1) as f64)
            .collect();
        let include: Vec<bool> = (0..values.len()).map(|r| r % 2 == 0).collect();
        let mut kept: Vec<f64> = values
            .iter()
            .zip(&include)
            .filter(|(_, &i)| i)
            .map(|(v, _)| *v)
            .collect();
        let qs = [0.0, 0.25, 0.5, 0.75, 1.0];
        assert_eq!(quantiles_where(&values, &include, &qs), quantiles(&mut kept, &qs));
        assert_eq!(quantiles_where(&values, &vec![false; values.len()], &qs), None);
    }
}
