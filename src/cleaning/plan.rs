//! Cleaning a data set block by block: the passes to run, and what their
//! merged results make of the fences, medians and report.
//!
//! A driver (one machine or Ray) runs each [`Pass`] over every block, merges
//! the blocks' partials (`crate::partial::rank`) and hands them to
//! [`Plan::take`], until [`Plan::next_pass`] has none left; then
//! [`Plan::fills`] gives the medians to fill nulls with and [`Plan::report`]
//! the same [`CleaningReport`] `clean` gives on the concatenated data. The
//! rules (fence width, which columns are imputed, the rounding of integer
//! medians, group order and labels) are those of the in-memory path, shared
//! with it.

use polars::prelude::*;

use super::{check_columns, CleaningReport, Fence, Groups, Imputation, KeptShare, Options, OutlierStep};
use crate::cleaning::TimestampSource;
use crate::error::{DwcpError, Result};
use crate::partial::rank::{interpolate, quantile_ranks, Partial, Probe, Search};

/// One group's quartiles and fences (pandas' linear interpolation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Lowest value kept (inclusive).
    pub lower: f64,
    /// Highest value kept (inclusive).
    pub upper: f64,
}

impl Bounds {
    /// The fences `[q1 - k·IQR, q3 + k·IQR]`.
    pub fn of(q1: f64, q3: f64, k: f64) -> Self {
        let iqr = q3 - q1;
        Self {
            q1,
            q3,
            lower: q1 - k * iqr,
            upper: q3 + k * iqr,
        }
    }
}

/// A column's fences to apply to the rows still kept: per group (by id), or
/// `None` for a group without values (it removes nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnFence {
    /// The outlier column.
    pub column: String,
    /// Per group id.
    pub bounds: Vec<Option<Bounds>>,
}

/// What one pass over every block computes: `fence` applied first (the rows
/// it removes stay removed), then, over the rows still kept, each column's
/// partials for its `(group, probe)` pairs and its nulls; with `grouped`
/// false every row is in group 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    /// A name for progress reports.
    pub label: String,
    /// The fence to apply first.
    pub fence: Option<ColumnFence>,
    /// Per column, the probes to compute.
    pub probes: Vec<(String, Vec<(u32, Probe)>)>,
    /// Whether probes count per group of `by` (else pooled).
    pub grouped: bool,
}

/// A pass's results merged over every block, in the order of its probes.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// Per column of the pass, one merged partial per probe.
    pub partials: Vec<Vec<Partial>>,
    /// Per column of the pass, its nulls among the kept rows.
    pub nulls: Vec<u64>,
    /// Per group, the values the fence judged.
    pub judged: Vec<u64>,
    /// Per group, the rows the fence removed.
    pub removed: Vec<u64>,
}

/// Groups as the blocks number them (by first appearance in the data set),
/// with the in-memory path's order and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOrder {
    /// Group ids in report order.
    order: Vec<usize>,
    /// Each group id's label (`None` when pooled).
    labels: Vec<Option<String>>,
}

impl GroupOrder {
    /// One group of every row.
    pub fn pooled() -> Self {
        Self {
            order: vec![0],
            labels: vec![None],
        }
    }

    /// The groups of `by` whose keys are the rows of `table`, in the order
    /// the blocks numbered them (row `i` is group `i`).
    pub fn of(table: &DataFrame, by: &[String]) -> Result<Self> {
        let groups = Groups::new(table, by)?;
        let mut order: Vec<usize> = (0..table.height()).collect();
        order.sort_by_key(|&g| groups.ids[g]);
        let labels = (0..table.height())
            .map(|g| Some(groups.labels[groups.ids[g] as usize].clone()))
            .collect();
        Ok(Self { order, labels })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    /// Rows in and out per group, in report order.
    fn kept(&self, rows_in: &[u64], rows_out: &[u64]) -> Vec<KeptShare> {
        self.order
            .iter()
            .map(|&g| KeptShare {
                group: self.labels[g].clone().unwrap_or_default(),
                rows_in: rows_in[g],
                rows_out: rows_out[g],
            })
            .collect()
    }
}

/// Rows of the data set, per group of `by` and per link type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowCounts {
    /// All rows.
    pub total: u64,
    /// Per group id of `by` (one entry when pooled).
    pub groups: Vec<u64>,
    /// Per link type id.
    pub links: Vec<u64>,
}

/// One quantile of one group's values: the searches for the ranks it interpolates between.
#[derive(Debug, Clone)]
struct Quantile {
    group: u32,
    low: Search,
    high: Option<Search>,
    fraction: f64,
}

