//! Python values of the core's report types that are not plain structs (the
//! plain structs derive `IntoPyObject` and arrive as dicts keyed by their
//! field names; `_core.pyi` spells them out as `TypedDict`s).

use std::convert::Infallible;

use pyo3::prelude::*;

use pyo3::types::{PyDict, PyFloat, PyString, PyTuple};

use crate::cleaning::TimestampSource;
use crate::validation::{Observed, RuleResult};

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

impl<'py> IntoPyObject<'py> for RuleResult {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    /// A `dwcp_data.validation.RuleResult` (`examples` a tuple, as the
    /// frozen dataclass keeps it): the report's one shape, built here.
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let fields = PyDict::new(py);
        fields.set_item("rule", self.rule)?;
        fields.set_item("column", self.column)?;
        fields.set_item("description", self.description)?;
        fields.set_item("passed", self.passed)?;
        fields.set_item("observed", self.observed)?;
        fields.set_item("threshold", self.threshold)?;
        fields.set_item("failing_rows", self.failing_rows)?;
        fields.set_item("examples", PyTuple::new(py, self.examples)?)?;
        let class = py.import("dwcp_data.validation")?.getattr("RuleResult")?;
        class.call((), Some(&fields))
    }
}
