//! Line protocol: `measurement,tag=v,... field=1.5,count=3i 1700000000000000000`.

use libdeflater::{CompressionLvl, Compressor};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};
use crate::schema::TIME_RANGE_US;

/// The measurement every compression metric is written to.
pub const MEASUREMENT: &str = "compression_metrics";
/// Columns written as tags by default: the five the design document's Go
/// collector (§3.1) tags. Node ids are string fields: as tags they would make
/// about one series per point.
pub const TAG_COLUMNS: [&str; 5] = ["region", "az", "link_type", "data_type", "current_compression"];

/// Rows encoded per parallel task.
const BLOCK: usize = 4096;

/// The longest key InfluxDB stores: a point's series key (measurement and
/// tags, escaped), `#!~#` and its longest field key (measured on a real
/// server: one byte more and the point is refused).
pub const MAX_SERIES_KEY_BYTES: usize = 65_535;

/// How one column is written.
enum Writer {
    Tag(StringChunked),
    Text(StringChunked),
    Float(Float64Chunked),
    Int(Int64Chunked),
    Bool(BooleanChunked),
}

/// Why `text` cannot be written where a backslash escapes the next byte and
/// `special` bytes take one (tag keys and values, field keys, the
/// measurement), or `None` if it can.
///
/// InfluxDB 1.x unescapes only the special bytes there, so a backslash is
/// written as it is; a run of an odd number of backslashes right before a
/// special byte or at the end would escape the wrong byte and cannot be
/// written. A line break ends the point whatever the escaping.
fn unwritable_key(text: &str, special: impl Fn(u8) -> bool) -> Option<&'static str> {
    let bytes = text.as_bytes();
    let mut run = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || b == b'\r' {
            return Some("a line break would end the point early");
        }
        if b == b'\\' {
            run += 1;
            let next = bytes.get(i + 1).copied();
            if run % 2 == 1 && next.is_none_or(&special) && next != Some(b'\\') {
                return Some("an odd run of backslashes before a separator or at the end would escape it");
            }
        } else {
            run = 0;
        }
    }
    None
}

/// Why `text` cannot be written as a string field value, or `None` if it can.
fn unwritable_string(text: &str) -> Option<&'static str> {
    text.bytes()
        .any(|b| b == b'\n' || b == b'\r')
        .then_some("a line break would end the point early")
}

/// Tag keys and values and field keys: `,`, `=` and space take a backslash.
fn key_special(b: u8) -> bool {
    matches!(b, b',' | b'=' | b' ')
}

/// The measurement: `,` and space take a backslash.
fn measurement_special(b: u8) -> bool {
    matches!(b, b',' | b' ')
}

/// The error for a text value that cannot be written, and why.
fn unwritable(column: &str, row: Option<usize>, why: &str) -> DwcpError {
    DwcpError::Data {
        column: column.to_string(),
        row,
        rule: "line_protocol",
        message: format!("cannot be written as line protocol: {why}; refused"),
    }
}

/// What `encode` and `check` need of a frame: the measurement as written,
/// the times in ns, and one writer per column (its name, its key as
/// written), tags first in key order.
struct Prepared {
    measurement_key: Vec<u8>,
    time: Int64Chunked,
    writers: Vec<(String, String, Writer)>,
}

