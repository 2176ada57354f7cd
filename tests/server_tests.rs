//! The embedded Live server on its own, driven by a raw tokio-tungstenite client: handshake paths and keys,
//! setup validation, echo turns (exact samples), turn ends, transcripts, usage, resumption, scripted tool
//! calls, barge-in, faults and TLS. Every server binds 127.0.0.1:0. Waits are bounded only to turn a hang
//! into a failure; nothing asserts on timing.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use voxlive::protocol::codec::{encode_base64, pcm16_from_bytes, pcm16_to_bytes};
use voxlive::protocol::ServerMessage;
use voxlive::server::{
    echo_reply_samples, spawn, CloseMidTurn, Faults, ResponderKind, ScriptedResponder,
    ServerConfig, ServerHandle,
};

const PATH: &str = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
const MODEL: &str = "models/gemini-2.5-flash-native-audio-preview-12-2025";
const WAIT: Duration = Duration::from_secs(20);

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the client read: a server message, or the close frame (code, reason).
#[derive(Debug)]
enum Got {
    Msg(ServerMessage),
    Closed(u16, String),
}

fn fast() -> ServerConfig {
    ServerConfig {
        pace_replies: false,
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig) -> ServerHandle {
    spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(c: &mut Client, v: Value) {
    c.send(Message::text(v.to_string())).await.unwrap();
}

async fn recv(c: &mut Client) -> Got {
    loop {
        let frame = tokio::time::timeout(WAIT, c.next())
            .await
            .expect("server went silent");
        match frame {
            Some(Ok(Message::Binary(b))) => {
                return Got::Msg(ServerMessage::from_slice(&b).unwrap())
            }
            Some(Ok(Message::Text(t))) => {
                return Got::Msg(ServerMessage::from_slice(t.as_bytes()).unwrap())
            }
            Some(Ok(Message::Close(Some(f)))) => {
                return Got::Closed(u16::from(f.code), f.reason.to_string())
            }
            Some(Ok(Message::Close(None))) | None => return Got::Closed(1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Got::Closed(0, format!("transport error: {e}")),
        }
    }
}

async fn recv_msg(c: &mut Client) -> ServerMessage {
    match recv(c).await {
        Got::Msg(m) => m,
        Got::Closed(code, reason) => panic!("closed {code}: {reason}"),
    }
}

async fn expect_close(c: &mut Client) -> (u16, String) {
    loop {
        match recv(c).await {
            Got::Closed(code, reason) => return (code, reason),
            Got::Msg(_) => continue,
        }
    }
}

fn setup_json(extra: Value) -> Value {
    let mut setup = json!({"model": MODEL});
    if let (Some(s), Some(e)) = (setup.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({ "setup": setup })
}

/// Connects and completes setup; returns the client.
async fn session(server: &ServerHandle, extra: Value) -> Client {
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(extra)).await;
    assert!(recv_msg(&mut c).await.setup_complete.is_some());
    c
}

fn manual() -> Value {
    json!({"realtimeInputConfig": {"automaticActivityDetection": {"disabled": true}}})
}

fn audio(samples: &[i16]) -> Value {
    json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": encode_base64(&pcm16_to_bytes(samples))}}})
}

/// Everything of one model turn, read until turnComplete.
#[derive(Debug, Default)]
struct Turn {
    audio: Vec<i16>,
    chunks: usize,
    text: String,
    input: String,
    output: String,
    interrupted: bool,
    generation_complete: bool,
    usage: Option<voxlive::protocol::UsageMetadata>,
}

async fn read_turn(c: &mut Client) -> Turn {
    let mut t = Turn::default();
    loop {
        let m = recv_msg(c).await;
        let Some(sc) = m.server_content else { continue };
        if let Some(mt) = sc.model_turn {
            for p in mt.parts {
                if let Some(b) = p.inline_data {
                    assert_eq!(b.mime_type, "audio/pcm;rate=24000");
                    t.audio.extend(pcm16_from_bytes(&b.data));
                    t.chunks += 1;
                }
                t.text.push_str(p.text.as_deref().unwrap_or(""));
            }
        }
        t.input.push_str(
            sc.input_transcription
                .and_then(|x| x.text)
                .as_deref()
                .unwrap_or(""),
        );
        t.output.push_str(
            sc.output_transcription
                .and_then(|x| x.text)
                .as_deref()
                .unwrap_or(""),
        );
        t.interrupted |= sc.interrupted == Some(true);
        t.generation_complete |= sc.generation_complete == Some(true);
        if sc.turn_complete == Some(true) {
            t.usage = m.usage_metadata;
            return t;
        }
    }
}

fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i * 37) % 2000) as i16 - 1000).collect()
}

