//! The binding of `crate::cleaning::Plan`: the passes of one cleaning of a
//! data set, driven by `dwcp_data._passes.Cleaner` on any engine.

use std::collections::HashMap;

use polars::prelude::{DataFrame, PlHashMap};
use pyo3::prelude::*;
use pyo3_polars::{PyDataFrame, PySeries};

use super::errors::{guarded, run};
use super::frames::frame_in;
use super::partial::{partial_of, ProbeTuple};
use crate::cleaning::{self, CleaningReport, GroupOrder, Pass, Plan, RowCounts, Scan};
use crate::error::Result;

/// A frame as `dwcp_data._frames.to_core` gives it: the frame and its Enum columns sent as codes.
type CoreFrame<'py> = (Bound<'py, PyAny>, Vec<String>);

/// A fence as Python applies it: the column, and per group id the lower and
/// upper bounds (`None` for a group without values).
type FenceTuple = (String, Vec<Option<f64>>, Vec<Option<f64>>);

/// A pass as Python runs it: `(label, fence, probes per column, grouped)`.
type PassTuple = (
    String,
    Option<FenceTuple>,
    Vec<(String, Vec<(u32, ProbeTuple)>)>,
    bool,
);

/// Row counts as Python gives them: `(total, per group, per link type)`.
type CountsTuple = (u64, Vec<u64>, Vec<u64>);

fn frame_of(py: Python<'_>, (df, enums): CoreFrame<'_>) -> PyResult<DataFrame> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    run(py, || frame_in(df, &enums))
}

fn pass_tuple(pass: Pass) -> PassTuple {
    let fence = pass.fence.map(|f| {
        let lower = f.bounds.iter().map(|b| b.map(|b| b.lower)).collect();
        let upper = f.bounds.iter().map(|b| b.map(|b| b.upper)).collect();
        (f.column, lower, upper)
    });
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
    (pass.label, fence, probes, pass.grouped)
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

    /// The next pass, `(label, fence, probes, grouped)`, or `None` once done.
    fn next_pass(&mut self) -> Option<PassTuple> {
        self.plan.next_pass().map(pass_tuple)
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
    m.add_function(wrap_pyfunction!(check_cleaning_columns, m)?)
}
