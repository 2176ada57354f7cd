//! The whole engine on generator sources and clock sinks: the real DSP thread, channels and stages, no device.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::resample::tests::{rms, zero_cross_freq};
use super::*;

fn fmt(rate: u32, ch: u16) -> StreamFormat {
    StreamFormat {
        sample_rate: rate,
        channels: ch,
    }
}

fn sink(rate: u32, ch: u16) -> (ClockSink, Arc<Mutex<Vec<f32>>>) {
    ClockSink::new(fmt(rate, ch), Pacing::RealTime, Duration::from_millis(30)).keep()
}

/// Waits for a condition the DSP thread brings about; gives up after `secs` so a broken engine fails the test.
fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn generator_source_becomes_16k_frames_with_the_same_tone() {
    let src = BufferSource::sine(fmt(48_000, 2), 1000.0, 0.5, 1.0, Pacing::AsFastAsPossible);
    // a sink that consumes instantly must not starve the uplink
    let snk = ClockSink::new(fmt(48_000, 2), Pacing::AsFastAsPossible, Duration::from_millis(30));
    let cfg = AudioConfig {
        uplink_capacity: 200,
        ..AudioConfig::default()
    };
    let (engine, mut rx) = AudioEngine::start_with(Box::new(src), Box::new(snk), cfg).unwrap();
    let mut events = engine.events();
    let mut samples = Vec::new();
    while samples.len() < 49 * FRAME_SAMPLES {
        let Some(f) = rx.blocking_recv() else { break };
        assert!(f.produced_at >= f.captured_at);
        samples.extend(f.samples.iter().map(|&s| f32::from(s) / 32768.0));
    }
    assert_eq!(
        samples.len(),
        49 * FRAME_SAMPLES,
        "1 s at 48 kHz gives 49-50 frames of 20 ms"
    );
    let mic = engine.levels().mic_dbfs;
    assert!((-9.0..=-3.0).contains(&mic), "a 0.5 tone peaks near -6 dBFS, got {mic}");
    let body = &samples[1600..samples.len() - 1600];
    assert!((zero_cross_freq(body, 16_000) - 1000.0).abs() < 10.0);
    assert!((20.0 * (rms(body) / (0.5 / 2f32.sqrt())).log10()).abs() < 0.5);
    assert!(wait_until(5, || matches!(
        events.try_recv(),
        Ok(AudioEvent::SourceEnded)
    )));
    assert!(engine.stats().frames >= 49);
    engine.stop();
}

#[test]
fn played_reply_reaches_the_sink_at_device_rate() {
    let silence = BufferSource::new(fmt(48_000, 1), vec![0.0; 48_000 * 5], Pacing::RealTime);
    let (snk, kept) = sink(44_100, 2);
    let (engine, _rx) = AudioEngine::start_with(Box::new(silence), Box::new(snk), AudioConfig::default()).unwrap();
    let player = engine.player();
    let tone: Vec<i16> = (0..12_000)
        .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * 500.0 * i as f32 / 24_000.0).sin()) as i16)
        .collect();
    player.play(tone, Instant::now()).unwrap();
    let audible = |k: &Vec<f32>| k.iter().filter(|s| s.abs() > 0.01).count();
    assert!(
        wait_until(5, || kept.lock().map(|k| audible(&k) > 2 * 20_000).unwrap_or(false)),
        "the reply was not played"
    );
    let stats = engine.stats();
    engine.stop();
    let k = kept.lock().unwrap();
    let left: Vec<f32> = k.chunks_exact(2).map(|f| f[0]).collect();
    let start = left.iter().position(|s| s.abs() > 0.01).unwrap();
    let body = &left[start + 2000..start + 18_000];
    assert!((zero_cross_freq(body, 44_100) - 500.0).abs() < 5.0);
    assert!(
        k.chunks_exact(2).all(|f| f[0] == f[1]),
        "mono reply is copied to both channels"
    );
    assert!(
        stats.latency.iter().any(|s| s.stage == Stage::ReplyToPlayout),
        "{stats}"
    );
}

