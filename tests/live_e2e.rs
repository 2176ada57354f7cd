//! End to end through real devices: spoken questions are played into the PulseAudio virtual microphone,
//! `voxlive` (hands-free, embedded echo server) captures them, the server answers, voxlive plays the answer
//! to the virtual speaker, and the tests record the speaker's monitor (and the microphone feed's) and find
//! the answer in it by correlation with the question, checking its level and that it follows the question;
//! with server VAD and local VAD, and a barge-in: a second utterance over the reply silences the speaker.
//! Needs `source scripts/virtual-audio.sh start` (scripts/test.sh and CI do it); without an audio server the
//! tests fail unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::speaker::{audio_server_running, envelope, ncc, peak, rms, secs, Killed, Monitor, LOUD, RATE, SILENT};
use crate::util::sample;

/// How soon after the onset of an utterance over a reply the speaker must be silent. Behaviour, not a timing
/// figure (scripts/measure-barge-in.sh measures that): generous, yet far shorter than the rest of the reply.
const BARGE_IN_WINDOW: Duration = Duration::from_millis(300);

/// A unique scratch directory for one test run.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("voxlive-e2e-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Index of the sample recorded at `t` in a recording that began at `t0`.
fn index_at(t0: Instant, t: Instant) -> usize {
    (t.saturating_duration_since(t0).as_secs_f64() * RATE as f64) as usize
}

/// `voxlive` offline (no API key, no config file) on the default (virtual) devices.
pub(crate) struct Voxlive {
    child: Killed,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    listening: std::sync::mpsc::Receiver<()>,
}

impl Voxlive {
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Voxlive {
        let mut child = Command::new(env!("CARGO_BIN_EXE_voxlive"))
            .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
            .args(args)
            .env_remove("GEMINI_API_KEY")
            .env_remove("GOOGLE_API_KEY")
            .env("XDG_CONFIG_HOME", dir.join("no-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("voxlive runs");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, listening) = std::sync::mpsc::channel();
        let stdout = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = stderr.read_to_string(&mut all);
            all
        });
        Voxlive {
            child: Killed(child),
            stdout: Some(stdout),
            stderr: Some(stderr),
            listening,
        }
    }

