//! Cleaning (§5.2 of the design document): exact-duplicate removal, IQR
//! outlier fences, median imputation and timestamp normalisation, with a
//! report of what each step did.
//!
//! Where §5.2's pandas code is wrong, this follows what it meant:
//! * a null in an outlier column is not an outlier: the row stays and is imputed;
//! * the imputation fills values (pandas ≥ 3 ignores `fillna(inplace=True)` on a
//!   column selection, so §5.2 fills nothing);
//! * float NaN counts as missing, as it does in pandas.

pub mod block;
pub mod fence;
mod first_pass;
mod groups;
mod keys;
mod plan;
mod quantile;
mod timestamp;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use rayon::prelude::*;

pub use block::{fill_nulls, nan_to_null};
pub use fence::FenceCounts;
pub use first_pass::FirstPass;
pub use groups::GroupTable;
pub use keys::RowKeys;
pub use plan::{Bounds, ColumnFence, GroupOrder, Pass, Plan, RowCounts, Scan};
pub use quantile::{quantiles, quantiles_where};
pub use timestamp::{parse_iso8601, to_utc_micros, TimestampSource};

use crate::cancel::Token;
use crate::error::{DwcpError, Result};

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Remove exact duplicate rows (first occurrence kept).
    pub dedupe: bool,
    /// Columns whose IQR fences remove rows, applied in this order.
    pub outlier_columns: Vec<String>,
    /// Fence width: `[q1 - k·IQR, q3 + k·IQR]`.
    pub iqr_k: f64,
    /// Compute fences per group of these columns instead of pooled.
    pub by: Option<Vec<String>>,
    /// Fill nulls of numeric columns with the median of the remaining rows.
    pub impute_median: bool,
}

/// The fences of one outlier column within one group (or pooled).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "python", derive(pyo3::IntoPyObject))]
pub struct Fence {
    /// The group, as `column=value` pairs; `None` when pooled.
    pub group: Option<String>,
    /// Non-null values the quartiles were computed on.
    pub values: u64,
    /// First quartile (`None` when the group had no values).
    pub q1: Option<f64>,
    /// Third quartile.
    pub q3: Option<f64>,
    /// Lowest value kept (inclusive).
    pub lower: Option<f64>,
    /// Highest value kept (inclusive).
    pub upper: Option<f64>,
    /// Rows this fence removed.
    pub rows_removed: u64,
}

impl Fence {
    /// The fence of group `group` (`None` when pooled) that judged `values`
    /// values with `bounds` (`None`: the group had no values) and removed `rows_removed`.
    pub fn of(group: Option<String>, values: u64, bounds: Option<Bounds>, rows_removed: u64) -> Self {
        Self {
            group,
            values,
            q1: bounds.map(|b| b.q1),
            q3: bounds.map(|b| b.q3),
            lower: bounds.map(|b| b.lower),
            upper: bounds.map(|b| b.upper),
            rows_removed,
        }
    }
}

/// One outlier column's step.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "python", derive(pyo3::IntoPyObject))]
pub struct OutlierStep {
    /// The column.
    pub column: String,
    /// One fence, or one per group.
    pub fences: Vec<Fence>,
    /// Rows the step removed.
    pub rows_removed: u64,
}

/// Rows of one group before and after cleaning.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "python", derive(pyo3::IntoPyObject))]
pub struct KeptShare {
    /// The group, as `column=value` pairs.
    pub group: String,
    /// Rows of the group in the input.
    pub rows_in: u64,
    /// Rows of the group in the output.
    pub rows_out: u64,
}

/// The imputation of one numeric column.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "python", derive(pyo3::IntoPyObject))]
pub struct Imputation {
    /// The column.
    pub column: String,
    /// Nulls filled.
    pub count: u64,
    /// The fill value (`None` when the column had no value to take a median of).
    pub value: Option<f64>,
}

impl Imputation {
    /// The imputation of `column`'s `nulls` with its `median` (`None`: no
    /// value to take it of, so none is filled); an integer column's median
    /// is rounded half to even, so that it stays an integer column.
    pub fn filled(column: &str, nulls: u64, median: Option<f64>, is_float: bool) -> Self {
        let value = if is_float {
            median
        } else {
            median.map(f64::round_ties_even)
        };
        Self {
            column: column.to_string(),
            count: if value.is_some() { nulls } else { 0 },
            value,
        }
    }
}