/// The columns of `df` as `encode` writes them; refuses a bad measurement,
/// a missing `timestamp`, column types line protocol has no field for and
/// column names it cannot carry.
fn prepare(df: &DataFrame, measurement: &str, tags: &[&str]) -> Result<Prepared> {
    if measurement.is_empty() || unwritable_key(measurement, measurement_special).is_some() {
        return Err(DwcpError::InvalidArgument {
            param: "measurement",
            message: format!("{measurement:?} is not a measurement name"),
        });
    }
    let mut measurement_key = Vec::new();
    escaped_with(&mut measurement_key, measurement, measurement_special);
    let time = df.column("timestamp").map_err(|_| DwcpError::Data {
        column: "timestamp".into(),
        row: None,
        rule: "line_protocol",
        message: "points need a timestamp column".into(),
    })?;
    let time = time.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))?;
    let time = time.datetime()?.physical().rechunk().into_owned();

    let mut writers: Vec<(String, String, Writer)> = Vec::new();
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
        } else if matches!(dtype, DataType::Boolean) {
            Writer::Bool(column.bool()?.rechunk().into_owned())
        } else if dtype.is_integer() {
            Writer::Int(column.cast(&DataType::Int64)?.i64()?.rechunk().into_owned())
        } else if dtype.is_float() {
            Writer::Float(column.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
        } else {
            return Err(DwcpError::Data {
                column: name.to_string(),
                row: None,
                rule: "line_protocol",
                message: format!("only text, numeric and boolean columns can be written, found {dtype}"),
            });
        };
        if let Some(why) = unwritable_key(name, key_special) {
            return Err(unwritable(name, None, why));
        }
        let mut key = Vec::new();
        escaped(&mut key, name);
        writers.push((
            name.to_string(),
            String::from_utf8_lossy(&key).into_owned(),
            writer,
        ));
    }
    // Tags first, in key order (InfluxDB's preferred form).
    writers.sort_by_key(|(_, key, w)| (!matches!(w, Writer::Tag(_)), key.clone()));
    Ok(Prepared {
        measurement_key,
        time,
        writers,
    })
}

/// The error for a row [`check`] refuses.
fn refused(column: &str, row: usize, why: &str) -> DwcpError {
    DwcpError::Data {
        column: column.to_string(),
        row: Some(row),
        rule: "line_protocol",
        message: format!("{why}; nothing was sent"),
    }
}

/// Bytes of `text` as a tag key or value: a backslash before each special byte.
fn escaped_len(text: &str) -> usize {
    text.len() + text.bytes().filter(|&b| key_special(b)).count()
}

/// Checks that every row of `df` can be written as [`encode`] writes it and
/// read back as it was, before anything is sent; the first row that cannot
/// (a null time or one outside 1677-2262, a line break in a text value, a tag
/// value InfluxDB would read back altered, or a key longer than
/// [`MAX_SERIES_KEY_BYTES`]) is the error, naming its row and column.
pub fn check(df: &DataFrame, measurement: &str, tags: &[&str]) -> Result<()> {
    let prepared = prepare(df, measurement, tags)?;
    let micros = df
        .column("timestamp")?
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
    let micros = micros.datetime()?.physical().rechunk().into_owned();
    let first = (0..df.height().div_ceil(BLOCK))
        .into_par_iter()
        .find_map_first(|b| {
            (b * BLOCK..((b + 1) * BLOCK).min(df.height()))
                .find_map(|row| prepared.row_error(row, micros.get(row)))
        });
    first.map_or(Ok(()), Err)
}

impl Prepared {
    /// Why row `row` (its time `micros`) cannot be written, if it cannot.
    fn row_error(&self, row: usize, micros: Option<i64>) -> Option<DwcpError> {
        let Some(us) = micros else {
            return Some(refused("timestamp", row, "a point needs a time"));
        };
        if !(TIME_RANGE_US.0..=TIME_RANGE_US.1).contains(&us) {
            let why =
                "the time is outside the times InfluxDB stores (nanoseconds from 1677-09-21 to 2262-04-11)";
            return Some(refused("timestamp", row, why));
        }
        let mut key = self.measurement_key.len();
        let (mut longest_field, mut longest_tag) = (0, ("", 0));
        for (name, written, writer) in &self.writers {
            let field = match writer {
                Writer::Tag(ca) => {
                    if let Some(v) = ca.get(row).filter(|v| !v.is_empty()) {
                        if let Some(why) = unwritable_key(v, key_special) {
                            return Some(refused(name, row, why));
                        }
                        key += 2 + written.len() + escaped_len(v);
                        if v.len() >= longest_tag.1 {
                            longest_tag = (name, v.len());
                        }
                    }
                    false
                }
                Writer::Text(ca) => match ca.get(row) {
                    Some(v) => match unwritable_string(v) {
                        Some(why) => return Some(refused(name, row, why)),
                        None => true,
                    },
                    None => false,
                },
                Writer::Float(ca) => ca.get(row).is_some_and(f64::is_finite),
                Writer::Int(ca) => ca.get(row).is_some(),
                Writer::Bool(ca) => ca.get(row).is_some(),
            };
            if field {
                longest_field = longest_field.max(written.len());
            }
        }
        (key + "#!~#".len() + longest_field > MAX_SERIES_KEY_BYTES).then(|| {
            let why = format!(
                "with the other tags and the fields it makes a key longer than the {MAX_SERIES_KEY_BYTES} bytes InfluxDB stores"
            );
            refused(longest_tag.0, row, &why)
        })
    }
}

