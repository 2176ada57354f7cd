//! Push-to-talk end to end, as a user has it: the real `voxlive --mode ptt` (embedded echo server, no API key)
//! in a real pseudo-terminal (tmux, so tap-to-toggle: tmux reports no key release) on the PulseAudio virtual
//! devices. A question played into the microphone before any tap must not go up; a question spoken between
//! two taps of space is echoed back and heard on the speaker (found in the speaker's monitor by correlation
//! with the question); the transcript holds that one turn; the screen follows the states; after the session
//! ends the shell is back with its terminal settings. Needs `source scripts/virtual-audio.sh start`
//! (scripts/test.sh and CI do it); without an audio server it fails unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use voxlive::ui::TAP_REPEAT_DELAY;

use crate::speaker::{audio_server_running, envelope, ncc, peak, rms, secs, Monitor, LOUD, RATE, SILENT};
use crate::tmux::{sh_quote, wait_until, Tmux};
use crate::util::sample;

/// Start-up on a loaded 2-core machine (debug build, cold disk) and other waits on the program.
const DEADLINE: Duration = Duration::from_secs(20);
/// The session's length: long enough for the whole script below with room for a loaded machine.
const SESSION_SECS: &str = "15";
/// The pre-roll sent before the held span (Policy::preroll_frames: 15 frames of 20 ms).
const PREROLL: Duration = Duration::from_millis(300);

/// The best envelope correlation of `needle` in `hay` from sample `from` on: (sample index, correlation).
fn best_envelope_match(hay: &[i16], needle: &[i16], from: usize) -> (usize, f64) {
    let (env_h, env_n) = (envelope(&hay[from.min(hay.len())..]), envelope(needle));
    let (lag, best) = (0..env_h.len().saturating_sub(env_n.len()))
        .map(|lag| (lag, ncc(&env_h, &env_n, lag)))
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    (from + lag * RATE / 100, best)
}

/// Pieces of the question's loudness contour, 300 ms each over its sound.
const PIECE: usize = 30;

/// A piece of the echo whose contour correlates this well with the question's is found.
const PIECE_FOUND: f64 = 0.85;

/// The question's loudness contour found in the speaker recording piece by piece. The whole contour's best
/// place after sample `from` anchors the first piece (sought within 500 ms of it); each next piece is sought
/// from 50 ms before to 250 ms after where the last found piece puts it. A playback stall on a loaded
/// machine (the sink plays silence while the output callback is late) delays the rest of the echo and lowers
/// the whole contour's correlation without hiding the echo. Per piece: where it starts in the question, the
/// sample of the recording where it was found, its correlation.
fn echo_pieces(speaker: &[i16], question: &[i16], from: usize) -> Vec<(usize, usize, f64)> {
    let window = RATE / 100;
    let (anchor, _) = best_envelope_match(speaker, question, from);
    let (env_s, env_q) = (envelope(speaker), envelope(question));
    let loud: Vec<usize> = (0..env_q.len())
        .filter(|&i| peak(&question[i * window..((i + 1) * window).min(question.len())]) >= LOUD)
        .collect();
    let (first, last) = (loud[0], loud[loud.len() - 1]);
    let mut found = Vec::new();
    // (window in the question, window in the recording) of the last piece found
    let mut last_found: Option<(usize, usize)> = None;
    let mut piece = first;
    while piece + PIECE / 2 <= last {
        let needle = &env_q[piece..(piece + PIECE).min(env_q.len())];
        let (lo, hi) = match last_found {
            None => {
                let expected = anchor / window + piece;
                (expected.saturating_sub(50), expected + 50)
            }
            Some((q, s)) => {
                let expected = s + (piece - q);
                (expected.saturating_sub(5), expected + 25)
            }
        };
        let lo = lo.max(from / window);
        let hi = hi.min(env_s.len().saturating_sub(needle.len())).max(lo);
        let best = (lo..hi)
            .map(|lag| (lag, ncc(&env_s, needle, lag)))
            .fold((lo, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        if best.1 > PIECE_FOUND {
            last_found = Some((piece, best.0));
        }
        found.push((piece * window, best.0 * window, best.1));
        piece += PIECE;
    }
    found
}

/// Plays `wav` into the virtual microphone; the screens captured every 20 ms while it played.
fn speak(tmux: &Tmux, wav: &Path) -> Vec<String> {
    let mut paplay = Command::new("paplay")
        .args(["-d", "vox_mic_feed"])
        .arg(wav)
        .spawn()
        .expect("paplay runs");
    let mut screens = Vec::new();
    let status = loop {
        screens.push(tmux.screen());
        if let Some(status) = paplay.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "paplay into the virtual microphone failed");
    screens
}

fn wait_screen(tmux: &Tmux, what: &str, cond: impl Fn(&str) -> bool) -> String {
    wait_until(what, DEADLINE, || {
        let s = tmux.screen();
        cond(&s).then_some(s)
    })
}

/// The microphone meter's VAD reading on the screen ("VAD speech" or "VAD quiet").
fn vad_quiet(screen: &str) -> bool {
    screen.contains("VAD quiet")
}

fn transcript_rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("transcript row {l:?}: {e}")))
        .collect()
}

