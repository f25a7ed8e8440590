//! The Rust core of `dwcp-data`: the training-data pipeline for DWCP's ML
//! compression selector.
//!
//! Every pipeline stage is a plain Rust module that takes and returns polars
//! types and is tested with `cargo test`; `python` (feature `python`, which
//! maturin builds with) is the one thin layer that exposes them to Python as
//! `dwcp_data._core`.

pub mod cancel;
pub mod cleaning;
pub mod error;
pub mod features;
pub mod fs;
pub mod generator;
pub mod influx;
pub mod io;
pub mod labelling;
pub mod memory;
pub mod partial;
pub mod profile;
pub mod schema;
pub mod transfer;
pub mod validation;

#[cfg(feature = "python")]
mod python;

pub use error::{DwcpError, Result};
