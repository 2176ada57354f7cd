//! Criterion benches of the audio core, per stage and for the whole uplink frame path, on the very types the
//! DSP thread and the session run (`UplinkChain`, `DownlinkChain`, `StreamResampler`, `Framer`,
//! `EchoCanceller`, `VoiceDetector`, `JitterBuffer`, `ClientMessage::audio(..).to_json()`,
//! `ServerMessage::from_slice` + `events_from`): nothing here re-implements a stage.
//! `frame path` runs 20 ms of full-duplex audio through every stage in turn (reply message in, capture out).
//! Throughput is in samples, so `elem/s` divided by the stage's sample rate is its real-time factor.
//! Quick run: `cargo bench --bench audio_core -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use voxlive::audio::{
    downmix, DownlinkChain, EchoCanceller, Frame, Framer, JitterBuffer, JitterConfig, StreamFormat, StreamResampler,
    UplinkChain, VadConfig, VoiceDetector, DOWN_STEP, FRAME_SAMPLES, UPLINK_RATE,
};
use voxlive::protocol::{Blob, ClientMessage, ServerMessage, INPUT_RATE, OUTPUT_RATE};
use voxlive::session::events_from;

/// Interleaved samples per 48 kHz stereo device callback (512 frames, as measured on PulseAudio).
const CALLBACK: usize = 512 * 2;
const STEREO_48K: StreamFormat = StreamFormat {
    sample_rate: 48_000,
    channels: 2,
};

fn stereo_48k(secs: usize) -> Vec<f32> {
    (0..48_000 * secs)
        .flat_map(|i| {
            let s = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin();
            [s, s]
        })
        .collect()
}

/// A voiced, syllable-like 16 kHz signal (harmonics of 140 Hz under a 4 Hz envelope), `n` samples.
fn voiced_16k(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let env = (std::f32::consts::PI * 4.0 * t).sin().abs();
            let v: f32 = (1..10)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.2 * env * v
        })
        .collect()
}

fn frame_of(x: &[f32]) -> Frame {
    let mut f = [0i16; FRAME_SAMPLES];
    for (d, s) in f.iter_mut().zip(x) {
        *d = (s * 32767.0) as i16;
    }
    f
}

/// The whole uplink frame path: 1 s of 48 kHz stereo in 512-frame callbacks through `UplinkChain`.
fn uplink(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, input: &[f32], aec: bool) {
    let name = format!(
        "uplink chain 48k stereo -> frames (AEC {})",
        if aec { "on" } else { "off" }
    );
    g.throughput(Throughput::Elements(48_000));
    g.bench_function(name, |b| {
        let mut chain = UplinkChain::new(STEREO_48K, VadConfig::default(), aec).unwrap();
        b.iter(|| {
            let mut frames = 0;
            for cb in input.chunks(CALLBACK) {
                chain
                    .process(cb, |f| {
                        f.preroll.clear();
                        frames += usize::from(black_box(f.samples)[0] != i16::MIN);
                    })
                    .unwrap();
            }
            frames
        })
    });
}

fn dsp_stages(c: &mut Criterion) {
    // as on the DSP thread (src/audio/denormals.rs)
    voxlive::audio::flush_to_zero_on_this_thread();
    let mut g = c.benchmark_group("dsp");
    let input = stereo_48k(1);
    g.throughput(Throughput::Elements(960));
    g.bench_function("resample down 48k stereo -> 16k (20 ms)", |b| {
        let mut rs = StreamResampler::new(48_000, UPLINK_RATE).unwrap();
        let mut mono = vec![0.0f32; 960];
        let block = &input[..1920];
        b.iter(|| {
            let n = downmix(block, 2, &mut mono);
            let mut out = 0;
            rs.process(&mono[..n], |o| out += o.len()).unwrap();
            out
        })
    });
    let reply_24k: Vec<f32> = (0..480).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    g.throughput(Throughput::Elements(480));
    g.bench_function("resample up 24k -> 48k (20 ms)", |b| {
        let mut rs = StreamResampler::new(OUTPUT_RATE, 48_000).unwrap();
        b.iter(|| {
            let mut out = 0;
            rs.process(black_box(&reply_24k), |o| out += o.len()).unwrap();
            out
        })
    });
    let speech = voiced_16k(16_000);
    g.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    g.bench_function("framing (one 20 ms frame)", |b| {
        let mut framer = Framer::new();
        let piece = &speech[..FRAME_SAMPLES];
        b.iter(|| {
            let mut n = 0;
            framer.push(black_box(piece), |f| n += usize::from(f[0] != i16::MIN));
            n
        })
    });
    let echo: Vec<f32> = speech.iter().map(|s| s * 0.5).collect();
    g.bench_function("AEC render + capture (one 20 ms frame)", |b| {
        let mut ec = EchoCanceller::new();
        let mut k = 0;
        b.iter(|| {
            // the microphone hears the reference 40 ms (640 samples) late at -6 dB
            let at = FRAME_SAMPLES * (2 + k % 45);
            k += 1;
            ec.render(&speech[at..at + FRAME_SAMPLES]);
            let mut frame = frame_of(&echo[at - 640..at - 640 + FRAME_SAMPLES]);
            ec.process(&mut frame);
            frame[0]
        })
    });
    g.bench_function("VAD (one 20 ms frame)", |b| {
        let mut vad = VoiceDetector::new(VadConfig::default());
        let frame = frame_of(&speech[4000..4000 + FRAME_SAMPLES]);
        let mut pre = Vec::with_capacity(32);
        b.iter(|| {
            pre.clear();
            vad.process(black_box(&frame), &mut pre)
        })
    });
    uplink(&mut g, &input, false);
    uplink(&mut g, &input, true);
    g.finish();
}

