//! A line-by-line check of a training-data CSV file against the schema.
//!
//! Reading uses polars' fast CSV reader; when it fails, this check finds
//! every bad line (its number, the column to blame and why) and its exact
//! bytes, so that the reader can name it or move it verbatim to a rejects file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;

use crate::cleaning::parse_iso8601;
use crate::error::{DwcpError, Result};
use crate::schema::{self, Kind};

/// A line that does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The column to blame, when one field is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Byte range of the record, line ending included.
    pub start: usize,
    /// End of that range (exclusive).
    pub end: usize,
}

/// One CSV record's place in the file: its byte range, first line, and how
/// its quoting went wrong, if it did. Its fields are in a [`Fields`].
struct Record {
    start: usize,
    end: usize,
    line: u64,
    unterminated: bool,
    /// Text follows a closing quote before the next separator (`"a"b`).
    malformed: bool,
}

/// The fields (unquoted bytes) of the current record, in buffers reused from
/// record to record: a file of millions of lines costs no allocation per field.
#[derive(Default)]
struct Fields {
    buffers: Vec<Vec<u8>>,
    len: usize,
}

impl Fields {
    /// Starts a new, empty field.
    fn open(&mut self) {
        if self.len == self.buffers.len() {
            self.buffers.push(Vec::new());
        }
        self.buffers[self.len].clear();
        self.len += 1;
    }

    /// The field being read.
    fn last(&mut self) -> &mut Vec<u8> {
        &mut self.buffers[self.len - 1]
    }

    /// The record's fields.
    fn all(&self) -> &[Vec<u8>] {
        &self.buffers[..self.len]
    }
}

/// Splits `bytes` into records: `,` between fields, `"` quoting (with `""`
/// for a quote), `\n` or `\r\n` between records (not inside quotes).
struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> Records<'a> {
    /// The records of `bytes`, after a UTF-8 byte order mark if there is one.
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 },
            line: 1,
        }
    }

    /// The next record, its fields put in `fields`. Runs of ordinary bytes
    /// are found with `memchr` and copied whole.
    fn next(&mut self, fields: &mut Fields) -> Option<Record> {
        let bytes = self.bytes;
        if self.pos >= bytes.len() {
            return None;
        }
        let (start, first_line) = (self.pos, self.line);
        fields.len = 0;
        fields.open();
        // `quoted`: the current field was quoted (and its quote closed)
        let (mut quoted, mut unterminated, mut malformed) = (false, false, false);
        loop {
            let rest = &bytes[self.pos..];
            let stop = memchr::memchr3(b',', b'\n', b'"', rest);
            let run = &rest[..stop.unwrap_or(rest.len())];
            if quoted && run.iter().any(|&b| b != b'\r') {
                malformed = true; // after a closing quote only a separator may follow
            }
            fields.last().extend_from_slice(run);
            let Some(at) = stop else {
                self.pos = bytes.len(); // the data ends without a line break
                break;
            };
            self.pos += at + 1;
            match rest[at] {
                b',' => {
                    fields.open();
                    quoted = false;
                }
                b'\n' => {
                    self.line += 1;
                    break;
                }
                _ if fields.last().is_empty() && !quoted => {
                    quoted = true;
                    if !self.quoted_field(fields.last()) {
                        unterminated = true;
                        break;
                    }
                }
                _ => {
                    malformed |= quoted;
                    fields.last().push(b'"');
                }
            }
        }
        if fields.last().last() == Some(&b'\r') && !quoted {
            fields.last().pop();
        }
        if unterminated || (malformed && self.line > first_line + 1) {
            // A quote that never closes (or closes on a later line with text
            // after it) would swallow the lines after it: blame its own line
            // only, and read the lines after it as records.
            if let Some(eol) = memchr::memchr(b'\n', &bytes[start..]) {
                self.pos = start + eol + 1;
                self.line = first_line + 1;
            }
        }
        Some(Record {
            start,
            end: self.pos,
            line: first_line,
            unterminated,
            malformed,
        })
    }

    /// Reads a quoted field's text after its opening quote into `field`
    /// (`""` is a quote); `false` if the quote never closes.
    fn quoted_field(&mut self, field: &mut Vec<u8>) -> bool {
        loop {
            let rest = &self.bytes[self.pos..];
            let close = memchr::memchr(b'"', rest);
            let text = &rest[..close.unwrap_or(rest.len())];
            self.line += memchr::memchr_iter(b'\n', text).count() as u64;
            field.extend_from_slice(text);
            let Some(at) = close else {
                self.pos = self.bytes.len();
                return false;
            };
            self.pos += at + 1;
            if self.bytes.get(self.pos) != Some(&b'"') {
                return true;
            }
            field.push(b'"');
            self.pos += 1;
        }
    }
}

