//! The binding layer: every `#[pyfunction]` of `dwcp_data._core`, argument
//! checking, and the mapping of core errors onto `dwcp_data.errors`.

mod cleaning_plan;
mod errors;
mod features;
mod frames;
mod options;
mod partial;
mod profile;
pub(crate) mod reports;

use polars::prelude::Column;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes};
use pyo3_polars::{PyDataFrame, PySeries};

use crate::cleaning::{self, CleaningReport};
use crate::generator::{self, MAX_ROWS};
use crate::influx;
use crate::io::check_csv_file as check_csv_lines;
use crate::labelling::{self, ESTIMATE_COLUMNS, LABEL_COLUMN};
use crate::schema::COMPRESSIONS;
use crate::schema::{Kind, Role, SCHEMA};
use crate::validation;
use errors::{guarded, invalid_argument, run};
use frames::{frame_in, frame_out};

/// Every allocation goes to py-polars' allocator: frames cross the boundary
/// in both directions without copies, and freed buffers are reused instead of
/// being handed back to the kernel (which must zero fresh pages).
#[global_allocator]
static ALLOCATOR: pyo3_polars::PolarsAllocator = pyo3_polars::PolarsAllocator::new();

/// A non-negative whole number argument (bool is refused: `True` is not a count).
fn whole_number<T: TryFrom<i128>>(value: &Bound<'_, PyAny>, param: &'static str, max: i128) -> PyResult<T> {
    let n = if value.is_instance_of::<PyBool>() {
        None
    } else {
        value.extract::<i128>().ok()
    };
    match n {
        Some(n) if (0..=max).contains(&n) => {
            T::try_from(n).map_err(|_| invalid_argument(value.py(), param, "out of range"))
        }
        Some(n) => Err(invalid_argument(
            value.py(),
            param,
            &format!("must be between 0 and {max}, got {n}"),
        )),
        None => Err(invalid_argument(
            value.py(),
            param,
            &format!("must be a whole number, got {}", value.get_type().name()?),
        )),
    }
}

/// One schema column as `(name, kind, categories, unit, description, role)`.
type ColumnTuple = (
    &'static str,
    &'static str,
    Vec<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

/// The schema as [`ColumnTuple`]s, in column order.
#[pyfunction]
fn schema_columns() -> Vec<ColumnTuple> {
    SCHEMA
        .iter()
        .map(|c| {
            let (kind, categories) = match c.kind {
                Kind::Timestamp => ("timestamp", vec![]),
                Kind::Text => ("text", vec![]),
                Kind::Enum(categories) => ("enum", categories.to_vec()),
                Kind::Int => ("int", vec![]),
                Kind::Float => ("float", vec![]),
            };
            let role = match c.role {
                Role::Required => "required",
                Role::Optional => "optional",
                Role::Other => "other",
            };
            (c.name, kind, categories, c.unit, c.description, role)
        })
        .collect()
}

/// Generates rows `start .. start + length` (default: all) of an `n`-row
/// synthetic data set (see `dwcp_data.generate_synthetic`); the frame comes
/// with the names of its Enum columns sent as codes.
#[pyfunction]
#[pyo3(signature = (n, seed, end_us, freq_us, start=0, length=None))]
fn generate_synthetic(
    py: Python<'_>,
    n: &Bound<'_, PyAny>,
    seed: &Bound<'_, PyAny>,
    end_us: i64,
    freq_us: i64,
    start: usize,
    length: Option<usize>,
) -> PyResult<(PyDataFrame, Vec<String>)> {
    let cfg = generator::Config {
        n: whole_number(n, "n", MAX_ROWS as i128)?,
        seed: whole_number(seed, "seed", i128::from(u64::MAX))?,
        end_us,
        freq_us,
    };
    let end = start.saturating_add(length.unwrap_or(cfg.n.saturating_sub(start)));
    run(py, || frame_out(generator::generate_rows(&cfg, start..end)?))
}

/// Adds the oracle's estimates and label (see `dwcp_data.label_oracle`).
#[pyfunction]
fn label_oracle(
    py: Python<'_>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    cpu_weight: f64,
) -> PyResult<(PyDataFrame, Vec<String>)> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    run(py, || {
        frame_out(labelling::label_oracle(
            &frame_in(df, &enum_columns)?,
            cpu_weight,
        )?)
    })
}

/// A bad CSV line as `(line, column, message, start, end)`.
type BadLineTuple = (u64, Option<String>, String, usize, usize);

