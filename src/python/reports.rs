//! Python values of the core's report types that are not plain structs (the
//! structs themselves derive `IntoPyObject` and arrive as dicts keyed by
//! their field names; `_core.pyi` spells them out as `TypedDict`s).

use std::convert::Infallible;

use pyo3::prelude::*;
use std::borrow::Cow;

use pyo3::types::{PyFloat, PyString, PyTuple};

use crate::cleaning::TimestampSource;
use crate::validation::Observed;

impl<'py> IntoPyObject<'py> for Observed {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = Infallible;

    /// A float, a str, or `None`.
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(match self {
            Self::Number(x) => PyFloat::new(py, x).into_any(),
            Self::Text(t) => PyString::new(py, &t).into_any(),
            Self::Nothing => py.None().into_bound(py),
        })
    }
}

impl<'py> IntoPyObject<'py> for TimestampSource {
    type Target = PyString;
    type Output = Bound<'py, PyString>;
    type Error = Infallible;

    /// How the timestamp arrived, in words.
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyString::new(py, &self.to_string()))
    }
}

/// A list field as a Python tuple (immutable, as the frozen Python reports keep it).
#[allow(clippy::owned_cow)] // the signature `into_py_with` requires
pub fn tuple_of<'py>(items: Cow<'_, Vec<u64>>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyTuple::new(py, items.iter())?.into_any())
}
