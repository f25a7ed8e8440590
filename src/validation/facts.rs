//! What the validation rules need to know of the data, as mergeable partials:
//! the facts of one shard are small (counts and the first failing rows), and
//! the facts of consecutive shards merge ([`Facts::then`]) into exactly those
//! of the concatenated frame, so that `results(facts(a) then facts(b))` is
//! `validate(a ++ b)`. Rows are numbered from 0 within a shard and shifted
//! by the rows before it when merged.
//!
//! Facts serialise (serde), so shards can be judged in other processes and
//! merged by a driver.
//!
//! One fact is not local to a shard: rows repeating an earlier row's
//! (timestamp, node_id, peer_id) in *another* shard. A driver finds those with
//! [`crate::partial::duplicates`] and sets them with [`Facts::with_duplicates`].

use serde::{de, Deserialize, Deserializer, Serialize};

use super::scan::Violations;
use crate::error::{DwcpError, Result};

/// What one scan found: the violations, or why the column could not be judged.
pub type Scan = std::result::Result<Violations, String>;

/// Nulls of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnFacts {
    /// The column.
    pub name: String,
    /// Its type, as polars prints it.
    pub dtype: String,
    /// Its rows.
    pub rows: u64,
    /// Its null rows.
    pub nulls: Violations,
}

impl ColumnFacts {
    /// Whether the column holds no value at all: a column the source never
    /// had, written out as nulls. A column without rows is not judged absent.
    pub fn has_no_values(&self) -> bool {
        self.rows > 0 && self.nulls.count == self.rows
    }
}

/// Values of a text column outside its categories.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unknown {
    /// The rows holding them.
    pub rows: Violations,
    /// The first distinct ones.
    pub values: Vec<String>,
}

/// The strict profile's facts of one schema column of the frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrictColumn {
    /// The schema column.
    pub name: &'static str,
    /// Whether its type holds the schema's without loss (`None`: that depends
    /// on the values, see `beyond_f64`).
    pub fits: Option<bool>,
    /// Values a Float64 cannot hold exactly, where the type alone does not tell (Int64 for a float column).
    pub beyond_f64: Option<Violations>,
    /// Values outside the categories, for an Enum column given as text.
    pub unknown: Option<Unknown>,
    /// NaN and infinities, for a float column.
    pub finite: Option<Scan>,
    /// Negative values, for a numeric column.
    pub non_negative: Option<Scan>,
}

/// The strict profile's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrictFacts {
    /// Per schema column in the frame, in schema order.
    pub columns: Vec<StrictColumn>,
    /// Timestamps in the future (or why they cannot be judged).
    pub future: Scan,
    /// Rows repeating an earlier row's (timestamp, node_id, peer_id).
    pub duplicates: Scan,
}

/// Everything the rules need to know of a frame (or of a data set's shards, merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Rows.
    pub rows: u64,
    /// Per column, in frame order.
    pub columns: Vec<ColumnFacts>,
    /// Per fixed range rule (§5.1's, then the strict profile's), the scan of
    /// its column (`None`: absent).
    pub ranges: Vec<Option<Scan>>,
    /// Rows per class of `current_compression` (`None`: absent).
    pub classes: Option<std::result::Result<[u64; 3], String>>,
    /// The strict profile's facts, when it runs.
    pub strict: Option<StrictFacts>,
}

/// A [`StrictColumn`] as serialised: its name owned.
#[derive(Deserialize)]
struct StoredStrictColumn {
    name: String,
    fits: Option<bool>,
    beyond_f64: Option<Violations>,
    unknown: Option<Unknown>,
    finite: Option<Scan>,
    non_negative: Option<Scan>,
}

impl<'de> Deserialize<'de> for StrictColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let c = StoredStrictColumn::deserialize(deserializer)?;
        let spec = crate::schema::spec(&c.name)
            .ok_or_else(|| de::Error::custom(format!("`{}` is not a schema column", c.name)))?;
        Ok(StrictColumn {
            name: spec.name,
            fits: c.fits,
            beyond_f64: c.beyond_f64,
            unknown: c.unknown,
            finite: c.finite,
            non_negative: c.non_negative,
        })
    }
}