/// Speech-like enough for webrtc-vad: a 200 Hz tone with harmonics to 3 kHz, amplitude-modulated at 4 Hz.
fn voiced(n: usize) -> Vec<i16> {
    (0..n)
        .map(|k| {
            let t = k as f64 / 16_000.0;
            let tau = std::f64::consts::TAU;
            let v: f64 = (1..=15)
                .map(|h| (tau * 200.0 * h as f64 * t).sin() / h as f64)
                .sum();
            let env = 0.6 + 0.4 * (tau * 4.0 * t).sin();
            (7000.0 * v * env).clamp(-30000.0, 30000.0) as i16
        })
        .collect()
}

#[tokio::test]
async fn handshake_accepts_live_paths_and_refuses_others_with_404() {
    let server = start(fast()).await;
    let base = server.base_url();
    for path in [
        PATH.to_string(),
        PATH.replace("v1beta", "v1"),
        PATH.replace("v1beta", "v1alpha"),
        format!("/{PATH}"),
        format!("/some/prefix{PATH}"),
        "//ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained".into(),
    ] {
        let mut c = connect(&format!("{base}{path}")).await;
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some(), "{path}");
    }
    for path in ["/ws/nothing", "/", &PATH.replace("v1beta", "v2")] {
        match tokio_tungstenite::connect_async(format!("{base}{path}")).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404, "{path}"),
            other => panic!("{path}: expected 404, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn key_is_accepted_from_header_query_and_token() {
    let server = start(ServerConfig {
        api_key: Some("s3cret".into()),
        ..fast()
    })
    .await;
    let base = server.base_url();
    let mut req = format!("{base}{PATH}").into_client_request().unwrap();
    req.headers_mut()
        .insert("x-goog-api-key", HeaderValue::from_static("s3cret"));
    let constrained = format!("{base}/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained");
    let mut token = constrained.as_str().into_client_request().unwrap();
    token
        .headers_mut()
        .insert("authorization", HeaderValue::from_static("Token s3cret"));
    let clients = vec![
        tokio_tungstenite::connect_async(req).await.unwrap().0,
        connect(&format!("{base}{PATH}?key=s3cret")).await,
        tokio_tungstenite::connect_async(token).await.unwrap().0,
        connect(&format!("{constrained}?access_token=s3cret")).await,
    ];
    for mut c in clients {
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some());
    }
}

#[tokio::test]
async fn wrong_or_missing_key_closes_1008() {
    let server = start(ServerConfig {
        api_key: Some("s3cret".into()),
        ..fast()
    })
    .await;
    for url in [
        format!("{}{PATH}?key=wrong", server.base_url()),
        format!("{}{PATH}", server.base_url()),
    ] {
        let mut c = connect(&url).await;
        let (code, reason) = expect_close(&mut c).await;
        assert_eq!(code, 1008);
        assert!(reason.contains("API key not valid"), "{reason}");
        assert!(!reason.contains("wrong"));
    }
}

#[tokio::test]
async fn setup_is_validated_against_the_catalog() {
    let server = start(fast()).await;
    let url = format!("{}{PATH}", server.base_url());
    let mut c = connect(&url).await;
    send(&mut c, json!({"setup": {"model": "models/gemini-9-live"}})).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert!(
        reason.contains("gemini-9-live") && reason.contains("known models: gemini-3.8-live"),
        "{reason}"
    );

    let mut c = connect(&url).await;
    send(
        &mut c,
        json!({"setup": {"model": "models/gemini-2.0-flash-live-001"}}),
    )
    .await;
    assert_eq!(expect_close(&mut c).await.0, 1008);

    let mut c = connect(&url).await;
    let bad_voice = json!({"generationConfig": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}}});
    send(&mut c, setup_json(bad_voice)).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("Nobody"), "{reason}");

    let mut c = connect(&url).await;
    send(&mut c, audio(&[0; 10])).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("setup"), "{reason}");
}

#[tokio::test]
async fn malformed_frames_and_unknown_keys_close_1007() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    c.send(Message::binary(b"{not json".to_vec()))
        .await
        .unwrap();
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("malformed"), "{reason}");

    let mut c = session(&server, json!({})).await;
    send(&mut c, json!({"bogusMessage": {}})).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("bogusMessage"), "{reason}");
}

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
    send(&mut c, json!({"realtime_input": {"media_chunks": [{"mime_type": "audio/pcm;rate=16000", "data": data}]}})).await;
    send(&mut c, json!({"realtime_input": {"activity_end": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.audio, echo_reply_samples(&input));
    assert_eq!(turn.input, "(0.1 s of speech)");
}

fn base64_url(bytes: &[u8]) -> String {
    encode_base64(bytes).replace('+', "-").replace('/', "_")
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
    let input = ramp(3200);
    send(&mut c, audio(&input)).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    assert_eq!(read_turn(&mut c).await.audio, echo_reply_samples(&input));

    let blob = json!({"mimeType": "audio/pcm;rate=48000", "data": encode_base64(&pcm16_to_bytes(&[0; 4800]))});
    send(&mut c, json!({"realtimeInput": {"audio": blob}})).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    assert_eq!(read_turn(&mut c).await.audio.len(), 2400);
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
    let mut c = session(
        &server,
        json!({"generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    send(&mut c, json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hello"}]}], "turnComplete": true}})).await;
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
    send(&mut c, json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turnComplete": true}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "You said: hi");
    assert!(!turn.audio.is_empty());
    assert!(turn.text.is_empty());
}

