//! WAV reading: any bytes give audio or a typed error, never a panic or a huge allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = voxlive::wav::read_interleaved_bytes(data);
});
