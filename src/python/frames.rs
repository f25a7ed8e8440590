//! Frames crossing the boundary.
//!
//! pyo3-polars moves Enum columns as Arrow dictionaries and rebuilds them row
//! by row. To keep every column zero-copy, Enum columns of the schema cross as
//! their UInt8 codes, named alongside the frame: Python sends `to_physical()`
//! codes and [`frame_in`] rewraps them; [`frame_out`] sends codes and Python
//! rewraps them (`dwcp_data._frames.from_core`).

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

/// The frame to hand to Python, with the schema's Enum columns replaced by
/// their UInt8 codes (sharing their buffers), and the names of those columns.
pub fn frame_out(mut df: DataFrame) -> Result<(PyDataFrame, Vec<String>)> {
    let enums: Vec<String> = df
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::Enum(..)) && schema::spec(c.name()).is_some())
        .map(|c| c.name().to_string())
        .collect();
    for name in &enums {
        let codes = df
            .column(name)?
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        df.with_column(codes.into_column())?;
    }
    Ok((PyDataFrame(df), enums))
}
