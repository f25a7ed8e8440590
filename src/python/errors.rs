//! Maps core errors and panics onto the exception classes of `dwcp_data.errors`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::PyTypeInfo;

use crate::cancel;
use crate::error::{DwcpError, Result};

pyo3::import_exception!(dwcp_data.errors, DataError);
pyo3::import_exception!(dwcp_data.errors, InvalidArgumentError);
pyo3::import_exception!(dwcp_data.errors, InternalError);
pyo3::import_exception!(dwcp_data.errors, InsufficientMemoryError);

/// An instance of exception class `E` built as `E(message, **attributes)`,
/// where `attributes` fills the keyword arguments. Should building it fail,
/// that failure is returned instead (it still names the problem).
fn python_error<E: PyTypeInfo>(
    py: Python<'_>,
    message: &str,
    attributes: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        attributes(&kwargs)?;
        Ok(PyErr::from_value(
            E::type_object(py).call((message,), Some(&kwargs))?,
        ))
    };
    build().unwrap_or_else(|e| e)
}

/// `dwcp_data.errors.DataError` for `column` (`""` for none), `row` and `rule`.
fn data_error(py: Python<'_>, message: &str, column: &str, row: Option<usize>, rule: &str) -> PyErr {
    python_error::<DataError>(py, message, |kw| {
        kw.set_item("column", column)?;
        kw.set_item("row", row)?;
        kw.set_item("rule", rule)
    })
}

/// Runs an argument conversion `f`; a panic inside it (pyo3-polars meeting a
/// column type this build of polars lacks) becomes a `DataError` instead of
/// crossing into Python.
pub fn guarded<T>(py: Python<'_>, what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let text = format!("{what} holds a column of a type the dwcp_data core cannot take; cast or drop it");
        Err(data_error(py, &text, "", None, "schema_dtype"))
    })
}

/// `dwcp_data.errors.InvalidArgumentError` for parameter `param`.
pub fn invalid_argument(py: Python<'_>, param: &str, message: &str) -> PyErr {
    let text = format!("invalid argument `{param}`: {message}");
    python_error::<InvalidArgumentError>(py, &text, |kw| kw.set_item("param", param))
}

/// `dwcp_data.errors.InternalError`: the core broke one of its own invariants.
pub fn internal_error(py: Python<'_>, what: &str) -> PyErr {
    let text = format!("internal error in the dwcp_data core: {what}; please report it");
    python_error::<InternalError>(py, &text, |_| Ok(()))
}

/// The Python exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: DwcpError) -> PyErr {
    let text = err.to_string();
    match err {
        DwcpError::InvalidArgument { param, message } => invalid_argument(py, param, &message),
        DwcpError::Data {
            column, row, rule, ..
        } => data_error(py, &text, &column, row, rule),
        // polars refusing an operation in the core: a shape or type of the data it cannot take
        DwcpError::Polars(_) => data_error(py, &text, "", None, "polars"),
        DwcpError::Io(err) => err.into(),
        // the call saw a signal; `run` raises the signal's own exception instead
        DwcpError::Interrupted => PyKeyboardInterrupt::new_err(text),
        DwcpError::InsufficientMemory { needed, limit, .. } => {
            python_error::<InsufficientMemoryError>(py, &text, |kw| {
                kw.set_item("needed", needed)?;
                kw.set_item("limit", limit)
            })
        }
    }
}

/// How often a running call looks for a signal (Ctrl-C) to act on.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `f` without the GIL and turns its error, or a panic, into a
/// `dwcp_data` exception: a Rust panic never reaches Python as a crash.
///
/// `f` runs on a thread of its own while the calling thread checks for
/// signals every [`SIGNAL_POLL`]: when a signal handler raises (Ctrl-C's
/// `KeyboardInterrupt`, a timeout's exception) this call's computation is
/// cancelled (it stops at its next check, see [`crate::cancel`]) and the
/// handler's exception is raised, instead of waiting for the whole call to
/// finish. Calls running on other threads are not affected.
pub fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    let token = cancel::Token::new();
    let slot = (Mutex::new(None), Condvar::new());
    let outcome = std::thread::scope(|scope| {
        let for_call = token.clone();
        scope.spawn(|| {
            let outcome = catch_unwind(AssertUnwindSafe(|| cancel::within(for_call, f)));
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            slot.1.notify_all();
        });
        // The outcome, once the computation has finished within `SIGNAL_POLL`.
        let poll = || {
            py.detach(|| {
                let done = slot.0.lock().unwrap_or_else(PoisonError::into_inner);
                let (mut done, _) = slot
                    .1
                    .wait_timeout_while(done, SIGNAL_POLL, |o| o.is_none())
                    .unwrap_or_else(PoisonError::into_inner);
                done.take()
            })
        };
        loop {
            if let Some(outcome) = poll() {
                return Ok(outcome);
            }
            if let Err(interrupt) = py.check_signals() {
                token.cancel(); // this call only: other threads' calls run on
                while poll().is_none() {} // the computation stops at its next check
                return Err(interrupt);
            }
        }
    })?;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_pyerr(py, err)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(internal_error(py, &what))
        }
    }
}
