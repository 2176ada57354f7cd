//! The echo canceller's tests: simulated rooms (delayed, attenuated echoes with reflections and noise) run
//! through [`EchoCanceller`] in lockstep, as the DSP loop drives it. The helpers are shared with the engine's
//! tests.

use super::super::framing::{to_f32, to_i16};
use super::super::vad::{VadConfig, VadState, VoiceDetector};
use super::*;

const RATE: usize = UPLINK_RATE as usize;

/// A sample from models/samples as f32 (all are 16 kHz mono 16-bit).
pub fn sample(name: &str) -> Vec<f32> {
    let path = format!("{}/models/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(r.spec().sample_rate, UPLINK_RATE);
    r.samples::<i16>().map(|s| to_f32(s.unwrap())).collect()
}

/// The assistant's reply: two spoken sentences with a short pause, ~6.6 s.
pub fn reply() -> Vec<f32> {
    let mut v = sample("what_time_tokyo_16k.wav");
    v.extend(std::iter::repeat_n(0.0, RATE / 5));
    v.extend(sample("kyoto_trip_16k.wav"));
    v
}

/// What the microphone hears of `render` in a room: `delay_ms` late, `gain` (a direct path plus two
/// weaker reflections), plus low noise at about -60 dBFS.
pub fn room_echo(render: &[f32], delay_ms: usize, gain: f32) -> Vec<f32> {
    let d = delay_ms * RATE / 1000;
    let taps = [(d, gain), (d + 37, -0.4 * gain), (d + 161, 0.2 * gain)];
    let mut seed = 0x2545_f491_u32;
    (0..render.len())
        .map(|i| {
            let echo: f32 = taps
                .iter()
                .filter(|(t, _)| i >= *t)
                .map(|&(t, g)| g * render[i - t])
                .sum();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            echo + 0.001 * (seed as f32 / u32::MAX as f32 - 0.5) * 3.46
        })
        .collect()
}

/// Runs render and capture in lockstep, 20 ms at a time, as the DSP thread does; returns the output.
pub fn cancel(aec: Option<&mut EchoCanceller>, render: &[f32], capture: &[f32]) -> Vec<f32> {
    let mut aec = aec;
    let mut out = Vec::with_capacity(capture.len());
    for (r, c) in render.chunks(FRAME_SAMPLES).zip(capture.chunks_exact(FRAME_SAMPLES)) {
        let mut frame: Frame = [0; FRAME_SAMPLES];
        for (d, &s) in frame.iter_mut().zip(c) {
            *d = to_i16(s);
        }
        if let Some(a) = aec.as_deref_mut() {
            a.render(r);
            a.process(&mut frame);
        }
        out.extend(frame.iter().map(|&s| to_f32(s)));
    }
    out
}

pub fn energy_db(x: &[f32]) -> f32 {
    10.0 * (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32 + 1e-12).log10()
}

#[test]
fn echo_of_the_reply_is_removed() {
    let render = reply();
    let capture = room_echo(&render, 40, 0.5);
    let mut aec = EchoCanceller::new();
    let out = cancel(Some(&mut aec), &render, &capture);
    // after ~1 s of convergence
    let (before, after) = (energy_db(&capture[RATE..]), energy_db(&out[RATE..]));
    let m = aec.metrics();
    eprintln!(
        "40 ms echo: {before:.1} dB -> {after:.1} dB ({:.1} dB removed), {m:?}",
        before - after
    );
    assert!(
        before - after >= 15.0,
        "echo {before:.1} dB -> {after:.1} dB: only {:.1} dB removed ({m:?})",
        before - after
    );
}

#[test]
fn a_silent_speaker_pauses_aec3_and_the_next_reply_resumes_it() {
    // 3 s of nothing played (AEC3 pauses after 2 s), then the reply and its echo
    let silence = 3 * RATE;
    let mut render = vec![0.0f32; silence];
    render.extend(reply());
    let capture = room_echo(&render, 40, 0.5);
    let mut aec = EchoCanceller::new();
    let out = cancel(Some(&mut aec), &render, &capture);
    let m = aec.metrics();
    // paused for the third second (50 frames) and the reply's leading digital silence (about 100 ms),
    // never inside the reply
    assert!((50..=60).contains(&m.idle_frames), "{m:?}");
    assert!(!aec.idle(), "the reply resumed AEC3");
    // while paused the microphone (its noise) passes through, 8 ms late, not silenced; the reply's echo
    // is removed as well as with no pause before it
    passed_through_then_removed(&out, &capture, 2 * RATE + RATE / 10..silence, -80.0, silence + RATE);
}

/// `out[quiet]` (what the microphone heard while AEC3 did nothing) passed through, louder than
/// `floor_db`, not silenced; and from `from` on, the echo is removed by at least 15 dB.
fn passed_through_then_removed(
    out: &[f32],
    capture: &[f32],
    quiet: std::ops::Range<usize>,
    floor_db: f32,
    from: usize,
) {
    let level = energy_db(&out[quiet]);
    assert!(level > floor_db, "passed through: {level:.1} dB");
    let removed = energy_db(&capture[from..]) - energy_db(&out[from..]);
    eprintln!("after AEC3 did nothing: {removed:.1} dB removed");
    assert!(removed >= 15.0, "only {removed:.1} dB removed after AEC3 did nothing");
}

#[test]
fn aec3_rests_through_a_reply_the_microphone_cannot_hear_and_wakes_for_the_next_with_echo() {
    // a reply into a headset (the microphone hears only its own noise, -80 dBFS), 1.5 s of nothing,
    // then a reply with a room's echo
    let first = reply();
    let gap = 3 * RATE / 2;
    let mut render = first.clone();
    render.extend(std::iter::repeat_n(0.0, gap));
    let second_at = render.len();
    render.extend(reply());
    let mut capture: Vec<f32> = room_echo(&render[..second_at], 40, 0.0)
        .iter()
        .map(|n| n * 0.1)
        .collect();
    capture.extend(room_echo(&render, 40, 0.5)[second_at..].iter());
    let mut aec = EchoCanceller::new();
    let out = cancel(Some(&mut aec), &render, &capture);
    let m = aec.metrics();
    let reply_frames = (first.len() / FRAME_SAMPLES) as u64;
    eprintln!("no echo path, then one: {m:?}, {reply_frames} frames in the first reply");
    // ruled out within 40 frames (measured: 24), then resting to the reply's end and through the
    // silence after it, until the second reply's first sound
    let gap_frames = (gap / FRAME_SAMPLES) as u64;
    assert!(m.no_path_frames >= reply_frames + gap_frames - 40, "{m:?}");
    assert!(!aec.resting(), "the second reply, with an echo, woke AEC3");
    // what the headset microphone heard passed through, not silenced; the echo of the second reply is
    // removed as well as with no rest before it
    passed_through_then_removed(&out, &capture, 2 * RATE..first.len(), -90.0, second_at + RATE);
}

#[test]
fn aec3_never_rests_over_a_real_echo_path() {
    for (delay, gain) in [(20, 0.5), (120, 0.3), (250, 0.1)] {
        let render = reply();
        let capture = room_echo(&render, delay, gain);
        let mut aec = EchoCanceller::new();
        cancel(Some(&mut aec), &render, &capture);
        let m = aec.metrics();
        assert_eq!(m.no_path_frames, 0, "{delay} ms, gain {gain}: {m:?}");
    }
}

#[test]
fn echo_is_removed_at_a_longer_delay_too() {
    let render = reply();
    let capture = room_echo(&render, 120, 0.3);
    let mut aec = EchoCanceller::new();
    let out = cancel(Some(&mut aec), &render, &capture);
    let removed = energy_db(&capture[RATE..]) - energy_db(&out[RATE..]);
    eprintln!("120 ms echo: {removed:.1} dB removed, {:?}", aec.metrics());
    assert!(removed >= 15.0, "only {removed:.1} dB removed at 120 ms");
}

/// The user starts talking over the reply here (2 s in).
const TALK_START: usize = 2 * RATE;

/// The user says a sentence over `render` from [`TALK_START`], into a microphone that hears `background`
/// (the echo, or nothing): how much the near-end speech changed through `aec`, over the whole sentence
/// and over its first 500 ms (dB).
fn talk_over(aec: &mut EchoCanceller, render: &[f32], background: &[f32]) -> (f32, f32) {
    let near = sample("joke_computers_16k.wav");
    let start = TALK_START;
    let mut capture = background.to_vec();
    for (c, &n) in capture[start..].iter_mut().zip(&near) {
        *c += n;
    }
    let out = cancel(Some(aec), render, &capture);
    let end = start + near.len().min(out.len() - start - AEC_DELAY);
    let kept = energy_db(&out[start + AEC_DELAY..end + AEC_DELAY]) - energy_db(&near[..end - start]);
    let first = energy_db(&out[start + AEC_DELAY..start + AEC_DELAY + RATE / 2]) - energy_db(&near[..RATE / 2]);
    (kept, first)
}

#[test]
fn near_end_speech_survives_a_reply_with_no_echo_path() {
    // a headset, or virtual devices: the reply plays, the microphone hears nothing of it (digital
    // silence), then the user talks over it
    let render = reply();
    let silent = vec![0.0f32; render.len()];
    let mut aec = EchoCanceller::new();
    let (kept, first) = talk_over(&mut aec, &render, &silent);
    eprintln!(
        "no echo path: near-end changed by {kept:.1} dB, first 500 ms by {first:.1} dB, {:?}",
        aec.metrics()
    );
    assert!(
        kept.abs() <= 6.0 && first.abs() <= 6.0,
        "near-end changed by {kept:.1} dB ({first:.1} dB in its first 500 ms)"
    );
}

#[test]
fn near_end_speech_survives_double_talk() {
    let render = reply();
    let echo = room_echo(&render, 40, 0.5);
    let mut aec = EchoCanceller::new();
    let (kept, _) = talk_over(&mut aec, &render, &echo);
    let (start, near) = (TALK_START, sample("joke_computers_16k.wav"));
    let end = start + near.len().min(render.len() - start - AEC_DELAY);
    let echo_level = energy_db(&echo[start..end]) - energy_db(&near[..end - start]);
    eprintln!("double talk: near-end changed by {kept:.1} dB (echo {echo_level:.1} dB relative to it)");
    assert!(
        kept.abs() <= 6.0,
        "near-end speech changed by {kept:.1} dB during double talk (echo at {echo_level:.1} dB relative)"
    );
}

#[test]
fn vad_ignores_cancelled_echo() {
    let render = reply();
    let capture = room_echo(&render, 40, 0.5);
    let speech_frames = |out: &[f32]| {
        let mut vad = VoiceDetector::new(VadConfig::default());
        let mut pre = Vec::new();
        let mut speech = 0;
        // skip the first second (convergence)
        for c in out[RATE..].chunks_exact(FRAME_SAMPLES) {
            let mut frame: Frame = [0; FRAME_SAMPLES];
            for (d, &s) in frame.iter_mut().zip(c) {
                *d = to_i16(s);
            }
            if vad.process(&frame, &mut pre).0 == VadState::Speech {
                speech += 1;
            }
            pre.clear();
        }
        speech
    };
    let total = (capture.len() - RATE) / FRAME_SAMPLES;
    let raw = speech_frames(&cancel(None, &render, &capture));
    let cleaned = speech_frames(&cancel(Some(&mut EchoCanceller::new()), &render, &capture));
    eprintln!("VAD speech frames on echo only: {raw}/{total} without AEC, {cleaned}/{total} with");
    assert!(
        raw * 2 >= total,
        "without AEC the echo should look like speech: {raw}/{total}"
    );
    assert!(
        cleaned * 10 <= total,
        "after AEC the VAD still calls {cleaned}/{total} frames speech (without: {raw})"
    );
}

#[test]
fn silence_in_silence_out_and_no_reference_passes_speech() {
    let mut aec = EchoCanceller::new();
    let mut frame: Frame = [0; FRAME_SAMPLES];
    aec.render(&[0.0; FRAME_SAMPLES]);
    aec.process(&mut frame);
    assert!(frame.iter().all(|&s| s.abs() <= 1));
    // the user speaking while nothing plays comes through (after the high-pass and 8 ms of delay)
    let near = sample("joke_computers_16k.wav");
    let silence = vec![0.0; near.len()];
    let out = cancel(Some(&mut EchoCanceller::new()), &silence, &near);
    let changed = energy_db(&out) - energy_db(&near[..out.len()]);
    eprintln!("near-end alone: changed by {changed:.1} dB");
    assert!(changed.abs() < 1.5, "speech without echo changed by {changed:.1} dB");
}
