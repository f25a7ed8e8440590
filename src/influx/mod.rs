//! InfluxDB: encoding frames as line protocol, and parsing query responses
//! (InfluxQL CSV and Flux annotated CSV) back into the training schema.

mod http_body;
mod line_protocol;
mod response;
#[cfg(unix)]
mod socket_body;

pub use http_body::dechunk;
pub use line_protocol::{check, encode, MAX_SERIES_KEY_BYTES, MEASUREMENT, TAG_COLUMNS};
pub use response::{parse_csv, FIELD_ALIASES};
#[cfg(unix)]
pub use socket_body::read_body;
