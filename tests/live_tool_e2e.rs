//! Function calling in a live spoken conversation, end to end: the real `voxlive` (hands-free, server VAD)
//! on the PulseAudio virtual devices, talking to an embedded server in this process whose scripted first
//! turn calls a tool and closes the turn at the call (as the real service may); the answer that quotes the
//! tool's result comes as a further turn with no new user input. The question is spoken into the virtual
//! microphone; the server's MessageLog shows what the client answered, the speaker's monitor what was heard.
//! - In the terminal UI (a real pseudo-terminal, tmux): a config-declared command tool that needs
//!   confirmation; the y/n question is answered with a key. Yes: the tool runs once and its result goes up
//!   with the call's id and comes back in the answer. No: a PERMISSION_DENIED error object goes up with
//!   the id and the tool never runs (it writes a marker file when it does).
//! - Without a terminal (plain lines, as from a pipe): the calculator, which needs no confirmation.
//!
//! Needs `source scripts/virtual-audio.sh start` (scripts/test.sh and CI do it); without an audio server
//! the tests fail unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use voxlive::protocol::{ClientMessage, FunctionResponse};
use voxlive::server::{MessageLog, ResponderKind, ScriptedResponder, ServerConfig, ServerHandle};

use crate::live_e2e::{play_into_mic, played, scratch, transcript_rows, Voxlive};
use crate::speaker::{audio_server_running, Monitor, LOUD, SILENT};
use crate::tmux::{sh_quote, wait_until, Tmux};
use crate::util::{data_dir, fast_config, sample, start_server};

/// Start-up on a loaded 2-core machine (debug build, cold disk) and other waits on the program.
const DEADLINE: Duration = Duration::from_secs(20);

/// The command tool's answer: a code found nowhere else, so seeing it in the reply means the result
/// went up and came back.
const CODE: &str = "teal-7731";

/// Turn 1 calls the config's command tool and closes the turn at the call; the answer quotes the result.
const MARK_SCRIPT: &str = r#"[[turn]]
parts = [{ tool_calls = [{ name = "mark_file", id = "mark-1", args = { note = "from the test" } }] }]
close_turn = true
after_tool = [{ text = "The tool says {result}." }]
"#;

/// Turn 1 calls the calculator and closes the turn at the call; the answer quotes the result.
const CALC_SCRIPT: &str = r#"[[turn]]
parts = [{ tool_calls = [{ name = "calculator", id = "calc-1", args = { expression = "6*7" } }] }]
close_turn = true
after_tool = [{ text = "The calculator says {result}." }]
"#;

/// The embedded server playing a script, on a runtime of its own (the tests drive the terminal and the
/// devices from their own thread); its MessageLog holds what the client sent.
struct Scripted {
    log: MessageLog,
    server: ServerHandle,
    // dropped last: the server's tasks run on it
    _runtime: tokio::runtime::Runtime,
}

impl Scripted {
    fn start(dir: &Path, script: &str) -> Scripted {
        let path = dir.join("script.toml");
        std::fs::write(&path, script).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let log = MessageLog::default();
        let server = runtime.block_on(start_server(ServerConfig {
            responder: ResponderKind::Scripted(ScriptedResponder::from_path(&path).expect("script loads")),
            message_log: Some(log.clone()),
            ..fast_config()
        }));
        Scripted {
            log,
            server,
            _runtime: runtime,
        }
    }

