//! The binding of `crate::cleaning::Plan`: the passes of one cleaning of a
//! data set, driven by `dwcp_data._passes.Cleaner` on any engine.

use std::collections::HashMap;

use polars::prelude::{DataFrame, DataType, NamedFrom, PlHashMap, Series};
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3_polars::{PyDataFrame, PySeries};

use super::errors::{guarded, invalid_argument, run};
use super::frames::{frame_in, frame_out};
use super::partial::{partial_of, ProbeTuple};
use crate::cleaning::{
    self, block, fence, Bounds, CleaningReport, ColumnFence, FirstPass, GroupOrder, GroupTable, Pass, Plan,
    RowCounts, Scan,
};
use crate::error::{DwcpError, Result};

/// A frame as `dwcp_data._frames.to_core` gives it: the frame and its Enum columns sent as codes.
type CoreFrame<'py> = (Bound<'py, PyAny>, Vec<String>);

/// A probe list as Python gives it to `rank_partials`: per group id, a probe.
type ProbeList = Vec<(u32, ProbeTuple)>;

/// One pass of a cleaning plan over every block (see `crate::cleaning::Pass`).
#[pyclass(module = "dwcp_data._core", frozen, get_all)]
pub struct CleaningPass {
    /// What the pass is called (a progress bar's label).
    label: String,
    /// The fence every block applies first, if any.
    fence: Option<Py<BlockFence>>,
    /// Per column, the rank probes to answer over the rows still kept.
    probes: Vec<(String, ProbeList)>,
    /// Whether the probes are per group (else pooled in group 0).
    grouped: bool,
}

/// The arguments that make a `BlockFence` again: column, lower and upper bounds.
type FenceArgs = (String, Vec<Option<f64>>, Vec<Option<f64>>);

/// A column's fences as each block applies them: the one fence rule of the
/// core (`crate::cleaning::fence`), which the in-memory `clean` applies too.
#[pyclass(module = "dwcp_data._core", frozen)]
pub struct BlockFence {
    fence: ColumnFence,
}

#[pymethods]
impl BlockFence {
    /// The fences of `column`: per group id, the lower and upper bounds
    /// (`None` both for a group without values).
    #[new]
    fn new(
        py: Python<'_>,
        column: String,
        lower: Vec<Option<f64>>,
        upper: Vec<Option<f64>>,
    ) -> PyResult<Self> {
        let paired =
            lower.len() == upper.len() && lower.iter().zip(&upper).all(|(l, u)| l.is_some() == u.is_some());
        if !paired {
            return Err(invalid_argument(
                py,
                "fence",
                "lower and upper bounds must pair up, group by group",
            ));
        }
        let bounds = lower
            .into_iter()
            .zip(upper)
            .map(|(l, u)| {
                l.zip(u).map(|(lower, upper)| Bounds {
                    q1: lower,
                    q3: upper,
                    lower,
                    upper,
                })
            })
            .collect();
        Ok(Self {
            fence: ColumnFence { column, bounds },
        })
    }

    /// The outlier column.
    #[getter]
    fn column(&self) -> &str {
        &self.fence.column
    }

    /// Per group id, the lowest value kept (`None`: the group removes nothing).
    #[getter]
    fn lower(&self) -> Vec<Option<f64>> {
        self.fence.bounds.iter().map(|b| b.map(|b| b.lower)).collect()
    }

    /// Per group id, the highest value kept.
    #[getter]
    fn upper(&self) -> Vec<Option<f64>> {
        self.fence.bounds.iter().map(|b| b.map(|b| b.upper)).collect()
    }