    /// Waits for "listening", then lets the capture stream get past its start-up burst.
    pub(crate) fn wait_listening(&self) {
        self.listening
            .recv_timeout(Duration::from_secs(30))
            .expect("voxlive starts listening");
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Ends the session as Ctrl-C does and checks it ended well; its standard output.
    pub(crate) fn stop(mut self) -> String {
        let pid = libc::pid_t::try_from(self.child.0.id()).unwrap();
        // SAFETY: a plain signal to our own child, which has not been waited for yet.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let status: ExitStatus = self.child.0.wait().unwrap();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        assert!(status.success(), "voxlive failed: {stderr}\n{stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stdout.contains("underruns"), "--stats printed: {stdout}");
        stdout
    }
}

pub(crate) fn play_into_mic(wav: &Path) -> Child {
    Command::new("paplay")
        .args(["-d", "vox_mic_feed"])
        .arg(wav)
        .spawn()
        .expect("paplay runs")
}

pub(crate) fn played(mut paplay: Child) {
    assert!(
        paplay.wait().unwrap().success(),
        "paplay into the virtual microphone failed"
    );
}

/// One spoken question, hands-free, through the devices: voxlive runs with `args`, the question goes into
/// the microphone once it listens, and the session ends once the reply has been heard to its end.
/// Checks that the echo of the question is on the speaker; returns voxlive's standard output.
fn question_is_echoed_through_the_speaker(dir: &Path, args: &[&str]) -> String {
    let question_path = sample("what_time_tokyo_16k.wav");
    let (question, _) = voxlive::wav::read_pcm16(&question_path, RATE as u32).unwrap();
    // Record what the virtual speaker plays, from before voxlive starts.
    let speaker = Monitor::start("vox_speaker.monitor");
    let voxlive = Voxlive::start(dir, args);
    voxlive.wait_listening();
    let question_at = speaker.len();
    played(play_into_mic(&question_path));
    let reply = speaker.wait_for(question_at, Duration::from_secs(15), |p| p >= LOUD);
    assert!(reply.is_some(), "no reply was heard on the speaker");
    assert!(
        speaker.wait_quiet(Duration::from_millis(600), Duration::from_secs(15)),
        "the reply never ended"
    );
    let stdout = voxlive.stop();
    let (speaker, _) = speaker.finish();
    assert!(stdout.contains("you: "), "a turn was taken: {stdout}");
    assert_echo_of(&question, &speaker, question_at, &stdout);
    stdout
}

/// The question's echo is in the speaker recording after sample `question_at`: its loudness contour, then
/// its waveform near there, at the question's level.
fn assert_echo_of(question: &[i16], speaker: &[i16], question_at: usize, context: &str) {
    assert!(
        speaker.len() > question_at + 2 * question.len(),
        "the speaker monitor recorded only {} samples",
        speaker.len()
    );
    // Where in the recording does the question's loudness contour come back?
    let (env_s, env_q) = (envelope(speaker), envelope(question));
    let (best_lag, best) = (0..env_s.len().saturating_sub(env_q.len()))
        .map(|lag| (lag, ncc(&env_s, &env_q, lag)))
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let start = best_lag * RATE / 100;
    eprintln!(
        "answer found at {:?} (question played at {:?}), envelope correlation {best:.3}",
        secs(start),
        secs(question_at)
    );
    assert!(
        best > 0.8,
        "the answer's loudness contour does not match the question (best {best:.3})\n{context}"
    );
    assert!(
        start > question_at,
        "the answer ({:?}) cannot precede the question ({:?})",
        secs(start),
        secs(question_at)
    );

    // The waveform itself, near that lag: an echo of the question, not just something as loud. Compared in
    // 250 ms pieces, each aligned on its own: the virtual devices' sample clocks drift against each other by
    // up to 0.16 % (measured), a few ms over the question, which would decorrelate one long comparison.
    let search = RATE / 50;
    let piece = RATE / 4;
    let q: Vec<f64> = question.iter().map(|&s| s as f64).collect();
    let s: Vec<f64> = speaker.iter().map(|&s| s as f64).collect();
    let loud = rms(question) * 0.5;
    let mut pieces: Vec<f64> = (0..q.len() / piece)
        .filter(|&k| rms(&question[k * piece..(k + 1) * piece]) > loud)
        .map(|k| {
            let at = start + k * piece;
            let from = at.saturating_sub(search);
            let to = (at + search).min(s.len().saturating_sub(piece));
            (from..to)
                .map(|lag| ncc(&s, &q[k * piece..(k + 1) * piece], lag))
                .fold(f64::MIN, f64::max)
        })
        .collect();
    pieces.sort_by(f64::total_cmp);
    assert!(
        pieces.len() >= 3,
        "the question has too few voiced pieces to compare: {}",
        pieces.len()
    );
    let fine = pieces[pieces.len() / 2];
    assert!(
        fine > 0.6,
        "waveform correlation with the question is only {fine:.3} (median of {} pieces: {pieces:.2?})\n{context}",
        pieces.len()
    );

    // Level: the answer plays back at the question's level (within 6 dB).
    let seg = &speaker[start..(start + question.len()).min(speaker.len())];
    let db = 20.0 * (rms(seg) / rms(question)).log10();
    assert!(db.abs() < 6.0, "answer level differs from the question by {db:.1} dB");
}

pub(crate) fn transcript_rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("transcript row {l:?}: {e}")))
        .collect()
}

fn ms(row: &serde_json::Value, key: &str) -> u64 {
    row[key].as_u64().unwrap_or_else(|| panic!("{key} in {row}"))
}