fn ms(row: &serde_json::Value, key: &str) -> u64 {
    row[key].as_u64().unwrap_or_else(|| panic!("{key} in {row}"))
}

/// The `voxlive` command line typed into the tmux shell: offline (no key, an empty config directory), the
/// runtime directory of this environment's audio server, `stty -a` before and after, then a marker.
fn command_line(dir: &Path, transcript: &Path, before: &Path, after: &Path) -> String {
    let q = |p: &Path| sh_quote(p.to_str().expect("a UTF-8 temp path"));
    let config = dir.join("no-config");
    std::fs::create_dir_all(&config).unwrap();
    let runtime = std::env::var("XDG_RUNTIME_DIR")
        .map(|d| format!(" XDG_RUNTIME_DIR={}", sh_quote(&d)))
        .unwrap_or_default();
    format!(
        "stty -a > {}; env -u GEMINI_API_KEY -u GOOGLE_API_KEY XDG_CONFIG_HOME={}{runtime} {} --no-save --mode ptt \
         --duration {SESSION_SECS} --stats --transcript {}; stty -a > {}; echo \"ptt\" \"finished\"",
        q(before),
        q(&config),
        sh_quote(env!("CARGO_BIN_EXE_voxlive")),
        q(transcript),
        q(after),
    )
}