/// The lines of the CSV file `path` that do not fit the schema, as `(line,
/// column, message, start, end)` with the line's byte range; with `split =
/// (kept, rejects)` the good and the bad lines are written to those files.
/// `cr_only`: the lines end in a lone carriage return.
#[pyfunction]
#[pyo3(signature = (path, cr_only=false, split=None))]
fn check_csv(
    py: Python<'_>,
    path: std::path::PathBuf,
    cr_only: bool,
    split: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> PyResult<Vec<BadLineTuple>> {
    let extra: Vec<(&str, Kind)> = ESTIMATE_COLUMNS
        .iter()
        .map(|c| (*c, Kind::Float))
        .chain([(LABEL_COLUMN, Kind::Enum(&COMPRESSIONS))])
        .collect();
    let split = split.as_ref().map(|(k, r)| (k.as_path(), r.as_path()));
    let bad = run(py, || check_csv_lines(&path, cr_only, split, &extra))?;
    Ok(bad
        .into_iter()
        .map(|b| (b.line, b.column, b.message, b.start, b.end))
        .collect())
}

/// A timestamp column as `Datetime(us, UTC)`: datetimes converted, RFC 3339
/// strings parsed, integers read as epoch nanoseconds.
#[pyfunction]
fn to_utc_timestamps(py: Python<'_>, series: &Bound<'_, PyAny>) -> PyResult<PySeries> {
    let series = guarded(py, "the column", || series.extract::<PySeries>())?;
    let column = Column::from(series.0);
    run(py, || {
        Ok(cleaning::to_utc_micros(&column)?.0.take_materialized_series())
    })
    .map(PySeries)
}

/// Cleans a frame (see `dwcp_data.clean`): the cleaned frame, its Enum
/// columns sent as codes, and the report.
#[pyfunction]
fn clean<'py>(
    py: Python<'py>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    options: cleaning::Options,
) -> PyResult<(PyDataFrame, Vec<String>, CleaningReport)> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let (df, codes, report) = run(py, || {
        let (cleaned, report) = cleaning::clean(&frame_in(df, &enum_columns)?, &options)?;
        let (df, codes) = frame_out(cleaned)?;
        Ok((df, codes, report))
    })?;
    Ok((df, codes, report))
}

/// A frame as InfluxDB line protocol points of `measurement` (the `tags` columns as tags, every other
/// column but `timestamp` as a field), gzip-compressed at `gzip_level` if given, and how many rows
/// had no field to write.
#[pyfunction]
#[pyo3(signature = (df, enum_columns, measurement, tags, gzip_level=None))]
fn encode_line_protocol<'py>(
    py: Python<'py>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    measurement: &str,
    tags: Vec<String>,
    gzip_level: Option<u32>,
) -> PyResult<(Bound<'py, PyBytes>, usize)> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let (body, skipped) = run(py, || {
        influx::encode(&frame_in(df, &enum_columns)?, measurement, &tags, gzip_level)
    })?;
    Ok((PyBytes::new(py, &body), skipped))
}

/// Raises `DataError` naming the first row of a frame that cannot be written
/// as `encode_line_protocol` writes it (see `crate::influx::check`).
#[pyfunction]
fn check_line_protocol(
    py: Python<'_>,
    df: &Bound<'_, PyAny>,
    enum_columns: Vec<String>,
    measurement: &str,
    tags: Vec<String>,
) -> PyResult<()> {
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    run(py, || {
        influx::check(&frame_in(df, &enum_columns)?, measurement, &tags)
    })
}

/// An InfluxQL CSV or Flux annotated-CSV response as a frame in the schema,
/// with its Enum columns sent as codes.
#[pyfunction]
fn parse_influx_csv(py: Python<'_>, body: &[u8]) -> PyResult<(PyDataFrame, Vec<String>)> {
    run(py, || frame_out(influx::parse_csv(body)?))
}

/// The rest of an HTTP answer's body read from socket `fd` after the bytes
/// already read (`prefix`): `length` bytes, or to the end of the stream, with
/// chunked framing removed; `TimeoutError` after `timeout` seconds. Unix only.
#[cfg(unix)]
#[pyfunction]
fn read_http_body<'py>(
    py: Python<'py>,
    fd: i32,
    prefix: &[u8],
    length: Option<usize>,
    chunked: bool,
    timeout: f64,
) -> PyResult<Bound<'py, PyBytes>> {
    let timeout = Duration::try_from_secs_f64(timeout)
        .map_err(|_| invalid_argument(py, "timeout", "must be a number of seconds >= 0"))?;
    let deadline = Instant::now() + timeout;
    let body = run(py, || {
        let raw = influx::read_body(fd, prefix, length, deadline)?;
        if chunked {
            influx::dechunk(raw)
        } else {
            Ok(raw)
        }
    })?;
    Ok(PyBytes::new(py, &body))
}

/// Swaps the folders (or files) `a` and `b` atomically; `False` where the
/// system cannot (the caller then renames twice).
#[pyfunction]
fn exchange_paths(py: Python<'_>, a: std::path::PathBuf, b: std::path::PathBuf) -> PyResult<bool> {
    py.detach(|| crate::fs::exchange(&a, &b)).map_err(PyErr::from)
}

/// The compiled core of `dwcp_data`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(schema_columns, m)?)?;
    m.add_function(wrap_pyfunction!(generate_synthetic, m)?)?;
    m.add_function(wrap_pyfunction!(clean, m)?)?;
    m.add_function(wrap_pyfunction!(label_oracle, m)?)?;
    m.add_function(wrap_pyfunction!(check_csv, m)?)?;
    m.add_function(wrap_pyfunction!(to_utc_timestamps, m)?)?;
    m.add_function(wrap_pyfunction!(encode_line_protocol, m)?)?;
    m.add_function(wrap_pyfunction!(check_line_protocol, m)?)?;
    m.add_function(wrap_pyfunction!(parse_influx_csv, m)?)?;
    #[cfg(unix)]
    m.add_function(wrap_pyfunction!(read_http_body, m)?)?;
    m.add_function(wrap_pyfunction!(exchange_paths, m)?)?;
    partial::register(m)?;
    options::register(m)?;
    cleaning_plan::register(m)?;
    features::register(m)?;
    profile::register(m)?;
    m.add("INFLUX_TAG_COLUMNS", influx::TAG_COLUMNS.to_vec())?;
    m.add("MAX_SERIES_KEY_BYTES", influx::MAX_SERIES_KEY_BYTES)?;
    m.add("DUPLICATE_KEY", validation::DUPLICATE_KEY.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
