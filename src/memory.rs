//! Large column buffers, and the check that they can fit in memory at all.

use std::mem::MaybeUninit;

use bytemuck::Zeroable;

use crate::error::{DwcpError, Result};

/// Refuses to go on when `bytes` of new buffers for `what` could never fit
/// in memory (more than [`memory_limit`]), rather than leave the kernel to
/// kill the process part way through; `instead` says what to do. Requests
/// under 64 MiB are let through without reading the limit.
pub fn ensure_room(bytes: u64, what: &str, instead: &str) -> Result<()> {
    if bytes < 1 << 26 {
        return Ok(());
    }
    check_room(bytes, memory_limit(), what, instead)
}

fn check_room(needed: u64, limit: Option<u64>, what: &str, instead: &str) -> Result<()> {
    let gb = |bytes: u64| format!("{:.1} GB", bytes as f64 / 1e9);
    match limit {
        Some(limit) if needed > limit => Err(DwcpError::InsufficientMemory {
            needed,
            limit,
            message: format!(
                "{what} needs {} of memory, more than the {} this machine allows \
                 (RAM and swap, or its container's limit); {instead}",
                gb(needed),
                gb(limit)
            ),
        }),
        _ => Ok(()),
    }
}

/// The most memory this process could ever hold, in bytes: the machine's
/// RAM plus swap, or its cgroup's limit where that is lower; `None` where
/// neither can be read (not Linux).
pub fn memory_limit() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let machine = read("/proc/meminfo").and_then(|text| ram_and_swap(&text));
    let cgroup = read("/proc/self/cgroup").and_then(|text| {
        cgroup_limit_files(&text)
            .iter()
            .filter_map(|file| read(file)?.trim().parse::<u64>().ok()) // "max": no limit
            .min()
    });
    machine.into_iter().chain(cgroup).min()
}

/// `MemTotal` plus `SwapTotal` of a `/proc/meminfo` text, in bytes.
fn ram_and_swap(meminfo: &str) -> Option<u64> {
    let kib = |key: &str| {
        let line = meminfo.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse::<u64>()
            .ok()
    };
    kib("MemTotal:")?
        .checked_add(kib("SwapTotal:").unwrap_or(0))?
        .checked_mul(1024)
}

/// The files holding the memory limit of the cgroups a `/proc/self/cgroup`
/// text names: v2's `memory.max`, v1's `memory.limit_in_bytes`.
fn cgroup_limit_files(cgroups: &str) -> Vec<String> {
    cgroups
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let path = path.trim_end_matches('/');
            if controllers.is_empty() {
                Some(format!("/sys/fs/cgroup{path}/memory.max"))
            } else if controllers.split(',').any(|c| c == "memory") {
                Some(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
            } else {
                None
            }
        })
        .collect()
}

/// `n` zeroed values, allocated with `calloc`: the kernel hands out zero pages
/// that are touched only when written. On Linux the buffer asks for
/// transparent huge pages, which cuts page faults 512-fold when a large frame
/// is first written.
pub fn zeroed_column<T: Zeroable>(n: usize) -> Vec<T> {
    let mut values = bytemuck::zeroed_vec::<T>(n);
    advise_huge_pages(&mut values);
    values
}

