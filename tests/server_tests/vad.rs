//! The server's VAD as the setup tunes it (`realtimeInputConfig.automaticActivityDetection`): a longer
//! `silenceDurationMs` lets a pause stay inside one turn; absurd durations are refused with 1007. What is
//! asserted is the order of the voiceActivity events and their audio offsets, never wall-clock time.

use super::*;

/// 1 s of speech, a 700 ms pause, 1 s of speech, 2 s of silence.
fn speech_with_a_pause() -> Vec<i16> {
    let mut audio = voiced(16_000);
    audio.extend(vec![0i16; 11_200]);
    audio.extend(voiced(16_000));
    audio.extend(vec![0i16; 32_000]);
    audio
}

/// Streams `audio` into a session tuned with `aad`, then a text turn as a marker: every voiceActivity
/// the audio caused is sent before the marker's reply, since the server reads messages in order. The
/// voiceActivity events (type, offset) up to the marker.
async fn activity_with(server: &ServerHandle, aad: Value, audio_in: &[i16]) -> Vec<(String, Duration)> {
    let extra = json!({"explicitVadSignal": true, "outputAudioTranscription": {},
        "realtimeInputConfig": {"automaticActivityDetection": aad}});
    let mut c = session(server, extra).await;
    for chunk in audio_in.chunks(640) {
        send(&mut c, audio(chunk)).await;
    }
    send(&mut c, json!({"realtimeInput": {"text": "marker"}})).await;
    let mut activity = Vec::new();
    loop {
        let m = recv_msg(&mut c).await;
        if let Some(a) = m.voice_activity {
            let offset = a.audio_offset.expect("audioOffset");
            let offset = voxlive::protocol::codec::parse_duration(&offset).expect("a duration string");
            activity.push((a.voice_activity_type, offset));
        }
        let said = m
            .server_content
            .and_then(|sc| sc.output_transcription)
            .and_then(|t| t.text);
        if said.is_some_and(|t| t.contains("marker")) {
            return activity;
        }
    }
}

fn kinds(activity: &[(String, Duration)]) -> Vec<&str> {
    activity.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn a_longer_silence_duration_keeps_a_pause_inside_one_turn() {
    let server = start(fast()).await;
    let audio_in = speech_with_a_pause();

    let short = activity_with(&server, json!({"silenceDurationMs": 500}), &audio_in).await;
    assert_eq!(
        kinds(&short),
        ["ACTIVITY_START", "ACTIVITY_END", "ACTIVITY_START", "ACTIVITY_END"],
        "500 ms: the 700 ms pause ends the first turn: {short:?}"
    );
    assert!(
        short[1].1 < Duration::from_millis(1700),
        "the first end is in the pause: {short:?}"
    );

    // snake_case, as the Python SDK sends it
    let long = activity_with(&server, json!({"silence_duration_ms": 1500}), &audio_in).await;
    assert_eq!(
        kinds(&long),
        ["ACTIVITY_START", "ACTIVITY_END"],
        "1500 ms: one turn across the pause: {long:?}"
    );
    assert!(
        long[1].1 >= Duration::from_millis(2700),
        "the end is after the second speech: {long:?}"
    );

    // absent: the long-standing 500 ms, so the pause splits the speech as with 500
    let default = activity_with(&server, json!({}), &audio_in).await;
    assert_eq!(kinds(&default), kinds(&short), "{default:?}");

    // END_SENSITIVITY_LOW waits twice the silence: 400 ms becomes 800 ms, longer than the pause
    let low = json!({"silenceDurationMs": 400, "endOfSpeechSensitivity": "END_SENSITIVITY_LOW"});
    let low = activity_with(&server, low, &audio_in).await;
    assert_eq!(kinds(&low), ["ACTIVITY_START", "ACTIVITY_END"], "{low:?}");
}

#[tokio::test]
async fn absurd_vad_durations_are_refused_with_1007_and_a_reason() {
    let server = start(fast()).await;
    for (aad, needle) in [
        (json!({"silenceDurationMs": 86_400_000}), "silenceDurationMs"),
        (json!({"prefixPaddingMs": 10_001}), "prefixPaddingMs"),
        (json!({"silenceDurationMs": -1}), "invalid setup"),
        (json!({"prefixPaddingMs": 1e30}), "invalid setup"),
        (json!({"silenceDurationMs": 99_999_999_999u64}), "invalid setup"),
    ] {
        let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
        let extra = json!({"realtimeInputConfig": {"automaticActivityDetection": aad}});
        send(&mut c, setup_json(extra)).await;
        let (code, reason) = expect_close(&mut c).await;
        assert_eq!(code, 1007, "{aad}: {reason}");
        assert!(reason.contains(needle), "{aad}: {reason}");
    }
    // the largest accepted values still make a session
    let extra = json!({"realtimeInputConfig": {"automaticActivityDetection":
        {"silenceDurationMs": 10_000, "prefixPaddingMs": 0}}});
    session(&server, extra).await;
}
