//! The feature matrix, handed to NumPy without a copy.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;

use super::errors::{guarded, internal_error, invalid_argument, run};
use super::frames::frame_in;
use crate::features;

/// The columns `numeric` then `one_hot` of `df` as a C-contiguous float32
/// array (see `dwcp_data.features`) and the array's column names. The array
/// owns the buffer the core filled: it is moved to NumPy, not copied. With
/// `out` (a writeable C-contiguous float32 array of the matrix's shape) the
/// values are written into `out`, which is returned.
#[pyfunction]
#[pyo3(signature = (df, enum_columns, numeric, one_hot, out=None))]
fn feature_matrix<'py>(
    py: Python<'py>,
    df: &Bound<'py, PyAny>,
    enum_columns: Vec<String>,
    numeric: Vec<String>,
    one_hot: Vec<String>,
    out: Option<Bound<'py, PyArray2<f32>>>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
    if out.is_none() {
        // Before the frame crosses over, which materializes constant columns.
        let rows = df.len()?;
        run(py, || features::ensure_room(rows, &numeric, &one_hot))?;
    }
    let df = guarded(py, "the frame", || df.extract::<PyDataFrame>())?;
    let Some(out) = out else {
        let matrix = run(py, || {
            features::matrix(&frame_in(df, &enum_columns)?, &numeric, &one_hot)
        })?;
        let shape = (matrix.rows, matrix.names.len());
        let array = Array2::from_shape_vec(shape, matrix.values)
            .map_err(|e| internal_error(py, &format!("the feature matrix is not rows × names: {e}")))?;
        return Ok((array.into_pyarray(py), matrix.names));
    };
    let names = {
        let mut view = out
            .try_readwrite()
            .map_err(|e| invalid_argument(py, "out", &format!("cannot be written to: {e}")))?;
        let shape = view.as_array().dim();
        let values = view
            .as_slice_mut()
            .map_err(|_| invalid_argument(py, "out", "must be C-contiguous"))?;
        run(py, || {
            features::matrix_into(&frame_in(df, &enum_columns)?, &numeric, &one_hot, values, shape)
        })?
    };
    Ok((out, names))
}

/// Adds the feature functions to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(feature_matrix, m)?)?;
    Ok(())
}