/// `bytes` as one gzip member (libdeflate: several times faster than zlib at level 1).
fn gzip_member(bytes: &[u8], level: u32) -> Result<Vec<u8>> {
    let bad_level = |_| DwcpError::invalid_argument("gzip_level", "must be from 0 to 9");
    let mut compressor = Compressor::new(CompressionLvl::new(level as i32).map_err(bad_level)?);
    let mut out = vec![0; compressor.gzip_compress_bound(bytes.len())];
    let written = compressor
        .gzip_compress(bytes, &mut out)
        .map_err(|e| DwcpError::invalid_argument("gzip_level", format!("{e:?}")))?;
    out.truncate(written);
    Ok(out)
}

/// Appends `text` with line protocol's escapes for tag keys, tag values and
/// field keys (checked with [`unwritable_key`] first).
fn escaped(out: &mut Vec<u8>, text: &str) {
    escaped_with(out, text, key_special);
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

/// `df` as line protocol points of `measurement`, one line per row with at
/// least one field, and the number of rows skipped because every field was null.
///
/// `timestamp` (Datetime) becomes the point's time in ns; the `tags` present
/// in `df` become tags (empty and null tags are left out, as InfluxDB
/// requires); every other column becomes a field: integers with the `i`
/// suffix, floats in their shortest exact form (NaN and infinities left out),
/// booleans, text quoted, nulls left out. Text holding a line break is refused.
///
/// With `gzip_level`, the body is gzip-compressed at that level (0–9): blocks
/// of rows are compressed in parallel, each as a gzip member of its own; their
/// concatenation is one valid gzip stream (RFC 1952), as InfluxDB reads it.
pub fn encode(
    df: &DataFrame,
    measurement: &str,
    tags: &[&str],
    gzip_level: Option<u32>,
) -> Result<(Vec<u8>, usize)> {
    if gzip_level.is_some_and(|level| level > 9) {
        return Err(DwcpError::invalid_argument("gzip_level", "must be from 0 to 9"));
    }
    let Prepared {
        measurement_key,
        time,
        writers,
    } = prepare(df, measurement, tags)?;

    let parts: Vec<Result<(Vec<u8>, usize)>> = (0..df.height().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut out = Vec::with_capacity(BLOCK * 1024);
            let (mut floats, mut ints) = (zmij::Buffer::new(), itoa::Buffer::new());
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
                out.extend_from_slice(&measurement_key);
                for (_, key, writer) in &writers {
                    if let Writer::Tag(ca) = writer {
                        if let Some(v) = ca.get(row).filter(|v| !v.is_empty()) {
                            if let Some(why) = unwritable_key(v, key_special) {
                                return Err(unwritable(key, Some(row), why));
                            }
                            out.push(b',');
                            out.extend_from_slice(key.as_bytes());
                            out.push(b'=');
                            escaped(&mut out, v);
                        }
                    }
                }
                let mut separator = b' ';
                for (_, key, writer) in &writers {
                    let value_start = out.len();
                    out.push(separator);
                    out.extend_from_slice(key.as_bytes());
                    out.push(b'=');
                    let written = match writer {
                        Writer::Tag(_) => false,
                        Writer::Float(ca) => ca
                            .get(row)
                            .filter(|v| v.is_finite())
                            .map(|v| out.extend_from_slice(floats.format_finite(v).as_bytes()))
                            .is_some(),
                        Writer::Int(ca) => ca
                            .get(row)
                            .map(|v| {
                                out.extend_from_slice(ints.format(v).as_bytes());
                                out.push(b'i');
                            })
                            .is_some(),
                        Writer::Bool(ca) => ca
                            .get(row)
                            .map(|v| out.extend_from_slice(if v { b"true" } else { b"false" }))
                            .is_some(),
                        Writer::Text(ca) => match ca.get(row) {
                            Some(v) if unwritable_string(v).is_some() => {
                                let why = unwritable_string(v).unwrap_or_default();
                                return Err(unwritable(key, Some(row), why));
                            }
                            Some(v) => {
                                quoted(&mut out, v);
                                true
                            }
                            None => false,
                        },
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
                out.push(b' ');
                out.extend_from_slice(ints.format(ns).as_bytes());
                out.push(b'\n');
            }
            match gzip_level {
                Some(level) => Ok((gzip_member(&out, level)?, skipped)),
                None => Ok((out, skipped)),
            }
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
        let (body, skipped) = encode(&df, MEASUREMENT, &TAG_COLUMNS, None).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "compression_metrics,region=us\\ east data_size_bytes=10i,rtt_ms=1.5 1700000000000000000\n"
        );
        assert_eq!(skipped, 1);
    }

    #[test]
    fn other_measurements_and_booleans() {
        let df = df!(
            "timestamp" => [1_700_000_000_000_000i64],
            "success" => [false],
            "error" => ["a \"b\" = c"],
        )
        .unwrap();
        let (body, _) = encode(&with_utc_time(df), "pipeline runs", &[], None).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "pipeline\\ runs error=\"a \\\"b\\\" = c\",success=false 1700000000000000000\n"
        );
        let empty = with_utc_time(df!("timestamp" => [0i64], "x" => [1i64]).unwrap());
        assert!(encode(&empty, "", &[], None).is_err());
        assert!(encode(&empty, "a\nb", &[], None).is_err());
    }

    #[test]
    fn gzip_members_concatenate_to_the_plain_body() {
        let n = 3 * BLOCK + 17;
        let df = df!(
            "timestamp" => (0..n as i64).map(|i| 1_700_000_000_000_000 + i).collect::<Vec<_>>(),
            "region" => (0..n).map(|i| format!("r{}", i % 7)).collect::<Vec<_>>(),
            "rtt_ms" => (0..n).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
        )
        .unwrap();
        let df = with_utc_time(df);
        let (plain, _) = encode(&df, MEASUREMENT, &["region"], None).unwrap();
        let (packed, _) = encode(&df, MEASUREMENT, &["region"], Some(1)).unwrap();
        // One gzip member per block of rows, each ending with the size of its block (ISIZE).
        let blocks: Vec<&[u8]> = plain.split_inclusive(|&b| b == b'\n').collect();
        let first: usize = blocks[..BLOCK].iter().map(|l| l.len()).sum();
        let mut member = vec![0; first];
        let unpacked = libdeflater::Decompressor::new()
            .gzip_decompress(&packed, &mut member)
            .unwrap();
        assert_eq!((unpacked, &member[..]), (first, &plain[..first]));
        assert!(packed.windows(2).filter(|w| w == &[0x1f, 0x8b]).count() >= 4);
        assert!(packed.len() < plain.len() / 2);
        assert!(encode(&df, MEASUREMENT, &[], Some(10)).is_err());
    }

    /// The row and column `check` refuses in `df` (tags `region`), if any.
    fn refused_at(df: &DataFrame) -> Option<(String, Option<usize>)> {
        match check(df, MEASUREMENT, &["region"]) {
            Ok(()) => None,
            Err(DwcpError::Data { column, row, .. }) => Some((column, row)),
            Err(other) => panic!("not a data error: {other}"),
        }
    }

    #[test]
    fn check_names_the_first_row_that_cannot_be_written() {
        let frame = |region: Vec<Option<String>>, node: Vec<&str>, us: Vec<Option<i64>>| {
            with_utc_time(
                df!("timestamp" => us, "region" => region, "node_id" => node, "x" => [1.0, 2.0, 3.0])
                    .unwrap(),
            )
        };
        let ok = || vec![Some("eu".to_string()); 3];
        let t = || vec![Some(1i64), Some(2), Some(3)];
        assert_eq!(refused_at(&frame(ok(), vec!["a", "b", "c"], t())), None);
        let cases = [
            (
                frame(ok(), vec!["a", "b", "c"], vec![Some(1), None, Some(3)]),
                "timestamp",
                1,
            ),
            (
                frame(
                    ok(),
                    vec!["a", "b", "c"],
                    vec![Some(1), Some(2), Some(TIME_RANGE_US.1 + 1)],
                ),
                "timestamp",
                2,
            ),
            (frame(ok(), vec!["a", "b\nc", "c"], t()), "node_id", 1),
            (
                frame(vec![None, Some(r"a\".into()), None], vec!["a", "b", "c"], t()),
                "region",
                1,
            ),
            (
                frame(vec![None, None, Some("eu\r".into())], vec!["a", "b", "c"], t()),
                "region",
                2,
            ),
        ];
        for (df, column, row) in cases {
            assert_eq!(refused_at(&df), Some((column.to_string(), Some(row))));
            if column != "timestamp" || row == 1 {
                // what check refuses, encode refuses too
                assert!(encode(&df, MEASUREMENT, &["region"], None).is_err());
            }
        }
    }

    #[test]
    fn check_measures_keys_as_influxdb_does() {
        // measurement, ",region=" and the escaped value, "#!~#" and the longest field key ("node_id")
        let room =
            MAX_SERIES_KEY_BYTES - MEASUREMENT.len() - ",region=".len() - "#!~#".len() - "node_id".len();
        let frame = |region: String, node: Option<&str>| {
            with_utc_time(
                df!("timestamp" => [1i64], "region" => [region], "node_id" => [node], "x" => [1.0]).unwrap(),
            )
        };
        let fits = format!("a b{}", "x".repeat(room - 4)); // the space is escaped: one byte more
        assert_eq!(refused_at(&frame(fits.clone(), Some("n"))), None);
        let over = "x".repeat(room + 1);
        assert_eq!(
            refused_at(&frame(over.clone(), Some("n"))),
            Some(("region".into(), Some(0)))
        );
        // without its longest field ("x" remains) the same point fits
        assert_eq!(refused_at(&frame(over, None)), None);
    }

    #[test]
    fn backslashes_in_keys_are_kept_or_refused() {
        assert_eq!(unwritable_key(r"a\b", key_special), None);
        assert_eq!(unwritable_key(r"a\\,b", key_special), None);
        assert_eq!(unwritable_key(r"a\\", key_special), None);
        for bad in [r"a\", r"a\,b", r"a\ b", r"a\=b", r"a\\\", "a\nb"] {
            assert!(unwritable_key(bad, key_special).is_some(), "{bad:?}");
        }
        let mut out = Vec::new();
        escaped(&mut out, r"a\b,c=d e\\,f");
        assert_eq!(String::from_utf8(out).unwrap(), r"a\b\,c\=d\ e\\\,f");
    }

    #[test]
    fn line_breaks_in_text_are_refused_with_their_row() {
        for (tags, column) in [(&["region"][..], "region"), (&[][..], "node_id")] {
            let df = df!(
                "timestamp" => [1_700_000_000_000_000i64, 1_700_000_001_000_000],
                "region" => ["eu", if column == "region" { "eu\nevil" } else { "eu" }],
                "node_id" => ["n1", if column == "node_id" { "n1\revil" } else { "n1" }],
            )
            .unwrap();
            let err = encode(&with_utc_time(df), MEASUREMENT, tags, None).unwrap_err();
            let DwcpError::Data { column: c, row, .. } = err else {
                panic!("expected a data error, got {err:?}");
            };
            assert_eq!((c.as_str(), row), (column, Some(1)));
        }
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
        let (body, skipped) = encode(&df, MEASUREMENT, &["region"], None).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "compression_metrics,region=eu node_id=\"n \\\"1\\\" \\\\ x\" 1700000000000000000\n"
        );
        assert_eq!(skipped, 0);
    }
}
