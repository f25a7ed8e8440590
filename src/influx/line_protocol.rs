//! Line protocol: `measurement,tag=v,... field=1.5,count=3i 1700000000000000000`.

use std::io::Write;

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};

/// The measurement every metric is written to.
pub const MEASUREMENT: &str = "compression_metrics";
/// Columns written as tags by default (the design document's five, plus the node ids).
pub const TAG_COLUMNS: [&str; 7] = [
    "region",
    "az",
    "link_type",
    "data_type",
    "current_compression",
    "node_id",
    "peer_id",
];

/// Rows encoded per parallel task.
const BLOCK: usize = 4096;

/// How one column is written.
enum Writer {
    Tag(StringChunked),
    Text(StringChunked),
    Float(Float64Chunked),
    Int(Int64Chunked),
}

/// Appends `text` with line protocol's escapes for tag keys, tag values and
/// field keys (`,`, `=` and space take a backslash).
fn escaped(out: &mut Vec<u8>, text: &str) {
    escaped_with(out, text, |b| matches!(b, b',' | b'=' | b' ' | b'\\'));
}

/// Appends `text` as a quoted string field value (`"` and `\` take a backslash).
fn quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    escaped_with(out, text, |b| matches!(b, b'"' | b'\\'));
    out.push(b'"');
}

/// Appends `text`, with a backslash before every byte `special` picks.
fn escaped_with(out: &mut Vec<u8>, text: &str, special: impl Fn(u8) -> bool) {
    for &b in text.as_bytes() {
        if special(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// `df` as line protocol, one line per row with at least one field, and the
/// number of rows skipped because every field was null.
///
/// `timestamp` (Datetime) becomes the point's time in ns; the `tags` present
/// in `df` become tags (empty and null tags are left out, as InfluxDB
/// requires); every other column becomes a field: integers with the `i`
/// suffix, floats in their shortest exact form, text quoted, nulls left out.
pub fn encode(df: &DataFrame, tags: &[&str]) -> Result<(Vec<u8>, usize)> {
    let time = df.column("timestamp").map_err(|_| DwcpError::Data {
        column: "timestamp".into(),
        row: None,
        rule: "line_protocol",
        message: "points need a timestamp column".into(),
    })?;
    let time = time.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))?;
    let time = time.datetime()?.physical().rechunk().into_owned();

    let mut writers: Vec<(String, Writer)> = Vec::new();
    for column in df.columns() {
        let name = column.name().as_str();
        if name == "timestamp" {
            continue;
        }
        let dtype = column.dtype();
        let text =
            || -> Result<StringChunked> { Ok(column.cast(&DataType::String)?.str()?.rechunk().into_owned()) };
        let writer = if tags.contains(&name) {
            Writer::Tag(text()?)
        } else if matches!(
            dtype,
            DataType::String | DataType::Enum(..) | DataType::Categorical(..)
        ) {
            Writer::Text(text()?)
        } else if dtype.is_integer() {
            Writer::Int(column.cast(&DataType::Int64)?.i64()?.rechunk().into_owned())
        } else if dtype.is_float() {
            Writer::Float(column.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
        } else {
            return Err(DwcpError::Data {
                column: name.to_string(),
                row: None,
                rule: "line_protocol",
                message: format!("only text and numeric columns can be written, found {dtype}"),
            });
        };
        let mut key = Vec::new();
        escaped(&mut key, name);
        writers.push((String::from_utf8_lossy(&key).into_owned(), writer));
    }
    // Tags first, in key order (InfluxDB's preferred form).
    writers.sort_by_key(|(name, w)| (!matches!(w, Writer::Tag(_)), name.clone()));

    let parts: Vec<Result<(Vec<u8>, usize)>> = (0..df.height().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut out = Vec::with_capacity(BLOCK * 400);
            let mut skipped = 0;
            for row in b * BLOCK..((b + 1) * BLOCK).min(df.height()) {
                let Some(ns) = time.get(row) else {
                    return Err(DwcpError::Data {
                        column: "timestamp".into(),
                        row: Some(row),
                        rule: "line_protocol",
                        message: "a point needs a time".into(),
                    });
                };
                let start = out.len();
                out.extend_from_slice(MEASUREMENT.as_bytes());
                for (key, writer) in &writers {
                    if let Writer::Tag(ca) = writer {
                        if let Some(v) = ca.get(row).filter(|v| !v.is_empty()) {
                            out.push(b',');
                            out.extend_from_slice(key.as_bytes());
                            out.push(b'=');
                            escaped(&mut out, v);
                        }
                    }
                }
                let mut separator = b' ';
                for (key, writer) in &writers {
                    let value_start = out.len();
                    out.push(separator);
                    out.extend_from_slice(key.as_bytes());
                    out.push(b'=');
                    let written = match writer {
                        Writer::Tag(_) => false,
                        Writer::Float(ca) => ca
                            .get(row)
                            .filter(|v| v.is_finite())
                            .map(|v| write!(out, "{v:?}"))
                            .is_some(),
                        Writer::Int(ca) => ca.get(row).map(|v| write!(out, "{v}i")).is_some(),
                        Writer::Text(ca) => ca.get(row).map(|v| quoted(&mut out, v)).is_some(),
                    };
                    if written {
                        separator = b',';
                    } else {
                        out.truncate(value_start);
                    }
                }
                if separator == b' ' {
                    out.truncate(start);
                    skipped += 1;
                    continue;
                }
                let _ = writeln!(out, " {ns}");
            }
            Ok((out, skipped))
        })
        .collect();
    let mut body = Vec::new();
    let mut skipped = 0;
    for part in parts {
        let (bytes, s) = part?;
        body.extend_from_slice(&bytes);
        skipped += s;
    }
    Ok((body, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `df` with its `timestamp` (µs since the epoch) as a UTC Datetime.
    fn with_utc_time(mut df: DataFrame) -> DataFrame {
        let utc = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
        let ts = df.column("timestamp").unwrap().cast(&utc).unwrap();
        df.with_column(ts).unwrap();
        df
    }

    #[test]
    fn encodes_tags_fields_and_time() {
        let df = df!(
            "timestamp" => [1_700_000_000_000_000i64, 1_700_000_001_000_000],
            "region" => ["us east", ""],
            "rtt_ms" => [Some(1.5), None],
            "data_size_bytes" => [Some(10i64), None],
        )
        .unwrap();
        let df = with_utc_time(df);
        let (body, skipped) = encode(&df, &TAG_COLUMNS).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "compression_metrics,region=us\\ east data_size_bytes=10i,rtt_ms=1.5 1700000000000000000\n"
        );
        assert_eq!(skipped, 1);
    }

    #[test]
    fn text_outside_the_tags_becomes_quoted_string_fields() {
        let df = df!(
            "timestamp" => [1_700_000_000_000_000i64],
            "region" => ["eu"],
            "node_id" => ["n \"1\" \\ x"],
        )
        .unwrap();
        let df = with_utc_time(df);
        let (body, skipped) = encode(&df, &["region"]).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "compression_metrics,region=eu node_id=\"n \\\"1\\\" \\\\ x\" 1700000000000000000\n"
        );
        assert_eq!(skipped, 0);
    }
}
