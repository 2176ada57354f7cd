//! `voxlive talk` with function calling, through the binary: a WAV question, a scripted embedded server
//! (in process, so its MessageLog shows what the client sent) whose first turn calls the calculator and
//! closes the turn at the call, as the real service may; the answer that quotes the tool's result comes as
//! a further turn with no new user input. What talk must do: run the tool, send the answer with the
//! call's id, and keep listening past the turnComplete sent with the call until the answer has been
//! heard. Nobody can confirm in talk, so a tool needing confirmation takes the default (deny).

use std::process::Output;

use voxlive::protocol::{ClientMessage, FunctionResponse};
use voxlive::server::{MessageLog, ResponderKind, ScriptedResponder, ServerConfig, ServerHandle};

use crate::util::*;

/// The first turn calls the calculator and closes the turn at once; the answer quotes the result, spoken
/// (a tone plus its output transcript).
const CALC_SCRIPT: &str = r#"[[turn]]
parts = [{ tool_calls = [{ name = "calculator", id = "calc-1", args = { expression = "6*7" } }] }]
close_turn = true
after_tool = [{ text = "The calculator says {result}." }]
"#;

async fn scripted_server(dir: &std::path::Path, log: &MessageLog) -> ServerHandle {
    let path = dir.join("script.toml");
    std::fs::write(&path, CALC_SCRIPT).unwrap();
    start_server(ServerConfig {
        responder: ResponderKind::Scripted(ScriptedResponder::from_path(&path).expect("script loads")),
        message_log: Some(log.clone()),
        ..fast_config()
    })
    .await
}

/// Runs `voxlive --endpoint URL <flags> talk --input Q --output OUT --fast --transcript T` off the
/// runtime's threads (the server keeps serving meanwhile).
async fn talk(server: &ServerHandle, dir: &std::path::Path, flags: &[&str]) -> Output {
    let input = sample("what_time_tokyo_16k.wav");
    let mut args: Vec<String> = vec!["--endpoint".into(), server.base_url()];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.extend(
        [
            "talk",
            "--input",
            input.to_str().unwrap(),
            "--output",
            dir.join("answer.wav").to_str().unwrap(),
            "--fast",
            "--transcript",
            dir.join("transcript.jsonl").to_str().unwrap(),
        ]
        .map(String::from),
    );
    let config_home = dir.join("no-config");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_voxlive"))
            .env("VOXLIVE_DATA_DIR", data_dir())
            .env("XDG_CONFIG_HOME", config_home)
            .env_remove("GEMINI_API_KEY")
            .env_remove("GOOGLE_API_KEY")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the voxlive binary runs")
    })
    .await
    .unwrap()
}

fn tool_responses(log: &MessageLog) -> Vec<FunctionResponse> {
    log.snapshot()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::ToolResponse(r) => Some(r.function_responses),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The model's lines of the `--transcript` file, joined.
fn model_transcript(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("transcript.jsonl")).expect("the transcript was written");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|row| row["role"] == "model")
        .map(|row| row["text"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_runs_the_calculator_and_hears_the_answer_past_the_turn_closed_at_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let log = MessageLog::default();
    let server = scripted_server(dir.path(), &log).await;
    let o = talk(&server, dir.path(), &["--tools", "calc"]).await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "talk failed: {stderr}");
    let responses = tool_responses(&log);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].id.as_deref(), Some("calc-1"));
    assert_eq!(responses[0].name, "calculator");
    assert_eq!(responses[0].response["result"], 42.0);
    // the answer came in the turn after the one closed at the call: a talk that stopped there would have
    // no reply audio (an error) and no transcript line quoting the result
    let heard = model_transcript(dir.path());
    assert!(
        heard.contains("The calculator says calculator {\"expression\":\"6*7\",\"result\":42.0}."),
        "transcript: {heard:?}; stdout: {stdout}"
    );
    assert!(stdout.contains("42"), "the answer is printed: {stdout}");
    let (audio, _) = voxlive::wav::read_pcm16(&dir.path().join("answer.wav"), 24_000).expect("reply WAV");
    assert!(!audio.is_empty(), "the answer's audio was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_refuses_a_call_needing_confirmation_when_nobody_can_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = MessageLog::default();
    let server = scripted_server(dir.path(), &log).await;
    let o = talk(
        &server,
        dir.path(),
        &["--tools", "calc", "--confirm-tools", "calculator"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "talk failed: {stderr}");
    let responses = tool_responses(&log);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].id.as_deref(), Some("calc-1"));
    assert_eq!(
        responses[0].response["error"]["status"], "PERMISSION_DENIED",
        "{responses:?}"
    );
    assert!(
        responses[0].response.get("result").is_none(),
        "the tool did not run: {responses:?}"
    );
    // the refusal is what the answer quotes
    let heard = model_transcript(dir.path());
    assert!(
        heard.contains("The calculator says calculator {\"error\":") && heard.contains("PERMISSION_DENIED"),
        "transcript: {heard:?}"
    );
}