/// Why `value` does not fit a column of `kind` (empty fields are nulls and fit).
fn field_problem(kind: Kind, value: &[u8]) -> Option<String> {
    let value = match std::str::from_utf8(value) {
        Ok(text) => text,
        Err(err) => {
            let at = err.valid_up_to();
            return Some(format!(
                "byte 0x{:02X} at position {at} of the field is not valid UTF-8 (the file must be UTF-8)",
                value[at]
            ));
        }
    };
    if value.is_empty() {
        return None;
    }
    let ok = match kind {
        Kind::Float => fast_float2::parse::<f64, _>(value.trim()).is_ok(),
        Kind::Int => value.trim().parse::<i64>().is_ok(),
        Kind::Enum(categories) => categories.contains(&value),
        Kind::Timestamp => parse_iso8601(value).is_some() || value.trim().parse::<i64>().is_ok(),
        Kind::Text => true,
    };
    (!ok).then(|| match kind {
        Kind::Float => format!("{value:?} is not a number"),
        Kind::Int => format!("{value:?} is not a whole number"),
        Kind::Enum(categories) => format!("{value:?} is not one of {}", categories.join(", ")),
        Kind::Timestamp => format!("{value:?} is not an ISO 8601 timestamp with a zone or epoch nanoseconds"),
        Kind::Text => unreachable!("text always fits"),
    })
}

/// Every line of a CSV file (header first) that does not fit the schema:
/// a wrong number of fields, an unterminated quote, or a value of the wrong
/// type for a schema column (see [`schema::spec`]; `extra` adds kinds for
/// further known columns). Columns the schema does not know hold any text.
pub fn check_csv(bytes: &[u8], extra: &[(&str, Kind)]) -> Result<Vec<BadLine>> {
    check_in_pieces(bytes, extra, PIECE_BYTES)
}

/// [`check_csv`], the body checked in pieces of about `piece_bytes`.
fn check_in_pieces(bytes: &[u8], extra: &[(&str, Kind)], piece_bytes: usize) -> Result<Vec<BadLine>> {
    let mut records = Records::new(bytes);
    let mut fields = Fields::default();
    let header_error = |message: String| DwcpError::Data {
        column: String::new(),
        row: None,
        rule: "csv_header",
        message,
    };
    if records.next(&mut fields).is_none() {
        return Err(header_error(
            "the file is empty: a header line is required".into(),
        ));
    }
    let names = fields
        .all()
        .iter()
        .map(|name| String::from_utf8(name.clone()))
        .collect::<std::result::Result<Vec<String>, _>>()
        .map_err(|_| header_error("the header line is not valid UTF-8".into()))?;
    let kinds: Vec<Kind> = names
        .iter()
        .map(|name| {
            schema::spec(name)
                .map(|c| c.kind)
                .or_else(|| extra.iter().find(|(n, _)| n == name).map(|(_, k)| *k))
                .unwrap_or(Kind::Text)
        })
        .collect();
    let (body, first_line) = (records.pos, records.line);
    let columns = Columns { names, kinds };
    // The body is checked in pieces cut after line breaks, in parallel. A
    // piece that ends inside a quoted field (a line break within quotes) shows
    // it by an unclosed quote at its end: the body is then checked in one piece.
    let pieces = line_pieces(bytes, body, (bytes.len() - body) / piece_bytes + 1);
    let checked: Vec<(Vec<BadLine>, bool)> = pieces
        .par_iter()
        .map(|&(from, to)| columns.check(bytes, from, to))
        .collect();
    if checked.iter().all(|(_, closed)| *closed) {
        let mut line = first_line;
        let mut bad = Vec::new();
        for ((lines, _), &(from, to)) in checked.into_iter().zip(&pieces) {
            bad.extend(lines.into_iter().map(|b| BadLine {
                line: b.line + line - 1,
                ..b
            }));
            line += memchr::memchr_iter(b'\n', &bytes[from..to]).count() as u64;
        }
        return Ok(bad);
    }
    let (bad, _) = columns.check(bytes, body, bytes.len());
    Ok(bad
        .into_iter()
        .map(|b| BadLine {
            line: b.line + first_line - 1,
            ..b
        })
        .collect())
}

