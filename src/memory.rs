//! Large column buffers.

use bytemuck::Zeroable;

/// `n` zeroed values, allocated with `calloc`: the kernel hands out zero pages
/// that are touched only when written. On Linux the buffer asks for
/// transparent huge pages, which cuts page faults 512-fold when a large frame
/// is first written.
pub fn zeroed_column<T: Zeroable>(n: usize) -> Vec<T> {
    let mut values = bytemuck::zeroed_vec::<T>(n);
    advise_huge_pages(&mut values);
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
/// another thread may read `dst`.
pub fn stream_copy(src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "stream_copy needs equal lengths");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_stream_ps};
        const LINE: usize = 64 / size_of::<f32>();
        let head = dst.as_ptr().align_offset(64).min(dst.len());
        let body = (dst.len() - head) / LINE * LINE;
        dst[..head].copy_from_slice(&src[..head]);
        for i in (head..head + body).step_by(4) {
            // SAFETY: `i + 4 <= head + body <= len` for both slices (equal
            // lengths), and `dst + i` is 16-byte aligned, as `_mm_stream_ps`
            // requires; SSE is part of every x86_64 CPU.
            unsafe { _mm_stream_ps(dst.as_mut_ptr().add(i), _mm_loadu_ps(src.as_ptr().add(i))) };
        }
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
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
    #[test]
    fn buffers_are_zeroed_and_writable() {
        let mut v = super::zeroed_column::<f64>(3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[12345] = 1.5;
        assert_eq!(v.iter().sum::<f64>(), 1.5);
    }

    #[test]
    fn a_streamed_copy_equals_the_source_at_any_alignment() {
        let src: Vec<f32> = (0..103).map(|i| i as f32 * 0.5).collect();
        let mut dst = vec![f32::NAN; 120];
        for skip in 0..17 {
            for len in [0, 1, 3, 4, 5, 16, 17, 33, 64, 103] {
                dst.fill(f32::NAN);
                super::stream_copy(&src[..len], &mut dst[skip..skip + len]);
                super::stream_fence();
                assert_eq!(&dst[skip..skip + len], &src[..len], "skip {skip}, len {len}");
                assert!(dst[..skip].iter().chain(&dst[skip + len..]).all(|v| v.is_nan()));
            }
        }
    }
}
