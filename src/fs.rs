//! File-system operations the standard library lacks, or has per platform.

use std::fs::File;
use std::io;
use std::path::Path;

/// Reads exactly `buf.len()` bytes of `file` at `offset`, without using or
/// moving a shared cursor on Unix (`pread`); on Windows through `seek_read`.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match file.seek_read(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Swaps the entries `a` and `b` (two folders, or two files) in one atomic
/// step: a reader of either path sees the old or the new entry, never none.
///
/// Returns `Ok(false)` where the system cannot do that (not Linux, a kernel
/// before 3.15, or a file system without `RENAME_EXCHANGE`): the caller then
/// falls back to two renames.
pub fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    imp::exchange(a, b)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn c_path(path: &Path) -> io::Result<CString> {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path holds a NUL byte"))
    }

    pub fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
        let (a, b) = (c_path(a)?, c_path(b)?);
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let status = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if status == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP) => Ok(false),
            _ => Err(err),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::path::Path;

    pub fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn exchange_swaps_two_folders() {
        let root = std::env::temp_dir().join(format!("dwcp-fs-test-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("from-a"), b"a").unwrap();
        fs::write(b.join("from-b"), b"b").unwrap();
        let swapped = exchange(&a, &b).unwrap();
        if cfg!(target_os = "linux") {
            assert!(swapped, "tmpfs and ext4 support RENAME_EXCHANGE");
            assert!(a.join("from-b").exists() && b.join("from-a").exists());
        }
        let missing = exchange(&root.join("absent"), &b);
        assert!(missing.is_err() || !swapped);
        fs::remove_dir_all(&root).unwrap();
    }
}