#[test]
fn flush_on_interrupt_drops_queued_audio() {
    let silence = BufferSource::new(fmt(16_000, 1), vec![0.0; 16_000 * 10], Pacing::RealTime);
    let (snk, kept) = sink(48_000, 1);
    let (engine, _rx) = AudioEngine::start_with(Box::new(silence), Box::new(snk), AudioConfig::default()).unwrap();
    let player = engine.player();
    // 5 s of reply, flushed once it has started playing
    player.play(vec![8000; 120_000], Instant::now()).unwrap();
    let audible = |k: &Vec<f32>| k.iter().filter(|s| s.abs() > 0.01).count();
    assert!(wait_until(5, || kept
        .lock()
        .map(|k| audible(&k) > 4_800)
        .unwrap_or(false)));
    assert!(player.is_playing());
    player.flush();
    player.play(vec![-8000; 2_400], Instant::now()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    let k = kept.lock().unwrap();
    let old = k.iter().filter(|&&s| s > 0.01).count();
    let new = k.iter().filter(|&&s| s < -0.01).count();
    assert!(
        old < 48_000 * 2,
        "{old} samples of the flushed 5 s reply were still played"
    );
    assert!(new >= 4_000, "audio queued after the flush plays ({new} samples)");
}

struct FailingSource;

impl AudioSource for FailingSource {
    fn format(&self) -> StreamFormat {
        fmt(48_000, 1)
    }
    fn read(&mut self, _: &mut [f32]) -> Result<SourceRead, AudioError> {
        Err(AudioError::DeviceLost {
            direction: Direction::Input,
            reason: "unplugged".into(),
        })
    }
    fn captured_at(&self) -> Instant {
        Instant::now()
    }
}

#[test]
fn device_loss_is_reported_and_closes_the_uplink() {
    let (snk, _) = sink(48_000, 2);
    let (engine, mut rx) =
        AudioEngine::start_with(Box::new(FailingSource), Box::new(snk), AudioConfig::default()).unwrap();
    assert!(
        rx.blocking_recv().is_none(),
        "the uplink closes when the DSP thread ends"
    );
    assert!(wait_until(5, || !engine.is_running()));
    let why = engine.failure().map(|e| e.to_string()).unwrap_or_default();
    assert!(why.contains("unplugged"), "failure: {why:?}");
    assert!(matches!(
        engine.player().play(vec![0; 10], Instant::now()),
        Err(AudioError::Stopped)
    ));
    assert!(!engine.player().is_playing(), "a stopped engine plays nothing");
}

#[test]
fn handles_can_move_into_tokio_tasks() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<AudioEngine>();
    send_sync::<Player>();
    send::<UplinkFrame>();
    send::<AudioEvent>();
}

/// A microphone in a room with the speaker: it hears what the [`ClockSink`] played `delay` ago at `gain`,
/// plus low noise, in real time (both clocks start with the DSP thread).
struct EchoSource {
    played: Arc<Mutex<Vec<f32>>>,
    rate: u32,
    delay: usize,
    gain: f32,
    len: usize,
    pos: usize,
    started: Instant,
    captured: Instant,
    seed: u32,
}

impl AudioSource for EchoSource {
    fn format(&self) -> StreamFormat {
        fmt(self.rate, 1)
    }
    fn start(&mut self) {
        self.started = Instant::now();
    }
    fn read(&mut self, out: &mut [f32]) -> Result<SourceRead, AudioError> {
        if self.pos >= self.len {
            return Ok(SourceRead::Ended);
        }
        let now = Instant::now();
        let due = (now.duration_since(self.started).as_secs_f64() * f64::from(self.rate)) as usize;
        let n = out.len().min(due.min(self.len).saturating_sub(self.pos));
        if n == 0 {
            return Ok(SourceRead::Pending);
        }
        let played = self.played.lock().unwrap();
        for (k, o) in out[..n].iter_mut().enumerate() {
            let i = self.pos + k;
            let echo = i
                .checked_sub(self.delay)
                .and_then(|j| played.get(j))
                .copied()
                .unwrap_or(0.0);
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 17;
            self.seed ^= self.seed << 5;
            *o = self.gain * echo + 0.002 * (self.seed as f32 / u32::MAX as f32 - 0.5);
        }
        self.pos += n;
        self.captured = now;
        Ok(SourceRead::Data(n))
    }
    fn captured_at(&self) -> Instant {
        self.captured
    }
}

