//! Query responses into the training schema: InfluxQL's CSV (`Accept:
//! application/csv`, times in epoch ns) and Flux's annotated CSV (RFC 3339
//! `_time`), with the stored field names mapped onto the schema's.

use std::borrow::Cow;

use polars::prelude::*;

use crate::cleaning::parse_iso8601;
use crate::error::{DwcpError, Result};
use crate::schema::{self, Kind, SCHEMA};

/// Stored names that differ from the schema's: the design document's Go
/// collector writes `bandwidth_mbps` and `compressibility`.
pub const FIELD_ALIASES: [(&str, &str); 4] = [
    ("bandwidth_mbps", "available_bandwidth_mbps"),
    ("compressibility", "compressibility_score"),
    ("time", "timestamp"),
    ("_time", "timestamp"),
];

/// One schema column being built.
enum Builder {
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Text(StringChunkedBuilder),
    Code(PrimitiveChunkedBuilder<UInt8Type>, &'static [&'static str]),
    Time(PrimitiveChunkedBuilder<Int64Type>),
}

/// Splits one CSV line into fields (`"…"` quoting with `""` for a quote).
fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    if memchr::memchr(b'"', line.as_bytes()).is_none() {
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', line.as_bytes()) {
            out.push(Cow::Borrowed(&line[start..comma]));
            start = comma + 1;
        }
        out.push(Cow::Borrowed(&line[start..]));
        return;
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        if bytes.get(i) == Some(&b'"') {
            let mut value = String::new();
            let mut j = i + 1;
            while j < bytes.len() {
                if bytes[j] == b'"' {
                    if bytes.get(j + 1) == Some(&b'"') {
                        value.push('"');
                        j += 2;
                        continue;
                    }
                    break;
                }
                let ch_end = j + line[j..].chars().next().map_or(1, char::len_utf8);
                value.push_str(&line[j..ch_end]);
                j = ch_end;
            }
            out.push(Cow::Owned(value));
            i = j + 1;
            if bytes.get(i) == Some(&b',') {
                i += 1;
                continue;
            }
            return;
        }
        match memchr::memchr(b',', &bytes[i..]) {
            Some(k) => {
                out.push(Cow::Borrowed(&line[i..i + k]));
                i += k + 1;
            }
            None => {
                out.push(Cow::Borrowed(&line[i..]));
                return;
            }
        }
    }
}

fn bad(column: &str, row: usize, message: String) -> DwcpError {
    DwcpError::Data {
        column: column.to_string(),
        row: Some(row),
        rule: "influx_response",
        message,
    }
}

