//! Client-message parsing as the embedded server does it: never a panic; what parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use voxlive::protocol::ClientMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ClientMessage::from_slice(data) {
        let again = ClientMessage::from_slice(m.to_json().as_bytes());
        assert_eq!(again.as_ref(), Ok(&m), "parse -> serialize -> parse is stable");
    }
});