    /// Applies the fences to a block: `values` of the column (nulls are not
    /// judged), each row's group id `groups` (UInt32) and the rows still kept
    /// `keep` (Boolean). The rows kept after it, and per group what it judged
    /// and removed.
    fn apply(
        &self,
        py: Python<'_>,
        values: PySeries,
        groups: PySeries,
        keep: PySeries,
    ) -> PyResult<FenceResult> {
        let fence = &self.fence;
        run(py, || {
            let values = values.0.cast(&DataType::Float64)?;
            let values = values.f64()?.rechunk();
            let groups = groups.0.cast(&DataType::UInt32)?;
            let groups = groups.u32()?.rechunk();
            let mut kept: Vec<bool> = keep.0.bool()?.iter().map(|k| k == Some(true)).collect();
            let (n, g) = (values.len(), groups.len());
            if n != kept.len() || n != g {
                return Err(DwcpError::invalid_argument(
                    "values",
                    format!(
                        "{n} values, {g} group ids and {} keep flags must be as many",
                        kept.len()
                    ),
                ));
            }
            let ids: Vec<u32> = groups.into_no_null_iter().collect();
            if let Some(id) = ids.iter().find(|&&id| id as usize >= fence.bounds.len()) {
                return Err(DwcpError::invalid_argument(
                    "groups",
                    format!("group id {id} has no fence ({} groups)", fence.bounds.len()),
                ));
            }
            let (slice, present) = match values.downcast_iter().next() {
                Some(array) => (
                    array.values().as_slice(),
                    array
                        .validity()
                        .filter(|v| v.unset_bits() > 0)
                        .map(|v| v.iter().collect::<Vec<bool>>()),
                ),
                None => (&[][..], None),
            };
            let counts = fence::apply(slice, present.as_deref(), Some(&ids), &fence.bounds, &mut kept);
            Ok(FenceResult {
                keep: Series::new("keep".into(), kept),
                judged: counts.judged,
                removed: counts.removed,
            })
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyType>, FenceArgs)> {
        let this = slf.get();
        Ok((
            slf.get_type(),
            (this.fence.column.clone(), this.lower(), this.upper()),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "BlockFence({:?}, {} groups)",
            self.fence.column,
            self.fence.bounds.len()
        )
    }
}

/// What a block's fence did: the rows kept after it, and per group the
/// values it judged and the rows it removed.
#[pyclass(module = "dwcp_data._core", frozen)]
pub struct FenceResult {
    keep: Series,
    /// Kept rows with a value, per group id.
    #[pyo3(get)]
    judged: Vec<u64>,
    /// Rows removed, per group id.
    #[pyo3(get)]
    removed: Vec<u64>,
}

#[pymethods]
impl FenceResult {
    /// The rows kept after the fence (Boolean).
    #[getter]
    fn keep(&self) -> PySeries {
        PySeries(self.keep.clone())
    }
}

/// Row counts as Python gives them: `(total, per group, per link type)`.
type CountsTuple = (u64, Vec<u64>, Vec<u64>);

fn frame_of(py: Python<'_>, (df, enums): CoreFrame<'_>) -> PyResult<DataFrame> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    run(py, || frame_in(df, &enums))
}

fn pass_of(py: Python<'_>, pass: Pass) -> PyResult<CleaningPass> {
    let fence = pass
        .fence
        .map(|fence| Py::new(py, BlockFence { fence }))
        .transpose()?;
    let probes = pass
        .probes
        .into_iter()
        .map(|(column, probes)| {
            let probes = probes
                .into_iter()
                .map(|(g, p)| (g, (p.prefix, p.depth, p.collect)))
                .collect();
            (column, probes)
        })
        .collect();
    Ok(CleaningPass {
        label: pass.label,
        fence,
        probes,
        grouped: pass.grouped,
    })
}

fn counts_of((total, groups, links): CountsTuple) -> RowCounts {
    RowCounts { total, groups, links }
}

/// The passes of one cleaning of a data set (see `crate::cleaning::Plan`).
#[pyclass(module = "dwcp_data._core")]
pub struct CleaningPlan {
    plan: Plan,
}

#[pymethods]
impl CleaningPlan {
    /// The plan for data of `schema` (an empty frame) whose columns hold
    /// `nulls`, with the group keys of `by` as `groups` (one row per group,
    /// by id; `None` when pooled) and the link types as `links` (`None`
    /// without a `link_type` column). Raises `DataError` for columns
    /// `clean` refuses.
    #[new]
    #[pyo3(signature = (options, schema, nulls, groups, links))]
    fn new(
        py: Python<'_>,
        options: cleaning::Options,
        schema: CoreFrame<'_>,
        nulls: HashMap<String, u64>,
        groups: Option<CoreFrame<'_>>,
        links: Option<CoreFrame<'_>>,
    ) -> PyResult<Self> {
        let schema = frame_of(py, schema)?;
        let groups = groups.map(|g| frame_of(py, g)).transpose()?;
        let links = links.map(|l| frame_of(py, l)).transpose()?;
        let nulls: PlHashMap<String, u64> = nulls.into_iter().collect();
        let plan = run(py, || {
            let groups = match (&groups, &options.by) {
                (Some(table), Some(by)) => GroupOrder::of(table, by)?,
                _ => GroupOrder::pooled(),
            };
            let links = links
                .as_ref()
                .map(|table| GroupOrder::of(table, &["link_type".to_string()]))
                .transpose()?;
            Plan::new(options, &schema, &nulls, groups, links)
        })?;
        Ok(Self { plan })
    }

    /// The next pass, or `None` once done.
    fn next_pass(&mut self, py: Python<'_>) -> PyResult<Option<CleaningPass>> {
        self.plan.next_pass().map(|pass| pass_of(py, pass)).transpose()
    }

    /// Takes the pass's results merged over every block: per column of the
    /// pass (in its order) the partials of its probes and the nulls, and per
    /// group the values the fence judged and the rows it removed.
    fn take(
        &mut self,
        py: Python<'_>,
        partials: Vec<Vec<PySeries>>,
        nulls: Vec<u64>,
        judged: Vec<u64>,
        removed: Vec<u64>,
    ) -> PyResult<()> {
        let plan = &mut self.plan;
        run(py, || {
            let partials = partials
                .iter()
                .map(|column| {
                    column
                        .iter()
                        .map(|s| partial_of(&s.0))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            plan.take(Scan {
                partials,
                nulls,
                judged,
                removed,
            })
        })
    }

    /// Each imputed column's fill value, once done.
    fn fills(&self) -> Vec<(String, f64)> {
        self.plan.fills().to_vec()
    }

    /// The report, once done: `duplicates` removed, rows in and out as
    /// `(total, per group, per link type)`.
    fn report(
        &self,
        py: Python<'_>,
        duplicates: u64,
        rows_in: CountsTuple,
        rows_out: CountsTuple,
    ) -> PyResult<CleaningReport> {
        run(py, || {
            self.plan
                .report(duplicates, &counts_of(rows_in), &counts_of(rows_out))
        })
    }
}

/// Group ids across blocks, numbered in order of first appearance (see
/// `crate::cleaning::GroupTable`); pickles as its keys.
#[pyclass(module = "dwcp_data._core", name = "GroupTable")]
pub struct PyGroupTable {
    table: GroupTable,
}

#[pymethods]
impl PyGroupTable {
    /// An empty table of the key columns `by` (`None`: every row in group 0).
    #[new]
    #[pyo3(signature = (by, keys=None))]
    fn new(py: Python<'_>, by: Option<Vec<String>>, keys: Option<CoreFrame<'_>>) -> PyResult<Self> {
        let table = match (by, keys) {
            (Some(by), Some(keys)) => {
                let keys = frame_of(py, keys)?;
                run(py, || GroupTable::with_keys(by, keys))?
            }
            (by, _) => GroupTable::new(by),
        };
        Ok(Self { table })
    }

    /// The key columns (`None`: pooled).
    #[getter]
    fn by(&self) -> Option<Vec<String>> {
        self.table.by().map(<[String]>::to_vec)
    }

    /// Each row of `df`'s group id (UInt32, named `gid`); keys not seen
    /// before are numbered on from the known ones.
    fn ids(&mut self, py: Python<'_>, df: CoreFrame<'_>) -> PyResult<PySeries> {
        let df = frame_of(py, df)?;
        let table = &mut self.table;
        let ids = run(py, || table.ids(&df))?;
        Ok(PySeries(Series::new("gid".into(), ids)))
    }

    /// How many groups (1 when pooled).
    fn count(&self) -> usize {
        self.table.count()
    }

    /// The groups' keys, one row per id, with their Enum columns sent as
    /// codes (`None` when pooled).
    fn keys(&self, py: Python<'_>) -> PyResult<Option<(PyDataFrame, Vec<String>)>> {
        let keys = self.table.keys().cloned();
        run(py, || keys.map(frame_out).transpose())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<(Bound<'py, PyType>, TableArgs)> {
        let this = slf.borrow();
        Ok((slf.get_type(), (this.by(), this.keys(py)?)))
    }
}

/// The arguments that make a `GroupTable` again: its key columns and keys.
type TableArgs = (Option<Vec<String>>, Option<(PyDataFrame, Vec<String>)>);

/// The first cleaning pass's partial of a block, or of several merged (see
/// `crate::cleaning::FirstPass`): rows, each column's missing values, the
/// groups and link types in order of first appearance. Pickles by its parts.
#[pyclass(module = "dwcp_data._core", name = "FirstPass")]
pub struct PyFirstPass {
    found: FirstPass,
}

#[pymethods]
impl PyFirstPass {
    /// A partial made again from its parts, as the getters give them.
    #[new]
    fn new(rows: u64, missing: Vec<(String, u64)>, groups: &PyGroupTable, links: &PyGroupTable) -> Self {
        let found = FirstPass::from_parts(rows, missing, groups.table.clone(), links.table.clone());
        Self { found }
    }

    /// The partial of the frame `df`, its groups keyed by `by` (`None`: pooled).
    #[staticmethod]
    fn of(py: Python<'_>, df: CoreFrame<'_>, by: Option<Vec<String>>) -> PyResult<Self> {
        let df = frame_of(py, df)?;
        let found = run(py, || FirstPass::of(&df, by.as_deref()))?;
        Ok(Self { found })
    }

    /// Adds `later`'s rows to this partial's, in place.
    fn then(&mut self, py: Python<'_>, later: &PyFirstPass) -> PyResult<()> {
        let found = &mut self.found;
        run(py, || found.then(&later.found))
    }

    /// Rows seen.
    #[getter]
    fn rows(&self) -> u64 {
        self.found.rows()
    }

    /// Each column's missing values (nulls; NaN too in float columns), by column.
    #[getter]
    fn missing(&self) -> Vec<(String, u64)> {
        self.found.missing().to_vec()
    }

    /// The groups, numbered in order of first appearance.
    #[getter]
    fn groups(&self) -> PyGroupTable {
        PyGroupTable {
            table: self.found.groups().clone(),
        }
    }

    /// The link types, numbered in order of first appearance.
    #[getter]
    fn links(&self) -> PyGroupTable {
        PyGroupTable {
            table: self.found.links().clone(),
        }
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyType>, FirstPassArgs)> {
        let this = slf.borrow();
        Ok((
            slf.get_type(),
            (this.rows(), this.missing(), this.groups(), this.links()),
        ))
    }
}

/// The arguments that make a `FirstPass` again.
type FirstPassArgs = (u64, Vec<(String, u64)>, PyGroupTable, PyGroupTable);

/// A frame with float NaN as null, as cleaning takes it (the core's rule,
/// `crate::cleaning::nan_to_null`); with its Enum columns sent as codes.
#[pyfunction]
fn nan_as_null(py: Python<'_>, df: CoreFrame<'_>) -> PyResult<(PyDataFrame, Vec<String>)> {
    let mut df = frame_of(py, df)?;
    run(py, || {
        block::nan_to_null(&mut df)?;
        frame_out(df)
    })
}

/// A block's rows as cleaning writes them (`crate::cleaning::block::finish`,
/// the rules of the in-memory `clean`): NaN as null, the rows `keep`
/// (Boolean, one per row) keeps, nulls filled by `fills`; with its Enum
/// columns sent as codes.
#[pyfunction]
fn clean_block(
    py: Python<'_>,
    df: CoreFrame<'_>,
    keep: PySeries,
    fills: Vec<(String, f64)>,
) -> PyResult<(PyDataFrame, Vec<String>)> {
    let df = frame_of(py, df)?;
    run(py, || {
        let keep: Vec<bool> = keep.0.bool()?.iter().map(|k| k == Some(true)).collect();
        if keep.len() != df.height() {
            return Err(DwcpError::invalid_argument(
                "keep",
                format!("{} flags for {} rows", keep.len(), df.height()),
            ));
        }
        frame_out(block::finish(&df, &keep, &fills)?)
    })
}

/// Raises `DataError` unless data of `schema` (an empty frame) has the
/// columns `options` clean, as `clean` checks them.
#[pyfunction]
fn check_cleaning_columns(py: Python<'_>, options: cleaning::Options, schema: CoreFrame<'_>) -> PyResult<()> {
    let schema = frame_of(py, schema)?;
    run(py, || cleaning::check_columns(&schema, &options))
}

/// Registers this module's class and function on `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CleaningPlan>()?;
    m.add_class::<CleaningPass>()?;
    m.add_class::<BlockFence>()?;
    m.add_class::<FenceResult>()?;
    m.add_class::<PyGroupTable>()?;
    m.add_class::<PyFirstPass>()?;
    m.add_function(wrap_pyfunction!(clean_block, m)?)?;
    m.add_function(wrap_pyfunction!(nan_as_null, m)?)?;
    m.add_function(wrap_pyfunction!(check_cleaning_columns, m)?)
}
