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

/// The `voxlive` binary in an environment of its own: no API key, ephemeral token, Vertex bearer or
/// RUST_LOG from the developer's shell (a test talks to the server it started, at the log level it asks
/// for), its config directory `config_home` (XDG_CONFIG_HOME: only a config file the test wrote there) and
/// its saved sessions under `data` (VOXLIVE_DATA_DIR), never the user's own. The caller adds the arguments,
/// further variables (which win) and the standard streams.
pub fn voxlive_command(data: &std::path::Path, config_home: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_voxlive"));
    command
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env_remove("GEMINI_EPHEMERAL_TOKEN")
        .env_remove("GOOGLE_CLOUD_ACCESS_TOKEN")
        .env_remove("RUST_LOG")
        .env("VOXLIVE_DATA_DIR", data)
        .env("XDG_CONFIG_HOME", config_home);
    command
}

/// A `voxlive serve` process; killed on drop.
pub struct Serve {
    child: std::process::Child,
    pub url: String,
}

impl Serve {
    /// Starts `voxlive serve ARGS` on a free loopback port and waits for its announce line.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_with(args, &[], std::process::Stdio::null())
    }

    /// [`Serve::start`] with environment variables and its stderr going to `stderr`.
    pub fn start_with(args: &[&str], env: &[(&str, &str)], stderr: std::process::Stdio) -> Serve {
        use std::io::BufRead as _;
        let mut child = voxlive_command(&data_dir(), &data_dir().join("no-config"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("voxlive serve runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("voxlive: serving ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("voxlive serve announces its URL");
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `voxlive ARGS` with `input` on stdin, saving into `data` (no config file).
pub fn run(data: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    run_with(data, args, &[], input)
}

/// [`run`] with environment variables.
pub fn run_with(data: &std::path::Path, args: &[&str], env: &[(&str, &str)], input: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = voxlive_command(data, &data.join("no-config"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // a client that fails at once (a refused setup) may exit before reading its input: that is its answer
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

/// A finished process's standard output, as text.
pub fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A finished process's standard error, as text.
pub fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
