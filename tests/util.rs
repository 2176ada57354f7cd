//! Shared test helpers: start the embedded server on 127.0.0.1:0, build session options against it.

use std::net::SocketAddr;

use voxlive::protocol::{AudioTranscriptionConfig, GenerationConfig, Modality, SessionResumptionConfig, Setup};
use voxlive::server::{self, ServerConfig, ServerHandle};
use voxlive::session::{ApiVersion, Credential, Endpoint, Secret, SessionOptions};

pub const MODEL: &str = "models/gemini-2.5-flash-native-audio-preview-12-2025";

/// Where the `voxlive` binary saves conversations during tests (`VOXLIVE_DATA_DIR`): inside target/, never
/// the user's own data directory.
pub fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("voxlive-data")
}

pub async fn start_server(config: ServerConfig) -> ServerHandle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    server::spawn(config, addr).await.expect("embedded server starts")
}

/// A fast server: replies unpaced so tests do not wait in real time.
pub fn fast_config() -> ServerConfig {
    ServerConfig {
        pace_replies: false,
        ..ServerConfig::default()
    }
}

pub fn endpoint(server: &ServerHandle, key: Option<&str>) -> Endpoint {
    let credential = key.map(|k| Credential::ApiKey(Secret::new(k))).unwrap_or_default();
    Endpoint::new(&server.base_url(), ApiVersion::V1beta, credential).unwrap()
}

pub fn setup(modality: Modality, manual_activity: bool) -> Setup {
    let mut s = Setup {
        model: MODEL.into(),
        generation_config: Some(GenerationConfig {
            response_modalities: vec![modality],
            ..Default::default()
        }),
        input_audio_transcription: Some(AudioTranscriptionConfig::default()),
        output_audio_transcription: Some(AudioTranscriptionConfig::default()),
        session_resumption: Some(SessionResumptionConfig::default()),
        ..Setup::default()
    };
    if manual_activity {
        s.realtime_input_config = Some(voxlive::protocol::RealtimeInputConfig {
            automatic_activity_detection: Some(voxlive::protocol::AutomaticActivityDetection {
                disabled: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    s
}

pub fn options(server: &ServerHandle, setup: Setup) -> SessionOptions {
    SessionOptions::new(endpoint(server, None), setup)
}

/// A speech-like test signal at 16 kHz: a harmonic-rich 180 Hz tone with a syllable-rate envelope.
pub fn voice_like(secs: f32) -> Vec<i16> {
    let n = (16_000.0 * secs) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let env = 0.55 + 0.45 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            let tone: f32 = (1..=6)
                .map(|h| (2.0 * std::f32::consts::PI * 180.0 * h as f32 * t).sin() / h as f32)
                .sum();
            (tone * env * 6000.0) as i16
        })
        .collect()
}

/// The shipped sample question, relative to the crate root.
pub fn sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/samples")
        .join(name)
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The PulseAudio virtual devices are one shared resource: tests that play into the virtual microphone or
/// record the virtual speaker hold this lock so they never hear each other.
pub fn devices_lock() -> std::sync::MutexGuard<'static, ()> {
    static DEVICES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    DEVICES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
