//! The rules of each profile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use polars::prelude::*;
use rayon::prelude::*;

use super::facts::{ColumnFacts, Facts, Scan, StrictColumn, StrictFacts, Unknown};
use super::scan::{scan_nulls, scan_numeric, scan_primitive, Violations};
use super::{Observed, Options, Profile, RuleResult};
use crate::cancel::Token;
use crate::error::{DwcpError, Result};
use crate::schema::{Kind, COMPRESSIONS, SCHEMA};

/// Columns whose presence §5.1 checks.
pub const DOCUMENT_REQUIRED: [&str; 7] = [
    "timestamp",
    "data_size_bytes",
    "rtt_ms",
    "available_bandwidth_mbps",
    "hde_compression_ratio",
    "amst_transfer_rate_mbps",
    "baseline_compression_ratio",
];

/// One end of an allowed interval.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// `low <op> column <op> high` for one column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    rule: &'static str,
    column: &'static str,
    low: Bound,
    high: Bound,
}

impl Range {
    /// Whether `x` is outside the interval (NaN always is).
    fn fails(&self, x: f64) -> bool {
        let above_low = match self.low {
            Bound::Unbounded => !x.is_nan(),
            Bound::Inclusive(l) => x >= l,
            Bound::Exclusive(l) => x > l,
        };
        let below_high = match self.high {
            Bound::Unbounded => !x.is_nan(),
            Bound::Inclusive(h) => x <= h,
            Bound::Exclusive(h) => x < h,
        };
        !(above_low && below_high)
    }

    fn describe(&self) -> String {
        let low = match self.low {
            Bound::Unbounded => String::new(),
            Bound::Inclusive(l) => format!("{l} <= "),
            Bound::Exclusive(l) => format!("{l} < "),
        };
        let high = match self.high {
            Bound::Unbounded => String::new(),
            Bound::Inclusive(h) => format!(" <= {h}"),
            Bound::Exclusive(h) => format!(" < {h}"),
        };
        format!("{low}{}{high}", self.column)
    }
}

const fn range(rule: &'static str, column: &'static str, low: Bound, high: Bound) -> Range {
    Range {
        rule,
        column,
        low,
        high,
    }
}

use Bound::{Exclusive as Ex, Inclusive as In, Unbounded as Un};

/// The value ranges of §5.1.
const DOCUMENT_RANGES: [Range; 4] = [
    range("rtt_ms_range", "rtt_ms", In(0.0), Ex(1000.0)),
    range(
        "available_bandwidth_mbps_positive",
        "available_bandwidth_mbps",
        Ex(0.0),
        Un,
    ),
    range("cpu_usage_range", "cpu_usage", In(0.0), In(1.0)),
    range(
        "hde_compression_ratio_range",
        "hde_compression_ratio",
        In(1.0),
        Ex(1000.0),
    ),
];

/// Shares that live in [0, 1] (strict profile; `cpu_usage` is a §5.1 rule).
const UNIT_INTERVAL: [&str; 3] = ["entropy", "compressibility_score", "packet_loss_rate"];

/// Compressed sizes, which must be positive (strict profile).
const COMPRESSED_SIZES: [&str; 3] = [
    "hde_compressed_size_bytes",
    "amst_compressed_size_bytes",
    "baseline_compressed_size_bytes",
];

/// Largest integer every value of which a Float64 holds exactly.
const F64_EXACT_INT: i64 = 1 << 53;

/// The ranges a frame's facts hold a scan for, besides each numeric schema
/// column's `non_negative` (strict): §5.1's, then the strict profile's.
fn fixed_ranges() -> Vec<Range> {
    let mut ranges = DOCUMENT_RANGES.to_vec();
    ranges.extend(
        UNIT_INTERVAL
            .iter()
            .map(|c| range("unit_interval", c, In(0.0), In(1.0))),
    );
    ranges.extend(
        COMPRESSED_SIZES
            .iter()
            .map(|c| range("positive_compressed_size", c, Ex(0.0), Un)),
    );
    ranges
}

