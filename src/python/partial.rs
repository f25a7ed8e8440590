//! Bindings of the mergeable partial statistics (`crate::partial`) that the
//! out-of-core and Ray drivers (`dwcp_data.dataset`) run shard by shard.
//!
//! Partials cross as polars Series, so they pickle: counts as `UInt64`
//! (named `counts`), collected values as `Float64` (named `values`). A probe
//! crosses as `(prefix, depth, collect)`.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1};
use polars::prelude::*;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyType};
use pyo3_polars::{PyDataFrame, PySeries};

use super::errors::{guarded, run};
use super::frames::frame_in;
use crate::cleaning::RowKeys;
use crate::error::{DwcpError, Result};
use crate::partial::duplicates;
use crate::partial::rank::{self, Partial, Probe};
use crate::validation::{self, Facts, RuleResult, Violations};

/// A probe as Python holds it: `(prefix, depth, collect)`.
pub(super) type ProbeTuple = (u64, u32, bool);

fn probe_of((prefix, depth, collect): ProbeTuple) -> Result<Probe> {
    if depth >= 64 || depth % 16 != 0 || (depth == 0 && prefix != 0) {
        return Err(DwcpError::invalid_argument(
            "probe",
            format!("({prefix}, {depth}, {collect}) is not a probe"),
        ));
    }
    Ok(Probe {
        prefix,
        depth,
        collect,
    })
}

/// Bits of a sparse count's encoding that hold the count (the digit above them).
const SPARSE_COUNT_BITS: u32 = 48;

fn series_of(partial: Partial) -> PySeries {
    PySeries(match partial {
        Partial::Counts(c) => Series::new("counts".into(), c),
        Partial::Sparse(pairs) if pairs.iter().all(|&(_, c)| c >> SPARSE_COUNT_BITS == 0) => {
            let encoded: Vec<u64> = pairs
                .iter()
                .map(|&(d, c)| u64::from(d) << SPARSE_COUNT_BITS | c)
                .collect();
            Series::new("sparse".into(), encoded)
        }
        Partial::Sparse(pairs) => {
            let mut counts = vec![0u64; 1 << 16];
            pairs.iter().for_each(|&(d, c)| counts[d as usize] += c);
            Series::new("counts".into(), counts)
        }
        Partial::Values(v) => Series::new("values".into(), v),
    })
}

pub(super) fn partial_of(series: &Series) -> Result<Partial> {
    let mask = (1u64 << SPARSE_COUNT_BITS) - 1;
    match (series.name().as_str(), series.dtype()) {
        ("counts", DataType::UInt64) => Ok(Partial::Counts(series.u64()?.into_no_null_iter().collect())),
        ("sparse", DataType::UInt64) => Ok(Partial::Sparse(
            series
                .u64()?
                .into_no_null_iter()
                .map(|e| ((e >> SPARSE_COUNT_BITS) as u16, e & mask))
                .collect(),
        )),
        ("values", DataType::Float64) => Ok(Partial::Values(series.f64()?.into_no_null_iter().collect())),
        _ => Err(DwcpError::invalid_argument(
            "partial",
            "not a partial of rank_partials",
        )),
    }
}

/// Appends one shard's 128-bit row hashes (its rows numbered from
/// `first_row` in the data set) to the `parts` partition files in `dir`.
#[pyfunction]
fn hash_partitions(
    py: Python<'_>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    first_row: u64,
    dir: PathBuf,
    parts: u32,
) -> PyResult<()> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    run(py, || {
        let hashes = RowKeys::new(&frame_in(df, &enum_columns)?, None)?.strong_hashes();
        duplicates::write_partitions(&hashes, first_row, &dir, parts)
    })
}

/// One shard's 128-bit row hashes (its rows numbered from `first_row` in
/// the data set) as `parts` byte strings of partition records, for a shuffle
/// between processes (the Ray engine) instead of files.
#[pyfunction]
fn hash_records<'py>(
    py: Python<'py>,
    df: &Bound<'py, PyAny>,
    enum_columns: Vec<String>,
    first_row: u64,
    parts: u32,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let buckets = run(py, || {
        let hashes = RowKeys::new(&frame_in(df, &enum_columns)?, None)?.strong_hashes();
        duplicates::partition_records(&hashes, first_row, parts)
    })?;
    Ok(buckets.iter().map(|b| PyBytes::new(py, b)).collect())
}

/// The rows among one partition's records (from every shard's
/// `hash_records`) that repeat an earlier row, sorted.
#[pyfunction]
fn repeated_rows<'py>(py: Python<'py>, pieces: Vec<PyBackedBytes>) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let rows = run(py, || {
        duplicates::repeated_rows(&pieces.iter().map(|p| p.as_ref()).collect::<Vec<&[u8]>>())
    })?;
    Ok(rows.into_pyarray(py))
}

/// Partition files for a data set of about `rows` rows.
#[pyfunction]
fn partition_count(rows: u64) -> u32 {
    duplicates::partition_count(rows)
}

/// Finds the duplicate rows of every partition in `dir`; how many there are.
#[pyfunction]
fn find_duplicates(py: Python<'_>, dir: PathBuf, parts: u32) -> PyResult<u64> {
    run(py, || duplicates::find_duplicates(&dir, parts))
}

/// Whether each of rows `first_row..first_row + rows` repeats an earlier row.
#[pyfunction]
fn duplicate_flags(
    py: Python<'_>,
    dir: PathBuf,
    parts: u32,
    first_row: u64,
    rows: usize,
) -> PyResult<PySeries> {
    let flags = run(py, || duplicates::duplicate_flags(&dir, parts, first_row, rows))?;
    Ok(PySeries(Series::new("duplicate".into(), flags)))
}