#[test]
fn spoken_question_is_answered_through_the_virtual_speaker() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let dir = scratch("server-vad");
    let rec = dir.join("rec");
    let args = ["--duration", "20", "--stats", "--record", rec.to_str().unwrap()];
    question_is_echoed_through_the_speaker(&dir, &args);
    let recorded = std::fs::read_dir(&rec).map(|d| d.count()).unwrap_or(0);
    assert!(recorded >= 2, "--record wrote the microphone and speaker WAVs");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn spoken_question_is_answered_with_local_vad() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let dir = scratch("local-vad");
    let rows_path = dir.join("transcript.jsonl");
    let args = [
        "--vad",
        "local",
        "--duration",
        "20",
        "--stats",
        "--transcript",
        rows_path.to_str().unwrap(),
    ];
    let stdout = question_is_echoed_through_the_speaker(&dir, &args);
    assert!(stdout.contains("local VAD"), "the local VAD took the turns: {stdout}");
    let rows = transcript_rows(&rows_path);
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
    assert!(ms(user, "end_ms") >= ms(user, "start_ms"), "{rows:?}");
    assert!(ms(model, "end_ms") >= ms(model, "start_ms"), "{rows:?}");
    assert!(
        ms(model, "start_ms") >= ms(user, "end_ms"),
        "the reply starts after the user's turn: {rows:?}"
    );
    // the question lasts 1.9 s: the user's turn spans most of it, however the VAD trims its edges
    let spoken = ms(user, "end_ms") - ms(user, "start_ms");
    assert!(
        (1000..4000).contains(&spoken),
        "the user's turn lasted {spoken} ms: {rows:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The virtual devices have no acoustic path from the speaker to the microphone (as with headphones), so
/// echo cancellation has nothing to cancel: `--no-aec`. With it on (the default), see the tests below.
#[test]
fn speaking_over_a_reply_silences_the_virtual_speaker() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    speak_over_a_reply("barge-in", &["--vad", "server", "--no-aec"]);
}

/// With echo cancellation on (the default) and no echo path (headphones; the virtual devices): found by
/// scripts/measure-barge-in.sh (benches/runs/barge-in-2026-12-02.md), the user's voice over a playing reply
/// was not heard at all: AEC3 and the residual-echo gate took it for echo. The canceller now passes the
/// microphone through when no echo path can exist (src/audio/echo_path.rs).
#[test]
fn speaking_over_a_reply_silences_the_virtual_speaker_with_echo_cancellation() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    speak_over_a_reply("barge-in-aec", &["--vad", "local"]);
}

/// The default setup, server VAD and echo cancellation, over the same reply.
#[test]
fn speaking_over_a_reply_silences_the_virtual_speaker_with_echo_cancellation_and_server_vad() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    speak_over_a_reply("barge-in-aec-server", &["--vad", "server"]);
}

