//! Parallel single-pass kernels that find the rows breaking a rule.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};

/// Rows scanned per parallel task.
const BLOCK: usize = 1 << 16;

/// The rows that break a rule: how many, and the first few (0-based, ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violations {
    /// Number of rows breaking the rule.
    pub count: u64,
    /// The first rows breaking it, at most the `keep` asked for.
    pub rows: Vec<u64>,
}

impl Violations {
    /// `self` followed by `later` (rows of `later` come after those of `self`).
    pub fn then(mut self, later: Self, keep: usize) -> Self {
        self.count += later.count;
        let room = keep.saturating_sub(self.rows.len());
        self.rows.extend(later.rows.into_iter().take(room));
        self
    }

    /// The same rows, numbered `by` further on (a shard's rows in its data set).
    pub fn shifted(mut self, by: u64) -> Self {
        self.rows.iter_mut().for_each(|r| *r += by);
        self
    }
}

/// Values of one array for which `fails` holds, skipping nulls; `offset` is
/// the array's first row in the column.
fn scan_values<T: Copy + Sync>(
    values: &[T],
    validity: Option<&Bitmap>,
    offset: u64,
    keep: usize,
    fails: &(impl Fn(T) -> bool + Sync),
) -> Violations {
    values
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(b, block)| {
            let start = b * BLOCK;
            // Fast path: one branch-free pass (it vectorises; `any` would not), as most blocks pass.
            if validity.is_none() && !block.iter().fold(false, |bad, &x| bad | fails(x)) {
                return Violations::default();
            }
            let mut found = Violations::default();
            for (i, &x) in block.iter().enumerate() {
                let row = start + i;
                if fails(x) && validity.is_none_or(|v| v.get_bit(row)) {
                    found.count += 1;
                    if found.rows.len() < keep {
                        found.rows.push(offset + row as u64);
                    }
                }
            }
            found
        })
        .reduce_with(|a, b| a.then(b, keep))
        .unwrap_or_default()
}

/// Present values of a numeric column for which `fails` holds.
pub fn scan_primitive<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    keep: usize,
    fails: impl Fn(T::Native) -> bool + Sync,
) -> Violations {
    let mut offset = 0u64;
    let mut total = Violations::default();
    for arr in ca.downcast_iter() {
        let validity = arr.validity().filter(|v| v.unset_bits() > 0);
        let part = scan_values(arr.values().as_slice(), validity, offset, keep, &fails);
        total = total.then(part, keep);
        offset += arr.len() as u64;
    }
    total
}

/// Present values of a numeric column, read as `f64`, for which `fails` holds.
///
/// Float64 and Int64 columns are read in place; other numeric types are cast
/// first. A non-numeric column is a [`DwcpError::Data`] naming it.
pub fn scan_numeric(
    column: &Column,
    rule: &'static str,
    keep: usize,
    fails: impl Fn(f64) -> bool + Sync,
) -> Result<Violations> {
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::Float64 => Ok(scan_primitive(series.f64()?, keep, fails)),
        DataType::Int64 => Ok(scan_primitive(series.i64()?, keep, |x| fails(x as f64))),
        dtype if dtype.is_primitive_numeric() => {
            let cast = series.cast(&DataType::Float64)?;
            Ok(scan_primitive(cast.f64()?, keep, fails))
        }
        dtype => Err(DwcpError::Data {
            column: column.name().to_string(),
            row: None,
            rule,
            message: format!("expected a numeric column, found {dtype}"),
        }),
    }
}

/// The null rows of a column.
pub fn scan_nulls(column: &Column, keep: usize) -> Violations {
    let nulls = column.null_count() as u64;
    if nulls == 0 {
        return Violations::default();
    }
    let series = column.as_materialized_series();
    let mask = series.is_null();
    let mut rows = Vec::with_capacity(keep.min(nulls as usize));
    for (row, is_null) in mask.iter().enumerate() {
        if rows.len() == keep {
            break;
        }
        if is_null == Some(true) {
            rows.push(row as u64);
        }
    }
    Violations { count: nulls, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_failing_rows_across_blocks_and_chunks_in_order() {
        let n = 3 * BLOCK + 10;
        let mut values: Vec<f64> = (0..n).map(|i| i as f64).collect();
        values[5] = -1.0;
        values[BLOCK + 1] = -2.0;
        values[n - 1] = -3.0;
        let mut ca = Float64Chunked::from_vec("x".into(), values.clone());
        ca.append(&Float64Chunked::from_vec("x".into(), vec![-4.0, 1.0]))
            .unwrap();
        let v = scan_primitive(&ca, 3, |x| x < 0.0);
        assert_eq!(v.count, 4);
        assert_eq!(v.rows, vec![5, BLOCK as u64 + 1, n as u64 - 1]);
    }

    #[test]
    fn nulls_are_not_judged() {
        let ca = Float64Chunked::from_iter_options("x".into(), [Some(-1.0), None, Some(2.0)].into_iter());
        assert_eq!(scan_primitive(&ca, 5, |x| x < 0.0).rows, vec![0]);
        let nulls = scan_nulls(&ca.into_series().into_column(), 5);
        assert_eq!((nulls.count, nulls.rows), (1, vec![1]));
    }

    #[test]
    fn non_numeric_columns_are_named() {
        let col = Column::new("rtt_ms".into(), ["a"]);
        let err = scan_numeric(&col, "range", 5, |_| true).unwrap_err();
        assert!(err.to_string().contains("rtt_ms"), "{err}");
    }
}