impl Builder {
    fn new(name: &str, kind: Kind, capacity: usize) -> Self {
        let name = name.into();
        match kind {
            Kind::Float => Self::Float(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Int => Self::Int(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Text => Self::Text(StringChunkedBuilder::new(name, capacity)),
            Kind::Enum(categories) => Self::Code(PrimitiveChunkedBuilder::new(name, capacity), categories),
            Kind::Timestamp => Self::Time(PrimitiveChunkedBuilder::new(name, capacity)),
        }
    }

    /// Appends one value (`None` or empty: null), parsed for the column's type.
    fn push(&mut self, column: &str, row: usize, value: Option<&str>) -> Result<()> {
        let Some(t) = value.filter(|v| !v.is_empty()) else {
            match self {
                Self::Float(b) => b.append_null(),
                Self::Int(b) => b.append_null(),
                Self::Text(b) => b.append_null(),
                Self::Code(b, _) => b.append_null(),
                Self::Time(_) => return Err(bad(column, row, "a point without a time".into())),
            }
            return Ok(());
        };
        match self {
            Self::Float(b) => b.append_value(
                fast_float2::parse(t).map_err(|_| bad(column, row, format!("{t:?} is not a number")))?,
            ),
            Self::Int(b) => b.append_value(
                t.parse()
                    .map_err(|_| bad(column, row, format!("{t:?} is not a whole number")))?,
            ),
            Self::Text(b) => b.append_value(t),
            Self::Code(b, categories) => b.append_value(
                categories
                    .iter()
                    .position(|c| *c == t)
                    .map(|p| p as u8)
                    .ok_or_else(|| {
                        bad(
                            column,
                            row,
                            format!("{t:?} is not one of {}", categories.join(", ")),
                        )
                    })?,
            ),
            Self::Time(b) => b.append_value(match t.parse::<i64>() {
                Ok(ns) => ns.div_euclid(1000),
                Err(_) => parse_iso8601(t).ok_or_else(|| bad(column, row, format!("{t:?} is not a time")))?,
            }),
        }
        Ok(())
    }

    fn finish(self) -> Result<Column> {
        Ok(match self {
            Self::Float(b) => b.finish().into_column(),
            Self::Int(b) => b.finish().into_column(),
            Self::Text(b) => b.finish().into_column(),
            Self::Code(b, categories) => schema::enum_from_codes(b.finish(), categories)?,
            Self::Time(b) => b
                .finish()
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
        })
    }
}

/// The schema's index of `timestamp`, which every answer must carry.
const TIME: usize = 0;

/// The schema column a stored column name maps to, if any.
fn schema_index(name: &str) -> Option<usize> {
    let name = FIELD_ALIASES
        .iter()
        .find(|(from, _)| *from == name)
        .map_or(name, |(_, to)| *to);
    SCHEMA.iter().position(|c| c.name == name)
}

/// A query response (InfluxQL CSV or Flux annotated CSV) as a frame with
/// exactly the schema's columns and types; columns the response lacks are null.
///
/// Annotation lines (`#…`) are skipped; the first line of each block (after a
/// blank line or annotations, or any line starting `name,tags,time`) is a header.
pub fn parse_csv(body: &[u8]) -> Result<DataFrame> {
    let text = std::str::from_utf8(body).map_err(|e| DwcpError::Data {
        column: String::new(),
        row: None,
        rule: "influx_response",
        message: format!("the response is not UTF-8: {e}"),
    })?;
    // Rows expected: one per line, less headers and annotations.
    let capacity = memchr::memchr_iter(b'\n', body).count() + 1;
    let mut builders: Vec<Builder> = SCHEMA
        .iter()
        .map(|c| Builder::new(c.name, c.kind, capacity))
        .collect();
    // Per schema column, the fields that hold it, in header order: stored
    // names that map to one column (the collector's `bandwidth_mbps` next to
    // `available_bandwidth_mbps`) are coalesced, the first value present wins.
    let mut sources: Vec<Vec<usize>> = vec![Vec::new(); SCHEMA.len()];
    let mut width = 0;
    let mut fields: Vec<Cow<str>> = Vec::new();
    let mut expect_header = true;
    let mut rows = 0usize;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || line.starts_with('#') {
            expect_header = true;
            continue;
        }
        split_fields(line, &mut fields);
        if expect_header || line.starts_with("name,tags,time") {
            sources.iter_mut().for_each(Vec::clear);
            for (k, name) in fields.iter().enumerate() {
                if let Some(i) = schema_index(name) {
                    sources[i].push(k);
                }
            }
            if sources[TIME].is_empty() {
                let start: String = line.chars().take(120).collect();
                return Err(DwcpError::Data {
                    column: "timestamp".into(),
                    row: None,
                    rule: "influx_response",
                    message: format!("not an InfluxDB answer: a header without a time column: {start:?}"),
                });
            }
            width = fields.len();
            expect_header = false;
            continue;
        }
        if fields.len() != width {
            return Err(bad(
                "",
                rows,
                format!(
                    "{} fields where the header has {width} (a cut or malformed answer)",
                    fields.len(),
                ),
            ));
        }
        for ((builder, column), from) in builders.iter_mut().zip(SCHEMA.iter()).zip(&sources) {
            let value = from.iter().map(|&k| fields[k].as_ref()).find(|v| !v.is_empty());
            builder.push(column.name, rows, value)?;
        }
        rows += 1;
    }
    let columns = builders
        .into_iter()
        .map(Builder::finish)
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(rows, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of float column `name`.
    fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
        df.column(name).unwrap().f64().unwrap().iter().collect()
    }

    #[test]
    fn influxql_csv_with_document_field_names() {
        let body = "name,tags,time,bandwidth_mbps,link_type,region,rtt_ms\n\
                    compression_metrics,,1700000000000000000,450,dc,\"us,east\",1.5\n\
                    compression_metrics,,1700000001000000000,,wan,eu,\n";
        let df = parse_csv(body.as_bytes()).unwrap();
        assert_eq!(df.width(), 33);
        assert_eq!(df.height(), 2);
        assert_eq!(floats(&df, "available_bandwidth_mbps"), [Some(450.0), None]);
        let region = df.column("region").unwrap().str().unwrap().get(0);
        assert_eq!(region, Some("us,east"));
        assert_eq!(df.column("node_id").unwrap().null_count(), 2);
        let t = df
            .column("timestamp")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(1);
        assert_eq!(t, Some(1_700_000_001_000_000));
    }

    #[test]
    fn flux_annotated_csv_with_two_tables() {
        let body = "#datatype,string,long,dateTime:RFC3339,double\n#group,false,false,false,false\n\
                    #default,_result,,,\n,result,table,_time,rtt_ms\n,,0,2023-11-14T22:13:20Z,1.5\n\n\
                    #datatype,string,long,dateTime:RFC3339,double\n,result,table,_time,rtt_ms\n,,1,2023-11-14T22:13:21Z,2.5\n";
        let df = parse_csv(body.as_bytes()).unwrap();
        assert_eq!(floats(&df, "rtt_ms"), [Some(1.5), Some(2.5)]);
    }

    #[test]
    fn answers_that_are_not_influxdb_csv_are_refused() {
        for (body, needle) in [
            ("not,influx\n1,2\n", "without a time column"),
            ("<html><body>proxy error</body></html>", "without a time column"),
            (
                "name,tags,time,rtt_ms\nm,,1,1.5\nm,,2\n",
                "row 1: 3 fields where the header has 4",
            ),
            ("name,tags,time,rtt_ms\nm,,,1.5\n", "a point without a time"),
        ] {
            let err = parse_csv(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(needle), "{body:?}: {err}");
        }
        assert_eq!(parse_csv(b"").unwrap().height(), 0);
        assert_eq!(SCHEMA[TIME].name, "timestamp");
    }

    #[test]
    fn both_names_of_a_field_are_coalesced() {
        // The collector's points next to a backfill written under the schema's names.
        let body = "name,tags,time,available_bandwidth_mbps,bandwidth_mbps\n\
                    m,,1,,450\nm,,2,300,\nm,,3,,\n";
        let df = parse_csv(body.as_bytes()).unwrap();
        assert_eq!(
            floats(&df, "available_bandwidth_mbps"),
            [Some(450.0), Some(300.0), None]
        );
    }

    #[test]
    fn unknown_categories_name_their_row() {
        let body = "name,tags,time,link_type\nm,,1,dc\nm,,2,satellite\n";
        let err = parse_csv(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("satellite"), "{err}");
    }
}
