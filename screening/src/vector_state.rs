//! Clearing the upper halves of the x86 vector registers after tract runs.
//!
//! tract's x86-64 matrix kernels (hand-written AVX2 / AVX-512 assembly in
//! tract-linalg 0.23.9) return without `vzeroupper`. Until something clears
//! them, the dirty upper halves slow down every SSE instruction that follows,
//! and the rest of this crate (like any Rust built for the baseline x86-64
//! target) is SSE code: on the 2-core AMD EPYC development VM the classifier's
//! light flattening took 370 µs per view right after a classification and
//! 134 µs on its own. ARM has no such state, so this is a no-op there.

/// Marks the upper halves of the vector registers clean (`vzeroupper`) when
/// the CPU has AVX; `model::run_plan` calls it after every tract run.
#[inline]
pub fn clear_upper_halves() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, the only requirement of `vzeroupper`.
            unsafe { zero_upper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}