/// Bytes of a CSV body checked by one task.
const PIECE_BYTES: usize = 16 << 20;

/// `bytes[from..]` cut into about `n` pieces, each ending after a line break
/// (the last at the end), as `(start, end)` ranges.
fn line_pieces(bytes: &[u8], from: usize, n: usize) -> Vec<(usize, usize)> {
    let step = (bytes.len() - from) / n.max(1) + 1;
    let mut pieces = Vec::with_capacity(n);
    let mut start = from;
    while start < bytes.len() {
        let aim = (start + step).min(bytes.len());
        let end = memchr::memchr(b'\n', &bytes[aim..]).map_or(bytes.len(), |i| aim + i + 1);
        pieces.push((start, end));
        start = end;
    }
    pieces
}

/// A CSV file's columns: the header's names and the kind each must hold.
struct Columns {
    names: Vec<String>,
    kinds: Vec<Kind>,
}

impl Columns {
    /// The bad lines of the records in `bytes[from..to]` (which starts a
    /// line), numbered from 1 at `from`; and whether every quote opened in it
    /// closed (else a quoted field may go on past `to`).
    fn check(&self, bytes: &[u8], from: usize, to: usize) -> (Vec<BadLine>, bool) {
        let mut records = Records {
            bytes: &bytes[..to],
            pos: from,
            line: 1,
        };
        let mut fields = Fields::default();
        let mut bad = Vec::new();
        let mut closed = true;
        while let Some(record) = records.next(&mut fields) {
            closed &= !record.unterminated; // perhaps cut off by the piece's end
            if let Some((column, message)) = self.problem(&record, fields.all()) {
                bad.push(BadLine {
                    line: record.line,
                    column,
                    message,
                    start: record.start,
                    end: record.end,
                });
            }
        }
        (bad, closed)
    }

    /// What is wrong with a record of `values`, and the column to blame.
    fn problem(&self, record: &Record, values: &[Vec<u8>]) -> Option<(Option<String>, String)> {
        // A blank line (or the file's final newline) is no record.
        if values.len() == 1 && values[0].trim_ascii().is_empty() {
            return None;
        }
        if record.unterminated {
            return Some((None, "a quoted field is never closed".to_string()));
        }
        if record.malformed {
            return Some((None, "text follows a closing quote".to_string()));
        }
        if values.len() != self.kinds.len() {
            let message = format!(
                "{} fields where the header has {}",
                values.len(),
                self.kinds.len()
            );
            return Some((None, message));
        }
        values
            .iter()
            .zip(&self.kinds)
            .zip(&self.names)
            .find_map(|((value, kind), name)| field_problem(*kind, value).map(|m| (Some(name.clone()), m)))
    }
}

