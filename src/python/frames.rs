//! Frames crossing the boundary.
//!
//! pyo3-polars moves Enum columns as Arrow dictionaries and rebuilds them row
//! by row. To keep every column zero-copy, Python hands Enum columns of the
//! schema over as their UInt8 codes (`to_physical()`), naming them; here they
//! become Enum columns again, sharing the codes' buffer.

use polars::prelude::*;
use pyo3_polars::PyDataFrame;

use crate::error::{DwcpError, Result};
use crate::schema::{self, Kind};

/// The frame Python passed, with the named code columns turned back into the
/// schema's Enum columns.
pub fn frame_in(df: PyDataFrame, enum_columns: &[String]) -> Result<DataFrame> {
    let mut df = df.0;
    for name in enum_columns {
        let Some(Kind::Enum(categories)) = schema::spec(name).map(|c| c.kind) else {
            return Err(DwcpError::invalid_argument(
                "enum_columns",
                format!("`{name}` is not an Enum column of the schema"),
            ));
        };
        let codes = df.column(name)?.as_materialized_series().u8()?.clone();
        df.with_column(schema::enum_from_codes(codes, categories)?)?;
    }
    Ok(df)
}
