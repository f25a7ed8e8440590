//! Quantiles by O(n) selection, with pandas' default linear interpolation.

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
        let position = q * (n - 1) as f64;
        let low = (position.floor() as usize).min(n - 1);
        let fraction = position - low as f64;
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

/// The median (the mean of the two middle values for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    quantiles(values, &[0.5]).map(|q| q[0])
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
        assert_eq!(median(&mut [4.0, 2.0, 1.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut [5.0]), Some(5.0));
        assert_eq!(median(&mut []), None);
    }
}