/// What cleaning did.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "python", derive(pyo3::IntoPyObject))]
pub struct CleaningReport {
    /// Rows in the input.
    pub rows_in: u64,
    /// Rows in the output.
    pub rows_out: u64,
    /// Exact duplicates removed.
    pub duplicates_removed: u64,
    /// How `timestamp` arrived (`None` when absent).
    pub timestamp: Option<TimestampSource>,
    /// One step per outlier column, in order.
    pub outliers: Vec<OutlierStep>,
    /// Kept rows per `link_type` (empty when the column is absent).
    pub kept_by_link_type: Vec<KeptShare>,
    /// Kept rows per group of `by` (empty when pooled).
    pub kept_by_group: Vec<KeptShare>,
    /// One entry per numeric column that had nulls.
    pub imputed: Vec<Imputation>,
}

/// Cleans `df` (which is left as it is) and reports what was done.
pub fn clean(df: &DataFrame, options: &Options) -> Result<(DataFrame, CleaningReport)> {
    let token = Token::current();
    let mut df = df.clone();
    check_columns(&df, options)?;
    let timestamp = match df.column("timestamp") {
        Ok(column) => {
            let (converted, source) = to_utc_micros(column)?;
            df.with_column(converted)?;
            Some(source)
        }
        Err(_) => None,
    };
    nan_to_null(&mut df)?;

    let n = df.height();
    let mut keep = if options.dedupe {
        RowKeys::new(&df, None)?
            .duplicated()?
            .into_iter()
            .map(|d| !d)
            .collect()
    } else {
        vec![true; n]
    };
    let duplicates_removed = keep.iter().filter(|k| !**k).count() as u64;
    token.check()?;

    let groups = match &options.by {
        Some(by) => Some(Groups::new(&df, by)?),
        None => None,
    };
    let mut outliers = Vec::with_capacity(options.outlier_columns.len());
    for name in &options.outlier_columns {
        token.check()?;
        outliers.push(apply_fences(
            &df,
            name,
            options.iqr_k,
            groups.as_ref(),
            &mut keep,
        )?);
    }

    let kept_by_link_type = match df.column("link_type") {
        Ok(_) => Groups::new(&df, &["link_type".to_string()])?.kept(&keep),
        Err(_) => Vec::new(),
    };
    let kept_by_group = groups.map(|g| g.kept(&keep)).unwrap_or_default();

    token.check()?;
    let mut out = df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
    let imputed = if options.impute_median {
        impute_medians(&mut out)?
    } else {
        Vec::new()
    };
    let report = CleaningReport {
        rows_in: n as u64,
        rows_out: out.height() as u64,
        duplicates_removed,
        timestamp,
        outliers,
        kept_by_link_type,
        kept_by_group,
        imputed,
    };
    Ok((out, report))
}

/// Outlier and group columns must exist, and outlier columns must be numeric.
pub fn check_columns(df: &DataFrame, options: &Options) -> Result<()> {
    let absent = |column: &str, rule: &'static str| DwcpError::Data {
        column: column.to_string(),
        row: None,
        rule,
        message: "the column is absent".into(),
    };
    for name in &options.outlier_columns {
        let column = df.column(name).map_err(|_| absent(name, "outlier_column"))?;
        if !column.dtype().is_primitive_numeric() {
            return Err(DwcpError::Data {
                column: name.clone(),
                row: None,
                rule: "outlier_column",
                message: format!("IQR fences need a numeric column, found {}", column.dtype()),
            });
        }
    }
    for name in options.by.iter().flatten() {
        df.column(name).map_err(|_| absent(name, "group_column"))?;
    }
    Ok(())
}

/// Rows grouped by the values of some columns.
struct Groups {
    ids: Vec<u32>,
    labels: Vec<String>,
}

impl Groups {
    fn new(df: &DataFrame, by: &[String]) -> Result<Self> {
        let (ids, firsts) = RowKeys::new(df, Some(by))?.groups();
        // Only each group's first row is turned into text.
        let first_rows = IdxCa::from_vec("first".into(), firsts.iter().map(|&r| r as IdxSize).collect());
        let as_text: Vec<Column> = by
            .iter()
            .map(|b| df.column(b)?.take(&first_rows)?.cast(&DataType::String))
            .collect::<PolarsResult<_>>()?;
        let labels = (0..firsts.len())
            .map(|row| {
                let parts: Vec<String> = by
                    .iter()
                    .zip(&as_text)
                    .map(|(name, c)| {
                        let value = c.str().ok().and_then(|s| s.get(row)).unwrap_or("null");
                        format!("{name}={value}")
                    })
                    .collect();
                parts.join(", ")
            })
            .collect();
        Ok(Self { ids, labels })
    }

