//! A line-by-line check of a training-data CSV file against the schema.
//!
//! Reading uses polars' fast CSV reader; when it fails, this check finds
//! every bad line (its number, the column to blame and why) and its exact
//! bytes, so that the reader can name it or move it verbatim to a rejects file.

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

/// One CSV record: its fields (unquoted), byte range and first line.
struct Record {
    fields: Vec<String>,
    start: usize,
    end: usize,
    line: u64,
    unterminated: bool,
    /// Text follows a closing quote before the next separator (`"a"b`).
    malformed: bool,
}

/// Splits `bytes` into records: `,` between fields, `"` quoting (with `""`
/// for a quote), `\n` or `\r\n` between records (not inside quotes).
fn records(bytes: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let (mut pos, mut line) = (0usize, 1u64);
    while pos < bytes.len() {
        let (start, first_line) = (pos, line);
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let (mut quoted, mut in_quotes) = (false, false);
        let (mut unterminated, mut malformed) = (true, false);
        while pos < bytes.len() {
            let b = bytes[pos];
            pos += 1;
            if in_quotes {
                match b {
                    b'"' if bytes.get(pos) == Some(&b'"') => {
                        field.push(b'"');
                        pos += 1;
                    }
                    b'"' => in_quotes = false,
                    b'\n' => {
                        line += 1;
                        field.push(b);
                    }
                    _ => field.push(b),
                }
                continue;
            }
            if quoted && !matches!(b, b',' | b'\n' | b'\r') {
                malformed = true; // after a closing quote only a separator may follow
            }
            match b {
                b'"' if field.is_empty() && !quoted => (quoted, in_quotes) = (true, true),
                b',' => {
                    fields.push(String::from_utf8_lossy(&field).into_owned());
                    field.clear();
                    quoted = false;
                }
                b'\n' => {
                    line += 1;
                    unterminated = false;
                    break;
                }
                _ => field.push(b),
            }
        }
        if field.last() == Some(&b'\r') && !quoted {
            field.pop();
        }
        let unterminated = unterminated && in_quotes;
        if unterminated || (malformed && line > first_line + 1) {
            // A quote that never closes (or closes on a later line with text
            // after it) would swallow the lines after it: blame its own line
            // only, and read the lines after it as records.
            if let Some(eol) = bytes[start..].iter().position(|&b| b == b'\n') {
                pos = start + eol + 1;
                line = first_line + 1;
            }
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        out.push(Record {
            fields,
            start,
            end: pos,
            line: first_line,
            unterminated,
            malformed,
        });
    }
    out
}

/// Why `value` does not fit a column of `kind` (empty fields are nulls and fit).
fn field_problem(kind: Kind, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let ok = match kind {
        Kind::Float => value.trim().parse::<f64>().is_ok(),
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
    let mut records = records(bytes).into_iter();
    let Some(header) = records.next() else {
        return Err(DwcpError::Data {
            column: String::new(),
            row: None,
            rule: "csv_header",
            message: "the file is empty: a header line is required".into(),
        });
    };
    let kinds: Vec<Kind> = header
        .fields
        .iter()
        .map(|name| {
            schema::spec(name)
                .map(|c| c.kind)
                .or_else(|| extra.iter().find(|(n, _)| n == name).map(|(_, k)| *k))
                .unwrap_or(Kind::Text)
        })
        .collect();
    let mut bad = Vec::new();
    for record in records {
        // A blank line (or the file's final newline) is no record.
        if record.fields.len() == 1 && record.fields[0].trim().is_empty() {
            continue;
        }
        let problem = if record.unterminated {
            Some((None, "a quoted field is never closed".to_string()))
        } else if record.malformed {
            Some((None, "text follows a closing quote".to_string()))
        } else if record.fields.len() != kinds.len() {
            Some((
                None,
                format!(
                    "{} fields where the header has {}",
                    record.fields.len(),
                    kinds.len()
                ),
            ))
        } else {
            record
                .fields
                .iter()
                .zip(&kinds)
                .zip(&header.fields)
                .find_map(|((value, kind), name)| {
                    field_problem(*kind, value).map(|m| (Some(name.clone()), m))
                })
        };
        if let Some((column, message)) = problem {
            bad.push(BadLine {
                line: record.line,
                column,
                message,
                start: record.start,
                end: record.end,
            });
        }
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
    fn an_unclosed_quote_blames_its_own_line_only() {
        let text = "rtt_ms,note\n1,ok\n2,\"open\n3,ok\nx,ok\n4,ok\n";
        let bad = check_csv(text.as_bytes(), &[]).unwrap();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 5]);
        assert_eq!(&text[bad[0].start..bad[0].end], "2,\"open\n");
    }
}
