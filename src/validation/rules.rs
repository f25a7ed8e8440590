//! The rules of each profile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use polars::prelude::*;
use rayon::prelude::*;

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
#[derive(Debug, Clone, Copy)]
enum Bound {
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// `low <op> column <op> high` for one column.
#[derive(Debug, Clone, Copy)]
struct Range {
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

/// Runs the rules of `options.profile`.
pub fn run(df: &DataFrame, options: &Options) -> Result<Vec<RuleResult>> {
    let keep = options.max_examples;
    let token = Token::current();
    let mut out = vec![present_rule(
        df,
        "required_columns",
        &DOCUMENT_REQUIRED,
        "§5.1's required columns are present",
    )];
    out.extend(
        df.columns()
            .par_iter()
            .map(|c| missing_values(c, options))
            .collect::<Vec<_>>(),
    );
    token.check()?;
    out.extend(
        DOCUMENT_RANGES
            .par_iter()
            .map(|r| range_rule(df, r, keep))
            .collect::<Vec<_>>(),
    );
    out.push(min_rows(df, options));
    out.push(class_balance(df, options)?);
    token.check()?;

    if options.profile == Profile::Strict {
        let schema_names: Vec<&str> = SCHEMA.iter().map(|c| c.name).collect();
        out.push(present_rule(
            df,
            "schema_columns",
            &schema_names,
            "every schema column is present",
        ));
        out.extend(strict_column_rules(df, keep)?);
        token.check()?;
        out.push(future_timestamps(df, options)?);
        out.push(duplicate_timestamps(df, keep)?);
    }
    Ok(out)
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

    fn with_violations(mut self, v: Violations) -> Self {
        self.passed = v.count == 0;
        self.observed = Observed::Number(v.count as f64);
        self.failing_rows = v.count;
        self.examples = v.rows;
        self
    }
}

fn absent(column: &str) -> Observed {
    Observed::Text(format!("column `{column}` is absent"))
}

/// Whether `column` holds no value at all: a column the source never had,
/// written out as nulls (an export's fields the server does not store).
/// A column of an empty frame is not judged absent.
fn has_no_values(column: &Column) -> bool {
    !column.is_empty() && column.null_count() == column.len()
}

fn present_rule(df: &DataFrame, rule: &'static str, names: &[&str], description: &str) -> RuleResult {
    let missing: Vec<String> = names
        .iter()
        .filter_map(|n| match df.column(n) {
            Err(_) => Some((*n).to_string()),
            Ok(c) if has_no_values(c) => Some(format!("{n} (no values)")),
            Ok(_) => None,
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

fn missing_values(column: &Column, options: &Options) -> RuleResult {
    if options.profile == Profile::Document && has_no_values(column) {
        // §5.1's pandas rule cannot see a column the source never had; whether
        // it is needed is the required-columns and range rules' call.
        return RuleResult {
            observed: Observed::Text("absent: the column has no values".into()),
            ..result(
                "missing_values",
                Some(column.name()),
                format!("share of missing values in `{}`", column.name()),
                format!("< {}", options.max_missing_fraction),
            )
        };
    }
    let nulls = scan_nulls(column, options.max_examples);
    let fraction = if column.is_empty() {
        0.0
    } else {
        nulls.count as f64 / column.len() as f64
    };
    RuleResult {
        passed: fraction < options.max_missing_fraction,
        observed: Observed::Number(fraction),
        failing_rows: nulls.count,
        examples: nulls.rows,
        ..result(
            "missing_values",
            Some(column.name()),
            format!("share of missing values in `{}`", column.name()),
            format!("< {}", options.max_missing_fraction),
        )
    }
}

fn range_rule(df: &DataFrame, range: &Range, keep: usize) -> RuleResult {
    let r = result(range.rule, Some(range.column), range.describe(), range.describe());
    let column = match df.column(range.column) {
        Ok(c) if has_no_values(c) => {
            return r.failed_with(Observed::Text(format!("column `{}` has no values", range.column)))
        }
        Ok(c) => c,
        Err(_) => return r.failed_with(absent(range.column)),
    };
    match scan_numeric(column, range.rule, keep, |x| range.fails(x)) {
        Ok(v) => r.with_violations(v),
        Err(e) => r.failed_with(Observed::Text(data_message(e))),
    }
}

/// The message of a data error (the rule and column are in the result already).
fn data_message(e: DwcpError) -> String {
    match e {
        DwcpError::Data { message, .. } => message,
        other => other.to_string(),
    }
}

fn min_rows(df: &DataFrame, options: &Options) -> RuleResult {
    RuleResult {
        passed: df.height() as u64 >= options.min_rows,
        observed: Observed::Number(df.height() as f64),
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

fn class_balance(df: &DataFrame, options: &Options) -> Result<RuleResult> {
    let r = result(
        "class_balance",
        Some("current_compression"),
        "every class of current_compression has a large enough share".into(),
        format!("> {}", options.min_class_share),
    );
    let Ok(column) = df.column("current_compression") else {
        return Ok(RuleResult {
            observed: Observed::Text("column absent: not checked (as in §5.1)".into()),
            ..r
        });
    };
    let counts = match class_counts(column) {
        Ok(c) => c,
        Err(e) => return Ok(r.failed_with(Observed::Text(data_message(e)))),
    };
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Ok(r.failed_with(Observed::Text("no classes present".into())));
    }
    let (smallest, count) = counts
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| **c)
        .map(|(i, c)| (COMPRESSIONS[i], *c))
        .unwrap_or(("", 0));
    let share = count as f64 / total as f64;
    Ok(RuleResult {
        passed: share > options.min_class_share,
        observed: Observed::Number(share),
        description: format!(
            "every class of current_compression has a large enough share (smallest: {smallest})"
        ),
        ..r
    })
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

/// Schema dtype, category, finiteness, sign and interval rules of the strict profile.
fn strict_column_rules(df: &DataFrame, keep: usize) -> Result<Vec<RuleResult>> {
    // Columns without values are reported by `schema_columns`; no rule here can judge them.
    let present: Vec<_> = SCHEMA
        .iter()
        .filter_map(|spec| df.column(spec.name).ok().map(|c| (spec, c)))
        .filter(|(_, c)| !has_no_values(c))
        .collect();
    let mut ranges: Vec<Range> = Vec::new();
    for (spec, _) in &present {
        if matches!(spec.kind, Kind::Int | Kind::Float) {
            ranges.push(range("non_negative", spec.name, In(0.0), Un));
        }
    }
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

    let per_column: Vec<Vec<RuleResult>> = present
        .par_iter()
        .map(|(spec, column)| -> Result<Vec<RuleResult>> {
            let mut out = vec![schema_dtype(spec.name, spec.kind, column, keep)?];
            match spec.kind {
                Kind::Enum(categories) => out.push(known_categories(spec.name, categories, column, keep)?),
                Kind::Float => out.push(finite_values(spec.name, column, keep)),
                _ => {}
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut out: Vec<RuleResult> = per_column.into_iter().flatten().collect();
    out.extend(
        ranges
            .par_iter()
            .map(|r| range_rule(df, r, keep))
            .collect::<Vec<_>>(),
    );
    Ok(out)
}

fn schema_dtype(name: &str, kind: Kind, column: &Column, keep: usize) -> Result<RuleResult> {
    let expected = kind.dtype()?;
    let r = result(
        "schema_dtype",
        Some(name),
        format!("`{name}` has the schema type or one that casts to it without loss"),
        expected.to_string(),
    );
    let found = column.dtype();
    let fits = match dtype_fits(kind, found) {
        Some(fits) => fits,
        None => scan_numeric(column, "schema_dtype", keep, |x| x.abs() > F64_EXACT_INT as f64)?.count == 0,
    };
    let observed = Observed::Text(found.to_string());
    Ok(if fits {
        RuleResult { observed, ..r }
    } else {
        r.failed_with(observed)
    })
}

fn known_categories(name: &str, categories: &[&str], column: &Column, keep: usize) -> Result<RuleResult> {
    let r = result(
        "known_categories",
        Some(name),
        format!("every `{name}` value is one of the schema's categories"),
        categories.join(", "),
    );
    let DataType::String = column.dtype() else {
        // Enum columns hold schema categories by construction; other types fail schema_dtype.
        return Ok(RuleResult {
            observed: Observed::Number(0.0),
            ..r
        });
    };
    let strings = column.as_materialized_series().str()?.clone();
    let mut found = Violations::default();
    let mut unknown: Vec<&str> = Vec::new();
    for (row, value) in strings.iter().enumerate() {
        if let Some(v) = value.filter(|v| !categories.contains(v)) {
            found.count += 1;
            if found.rows.len() < keep {
                found.rows.push(row as u64);
            }
            if unknown.len() < keep && !unknown.contains(&v) {
                unknown.push(v);
            }
        }
    }
    let passed = found.count == 0;
    let mut r = r.with_violations(found);
    if !passed {
        r.observed = Observed::Text(format!("unknown: {}", unknown.join(", ")));
    }
    Ok(r)
}

fn finite_values(name: &str, column: &Column, keep: usize) -> RuleResult {
    let r = result(
        "finite_values",
        Some(name),
        format!("`{name}` holds no NaN or infinity"),
        "finite".into(),
    );
    match scan_numeric(column, "finite_values", keep, |x| !x.is_finite()) {
        Ok(v) => r.with_violations(v),
        Err(e) => r.failed_with(Observed::Text(data_message(e))),
    }
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

fn future_timestamps(df: &DataFrame, options: &Options) -> Result<RuleResult> {
    let r = result(
        "timestamp_not_future",
        Some("timestamp"),
        "no timestamp lies in the future".into(),
        format!("<= {} µs since the epoch", options.now_us),
    );
    let Ok(column) = df.column("timestamp") else {
        return Ok(r.failed_with(absent("timestamp")));
    };
    let Some(ts) = timestamp_us(column) else {
        return Ok(r.failed_with(Observed::Text(format!(
            "not a Datetime column: {}",
            column.dtype()
        ))));
    };
    let now = options.now_us;
    Ok(r.with_violations(scan_primitive(&ts, options.max_examples, |t| t > now)))
}

fn duplicate_timestamps(df: &DataFrame, keep: usize) -> Result<RuleResult> {
    let r = result(
        "unique_timestamp_per_pair",
        None,
        "no two rows share (node_id, peer_id, timestamp)".into(),
        "unique".into(),
    );
    let mut columns = Vec::with_capacity(3);
    for name in ["timestamp", "node_id", "peer_id"] {
        match df.column(name) {
            Ok(c) => columns.push(c),
            Err(_) => return Ok(r.failed_with(absent(name))),
        }
    }
    let Some(ts) = timestamp_us(columns[0]) else {
        return Ok(r.failed_with(Observed::Text(format!(
            "not a Datetime column: {}",
            columns[0].dtype()
        ))));
    };
    let ts = ts.rechunk();
    // Fast path: strictly increasing timestamps cannot repeat.
    if ts.null_count() == 0 {
        let values = ts.cont_slice()?;
        if values.par_windows(2).all(|w| w[0] < w[1]) {
            return Ok(r.with_violations(Violations::default()));
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
    Ok(r.with_violations(Violations {
        count: duplicates.len() as u64,
        rows,
    }))
}
