//! The binding layer: every `#[pyfunction]` of `dwcp_data._core`, argument
//! checking, and the mapping of core errors onto `dwcp_data.errors`.

mod errors;

use pyo3::prelude::*;
use pyo3::types::PyBool;
use pyo3_polars::PyDataFrame;

use crate::generator::{self, MAX_ROWS};
use crate::schema::{Kind, Role, SCHEMA};
use errors::{invalid_argument, run};

/// A non-negative whole number argument (bool is refused: `True` is not a count).
fn whole_number<T: TryFrom<i128>>(value: &Bound<'_, PyAny>, param: &'static str, max: i128) -> PyResult<T> {
    let n = if value.is_instance_of::<PyBool>() {
        None
    } else {
        value.extract::<i128>().ok()
    };
    match n {
        Some(n) if (0..=max).contains(&n) => T::try_from(n).map_err(|_| invalid_argument(value.py(), param, "out of range")),
        Some(n) => Err(invalid_argument(value.py(), param, &format!("must be between 0 and {max}, got {n}"))),
        None => Err(invalid_argument(
            value.py(),
            param,
            &format!("must be a whole number, got {}", value.get_type().name()?),
        )),
    }
}

/// One schema column as `(name, kind, categories, unit, description, role)`.
type ColumnTuple = (&'static str, &'static str, Vec<&'static str>, &'static str, &'static str, &'static str);

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

/// Generates `n` synthetic rows (see `dwcp_data.generate_synthetic`).
#[pyfunction]
fn generate_synthetic(
    py: Python<'_>,
    n: &Bound<'_, PyAny>,
    seed: &Bound<'_, PyAny>,
    end_us: i64,
    freq_us: i64,
) -> PyResult<PyDataFrame> {
    let cfg = generator::Config {
        n: whole_number(n, "n", MAX_ROWS as i128)?,
        seed: whole_number(seed, "seed", i128::from(u64::MAX))?,
        end_us,
        freq_us,
    };
    run(py, || generator::generate(&cfg)).map(PyDataFrame)
}

/// The compiled core of `dwcp_data`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(schema_columns, m)?)?;
    m.add_function(wrap_pyfunction!(generate_synthetic, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
