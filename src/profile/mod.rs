//! Data profiles: per column the figures a reviewer compares week to week,
//! computed a block at a time and merged, so that a data set's blocks'
//! profiles merged equal the whole's.
//!
//! Per column: rows and nulls. Numbers (and timestamps, as µs since the
//! epoch): NaN, +inf and -inf counts, min and max, the finite values' count,
//! mean and sum of squared deviations (merged with Chan's formulas), and a
//! histogram over fixed bins: a value's bin is the top bits of its order key
//! (sign, exponent and [`MANTISSA_BITS`] bits of mantissa), so a bin spans at
//! most 2^-5 of its values' magnitude and bins never move between blocks.
//! Text and Enum columns: each value's count, up to [`MAX_CATEGORIES`]
//! distinct values (more: the counts are dropped, whatever the merge order).
//! Everything but mean and variance merges exactly (sums of integers, min,
//! max); mean and variance to floating-point rounding.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cleaning::RowKeys;
use crate::error::Result;
use crate::partial::rank::{from_order_key, order_key};

/// Mantissa bits a histogram bin keeps: 32 bins per power of two.
pub const MANTISSA_BITS: u32 = 5;
/// Distinct values a text column's counts keep at most.
pub const MAX_CATEGORIES: usize = 256;
/// Key bits dropped to make a bin.
const DROPPED: u32 = 52 - MANTISSA_BITS;

/// What one column of a block holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Rows.
    pub rows: u64,
    /// Null rows.
    pub nulls: u64,
    /// Figures of a numeric column (`None` for text).
    pub numeric: Option<Numeric>,
    /// Value counts of a text or Enum column (`None` for numbers, or past
    /// [`MAX_CATEGORIES`] distinct values).
    pub counts: Option<BTreeMap<String, u64>>,
}

/// A numeric column's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numeric {
    /// NaN values.
    pub nan: u64,
    /// +inf values.
    pub pos_inf: u64,
    /// -inf values.
    pub neg_inf: u64,
    /// Finite values.
    pub count: u64,
    /// Smallest finite value.
    pub min: Option<f64>,
    /// Largest finite value.
    pub max: Option<f64>,
    /// Mean of the finite values.
    pub mean: f64,
    /// Sum of the finite values' squared deviations from `mean`.
    pub m2: f64,
    /// Finite values per bin (see [`bin_of`]), by bin.
    pub bins: BTreeMap<u32, u64>,
}

/// The bin of a finite value: its order key's top bits.
pub fn bin_of(x: f64) -> u32 {
    (order_key(x) >> DROPPED) as u32
}

/// The smallest and largest value a bin holds.
pub fn bin_range(bin: u32) -> (f64, f64) {
    let low = u64::from(bin) << DROPPED;
    let high = low | ((1u64 << DROPPED) - 1);
    (from_order_key(low), from_order_key(high))
}

impl Numeric {
    fn empty() -> Self {
        Self {
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            count: 0,
            min: None,
            max: None,
            mean: 0.0,
            m2: 0.0,
            bins: BTreeMap::new(),
        }
    }

    fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut out = Self::empty();
        let mut bins: PlHashMap<u32, u64> = PlHashMap::new();
        for x in values {
            if x.is_nan() {
                out.nan += 1;
            } else if x == f64::INFINITY {
                out.pos_inf += 1;
            } else if x == f64::NEG_INFINITY {
                out.neg_inf += 1;
            } else {
                out.count += 1;
                let delta = x - out.mean;
                out.mean += delta / out.count as f64;
                out.m2 += delta * (x - out.mean);
                out.min = Some(out.min.map_or(x, |m| m.min(x)));
                out.max = Some(out.max.map_or(x, |m| m.max(x)));
                *bins.entry(bin_of(x)).or_insert(0) += 1;
            }
        }
        out.bins = bins.into_iter().collect();
        out
    }

    fn merge(&mut self, other: &Self) {
        let (n_a, n_b) = (self.count as f64, other.count as f64);
        if other.count > 0 {
            let n = n_a + n_b;
            let delta = other.mean - self.mean;
            self.mean += delta * n_b / n;
            self.m2 += other.m2 + delta * delta * n_a * n_b / n;
        }
        self.count += other.count;
        self.nan += other.nan;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
        self.min = pick(self.min, other.min, f64::min);
        self.max = pick(self.max, other.max, f64::max);
        for (bin, n) in &other.bins {
            *self.bins.entry(*bin).or_insert(0) += n;
        }
    }

    /// The sample variance (`None` under two values).
    pub fn variance(&self) -> Option<f64> {
        (self.count > 1).then(|| self.m2 / (self.count - 1) as f64)
    }
}