/// Plays `reply_24k` through an engine whose microphone hears the speaker 40 ms late; returns the uplink
/// (16 kHz) and how many of its frames the VAD labelled speech.
fn reply_with_room_echo(reply_24k: &[i16], echo_cancellation: bool) -> (Vec<f32>, usize) {
    let rate = 48_000;
    let (snk, played) = sink(rate, 1);
    let secs = reply_24k.len() as f64 / 24_000.0 + 0.6;
    let src = EchoSource {
        played,
        rate,
        delay: rate as usize * 40 / 1000,
        gain: 0.5,
        len: (secs * f64::from(rate)) as usize,
        pos: 0,
        started: Instant::now(),
        captured: Instant::now(),
        seed: 0x1234_5678,
    };
    let cfg = AudioConfig {
        echo_cancellation,
        uplink_capacity: 1000,
        ..AudioConfig::default()
    };
    let (engine, mut rx) = AudioEngine::start_with(Box::new(src), Box::new(snk), cfg).unwrap();
    engine.player().play(reply_24k.to_vec(), Instant::now()).unwrap();
    let frames = (secs * 50.0) as usize - 2;
    let (mut uplink, mut speech) = (Vec::new(), 0);
    for _ in 0..frames {
        let Some(f) = rx.blocking_recv() else { break };
        uplink.extend(f.samples.iter().map(|&s| f32::from(s) / 32768.0));
        speech += usize::from(f.vad == VadState::Speech);
    }
    engine.stop();
    (uplink, speech)
}

#[test]
fn echo_of_the_played_reply_is_removed_from_the_uplink() {
    // the reply as the Live service sends it: 24 kHz LINEAR16
    let reply_16k = super::aec::tests::reply();
    let mut rs = StreamResampler::new(16_000, 24_000).unwrap();
    let mut reply: Vec<i16> = Vec::new();
    rs.process(&reply_16k, |o| reply.extend(o.iter().map(|&s| (s * 32767.0) as i16)))
        .unwrap();
    // both engines at once: the test takes the reply's length in real time, not twice that
    let (with, without) = std::thread::scope(|s| {
        let a = s.spawn(|| reply_with_room_echo(&reply, true));
        let b = s.spawn(|| reply_with_room_echo(&reply, false));
        (a.join().unwrap(), b.join().unwrap())
    });
    let db = super::aec::tests::energy_db;
    // skip the first 1.5 s: jitter-buffer start plus AEC convergence
    let skip = 24_000;
    let (on, off) = (db(&with.0[skip..]), db(&without.0[skip..]));
    assert!(
        off - on >= 15.0,
        "uplink energy {off:.1} dB without AEC, {on:.1} dB with: only {:.1} dB less",
        off - on
    );
    assert!(
        without.1 >= 4 * with.1.max(5),
        "VAD speech frames: {} without AEC, {} with",
        without.1,
        with.1
    );
    eprintln!(
        "engine: uplink {off:.1} dB -> {on:.1} dB ({:.1} dB removed), VAD speech frames {} -> {}",
        off - on,
        without.1,
        with.1
    );
}

#[test]
fn barge_in_fades_out_then_silence_and_records_its_latency() {
    let silence = BufferSource::new(fmt(16_000, 1), vec![0.0; 16_000 * 10], Pacing::RealTime);
    let (snk, kept) = sink(48_000, 1);
    let (engine, _rx) = AudioEngine::start_with(Box::new(silence), Box::new(snk), AudioConfig::default()).unwrap();
    let player = engine.player();
    player.play(vec![8000; 120_000], Instant::now()).unwrap();
    let audible = |k: &Vec<f32>| k.iter().filter(|s| s.abs() > 0.01).count();
    assert!(wait_until(5, || kept
        .lock()
        .map(|k| audible(&k) > 4_800)
        .unwrap_or(false)));
    assert!(engine.levels().speaker_dbfs > -20.0, "{:?}", engine.levels());
    let onset = Instant::now();
    player.barge_in(onset);
    assert!(
        wait_until(5, || !player.is_playing()),
        "still playing after the barge-in"
    );
    assert!(wait_until(5, || engine
        .stats()
        .latency
        .iter()
        .any(|s| s.stage == Stage::BargeInToSilence)));
    engine.stop();
    let k = kept.lock().unwrap();
    let last = k.iter().rposition(|s| s.abs() > 0.001).unwrap_or(0);
    assert!(last + 1 < k.len(), "silence follows the barge-in");
    // the constant reply dies away in a ramp: no sample-to-sample step anywhere (a hard cut is 0.24)
    let step = k.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(step < 0.02, "largest step {step}");
    let old = k.iter().filter(|&&s| s > 0.01).count();
    assert!(old < 48_000 * 2, "{old} samples of the flushed reply were played");
}