#[tokio::test]
async fn resumption_updates_resume_and_bad_handles() {
    let script = ScriptedResponder::from_path("tests/fixtures/script.toml").unwrap();
    let server = start(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast()
    })
    .await;
    let mut c = session(
        &server,
        json!({"sessionResumption": {}, "generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    let first = recv_msg(&mut c)
        .await
        .session_resumption_update
        .expect("update after setupComplete");
    assert_eq!(first.resumable, Some(true));
    assert_eq!(first.last_consumed_client_message_index, None);
    // Turn 1 of the script calls a tool; answer it.
    send(
        &mut c,
        json!({"realtimeInput": {"text": "what time is it"}}),
    )
    .await;
    let call = loop {
        if let Some(tc) = recv_msg(&mut c).await.tool_call {
            break tc;
        }
    };
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": call.function_calls[0].id, "name": "get_time", "response": {"t": "12:00"}}]}})).await;
    assert_eq!(read_turn(&mut c).await.text, "It is noon.");
    let update = recv_msg(&mut c)
        .await
        .session_resumption_update
        .expect("update after the turn");
    assert_eq!(update.last_consumed_client_message_index, Some(1));
    let handle = update.new_handle.unwrap();
    drop(c);

    // Resuming continues the conversation: the script's second turn comes next.
    let mut c = session(&server, json!({"sessionResumption": {"handle": handle}, "generationConfig": {"responseModalities": ["TEXT"]}})).await;
    assert!(recv_msg(&mut c).await.session_resumption_update.is_some());
    send(&mut c, json!({"realtimeInput": {"text": "thanks"}})).await;
    assert_eq!(read_turn(&mut c).await.text, "You are welcome.");
    assert!(recv_msg(&mut c).await.session_resumption_update.is_some());
    assert_eq!(
        recv_msg(&mut c).await.go_away.map(|g| g.time_left),
        Some("5s".to_string())
    );

    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(
        &mut c,
        setup_json(json!({"sessionResumption": {"handle": "made-up"}})),
    )
    .await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "invalid session resumption handle");
}

#[tokio::test]
async fn scripted_tool_call_round_trip_and_mismatched_id() {
    let script = ScriptedResponder::from_path("tests/fixtures/script.toml").unwrap();
    assert_eq!(script.len(), 2);
    let server = start(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast()
    })
    .await;
    let mut c = session(
        &server,
        json!({"inputAudioTranscription": {}, "outputAudioTranscription": {}}),
    )
    .await;
    send(&mut c, json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "time?"}]}], "turnComplete": true}})).await;
    let mut input = String::new();
    let call = loop {
        let m = recv_msg(&mut c).await;
        if let Some(t) = m
            .server_content
            .and_then(|s| s.input_transcription)
            .and_then(|t| t.text)
        {
            input.push_str(&t);
        }
        if let Some(tc) = m.tool_call {
            break tc;
        }
    };
    assert_eq!(input, "what time is it");
    let f = &call.function_calls[0];
    assert_eq!((f.id.as_deref(), f.name.as_str()), (Some("t1"), "get_time"));
    assert_eq!(f.args.get("zone"), Some(&json!("UTC")));
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": "t1", "name": "get_time", "response": {"result": "12:00"}}]}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "It is noon.");
    // The speech-like tone for the text, then the 0.1 s WAV at 24 kHz.
    assert!(turn.audio.len() > 2400);

    let mut c = session(&server, json!({})).await;
    send(&mut c, json!({"realtimeInput": {"text": "time?"}})).await;
    while recv_msg(&mut c).await.tool_call.is_none() {}
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": "nope", "name": "get_time", "response": {}}]}})).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("nope"), "{reason}");
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
        assert_ne!(
            sc.turn_complete,
            Some(true),
            "the reply was not interrupted"
        );
        if sc.interrupted == Some(true) {
            break;
        }
    }
}