/// One shard's partials for `probes` (`(group, probe)` pairs) over the
/// non-null `values`, grouped by `groups` (or all in group 0).
#[pyfunction]
#[pyo3(signature = (values, groups, probes))]
fn rank_partials(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    groups: Option<&Bound<'_, PyAny>>,
    probes: Vec<(u32, ProbeTuple)>,
) -> PyResult<Vec<PySeries>> {
    let values = guarded(py, "values", || values.extract::<PySeries>())?.0;
    let groups = groups
        .map(|g| guarded(py, "groups", || g.extract::<PySeries>()))
        .transpose()?
        .map(|g| g.0);
    let partials = run(py, || {
        let probes = probes
            .into_iter()
            .map(|(g, p)| Ok((g, probe_of(p)?)))
            .collect::<Result<Vec<_>>>()?;
        let values = values.cast(&DataType::Float64)?;
        let groups = groups.map(|g| g.cast(&DataType::UInt32)).transpose()?;
        rank::shard_partials(
            values.f64()?,
            groups.as_ref().map(|g| g.u32()).transpose()?,
            &probes,
        )
    })?;
    Ok(partials.into_iter().map(series_of).collect())
}

/// Partials merged pairwise: `a[i]` and `b[i]` are of one probe (counts
/// added, dense or sparse; values appended). One call for a block's partials:
/// a call per probe cost more than the merge itself.
#[pyfunction]
fn merge_rank_partials(py: Python<'_>, a: Vec<PySeries>, b: Vec<PySeries>) -> PyResult<Vec<PySeries>> {
    let merged = run(py, || {
        if a.len() != b.len() {
            return Err(DwcpError::invalid_argument(
                "partials",
                format!("{} partials cannot be merged with {}", a.len(), b.len()),
            ));
        }
        a.iter()
            .zip(&b)
            .map(|(x, y)| {
                let mut x = partial_of(&x.0)?;
                x.merge(&partial_of(&y.0)?)?;
                Ok(x)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(merged.into_iter().map(series_of).collect())
}

/// The facts the validation rules need of a shard, merged shard after shard
/// into those of a data set (`crate::validation::Facts`).
#[pyclass(module = "dwcp_data._core", frozen)]
pub struct ValidationFacts {
    facts: Facts,
    options: validation::Options,
}

#[pymethods]
impl ValidationFacts {
    /// These facts followed by those of the shard after them.
    fn then(&self, py: Python<'_>, later: &ValidationFacts) -> PyResult<ValidationFacts> {
        if later.options != self.options {
            return Err(super::errors::invalid_argument(
                py,
                "later",
                "facts taken with other options",
            ));
        }
        let (a, b) = (self.facts.clone(), later.facts.clone());
        let keep = self.options.max_examples;
        let facts = run(py, || a.then(b, keep))?;
        Ok(ValidationFacts {
            facts,
            options: self.options.clone(),
        })
    }

    /// Whether the rules need the duplicates across shards (strict profile, key columns present).
    #[getter]
    fn needs_duplicates(&self) -> bool {
        self.facts.strict.as_ref().is_some_and(|s| s.duplicates.is_ok())
    }

    /// Rows the facts cover.
    #[getter]
    fn rows(&self) -> u64 {
        self.facts.rows
    }

    /// These facts with the rows repeating an earlier row's key across every
    /// shard: how many, and the first ones.
    fn with_duplicates(&self, count: u64, rows: Vec<u64>) -> ValidationFacts {
        let mut rows = rows;
        rows.truncate(self.options.max_examples);
        ValidationFacts {
            facts: self.facts.clone().with_duplicates(Violations { count, rows }),
            options: self.options.clone(),
        }
    }

    /// The rules' results.
    fn results(&self) -> Vec<RuleResult> {
        validation::results(&self.facts, &self.options)
    }

    /// Pickling: the facts and options as JSON bytes, rebuilt by `_from_bytes`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Vec<u8>,))> {
        let this = slf.get();
        let bytes = serde_json::to_vec(&(&this.facts, &this.options))
            .map_err(|e| super::errors::internal_error(slf.py(), &format!("facts do not serialise: {e}")))?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }

    /// Facts pickled by `__reduce__`; other bytes raise `InvalidArgumentError`.
    #[classmethod]
    fn _from_bytes(cls: &Bound<'_, PyType>, data: &[u8]) -> PyResult<ValidationFacts> {
        serde_json::from_slice(data)
            .map(|(facts, options)| ValidationFacts { facts, options })
            .map_err(|e| {
                super::errors::invalid_argument(
                    cls.py(),
                    "data",
                    &format!("not pickled validation facts: {e}"),
                )
            })
    }
}

/// The validation facts of one shard (`options`: a `dwcp_data.ValidationOptions`).
#[pyfunction]
fn validation_facts(
    py: Python<'_>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    options: validation::Options,
) -> PyResult<ValidationFacts> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let facts = run(py, || validation::facts(&frame_in(df, &enum_columns)?, &options))?;
    Ok(ValidationFacts { facts, options })
}

/// Registers this module's functions on `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ValidationFacts>()?;
    m.add_function(wrap_pyfunction!(validation_facts, m)?)?;
    m.add_function(wrap_pyfunction!(hash_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(hash_records, m)?)?;
    m.add_function(wrap_pyfunction!(repeated_rows, m)?)?;
    m.add_function(wrap_pyfunction!(partition_count, m)?)?;
    m.add_function(wrap_pyfunction!(find_duplicates, m)?)?;
    m.add_function(wrap_pyfunction!(duplicate_flags, m)?)?;
    m.add_function(wrap_pyfunction!(rank_partials, m)?)?;
    m.add_function(wrap_pyfunction!(merge_rank_partials, m)?)?;
    Ok(())
}
