//! The binding of `crate::profile`: a data profile, computed per block by
//! `dwcp_data.profiles` on any engine and merged on the driver.

use pyo3::prelude::*;

use super::errors::run;
use super::frames::frame_in;
use crate::error::DwcpError;
use crate::profile;

/// A data set's profile (see `crate::profile::Profile`).
#[pyclass(module = "dwcp_data._core", name = "Profile", frozen)]
pub struct PyProfile {
    profile: profile::Profile,
}

#[pymethods]
impl PyProfile {
    /// The profile of a frame (a block), per group of `by` (empty: pooled).
    #[staticmethod]
    fn of(
        py: Python<'_>,
        df: &Bound<'_, PyAny>,
        enum_columns: Vec<String>,
        by: Vec<String>,
    ) -> PyResult<Self> {
        let df = super::errors::guarded(py, "the frame", || df.extract::<pyo3_polars::PyDataFrame>())?;
        let profile = run(py, || profile::Profile::of(&frame_in(df, &enum_columns)?, &by))?;
        Ok(Self { profile })
    }

    /// This profile followed by `later`'s (the next blocks'), as one.
    fn then(&self, later: &Self) -> Self {
        let mut profile = self.profile.clone();
        profile.merge(&later.profile);
        Self { profile }
    }

    /// The drift from `reference` to this profile, column by column and
    /// group by group (`crate::profile::drift::profile_drift`), as JSON text.
    fn drift_json(&self, py: Python<'_>, reference: &Self) -> PyResult<String> {
        let (current, reference) = (&self.profile, &reference.profile);
        run(py, || {
            let rows = profile::drift::profile_drift(reference, current);
            serde_json::to_string(&rows).map_err(|e| DwcpError::invalid_argument("profile", e.to_string()))
        })
    }

    /// The profile as JSON text.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        let profile = &self.profile;
        run(py, || {
            serde_json::to_string(profile).map_err(|e| DwcpError::invalid_argument("profile", e.to_string()))
        })
    }

    /// A profile from the JSON text [`PyProfile::to_json`] made.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let profile = run(py, || {
            serde_json::from_str(text)
                .map_err(|e| DwcpError::invalid_argument("profile", format!("not a profile: {e}")))
        })?;
        Ok(Self { profile })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = slf.get_type().getattr("from_json")?;
        Ok((from_json, (slf.get().to_json(py)?,)))
    }
}

/// Registers the class on `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProfile>()
}