    /// Every function response the client sent, with when the server received its toolResponse.
    fn tool_responses(&self) -> Vec<(Instant, FunctionResponse)> {
        self.log
            .snapshot()
            .into_iter()
            .filter_map(|(at, m)| match m {
                ClientMessage::ToolResponse(r) => Some(r.function_responses.into_iter().map(move |f| (at, f))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Waits for the first toolResponse.
    fn wait_tool_response(&self) -> (Instant, FunctionResponse) {
        wait_until("a toolResponse from voxlive", DEADLINE, || {
            self.tool_responses().into_iter().next()
        })
    }

    /// Audio messages the client sent before `until` (the microphone's stream).
    fn audio_sent_before(&self, until: Instant) -> usize {
        self.log
            .snapshot()
            .iter()
            .filter(|(at, m)| *at < until && matches!(m, ClientMessage::RealtimeInput(r) if r.audio.is_some()))
            .count()
    }
}

/// A config file declaring one command tool that needs confirmation: each run appends a line to
/// `marker` (so whether it ran, and how often, can be checked) and answers `{"code": CODE}`.
fn config_with_marker_tool(dir: &Path, marker: &Path) -> PathBuf {
    let script = format!(r#"echo ran >> "$0"; printf '{{"code":"{CODE}"}}'"#);
    let config = serde_json::json!({ "tool": [{
        "name": "mark_file",
        "description": "Writes a marker file and answers with a code",
        "parameters": { "type": "object", "properties": { "note": { "type": "string" } } },
        "command": ["/bin/sh", "-c", script, marker.to_str().expect("a UTF-8 temp path")],
        "confirm": true,
    }]});
    let path = dir.join("config.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

fn wait_screen(tmux: &Tmux, what: &str, cond: impl Fn(&str) -> bool) -> String {
    wait_until(what, DEADLINE, || {
        let s = tmux.screen();
        cond(&s).then_some(s)
    })
}

/// What a confirmed (or refused) call left behind.
struct Confirmed {
    responses: Vec<(Instant, FunctionResponse)>,
    /// The screen once the answer was shown.
    screen: String,
    /// What the tool wrote into its marker file; `None`: it never ran.
    marker: Option<String>,
    rows: Vec<serde_json::Value>,
}

/// The `voxlive` command line typed into the tmux shell: offline (no key, an empty config directory, the
/// given config file), hands-free, the runtime directory of this environment's audio server, then a marker.
fn command_line(server: &Scripted, dir: &Path, config: &Path, transcript: &Path) -> String {
    let q = |p: &Path| sh_quote(p.to_str().expect("a UTF-8 temp path"));
    let empty = dir.join("no-config");
    std::fs::create_dir_all(&empty).unwrap();
    let runtime = std::env::var("XDG_RUNTIME_DIR")
        .map(|d| format!(" XDG_RUNTIME_DIR={}", sh_quote(&d)))
        .unwrap_or_default();
    format!(
        "env -u GEMINI_API_KEY -u GOOGLE_API_KEY XDG_CONFIG_HOME={} VOXLIVE_DATA_DIR={}{runtime} {} --endpoint {} \
         --config {} --no-save --mode hands-free --confirm-timeout 120 --duration 120 --transcript {}; \
         echo \"live\" \"finished\"",
        q(&empty),
        q(&data_dir()),
        sh_quote(env!("CARGO_BIN_EXE_voxlive")),
        sh_quote(&server.server.base_url()),
        q(config),
        q(transcript),
    )
}

/// Hands-free in the terminal UI: the question spoken, the tool's y/n question answered with `key`, the
/// answer heard and shown (`shown` on the screen), then Ctrl-C; what the call left behind.
fn answer_in_terminal(key: &str, shown: &str) -> Confirmed {
    let tmux = Tmux::start(200, 40);
    let dir = tmux.path("run");
    std::fs::create_dir_all(&dir).unwrap();
    let server = Scripted::start(&dir, MARK_SCRIPT);
    let (marker, transcript) = (dir.join("marker"), dir.join("transcript.jsonl"));
    let config = config_with_marker_tool(&dir, &marker);
    let speaker = Monitor::start("vox_speaker.monitor");
    wait_screen(&tmux, "the shell prompt", |s| s.contains("pty$"));
    tmux.text(&command_line(&server, &dir, &config, &transcript));
    tmux.keys(&["Enter"]);
    // the meter's VAD reading: microphone frames are flowing
    wait_screen(&tmux, "the hands-free screen, listening", |s| {
        s.contains("LISTENING") && s.contains("just talk") && s.contains("VAD quiet")
    });

    let question_at = speaker.len();
    played(play_into_mic(&sample("what_time_tokyo_16k.wav")));
    let asked = wait_screen(&tmux, "the confirmation question", |s| {
        s.contains("allow tool mark_file(") && s.contains("y: allow the tool call | n: refuse it")
    });
    assert!(asked.contains("[y/N]"), "the default is no: {asked}");
    assert!(server.tool_responses().is_empty(), "answered before the user did");
    assert!(!marker.exists(), "the tool ran before the user answered");
    assert!(
        speaker.peak_since(question_at) < SILENT,
        "the speaker played something before the tool was answered"
    );

    let answered_at = speaker.len();
    tmux.keys(&[key]);
    let (sent, _) = server.wait_tool_response();
    let reply = speaker
        .wait_for(answered_at, DEADLINE, |p| p >= LOUD)
        .expect("the answer is heard on the speaker");
    assert!(
        speaker.time_of(reply) > sent,
        "the answer was heard before the toolResponse went up"
    );
    assert!(
        speaker.wait_quiet(Duration::from_millis(600), DEADLINE),
        "the answer never ended"
    );
    let screen = wait_screen(&tmux, "the answer quoting the tool's response", |s| {
        s.contains(shown) && !s.contains("y: allow the tool call")
    });

    tmux.keys(&["C-c"]);
    wait_screen(&tmux, "voxlive to exit", |s| s.contains("live finished"));
    let printed = tmux.history(200);
    assert!(!printed.contains("panicked"), "{printed}");
    Confirmed {
        responses: server.tool_responses(),
        screen,
        marker: std::fs::read_to_string(&marker).ok(),
        rows: transcript_rows(&transcript),
    }
}

/// The model's transcript rows, joined.
fn model_text(rows: &[serde_json::Value]) -> String {
    rows.iter()
        .filter(|r| r["role"] == "model")
        .map(|r| r["text"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_tool_allowed_with_y_in_the_terminal_runs_once_and_its_result_is_heard_and_shown() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let quoted = format!("The tool says mark_file {{\"code\":\"{CODE}\"}}.");
    let run = answer_in_terminal("y", &quoted);
    assert_eq!(run.responses.len(), 1, "one answer: {:?}", run.responses);
    let response = &run.responses[0].1;
    assert_eq!(response.id.as_deref(), Some("mark-1"));
    assert_eq!(response.name, "mark_file");
    assert_eq!(
        response.response,
        serde_json::json!({ "code": CODE }).as_object().cloned().unwrap()
    );
    assert_eq!(run.marker.as_deref(), Some("ran\n"), "the tool ran exactly once");
    assert!(run.screen.contains("tool mark_file allowed"), "{}", run.screen);
    let heard = model_text(&run.rows);
    assert!(heard.contains(&quoted), "transcript: {:?}", run.rows);
}

#[test]
fn a_tool_refused_with_n_in_the_terminal_never_runs_and_the_refusal_goes_up() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let run = answer_in_terminal("n", "PERMISSION_DENIED");
    assert_eq!(run.responses.len(), 1, "one answer: {:?}", run.responses);
    let response = &run.responses[0].1;
    assert_eq!(response.id.as_deref(), Some("mark-1"));
    assert_eq!(response.name, "mark_file");
    assert_eq!(
        response.response["error"]["status"], "PERMISSION_DENIED",
        "{response:?}"
    );
    assert!(
        response.response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the user answered")),
        "{response:?}"
    );
    assert!(response.response.get("code").is_none(), "{response:?}");
    assert_eq!(run.marker, None, "the refused tool ran");
    assert!(run.screen.contains("tool mark_file refused"), "{}", run.screen);
    let heard = model_text(&run.rows);
    assert!(
        heard.contains("The tool says mark_file {\"error\":") && heard.contains("PERMISSION_DENIED"),
        "transcript: {:?}",
        run.rows
    );
    assert!(!heard.contains(CODE), "{heard}");
}

#[test]
fn hands_free_without_a_terminal_runs_the_calculator_and_the_answer_is_heard_past_the_closed_turn() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let dir = scratch("live-calc");
    let server = Scripted::start(&dir, CALC_SCRIPT);
    let rows_path = dir.join("transcript.jsonl");
    let speaker = Monitor::start("vox_speaker.monitor");
    let url = server.server.base_url();
    let args = [
        "--endpoint",
        &url,
        "--no-save",
        "--tools",
        "calc",
        "--duration",
        "120",
        "--stats",
        "--transcript",
        rows_path.to_str().unwrap(),
    ];
    let voxlive = Voxlive::start(&dir, &args);
    voxlive.wait_listening();
    let question_at = speaker.len();
    played(play_into_mic(&sample("what_time_tokyo_16k.wav")));
    let (sent, _) = server.wait_tool_response();
    // the turn closed at the call had no audio: what plays is the answer, after the toolResponse
    let reply = speaker
        .wait_for(question_at, DEADLINE, |p| p >= LOUD)
        .expect("the answer is heard on the speaker");
    assert!(
        speaker.time_of(reply) > sent,
        "the speaker played before the toolResponse went up"
    );
    assert!(
        speaker.wait_quiet(Duration::from_millis(600), DEADLINE),
        "the answer never ended"
    );
    let stdout = voxlive.stop();

    assert!(server.audio_sent_before(sent) > 0, "the microphone's audio went up");
    let responses = server.tool_responses();
    assert_eq!(responses.len(), 1, "one answer: {responses:?}");
    let response = &responses[0].1;
    assert_eq!(response.id.as_deref(), Some("calc-1"));
    assert_eq!(response.name, "calculator");
    assert_eq!(response.response["result"], 42.0, "{response:?}");
    let quoted = "The calculator says calculator {\"expression\":\"6*7\",\"result\":42.0}.";
    assert!(stdout.contains("tool call: calculator"), "{stdout}");
    assert!(stdout.contains(&format!("voxlive: {quoted}")), "{stdout}");
    let rows = transcript_rows(&rows_path);
    assert!(model_text(&rows).contains(quoted), "transcript: {rows:?}");
    std::fs::remove_dir_all(&dir).ok();
}
