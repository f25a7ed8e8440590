//! The error type shared by every pipeline stage.

use polars::prelude::PolarsError;

/// Everything that can go wrong in the core. The binding layer maps each
/// variant onto a `dwcp_data.errors` exception.
#[derive(Debug, thiserror::Error)]
pub enum DwcpError {
    /// A caller passed an argument outside its domain.
    #[error("invalid argument `{param}`: {message}")]
    InvalidArgument {
        /// The parameter's name as the caller spells it.
        param: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A value in the data breaks a rule of the schema or of a stage.
    #[error("column `{column}`{}: {message} (rule `{rule}`)", row.map(|r| format!(", row {r}")).unwrap_or_default())]
    Data {
        /// The offending column.
        column: String,
        /// The offending row (0-based), where one row is to blame.
        row: Option<usize>,
        /// The rule that was broken.
        rule: &'static str,
        /// What was found.
        message: String,
    },
    /// An error raised inside polars.
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// Reading from or writing to the operating system failed (a socket, a file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The computation was cancelled (Ctrl-C in Python, see [`crate::cancel`]).
    #[error("interrupted")]
    Interrupted,
    /// A stage would need more memory than the process could ever hold (see
    /// [`crate::memory::ensure_room`]); refused before anything is allocated.
    #[error("{message}")]
    InsufficientMemory {
        /// Bytes the stage would allocate.
        needed: u64,
        /// The most memory the process could hold, in bytes.
        limit: u64,
        /// What needs the memory, how much, and what to do instead.
        message: String,
    },
}

impl DwcpError {
    /// Shorthand for [`DwcpError::InvalidArgument`].
    pub fn invalid_argument(param: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            param,
            message: message.into(),
        }
    }
}

/// The result type of the core.
pub type Result<T> = std::result::Result<T, DwcpError>;
