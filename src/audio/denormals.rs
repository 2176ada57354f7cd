//! Flush-to-zero for the DSP thread. IIR filters (AEC3's high-pass and decimator biquads, its matched
//! filter over a silent render signal) decay into subnormal floats whenever their input goes quiet, and
//! x86 processes subnormals in microcode at many times the cost of a normal float: a profile of the live
//! path showed AEC3's cascaded biquads alone at 13% of the client's CPU between replies. Values below
//! 1.2e-38 (-758 dBFS) are inaudible, so treating them as zero changes nothing a person can hear. This
//! is what audio frameworks do on their processing threads (JUCE's `ScopedNoDenormals`).
//!
//! The setting is per thread (MXCSR on x86, FPCR on aarch64), so it is made once at the top of the
//! DSP thread and touches no other thread; a DSP loop on the session's thread sets it for each turn only
//! ([`ScopedFlushToZero`]).

/// MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const MXCSR_FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// FPCR bit 24: flush-to-zero on aarch64.
#[cfg(target_arch = "aarch64")]
const FPCR_FZ: u64 = 1 << 24;

/// Sets flush-to-zero (and denormals-are-zero where the CPU has it) on the calling thread.
pub fn flush_to_zero_on_this_thread() {
    set_control(control() | FLUSH_BITS);
}

/// Flush-to-zero for a scope, the previous setting back on drop (JUCE's `ScopedNoDenormals`): for the DSP
/// loop's turns on the session's thread, whose other code (parsing a peer's floats exactly, say) must keep
/// subnormals. Two register writes per turn.
pub struct ScopedFlushToZero(Control);

impl ScopedFlushToZero {
    pub fn new() -> ScopedFlushToZero {
        let before = control();
        set_control(before | FLUSH_BITS);
        ScopedFlushToZero(before)
    }
}

impl Drop for ScopedFlushToZero {
    fn drop(&mut self) {
        set_control(self.0);
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
type Control = u32;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const FLUSH_BITS: Control = MXCSR_FTZ_DAZ;
#[cfg(target_arch = "aarch64")]
type Control = u64;
#[cfg(target_arch = "aarch64")]
const FLUSH_BITS: Control = FPCR_FZ;
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
type Control = u32;
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
const FLUSH_BITS: Control = 0;

/// This thread's floating-point control register (0 where there is none to read).
fn control() -> Control {
    #[allow(unused_mut)]
    let mut c: Control = 0;
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    // SAFETY: stmxcsr stores this thread's SSE control register into `c`.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut c, options(nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads this thread's floating-point control register.
    unsafe {
        std::arch::asm!("mrs {}, fpcr", out(reg) c, options(nomem, nostack, preserves_flags));
    }
    c
}

/// Writes this thread's floating-point control register. Only [`FLUSH_BITS`] are ever changed from what
/// [`control`] read: they change how subnormal floats are treated and nothing else (no exception is
/// unmasked).
fn set_control(c: Control) {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    // SAFETY: ldmxcsr loads this thread's SSE control register from `c`.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &c, options(nostack, preserves_flags, readonly));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: writes this thread's floating-point control register.
    unsafe {
        std::arch::asm!("msr fpcr, {}", in(reg) c, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = c;
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

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn scoped_flush_to_zero_restores_the_setting() {
        let (inside, after) = std::thread::spawn(|| {
            let inside = {
                let _flush = ScopedFlushToZero::new();
                tiny(1e-10)
            };
            (inside, tiny(1e-10))
        })
        .join()
        .unwrap();
        assert_eq!(inside, 0.0, "flushed inside the scope");
        assert!(after.is_subnormal(), "kept again after it");
    }
}