/// What the rules of `options.profile` need to know of `df` (rows numbered
/// from 0): the facts of one shard, or of a whole frame.
pub fn facts(df: &DataFrame, options: &Options) -> Result<Facts> {
    let keep = options.max_examples;
    let token = Token::current();
    let columns: Vec<ColumnFacts> = df
        .columns()
        .par_iter()
        .map(|c| ColumnFacts {
            name: c.name().to_string(),
            dtype: c.dtype().to_string(),
            rows: c.len() as u64,
            nulls: scan_nulls(c, keep),
        })
        .collect();
    token.check()?;
    // The strict profile's ranges are not scanned for the document profile.
    let scanned = match options.profile {
        Profile::Document => DOCUMENT_RANGES.len(),
        Profile::Strict => usize::MAX,
    };
    let ranges: Vec<Option<Scan>> = fixed_ranges()
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let column = df.column(r.column).ok().filter(|_| i < scanned);
            column.map(|c| range_scan(c, r, keep))
        })
        .collect();
    let classes = match df.column("current_compression") {
        Ok(c) => Some(class_counts(c).map_err(data_message)),
        Err(_) => None,
    };
    token.check()?;
    let strict = match options.profile {
        Profile::Document => None,
        Profile::Strict => Some(strict_facts(df, options)?),
    };
    Ok(Facts {
        rows: df.height() as u64,
        columns,
        ranges,
        classes,
        strict,
    })
}

fn range_scan(column: &Column, range: &Range, keep: usize) -> Scan {
    scan_numeric(column, range.rule, keep, |x| range.fails(x)).map_err(data_message)
}

