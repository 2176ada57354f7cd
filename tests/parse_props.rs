//! Property tests of everything that parses what a peer or a user sends (the same properties the
//! cargo-fuzz targets in tests/fuzz/ check without bound): never a panic, and parse -> serialize -> parse is
//! stable.

use proptest::prelude::*;
use serde_json::{json, Value};

use voxlive::protocol::codec::{encode_base64, parse_duration};
use voxlive::protocol::{ClientMessage, ServerMessage};
use voxlive::server::Faults;

/// A JSON leaf or a small structure of them, to splice into message templates.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Server messages shaped like the real ones, with random values (valid and not) in every field.
fn server_json() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(any::<u8>(), 0..64),
        ".{0,16}",
        any::<bool>(),
        any::<i64>(),
        "[0-9.e+-]{0,8}s?",
        junk(),
        0u8..6,
    )
        .prop_map(|(bytes, text, flag, index, duration, junk, which)| match which {
            0 => json!({"serverContent": {"modelTurn": {"parts": [
                {"inlineData": {"mimeType": format!("audio/pcm;rate={index}"), "data": encode_base64(&bytes)}},
                {"text": text}]}, "turnComplete": flag, "interrupted": !flag}}),
            1 => json!({"goAway": {"timeLeft": duration}}),
            2 => json!({"sessionResumptionUpdate": {"newHandle": text, "resumable": flag,
                        "lastConsumedClientMessageIndex": index.to_string()}}),
            3 => json!({"toolCall": {"functionCalls": [{"id": text, "name": "f", "args": junk}]}}),
            4 => json!({"usageMetadata": {"totalTokenCount": index, "promptTokensDetails": [{"modality": text, "tokenCount": index}]}}),
            _ => json!({"setupComplete": {}, "unknownField": junk}),
        })
}

fn client_json() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(any::<u8>(), 0..64),
        ".{0,16}",
        any::<bool>(),
        junk(),
        0u8..5,
    )
        .prop_map(|(bytes, text, flag, junk, which)| match which {
            0 => {
                json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": encode_base64(&bytes)}}})
            }
            1 => {
                json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": flag}})
            }
            2 => json!({"toolResponse": {"functionResponses": [{"id": text, "name": "f", "response": junk}]}}),
            3 => json!({"realtime_input": {"activity_start": {}, "audio_stream_end": flag}}),
            _ => json!({"setup": {"model": text, "generationConfig": junk}}),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn server_messages_never_panic_and_round_trip(v in server_json()) {
        let bytes = v.to_string().into_bytes();
        if let Ok(m) = ServerMessage::from_slice(&bytes) {
            let again = ServerMessage::from_slice(m.to_json().as_bytes());
            prop_assert_eq!(again.as_ref(), Ok(&m));
            // events from it never panic either (rates, durations, indices from the peer)
            let _ = voxlive::session::events_from(m, std::time::Instant::now());
        }
    }

    #[test]
    fn client_messages_never_panic_and_round_trip(v in client_json()) {
        if let Ok(m) = ClientMessage::from_slice(v.to_string().as_bytes()) {
            let again = ClientMessage::from_slice(m.to_json().as_bytes());
            prop_assert_eq!(again.as_ref(), Ok(&m));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = ServerMessage::from_slice(&bytes);
        let _ = ClientMessage::from_slice(&bytes);
        let _ = voxlive::wav::read_interleaved_bytes(&bytes);
    }

    #[test]
    fn wav_headers_with_any_numbers_never_panic(
        rate in any::<u32>(), channels in any::<u16>(), bits in any::<u16>(), format in any::<u16>(),
        data_len in any::<u32>(), body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + body.len() as u32).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&format.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&rate.wrapping_mul(4).to_le_bytes());
        h.extend_from_slice(&channels.wrapping_mul(bits / 8).to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h.extend_from_slice(&body);
        let _ = voxlive::wav::read_interleaved_bytes(&h);
    }

    #[test]
    fn durations_never_panic(text in ".{0,24}", secs in any::<f64>()) {
        let _ = parse_duration(&text);
        let _ = parse_duration(&format!("{secs}s"));
    }

    #[test]
    fn fault_specs_never_panic_and_round_trip(spec in "[a-z0-9=,:.\\-]{0,48}") {
        if let Ok(f) = spec.parse::<Faults>() {
            let again = f.to_string().parse::<Faults>();
            prop_assert_eq!(again, Ok(f));
        }
    }

    #[test]
    fn redaction_never_panics_and_is_idempotent(text in ".{0,64}") {
        let once = voxlive::redact::redact(&text).into_owned();
        let twice = voxlive::redact::redact(&once).into_owned();
        prop_assert_eq!(once, twice);
    }
}
