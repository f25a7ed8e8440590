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
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Code(Vec<Option<u8>>, &'static [&'static str]),
    Time(Vec<Option<i64>>),
}

/// Splits one CSV line into fields (`"…"` quoting with `""` for a quote).
fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
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
        match line[i..].find(',') {
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
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Float => Self::Float(Vec::new()),
            Kind::Int => Self::Int(Vec::new()),
            Kind::Text => Self::Text(Vec::new()),
            Kind::Enum(categories) => Self::Code(Vec::new(), categories),
            Kind::Timestamp => Self::Time(Vec::new()),
        }
    }

    fn push(&mut self, column: &str, row: usize, value: Option<&str>) -> Result<()> {
        let value = value.filter(|v| !v.is_empty());
        match self {
            Self::Float(v) => v.push(match value {
                None => None,
                Some(t) => Some(
                    t.parse()
                        .map_err(|_| bad(column, row, format!("{t:?} is not a number")))?,
                ),
            }),
            Self::Int(v) => v.push(match value {
                None => None,
                Some(t) => Some(
                    t.parse()
                        .map_err(|_| bad(column, row, format!("{t:?} is not a whole number")))?,
                ),
            }),
            Self::Text(v) => v.push(value.map(str::to_string)),
            Self::Code(v, categories) => v.push(match value {
                None => None,
                Some(t) => Some(
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
            }),
            Self::Time(v) => v.push(match value {
                None => return Err(bad(column, row, "a point without a time".into())),
                Some(t) => Some(match t.parse::<i64>() {
                    Ok(ns) => ns.div_euclid(1000),
                    Err(_) => {
                        parse_iso8601(t).ok_or_else(|| bad(column, row, format!("{t:?} is not a time")))?
                    }
                }),
            }),
        }
        Ok(())
    }

    fn finish(self, name: &str) -> Result<Column> {
        Ok(match self {
            Self::Float(v) => Float64Chunked::from_iter_options(name.into(), v.into_iter()).into_column(),
            Self::Int(v) => Int64Chunked::from_iter_options(name.into(), v.into_iter()).into_column(),
            Self::Text(v) => StringChunked::from_iter_options(name.into(), v.into_iter()).into_column(),
            Self::Code(v, categories) => schema::enum_from_codes(
                UInt8Chunked::from_iter_options(name.into(), v.into_iter()),
                categories,
            )?,
            Self::Time(v) => Int64Chunked::from_iter_options(name.into(), v.into_iter())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
        })
    }
}

/// The body of an HTTP response sent with `Transfer-Encoding: chunked`, from
/// its raw bytes (chunk sizes in hex, CRLFs, the last chunk of size 0 and
/// optional trailers). An answer cut before its last chunk is an error.
pub fn dechunk(raw: &[u8]) -> Result<Vec<u8>> {
    let cut = |message: String| DwcpError::Data {
        column: String::new(),
        row: None,
        rule: "http_chunked",
        message,
    };
    let mut body = Vec::with_capacity(raw.len());
    let mut pos = 0;
    loop {
        let line_end = raw[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| cut(format!("the answer was cut after {} bytes", body.len())))?;
        let line = std::str::from_utf8(&raw[pos..pos + line_end]).unwrap_or("");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| cut(format!("{line:?} is not a chunk size")))?;
        pos += line_end + 2;
        if size == 0 {
            return Ok(body); // trailers, if any, carry no data
        }
        let end = pos
            .checked_add(size)
            .filter(|&e| e + 2 <= raw.len())
            .ok_or_else(|| cut(format!("the answer was cut after {} bytes", body.len())))?;
        body.extend_from_slice(&raw[pos..end]);
        if &raw[end..end + 2] != b"\r\n" {
            return Err(cut("a chunk does not end with CRLF".into()));
        }
        pos = end + 2;
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
    let mut builders: Vec<Builder> = SCHEMA.iter().map(|c| Builder::new(c.kind)).collect();
    let mut mapping: Vec<Option<usize>> = Vec::new();
    // Per schema column, the field of the current row that holds it: stored
    // names that map to one column (the collector's `bandwidth_mbps` next to
    // `available_bandwidth_mbps`) are coalesced, the first value present wins.
    let mut slot: Vec<Option<usize>> = vec![None; SCHEMA.len()];
    let mut fields: Vec<Cow<str>> = Vec::new();
    let mut expect_header = true;
    let mut rows = 0usize;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            expect_header = true;
            continue;
        }
        if line.starts_with('#') {
            expect_header = true;
            continue;
        }
        split_fields(line, &mut fields);
        if expect_header || line.starts_with("name,tags,time") {
            mapping = fields.iter().map(|f| schema_index(f)).collect();
            if !mapping.contains(&Some(TIME)) {
                let start: String = line.chars().take(120).collect();
                return Err(DwcpError::Data {
                    column: "timestamp".into(),
                    row: None,
                    rule: "influx_response",
                    message: format!("not an InfluxDB answer: a header without a time column: {start:?}"),
                });
            }
            expect_header = false;
            continue;
        }
        if fields.len() != mapping.len() {
            return Err(bad(
                "",
                rows,
                format!(
                    "{} fields where the header has {} (a cut or malformed answer)",
                    fields.len(),
                    mapping.len()
                ),
            ));
        }
        slot.fill(None);
        for (k, (value, target)) in fields.iter().zip(&mapping).enumerate() {
            if let Some(i) = *target {
                if slot[i].is_none_or(|j| fields[j].is_empty()) && !value.is_empty() {
                    slot[i] = Some(k);
                }
            }
        }
        for (i, builder) in builders.iter_mut().enumerate() {
            builder.push(SCHEMA[i].name, rows, slot[i].map(|k| fields[k].as_ref()))?;
        }
        rows += 1;
    }
    let columns = builders
        .into_iter()
        .zip(SCHEMA.iter())
        .map(|(b, c)| b.finish(c.name))
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
    fn chunked_bodies_are_joined_and_cuts_found() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(dechunk(raw).unwrap(), b"hello, world");
        for cut in [&raw[..9], &raw[..13], &raw[..24], b"zz\r\n" as &[u8]] {
            assert!(dechunk(cut).is_err(), "{cut:?}");
        }
    }

    #[test]
    fn unknown_categories_name_their_row() {
        let body = "name,tags,time,link_type\nm,,1,dc\nm,,2,satellite\n";
        let err = parse_csv(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("satellite"), "{err}");
    }
}
