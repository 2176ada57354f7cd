//! Function calling end to end: the real embedded server over a real WebSocket, the real chat front end
//! and tool runner, real processes for command tools (small scripts written into a tempdir). What the
//! client sent is read back from the server's MessageLog. No assertion depends on timing: concurrency is
//! shown by two tools that each wait for the other to have started.

use std::sync::Arc;
use std::time::Duration;

use voxlive::modes::chat::{chat, ChatOptions};
use voxlive::protocol::{ClientMessage, FunctionResponse, Modality};
use voxlive::server::{MessageLog, ResponderKind, ScriptedResponder, ServerConfig};
use voxlive::tools::command::{CommandSpec, CommandTool};
use voxlive::tools::{Asker, ConfirmPolicy, Registry, ToolBox, ToolSettings};

use crate::util::*;

const MODEL_38: &str = "models/gemini-3.8-live";

struct Run {
    out: String,
    responses: Vec<FunctionResponse>,
    log: MessageLog,
}

fn registry(builtins: &[&str], commands: Vec<CommandSpec>, confirm: &[&str]) -> Arc<Registry> {
    let settings = ToolSettings {
        builtins: builtins.iter().map(|s| s.to_string()).collect(),
        commands,
        confirm: confirm.iter().map(|s| s.to_string()).collect(),
        ..ToolSettings::default()
    };
    Arc::new(settings.registry().expect("tool settings are valid"))
}

fn command(name: &str, argv: &[&str]) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        description: format!("test tool {name}"),
        parameters: None,
        command: argv.iter().map(|s| s.to_string()).collect(),
        timeout_secs: Some(20.0),
        max_output_bytes: None,
        behavior: None,
        scheduling: None,
        confirm: false,
    }
}

/// A shell script in `dir`, made executable.
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.to_str().unwrap().to_string()
}

fn script_server(dir: &std::path::Path, toml: &str, log: &MessageLog) -> ServerConfig {
    let path = dir.join("script.toml");
    std::fs::write(&path, toml).unwrap();
    ServerConfig {
        responder: ResponderKind::Scripted(ScriptedResponder::from_path(&path).expect("script loads")),
        message_log: Some(log.clone()),
        ..fast_config()
    }
}

/// Runs `lines` through `voxlive chat`'s front end against `server` with these tools.
async fn run_chat(server: ServerConfig, model: &str, tools: ToolBox, lines: &str) -> Run {
    let log = server.message_log.clone().unwrap_or_default();
    let server = start_server(server).await;
    let mut setup = setup(Modality::Audio, false);
    setup.model = model.into();
    let default = if model == MODEL_38 {
        voxlive::tools::Behavior::NonBlocking
    } else {
        voxlive::tools::Behavior::Blocking
    };
    setup.tools = tools.registry.setup_tools(default);
    let mut out = Vec::new();
    let options = ChatOptions {
        save_audio: None,
        reply_timeout: Duration::from_secs(30),
        tools: tools.runner(),
        images: None,
        image_input: Default::default(),
    };
    let result = chat(options_for(&server, setup), options, lines.as_bytes(), &mut out).await;
    let out = String::from_utf8_lossy(&out).into_owned();
    result.unwrap_or_else(|e| panic!("chat failed: {e}; output: {out}"));
    let responses = log
        .snapshot()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::ToolResponse(r) => Some(r.function_responses),
            _ => None,
        })
        .flatten()
        .collect();
    Run { out, responses, log }
}

fn options_for(
    server: &voxlive::server::ServerHandle,
    setup: voxlive::protocol::Setup,
) -> voxlive::session::SessionOptions {
    options(server, setup)
}

fn toolbox(registry: Arc<Registry>) -> ToolBox {
    ToolBox {
        registry,
        policy: ConfirmPolicy::default(),
    }
}

