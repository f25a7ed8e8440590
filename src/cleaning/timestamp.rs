//! Normalising the `timestamp` column to `Datetime(us, UTC)`.

use chrono::DateTime;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};

/// Rows parsed per parallel task.
const BLOCK: usize = 1 << 14;
const RULE: &str = "timestamp_format";

/// How the timestamp column arrived, for the cleaning report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// Already `Datetime(us, UTC)`.
    Unchanged,
    /// Another Datetime type (naive ones are taken as UTC; ns are truncated to µs).
    Datetime(String),
    /// ISO 8601 / RFC 3339 strings with `Z` or an offset.
    Text,
    /// Integers: nanoseconds since the Unix epoch.
    EpochNanoseconds,
}

impl std::fmt::Display for TimestampSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unchanged => f.write_str("unchanged"),
            Self::Datetime(dtype) => write!(f, "converted from {dtype}"),
            Self::Text => f.write_str("parsed from ISO 8601 strings"),
            Self::EpochNanoseconds => f.write_str("converted from epoch nanoseconds"),
        }
    }
}

/// `column` as `Datetime(us, UTC)`, and how it was given.
///
/// Fails with a [`DwcpError::Data`] naming the first row that is not a
/// timestamp, and its text.
pub fn to_utc_micros(column: &Column) -> Result<(Column, TimestampSource)> {
    let name = column.name().clone();
    let series = column.as_materialized_series();
    let (micros, source) = match series.dtype() {
        DataType::Datetime(TimeUnit::Microseconds, Some(tz)) if *tz == TimeZone::UTC => {
            return Ok((column.clone(), TimestampSource::Unchanged))
        }
        dtype @ DataType::Datetime(unit, _) => {
            let physical = series.to_physical_repr().i64()?.clone();
            let micros = match unit {
                TimeUnit::Nanoseconds => physical.apply_values(|v| v.div_euclid(1000)),
                TimeUnit::Microseconds => physical,
                TimeUnit::Milliseconds => physical.apply_values(|v| v.saturating_mul(1000)),
            };
            (micros, TimestampSource::Datetime(dtype.to_string()))
        }
        DataType::String => (parse_strings(series.str()?)?, TimestampSource::Text),
        dtype if dtype.is_integer() => {
            let ns = series.cast(&DataType::Int64)?;
            (
                ns.i64()?.apply_values(|v| v.div_euclid(1000)),
                TimestampSource::EpochNanoseconds,
            )
        }
        dtype => {
            return Err(DwcpError::Data {
                column: name.to_string(),
                row: None,
                rule: RULE,
                message: format!("expected datetimes, ISO 8601 strings or epoch nanoseconds, found {dtype}"),
            })
        }
    };
    let out = micros
        .with_name(name)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    Ok((out.into_series().into_column(), source))
}

/// µs since the epoch of an ISO 8601 timestamp with a zone: RFC 3339
/// (`2025-11-14T12:34:56Z`, `…+01:00`), or `+0100`-style offsets as polars
/// writes them, with `T` or a space, with or without fractions of a second.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Parses ISO 8601 strings (see [`parse_iso8601`]) into µs since the epoch, in parallel.
fn parse_strings(strings: &StringChunked) -> Result<Int64Chunked> {
    let values: Vec<Option<&str>> = strings.iter().collect();
    // Outer `None`: the text is not a timestamp; inner `None`: a null.
    let parsed: Vec<Option<Option<i64>>> = values
        .par_iter()
        .with_min_len(BLOCK)
        .map(|v| match v {
            None => Some(None),
            Some(text) => parse_iso8601(text).map(Some),
        })
        .collect();
    if let Some(row) = parsed.iter().position(Option::is_none) {
        return Err(DwcpError::Data {
            column: strings.name().to_string(),
            row: Some(row),
            rule: RULE,
            message: format!(
                "cannot parse {:?} as an ISO 8601 timestamp with a zone (e.g. 2025-11-14T12:34:56Z)",
                values[row].unwrap_or_default()
            ),
        });
    }
    Ok(Int64Chunked::from_iter_options(
        strings.name().clone(),
        parsed.into_iter().flatten(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_zones_and_epoch_nanoseconds() {
        let c = Column::new(
            "timestamp".into(),
            [
                Some("2025-11-14T12:34:56Z"),
                None,
                Some("2025-11-14T13:34:56.5+01:00"),
                Some("2025-11-14T12:34:56.000000+0000"),
                Some("2025-11-14 12:34:56+00:00"),
            ],
        );
        let (out, source) = to_utc_micros(&c).unwrap();
        assert_eq!(source, TimestampSource::Text);
        let us: Vec<Option<i64>> = out.datetime().unwrap().physical().iter().collect();
        let t = Some(1_763_123_696_000_000);
        assert_eq!(us, [t, None, Some(1_763_123_696_500_000), t, t]);

        let ns = Column::new("timestamp".into(), [1_763_123_696_000_000_999i64]);
        let (out, _) = to_utc_micros(&ns).unwrap();
        assert_eq!(
            out.datetime().unwrap().physical().get(0),
            Some(1_763_123_696_000_000)
        );
    }

    #[test]
    fn a_bad_string_names_its_row_and_text() {
        let c = Column::new("timestamp".into(), ["2025-11-14T12:34:56Z", "yesterday"]);
        let err = to_utc_micros(&c).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("yesterday"), "{err}");
    }
}