fn downlink_stages(c: &mut Criterion) {
    // as on the DSP thread (src/audio/denormals.rs)
    voxlive::audio::flush_to_zero_on_this_thread();
    let mut g = c.benchmark_group("downlink");
    let chunk: Vec<i16> = (0..480).map(|i| ((i * 37) % 2000) as i16).collect();
    g.throughput(Throughput::Elements(480));
    g.bench_function("jitter buffer push + pull (20 ms)", |b| {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = [0.0f32; DOWN_STEP];
        let t0 = Instant::now();
        let mut k = 0u64;
        b.iter(|| {
            let now = t0 + Duration::from_millis(20 * k);
            k += 1;
            jb.push(black_box(&chunk), now);
            jb.pull(&mut out, now);
            jb.pull(&mut out, now + Duration::from_millis(10));
            out[0]
        })
    });
    g.bench_function("downlink chain 20 ms: jitter -> AEC reference -> 48k stereo", |b| {
        let mut chain = DownlinkChain::new(STEREO_48K, JitterConfig::default()).unwrap();
        let mut ec = EchoCanceller::new();
        let t0 = Instant::now();
        let mut k = 0u64;
        b.iter(|| {
            let now = t0 + Duration::from_millis(20 * k);
            k += 1;
            chain.push(&chunk, now);
            let mut written = 0;
            for _ in 0..2 {
                chain.pull(now);
                chain.render_reference(Some(&mut ec)).unwrap();
                chain
                    .to_sink(|s| {
                        written += s.len();
                        s.len()
                    })
                    .unwrap();
            }
            written
        })
    });
    g.finish();
}

fn wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    let frame = frame_of(&voiced_16k(FRAME_SAMPLES));
    g.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    g.bench_function("encode one 20 ms frame (base64 + JSON, as the session sends it)", |b| {
        b.iter(|| ClientMessage::audio(INPUT_RATE, black_box(&frame)).to_json())
    });
    // one 40 ms reply chunk as the Live API sends it
    let reply: Vec<i16> = (0..960).map(|i| ((i * 37) % 2000) as i16).collect();
    let blob = serde_json::to_string(&Blob::pcm16(OUTPUT_RATE, &reply)).unwrap();
    let msg = format!(r#"{{"serverContent":{{"modelTurn":{{"role":"model","parts":[{{"inlineData":{blob}}}]}}}}}}"#);
    assert!(!events_from(ServerMessage::from_slice(msg.as_bytes()).unwrap(), Instant::now()).is_empty());
    g.throughput(Throughput::Elements(960));
    g.bench_function(
        "decode one 40 ms server audio message (from_slice + events_from)",
        |b| {
            b.iter(|| {
                let m = ServerMessage::from_slice(black_box(msg.as_bytes())).unwrap();
                events_from(m, Instant::now())
            })
        },
    );
    g.finish();
}

/// The whole 20 ms frame path as the DSP thread and the session run it, stage after stage on the same types
/// and in the DSP thread's order (`src/audio/dsp/mod.rs`): half of a 40 ms server audio message ->
/// `ServerMessage::from_slice` + `events_from` -> `DownlinkChain` (jitter buffer, the AEC's echo reference,
/// 48 kHz stereo out), and one 20 ms 48 kHz stereo capture -> `UplinkChain` (16 kHz, frames, AEC3 with that
/// reference, VAD) -> the frame's `realtimeInput` JSON. One AEC, fed from both sides, as in a conversation.
fn frame_path(c: &mut Criterion) {
    // as on the DSP thread (src/audio/denormals.rs)
    voxlive::audio::flush_to_zero_on_this_thread();
    let mut g = c.benchmark_group("frame path");
    let input = stereo_48k(1);
    let reply: Vec<i16> = (0..960).map(|i| ((i * 37) % 2000) as i16).collect();
    let blob = serde_json::to_string(&Blob::pcm16(OUTPUT_RATE, &reply)).unwrap();
    let msg = format!(r#"{{"serverContent":{{"modelTurn":{{"role":"model","parts":[{{"inlineData":{blob}}}]}}}}}}"#);
    for aec in [false, true] {
        g.throughput(Throughput::Elements(960));
        let name = format!(
            "full duplex 20 ms: reply JSON -> downlink, capture -> uplink -> JSON (AEC {})",
            if aec { "on" } else { "off" }
        );
        g.bench_function(name, |b| {
            let mut up = UplinkChain::new(STEREO_48K, VadConfig::default(), aec).unwrap();
            let mut down = DownlinkChain::new(STEREO_48K, JitterConfig::default()).unwrap();
            let t0 = Instant::now();
            let mut k = 0u64;
            b.iter(|| {
                let now = t0 + Duration::from_millis(20 * k);
                if k % 2 == 0 {
                    let m = ServerMessage::from_slice(black_box(msg.as_bytes())).unwrap();
                    for ev in events_from(m, now) {
                        if let voxlive::session::Event::Audio { samples, .. } = ev {
                            down.push(&samples, now);
                        }
                    }
                }
                let mut out = 0;
                for _ in 0..2 {
                    down.pull(now);
                    down.render_reference(up.echo_canceller()).unwrap();
                    down.to_sink(|s| {
                        out += s.len();
                        s.len()
                    })
                    .unwrap();
                }
                let at = (k as usize % 49) * 1920;
                k += 1;
                up.process(&input[at..at + 1920], |f| {
                    f.preroll.clear();
                    out += ClientMessage::audio(INPUT_RATE, f.samples).to_json().len();
                })
                .unwrap();
                out
            })
        });
    }
    g.finish();
}

criterion_group!(audio, dsp_stages, downlink_stages, wire, frame_path);
criterion_main!(audio);
