//! The audio core on real devices: cpal streams through a PulseAudio server (on CI and headless machines the
//! virtual devices of `scripts/virtual-audio.sh` / `virtual-devices.sh`: speaker `vox_speaker`, microphone
//! `vox_mic`). A tone goes through the engine's Player to the speaker, and the capture stream records the
//! speaker's monitor (libpulse honours `PULSE_SOURCE` behind ALSA's default device), so the tone must come
//! back through the uplink: real streams both ways, no mocks.
//!
//! With no audio server these tests FAIL with a clear message, unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::time::{Duration, Instant};

use voxlive::audio::{list_devices, AudioConfig, AudioEngine};

fn skipped(test: &str) -> bool {
    let skip = std::env::var("VOXLIVE_SKIP_DEVICE_TESTS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{test}: skipped (VOXLIVE_SKIP_DEVICE_TESTS=1)");
    }
    skip
}

const NO_SERVER: &str = "no audio server reachable. Start one (`source scripts/virtual-audio.sh start`, which also \
exports XDG_RUNTIME_DIR) or set VOXLIVE_SKIP_DEVICE_TESTS=1 to skip the device tests";

#[test]
fn devices_are_listed() {
    if skipped("devices_are_listed") {
        return;
    }
    let report = list_devices().unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let text = report.to_string();
    assert!(
        report
            .hosts
            .iter()
            .any(|h| !h.inputs.is_empty() && !h.outputs.is_empty()),
        "{NO_SERVER}:\n{text}"
    );
    assert!(text.contains("inputs:") && text.contains("outputs:"));
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[test]
fn tone_played_to_the_speaker_comes_back_through_capture() {
    if skipped("tone_played_to_the_speaker_comes_back_through_capture") {
        return;
    }
    // Only this test opens devices in this binary, so setting the variable is not racing another test's use.
    std::env::set_var("PULSE_SOURCE", "vox_speaker.monitor");
    let (engine, mut rx) = AudioEngine::start(AudioConfig::default()).unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let started = Instant::now();
    while engine.stats().input_callbacks == 0 || engine.stats().output_callbacks == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{NO_SERVER}: streams opened but never ran: {}",
            engine.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // 1.5 s of 1 kHz at -10 dBFS, 24 kHz as the Live API sends it
    let amp = 0.316f32;
    let tone: Vec<i16> = (0..36_000)
        .map(|i| (amp * 32767.0 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 24_000.0).sin()) as i16)
        .collect();
    engine
        .player()
        .play(tone, Instant::now())
        .unwrap_or_else(|e| panic!("play: {e}"));
    // per loud frame: is 1 kHz the strongest DFT bin (50 Hz bins, 300..2000 Hz), and how loud is it
    let mut loud = 0;
    let mut at_1k = 0;
    let mut levels = Vec::new();
    let mut frames = 0;
    while frames < 250 {
        let Some(frame) = rx.blocking_recv() else {
            panic!("uplink closed: {:?}", engine.failure())
        };
        frames += 1;
        let x: Vec<f32> = frame.samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let level = rms(&x);
        if level > amp / 4.0 {
            loud += 1;
            levels.push(level);
            if dominant_bin(&x) == 20 {
                at_1k += 1;
            }
        }
    }
    let stats = engine.stats();
    engine.stop();
    eprintln!("{stats}");
    // 1.5 s is 75 frames; a loaded machine may glitch a few (cpal's ALSA buffer is only two periods)
    assert!(
        loud >= 50,
        "only {loud} loud frames came back: is capture recording vox_speaker.monitor? {stats}"
    );
    assert!(
        at_1k * 10 >= loud * 8,
        "1 kHz dominated only {at_1k} of {loud} loud frames: {stats}"
    );
    levels.sort_by(f32::total_cmp);
    let db = 20.0 * (levels[levels.len() / 2] / (amp / 2f32.sqrt())).log10();
    assert!(db.abs() < 1.0, "tone came back {db:.2} dB off (median frame)");
}

/// Index of the strongest DFT bin of a 320-sample frame among bins 6..=40 (300..2000 Hz at 16 kHz).
fn dominant_bin(x: &[f32]) -> usize {
    let n = x.len() as f32;
    let power = |k: usize| {
        let w = 2.0 * std::f32::consts::PI * k as f32 / n;
        let (re, im) = x.iter().enumerate().fold((0.0f32, 0.0f32), |(re, im), (i, &s)| {
            (re + s * (w * i as f32).cos(), im - s * (w * i as f32).sin())
        });
        re * re + im * im
    };
    (6..=40).max_by(|&a, &b| power(a).total_cmp(&power(b))).unwrap_or(0)
}
