//! Throughput of the audio core's DSP stages, per second of audio (so "time per iteration" below 1 s means
//! faster than real time; the summary line prints the factor). Run: `cargo bench --bench audio_core`.
//! - uplink: 48 kHz stereo f32 in 512-frame device callbacks -> downmix -> 16 kHz -> 20 ms frames (-> VAD)
//! - downlink: 24 kHz reply through the jitter buffer -> 48 kHz -> stereo
//! - AEC: 1 s of 16 kHz echo reference in, 50 capture frames of 20 ms cleaned (the echo of that reference)

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use voxlive::audio::{
    downmix, upmix, EchoCanceller, Frame, Framer, JitterBuffer, JitterConfig, StreamResampler, VadConfig,
    VoiceDetector, FRAME_SAMPLES, UPLINK_RATE,
};

const CALLBACK: usize = 512;

fn stereo_48k(secs: usize) -> Vec<f32> {
    (0..48_000 * secs)
        .flat_map(|i| {
            let s = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin();
            [s, s]
        })
        .collect()
}

struct Uplink {
    rs: StreamResampler,
    framer: Framer,
    vad: Option<VoiceDetector>,
    mono: Vec<f32>,
    pre: Vec<[i16; 320]>,
}

impl Uplink {
    fn new(vad: bool) -> Self {
        Uplink {
            rs: StreamResampler::new(48_000, UPLINK_RATE).unwrap(),
            framer: Framer::new(),
            vad: vad.then(|| VoiceDetector::new(VadConfig::default())),
            mono: vec![0.0; CALLBACK],
            pre: Vec::with_capacity(32),
        }
    }

    fn run(&mut self, input: &[f32]) -> usize {
        let mut frames = 0;
        for chunk in input.chunks(CALLBACK * 2) {
            let n = downmix(chunk, 2, &mut self.mono);
            let (framer, vad, pre) = (&mut self.framer, &mut self.vad, &mut self.pre);
            self.rs
                .process(&self.mono[..n], |out| {
                    framer.push(out, |f| {
                        if let Some(v) = vad.as_mut() {
                            black_box(v.process(f, pre));
                            pre.clear();
                        }
                        frames += 1;
                    })
                })
                .unwrap();
        }
        frames
    }
}

fn downlink(jb: &mut JitterBuffer, rs: &mut StreamResampler, reply: &[i16], out: &mut [f32]) -> usize {
    let t0 = Instant::now();
    jb.push(reply, t0);
    let mut step = [0.0f32; 240];
    let mut written = 0;
    for k in 0..reply.len() / 240 {
        jb.pull(&mut step, t0 + Duration::from_millis(10 * k as u64));
        rs.process(&step, |dev| written += upmix(dev, 2, out)).unwrap();
    }
    written
}

/// 1 s of a voiced, syllable-like 16 kHz signal (harmonics of 140 Hz under a 4 Hz envelope) as the echo
/// reference, and the capture frames holding its echo (40 ms late, -6 dB).
fn aec_signals() -> (Vec<f32>, Vec<Frame>) {
    let render: Vec<f32> = (0..16_000)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let env = (std::f32::consts::PI * 4.0 * t).sin().abs();
            let v: f32 = (1..10)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.2 * env * v
        })
        .collect();
    let capture = (0..16_000 / FRAME_SAMPLES)
        .map(|f| {
            let mut frame = [0i16; FRAME_SAMPLES];
            for (k, s) in frame.iter_mut().enumerate() {
                let i = (f * FRAME_SAMPLES + k + 16_000 - 640) % 16_000;
                *s = (render[i] * 0.5 * 32767.0) as i16;
            }
            frame
        })
        .collect();
    (render, capture)
}

fn aec(ec: &mut EchoCanceller, render: &[f32], capture: &[Frame]) -> i64 {
    let mut sum = 0i64;
    for (r, c) in render.chunks(FRAME_SAMPLES).zip(capture) {
        let mut frame = *c;
        ec.render(r);
        ec.process(&mut frame);
        sum += i64::from(frame[0]);
    }
    sum
}

fn x_real_time(name: &str, audio_secs: f64, mut f: impl FnMut()) {
    let t = Instant::now();
    let mut runs = 0;
    while t.elapsed() < Duration::from_secs(2) {
        f();
        runs += 1;
    }
    let per_run = t.elapsed().as_secs_f64() / runs as f64;
    println!(
        "{name}: {:.0}x real time ({:.3} ms per audio second)",
        audio_secs / per_run,
        per_run / audio_secs * 1e3
    );
}

fn benches(c: &mut Criterion) {
    let input = stereo_48k(1);
    let mut g = c.benchmark_group("audio_core (1 s of audio per iteration)");
    g.throughput(Throughput::Elements(48_000));
    g.bench_function("uplink 48k stereo f32 -> 16k frames", |b| {
        let mut up = Uplink::new(false);
        b.iter(|| black_box(up.run(&input)))
    });
    g.bench_function("uplink 48k stereo f32 -> 16k frames + VAD", |b| {
        let mut up = Uplink::new(true);
        b.iter(|| black_box(up.run(&input)))
    });
    let reply: Vec<i16> = (0..24_000).map(|i| ((i * 37) % 2000) as i16).collect();
    let mut out = vec![0.0f32; 2048];
    g.bench_function("downlink 24k -> jitter -> 48k stereo", |b| {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut rs = StreamResampler::new(24_000, 48_000).unwrap();
        b.iter(|| black_box(downlink(&mut jb, &mut rs, &reply, &mut out)))
    });
    // built here, like on the DSP thread (`EchoCanceller` is !Send)
    let (render, capture) = aec_signals();
    g.throughput(Throughput::Elements(16_000));
    g.bench_function("AEC 16k: render 1 s + 50 capture frames", |b| {
        let mut ec = EchoCanceller::new();
        b.iter(|| black_box(aec(&mut ec, &render, &capture)))
    });
    g.finish();

    // `cargo test --all-targets` runs this binary once as a smoke test (unoptimised, without --bench):
    // no throughput figures from such a run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut up = Uplink::new(false);
    x_real_time("uplink 48k stereo -> 16k frames", 1.0, || {
        black_box(up.run(&input));
    });
    let mut up = Uplink::new(true);
    x_real_time("uplink 48k stereo -> 16k frames + VAD", 1.0, || {
        black_box(up.run(&input));
    });
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut rs = StreamResampler::new(24_000, 48_000).unwrap();
    x_real_time("downlink 24k -> 48k stereo", 1.0, || {
        black_box(downlink(&mut jb, &mut rs, &reply, &mut out));
    });
    let mut ec = EchoCanceller::new();
    x_real_time("AEC 16k (render + capture)", 1.0, || {
        black_box(aec(&mut ec, &render, &capture));
    });
}

criterion_group!(audio, benches);
criterion_main!(audio);