fn by_id<'a>(responses: &'a [FunctionResponse], id: &str) -> &'a FunctionResponse {
    responses
        .iter()
        .find(|r| r.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no response with id {id}: {responses:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_with_the_calls_id_and_chat_waits_past_the_turn_closed_at_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let log = MessageLog::default();
    // the turn closes right after the toolCall (close_turn), as the real service may; the answer that
    // quotes the tool's result comes as a further turn
    let server = script_server(
        dir.path(),
        r#"[[turn]]
parts = [{ tool_calls = [{ name = "calculator", id = "c1", args = { expression = "6*7" } }] }]
close_turn = true
after_tool = [{ text = "The tools said {result}." }]
"#,
        &log,
    );
    let run = run_chat(
        server,
        MODEL,
        toolbox(registry(&["calc"], vec![], &[])),
        "what is 6 times 7\n",
    )
    .await;
    let r = by_id(&run.responses, "c1");
    assert_eq!(r.name, "calculator");
    assert_eq!(r.response["result"], 42.0);
    assert!(
        run.out
            .contains("The tools said calculator {\"expression\":\"6*7\",\"result\":42.0}"),
        "chat stopped before the answer turn: {:?}",
        run.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slow_tools_in_one_call_run_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks.log");
    let marks_s = marks.to_str().unwrap();
    // each tool notes its start, then waits (bounded) until the other has started too: run one after
    // the other, the first would never see the second start and would time out with an error answer
    let body = format!(
        "echo \"start $1\" >> {marks_s}\nn=0\nwhile ! grep -q \"start $2\" {marks_s}; do sleep 0.05; n=$((n+1)); [ $n -gt 200 ] && exit 7; done\necho \"end $1\" >> {marks_s}\necho '{{\"tool\":\"'$1'\"}}'"
    );
    let s = script(dir.path(), "pair.sh", &body);
    let tools = registry(
        &[],
        vec![
            command("left", &[&s, "left", "right"]),
            command("right", &[&s, "right", "left"]),
        ],
        &[],
    );
    let log = MessageLog::default();
    let server = script_server(
        dir.path(),
        r#"[[turn]]
parts = [{ tool_calls = [{ name = "left", id = "L" }, { name = "right", id = "R" }] }]
after_tool = [{ text = "both: {result}" }]
"#,
        &log,
    );
    let run = run_chat(server, MODEL, toolbox(tools), "go\n").await;
    assert_eq!(by_id(&run.responses, "L").response["tool"], "left");
    assert_eq!(by_id(&run.responses, "R").response["tool"], "right");
    let lines: Vec<String> = std::fs::read_to_string(&marks)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let first_end = lines.iter().position(|l| l.starts_with("end")).expect("an end mark");
    let starts_before = lines[..first_end].iter().filter(|l| l.starts_with("start")).count();
    assert_eq!(
        starts_before, 2,
        "both tools must have started before either finished: {lines:?}"
    );
    // the two BLOCKING answers went up together, in one toolResponse
    let messages = run
        .log
        .snapshot()
        .into_iter()
        .filter(|(_, m)| matches!(m, ClientMessage::ToolResponse(_)))
        .count();
    assert_eq!(messages, 1);
    assert!(run.out.contains("both: "), "{:?}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_timed_out_and_undeclared_tools_answer_with_errors_carrying_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let fail = script(dir.path(), "fail.sh", "echo 'disk on fire' >&2\nexit 3");
    let slow = script(dir.path(), "slow.sh", "sleep 30");
    let mut sleeper = command("sleeper", &[&slow]);
    sleeper.timeout_secs = Some(0.5);
    let tools = registry(&[], vec![command("breaks", &[&fail]), sleeper], &[]);
    let log = MessageLog::default();
    let server = script_server(
        dir.path(),
        r#"[[turn]]
parts = [{ tool_calls = [{ name = "breaks", id = "f" }, { name = "sleeper", id = "t" }, { name = "rm_rf", id = "u" }] }]
after_tool = [{ text = "noted" }]
"#,
        &log,
    );
    let run = run_chat(server, MODEL, toolbox(tools), "try them\n").await;
    let f = &by_id(&run.responses, "f").response["error"];
    assert_eq!(f["status"], "FAILED");
    assert!(
        f["message"].as_str().unwrap().contains("status 3") && f["message"].as_str().unwrap().contains("disk on fire")
    );
    let t = &by_id(&run.responses, "t").response["error"];
    assert_eq!(
        (t["status"].as_str(), t["retryable"].as_bool()),
        (Some("TIMEOUT"), Some(true))
    );
    let u = by_id(&run.responses, "u");
    assert_eq!(u.name, "rm_rf");
    assert_eq!(u.response["error"]["status"], "NOT_FOUND");
    assert!(run.out.contains("noted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("slow.pid");
    let slow = script(
        dir.path(),
        "slow.sh",
        &format!("echo $$ > {}\nsleep 30", pid_file.display()),
    );
    let tools = registry(&["calc"], vec![command("slow", &[&slow])], &[]);
    let log = MessageLog::default();
    let server = script_server(
        dir.path(),
        r#"[[turn]]
parts = [{ tool_calls = [{ name = "slow", id = "s", cancel_after = "0.3s" }, { name = "calculator", id = "c", args = { expression = "1+1" } }] }]
after_tool = [{ text = "got {result}" }]
"#,
        &log,
    );
    let run = run_chat(server, MODEL, toolbox(tools), "go\n").await;
    assert!(
        run.responses.iter().all(|r| r.id.as_deref() != Some("s")),
        "the cancelled call was answered: {:?}",
        run.responses
    );
    assert_eq!(by_id(&run.responses, "c").response["result"], 2.0);
    assert!(run.out.contains("got calculator"), "{:?}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_blocking_answers_carry_their_scheduling_and_come_back_as_a_further_turn_on_38() {
    let dir = tempfile::tempdir().unwrap();
    let echo = script(dir.path(), "lookup.sh", "echo '{\"found\":\"kyoto\"}'");
    let mut lookup = command("lookup", &[&echo]);
    lookup.behavior = Some(voxlive::tools::Behavior::NonBlocking);
    lookup.scheduling = Some(voxlive::tools::Scheduling::WhenIdle);
    let mut quiet = command("quiet", &[&echo]);
    quiet.behavior = Some(voxlive::tools::Behavior::NonBlocking);
    quiet.scheduling = Some(voxlive::tools::Scheduling::Silent);
    let tools = registry(&[], vec![lookup, quiet], &[]);
    let decl = tools.declarations(voxlive::tools::Behavior::NonBlocking);
    assert!(
        decl.iter().all(|d| d.behavior.is_none()),
        "NON_BLOCKING is 3.8's default: {decl:?}"
    );
    let log = MessageLog::default();
    let server = script_server(
        dir.path(),
        r#"[[turn]]
parts = [{ tool_calls = [{ name = "lookup", id = "n1" }, { name = "quiet", id = "n2" }] }]
after_tool = [{ text = "Found: {result}" }]
"#,
        &log,
    );
    let run = run_chat(server, MODEL_38, toolbox(tools), "look it up\n").await;
    assert_eq!(by_id(&run.responses, "n1").scheduling.as_deref(), Some("WHEN_IDLE"));
    assert_eq!(by_id(&run.responses, "n2").scheduling.as_deref(), Some("SILENT"));
    assert!(run.out.contains("Found: lookup {\"found\":\"kyoto\"}"), "{:?}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_needing_confirmation_runs_when_allowed_and_is_refused_otherwise() {
    let log = MessageLog::default();
    let server = ServerConfig {
        message_log: Some(log.clone()),
        ..fast_config()
    };
    let tools = ToolBox {
        registry: registry(&["calc"], vec![], &["calc"]),
        policy: ConfirmPolicy {
            asker: Asker::FrontEnd,
            default_allow: false,
            timeout: Duration::from_secs(20),
        },
    };
    // the echo responder turns `call NAME ARGS` into a toolCall; the next line answers the question
    let lines = "call calculator {\"expression\":\"2+3\"}\ny\ncall calculator {\"expression\":\"4+4\"}\nn\n";
    let run = run_chat(server, MODEL, tools, lines).await;
    assert_eq!(run.responses.len(), 2, "{:?}", run.responses);
    assert_eq!(run.responses[0].response["result"], 5.0);
    assert!(run.responses[0].id.is_some());
    assert_eq!(run.responses[1].response["error"]["status"], "PERMISSION_DENIED");
    assert!(run.out.contains("allow tool calculator"), "{:?}", run.out);
    assert!(
        run.out
            .contains("calculator returned {\"expression\":\"2+3\",\"result\":5.0}"),
        "{:?}",
        run.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_to_ask_the_default_refuses() {
    let log = MessageLog::default();
    let server = ServerConfig {
        message_log: Some(log.clone()),
        ..fast_config()
    };
    let tools = toolbox(registry(&["calc"], vec![], &["calculator"]));
    let run = run_chat(server, MODEL, tools, "call calculator {\"expression\":\"1\"}\n").await;
    assert_eq!(run.responses[0].response["error"]["status"], "PERMISSION_DENIED");
    assert!(
        run.out.contains("calculator returned"),
        "the refusal is spoken about: {:?}",
        run.out
    );
}

#[test]
fn config_declared_command_tool_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let weather = script(
        dir.path(),
        "weather.sh",
        "read args\necho \"{\\\"forecast\\\":\\\"sunny\\\",\\\"asked\\\":$args}\"",
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"tools = ["time"]
[[tool]]
name = "weather"
description = "Weather for a city"
parameters = {{ type = "object", properties = {{ city = {{ type = "string" }} }}, required = ["city"] }}
command = ["{weather}"]
timeout_secs = 10
"#
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .args(["--config", config.to_str().unwrap(), "chat"])
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"call weather {\"city\":\"Kyoto\"}; current_time\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("weather returned {\"asked\":{\"city\":\"Kyoto\"},\"forecast\":\"sunny\"}"),
        "{stdout}"
    );
    assert!(stdout.contains("current_time returned {"), "{stdout}");
}

#[test]
fn a_bad_tool_setting_is_one_clear_error() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .args(["--tools", "shell", "chat"])
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("voxlive: error: --tools shell: no such built-in tool"),
        "{err}"
    );
}

#[test]
fn command_tool_specs_are_checked() {
    let mut bad = command("x", &[]);
    bad.command.clear();
    assert!(CommandTool::from_spec(bad).is_err());
}
