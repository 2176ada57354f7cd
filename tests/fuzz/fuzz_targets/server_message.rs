//! Server-message parsing as the client does it: never a panic; what parses round-trips; turning it into
//! events (rates, durations, indices from the peer) never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use voxlive::protocol::ServerMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ServerMessage::from_slice(data) {
        let again = ServerMessage::from_slice(m.to_json().as_bytes());
        assert_eq!(again.as_ref(), Ok(&m), "parse -> serialize -> parse is stable");
        let _ = voxlive::session::events_from(m, std::time::Instant::now());
    }
});
