//! What the `voxlive` binary asks of the service, checked where it lands: the embedded server started in
//! this test on 127.0.0.1:0 records every setup with its handshake headers (SetupLog) and every client
//! message (MessageLog). Presets, flags over presets, generation and thinking per model profile, safety
//! settings, extra headers, `--system @FILE`, and images (count, order, size, pace: `setup_tests/images.rs`)
//! end to end; bad values
//! are one error line and exit status 2. Real files in tempdirs; no timing decides a result.

use std::process::{Output, Stdio};

use voxlive::protocol::Setup;
use voxlive::server::{MessageLog, ServerConfig, ServerHandle, SetupLog, SetupRecord};
use voxlive::settings::presets;

use crate::util::*;

/// A server recording setups and messages.
async fn recording_server() -> (ServerHandle, SetupLog, MessageLog) {
    let setups = SetupLog::default();
    let messages = MessageLog::default();
    let server = start_server(ServerConfig {
        setup_log: Some(setups.clone()),
        message_log: Some(messages.clone()),
        ..fast_config()
    })
    .await;
    (server, setups, messages)
}

/// Runs `voxlive ARGS` with `stdin`, no key, and a config dir and data dir of its own (the config dir
/// optionally holding `config`).
async fn voxlive(args: Vec<String>, stdin: &str, config: Option<&str>) -> Output {
    let home = tempfile::tempdir().unwrap();
    if let Some(text) = config {
        let dir = home.path().join("voxlive");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = voxlive_command(&home.path().join("data"), home.path())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the voxlive binary runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(home);
        out
    })
    .await
    .unwrap()
}

/// The model these tests talk to unless they say otherwise: a 2.5 model, which takes TEXT replies and a
/// thinking budget, whatever the catalog's default is.
const BUDGET_MODEL: &str = "gemini-2.5-flash-native-audio-preview-12-2025";

