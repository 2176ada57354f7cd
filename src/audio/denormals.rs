//! Flush-to-zero for the DSP thread. IIR filters (AEC3's high-pass and decimator biquads, its matched
//! filter over a silent render signal) decay into subnormal floats whenever their input goes quiet, and
//! x86 processes subnormals in microcode at many times the cost of a normal float: a profile of the live
//! path showed AEC3's cascaded biquads alone at 13% of the client's CPU between replies. Values below
//! 1.2e-38 (-758 dBFS) are inaudible, so treating them as zero changes nothing a person can hear. This
//! is what audio frameworks do on their processing threads (JUCE's `ScopedNoDenormals`).
//!
//! The setting is per thread (MXCSR on x86, FPCR on aarch64), so it is made once at the top of the
//! DSP thread and touches no other thread.

/// MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const MXCSR_FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// FPCR bit 24: flush-to-zero on aarch64.
#[cfg(target_arch = "aarch64")]
const FPCR_FZ: u64 = 1 << 24;

/// Sets flush-to-zero (and denormals-are-zero where the CPU has it) on the calling thread.
pub fn flush_to_zero_on_this_thread() {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr/ldmxcsr read and write this thread's SSE control register only; the bits set
        // change how subnormal floats are treated and nothing else (no exception is unmasked).
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= MXCSR_FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: FPCR is this thread's floating-point control register; FZ changes only how subnormal
        // floats are treated.
        unsafe {
            let mut fpcr: u64;
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
            fpcr |= FPCR_FZ;
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value that is subnormal, computed at run time so the compiler cannot fold it.
    fn tiny(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(1e-30f32)
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn subnormal_results_become_zero_on_the_flushed_thread_only() {
        assert!(tiny(1e-10).is_subnormal(), "without the setting a subnormal is kept");
        let flushed = std::thread::spawn(|| {
            flush_to_zero_on_this_thread();
            tiny(1e-10)
        })
        .join()
        .unwrap();
        assert_eq!(flushed, 0.0);
        assert!(tiny(1e-10).is_subnormal(), "other threads are untouched");
    }
}
