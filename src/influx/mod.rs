//! InfluxDB: encoding frames as line protocol, and parsing query responses
//! (InfluxQL CSV and Flux annotated CSV) back into the training schema.

mod http_body;
mod line_protocol;
mod response;

pub use http_body::{dechunk, read_body};
pub use line_protocol::{encode, MEASUREMENT, TAG_COLUMNS};
pub use response::{parse_csv, FIELD_ALIASES};
