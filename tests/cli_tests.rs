//! The `voxlive` binary as a user runs it: `talk` end to end on a shipped WAV, and bad inputs that must
//! each give one clear line and a non-zero exit, never a panic.

use std::process::{Command, Output};

use voxlive::server::{echo_reply_samples, ServerConfig};

use crate::util::*;

fn voxlive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .args(args)
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("voxlive-no-config"))
        .output()
        .expect("the voxlive binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure: non-zero exit, a `voxlive: error:` line naming the problem, no panic.
fn assert_clear_failure(o: &Output, expect: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("voxlive: error:"))
        .unwrap_or_else(|| panic!("no error line in {err:?}"));
    assert!(line.contains(expect), "error line {line:?} should mention {expect:?}");
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("voxlive-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The question as `talk` sends it: whole 20 ms frames, the last one padded with silence.
fn whole_frames(mut question: Vec<i16>) -> Vec<i16> {
    question.resize(question.len().div_ceil(320) * 320, 0);
    question
}

#[test]
fn talk_on_the_embedded_server_writes_the_echoed_reply() {
    let input = sample("what_time_tokyo_16k.wav");
    let output = temp_path("answer.wav");
    let o = voxlive(&[
        "talk",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--fast",
    ]);
    assert!(o.status.success(), "talk failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains("embedded offline server"),
        "announces the embedded server: {}",
        stderr(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("you: "), "input transcript printed: {stdout}");
    let reader = hound::WavReader::open(&output).expect("reply WAV exists");
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (24_000, 1, 16));
    let got: Vec<i16> = reader.into_samples::<i16>().map(|s| s.unwrap()).collect();
    let (question, _) = voxlive::wav::read_pcm16(&input, 16_000).unwrap();
    assert_eq!(
        got,
        echo_reply_samples(&whole_frames(question)),
        "reply samples differ from the echo of the question"
    );
}

#[test]
fn talk_converts_48k_stereo_float_and_24bit_inputs() {
    for name in ["hello_48k_stereo_f32.wav", "please_stop_44k1_s24.wav"] {
        let input = sample(name);
        let output = temp_path(&format!("{name}.reply.wav"));
        let o = voxlive(&[
            "talk",
            "-i",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--fast",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let (question, _) = voxlive::wav::read_pcm16(&input, 16_000).unwrap();
        let got: Vec<i16> = hound::WavReader::open(&output)
            .unwrap()
            .into_samples::<i16>()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(got, echo_reply_samples(&whole_frames(question)), "{name}");
    }
}

#[test]
fn bad_wav_inputs_fail_clearly() {
    let out = temp_path("never.wav");
    let out = out.to_str().unwrap();
    let cases = [
        ("/nonexistent/question.wav".to_string(), "no such file"),
        (fixture("not_a_wav.wav").display().to_string(), "not a WAV"),
        (fixture("empty.wav").display().to_string(), "not a WAV"),
        (fixture("truncated_header.wav").display().to_string(), "not a WAV"),
        (fixture("truncated_data.wav").display().to_string(), "truncated"),
        (fixture("ulaw_8k.wav").display().to_string(), "unsupported"),
        (fixture("alaw_8k.wav").display().to_string(), "unsupported"),
        (fixture("float64_16k.wav").display().to_string(), "unsupported"),
    ];
    for (input, expect) in cases {
        let o = voxlive(&["talk", "--input", &input, "--output", out, "--fast"]);
        assert_clear_failure(&o, expect);
    }
}

#[test]
fn unreachable_endpoint_fails_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let input = sample("what_time_tokyo_16k.wav");
    let url = format!("ws://127.0.0.1:{port}");
    let o = voxlive(&[
        "talk",
        "-i",
        input.to_str().unwrap(),
        "-o",
        "/tmp/x.wav",
        "--fast",
        "--endpoint",
        &url,
    ]);
    assert_clear_failure(&o, "cannot reach");
}

#[test]
fn wrong_key_and_unknown_model_fail_clearly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(ServerConfig {
        api_key: Some("the-right-key".into()),
        ..fast_config()
    }));
    let url = server.base_url();
    let input = sample("what_time_tokyo_16k.wav");
    let run = |extra: &[&str], key: &str| {
        let mut args = vec![
            "talk",
            "-i",
            input.to_str().unwrap(),
            "-o",
            "/tmp/voxlive-x.wav",
            "--fast",
            "--endpoint",
            &url,
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_voxlive"))
            .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
            .args(&args)
            .env("GEMINI_API_KEY", key)
            .env_remove("GOOGLE_API_KEY")
            .output()
            .unwrap()
    };
    let o = run(&[], "a-wrong-key");
    assert_clear_failure(&o, "API key was rejected");
    assert!(!stderr(&o).contains("a-wrong-key"), "the key must never be printed");

    let o = run(&["--model", "gemini-9-imaginary"], "the-right-key");
    // a remote endpoint may know newer models: the client only warns, the server's close reason ends it
    assert!(
        stderr(&o).contains("voxlive: warning: model gemini-9-imaginary does not exist; known models: gemini-3.8-live"),
        "{}",
        stderr(&o)
    );
    assert_clear_failure(&o, "model gemini-9-imaginary does not exist; known models:");
    drop(server);
}

#[test]
fn help_explains_the_commands() {
    let o = voxlive(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for word in [
        "serve",
        "talk",
        "chat",
        "--endpoint",
        "--model",
        "--voice",
        "--system",
        "--modality",
        "--config",
    ] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}

/// Runs `voxlive ARGS` with `input` on its standard input (offline, no config file).
fn voxlive_with_input(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .args(args)
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("voxlive-no-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// gemini-3.8-live (the default) answers in AUDIO only: chat prints the output transcription.
#[test]
fn chat_answers_typed_turns() {
    let o = voxlive_with_input(&["chat"], "hello voxlive\nand a second turn\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("assistant: You said: hello voxlive"), "{out}");
    assert!(out.contains("assistant: You said: and a second turn"), "{out}");
}

#[test]
fn chat_answers_in_text_on_a_model_that_has_text() {
    let o = voxlive_with_input(
        &[
            "--model",
            "gemini-2.5-flash-native-audio-preview-12-2025",
            "chat",
            "--modality",
            "text",
        ],
        "hello voxlive\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("assistant: You said: hello voxlive"));
}

/// What the catalog says a model refuses is one error line and exit status 2, before anything connects
/// (no embedded server is started: its "serving" line never appears).
#[test]
fn a_setup_the_model_refuses_is_a_usage_error_before_connecting() {
    for (args, expect) in [
        (
            vec!["chat", "--modality", "text"],
            "model gemini-3.8-live does not support response modality TEXT (it answers in AUDIO only: enable outputAudioTranscription",
        ),
        (
            vec!["--voice", "Nobody", "chat"],
            "voice Nobody is not offered by model gemini-3.8-live",
        ),
        (
            vec!["--model", "gemini-3.5-transcribe-live", "chat"],
            "model gemini-3.5-transcribe-live does not support response modality AUDIO",
        ),
    ] {
        let o = voxlive_with_input(&args, "hello\n");
        assert_clear_failure(&o, expect);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert_eq!(err.matches(expect).count(), 1, "said once: {err}");
        assert!(o.stdout.is_empty(), "nothing ran: {}", String::from_utf8_lossy(&o.stdout));
    }
}

/// An unknown model against the embedded server (which knows only the catalog) is an error listing every
/// served id in full; against a remote endpoint it is only a warning (see the key test above, where the
/// server's own close reason then ends the session).
#[test]
fn unknown_model_lists_every_known_id_on_the_client() {
    let o = voxlive_with_input(&["--model", "gemini-9-imaginary", "chat"], "hello\n");
    assert_clear_failure(&o, "model gemini-9-imaginary does not exist; known models: ");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for id in voxlive::models::Catalog::builtin().served_ids() {
        assert!(err.contains(id), "{id} missing: {err}");
    }
}

#[test]
fn models_lists_the_catalog_with_the_default_first() {
    let o = voxlive(&["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("* gemini-3.8-live "), "{out}");
    for id in [
        "gemini-3.8-live-extended-thinking",
        "gemini-3.5-transcribe-live",
        "gemini-2.0-flash-live-001",
    ] {
        assert!(out.contains(id), "{id} missing: {out}");
    }
}

#[test]
fn chat_saves_audio_replies() {
    let dir = temp_path("chat-audio");
    let o = voxlive_with_input(&["chat", "--save-audio", dir.to_str().unwrap()], "say something\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let reader = hound::WavReader::open(dir.join("reply-1.wav")).expect("the audio reply was saved");
    assert_eq!(reader.spec().sample_rate, 24_000);
    assert!(reader.len() > 2_400, "at least 0.1 s of reply audio");
}

#[test]
fn bad_config_and_flags_fail_clearly() {
    let cfg = temp_path("bad.toml");
    std::fs::write(&cfg, "modle = \"typo\"\n").unwrap();
    let o = voxlive(&["--config", cfg.to_str().unwrap(), "chat"]);
    assert_clear_failure(&o, "unknown field");
    std::fs::write(&cfg, "silence_ms = 4000000000\n").unwrap();
    let o = voxlive(&["--config", cfg.to_str().unwrap(), "chat"]);
    assert_clear_failure(&o, "silence_ms = 4000000000");
    let o = voxlive(&["--silence-ms", "99999", "chat"]);
    assert!(
        !o.status.success() && stderr(&o).contains("99999 is not in 0..=10000"),
        "{}",
        stderr(&o)
    );
    let o = voxlive(&["--model", "gemini-2.0-flash-live-001", "chat"]);
    assert_clear_failure(&o, "shut down");
    assert_eq!(o.status.code(), Some(2), "a model the catalog refuses is a usage error");
    let o = voxlive(&["serve", "--responder", "parrot"]);
    assert_clear_failure(&o, "--responder");
    let o = voxlive(&[
        "serve",
        "--responder",
        "script:/nonexistent/script.toml",
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_clear_failure(&o, "/nonexistent/script.toml");
}

#[test]
fn chat_writes_metrics_json() {
    let path = temp_path("metrics.json");
    let _ = std::fs::remove_file(&path);
    let o = voxlive_with_input(&["--metrics", path.to_str().unwrap(), "chat"], "hello metrics\n");
    assert!(o.status.success(), "chat failed: {}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("metrics written")).unwrap();
    assert!(json["messages_sent"].as_u64().unwrap() >= 1, "{json}");
    assert!(json["messages_received"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(json["connections"], 1, "{json}");
    assert_eq!(json["reconnects"], 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_keeps_the_reply_received_before_a_terminal_error() {
    use voxlive::server::{CloseMidTurn, Faults};
    let server = start_server(ServerConfig {
        faults: Faults {
            close_mid_turn: Some(CloseMidTurn {
                after_chunks: 3,
                code: 1007,
                reason: "injected invalid argument".into(),
            }),
            ..Faults::default()
        },
        ..fast_config()
    })
    .await;
    let output = temp_path("partial.wav");
    let _ = std::fs::remove_file(&output);
    let input = sample("what_time_tokyo_16k.wav");
    let o = voxlive(&[
        "--endpoint",
        &server.base_url(),
        "talk",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--fast",
    ]);
    assert_clear_failure(&o, "injected invalid argument");
    let (kept, _) = voxlive::wav::read_pcm16(&output, 24_000).expect("the partial reply was written");
    assert!(!kept.is_empty());
    assert!(stderr(&o).contains("kept the"), "{}", stderr(&o));
}

/// gemini-3.8-live may speak several times in one interaction (turnComplete with interactionStatus
/// IN_PROGRESS, then IDLE): chat prints every utterance before it reads the next line. A chat that stopped
/// at the first turnComplete would print the second utterance as the answer to the second line and never
/// see the third reply ("Go on.").
#[test]
fn chat_prints_every_utterance_of_an_interaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.toml");
    std::fs::write(
        &path,
        "[[turn]]\nutterances = [[{ text = \"Let me check.\" }], [{ text = \"It is noon in Tokyo.\" }]]\n\n\
         [[turn]]\nparts = [{ text = \"Go on.\" }]\n",
    )
    .unwrap();
    let script = voxlive::server::ScriptedResponder::from_path(&path).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(ServerConfig {
        responder: voxlive::server::ResponderKind::Scripted(script),
        ..fast_config()
    }));
    let url = server.base_url();
    let o = voxlive_with_input(&["--endpoint", &url, "chat"], "what time is it in Tokyo?\nthanks\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("assistant: Let me check.\nassistant: It is noon in Tokyo.\nassistant: Go on.\n"),
        "{out}"
    );
    drop(server);
}
