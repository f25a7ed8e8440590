//! HTTP answers read straight from their socket (Unix): the body bytes land
//! in one growing buffer and chunked framing is removed in place, so a 500 MB
//! export costs one copy instead of one per layer of Python's HTTP stack.
//! Elsewhere the Python side reads through `http.client`.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::http_body::cut;
use crate::cancel::Token;
use crate::error::Result;

/// The longest a read waits before checking for cancellation again.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// Bytes read from the socket at least per call once the buffer must grow.
const MIN_READ: usize = 1 << 20;

/// The most a `Content-Length` reserves up front: a server's claim is not
/// trusted with memory; the buffer grows as bytes actually arrive.
const MAX_RESERVE: usize = 64 << 20;

/// Bytes the socket collects before waking the reader (`SO_RCVLOWAT`): a
/// reader woken for every few KB the server sends spends more CPU switching
/// than reading. The end of the stream and the deadline still wake it.
const WAKE_AFTER: libc::c_int = 256 << 10;

/// Waits until `fd` is readable, `deadline` passes (`TimedOut`) or the
/// computation is cancelled.
fn wait_readable(fd: RawFd, deadline: Instant, token: &Token) -> Result<()> {
    loop {
        token.check()?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the answer did not finish in time").into());
        }
        let wait_ms = remaining.min(CANCEL_POLL).as_millis().max(1) as libc::c_int;
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, wait_ms) };
        if ready > 0 {
            return Ok(());
        }
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err.into());
            }
        }
    }
}

/// The rest of an answer from socket `fd` (blocking or not), after the
/// `prefix` already read: up to `length` bytes when the answer gave a
/// `Content-Length` (fewer is a cut answer), else up to the end of the
/// stream. Fails with `TimedOut` once `deadline` passes.
pub fn read_body(fd: RawFd, prefix: &[u8], length: Option<usize>, deadline: Instant) -> Result<Vec<u8>> {
    let token = Token::current();
    // SAFETY: fcntl and setsockopt on a caller's descriptor, with a valid
    // option value of the right size. Reads must not block (the deadline is
    // kept by `poll`); a failed SO_RCVLOWAT (not a TCP socket) only means
    // the reader wakes more often.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error().into());
        }
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&WAKE_AFTER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let reserve = length.unwrap_or(0).min(MAX_RESERVE);
    let mut body = Vec::with_capacity(reserve.max(prefix.len() + MIN_READ));
    body.extend_from_slice(prefix);
    loop {
        token.check()?;
        if let Some(n) = length.filter(|&n| body.len() >= n) {
            body.truncate(n);
            return Ok(body);
        }
        if body.capacity() - body.len() < MIN_READ {
            body.reserve(body.len().max(MIN_READ));
        }
        let spare = body.spare_capacity_mut();
        // SAFETY: reads at most `spare.len()` bytes into memory `body` owns.
        let got = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
        if got < 0 {
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    wait_readable(fd, deadline, &token)?;
                    continue;
                }
                _ => return Err(err.into()),
            }
        }
        if got == 0 {
            return match length {
                Some(n) => Err(cut(format!(
                    "the answer was cut after {} of {n} bytes",
                    body.len()
                ))),
                None => Ok(body),
            };
        }
        // SAFETY: `read` initialised `got` more bytes.
        unsafe { body.set_len(body.len() + got as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DwcpError;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn bodies_are_read_to_the_end_or_their_length() {
        let far = Instant::now() + Duration::from_secs(10);
        let (mut server, client) = UnixStream::pair().unwrap();
        server.write_all(b" world").unwrap();
        drop(server);
        assert_eq!(
            read_body(client.as_raw_fd(), b"hello", None, far).unwrap(),
            b"hello world"
        );

        let (mut server, client) = UnixStream::pair().unwrap();
        server.write_all(b"abcdef").unwrap();
        assert_eq!(read_body(client.as_raw_fd(), b"", Some(4), far).unwrap(), b"abcd");

        let (mut server, client) = UnixStream::pair().unwrap();
        server.write_all(b"cdef").unwrap();
        drop(server);
        let err = read_body(client.as_raw_fd(), b"ab", Some(9), far).unwrap_err();
        assert!(err.to_string().contains("cut after 6 of 9 bytes"), "{err}");

        // A server claiming an absurd length gets a cut answer, not an allocation of that size.
        let (mut server, client) = UnixStream::pair().unwrap();
        server.write_all(b"tiny").unwrap();
        drop(server);
        let err = read_body(client.as_raw_fd(), b"", Some(usize::MAX), far).unwrap_err();
        assert!(err.to_string().contains("cut after 4 of"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let (_server, client) = UnixStream::pair().unwrap();
        let started = Instant::now();
        let err = read_body(
            client.as_raw_fd(),
            b"",
            None,
            started + Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(
            matches!(&err, DwcpError::Io(e) if e.kind() == io::ErrorKind::TimedOut),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let cancelled = crate::cancel::within(Token::cancelled(), || {
            read_body(client.as_raw_fd(), b"", None, started + Duration::from_secs(60))
        });
        assert!(matches!(cancelled, Err(DwcpError::Interrupted)));
    }
}
