//! Starts the live terminal UI on its own (no audio, no session) and writes every [`UserInput`] it receives
//! to a file, one line each: `ready <key mode>`, `KeyDown`, `KeyUp`, `Line <text>`, `Quit`. It plays the
//! conversation core's part just enough for the screen to move (key down: you are speaking; key up: a fake
//! reply), exits on Quit and panics on the typed line `panic`. The pseudo-terminal test (tests/ui_pty.rs) drives it through tmux.
//!
//! ```text
//! cargo run --example ui_probe -- OUT_FILE [ptt|hands-free] [KEY] [--tap]
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use voxlive::conversation::{Notice, State, Status, TalkMode, VadSource};
use voxlive::ui::{Renderer, TerminalOptions, TerminalUi, UserInput};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out_path = args
        .first()
        .ok_or("usage: ui_probe OUT_FILE [ptt|hands-free] [KEY] [--tap]")?;
    let mode = match args.get(1).map(String::as_str) {
        Some("hands-free") => TalkMode::HandsFree(VadSource::Local),
        _ => TalkMode::PushToTalk,
    };
    let mut opts = TerminalOptions::new(mode);
    if let Some(key) = args.get(2).filter(|a| !a.starts_with("--")) {
        opts.ptt_key = Some(key.parse()?);
    }
    opts.key_release = !args.iter().any(|a| a == "--tap");
    let mut out = std::fs::File::create(out_path)?;
    let (mut ui, mut input) = TerminalUi::start(opts)?;
    writeln!(out, "ready {}", ui.key_label().unwrap_or("hands-free"))?;
    let mut status = Status {
        mode: Some(mode),
        key_mode: ui.key_label().map(str::to_string),
        speaker_dbfs: -90.0,
        ..Status::default()
    };
    let started = Instant::now();
    let mut tick = tokio::time::interval(ui.status_interval().unwrap_or(Duration::from_millis(100)));
    let mut turn = 0;
    loop {
        tokio::select! {
            got = input.recv() => {
                let Some(got) = got else { break };
                writeln!(out, "{}", line_for(&got))?;
                out.flush()?;
                if !react(&mut ui, &mut status, &mut turn, got) {
                    break;
                }
            }
            _ = tick.tick() => {
                let t = started.elapsed().as_secs_f32();
                status.mic_dbfs = -40.0 + 20.0 * (t * 3.0).sin();
                ui.status(&status);
            }
        }
    }
    ui.finish();
    println!("ui_probe: terminal restored");
    Ok(())
}

fn line_for(got: &UserInput) -> String {
    match got {
        UserInput::KeyDown { .. } => "KeyDown".into(),
        UserInput::KeyUp { .. } => "KeyUp".into(),
        UserInput::Line { text, .. } => format!("Line {text}"),
        UserInput::Quit => "Quit".into(),
    }
}

/// Plays the conversation core's part; `false` on Quit.
fn react(ui: &mut TerminalUi, status: &mut Status, turn: &mut u32, got: UserInput) -> bool {
    match got {
        UserInput::KeyDown { .. } => {
            *turn += 1;
            status.state = State::UserSpeaking;
            status.vad_speech = true;
        }
        UserInput::KeyUp { .. } => {
            status.state = State::AssistantSpeaking;
            status.vad_speech = false;
            status.turns = *turn;
            ui.show(&Notice::UserTranscript {
                turn: *turn,
                text: format!("spoken turn {turn}"),
            });
            ui.show(&Notice::ModelTranscript {
                turn: *turn,
                text: "a reply with \u{1b}[2Jan escape in it".into(),
            });
            ui.show(&Notice::TurnDone {
                turn: *turn,
                first_reply: Some(Duration::from_millis(321)),
                interrupted: false,
                tokens: None,
            });
        }
        UserInput::Line { text, .. } if text == "panic" => {
            // tests/ui_pty.rs checks the panic hook gives the shell its terminal back
            panic!("ui_probe panics on purpose");
        }
        UserInput::Line { text, .. } => {
            *turn += 1;
            ui.show(&Notice::UserTyped { turn: *turn, text });
        }
        UserInput::Quit => return false,
    }
    ui.show(&Notice::State(status.state));
    ui.status(status);
    true
}
