//! What the live terminal UI costs: drives [`TerminalUi`] as a busy conversation would (meters moving every
//! frame at 30 fps, read by the render thread as in live mode; state and VAD changing, status snapshots at the
//! pump's tick, and a streaming transcript), for N seconds, then reports the
//! process's CPU time (getrusage: user + system, all threads) per second of wall time. The process does
//! nothing else, so that is the UI's cost plus a few channel sends. Run it in a real terminal:
//!
//! ```text
//! cargo run --release --example ui_cpu -- 20 [REPORT_FILE] [--steady]
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use voxlive::conversation::{Notice, State, Status, TalkMode};
use voxlive::ui::{Frames, Levels, Redraw, Renderer, Screen, TerminalOptions, TerminalUi, UserInput};

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we hand it
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The CPU one frame costs to fold a status and draw the screen into memory, without the terminal's writes
/// and the threads' wake-ups: what the code costs, apart from what the system charges for I/O.
fn headless_draw_cost(frames: u32) -> Duration {
    use ratatui::backend::TestBackend;
    let mut screen = Screen::new(TalkMode::PushToTalk, Some("tap space to start and stop talking".into()));
    let area = ratatui::layout::Rect::new(0, 0, 100, 30);
    let mut term = Frames::new(TestBackend::new(100, 30), area).expect("a test backend");
    let cpu0 = cpu_time();
    for i in 0..frames {
        let t = i as f32 / 30.0;
        let status = Status {
            mic_dbfs: -35.0 + 25.0 * (t * 2.0).sin(),
            speaker_dbfs: -30.0 + 20.0 * (t * 5.0).cos(),
            ..Status::default()
        };
        let mut change = screen.set_status(&status);
        if i % 10 == 0 {
            screen.apply(&Notice::ModelTranscript {
                turn: i / 90,
                text: format!("word{i} "),
            });
            change = Redraw::Everything;
        }
        // as the render thread does: the meters alone when only they moved
        match (i, change) {
            (1.., Redraw::Meters) => term.draw_meters(&screen).expect("drawing in memory"),
            (_, Redraw::Nothing) if i > 0 => {}
            _ => term.draw_full(&screen).expect("drawing in memory"),
        }
    }
    (cpu_time() - cpu0) / frames
}

/// Linux: each thread's name and user+system clock ticks from /proc/self/task (empty elsewhere).
fn per_thread() -> String {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return String::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, counted after the closing parenthesis
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("?", |(_, n)| n);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        out.push(format!("{name}={}", ticks(11) + ticks(12)));
    }
    out.join(" ")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(10);
    // --steady: the same status every frame (a quiet room): the UI should not redraw at all
    let steady = args.iter().any(|a| a == "--steady");
    let (mut ui, mut input) = TerminalUi::start(TerminalOptions::new(TalkMode::PushToTalk))?;
    // as live mode does: the render thread reads the levels itself each frame (here moving sines, there the
    // DSP thread's atomics); the pump sends state, VAD and counters at its own tick
    let start = Instant::now();
    ui.levels_from(Box::new(move || {
        let t = if steady { 0.0 } else { start.elapsed().as_secs_f32() };
        Levels {
            mic_dbfs: -35.0 + 25.0 * (t * 2.0).sin(),
            speaker_dbfs: -30.0 + 20.0 * (t * 5.0).cos(),
        }
    }));
    let frame = ui.status_interval().unwrap_or(Duration::from_millis(50));
    let mut tick = tokio::time::interval(frame);
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    let mut status = Status::default();
    let mut frames = 0u64;
    while wall0.elapsed() < Duration::from_secs(seconds) {
        tokio::select! {
            _ = tick.tick() => {}
            Some(UserInput::Quit) = input.recv() => break,
        }
        frames += 1;
        let t = if steady { 0.0 } else { wall0.elapsed().as_secs_f32() };
        status.vad_speech = (t as u32) % 2 == 0;
        status.state = [State::UserSpeaking, State::AssistantSpeaking][(t as usize / 3) % 2];
        ui.status(&status);
        // a streaming transcript: a word every 1/3 s, as speech is transcribed
        if frames % (Duration::from_millis(333).as_millis() / frame.as_millis().max(1)).max(1) as u64 == 0 && !steady {
            let turn = (frames / 90) as u32;
            ui.show(&Notice::ModelTranscript {
                turn,
                text: format!("word{frames} "),
            });
        }
    }
    let (wall, cpu) = (wall0.elapsed(), cpu_time() - cpu0);
    let threads = per_thread();
    ui.finish();
    let report = format!(
        "ui_cpu{}: {frames} status ticks ({} ms) in {:.1} s wall, {:.3} s CPU: {:.2}% of one core ({:.0} us CPU per tick)",
        if steady { " --steady" } else { "" },
        frame.as_millis(),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        1e6 * cpu.as_secs_f64() / frames.max(1) as f64,
    );
    let compute = headless_draw_cost(600);
    let report = format!(
        "{report}\n  per thread (whole run, clock ticks): {threads}\n  drawing alone (100x30 TestBackend, no \
         terminal I/O): {:.0} us CPU per frame",
        compute.as_secs_f64() * 1e6
    );
    println!("{report}");
    if let Some(path) = args.get(1).filter(|a| !a.starts_with("--")) {
        writeln!(std::fs::File::create(path)?, "{report}")?;
    }
    Ok(())
}