impl Quantile {
    fn of(group: u32, n: u64, q: f64) -> Self {
        let (low, high, fraction) = quantile_ranks(q, n);
        Self {
            group,
            low: Search::new(low),
            high: high.map(Search::new),
            fraction,
        }
    }

    fn searches(&mut self) -> impl Iterator<Item = &mut Search> {
        std::iter::once(&mut self.low).chain(self.high.as_mut())
    }

    /// The `(group, probe)` of each of its searches still under way.
    fn open(&self) -> impl Iterator<Item = (u32, Probe)> + '_ {
        std::iter::once(&self.low)
            .chain(self.high.as_ref())
            .filter_map(move |s| match s {
                Search::Probing { probe, .. } => Some((self.group, *probe)),
                Search::Found(_) => None,
            })
    }

    /// The quantile, once its searches are done.
    fn value(&self) -> Option<f64> {
        let found = |s: &Search| match s {
            Search::Found(v) => Some(*v),
            Search::Probing { .. } => None,
        };
        let high = match &self.high {
            Some(s) => Some(found(s)?),
            None => None,
        };
        Some(interpolate(found(&self.low)?, high, self.fraction))
    }
}

/// Where the plan is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// The first pass of outlier column `i` (applying column `i - 1`'s fence).
    Column(usize),
    /// The quartile searches of outlier column `i`.
    Quartiles(usize),
    /// The pass applying the last fence and counting the imputed columns.
    Medians,
    /// The median searches.
    MedianSearch,
    /// Every pass has run.
    Done,
}

/// The passes of one cleaning of a data set, and what they found.
#[derive(Debug, Clone)]
pub struct Plan {
    options: Options,
    groups: GroupOrder,
    links: Option<GroupOrder>,
    /// Numeric columns with a null somewhere, and whether each is a float column.
    imputable: Vec<(String, bool)>,
    timestamp: bool,
    stage: Stage,
    pending: Option<Pass>,
    fence: Option<ColumnFence>,
    /// Per column, its quantiles under search.
    quantiles: Vec<(String, Vec<Quantile>)>,
    outliers: Vec<OutlierStep>,
    imputed: Vec<Imputation>,
    fills: Vec<(String, f64)>,
}

impl Plan {
    /// The plan for a data set of `schema` (an empty frame of its columns)
    /// whose columns have `nulls` (in every row, NaN counted), grouped into
    /// `groups` (see [`GroupOrder`]), with link types `links` when it has a
    /// `link_type` column. The columns are checked as `clean` checks them.
    pub fn new(
        options: Options,
        schema: &DataFrame,
        nulls: &PlHashMap<String, u64>,
        groups: GroupOrder,
        links: Option<GroupOrder>,
    ) -> Result<Self> {
        check_columns(schema, &options)?;
        let imputable = schema
            .columns()
            .iter()
            .filter(|c| c.dtype().is_primitive_numeric())
            .filter(|c| nulls.get(c.name().as_str()).is_some_and(|&n| n > 0))
            .map(|c| (c.name().to_string(), c.dtype().is_float()))
            .collect();
        Ok(Self {
            timestamp: schema.column("timestamp").is_ok(),
            options,
            groups,
            links,
            imputable,
            stage: Stage::Column(0),
            pending: None,
            fence: None,
            quantiles: Vec::new(),
            outliers: Vec::new(),
            imputed: Vec::new(),
            fills: Vec::new(),
        })
    }

    /// The next pass to run over every block, or `None` once the plan is done.
    pub fn next_pass(&mut self) -> Option<Pass> {
        let n = self.groups.len() as u32;
        let columns = &self.options.outlier_columns;
        let pass = match self.stage {
            Stage::Column(i) if i == columns.len() => {
                self.stage = Stage::Medians;
                return self.next_pass();
            }
            Stage::Column(i) => Pass {
                label: format!("clean: {}", columns[i]),
                fence: self.fence.clone(),
                probes: vec![(columns[i].clone(), (0..n).map(|g| (g, Probe::ALL)).collect())],
                grouped: true,
            },
            Stage::Quartiles(i) => Pass {
                label: format!("clean: {} quartiles", columns[i]),
                fence: None,
                probes: self.open_probes(),
                grouped: true,
            },
            Stage::Medians => Pass {
                label: "clean: medians".into(),
                fence: self.fence.clone(),
                probes: self
                    .imputable
                    .iter()
                    .filter(|_| self.options.impute_median)
                    .map(|(c, _)| (c.clone(), vec![(0, Probe::ALL)]))
                    .collect(),
                grouped: false,
            },
            Stage::MedianSearch => Pass {
                label: "clean: medians".into(),
                fence: None,
                probes: self.open_probes(),
                grouped: false,
            },
            Stage::Done => return None,
        };
        self.pending = Some(pass.clone());
        Some(pass)
    }