fn pick(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

impl ColumnProfile {
    /// The profile of one column.
    pub fn of(column: &Column) -> Result<Self> {
        let rows = column.len() as u64;
        let nulls = column.null_count() as u64;
        let dtype = column.dtype();
        let (numeric, counts) = if dtype.is_primitive_numeric() || dtype.is_temporal() || dtype.is_bool() {
            let values = column.cast(&DataType::Float64)?;
            (Some(Numeric::of(values.f64()?.iter().flatten())), None)
        } else if dtype == &DataType::Null {
            (Some(Numeric::empty()), Some(BTreeMap::new())) // merges with either kind
        } else {
            let text = column.cast(&DataType::String)?;
            let mut counts: PlHashMap<&str, u64> = PlHashMap::new();
            for value in text.str()?.iter().flatten() {
                *counts.entry(value).or_insert(0) += 1;
            }
            let kept = (counts.len() <= MAX_CATEGORIES)
                .then(|| counts.into_iter().map(|(v, n)| (v.to_string(), n)).collect());
            (None, kept)
        };
        Ok(Self {
            rows,
            nulls,
            numeric,
            counts,
        })
    }

    /// This block's profile and `other`'s (of the same column) as one.
    pub fn merge(&mut self, other: &Self) {
        self.rows += other.rows;
        self.nulls += other.nulls;
        self.numeric = match (self.numeric.take(), &other.numeric) {
            (Some(mut a), Some(b)) => {
                a.merge(b);
                Some(a)
            }
            _ => None,
        };
        self.counts = match (self.counts.take(), &other.counts) {
            (Some(mut a), Some(b)) => {
                for (value, n) in b {
                    *a.entry(value.clone()).or_insert(0) += n;
                }
                (a.len() <= MAX_CATEGORIES).then_some(a)
            }
            _ => None,
        };
    }
}

/// Per column, its profile.
pub type Columns = BTreeMap<String, ColumnProfile>;

/// A data set's profile: per column, of every row and of each group (the
/// values of `by` as text joined by `|`, nulls as `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The grouping columns (empty: no groups).
    pub by: Vec<String>,
    /// Every row's columns.
    pub all: Columns,
    /// Per group, its columns.
    pub groups: BTreeMap<String, Columns>,
}

impl Profile {
    /// The profile of a block, per group of `by` (empty: pooled).
    pub fn of(df: &DataFrame, by: &[String]) -> Result<Self> {
        let mut groups = BTreeMap::new();
        let parts: Vec<(String, DataFrame)> = if by.is_empty() {
            Vec::new()
        } else {
            let keys = df.select(by.iter().map(String::as_str))?;
            let (ids, firsts) = RowKeys::new(&keys, None)?.groups();
            let text: Vec<Column> = keys
                .columns()
                .iter()
                .map(|c| c.cast(&DataType::String))
                .collect::<PolarsResult<_>>()?;
            let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); firsts.len()];
            for (row, id) in ids.iter().enumerate() {
                rows[*id as usize].push(row as IdxSize);
            }
            firsts
                .iter()
                .zip(rows)
                .map(|(&first, idx)| {
                    let key: Vec<&str> = text
                        .iter()
                        .map(|c| c.str().ok().and_then(|s| s.get(first)).unwrap_or("null"))
                        .collect();
                    Ok((key.join("|"), df.take(&IdxCa::from_vec("row".into(), idx))?))
                })
                .collect::<Result<_>>()?
        };
        for (key, part) in parts {
            groups.insert(key, columns_of(&part)?);
        }
        let all = if by.is_empty() {
            columns_of(df)?
        } else {
            let mut all = columns_of(&df.clear())?;
            for columns in groups.values() {
                merge_columns(&mut all, columns);
            }
            all
        };
        Ok(Self {
            by: by.to_vec(),
            all,
            groups,
        })
    }

    /// This profile and `other`'s (of the next blocks) as one; the order of
    /// the merges does not change the result but for rounding in means.
    pub fn merge(&mut self, other: &Self) {
        merge_columns(&mut self.all, &other.all);
        for (key, columns) in &other.groups {
            merge_columns(self.groups.entry(key.clone()).or_default(), columns);
        }
    }
}

fn columns_of(df: &DataFrame) -> Result<Columns> {
    df.columns()
        .iter()
        .map(|c| Ok((c.name().to_string(), ColumnProfile::of(c)?)))
        .collect()
}

fn merge_columns(mine: &mut Columns, other: &Columns) {
    for (name, column) in other {
        match mine.get_mut(name) {
            Some(c) => c.merge(column),
            None => {
                mine.insert(name.clone(), column.clone());
            }
        }
    }
}

pub mod drift;

#[cfg(test)]
mod tests;