    /// Input and kept rows per group.
    fn kept(&self, keep: &[bool]) -> Vec<KeptShare> {
        let mut counts = vec![(0u64, 0u64); self.labels.len()];
        for (&id, &kept) in self.ids.iter().zip(keep) {
            let c = &mut counts[id as usize];
            c.0 += 1;
            c.1 += u64::from(kept);
        }
        self.labels
            .iter()
            .zip(counts)
            .map(|(group, (rows_in, rows_out))| KeptShare {
                group: group.clone(),
                rows_in,
                rows_out,
            })
            .collect()
    }
}

/// Applies one column's IQR fences to the rows still kept.
fn apply_fences(
    df: &DataFrame,
    name: &str,
    k: f64,
    groups: Option<&Groups>,
    keep: &mut [bool],
) -> Result<OutlierStep> {
    let values = df.column(name)?.cast(&DataType::Float64)?;
    let values = values.f64()?.rechunk();
    let (values, present) = match values.downcast_iter().next() {
        Some(array) => (
            array.values().as_slice(),
            present_rows(array.validity(), array.len()),
        ),
        None => (&[][..], None),
    };
    let n_groups = groups.map_or(1, |g| g.labels.len());
    let group_of = |row: usize| groups.map_or(0, |g| g.ids[row] as usize);

    // Quartiles of the survivors' non-null values, per group.
    let bounds: Vec<Option<Bounds>> = (0..n_groups)
        .map(|g| {
            let mut include = keep.to_vec();
            include.par_chunks_mut(BLOCK).enumerate().for_each(|(b, block)| {
                for (i, inc) in block.iter_mut().enumerate() {
                    let row = b * BLOCK + i;
                    *inc &= present.as_ref().is_none_or(|p| p[row]) && group_of(row) == g;
                }
            });
            quantiles_where(values, &include, &[0.25, 0.75]).map(|q| Bounds::of(q[0], q[1], k))
        })
        .collect();

    // Drop the rows outside their group's fences; count values and removals.
    let ids = groups.map(|g| g.ids.as_slice());
    let FenceCounts {
        judged: sizes,
        removed,
    } = fence::apply(values, present.as_deref(), ids, &bounds, keep);

    let fences: Vec<Fence> = (0..n_groups)
        .map(|g| {
            Fence::of(
                groups.map(|gr| gr.labels[g].clone()),
                sizes[g],
                bounds[g],
                removed[g],
            )
        })
        .collect();
    Ok(OutlierStep {
        column: name.to_string(),
        rows_removed: removed.iter().sum(),
        fences,
    })
}

/// Rows per parallel task of the passes over a column.
const BLOCK: usize = 1 << 16;

/// One bool per row, true where a value is present (`None`: no nulls).
fn present_rows(validity: Option<&Bitmap>, len: usize) -> Option<Vec<bool>> {
    validity.filter(|v| v.unset_bits() > 0).map(|v| {
        debug_assert_eq!(v.len(), len);
        v.iter().collect()
    })
}

/// Fills each numeric column's nulls with the median of its values. Integer
/// columns get the median rounded half to even, and stay integers (Int64).
fn impute_medians(df: &mut DataFrame) -> Result<Vec<Imputation>> {
    let targets: Vec<(PlSmallStr, bool)> = df
        .columns()
        .iter()
        .filter(|c| c.dtype().is_primitive_numeric() && c.null_count() > 0)
        .map(|c| (c.name().clone(), c.dtype().is_float()))
        .collect();
    let mut imputed = Vec::with_capacity(targets.len());
    for (name, is_float) in targets {
        let column = df.column(&name)?;
        let count = column.null_count() as u64;
        let as_f64 = column.cast(&DataType::Float64)?;
        let rechunked = as_f64.f64()?.rechunk();
        let median = rechunked.downcast_iter().next().and_then(|array| {
            let present =
                present_rows(array.validity(), array.len()).unwrap_or_else(|| vec![true; array.len()]);
            quantiles_where(array.values(), &present, &[0.5]).map(|q| q[0])
        });
        let imputation = Imputation::filled(&name, count, median, is_float);
        if let Some(m) = imputation.value {
            fill_nulls(df, &[(name.to_string(), m)])?;
        }
        imputed.push(imputation);
    }
    Ok(imputed)
}

#[cfg(test)]
mod tests;