/// An empty buffer with room for `n` values, for a caller that writes every
/// one of them (through `spare_capacity_mut`) before `set_len`. Unlike
/// [`zeroed_column`], memory the allocator reuses is not zeroed first, and
/// the pages of a fresh allocation are not faulted in twice. On Linux it asks
/// for transparent huge pages, as [`zeroed_column`] does.
pub fn uninit_column<T>(n: usize) -> Vec<T> {
    let mut values = Vec::with_capacity(n);
    advise_huge_pages(&mut values.spare_capacity_mut()[..n]);
    values
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(values: &mut [T]) {
    const HUGE_PAGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(values);
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = values.as_mut_ptr() as usize;
    let aligned = start.next_multiple_of(page);
    let len = (start + bytes - aligned) / page * page;
    // SAFETY: [aligned, aligned + len) lies inside the buffer we own, and
    // MADV_HUGEPAGE is advice only: it never changes the memory's contents.
    // Its result is ignored: without huge pages the buffer still works.
    unsafe {
        libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_values: &mut [T]) {}

/// Copies `src` to `dst` (same length) with non-temporal stores where the
/// CPU has them: whole cache lines go to memory without first being read
/// into the cache, which saves a third of the memory traffic when a buffer
/// larger than the cache is written once. The partial lines at either end
/// are copied normally. Call [`stream_fence`] on the same thread before
/// another thread may read `dst`. Every value of `dst` is written.
pub fn stream_copy(src: &[f32], dst: &mut [MaybeUninit<f32>]) {
    assert_eq!(src.len(), dst.len(), "stream_copy needs equal lengths");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_stream_ps};
        const LINE: usize = 64 / size_of::<f32>();
        let head = dst.as_ptr().align_offset(64).min(dst.len());
        let body = (dst.len() - head) / LINE * LINE;
        copy(&src[..head], &mut dst[..head]);
        for i in (head..head + body).step_by(4) {
            // SAFETY: `i + 4 <= head + body <= len` for both slices (equal
            // lengths), and `dst + i` is 16-byte aligned, as `_mm_stream_ps`
            // requires; SSE is part of every x86_64 CPU.
            unsafe { _mm_stream_ps(dst.as_mut_ptr().add(i).cast(), _mm_loadu_ps(src.as_ptr().add(i))) };
        }
        copy(&src[head + body..], &mut dst[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    copy(src, dst);
}

/// Writes `src` into `dst` (same length) with ordinary stores.
fn copy(src: &[f32], dst: &mut [MaybeUninit<f32>]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

/// Orders this thread's [`stream_copy`] stores before any later store (the
/// non-temporal stores are otherwise weakly ordered).
pub fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of every x86_64 CPU; a fence has no other effect.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use crate::error::DwcpError;

    #[test]
    fn a_buffer_larger_than_the_limit_is_refused_with_both_sizes() {
        assert!(super::check_room(10, Some(10), "x", "y").is_ok());
        assert!(super::check_room(u64::MAX, None, "x", "y").is_ok());
        let err =
            super::check_room(137_500_000_000, Some(25_000_000_000), "the frame", "use shards").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the frame needs 137.5 GB of memory, more than the 25.0 GB this machine allows \
             (RAM and swap, or its container's limit); use shards"
        );
        assert!(matches!(
            err,
            DwcpError::InsufficientMemory {
                needed: 137_500_000_000,
                limit: 25_000_000_000,
                ..
            }
        ));
        #[cfg(target_os = "linux")] // nothing is larger than the address space
        assert!(super::ensure_room(u64::MAX, "x", "y").is_err());
        assert!(super::ensure_room((1 << 26) - 1, "x", "y").is_ok());
    }

    #[test]
    fn the_limit_is_ram_plus_swap_or_a_lower_cgroup_limit() {
        let meminfo = "MemTotal:       24684096 kB\nMemFree: 1 kB\nSwapTotal:       1024 kB\n";
        assert_eq!(super::ram_and_swap(meminfo), Some((24684096 + 1024) * 1024));
        assert_eq!(super::ram_and_swap("MemFree: 1 kB\n"), None);
        assert_eq!(super::ram_and_swap(&format!("MemTotal: {} kB\n", u64::MAX)), None);
        let v1 = "4:memory:/process_api/abc\n3:cpuset:/\n0::/\n";
        assert_eq!(
            super::cgroup_limit_files(v1),
            [
                "/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory.max"
            ]
        );
        assert_eq!(
            super::cgroup_limit_files("0::/user.slice/x.scope\n"),
            ["/sys/fs/cgroup/user.slice/x.scope/memory.max"]
        );
        #[cfg(target_os = "linux")]
        {
            let limit = super::memory_limit().unwrap();
            assert!(limit > 1 << 26, "{limit}");
        }
    }

    #[test]
    fn buffers_are_zeroed_and_writable() {
        let mut v = super::zeroed_column::<f64>(3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[12345] = 1.5;
        assert_eq!(v.iter().sum::<f64>(), 1.5);
    }

    #[test]
    fn an_uninit_buffer_has_room_for_every_value() {
        let v = super::uninit_column::<f32>(3 << 20);
        assert!(v.is_empty() && v.capacity() >= 3 << 20);
    }

    #[test]
    fn a_streamed_copy_equals_the_source_at_any_alignment() {
        let src: Vec<f32> = (0..103).map(|i| i as f32 * 0.5).collect();
        let mut dst = vec![MaybeUninit::new(f32::NAN); 120];
        for skip in 0..17 {
            for len in [0, 1, 3, 4, 5, 16, 17, 33, 64, 103] {
                dst.fill(MaybeUninit::new(f32::NAN));
                super::stream_copy(&src[..len], &mut dst[skip..skip + len]);
                super::stream_fence();
                // SAFETY: every element was initialized by `fill`.
                let dst: Vec<f32> = dst.iter().map(|v| unsafe { v.assume_init() }).collect();
                assert_eq!(&dst[skip..skip + len], &src[..len], "skip {skip}, len {len}");
                assert!(dst[..skip].iter().chain(&dst[skip + len..]).all(|v| v.is_nan()));
            }
        }
    }
}