    /// Per column under search, its open searches' distinct `(group, probe)`, sorted.
    fn open_probes(&self) -> Vec<(String, Vec<(u32, Probe)>)> {
        let mut probes = Vec::new();
        for (column, quantiles) in &self.quantiles {
            let mut open: Vec<(u32, Probe)> = quantiles.iter().flat_map(Quantile::open).collect();
            if !open.is_empty() {
                open.sort_by_key(|(g, p)| (*g, p.prefix, p.depth, p.collect));
                open.dedup();
                probes.push((column.clone(), open));
            }
        }
        probes
    }

    /// Takes the merged results of the pass [`Plan::next_pass`] gave last.
    pub fn take(&mut self, mut scan: Scan) -> Result<()> {
        let pass = self
            .pending
            .take()
            .ok_or_else(|| DwcpError::invalid_argument("scan", "no pass is under way"))?;
        let shape: Vec<usize> = pass.probes.iter().map(|(_, p)| p.len()).collect();
        let given: Vec<usize> = scan.partials.iter().map(Vec::len).collect();
        let n = self.groups.len(); // a fence judges per group, pooled probes or not
        if shape != given
            || scan.nulls.len() != shape.len()
            || [scan.judged.len(), scan.removed.len()] != [n, n]
        {
            return Err(DwcpError::invalid_argument(
                "scan",
                "results of another pass than the one under way",
            ));
        }
        if let Some(fence) = &pass.fence {
            self.outliers.push(self.step(fence, &scan.judged, &scan.removed));
        }
        match self.stage {
            Stage::Column(i) => {
                self.quantiles = vec![(pass.probes[0].0.clone(), self.quartiles(&scan.partials[0]))];
                self.advance(&pass, &mut scan.partials)?;
                self.stage = Stage::Quartiles(i);
                self.end_quartiles(i);
            }
            Stage::Quartiles(i) => {
                self.advance(&pass, &mut scan.partials)?;
                self.end_quartiles(i);
            }
            Stage::Medians => {
                // the columns with nulls among the kept rows: a median for each that has values
                self.quantiles.clear();
                for (((column, _), partials), &nulls) in
                    pass.probes.iter().zip(&scan.partials).zip(&scan.nulls)
                {
                    if nulls == 0 {
                        continue;
                    }
                    let count = values(&partials[0]);
                    if count > 0 {
                        self.quantiles
                            .push((column.clone(), vec![Quantile::of(0, count, 0.5)]));
                    }
                    self.imputed.push(Imputation {
                        column: column.clone(),
                        count: nulls,
                        value: None,
                    });
                }
                self.advance(&pass, &mut scan.partials)?;
                self.stage = Stage::MedianSearch;
                self.end_medians();
            }
            Stage::MedianSearch => {
                self.advance(&pass, &mut scan.partials)?;
                self.end_medians();
            }
            Stage::Done => unreachable!("a pass is pending only before the plan is done"),
        }
        Ok(())
    }

    /// The quartile searches of one column's groups from their all-values partials.
    fn quartiles(&self, first: &[Partial]) -> Vec<Quantile> {
        first
            .iter()
            .enumerate()
            .map(|(g, partial)| (g as u32, values(partial)))
            .filter(|&(_, count)| count > 0)
            .flat_map(|(g, count)| [Quantile::of(g, count, 0.25), Quantile::of(g, count, 0.75)])
            .collect()
    }

    /// Advances every open search with the merged partial of its probe in `pass`.
    fn advance(&mut self, pass: &Pass, partials: &mut [Vec<Partial>]) -> Result<()> {
        for (column, quantiles) in &mut self.quantiles {
            let Some(c) = pass.probes.iter().position(|(name, _)| name == column) else {
                continue;
            };
            // a group has a few searches and a pass a probe or two per group: look them up, not scan
            let index: PlHashMap<(u32, Probe), usize> = pass.probes[c]
                .1
                .iter()
                .enumerate()
                .map(|(k, &gp)| (gp, k))
                .collect();
            for q in quantiles.iter_mut() {
                let group = q.group;
                for s in q.searches() {
                    let Search::Probing { probe, .. } = *s else {
                        continue;
                    };
                    if let Some(&k) = index.get(&(group, probe)) {
                        *s = s.advance(&mut partials[c][k])?;
                    }
                }
            }
        }
        Ok(())
    }

