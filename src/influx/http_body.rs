//! HTTP answers' framing: a chunked body joined in place (see also
//! `socket_body`, which reads answers straight from their socket on Unix).

use crate::error::{DwcpError, Result};

/// An answer that ended before its framing said it would.
pub(super) fn cut(message: String) -> DwcpError {
    DwcpError::Data {
        column: String::new(),
        row: None,
        rule: "http_body",
        message,
    }
}

/// The body of an HTTP response sent with `Transfer-Encoding: chunked`, from
/// its raw bytes (chunk sizes in hex, CRLFs, the last chunk of size 0 and
/// optional trailers), joined in place. An answer cut before its last chunk
/// is an error.
pub fn dechunk(mut raw: Vec<u8>) -> Result<Vec<u8>> {
    let mut len = 0; // body bytes so far, at the start of `raw`
    let mut pos = 0;
    loop {
        let line_end = memchr::memmem::find(&raw[pos..], b"\r\n")
            .ok_or_else(|| cut(format!("the answer was cut after {len} bytes")))?;
        let line = std::str::from_utf8(&raw[pos..pos + line_end]).unwrap_or("");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| cut(format!("{line:?} is not a chunk size")))?;
        pos += line_end + 2;
        if size == 0 {
            raw.truncate(len); // trailers, if any, carry no data
            return Ok(raw);
        }
        let end = pos
            .checked_add(size)
            .filter(|&e| e.checked_add(2).is_some_and(|after| after <= raw.len()))
            .ok_or_else(|| cut(format!("the answer was cut after {len} bytes")))?;
        if &raw[end..end + 2] != b"\r\n" {
            return Err(cut("a chunk does not end with CRLF".into()));
        }
        raw.copy_within(pos..end, len);
        len += size;
        pos = end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_cuts_found() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(dechunk(raw.to_vec()).unwrap(), b"hello, world");
        let lying = b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n" as &[u8]; // a size past any buffer
        for cut in [
            lying,
            &raw[..9],
            &raw[..13],
            &raw[..24],
            b"zz\r\n" as &[u8],
            b"5\r\nhelloXY0\r\n\r\n",
        ] {
            assert!(dechunk(cut.to_vec()).is_err(), "{cut:?}");
        }
    }
}