#[tokio::test]
async fn faults_close_mid_turn_malformed_frame_and_go_away() {
    let faults = Faults {
        close_mid_turn: Some(CloseMidTurn {
            after_chunks: 2,
            code: 1011,
            reason: "injected failure".into(),
        }),
        malformed_frame: true,
        first_connections: Some(1),
        go_away_after_turn: Some(Duration::from_millis(1500)),
        ..Faults::default()
    };
    let server = start(ServerConfig { faults, ..fast() }).await;
    let mut c = session(&server, manual()).await;
    match c.next().await {
        Some(Ok(Message::Binary(b))) => assert!(ServerMessage::from_slice(&b).is_err()),
        other => panic!("expected the malformed frame, got {other:?}"),
    }
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    send(&mut c, audio(&ramp(16_000))).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let mut chunks = 0;
    let (code, reason) = loop {
        match recv(&mut c).await {
            Got::Msg(m) => {
                chunks += usize::from(m.server_content.and_then(|s| s.model_turn).is_some())
            }
            Got::Closed(code, reason) => break (code, reason),
        }
    };
    assert_eq!(
        (code, reason.as_str(), chunks),
        (1011, "injected failure", 2)
    );

    // The faults apply to the first connection only: the next one completes its (empty) turn.
    let mut c = session(&server, manual()).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert!(turn.audio.is_empty());
}

#[tokio::test]
async fn go_away_fault_follows_the_turn_and_text_frames_flag() {
    let faults = Faults {
        go_away_after_turn: Some(Duration::from_millis(1500)),
        ..Faults::default()
    };
    let server = start(ServerConfig {
        faults,
        text_frames: true,
        ..fast()
    })
    .await;
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(manual())).await;
    assert!(matches!(c.next().await, Some(Ok(Message::Text(_)))));
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    read_turn(&mut c).await;
    assert_eq!(
        recv_msg(&mut c).await.go_away.map(|g| g.time_left),
        Some("1.500s".to_string())
    );
}

#[tokio::test]
async fn tls_serves_wss_with_a_trusted_generated_certificate() {
    let server = start(fast().with_generated_tls().unwrap()).await;
    assert!(server.base_url().starts_with("wss://127.0.0.1:"));
    let pem = server.cert_pem().unwrap().to_string();
    let path = std::env::temp_dir().join(format!(
        "voxlive-test-cert-{}.pem",
        server.local_addr().port()
    ));
    server.write_cert_pem(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    let _ = std::fs::remove_file(&path);

    let mut roots = rustls::RootCertStore::empty();
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    for host in ["127.0.0.1".to_string(), "localhost".to_string()] {
        let url = format!("wss://{host}:{}{PATH}", server.local_addr().port());
        let connector = tokio_tungstenite::Connector::Rustls(Arc::new(config.clone()));
        let (mut c, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                .await
                .unwrap();
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some());
    }
}

#[tokio::test]
async fn pings_are_answered() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    c.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, c.next()).await.expect("no pong") {
            Some(Ok(Message::Pong(p))) => break assert_eq!(&p[..], b"hi"),
            Some(Ok(_)) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn faults_drop_connection_delay_replies_and_reject_resumption() {
    let faults = Faults {
        drop_after_chunks: Some(1),
        reply_delay: Some(Duration::from_millis(20)),
        reject_resumption: true,
        ..Faults::default()
    };
    let server = start(ServerConfig { faults, ..fast() }).await;
    let mut c = session(&server, json!({"sessionResumption": {}})).await;
    let handle = recv_msg(&mut c)
        .await
        .session_resumption_update
        .unwrap()
        .new_handle
        .unwrap();
    send(&mut c, audio(&ramp(8000))).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    let mut chunks = 0;
    let code = loop {
        match recv(&mut c).await {
            Got::Msg(m) => {
                chunks += usize::from(m.server_content.and_then(|s| s.model_turn).is_some())
            }
            Got::Closed(code, _) => break code,
        }
    };
    assert_eq!(chunks, 1);
    assert!(
        code == 1005 || code == 0,
        "dropped without a close frame, got {code}"
    );

    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(
        &mut c,
        setup_json(json!({"sessionResumption": {"handle": handle}})),
    )
    .await;
    assert_eq!(expect_close(&mut c).await.0, 1008);
}

#[tokio::test]
async fn bad_scripts_are_typed_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("voxlive-script-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "unknown.toml",
            "[[turn]]\nparts = [{ sing = \"la\" }]\n",
            "invalid script",
        ),
        (
            "missing.json",
            r#"{"turn": [{"parts": [{"audio": "nope.wav"}]}]}"#,
            "cannot load audio",
        ),
        (
            "order.toml",
            "[[turn]]\nparts = [{ tool_call = { name = \"f\" } }, { text = \"x\" }]\n",
            "tool_call",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let err = ScriptedResponder::from_path(&path).unwrap_err().to_string();
        assert!(err.contains(expected) && err.contains(name), "{err}");
    }
    let err = ScriptedResponder::from_path(dir.join("absent.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