#[test]
fn push_to_talk_in_a_real_terminal_sends_only_the_tapped_span_and_the_echo_is_heard() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let tmux = Tmux::start(100, 30);
    let dir = tmux.path("run");
    std::fs::create_dir_all(&dir).unwrap();
    let (transcript, before, after) = (dir.join("transcript.jsonl"), dir.join("before"), dir.join("after"));
    let untapped_path = sample("joke_computers_16k.wav");
    let question_path = sample("what_time_tokyo_16k.wav");
    let (question, _) = voxlive::wav::read_pcm16(&question_path, RATE as u32).unwrap();

    let speaker = Monitor::start("vox_speaker.monitor");
    wait_screen(&tmux, "the shell prompt", |s| s.contains("pty$"));
    tmux.text(&command_line(&dir, &transcript, &before, &after));
    tmux.keys(&["Enter"]);
    let screen = wait_screen(&tmux, "the push-to-talk screen", |s| {
        s.contains("tap space to start and stop talking") && s.contains("LISTENING")
    });
    assert!(screen.contains("push-to-talk"), "{screen}");

    // A question before any tap: the microphone hears it (the meter's VAD), nothing goes up, nothing plays.
    let untapped_at = speaker.len();
    let screens = speak(&tmux, &untapped_path);
    assert!(
        screens.iter().any(|s| s.contains("VAD speech")),
        "the microphone never heard the untapped question:\n{}",
        screens.last().unwrap()
    );
    if let Some(s) = screens.iter().find(|s| !s.contains("LISTENING")) {
        panic!("the state changed without a tap:\n{s}");
    }
    // its end has reached the VAD, then a pause of a pre-roll so the pre-roll of the tap is silence
    wait_screen(&tmux, "the microphone to be quiet again", vad_quiet);
    std::thread::sleep(PREROLL + Duration::from_millis(200));

    // Tap, speak, tap.
    let tap_down = Instant::now();
    tmux.keys(&["Space"]);
    wait_screen(&tmux, "YOU ARE SPEAKING after the first tap", |s| {
        s.contains("YOU ARE SPEAKING")
    });
    let question_at = speaker.len();
    assert!(
        speaker.peak_since(untapped_at) < SILENT,
        "the speaker played something for the untapped question"
    );
    let screens = speak(&tmux, &question_path);
    if let Some(s) = screens.iter().find(|s| !s.contains("YOU ARE SPEAKING")) {
        panic!("the state left YOU ARE SPEAKING while the key was toggled on:\n{s}");
    }
    wait_screen(&tmux, "the microphone to be quiet after the question", vad_quiet);
    // the user's pause between the taps: a sooner press would be taken as the held key's auto-repeat
    std::thread::sleep(
        (tap_down + TAP_REPEAT_DELAY + Duration::from_millis(100)).saturating_duration_since(Instant::now()),
    );
    let tap_up = Instant::now();
    tmux.keys(&["Space"]);
    let held = tap_up - tap_down;

    // The echo: the screen says so and the speaker plays it to its end.
    wait_screen(&tmux, "ASSISTANT SPEAKING", |s| s.contains("ASSISTANT SPEAKING"));
    let reply = speaker.wait_for(question_at, Duration::from_secs(10), |p| p >= LOUD);
    assert!(reply.is_some(), "no reply was heard on the speaker");
    assert!(
        speaker.wait_quiet(Duration::from_millis(600), Duration::from_secs(15)),
        "the reply never ended"
    );
    wait_screen(&tmux, "LISTENING with one turn after the reply", |s| {
        s.contains("LISTENING") && s.contains("turns 1 ")
    });

    // The session ends (--duration): the shell is back, the terminal restored, the stats printed.
    let screen = wait_until("the session to end", Duration::from_secs(30), || {
        let s = tmux.screen();
        s.contains("ptt finished").then_some(s)
    });
    let (speaker, _) = speaker.finish();
    assert!(!screen.contains("LISTENING"), "the alternate screen is gone:\n{screen}");
    assert!(
        screen.trim_end().ends_with("pty$"),
        "the shell prompt is back:\n{screen}"
    );
    let (before, after) = (
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
    );
    assert_eq!(before, after, "stty settings differ after voxlive exited");
    let words: Vec<&str> = after.split_whitespace().collect();
    assert!(words.contains(&"icanon") && words.contains(&"echo"), "{after}");
    let printed = tmux.history(200);
    assert!(!printed.contains("panicked"), "{printed}");
    assert!(printed.contains("session: 1 turns"), "--stats: one turn:\n{printed}");
    for mark in [
        "key press -> first frame on the socket",
        "key release -> activityEnd on the socket",
    ] {
        let line = printed
            .lines()
            .find(|l| l.starts_with(mark))
            .unwrap_or_else(|| panic!("--stats printed {mark:?}:\n{printed}"));
        assert!(line.ends_with("(1)"), "one press measured: {line}");
    }

    // The transcript: exactly the tapped turn, about as long as the key was on (plus the pre-roll).
    let rows = transcript_rows(&transcript);
    assert_eq!(rows.len(), 2, "one user row and one model row: {rows:?}");
    let (user, model) = (&rows[0], &rows[1]);
    assert!(
        user["role"] == "user" && user["turn"] == 1,
        "the user row of turn 1 first: {rows:?}"
    );
    assert!(
        model["role"] == "model" && model["turn"] == 1,
        "then the model row of turn 1: {rows:?}"
    );
    assert_eq!(model["interrupted"], false, "{rows:?}");
    assert!(
        ms(model, "start_ms") >= ms(user, "end_ms"),
        "the reply follows the turn: {rows:?}"
    );
    let spoken = Duration::from_millis(ms(user, "end_ms") - ms(user, "start_ms"));
    assert!(
        spoken + Duration::from_millis(300) >= held && spoken <= held + PREROLL + Duration::from_millis(300),
        "the user's turn lasted {spoken:?}, the key was on for {held:?}: {rows:?}"
    );

    // The speaker: the question's loudness contour comes back after it was asked, at its level.
    assert!(
        speaker.len() > question_at + 2 * question.len(),
        "the speaker monitor recorded only {} samples",
        speaker.len()
    );
    let pieces = echo_pieces(&speaker, &question, question_at);
    let shown: Vec<String> = pieces
        .iter()
        .map(|(_, at, c)| format!("{:.2} s: {c:.3}", secs(*at).as_secs_f64()))
        .collect();
    eprintln!(
        "question played at {:?}; envelope correlation of each {} ms piece of it found at: {}",
        secs(question_at),
        PIECE * 10,
        shown.join(", ")
    );
    let matched: Vec<_> = pieces.iter().filter(|p| p.2 > PIECE_FOUND).collect();
    if pieces.len() < 3 || matched.len() + 1 < pieces.len() {
        let kept = std::env::temp_dir().join(format!("voxlive-ptt-e2e-speaker-{}.wav", std::process::id()));
        voxlive::wav::write_pcm16(&kept, RATE as u32, &speaker).unwrap();
        panic!(
            "the reply's loudness contour does not match the question's (one glitch allowed): {shown:?}; the \
             speaker recording is kept in {}\n{printed}",
            kept.display()
        );
    }
    assert!(
        matched.windows(2).all(|w| w[0].1 < w[1].1),
        "the pieces of the question come back in order: {shown:?}"
    );
    let (a, b) = (matched[0], matched[matched.len() - 1]);
    let stretch = secs((b.1 - a.1).saturating_sub(b.0 - a.0));
    // where the whole question starts in the echo
    let start = a.1.saturating_sub(a.0);
    assert!(
        stretch < Duration::from_millis(500),
        "the echo is {stretch:?} longer than the question: {shown:?}"
    );
    let seg = &speaker[start..(start + question.len()).min(speaker.len())];
    let db = 20.0 * (rms(seg) / rms(&question)).log10();
    assert!(
        db.abs() < 6.0,
        "the echo's level differs from the question's by {db:.1} dB"
    );
    // The untapped question's contour is not there (speech against other speech scores about 0.4).
    let (untapped, _) = voxlive::wav::read_pcm16(&untapped_path, RATE as u32).unwrap();
    let (_, other) = best_envelope_match(&speaker, &untapped, untapped_at);
    assert!(
        other < 0.65,
        "the untapped question was played back (envelope correlation {other:.3})"
    );
    // Nothing else played: before the echo (from the untapped question on) the speaker was silent.
    assert!(
        peak(&speaker[untapped_at..start.saturating_sub(RATE / 2).max(untapped_at)]) < SILENT,
        "the speaker played something before the echo"
    );
}
