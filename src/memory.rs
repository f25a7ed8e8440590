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

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_are_zeroed_and_writable() {
        let mut v = super::zeroed_column::<f64>(3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[12345] = 1.5;
        assert_eq!(v.iter().sum::<f64>(), 1.5);
    }
}