    fn searching(&self) -> bool {
        self.quantiles
            .iter()
            .any(|(_, qs)| qs.iter().any(|q| q.value().is_none()))
    }

    /// Column `i`'s fences, once its quartiles are found.
    fn end_quartiles(&mut self, i: usize) {
        if self.searching() {
            return;
        }
        let mut bounds = vec![None; self.groups.len()];
        if let Some((_, quantiles)) = self.quantiles.first() {
            for pair in quantiles.chunks(2) {
                if let (Some(q1), Some(q3)) = (pair[0].value(), pair[1].value()) {
                    bounds[pair[0].group as usize] = Some(Bounds::of(q1, q3, self.options.iqr_k));
                }
            }
        }
        self.fence = Some(ColumnFence {
            column: self.options.outlier_columns[i].clone(),
            bounds,
        });
        self.quantiles.clear();
        self.stage = Stage::Column(i + 1);
    }

    /// The fill values, once the medians are found.
    fn end_medians(&mut self) {
        if self.searching() {
            return;
        }
        for imputation in &mut self.imputed {
            let median = self
                .quantiles
                .iter()
                .find(|(c, _)| *c == imputation.column)
                .and_then(|(_, q)| q[0].value());
            let is_float = self
                .imputable
                .iter()
                .any(|(c, float)| *c == imputation.column && *float);
            *imputation = Imputation::filled(&imputation.column, imputation.count, median, is_float);
            if let Some(value) = imputation.value {
                self.fills.push((imputation.column.clone(), value));
            }
        }
        self.quantiles.clear();
        self.stage = Stage::Done;
    }

    /// The report of one column's fences.
    fn step(&self, fence: &ColumnFence, judged: &[u64], removed: &[u64]) -> OutlierStep {
        let fences = self
            .groups
            .order
            .iter()
            .map(|&g| {
                Fence::of(
                    self.groups.labels[g].clone(),
                    judged[g],
                    fence.bounds[g],
                    removed[g],
                )
            })
            .collect();
        OutlierStep {
            column: fence.column.clone(),
            fences,
            rows_removed: removed.iter().sum(),
        }
    }

    /// Each imputed column's fill value (integer columns: the median rounded
    /// half to even), once the plan is done.
    pub fn fills(&self) -> &[(String, f64)] {
        &self.fills
    }

    /// The report, once the plan is done, from the rows before cleaning
    /// (`rows_in`, with `duplicates` of them removed) and the rows kept.
    pub fn report(
        &self,
        duplicates: u64,
        rows_in: &RowCounts,
        rows_out: &RowCounts,
    ) -> Result<CleaningReport> {
        if self.stage != Stage::Done {
            return Err(DwcpError::invalid_argument(
                "plan",
                "passes remain before the report",
            ));
        }
        let groups = self.groups.len();
        let links = self.links.as_ref().map_or(0, GroupOrder::len);
        for counts in [rows_in, rows_out] {
            if counts.groups.len() != groups || counts.links.len() != links {
                return Err(DwcpError::invalid_argument(
                    "rows",
                    format!("expected counts for {groups} groups and {links} link types"),
                ));
            }
        }
        let by_link = self
            .links
            .as_ref()
            .map(|l| l.kept(&rows_in.links, &rows_out.links))
            .unwrap_or_default();
        let by_group = if self.options.by.is_some() {
            self.groups.kept(&rows_in.groups, &rows_out.groups)
        } else {
            Vec::new()
        };
        Ok(CleaningReport {
            rows_in: rows_in.total,
            rows_out: rows_out.total,
            duplicates_removed: duplicates,
            timestamp: self.timestamp.then_some(TimestampSource::Unchanged),
            outliers: self.outliers.clone(),
            kept_by_link_type: by_link,
            kept_by_group: by_group,
            imputed: self.imputed.clone(),
        })
    }
}

/// How many values a probe's merged counts cover.
fn values(partial: &Partial) -> u64 {
    match partial {
        Partial::Counts(c) => c.iter().sum(),
        Partial::Sparse(pairs) => pairs.iter().map(|&(_, c)| c).sum(),
        Partial::Values(v) => v.len() as u64,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
