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
use voxlive::protocol::{Modality, ServerMessage};
use voxlive::server::{
    echo_reply_samples, spawn, CloseMidTurn, Faults, Reply, ReplyPart, Responder, ResponderFactory, ResponderKind,
    ScriptedResponder, ServerConfig, ServerHandle, UserTurn,
};

const PATH: &str = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
const MODEL: &str = "models/gemini-2.5-flash-native-audio-preview-12-2025";
const WAIT: Duration = Duration::from_secs(20);

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the client read: a server message, or the close frame (code, reason).
// A test helper holding a few values at a time: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
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
        let frame = tokio::time::timeout(WAIT, c.next()).await.expect("server went silent");
        match frame {
            Some(Ok(Message::Binary(b))) => return Got::Msg(ServerMessage::from_slice(&b).unwrap()),
            Some(Ok(Message::Text(t))) => return Got::Msg(ServerMessage::from_slice(t.as_bytes()).unwrap()),
            Some(Ok(Message::Close(Some(f)))) => return Got::Closed(u16::from(f.code), f.reason.to_string()),
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
        t.input
            .push_str(sc.input_transcription.and_then(|x| x.text).as_deref().unwrap_or(""));
        t.output
            .push_str(sc.output_transcription.and_then(|x| x.text).as_deref().unwrap_or(""));
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
            let v: f64 = (1..=15).map(|h| (tau * 200.0 * h as f64 * t).sin() / h as f64).sum();
            let env = 0.6 + 0.4 * (tau * 4.0 * t).sin();
            (7000.0 * v * env).clamp(-30000.0, 30000.0) as i16
        })
        .collect()
}

fn base64_url(bytes: &[u8]) -> String {
    encode_base64(bytes).replace('+', "-").replace('/', "_")
}

mod faults;
mod handshake;
mod hostile_client;
mod images;
mod late_2026;
mod sessions;
mod tool_calls;
mod turns;
mod vad;
