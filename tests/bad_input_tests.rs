//! A table of bad inputs through the binary: each gives a `voxlive: error:` line naming the problem, a
//! non-zero exit and no panic, and no output (stdout, stderr at RUST_LOG=trace) contains the API key.

use std::process::{Command, Output, Stdio};

use voxlive::server::ServerConfig;

use crate::util::*;

const SECRET: &str = "AIzaSy-bad-input-SECRET-0123456789";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .args(args)
        .env("GEMINI_API_KEY", SECRET)
        .env_remove("GOOGLE_API_KEY")
        .env("RUST_LOG", "trace")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("voxlive-no-config"))
        .stdin(Stdio::null())
        .output()
        .expect("the voxlive binary runs")
}

fn scratch(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("voxlive-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// A 16-bit mono WAV header with this rate and channel count, and 4 data bytes.
fn wav_header(rate: u32, channels: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&40u32.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&rate.wrapping_mul(2 * u32::from(channels)).to_le_bytes());
    h.extend_from_slice(&(2 * channels).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&4u32.to_le_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

fn dead_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("ws://127.0.0.1:{port}")
}

// multi-threaded: the guarded server must answer while this thread waits for the binary
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_with_one_clear_line_and_never_show_the_key() {
    let server = start_server(ServerConfig {
        api_key: Some("the-right-key-000".into()),
        ..fast_config()
    })
    .await;
    let guarded = server.base_url();
    let dead = dead_port();
    let out = std::env::temp_dir()
        .join(format!("voxlive-bad-input-{}", std::process::id()))
        .join("out.wav")
        .to_string_lossy()
        .into_owned();
    let garbage = scratch("garbage.wav", b"this is not a wav file at all");
    let rate0 = scratch("rate0.wav", &wav_header(0, 1));
    let channels = scratch("channels.wav", &wav_header(16_000, 0));
    let bad_toml = scratch("bad.toml", b"model = [unclosed\n");
    let unknown_key = scratch("unknown.toml", b"colour = \"blue\"\n");
    let long_go_away = scratch(
        "goaway.toml",
        b"[[turn]]\nparts = [{ text = \"hi\" }]\ngo_away = \"10000000000000000000s\"\n",
    );
    let script = format!("script:{long_go_away}");
    let userinfo = format!("ws://user:{SECRET}@127.0.0.1:1");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--connect-timeout=-1", "chat"], "--connect-timeout"),
        (vec!["--connect-timeout", "1e300", "chat"], "--connect-timeout"),
        (vec!["--setup-timeout", "NaN", "chat"], "--setup-timeout"),
        (vec!["--idle-timeout", "inf", "chat"], "--idle-timeout"),
        (vec!["--idle-timeout", "0", "chat"], "--idle-timeout"),
        (vec!["--max-message-size", "0", "chat"], "--max-message-size"),
        (
            vec!["--max-message-size", "99999999999999", "chat"],
            "--max-message-size",
        ),
        (
            vec!["--endpoint", &dead, "chat", "--reply-timeout=-5"],
            "--reply-timeout",
        ),
        (
            vec!["--endpoint", &dead, "chat", "--reply-timeout", "1e308"],
            "--reply-timeout",
        ),
        (vec!["--endpoint", &dead, "--duration", "1e300"], "--duration"),
        (vec!["--endpoint", &dead, "--duration=-1"], "--duration"),
        (vec!["serve", "--faults", "drop-every=0s"], "--faults"),
        (vec!["serve", "--faults", "close-99999-every=1s"], "--faults"),
        (vec!["serve", "--faults", "reject-resume=2"], "--faults"),
        (vec!["serve", "--faults", "explode-every=1s"], "--faults"),
        (
            vec!["serve", "--faults", "oversized-every=1s:bytes=999999999999"],
            "--faults",
        ),
        (vec!["serve", "--faults", "drop-every=1e300s"], "--faults"),
        (vec!["serve", "--faults", "goaway-every=1s:timeleft=-2s"], "--faults"),
        (
            vec![
                "--endpoint",
                &dead,
                "talk",
                "--input",
                "/nonexistent/q.wav",
                "--output",
                &out,
            ],
            "q.wav",
        ),
        (
            vec!["--endpoint", &dead, "talk", "--input", &garbage, "--output", &out],
            "garbage.wav",
        ),
        (
            vec!["--endpoint", &dead, "talk", "--input", &rate0, "--output", &out],
            "rate0.wav",
        ),
        (
            vec!["--endpoint", &dead, "talk", "--input", &channels, "--output", &out],
            "channels.wav",
        ),
        (vec!["--endpoint", "ftp://example.com", "chat"], "unsupported scheme"),
        (vec!["--endpoint", "not a url", "chat"], "not a URL"),
        (vec!["--endpoint", &dead, "chat"], "cannot reach"),
        (vec!["--endpoint", &userinfo, "chat"], "cannot reach"),
        (vec!["--endpoint", &guarded, "chat"], "API key was rejected"),
        (
            vec!["--endpoint", &dead, "--model", "gemini-2.0-flash-live-001", "chat"],
            "shut down",
        ),
        (vec!["--config", &bad_toml, "chat"], "bad.toml"),
        (vec!["--config", &unknown_key, "chat"], "unknown.toml"),
        (vec!["--config", "/nonexistent/voxlive.toml", "chat"], "voxlive.toml"),
        (
            vec!["--api-key-env", "VOXLIVE_SURELY_UNSET_VAR", "chat"],
            "VOXLIVE_SURELY_UNSET_VAR",
        ),
        (
            vec![
                "--endpoint",
                "wss://127.0.0.1:1",
                "--ca-cert",
                "/nonexistent/ca.pem",
                "chat",
            ],
            "ca.pem",
        ),
        (vec!["serve", "--responder", "parrot"], "--responder"),
        (vec!["serve", "--responder", &script], "longer than"),
        (
            vec!["serve", "--responder", "script:/nonexistent/script.toml"],
            "script.toml",
        ),
    ];
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (args, expect) in &cases {
        let o = run(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        let line = stderr.lines().find(|l| l.starts_with("voxlive: error:"));
        let problem = if o.status.success() {
            Some("exit status 0".to_string())
        } else if stderr.contains("panicked") {
            Some("panicked".into())
        } else if stdout.contains(SECRET) || stderr.contains(SECRET) {
            Some("the key appears in the output".into())
        } else if stderr.contains("x-goog-api-key: A") {
            Some("the key header appears in the output".into())
        } else {
            match line {
                None => Some("no `voxlive: error:` line".into()),
                Some(l) if !l.contains(expect) => Some(format!("error line {l:?} does not mention {expect:?}")),
                Some(_) => None,
            }
        };
        if let Some(p) = problem {
            let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            failures.push(format!("{args:?}: {p} (stderr tail: {tail})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
