//! Tells the processor which memory a batch's requests will read, so the
//! cache misses of their table probes overlap instead of each request
//! waiting its turn for main memory.
#![allow(unsafe_code)]

/// Starts loading the cache line at `address` (any address: a prefetch
/// reads nothing the program sees and never faults).
#[inline]
pub(super) fn prefetch(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint; it neither faults nor changes memory,
    // whatever the address (Intel SDM, "PREFETCHh").
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            address as *const i8,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
