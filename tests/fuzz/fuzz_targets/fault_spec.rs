//! `serve --faults SPEC`: never a panic; what parses prints back to a spec that parses to the same faults.
#![no_main]
use libfuzzer_sys::fuzz_target;
use voxlive::server::Faults;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = text.parse::<Faults>() {
            assert_eq!(f.to_string().parse::<Faults>(), Ok(f));
        }
    }
});