/// `chat --modality text` on [`BUDGET_MODEL`] against `server` with `extra` flags (`--model` among them
/// wins).
async fn chat(server: &ServerHandle, extra: &[&str], stdin: &str, config: Option<&str>) -> Output {
    let mut args: Vec<String> = vec!["--endpoint".into(), server.base_url()];
    if !extra.contains(&"--model") {
        args.extend(["--model".into(), BUDGET_MODEL.into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["chat".into(), "--modality".into(), "text".into()]);
    voxlive(args, stdin, config).await
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "failed: {err}\n{out}");
    out
}

/// Exit status 2, one `voxlive: error:` line mentioning `expect`, no panic.
fn usage_error(o: &Output, expect: &str) {
    let (_, err) = text(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("voxlive: error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(expect), "{:?} should mention {expect:?}", lines[0]);
}

fn only_setup(log: &SetupLog) -> SetupRecord {
    let all = log.snapshot();
    assert_eq!(all.len(), 1, "one connection: {all:?}");
    all.into_iter().next().unwrap()
}

fn system_text(setup: &Setup) -> String {
    setup
        .system_instruction
        .as_ref()
        .map(|c| c.joined_text())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_preset_produces_its_setup() {
    for preset in presets::builtin().unwrap() {
        let (server, setups, _) = recording_server().await;
        let mut flags = vec!["--preset", preset.name.as_str()];
        let needs_to = preset.requires.iter().any(|r| r == "to");
        if needs_to {
            flags.extend(["--from", "German", "--to", "French"]);
        }
        ok(&chat(&server, &flags, "hello\n", None).await);
        let setup = only_setup(&setups).setup;
        let system = system_text(&setup);
        let expect = preset
            .clone()
            .apply(&presets::PresetParams {
                from: needs_to.then(|| "German".into()),
                to: needs_to.then(|| "French".into()),
            })
            .unwrap()
            .system;
        assert_eq!(system, expect, "{}", preset.name);
        if needs_to {
            assert!(system.contains("French") && !system.contains("{to}"), "{system}");
        }
        let g = setup.generation_config.clone().unwrap();
        let p = &preset.generation;
        assert_eq!(g.temperature, p.temperature, "{}", preset.name);
        assert_eq!(g.top_p, p.top_p, "{}", preset.name);
        assert_eq!(g.top_k, p.top_k.map(|k| k as f32), "{}", preset.name);
        assert_eq!(g.max_output_tokens, p.max_output_tokens, "{}", preset.name);
        assert_eq!(
            g.media_resolution.as_deref(),
            p.media_resolution.map(|r| r.wire()),
            "{}",
            preset.name
        );
        // a model that takes a thinking budget: low-latency's 0 goes out
        let budget = g.thinking_config.as_ref().and_then(|t| t.thinking_budget);
        assert_eq!(budget, p.thinking_budget, "{}", preset.name);
        assert!(setup.input_audio_transcription.is_some(), "{}", preset.name);
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_latency_on_a_model_without_thinking_sends_no_thinking_config() {
    let (server, setups, _) = recording_server().await;
    // 3.8 replies in audio only: chat prints the transcript
    let mut args: Vec<String> = ["--endpoint", &server.base_url(), "--model", "gemini-3.8-live"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--preset", "low-latency", "chat"].iter().map(|s| s.to_string()));
    let o = voxlive(args, "hi\n", None).await;
    ok(&o);
    let g = only_setup(&setups).setup.generation_config.unwrap();
    assert_eq!(g.thinking_config, None);
    assert_eq!(g.max_output_tokens, Some(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_and_the_config_file_override_the_preset() {
    let (server, setups, _) = recording_server().await;
    let o = chat(
        &server,
        &[
            "--preset",
            "support",
            "--temperature",
            "0.9",
            "--system",
            "Custom rules.",
        ],
        "hi\n",
        Some("top_k = 7\nmax_output_tokens = 321\n"),
    )
    .await;
    ok(&o);
    let setup = only_setup(&setups).setup;
    assert_eq!(system_text(&setup), "Custom rules.");
    let g = setup.generation_config.unwrap();
    assert_eq!(g.temperature, Some(0.9), "the flag over the preset's 0.3");
    assert_eq!(g.max_output_tokens, Some(321), "the config file over the preset's 500");
    assert_eq!(g.top_k, Some(7.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preset_tunes_server_vad_for_voice_sessions_and_flags_win() {
    let (server, setups, _) = recording_server().await;
    let input = sample("what_time_tokyo_16k.wav");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reply.wav");
    let args: Vec<String> = [
        "--endpoint",
        &server.base_url(),
        "--model",
        BUDGET_MODEL,
        "--preset",
        "low-latency",
        "talk",
        "--mode",
        "hands-free",
        "--vad",
        "server",
        "--silence-ms",
        "700",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ok(&voxlive(args, "", None).await);
    let setup = only_setup(&setups).setup;
    let aad = setup
        .realtime_input_config
        .unwrap()
        .automatic_activity_detection
        .unwrap();
    assert_eq!(aad.end_of_speech_sensitivity.as_deref(), Some("END_SENSITIVITY_HIGH"));
    assert_eq!(
        aad.start_of_speech_sensitivity.as_deref(),
        Some("START_SENSITIVITY_HIGH")
    );
    assert_eq!(aad.prefix_padding_ms, Some(20));
    assert_eq!(aad.silence_duration_ms, Some(700), "--silence-ms over the preset's 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_presets_and_settings_are_one_error_line_and_exit_2() {
    let (server, setups, _) = recording_server().await;
    for (flags, expect) in [
        (
            vec!["--preset", "translator"],
            "--preset translator needs --to LANGUAGE",
        ),
        (vec!["--preset", "pirate"], "known presets: assistant"),
        (vec!["--to", "French"], "add --preset translator"),
        (vec!["--temperature", "2.5"], "--temperature 2.5"),
        (vec!["--top-p", "1.5"], "--top-p 1.5"),
        (vec!["--top-k", "0"], "--top-k 0"),
        (vec!["--max-output-tokens", "100000"], "--max-output-tokens 100000"),
        (vec!["--thinking-budget", "-5"], "--thinking-budget -5"),
        (vec!["--thinking-level", "high"], "takes a thinking budget"),
        (
            vec!["--model", "gemini-3.8-live", "--thinking-budget", "0"],
            "model gemini-3.8-live takes no thinking configuration",
        ),
        (
            vec!["--model", "gemini-3.8-live", "--thinking-level", "low"],
            "model gemini-3.8-live takes no thinking configuration",
        ),
        (vec!["--safety", "violence=off"], "safety category"),
        (vec!["--header", "Host: evil.example"], "\"Host\""),
        (vec!["--header", "X-Ok"], "'Name: value'"),
        (vec!["--image-size", "5"], "--image-size"),
        (vec!["--image-rate", "0"], "--image-rate 0"),
    ] {
        let o = chat(&server, &flags, "hi\n", None).await;
        usage_error(&o, expect);
    }
    let o = chat(&server, &[], "hi\n", Some("temperature = 9\n")).await;
    usage_error(&o, "config file: temperature 9");
    let o = chat(&server, &[], "hi\n", Some("top_p = 3\n")).await;
    usage_error(&o, "config file: top_p 3");
    assert!(setups.snapshot().is_empty(), "nothing connected with a bad setting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thinking_budget_reaches_a_model_that_takes_one() {
    let (server, setups, _) = recording_server().await;
    ok(&chat(&server, &["--thinking-budget", "512", "--top-p", "0.5"], "hi\n", None).await);
    let g = only_setup(&setups).setup.generation_config.unwrap();
    assert_eq!(g.thinking_config.unwrap().thinking_budget, Some(512));
    assert_eq!(g.top_p, Some(0.5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safety_settings_and_extra_headers_go_on_the_wire_and_secrets_stay_out_of_logs() {
    let (server, setups, _) = recording_server().await;
    let o = chat(
        &server,
        &[
            "-vv",
            "--safety",
            "harassment=block_only_high",
            "--header",
            "User-Agent: MyApp/1.0",
            "--header",
            "X-Trace-Token: tok-secret-777",
        ],
        "hi\n",
        Some("[safety]\nHATE_SPEECH = \"BLOCK_NONE\"\nharassment = \"off\"\n\n[headers]\nX-Team = \"blue\"\n"),
    )
    .await;
    ok(&o);
    let record = only_setup(&setups);
    let safety: Vec<(String, String)> = record
        .setup
        .safety_settings
        .iter()
        .map(|s| (s.category.clone(), s.threshold.clone()))
        .collect();
    assert_eq!(
        safety,
        [
            ("HARM_CATEGORY_HATE_SPEECH".to_string(), "BLOCK_NONE".to_string()),
            ("HARM_CATEGORY_HARASSMENT".to_string(), "BLOCK_ONLY_HIGH".to_string()),
        ],
        "the flag's threshold over the file's, in the table's (sorted) order"
    );
    let header = |name: &str| record.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header("user-agent").as_deref(), Some("MyApp/1.0"));
    assert_eq!(header("x-trace-token").as_deref(), Some("tok-secret-777"));
    assert_eq!(header("x-team").as_deref(), Some("blue"));
    let (out, err) = text(&o);
    assert!(err.contains("DEBUG"), "debug logs were on: {err}");
    assert!(
        !err.contains("tok-secret-777") && !out.contains("tok-secret-777"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_instruction_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("instructions.txt");
    std::fs::write(&path, "You are Ada.\nAnswer in one word.").unwrap();
    let (server, setups, _) = recording_server().await;
    ok(&chat(&server, &["--system", &format!("@{}", path.display())], "hi\n", None).await);
    assert_eq!(
        system_text(&only_setup(&setups).setup),
        "You are Ada.\nAnswer in one word."
    );
    let missing = dir.path().join("nope.txt");
    let o = chat(&server, &["--system", &format!("@{}", missing.display())], "hi\n", None).await;
    usage_error(&o, "nope.txt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_are_listed_with_what_they_set() {
    for args in [vec!["presets"], vec!["--preset", "list"]] {
        let o = voxlive(args.iter().map(|s| s.to_string()).collect(), "", None).await;
        let out = ok(&o);
        for preset in presets::builtin().unwrap() {
            assert!(
                out.contains(&format!("{}: {}", preset.name, preset.description)),
                "{out}"
            );
        }
        assert!(out.contains("needs: --to LANGUAGE"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_and_its_languages_from_the_config_file() {
    let (server, setups, _) = recording_server().await;
    let config = "preset = \"translator\"\nto = \"Japanese\"\n";
    ok(&chat(&server, &["--from", "Italian"], "ciao\n", Some(config)).await);
    let setup = only_setup(&setups).setup;
    assert!(
        system_text(&setup).contains("from Italian into Japanese"),
        "{}",
        system_text(&setup)
    );
    assert_eq!(setup.generation_config.unwrap().max_output_tokens, Some(200));
}

mod images;