/// Shards whose facts cannot be merged (different columns or types).
fn mismatch(what: &str) -> DwcpError {
    DwcpError::Data {
        column: String::new(),
        row: None,
        rule: "shards",
        message: format!("the shards differ in {what}: every shard must have the same columns"),
    }
}

/// `a` then `b` (already shifted): violations added, the first rows kept.
fn then_scan(a: Scan, b: Scan, keep: usize) -> Scan {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok(a.then(b, keep)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

fn then_option<T>(a: Option<T>, b: Option<T>, what: &str, f: impl FnOnce(T, T) -> T) -> Result<Option<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some(f(a, b))),
        (None, None) => Ok(None),
        _ => Err(mismatch(what)),
    }
}

fn shift_scan(scan: Scan, by: u64) -> Scan {
    scan.map(|v| v.shifted(by))
}

impl Facts {
    /// The facts of `name`, if the frame has the column.
    pub fn column(&self, name: &str) -> Option<&ColumnFacts> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// These facts followed by those of the rows after them (`later`, rows
    /// numbered from 0 in its own shard): the facts of the two frames
    /// concatenated, keeping the first `keep` example rows. Duplicates across
    /// the two are not seen (see the module's documentation).
    pub fn then(self, later: Facts, keep: usize) -> Result<Facts> {
        let by = self.rows;
        if self.columns.len() != later.columns.len() {
            return Err(mismatch("their columns"));
        }
        let columns = self
            .columns
            .into_iter()
            .zip(later.columns)
            .map(|(a, b)| {
                if a.name != b.name || a.dtype != b.dtype {
                    return Err(mismatch(&format!("column `{}`", a.name)));
                }
                Ok(ColumnFacts {
                    nulls: a.nulls.then(b.nulls.shifted(by), keep),
                    rows: a.rows + b.rows,
                    ..a
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ranges = self
            .ranges
            .into_iter()
            .zip(later.ranges)
            .map(|(a, b)| {
                then_option(a, b, "their columns", |a, b| {
                    then_scan(a, shift_scan(b, by), keep)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let classes = then_option(
            self.classes,
            later.classes,
            "current_compression",
            |a, b| match (a, b) {
                (Ok(a), Ok(b)) => Ok([a[0] + b[0], a[1] + b[1], a[2] + b[2]]),
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
        )?;
        let strict = then_option(self.strict, later.strict, "the profile", |a, b| StrictFacts {
            columns: a
                .columns
                .into_iter()
                .zip(b.columns)
                .map(|(a, b)| a.then(b, by, keep))
                .collect(),
            future: then_scan(a.future, shift_scan(b.future, by), keep),
            duplicates: then_scan(a.duplicates, shift_scan(b.duplicates, by), keep),
        })?;
        Ok(Facts {
            rows: self.rows + later.rows,
            columns,
            ranges,
            classes,
            strict,
        })
    }

    /// These facts with the rows repeating an earlier row's (timestamp,
    /// node_id, peer_id) found across every shard.
    pub fn with_duplicates(mut self, duplicates: Violations) -> Self {
        if let Some(strict) = &mut self.strict {
            if strict.duplicates.is_ok() {
                strict.duplicates = Ok(duplicates);
            }
        }
        self
    }
}

impl StrictColumn {
    fn then(self, later: StrictColumn, by: u64, keep: usize) -> StrictColumn {
        let scan = |a: Option<Scan>, b: Option<Scan>| match (a, b) {
            (Some(a), Some(b)) => Some(then_scan(a, shift_scan(b, by), keep)),
            (a, _) => a,
        };
        StrictColumn {
            beyond_f64: match (self.beyond_f64, later.beyond_f64) {
                (Some(a), Some(b)) => Some(a.then(b.shifted(by), keep)),
                (a, _) => a,
            },
            unknown: match (self.unknown, later.unknown) {
                (Some(mut a), Some(b)) => {
                    for v in b.values {
                        if a.values.len() < keep && !a.values.contains(&v) {
                            a.values.push(v);
                        }
                    }
                    a.rows = a.rows.then(b.rows.shifted(by), keep);
                    Some(a)
                }
                (a, _) => a,
            },
            finite: scan(self.finite, later.finite),
            non_negative: scan(self.non_negative, later.non_negative),
            name: self.name,
            fits: self.fits,
        }
    }
}
