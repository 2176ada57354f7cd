//! End to end through real devices: a spoken question is played into the PulseAudio virtual microphone,
//! `voxlive` (default mode, embedded echo server) captures it, the server answers, voxlive plays the answer
//! to the virtual speaker, and the test records the speaker's monitor and finds the answer in it by
//! correlation with the question, checking its level and that it follows the question.
//! Needs `source scripts/virtual-audio.sh start` (scripts/test.sh and CI do it); without an audio server the
//! test fails unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::sample;

const RATE: usize = 16_000;

fn audio_server_running() -> bool {
    let up = Command::new("pactl")
        .arg("info")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !up {
        assert!(
            std::env::var("VOXLIVE_SKIP_DEVICE_TESTS").as_deref() == Ok("1"),
            "no PulseAudio server: run `source scripts/virtual-audio.sh start` first (or set VOXLIVE_SKIP_DEVICE_TESTS=1)"
        );
    }
    up
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// RMS envelope in 10 ms windows.
fn envelope(x: &[i16]) -> Vec<f64> {
    x.chunks(RATE / 100)
        .map(|w| (w.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt())
        .collect()
}

/// Normalised correlation of `needle` against `hay` at offset `lag` (both zero-mean over the window).
fn ncc(hay: &[f64], needle: &[f64], lag: usize) -> f64 {
    let h = &hay[lag..lag + needle.len()];
    let (mh, mn) = (
        h.iter().sum::<f64>() / h.len() as f64,
        needle.iter().sum::<f64>() / needle.len() as f64,
    );
    let (mut num, mut dh, mut dn) = (0.0, 0.0, 0.0);
    for (a, b) in h.iter().zip(needle) {
        num += (a - mh) * (b - mn);
        dh += (a - mh).powi(2);
        dn += (b - mn).powi(2);
    }
    if dh == 0.0 || dn == 0.0 {
        0.0
    } else {
        num / (dh * dn).sqrt()
    }
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[test]
fn spoken_question_is_answered_through_the_virtual_speaker() {
    let _devices = crate::util::devices_lock();
    if !audio_server_running() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("voxlive-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let speaker_raw = dir.join("speaker.raw");
    let question_path = sample("what_time_tokyo_16k.wav");
    let (question, _) = voxlive::wav::read_pcm16(&question_path, RATE as u32).unwrap();

    // Record what the virtual speaker plays, from before voxlive starts.
    let recorder = Command::new("pacat")
        .args([
            "--record",
            "-d",
            "vox_speaker.monitor",
            "--format=s16le",
            "--rate=16000",
            "--channels=1",
            "--raw",
        ])
        .stdout(std::fs::File::create(&speaker_raw).unwrap())
        .spawn()
        .expect("pacat runs");
    let recorder = Killed(recorder);
    let record_started = Instant::now();

    let mut voxlive = Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .args(["--duration", "12", "--stats", "--record"])
        .arg(dir.join("rec"))
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voxlive runs");
    let stdout = voxlive.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
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
    rx.recv_timeout(Duration::from_secs(30))
        .expect("voxlive starts listening");
    // Give the capture stream a moment past its start-up burst, then speak.
    std::thread::sleep(Duration::from_millis(500));
    let question_at = record_started.elapsed();
    let played = Command::new("paplay")
        .args(["-d", "vox_mic_feed"])
        .arg(&question_path)
        .status()
        .unwrap();
    assert!(played.success(), "paplay into the virtual microphone failed");

    let status = voxlive.wait().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(voxlive.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    drop(recorder);
    assert!(status.success(), "voxlive failed: {stderr}\n{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("you: "), "a turn was taken: {stdout}");
    assert!(stdout.contains("underruns"), "--stats printed: {stdout}");

    let bytes = std::fs::read(&speaker_raw).unwrap();
    let speaker = voxlive::protocol::codec::pcm16_from_bytes(&bytes);
    assert!(
        speaker.len() > RATE * 5,
        "the speaker monitor recorded {} samples",
        speaker.len()
    );

    // Where in the recording does the question's loudness contour come back?
    let (env_s, env_q) = (envelope(&speaker), envelope(&question));
    let (best_lag, best) = (0..env_s.len().saturating_sub(env_q.len()))
        .map(|lag| (lag, ncc(&env_s, &env_q, lag)))
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let answer_at = Duration::from_millis(best_lag as u64 * 10);
    eprintln!("answer found at {answer_at:?} (question played at {question_at:?}), envelope correlation {best:.3}");
    assert!(
        best > 0.8,
        "the answer's loudness contour does not match the question (best {best:.3})"
    );
    assert!(
        answer_at > question_at,
        "the answer ({answer_at:?}) cannot precede the question ({question_at:?})"
    );

    // The waveform itself, near that lag: an echo of the question, not just something as loud.
    let start = best_lag * RATE / 100;
    let search = RATE / 50;
    let q: Vec<f64> = question.iter().map(|&s| s as f64).collect();
    let s: Vec<f64> = speaker.iter().map(|&s| s as f64).collect();
    let from = start.saturating_sub(search);
    let to = (start + search).min(s.len().saturating_sub(q.len()));
    let fine = (from..to).map(|lag| ncc(&s, &q, lag)).fold(f64::MIN, f64::max);
    assert!(
        fine > 0.6,
        "waveform correlation with the question is only {fine:.3}\n{stdout}"
    );

    // Level: the answer plays back at the question's level (within 6 dB).
    let seg = &speaker[start..(start + question.len()).min(speaker.len())];
    let db = 20.0 * (rms(seg) / rms(&question)).log10();
    assert!(db.abs() < 6.0, "answer level differs from the question by {db:.1} dB");

    let rec = std::fs::read_dir(dir.join("rec")).map(|d| d.count()).unwrap_or(0);
    assert!(rec >= 2, "--record wrote the microphone and speaker WAVs");
}

#[test]
fn missing_device_and_missing_audio_system_fail_clearly() {
    let _devices = crate::util::devices_lock();
    let run = |args: &[&str], runtime_dir: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_voxlive"));
        c.args(args).env_remove("GEMINI_API_KEY").env_remove("GOOGLE_API_KEY");
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