/// A sink whose clock the test moves: it "plays" exactly what the test consumes.
struct ManualSink {
    written: Arc<Mutex<Vec<f32>>>,
    consumed: Arc<std::sync::atomic::AtomicU64>,
    target: usize,
}

impl ManualSink {
    fn len(&self) -> u64 {
        self.written.lock().map(|w| w.len() as u64).unwrap_or(0)
    }
    fn queued_now(&self) -> u64 {
        self.len()
            .saturating_sub(self.consumed.load(std::sync::atomic::Ordering::Acquire))
    }
}

impl AudioSink for ManualSink {
    fn format(&self) -> StreamFormat {
        fmt(48_000, 1)
    }
    fn wanted(&self) -> usize {
        self.target.saturating_sub(self.queued_now() as usize)
    }
    fn write(&mut self, samples: &[f32]) -> usize {
        self.written.lock().unwrap().extend_from_slice(samples);
        samples.len()
    }
    fn flush(&mut self) {
        let consumed = self.consumed.load(std::sync::atomic::Ordering::Acquire);
        self.written.lock().unwrap().truncate(consumed as usize);
    }
    fn queued(&self) -> u64 {
        self.queued_now()
    }
    fn last_played(&self) -> Option<Instant> {
        Some(Instant::now())
    }
}

#[test]
fn is_playing_until_the_last_reply_sample_has_been_played_and_no_longer() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let written = Arc::new(Mutex::new(Vec::new()));
    let consumed = Arc::new(AtomicU64::new(0));
    let target = 1440; // 30 ms at 48 kHz
    let snk = ManualSink {
        written: written.clone(),
        consumed: consumed.clone(),
        target,
    };
    let silence = BufferSource::new(fmt(16_000, 1), vec![0.0; 16_000 * 30], Pacing::RealTime);
    let (engine, _rx) = AudioEngine::start_with(Box::new(silence), Box::new(snk), AudioConfig::default()).unwrap();
    let player = engine.player();
    assert!(!player.is_playing());
    player.play(vec![8000; 7_200], Instant::now()).unwrap(); // 300 ms
    assert!(player.is_playing(), "true as soon as play returns");
    let topped_up = || {
        let len = written.lock().map(|w| w.len() as u64).unwrap_or(0);
        len + 720 >= consumed.load(Ordering::Acquire) + target as u64
    };
    let mut went_quiet_at = None;
    for _ in 0..400 {
        // (a DSP turn that has topped up but not yet published is_playing can only delay `false` by a step)
        assert!(wait_until(5, topped_up), "the DSP thread stopped feeding the sink");
        if !player.is_playing() {
            went_quiet_at = Some(consumed.load(Ordering::Acquire));
            break;
        }
        consumed.fetch_add(480, Ordering::AcqRel); // 10 ms played
    }
    engine.stop();
    let quiet = went_quiet_at.expect("is_playing never turned false");
    let w = written.lock().unwrap();
    let last = w.iter().rposition(|s| s.abs() > 1e-4).unwrap() as u64;
    assert!(
        quiet > last,
        "false at sample {quiet}, but the reply plays until {last}"
    );
    // the resampler's tail and one step of slack, not the jitter buffer's 1 s wait for a late chunk
    assert!(
        quiet <= last + 4_800,
        "false only at {quiet}, {} ms after the reply",
        (quiet - last) / 48
    );
}