/// A question; half a second into its echo a second utterance over it: the reply must stop (the speaker
/// silent from shortly after the utterance's onset until the next reply), the transcript saying so.
fn speak_over_a_reply(name: &str, flags: &[&str]) {
    let dir = scratch(name);
    let rows_path = dir.join("transcript.jsonl");
    let speaker = Monitor::start("vox_speaker.monitor");
    let mic = Monitor::start("vox_mic_feed.monitor");
    let mut args = flags.to_vec();
    args.extend([
        "--duration",
        "25",
        "--stats",
        "--transcript",
        rows_path.to_str().unwrap(),
    ]);
    let voxlive = Voxlive::start(&dir, &args);
    voxlive.wait_listening();

    let question = play_into_mic(&sample("what_time_tokyo_16k.wav"));
    let reply = speaker
        .wait_for(speaker.len(), Duration::from_secs(15), |p| p >= LOUD)
        .expect("the echo of the question is heard");
    // Half a second into the reply, a second utterance over it.
    std::thread::sleep((speaker.time_of(reply) + Duration::from_millis(500)).saturating_duration_since(Instant::now()));
    let second_from = mic.len();
    let second = play_into_mic(&sample("please_stop_44k1_s24.wav"));
    played(question);
    played(second);
    // The echo of the second utterance comes once it has ended; then the session can stop.
    let after = speaker.len();
    speaker
        .wait_for(after, Duration::from_secs(15), |p| p >= LOUD)
        .expect("the second utterance is answered");
    assert!(
        speaker.wait_quiet(Duration::from_millis(600), Duration::from_secs(15)),
        "the second reply never ended"
    );
    let stdout = voxlive.stop();
    let (speaker, speaker_t0) = speaker.finish();
    let (mic, mic_t0) = mic.finish();

    // The second utterance in the microphone feed, on the speaker recording's clock.
    let blocks = |x: &[i16], from: usize| -> Vec<(usize, i32)> {
        x[from.min(x.len())..]
            .chunks(RATE / 1000)
            .enumerate()
            .map(|(k, b)| (from + k * RATE / 1000, peak(b)))
            .collect()
    };
    let loud: Vec<usize> = blocks(&mic, second_from)
        .into_iter()
        .filter(|&(_, p)| p >= LOUD)
        .map(|(i, _)| i)
        .collect();
    let (Some(&onset), Some(&end)) = (loud.first(), loud.last()) else {
        panic!("the second utterance is not in the microphone feed")
    };
    let on_speaker = |i: usize| index_at(speaker_t0, mic_t0 + secs(i));
    let (onset_s, end_s) = (on_speaker(onset), on_speaker(end));
    let window = (BARGE_IN_WINDOW.as_secs_f64() * RATE as f64) as usize;
    assert!(
        end_s > onset_s + window && end_s < speaker.len(),
        "the second utterance spans the window"
    );

    // The reply was playing when the second utterance began ...
    let before = peak(&speaker[onset_s.saturating_sub(RATE / 5)..onset_s]);
    assert!(
        before >= LOUD,
        "the reply was not playing when the second utterance began (peak {before}): the test did not barge in\n{stdout}"
    );
    // ... and the speaker is silent from shortly after its onset until the next reply, which cannot start
    // before the utterance has ended.
    let next_sound = blocks(&speaker, onset_s + window)
        .into_iter()
        .find(|&(_, p)| p >= SILENT)
        .map(|(i, _)| i);
    let next_sound = next_sound.expect("the second reply is on the speaker");
    assert!(
        next_sound > end_s,
        "the speaker played at {:?}, {:?} after the onset of the second utterance (which lasted {:?})\n{stdout}",
        secs(next_sound),
        secs(next_sound - onset_s),
        secs(end - onset)
    );
    eprintln!(
        "second utterance at {:?}; speaker silent from before {:?} after it until the next reply at {:?}",
        secs(onset_s),
        BARGE_IN_WINDOW,
        secs(next_sound)
    );

    let rows = transcript_rows(&rows_path);
    let first = rows
        .iter()
        .find(|r| r["role"] == "model")
        .unwrap_or_else(|| panic!("a model row: {rows:?}"));
    assert_eq!(first["turn"], 1, "{rows:?}");
    assert_eq!(first["interrupted"], true, "the first reply is interrupted: {rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["role"] == "model" && r["turn"] == 2 && r["interrupted"] == false),
        "the second utterance is answered: {rows:?}"
    );
    assert!(stdout.contains("interrupted"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn missing_device_and_missing_audio_system_fail_clearly() {
    let _devices = crate::util::devices_lock();
    let run = |args: &[&str], runtime_dir: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_voxlive"));
        c.args(args)
            .env_remove("GEMINI_API_KEY")
            .env_remove("GOOGLE_API_KEY")
            .env("VOXLIVE_DATA_DIR", crate::util::data_dir());
        if let Some(d) = runtime_dir {
            c.env("XDG_RUNTIME_DIR", d).env_remove("PULSE_SERVER");
        }
        c.output().unwrap()
    };
    let check = |o: &std::process::Output, expect: &str| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "should fail: {err}");
        assert!(!err.contains("panicked"), "{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("voxlive: error:"))
            .unwrap_or_else(|| panic!("no error line: {err}"));
        assert!(
            line.to_lowercase().contains(expect),
            "{line:?} should mention {expect:?}"
        );
    };
    if audio_server_running() {
        let o = run(&["--input-device", "no-such-microphone-xyz", "--duration", "2"], None);
        check(&o, "no-such-microphone-xyz");
        let o = run(&["--output-device", "999", "--duration", "2"], None);
        check(&o, "999");
    }
    // No audio server reachable: ALSA's default device (routed to PulseAudio) cannot open.
    let o = run(&["--duration", "2"], Some("/nonexistent-voxlive-runtime"));
    check(&o, "input");
}
