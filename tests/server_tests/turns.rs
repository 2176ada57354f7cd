//! Echo turns: exact samples, turn ends (activityEnd, audioStreamEnd, VAD), text turns, transcripts,
//! usage and barge-in.

use super::*;

#[tokio::test]
async fn snake_case_setup_and_url_safe_audio_are_accepted() {
    let server = start(fast()).await;
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(
        &mut c,
        json!({"setup": {"model": MODEL,
        "generation_config": {"response_modalities": ["AUDIO"],
            "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}}},
        "realtime_input_config": {"automatic_activity_detection": {"disabled": true}},
        "input_audio_transcription": {}}}),
    )
    .await;
    assert!(recv_msg(&mut c).await.setup_complete.is_some());
    let input = ramp(1600);
    let data = base64_url(&pcm16_to_bytes(&input));
    send(&mut c, json!({"realtime_input": {"activity_start": {}}})).await;
    send(
        &mut c,
        json!({"realtime_input": {"media_chunks": [{"mime_type": "audio/pcm;rate=16000", "data": data}]}}),
    )
    .await;
    send(&mut c, json!({"realtime_input": {"activity_end": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.audio, echo_reply_samples(&input));
    assert_eq!(turn.input, "(0.1 s of speech)");
}

#[tokio::test]
async fn activity_end_echoes_the_exact_samples_in_40ms_chunks_with_usage() {
    let server = start(fast()).await;
    let mut extra = manual();
    extra["inputAudioTranscription"] = json!({});
    extra["outputAudioTranscription"] = json!({});
    let mut c = session(&server, extra).await;
    let input = ramp(8000);
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    for chunk in input.chunks(1600) {
        send(&mut c, audio(chunk)).await;
    }
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.audio, echo_reply_samples(&input));
    assert_eq!(turn.chunks, 12_000usize.div_ceil(960));
    assert_eq!(turn.input, "(0.5 s of speech)");
    assert_eq!(turn.output, "(echo of 0.5 s)");
    assert!(turn.generation_complete);
    let usage = turn.usage.expect("usage on turnComplete");
    assert_eq!(usage.prompt_token_count, Some(13));
    assert_eq!(usage.response_token_count, Some(13));
    assert_eq!(usage.total_token_count, Some(26));
    assert_eq!(usage.prompt_tokens_details[0].modality, "AUDIO");
}

#[tokio::test]
async fn audio_stream_end_flushes_the_turn_and_other_rates_are_resampled() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    // the stream ends mid-speech: the turn is flushed and answered
    let input = voiced(3200);
    send(&mut c, audio(&input)).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    assert_eq!(read_turn(&mut c).await.audio, echo_reply_samples(&input));

    // 48 kHz speech (each 16 kHz sample three times) is heard at 16 kHz and echoed at 24 kHz
    let at_48k: Vec<i16> = voiced(16_000).iter().flat_map(|&s| [s, s, s]).collect();
    let blob = json!({"mimeType": "audio/pcm;rate=48000", "data": encode_base64(&pcm16_to_bytes(&at_48k))});
    send(&mut c, json!({"realtimeInput": {"audio": blob}})).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    assert_eq!(read_turn(&mut c).await.audio.len(), 24_000);
}

#[tokio::test]
async fn audio_stream_end_without_speech_is_not_a_turn() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    send(&mut c, audio(&ramp(3200))).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    // the next thing the server says is the answer to real speech, not an echo of the ramp
    let input = voiced(3200);
    send(&mut c, audio(&input)).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    assert_eq!(read_turn(&mut c).await.audio, echo_reply_samples(&input));
}

#[tokio::test]
async fn server_vad_ends_the_turn_after_speech_then_silence() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({"inputAudioTranscription": {}})).await;
    let mut signal = voiced(16_000);
    signal.extend(std::iter::repeat_n(0i16, 16_000));
    for chunk in signal.chunks(320) {
        send(&mut c, audio(chunk)).await;
    }
    let turn = read_turn(&mut c).await;
    assert!(
        turn.audio.len() >= 16_000 * 3 / 2,
        "echo of the speech: {} samples",
        turn.audio.len()
    );
    assert!(turn.input.ends_with("s of speech)"), "{}", turn.input);
}

#[tokio::test]
async fn text_turn_in_text_modality_answers_text() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({"generationConfig": {"responseModalities": ["TEXT"]}})).await;
    send(
        &mut c,
        json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hello"}]}], "turnComplete": true}}),
    )
    .await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.text, "You said: hello");
    assert!(turn.audio.is_empty());
    let usage = turn.usage.unwrap();
    assert_eq!(usage.prompt_token_count, Some(2));
    assert_eq!(usage.response_token_count, Some(4));

    send(&mut c, json!({"realtimeInput": {"text": "again"}})).await;
    assert_eq!(read_turn(&mut c).await.text, "You said: again");
}

#[tokio::test]
async fn text_turn_in_audio_modality_answers_audio_with_transcript() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({"outputAudioTranscription": {}})).await;
    send(
        &mut c,
        json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turnComplete": true}}),
    )
    .await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "You said: hi");
    assert!(!turn.audio.is_empty());
    assert!(turn.text.is_empty());
}

#[tokio::test]
async fn barge_in_interrupts_a_streaming_reply() {
    // Paced in real time, so the 3 s reply is still streaming when the user starts again.
    let server = start(ServerConfig::default()).await;
    let mut c = session(&server, manual()).await;
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    send(&mut c, audio(&ramp(48_000))).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    loop {
        let sc = recv_msg(&mut c).await.server_content.unwrap_or_default();
        if sc.model_turn.is_some() {
            break;
        }
    }
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    loop {
        let sc = recv_msg(&mut c).await.server_content.unwrap_or_default();
        assert_ne!(sc.turn_complete, Some(true), "the reply was not interrupted");
        if sc.interrupted == Some(true) {
            break;
        }
    }
}
