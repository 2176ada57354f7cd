//! A real echo path on the PulseAudio virtual devices: `scripts/virtual-audio.sh echo-path on DELAY LEVEL`
//! loops what the virtual speaker plays back into the virtual microphone (module-loopback: tens of ms late,
//! quieter, adaptively resampled, so with a small real clock drift). One spoken question to the embedded echo
//! server must give exactly one answered turn, played to its end (no self-interruption), and a real voice over
//! the reply must still barge in. ERLE is measured from `--record`'s microphone before and after AEC.
//!
//! Needs `source scripts/virtual-audio.sh start` (scripts/test.sh and CI do it); without an audio server the
//! tests fail unless VOXLIVE_SKIP_DEVICE_TESTS=1. A failing run keeps its directory (recordings, and the echo
//! gate's per-frame trace in `stderr`). `echo_path_matrix` (ignored: about two minutes) prints
//! turns and ERLE for more delays and levels, with AEC on and off.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::util::sample;

const RATE: usize = 16_000;
/// 20 ms analysis blocks at 16 kHz.
const BLOCK: usize = RATE / 50;
/// A 20 ms block louder than this (RMS, full scale 32768) counts as voiced: -46 dBFS.
const VOICED_RMS: f64 = 164.0;

fn audio_server_running() -> bool {
    let up = Command::new("pactl")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !up {
        assert!(
            std::env::var("VOXLIVE_SKIP_DEVICE_TESTS").as_deref() == Ok("1"),
            "no PulseAudio server: run `source scripts/virtual-audio.sh start` first (or set VOXLIVE_SKIP_DEVICE_TESTS=1)"
        );
    }
    up
}