/// Checks the CSV file `path` ([`check_csv`]) and, when `split` names two
/// files, writes them: the good lines (header included) to the first and the
/// bad ones verbatim (after the header) to the second. With `cr_only` the
/// file's lines end in a lone `\r` (old Mac style), read as `\n`.
///
/// The file is read once into memory and nothing else grows with it: the
/// records are scanned in place, and the two files are written from
/// slices of it.
pub fn check_csv_file(
    path: &Path,
    cr_only: bool,
    split: Option<(&Path, &Path)>,
    extra: &[(&str, Kind)],
) -> Result<Vec<BadLine>> {
    let mut bytes = std::fs::read(path)?;
    if cr_only {
        bytes.iter_mut().filter(|b| **b == b'\r').for_each(|b| *b = b'\n');
    }
    let bad = check_csv(&bytes, extra)?;
    if let Some((kept, rejects)) = split {
        let header_end = memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |i| i + 1);
        let mut good = BufWriter::new(File::create(kept)?);
        let mut rejected = BufWriter::new(File::create(rejects)?);
        rejected.write_all(&bytes[..header_end])?;
        let mut cursor = 0;
        for line in &bad {
            good.write_all(&bytes[cursor..line.start])?;
            rejected.write_all(&bytes[line.start..line.end])?;
            cursor = line.end;
        }
        good.write_all(&bytes[cursor..])?;
        good.flush()?; // read back at once, then removed: no need to reach the disk
        rejected.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bad_lines_with_their_bytes() {
        let text = "rtt_ms,link_type,note\n1.5,dc,\"a, b\"\nx,dc,ok\n2,satellite,ok\n3,wan\n4,metro,\"multi\nline\"\n5,dc,ok";
        let bad = check_csv(text.as_bytes(), &[]).unwrap();
        let summary: Vec<(u64, Option<&str>)> = bad.iter().map(|b| (b.line, b.column.as_deref())).collect();
        assert_eq!(summary, [(3, Some("rtt_ms")), (4, Some("link_type")), (5, None)]);
        assert_eq!(&text[bad[0].start..bad[0].end], "x,dc,ok\n");
        assert!(bad[1].message.contains("satellite"));
    }

    #[test]
    fn unterminated_quotes_and_crlf() {
        let bad = check_csv(b"rtt_ms,note\r\n1,ok\r\n2,\"open\n", &[]).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(
            (bad[0].line, bad[0].message.as_str()),
            (3, "a quoted field is never closed")
        );
        assert!(check_csv(b"", &[]).is_err());
    }

    #[test]
    fn blank_lines_and_text_after_quotes() {
        let text = "rtt_ms,note\n1,ok\n\n2,\"a\"b\n3,\"x\n4,\"y\n5,ok\n\r\n";
        let bad = check_csv(text.as_bytes(), &[]).unwrap();
        let found: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (4, "text follows a closing quote"),
                (5, "text follows a closing quote"),
                (6, "a quoted field is never closed")
            ]
        );
        assert_eq!(&text[bad[1].start..bad[1].end], "3,\"x\n");
    }

    #[test]
    fn pieces_give_the_answer_of_one_scan_even_when_quotes_span_them() {
        let mut text = String::from("rtt_ms,note\n");
        for i in 0..400 {
            match i % 7 {
                0 => text.push_str(&format!("{i},\"two\nlines\"\n")),
                3 => text.push_str("x,bad number\n"),
                5 => text.push_str(&format!("{i},\"a\"b\n")),
                _ => text.push_str(&format!("{i},ok\n")),
            }
        }
        let whole = check_in_pieces(text.as_bytes(), &[], usize::MAX).unwrap();
        assert_eq!(whole.len(), 57 + 57, "the bad numbers and the text after quotes");
        for piece_bytes in [16, 64, 100, 1000] {
            assert_eq!(check_in_pieces(text.as_bytes(), &[], piece_bytes).unwrap(), whole);
        }
        let clean = "rtt_ms\n".to_string() + &"1\n2\nx\n".repeat(200);
        let lines: Vec<u64> = check_in_pieces(clean.as_bytes(), &[], 50)
            .unwrap()
            .iter()
            .map(|b| b.line)
            .collect();
        assert_eq!(lines, (0..200).map(|k| 4 + 3 * k).collect::<Vec<u64>>());
    }

    #[test]
    fn a_file_splits_into_its_good_and_bad_lines() {
        let dir = std::env::temp_dir().join(format!("dwcp-csv-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (file, kept, rejects) = (dir.join("in.csv"), dir.join("kept"), dir.join("rejects"));
        std::fs::write(&file, "rtt_ms,link_type\r1,dc\rx,dc\r2,wan\r").unwrap();
        let bad = check_csv_file(&file, true, Some((&kept, &rejects)), &[]).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            "rtt_ms,link_type\n1,dc\n2,wan\n"
        );
        assert_eq!(
            std::fs::read_to_string(&rejects).unwrap(),
            "rtt_ms,link_type\nx,dc\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_utf8_blames_its_line_and_field() {
        let mut text = b"rtt_ms,region\n1,us-east-1\n2,caf".to_vec();
        text.extend_from_slice(&[0xE9, b'\n']);
        text.extend_from_slice(b"3,ok\n");
        let bad = check_csv(&text, &[]).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].line, bad[0].column.as_deref()), (3, Some("region")));
        assert!(bad[0].message.contains("0xE9"), "{}", bad[0].message);
        assert_eq!(&text[bad[0].start..bad[0].end], b"2,caf\xE9\n");
        assert!(
            check_csv(b"rtt\xFF\n1\n", &[]).is_err(),
            "a header that is not UTF-8"
        );
    }

    #[test]
    fn an_unclosed_quote_blames_its_own_line_only() {
        let text = "rtt_ms,note\n1,ok\n2,\"open\n3,ok\nx,ok\n4,ok\n";
        let bad = check_csv(text.as_bytes(), &[]).unwrap();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 5]);
        assert_eq!(&text[bad[0].start..bad[0].end], "2,\"open\n");
    }
}
