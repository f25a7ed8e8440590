//! The options objects of `dwcp_data.options` as the core reads them
//! (`FromPyObject`): every domain check of an option is here, once; the
//! Python classes hold the defaults and call `check_*_options` on creation.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use super::errors::invalid_argument;
use super::whole_number;
use crate::cleaning;
use crate::validation::{self, Profile};

/// A real number argument (bool is refused: `True` is not a number).
fn number(value: &Bound<'_, PyAny>, param: &'static str) -> PyResult<f64> {
    let x = if value.is_instance_of::<PyBool>() {
        None
    } else {
        value.extract::<f64>().ok()
    };
    x.ok_or_else(|| {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        invalid_argument(value.py(), param, &format!("expected a number, got {shown}"))
    })
}

/// A fraction argument in [0, 1].
fn fraction(value: &Bound<'_, PyAny>, param: &'static str) -> PyResult<f64> {
    let x = number(value, param)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        let message = format!("must be between 0 and 1, got {x}");
        Err(invalid_argument(value.py(), param, &message))
    }
}

/// Column names: one name, or a sequence of distinct names (at least one
/// unless `allow_empty`).
fn column_names(value: &Bound<'_, PyAny>, param: &'static str, allow_empty: bool) -> PyResult<Vec<String>> {
    let py = value.py();
    if let Ok(name) = value.cast::<PyString>() {
        return Ok(vec![name.to_string()]);
    }
    let names = value
        .extract::<Vec<String>>()
        .ok()
        .filter(|_| !value.is_instance_of::<pyo3::types::PyBytes>());
    let Some(names) = names else {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        let message = format!("expected a column name or a sequence of names, got {shown}");
        return Err(invalid_argument(py, param, &message));
    };
    if names.is_empty() && !allow_empty {
        return Err(invalid_argument(
            py,
            param,
            "must name at least one column, or be None",
        ));
    }
    let mut twice: Vec<&String> = names
        .iter()
        .enumerate()
        .filter(|(i, n)| names[..*i].contains(n))
        .map(|(_, n)| n)
        .collect();
    twice.sort();
    twice.dedup();
    if !twice.is_empty() {
        let listed: Vec<String> = twice.iter().map(|n| format!("'{n}'")).collect();
        let message = format!("names {} more than once", listed.join(", "));
        return Err(invalid_argument(py, param, &message));
    }
    Ok(names)
}

/// One of a few literal text choices, named by their Python `repr`s (and
/// `None`, which the caller checks, when `or_none`).
fn choice<T: Copy>(
    value: &Bound<'_, PyAny>,
    param: &'static str,
    choices: &[(&str, T)],
    or_none: bool,
) -> PyResult<T> {
    let text = value.cast::<PyString>().ok().map(|s| s.to_string());
    if let Some(&(_, chosen)) = choices.iter().find(|(name, _)| text.as_deref() == Some(*name)) {
        return Ok(chosen);
    }
    // Python's None is checked by the caller before: the text "None" is no choice
    let mut names: Vec<String> = choices.iter().map(|(n, _)| format!("'{n}'")).collect();
    if or_none {
        names.push("None".to_string());
    }
    let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
    let message = format!("must be {}, got {shown}", names.join(" or "));
    Err(invalid_argument(value.py(), param, &message))
}

impl<'a, 'py> FromPyObject<'a, 'py> for Profile {
    type Error = PyErr;

    /// `"document"` or `"strict"`.
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        choice(
            &obj,
            "profile",
            &[("document", Profile::Document), ("strict", Profile::Strict)],
            false,
        )
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for validation::Options {
    type Error = PyErr;

    /// A `dwcp_data.ValidationOptions` (any object with its attributes).
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(validation::Options {
            profile: obj.getattr("profile")?.extract()?,
            min_rows: whole_number(&obj.getattr("min_rows")?, "min_rows", i128::from(u64::MAX))?,
            max_missing_fraction: fraction(&obj.getattr("max_missing_fraction")?, "max_missing_fraction")?,
            min_class_share: fraction(&obj.getattr("min_class_share")?, "min_class_share")?,
            now_us: obj.getattr("now_us")?.extract()?,
            // up to every row: ValidationReport.failure_cases asks for all of them
            max_examples: whole_number(
                &obj.getattr("max_examples")?,
                "max_examples",
                i128::from(u32::MAX),
            )?,
        })
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for cleaning::Options {
    type Error = PyErr;

    /// A `dwcp_data.CleaningOptions` (any object with its attributes).
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let dedupe = obj.getattr("dedupe")?;
        if !dedupe.is_instance_of::<PyBool>() {
            let message = format!("must be True or False, got {}", dedupe.repr()?);
            return Err(invalid_argument(py, "dedupe", &message));
        }
        let iqr_k = number(&obj.getattr("iqr_k")?, "iqr_k")?;
        if !(iqr_k.is_finite() && iqr_k >= 0.0) {
            let message = format!("must be a finite number >= 0, got {iqr_k}");
            return Err(invalid_argument(py, "iqr_k", &message));
        }
        let by = obj.getattr("by")?;
        let impute = obj.getattr("impute")?;
        Ok(cleaning::Options {
            dedupe: dedupe.is_truthy()?,
            outlier_columns: column_names(&obj.getattr("outlier_columns")?, "outlier_columns", true)?,
            iqr_k,
            by: if by.is_none() {
                None
            } else {
                Some(column_names(&by, "by", false)?)
            },
            impute_median: if impute.is_none() {
                false
            } else {
                choice(&impute, "impute", &[("median", true)], true)?
            },
        })
    }
}

/// Checks validation options; raises `InvalidArgumentError` naming the first bad one.
#[pyfunction]
fn check_validation_options(options: validation::Options) {
    let _ = options; // extracting it was the check
}

/// Checks cleaning options and gives their column names as lists:
/// `(outlier_columns, by)`.
#[pyfunction]
fn check_cleaning_options(options: cleaning::Options) -> (Vec<String>, Option<Vec<String>>) {
    (options.outlier_columns, options.by)
}

/// Registers this module's functions on `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_validation_options, m)?)?;
    m.add_function(wrap_pyfunction!(check_cleaning_options, m)?)?;
    Ok(())
}