/// The strict profile's facts: per schema column, then time and duplicates.
fn strict_facts(df: &DataFrame, options: &Options) -> Result<StrictFacts> {
    let keep = options.max_examples;
    let columns = SCHEMA
        .par_iter()
        .filter_map(|spec| df.column(spec.name).ok().map(|c| (spec, c)))
        .map(|(spec, column)| -> Result<StrictColumn> {
            let fits = dtype_fits(spec.kind, column.dtype());
            let beyond_f64 = match fits {
                Some(_) => None,
                None => Some(scan_numeric(column, "schema_dtype", keep, |x| {
                    x.abs() > F64_EXACT_INT as f64
                })?),
            };
            let unknown = match (spec.kind, column.dtype()) {
                (Kind::Enum(categories), DataType::String) => {
                    Some(unknown_categories(categories, column, keep)?)
                }
                _ => None,
            };
            let numeric = matches!(spec.kind, Kind::Int | Kind::Float);
            let finite = (spec.kind == Kind::Float).then(|| {
                scan_numeric(column, "finite_values", keep, |x| !x.is_finite()).map_err(data_message)
            });
            let non_negative =
                numeric.then(|| range_scan(column, &range("non_negative", spec.name, In(0.0), Un), keep));
            Ok(StrictColumn {
                name: spec.name,
                fits,
                beyond_f64,
                unknown,
                finite,
                non_negative,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(StrictFacts {
        columns,
        future: future_timestamps(df, options),
        duplicates: duplicate_timestamps(df, keep)?,
    })
}

fn unknown_categories(categories: &[&str], column: &Column, keep: usize) -> Result<Unknown> {
    let strings = column.as_materialized_series().str()?.clone();
    let mut found = Unknown::default();
    for (row, value) in strings.iter().enumerate() {
        if let Some(v) = value.filter(|v| !categories.contains(v)) {
            found.rows.count += 1;
            if found.rows.rows.len() < keep {
                found.rows.rows.push(row as u64);
            }
            if found.values.len() < keep && !found.values.iter().any(|u| u == v) {
                found.values.push(v.to_string());
            }
        }
    }
    Ok(found)
}

/// Rows with a timestamp after `options.now_us`, or why none can be judged.
fn future_timestamps(df: &DataFrame, options: &Options) -> std::result::Result<Violations, String> {
    let column = df.column("timestamp").map_err(|_| absent_text("timestamp"))?;
    let ts = timestamp_us(column).ok_or_else(|| format!("not a Datetime column: {}", column.dtype()))?;
    let now = options.now_us;
    Ok(scan_primitive(&ts, options.max_examples, |t| t > now))
}

/// Rows repeating an earlier row's (node_id, peer_id, timestamp), or why none can be judged.
fn duplicate_timestamps(df: &DataFrame, keep: usize) -> Result<std::result::Result<Violations, String>> {
    let mut columns = Vec::with_capacity(3);
    for name in DUPLICATE_KEY {
        match df.column(name) {
            Ok(c) => columns.push(c),
            Err(_) => return Ok(Err(absent_text(name))),
        }
    }
    let Some(ts) = timestamp_us(columns[0]) else {
        return Ok(Err(format!("not a Datetime column: {}", columns[0].dtype())));
    };
    let ts = ts.rechunk();
    // Fast path: strictly increasing timestamps cannot repeat.
    if ts.null_count() == 0 {
        let values = ts.cont_slice()?;
        if values.par_windows(2).all(|w| w[0] < w[1]) {
            return Ok(Ok(Violations::default()));
        }
    }
    let node = columns[1].cast(&DataType::String)?;
    let peer = columns[2].cast(&DataType::String)?;
    let (node, peer) = (node.str()?.rechunk(), peer.str()?.rechunk());
    let key = |row: usize| (ts.get(row), node.get(row), peer.get(row));
    let mut hashed: Vec<(u64, usize)> = (0..df.height())
        .into_par_iter()
        .map(|row| {
            let mut h = DefaultHasher::new();
            key(row).hash(&mut h);
            (h.finish(), row)
        })
        .collect();
    hashed.par_sort_unstable();
    let mut duplicates: Vec<usize> = Vec::new();
    for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
        for (i, &(_, row)) in run.iter().enumerate().skip(1) {
            if run[..i].iter().any(|&(_, earlier)| key(earlier) == key(row)) {
                duplicates.push(row);
            }
        }
    }
    duplicates.sort_unstable();
    let rows = duplicates.iter().take(keep).map(|&r| r as u64).collect();
    Ok(Ok(Violations {
        count: duplicates.len() as u64,
        rows,
    }))
}

/// The columns whose values together must not repeat (strict profile).
pub const DUPLICATE_KEY: [&str; 3] = ["timestamp", "node_id", "peer_id"];

/// The results of the rules of `options.profile`, from the facts of a frame
/// (or of every shard of a data set, merged).
pub fn results(facts: &Facts, options: &Options) -> Vec<RuleResult> {
    let mut out = vec![present_rule(
        facts,
        "required_columns",
        &DOCUMENT_REQUIRED,
        "§5.1's required columns are present",
    )];
    out.extend(facts.columns.iter().map(|c| missing_values(c, options)));
    let ranges = fixed_ranges();
    out.extend(
        ranges
            .iter()
            .zip(&facts.ranges)
            .take(DOCUMENT_RANGES.len())
            .map(|(r, scan)| range_rule(facts, r, scan.as_ref())),
    );
    out.push(min_rows(facts, options));
    out.push(class_balance(facts, options));
    if let (Profile::Strict, Some(strict)) = (options.profile, &facts.strict) {
        let schema_names: Vec<&str> = SCHEMA.iter().map(|c| c.name).collect();
        out.push(present_rule(
            facts,
            "schema_columns",
            &schema_names,
            "every schema column is present",
        ));
        // Columns without values are reported by `schema_columns`; no rule here can judge them.
        let present: Vec<&StrictColumn> = strict
            .columns
            .iter()
            .filter(|c| facts.column(c.name).is_some_and(|f| !f.has_no_values()))
            .collect();
        for column in &present {
            out.extend(strict_column_rules(facts, column));
        }
        for column in &present {
            if let Some(scan) = &column.non_negative {
                let r = range("non_negative", column.name, In(0.0), Un);
                out.push(range_rule(facts, &r, Some(scan)));
            }
        }
        out.extend(
            ranges
                .iter()
                .zip(&facts.ranges)
                .skip(DOCUMENT_RANGES.len())
                .map(|(r, scan)| range_rule(facts, r, scan.as_ref())),
        );
        out.push(future_rule(options, &strict.future));
        out.push(duplicate_rule(&strict.duplicates));
    }
    out
}

/// Runs the rules of `options.profile` on a whole frame.
pub fn run(df: &DataFrame, options: &Options) -> Result<Vec<RuleResult>> {
    Ok(results(&facts(df, options)?, options))
}

fn result(rule: &'static str, column: Option<&str>, description: String, threshold: String) -> RuleResult {
    RuleResult {
        rule,
        column: column.map(str::to_string),
        description,
        passed: true,
        observed: Observed::Nothing,
        threshold,
        failing_rows: 0,
        examples: Vec::new(),
    }
}

impl RuleResult {
    fn failed_with(mut self, observed: Observed) -> Self {
        self.passed = false;
        self.observed = observed;
        self
    }

    fn with_violations(mut self, v: &Violations) -> Self {
        self.passed = v.count == 0;
        self.observed = Observed::Number(v.count as f64);
        self.failing_rows = v.count;
        self.examples = v.rows.clone();
        self
    }

    fn with_scan(self, scan: &std::result::Result<Violations, String>) -> Self {
        match scan {
            Ok(v) => self.with_violations(v),
            Err(message) => self.failed_with(Observed::Text(message.clone())),
        }
    }
}

fn absent_text(column: &str) -> String {
    format!("column `{column}` is absent")
}

fn present_rule(facts: &Facts, rule: &'static str, names: &[&str], description: &str) -> RuleResult {
    let missing: Vec<String> = names
        .iter()
        .filter_map(|n| match facts.column(n) {
            None => Some((*n).to_string()),
            Some(c) if c.has_no_values() => Some(format!("{n} (no values)")),
            Some(_) => None,
        })
        .collect();
    let r = result(rule, None, description.to_string(), names.join(", "));
    if missing.is_empty() {
        RuleResult {
            observed: Observed::Text("all present".into()),
            ..r
        }
    } else {
        r.failed_with(Observed::Text(format!("absent: {}", missing.join(", "))))
    }
}

fn missing_values(column: &ColumnFacts, options: &Options) -> RuleResult {
    let r = result(
        "missing_values",
        Some(&column.name),
        format!("share of missing values in `{}`", column.name),
        format!("< {}", options.max_missing_fraction),
    );
    if options.profile == Profile::Document && column.has_no_values() {
        // §5.1's pandas rule cannot see a column the source never had; whether
        // it is needed is the required-columns and range rules' call.
        return RuleResult {
            observed: Observed::Text("absent: the column has no values".into()),
            ..r
        };
    }
    let fraction = if column.rows == 0 {
        0.0
    } else {
        column.nulls.count as f64 / column.rows as f64
    };
    RuleResult {
        passed: fraction < options.max_missing_fraction,
        observed: Observed::Number(fraction),
        failing_rows: column.nulls.count,
        examples: column.nulls.rows.clone(),
        ..r
    }
}

/// A range rule from its column's scan (`None`: the column is absent).
fn range_rule(facts: &Facts, range: &Range, scan: Option<&Scan>) -> RuleResult {
    let r = result(range.rule, Some(range.column), range.describe(), range.describe());
    match (facts.column(range.column), scan) {
        (Some(c), _) if c.has_no_values() => {
            r.failed_with(Observed::Text(format!("column `{}` has no values", range.column)))
        }
        (Some(_), Some(scan)) => r.with_scan(scan),
        _ => r.failed_with(Observed::Text(absent_text(range.column))),
    }
}

/// The message of a data error (the rule and column are in the result already).
fn data_message(e: DwcpError) -> String {
    match e {
        DwcpError::Data { message, .. } => message,
        other => other.to_string(),
    }
}

fn min_rows(facts: &Facts, options: &Options) -> RuleResult {
    RuleResult {
        passed: facts.rows >= options.min_rows,
        observed: Observed::Number(facts.rows as f64),
        ..result(
            "min_rows",
            None,
            "enough rows to train on".into(),
            format!(">= {}", options.min_rows),
        )
    }
}

/// Rows per class of `current_compression`, nulls and unknown values left out.
fn class_counts(column: &Column) -> Result<[u64; 3]> {
    let series = column.as_materialized_series();
    let mut counts = [0u64; 3];
    match series.dtype() {
        DataType::Enum(..) => {
            let physical = series.to_physical_repr();
            for array in physical.u8()?.downcast_iter() {
                let validity = array.validity().filter(|v| v.unset_bits() > 0);
                let part = array
                    .values()
                    .par_chunks(1 << 16)
                    .enumerate()
                    .map(|(b, block)| {
                        let mut local = [0u64; 3];
                        for (i, &code) in block.iter().enumerate() {
                            let present = validity.is_none_or(|v| v.get_bit((b << 16) + i));
                            if let (true, Some(c)) = (present, local.get_mut(usize::from(code))) {
                                *c += 1;
                            }
                        }
                        local
                    })
                    .reduce(|| [0; 3], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
                for (total, n) in counts.iter_mut().zip(part) {
                    *total += n;
                }
            }
        }
        DataType::String => {
            for value in series.str()?.iter().flatten() {
                if let Some(i) = COMPRESSIONS.iter().position(|c| *c == value) {
                    counts[i] += 1;
                }
            }
        }
        dtype => {
            return Err(DwcpError::Data {
                column: column.name().to_string(),
                row: None,
                rule: "class_balance",
                message: format!("expected an Enum or String column, found {dtype}"),
            })
        }
    }
    Ok(counts)
}

fn class_balance(facts: &Facts, options: &Options) -> RuleResult {
    let r = result(
        "class_balance",
        Some("current_compression"),
        "every class of current_compression has a large enough share".into(),
        format!("> {}", options.min_class_share),
    );
    let counts = match &facts.classes {
        None => {
            return RuleResult {
                observed: Observed::Text("column absent: not checked (as in §5.1)".into()),
                ..r
            }
        }
        Some(Err(message)) => return r.failed_with(Observed::Text(message.clone())),
        Some(Ok(counts)) => counts,
    };
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return r.failed_with(Observed::Text("no classes present".into()));
    }
    let (smallest, count) = counts
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| **c)
        .map(|(i, c)| (COMPRESSIONS[i], *c))
        .unwrap_or(("", 0));
    let share = count as f64 / total as f64;
    RuleResult {
        passed: share > options.min_class_share,
        observed: Observed::Number(share),
        description: format!(
            "every class of current_compression has a large enough share (smallest: {smallest})"
        ),
        ..r
    }
}

/// Whether `dtype` holds a schema column of `kind` without loss; `None` when
/// that depends on the values (Int64 read as Float64).
fn dtype_fits(kind: Kind, dtype: &DataType) -> Option<bool> {
    use DataType as D;
    let small_int = matches!(
        dtype,
        D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16 | D::UInt32
    );
    Some(match kind {
        Kind::Timestamp => matches!(
            dtype,
            D::Datetime(TimeUnit::Microseconds | TimeUnit::Milliseconds, Some(_))
        ),
        Kind::Text => matches!(dtype, D::String),
        Kind::Enum(_) => matches!(dtype, D::Enum(..) | D::String),
        Kind::Int => small_int || matches!(dtype, D::Int64),
        Kind::Float => {
            if matches!(dtype, D::Int64) {
                return None;
            }
            small_int || matches!(dtype, D::Float32 | D::Float64)
        }
    })
}

/// Schema dtype, then category or finiteness rules of one present schema column.
fn strict_column_rules(facts: &Facts, column: &StrictColumn) -> Vec<RuleResult> {
    let Some(spec) = crate::schema::spec(column.name) else {
        return Vec::new();
    };
    let Some(found) = facts.column(column.name).map(|c| c.dtype.clone()) else {
        return Vec::new();
    };
    let name = column.name;
    let expected = spec.kind.dtype().map(|d| d.to_string()).unwrap_or_default();
    let r = result(
        "schema_dtype",
        Some(name),
        format!("`{name}` has the schema type or one that casts to it without loss"),
        expected,
    );
    let fits = column
        .fits
        .unwrap_or_else(|| column.beyond_f64.as_ref().is_some_and(|v| v.count == 0));
    let observed = Observed::Text(found);
    let mut out = vec![if fits {
        RuleResult { observed, ..r }
    } else {
        r.failed_with(observed)
    }];
    match spec.kind {
        Kind::Enum(categories) => {
            let r = result(
                "known_categories",
                Some(name),
                format!("every `{name}` value is one of the schema's categories"),
                categories.join(", "),
            );
            out.push(match &column.unknown {
                // Enum columns hold schema categories by construction; other types fail schema_dtype.
                None => RuleResult {
                    observed: Observed::Number(0.0),
                    ..r
                },
                Some(unknown) => {
                    let mut r = r.with_violations(&unknown.rows);
                    if !r.passed {
                        r.observed = Observed::Text(format!("unknown: {}", unknown.values.join(", ")));
                    }
                    r
                }
            });
        }
        Kind::Float => {
            let r = result(
                "finite_values",
                Some(name),
                format!("`{name}` holds no NaN or infinity"),
                "finite".into(),
            );
            if let Some(scan) = &column.finite {
                out.push(r.with_scan(scan));
            }
        }
        _ => {}
    }
    out
}

/// The physical microseconds of a timestamp column, if it is a Datetime.
fn timestamp_us(column: &Column) -> Option<Int64Chunked> {
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::Datetime(_, _) => {
            let us = series
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .ok()?;
            Some(us.datetime().ok()?.physical().clone())
        }
        _ => None,
    }
}

fn future_rule(options: &Options, scan: &std::result::Result<Violations, String>) -> RuleResult {
    result(
        "timestamp_not_future",
        Some("timestamp"),
        "no timestamp lies in the future".into(),
        format!("<= {} µs since the epoch", options.now_us),
    )
    .with_scan(scan)
}

fn duplicate_rule(scan: &std::result::Result<Violations, String>) -> RuleResult {
    result(
        "unique_timestamp_per_pair",
        None,
        "no two rows share (node_id, peer_id, timestamp)".into(),
        "unique".into(),
    )
    .with_scan(scan)
}