/// Runs `scripts/virtual-audio.sh ARGS` against the server this test talks to.
fn virtual_audio(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/virtual-audio.sh");
    let mut c = Command::new("bash");
    c.arg(script).args(args);
    if let Ok(dir) = std::env::var("XDG_RUNTIME_DIR") {
        c.env("VOXLIVE_AUDIO_RUNTIME_DIR", dir);
    }
    let o = c.output().expect("bash runs");
    assert!(
        o.status.success(),
        "virtual-audio.sh {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The echo path for as long as it lives.
struct EchoPath;
impl EchoPath {
    fn on(delay_ms: u32, level_db: i32) -> EchoPath {
        virtual_audio(&["echo-path", "on", &delay_ms.to_string(), &level_db.to_string()]);
        EchoPath
    }
}
impl Drop for EchoPath {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| virtual_audio(&["echo-path", "off"]));
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory of this test run, removed at the end.
#[derive(Debug)]
struct Scratch(PathBuf);
impl Scratch {
    fn new(name: &str) -> Scratch {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("voxlive-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("VOXLIVE_ECHO_KEEP").is_some() {
            eprintln!("kept for a look: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `voxlive` in live mode against the embedded echo server, its stdout as lines on a channel.
struct Live {
    child: Killed,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Live {
    fn start(dir: &Path, secs: u32, aec: bool) -> Live {
        // VOXLIVE_ECHO_BIN: measure another build (e.g. one from before a change) with the same harness
        let bin = std::env::var("VOXLIVE_ECHO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_voxlive").into());
        let mut c = Command::new(bin);
        c.args(["--duration", &secs.to_string(), "--stats", "--record"])
            .arg(dir.join("rec"))
            .env_remove("GEMINI_API_KEY")
            .env_remove("GOOGLE_API_KEY")
            .env("XDG_CONFIG_HOME", dir.join("no-config"))
            .env("VOXLIVE_DATA_DIR", dir.join("data"))
            .env("RUST_LOG", "voxlive::audio::aec=trace")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
        if !aec {
            c.arg("--no-aec");
        }
        let mut child = c.spawn().expect("voxlive runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut live = Live {
            child: Killed(child),
            lines,
            seen: Vec::new(),
        };
        live.wait_for("listening", Duration::from_secs(30));
        live
    }

    /// Waits for a line containing `what`; panics with everything seen at the deadline.
    fn wait_for(&mut self, what: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(_) => panic!("no {what:?} line in time; voxlive said:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for voxlive to end (its --duration, the window in which extra turns would show) and returns
    /// everything it printed.
    fn finish(mut self) -> String {
        self.wait_for("session: ", Duration::from_secs(60));
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(l);
        }
        let _ = self.child.0.wait();
        self.seen.join("\n")
    }
}

/// The lengths of the user turns the server took, from the input transcripts "(2.2 s of speech)". Counted
/// from the transcripts, not from `session: N turns`: a reply cut by a (self-)interruption never completes,
/// so its turn is missing from that count while the server did answer it.
fn turns_taken(stdout: &str) -> Vec<f64> {
    stdout
        .split('(')
        .filter_map(|t| t.split_once(" s of speech)"))
        .filter_map(|(secs, _)| secs.parse().ok())
        .collect()
}

/// AEC3's measured echo removal, from the canceller's last debug line in voxlive's log.
fn aec3_erle(dir: &Path) -> Option<f64> {
    let log = std::fs::read_to_string(dir.join("stderr")).ok()?;
    let line = log.lines().rev().find(|l| l.contains("measured_erle_db="))?;
    line.split("measured_erle_db=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn play_into_microphone(name: &str) -> Child {
    Command::new("paplay")
        .args(["-d", "vox_mic_feed"])
        .arg(sample(name))
        .spawn()
        .expect("paplay runs")
}

fn wav(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.samples::<i16>().map(|s| s.unwrap()).collect()
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
}

/// Indices of the voiced 20 ms blocks of 16 kHz audio.
fn voiced_blocks(x: &[i16]) -> Vec<usize> {
    x.chunks_exact(BLOCK)
        .enumerate()
        .filter(|(_, b)| (energy(b) / BLOCK as f64).sqrt() > VOICED_RMS)
        .map(|(i, _)| i)
        .collect()
}

/// What one run did.
#[derive(Debug)]
struct Outcome {
    /// Lengths (s) of the user turns the server answered.
    turns: Vec<f64>,
    /// Voiced 20 ms blocks the speaker played, over those of what the test said: 1.0 = the replies played out.
    played: f64,
    /// Echo removed on the uplink while the speaker played (dB; AEC3 and the gate), from `--record`'s
    /// microphone before and after AEC, 1 LSB per sample floor.
    uplink_erle_db: f64,
    /// AEC3's part of it (dB), as the canceller measured it, when AEC is on.
    aec3_erle_db: Option<f64>,
    stdout: String,
    /// The run's files (kept when an assertion on them fails).
    _scratch: Scratch,
}

/// ERLE over the blocks from the first voiced speaker block to 300 ms past the last one (where the echo
/// is), or past `until` (the end of the first reply, when the test spoke over the second).
fn erle(speaker_16k: &[i16], raw: &[i16], clean: &[i16], until: Option<usize>) -> f64 {
    let voiced = voiced_blocks(speaker_16k);
    let (Some(&first), Some(&last)) = (voiced.first(), voiced.last()) else {
        return 0.0;
    };
    let end = (until.unwrap_or(last) + 15).min(raw.len().min(clean.len()) / BLOCK);
    let (from, to) = (first * BLOCK, end.max(first) * BLOCK);
    // floor: one LSB of noise on every sample, so digital silence after AEC reads as a large finite number
    let floor = (to - from) as f64;
    10.0 * ((energy(&raw[from..to]) + floor) / (energy(&clean[from..to]) + floor)).log10()
}

/// The speaker recording (24 kHz) taken to 16 kHz by picking samples (enough for levels).
fn speaker_16k(rec: &Path) -> Vec<i16> {
    let x = wav(&rec.join("speaker-24k.wav"));
    (0..x.len() * 2 / 3).map(|j| x[j * 3 / 2]).collect()
}

/// Streams what the virtual speaker plays and reports when it has been voiced for 200 ms in a row.
fn speaker_watch() -> (Killed, Receiver<()>) {
    let mut rec = Command::new("pacat")
        .args([
            "--record",
            "-d",
            "vox_speaker.monitor",
            "--format=s16le",
            "--rate=16000",
            "--channels=1",
        ])
        .args(["--raw", "--latency-msec=20"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("pacat runs");
    let mut out = rec.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut bytes = [0u8; BLOCK * 2];
        let mut run = 0;
        while std::io::Read::read_exact(&mut out, &mut bytes).is_ok() {
            let block = voxlive::protocol::codec::pcm16_from_bytes(&bytes);
            run = if (energy(&block) / BLOCK as f64).sqrt() > VOICED_RMS {
                run + 1
            } else {
                0
            };
            if run == 10 && tx.send(()).is_err() {
                break;
            }
        }
    });
    (Killed(rec), rx)
}

/// Voiced 20 ms blocks of a shipped sample.
fn sample_voiced(name: &str) -> usize {
    let (x, _) = voxlive::wav::read_pcm16(&sample(name), RATE as u32).unwrap();
    voiced_blocks(&x).len()
}

const QUESTION: &str = "what_time_tokyo_16k.wav";
const LONG_QUESTION: &str = "kyoto_trip_16k.wav";
const INTERRUPTION: &str = "joke_computers_16k.wav";

/// One question (and, with `barge_in`, a second utterance over the start of its reply) through the echo
/// path `echo` (delay ms, level dB; `None`: no echo path).
fn run(echo: Option<(u32, i32)>, aec: bool, barge_in: bool) -> Outcome {
    let scratch = Scratch::new("echo-path");
    let _path = echo.map(|(d, l)| EchoPath::on(d, l));
    let live = Live::start(&scratch.0, if barge_in { 16 } else { 10 }, aec);
    let question = if barge_in { LONG_QUESTION } else { QUESTION };
    let (watch, loud) = speaker_watch();
    let mut q = play_into_microphone(question);
    assert!(q.wait().unwrap().success(), "paplay into the virtual microphone failed");
    let mut expected = sample_voiced(question);
    if barge_in {
        loud.recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("the reply never played; voxlive said:\n{}", live.seen.join("\n")));
        let mut i = play_into_microphone(INTERRUPTION);
        assert!(i.wait().unwrap().success(), "paplay into the virtual microphone failed");
        expected += sample_voiced(INTERRUPTION);
    }
    drop(watch);
    let stdout = live.finish();
    let rec = scratch.0.join("rec");
    let speaker = speaker_16k(&rec);
    let (raw, clean) = (wav(&rec.join("mic-raw-16k.wav")), wav(&rec.join("mic-16k.wav")));
    Outcome {
        turns: turns_taken(&stdout),
        played: voiced_blocks(&speaker).len() as f64 / expected as f64,
        uplink_erle_db: erle(
            &speaker,
            &raw,
            &clean,
            if barge_in { first_reply(&speaker) } else { None },
        ),
        aec3_erle_db: if aec { aec3_erle(&scratch.0) } else { None },
        stdout,
        _scratch: scratch,
    }
}

/// With a barge-in, the ERLE window ends where the first reply does (the interruption follows it).
fn first_reply(speaker_16k: &[i16]) -> Option<usize> {
    let voiced = voiced_blocks(speaker_16k);
    voiced.windows(2).find(|w| w[1] - w[0] > 25).map(|w| w[0])
}

fn report(what: &str, o: &Outcome) {
    let aec3 = o.aec3_erle_db.map_or_else(|| "-".into(), |e| format!("{e:.1} dB"));
    eprintln!(
        "{what}: {} turn(s) {:?}, replies played {:.0}%, uplink ERLE {:.1} dB, AEC3 ERLE {aec3}",
        o.turns.len(),
        o.turns,
        o.played * 100.0,
        o.uplink_erle_db
    );
}

/// One question, one turn, the reply played out: the echo of the reply neither interrupts it nor becomes a
/// turn of its own.
fn one_question_one_turn(delay_ms: u32, level_db: i32) {
    let o = run(Some((delay_ms, level_db)), true, false);
    report(&format!("echo path {delay_ms} ms {level_db} dB, AEC on"), &o);
    assert_eq!(
        o.turns.len(),
        1,
        "one question must be one turn; voxlive said:\n{}",
        o.stdout
    );
    assert!(
        o.played > 0.85,
        "the reply was cut ({:.0}% of it played): it interrupted itself; voxlive said:\n{}",
        o.played * 100.0,
        o.stdout
    );
    assert!(
        o.uplink_erle_db > 30.0,
        "only {:.1} dB of echo removed",
        o.uplink_erle_db
    );
}

#[test]
fn one_question_is_one_turn_over_a_short_loud_echo_path() {
    let _devices = crate::util::devices_lock();
    if audio_server_running() {
        one_question_one_turn(20, -6);
    }
}

#[test]
fn one_question_is_one_turn_over_a_long_echo_path() {
    let _devices = crate::util::devices_lock();
    if audio_server_running() {
        one_question_one_turn(120, -6);
    }
}

#[test]
fn one_question_is_one_turn_over_a_quieter_echo_path() {
    let _devices = crate::util::devices_lock();
    if audio_server_running() {
        one_question_one_turn(60, -12);
    }
}

/// A real voice over the reply still barges in: the reply stops, and what the user said is a turn.
#[test]
fn a_voice_over_the_reply_still_barges_in() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let o = run(Some((60, -6)), true, true);
    report("barge-in over a 60 ms -6 dB echo path", &o);
    let (interruption, _) = voxlive::wav::read_pcm16(&sample(INTERRUPTION), RATE as u32).unwrap();
    let secs = interruption.len() as f64 / RATE as f64;
    assert_eq!(
        o.turns.len(),
        2,
        "the question and the interruption; voxlive said:\n{}",
        o.stdout
    );
    // the gate may hold back the first few hundred ms of a voice over the reply while the contour still
    // follows the speaker (measured: the 2.5 s interruption became a 1.5-2.8 s turn): most of it must pass
    assert!(
        o.turns[1] >= secs * 0.5,
        "the second turn ({:.1} s) should hold most of the interruption ({secs:.1} s)",
        o.turns[1]
    );
    // the first reply stopped early: less played than the question and the interruption together
    let question =
        sample_voiced(LONG_QUESTION) as f64 / (sample_voiced(LONG_QUESTION) + sample_voiced(INTERRUPTION)) as f64;
    assert!(
        o.played < 1.0 - question * 0.3,
        "the reply did not stop when the user spoke over it ({:.0}% played)",
        o.played * 100.0
    );
}

/// Turns and ERLE over more delays and levels, AEC on and off (about two minutes):
/// `cargo test --release --test tests echo_path_matrix -- --ignored --nocapture`
#[test]
#[ignore]
fn echo_path_matrix() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    for (delay, level) in [
        (20, 0),
        (60, 0),
        (20, -6),
        (60, -6),
        (120, -6),
        (20, -12),
        (60, -12),
        (120, -12),
    ] {
        for aec in [true, false] {
            let o = run(Some((delay, level)), aec, false);
            report(
                &format!("{delay:>3} ms {level:>3} dB AEC {}", if aec { "on " } else { "off" }),
                &o,
            );
        }
    }
}
