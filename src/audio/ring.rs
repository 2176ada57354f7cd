//! The bodies of the cpal callbacks, as plain functions over a ring and atomic counters, so they are tested
//! without hardware. They convert samples, copy them through a pre-allocated SPSC ring, bump atomics and read
//! the clock; nothing else (no allocation, lock, log, resampling or tokio), because anything that can block
//! in a real-time callback turns into an audible glitch.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

use cpal::{FromSample, Sample};
use ringbuf::traits::{Consumer, Producer};

/// Samples converted per step through a stack buffer: bounded stack use, no heap.
const STEP: usize = 256;

/// A process-wide time origin so an `Instant` fits in an `AtomicU64` (nanoseconds since the epoch).
/// Reading `Instant::now()` is allocation-free and comparable between the input and output callbacks,
/// unlike cpal's stream timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(Instant);

impl Epoch {
    pub fn new() -> Self {
        Epoch(Instant::now())
    }
    pub fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.0).as_nanos()).unwrap_or(u64::MAX)
    }
    pub fn instant(&self, nanos: u64) -> Instant {
        self.0 + Duration::from_nanos(nanos)
    }
}

impl Default for Epoch {
    fn default() -> Self {
        Self::new()
    }
}

/// How long a flush ramps down what was about to play before the silence, so a barge-in does not click.
pub const FLUSH_FADE: Duration = Duration::from_millis(5);

/// No error reported by the stream's error callback.
pub const NO_ERROR: u8 = 0;

/// Error kinds the callback can store in an atomic (index + 1); the DSP thread turns them back into text.
const KINDS: [cpal::ErrorKind; 14] = [
    cpal::ErrorKind::DeviceBusy,
    cpal::ErrorKind::DeviceChanged,
    cpal::ErrorKind::DeviceNotAvailable,
    cpal::ErrorKind::HostUnavailable,
    cpal::ErrorKind::InvalidInput,
    cpal::ErrorKind::PermissionDenied,
    cpal::ErrorKind::RealtimeDenied,
    cpal::ErrorKind::ResourceExhausted,
    cpal::ErrorKind::StreamInvalidated,
    cpal::ErrorKind::UnsupportedConfig,
    cpal::ErrorKind::UnsupportedOperation,
    cpal::ErrorKind::Xrun,
    cpal::ErrorKind::BackendError,
    cpal::ErrorKind::Other,
];

fn kind_code(kind: cpal::ErrorKind) -> u8 {
    KINDS
        .iter()
        .position(|&k| k == kind)
        .map_or(KINDS.len() as u8, |i| i as u8 + 1)
}

/// Text of a stored error code.
pub fn kind_text(code: u8) -> String {
    match code {
        NO_ERROR => "no error".into(),
        c => KINDS
            .get(usize::from(c) - 1)
            .map_or_else(|| "unknown stream error".into(), |k| k.to_string()),
    }
}

/// No callback for this long while the stream should be running means the device is gone (some backends
/// report a vanished device only by going quiet). The first callback gets [`FIRST_CALLBACK_LIMIT`]: an idle
/// PulseAudio null sink wakes in 2 s blocks.
pub const STALL_LIMIT: Duration = Duration::from_secs(3);
/// How long a new stream may take to call back the first time.
pub const FIRST_CALLBACK_LIMIT: Duration = Duration::from_secs(6);

/// What one stream's callbacks report, read by the DSP thread.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Callbacks run so far.
    pub callbacks: AtomicU64,
    /// Samples moved through the ring (pushed by capture, popped by playback).
    pub samples: AtomicU64,
    /// Capture: samples that did not fit in the ring (the DSP thread fell behind) and were lost.
    pub overruns: AtomicU64,
    /// Playback: callbacks that had to fill some or all of the buffer with silence.
    pub underruns: AtomicU64,
    /// Playback: samples of silence written because the ring ran dry.
    pub underrun_samples: AtomicU64,
    /// Nanoseconds since the [`Epoch`] of the latest callback's start; 0 = none yet.
    pub last_callback_ns: AtomicU64,
    /// The largest buffer (samples) a callback has asked for: the playback target must cover it.
    pub max_request: AtomicU64,
    /// Errors the backend reported and recovered from (xruns and the like; the stream keeps running).
    pub xruns: AtomicU64,
    /// The latest recovered-from error kind (code, see [`kind_text`]), for diagnostics.
    pub last_error: AtomicU8,
    /// [`NO_ERROR`] or the code of the fatal error kind, set by the error callback.
    pub error: AtomicU8,
    /// Playback: the DSP thread asks the output callback to drop what the ring holds (barge-in); the callback
    /// clears the ring and resets the flag. The DSP thread writes nothing while it is set, so no new audio is lost.
    pub flush_requested: AtomicBool,
    /// Playback: interleaved samples at the head of the ring the callback plays ramped down to silence when
    /// it honours a flush (set once at open, [`FLUSH_FADE`] at the stream's rate; 0 = a hard cut).
    pub flush_fade: AtomicUsize,
    /// Playback: the stream's channel count (the fade ramps whole frames).
    pub channels: AtomicUsize,
    /// The DSP thread, woken after each capture push (a new frame waits for no poll tick) and each playback
    /// pop (the ring is topped up without polling for room). Set once by the DSP thread before it runs; `unpark` is an atomic swap plus, only if the thread sleeps, a futex wake:
    /// no allocation and no lock.
    pub wake: OnceLock<Thread>,
    /// Playback: the output callback wakes the DSP thread only when fewer samples than this are left in the
    /// ring (0: after every callback). The DSP thread also runs on every capture chunk (every 4-10 ms) and
    /// tops the ring up then, so waking it from both callbacks cost a wake-up per playback period for
    /// nothing; a ring that does fall below this still wakes it at once.
    pub wake_below: AtomicUsize,
    /// Capture: the input callback wakes the DSP thread only once the ring holds this many samples (0: after
    /// every callback), which the DSP thread sets to what completes the next 20 ms frame. The virtual
    /// microphone delivers ~4 ms chunks and the resampler works in 10 ms ones: most wake-ups found nothing
    /// to send.
    pub wake_at: AtomicUsize,
}

impl StreamCounters {
    /// Why the stream is dead, if it is: a fatal error from the error callback, or no callback for
    /// [`STALL_LIMIT`] (`started` = when the stream was started, for a stream that never called back).
    pub fn failure(&self, epoch: &Epoch, started: Instant) -> Option<String> {
        let code = self.error.load(Ordering::Acquire);
        if code != NO_ERROR {
            return Some(kind_text(code));
        }
        let (last, limit) = match self.last_callback(epoch) {
            Some(t) => (t, STALL_LIMIT),
            None => (started, FIRST_CALLBACK_LIMIT),
        };
        let quiet = Instant::now().saturating_duration_since(last);
        (quiet > limit).then(|| format!("no audio callback for {} ms", quiet.as_millis()))
    }

    pub fn last_callback(&self, epoch: &Epoch) -> Option<Instant> {
        match self.last_callback_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(epoch.instant(ns)),
        }
    }
}

/// Calls `$build::<T>(args...)` with `T` the Rust type of a cpal [`cpal::SampleFormat`], so capture and
/// playback build their typed streams from one list of formats. An unknown format returns `$unsupported(fmt)`
/// from the calling function.
macro_rules! with_sample_type {
    ($format:expr, $build:ident($($arg:expr),*), $unsupported:expr) => {
        match $format {
            cpal::SampleFormat::I8 => $build::<i8>($($arg),*),
            cpal::SampleFormat::I16 => $build::<i16>($($arg),*),
            cpal::SampleFormat::I24 => $build::<cpal::I24>($($arg),*),
            cpal::SampleFormat::I32 => $build::<i32>($($arg),*),
            cpal::SampleFormat::I64 => $build::<i64>($($arg),*),
            cpal::SampleFormat::U8 => $build::<u8>($($arg),*),
            cpal::SampleFormat::U16 => $build::<u16>($($arg),*),
            cpal::SampleFormat::U24 => $build::<cpal::U24>($($arg),*),
            cpal::SampleFormat::U32 => $build::<u32>($($arg),*),
            cpal::SampleFormat::U64 => $build::<u64>($($arg),*),
            cpal::SampleFormat::F32 => $build::<f32>($($arg),*),
            cpal::SampleFormat::F64 => $build::<f64>($($arg),*),
            other => return $unsupported(other),
        }
    };
}
pub(crate) use with_sample_type;

/// Input callback body: converts `data` (interleaved device samples, any format) to f32 and pushes it into
/// the capture ring. Samples that do not fit are counted as overruns and dropped (newest lost, the ring keeps
/// its order). Returns the number of samples pushed.
pub fn push_input<T, P>(prod: &mut P, data: &[T], counters: &StreamCounters, epoch: &Epoch) -> usize
where
    T: Sample,
    f32: FromSample<T>,
    P: Producer<Item = f32>,
{
    counters
        .last_callback_ns
        .store(epoch.nanos(Instant::now()).max(1), Ordering::Release);
    counters.callbacks.fetch_add(1, Ordering::Relaxed);
    counters.max_request.fetch_max(data.len() as u64, Ordering::Relaxed);
    let mut step = [0.0f32; STEP];
    let mut pushed = 0;
    for chunk in data.chunks(STEP) {
        for (dst, src) in step.iter_mut().zip(chunk) {
            *dst = f32::from_sample_(*src);
        }
        let n = prod.push_slice(&step[..chunk.len()]);
        pushed += n;
        if n < chunk.len() {
            break;
        }
    }
    counters.samples.fetch_add(pushed as u64, Ordering::Relaxed);
    let lost = data.len() - pushed;
    if lost > 0 {
        counters.overruns.fetch_add(lost as u64, Ordering::Relaxed);
    }
    let wake_at = counters.wake_at.load(Ordering::Relaxed);
    if wake_at == 0 || prod.occupied_len() >= wake_at {
        if let Some(dsp) = counters.wake.get() {
            dsp.unpark();
        }
    }
    pushed
}

/// Output callback body: fills `out` from the playback ring, converting f32 to the device format, and fills
/// the tail with silence when the ring runs dry (an underrun, counted). Honours a pending flush first.
/// Returns the number of samples taken from the ring.
pub fn fill_output<T, C>(cons: &mut C, out: &mut [T], counters: &StreamCounters, epoch: &Epoch) -> usize
where
    T: Sample + FromSample<f32>,
    C: Consumer<Item = f32>,
{
    counters
        .last_callback_ns
        .store(epoch.nanos(Instant::now()).max(1), Ordering::Release);
    counters.callbacks.fetch_add(1, Ordering::Relaxed);
    counters.max_request.fetch_max(out.len() as u64, Ordering::Relaxed);
    let flushed = counters.flush_requested.load(Ordering::Acquire);
    let (mut start, mut taken) = (0, 0);
    if flushed {
        (start, taken) = fade_out_head(cons, out, counters);
        cons.clear();
        counters.flush_requested.store(false, Ordering::Release);
    }
    let mut step = [0.0f32; STEP];
    for chunk in out[start..].chunks_mut(STEP) {
        let n = cons.pop_slice(&mut step[..chunk.len()]);
        for (dst, src) in chunk.iter_mut().zip(&step[..n]) {
            *dst = T::from_sample_(*src);
        }
        for dst in &mut chunk[n..] {
            *dst = T::EQUILIBRIUM;
        }
        taken += n;
    }
    counters.samples.fetch_add(taken as u64, Ordering::Relaxed);
    let silent = out.len() - taken;
    if silent > 0 && !flushed {
        counters.underruns.fetch_add(1, Ordering::Relaxed);
        counters.underrun_samples.fetch_add(silent as u64, Ordering::Relaxed);
    }
    // the DSP thread tops the ring up right away instead of polling for room, when the ring runs low
    let wake_below = counters.wake_below.load(Ordering::Relaxed);
    if wake_below == 0 || cons.occupied_len() < wake_below {
        if let Some(dsp) = counters.wake.get() {
            dsp.unpark();
        }
    }
    taken
}

/// The start of a flush: plays the first [`StreamCounters::flush_fade`] samples of the ring ramped linearly
/// down to silence (what was about to play, so the waveform continues and then dies away instead of
/// jumping to zero). Returns (samples of `out` filled, samples taken from the ring).
fn fade_out_head<T, C>(cons: &mut C, out: &mut [T], counters: &StreamCounters) -> (usize, usize)
where
    T: Sample + FromSample<f32>,
    C: Consumer<Item = f32>,
{
    let ch = counters.channels.load(Ordering::Relaxed).max(1);
    let len = counters.flush_fade.load(Ordering::Relaxed).min(out.len()) / ch * ch;
    let frames = (len / ch).max(1) as f32;
    let mut step = [0.0f32; STEP];
    let mut popped = 0;
    for (c, chunk) in out[..len].chunks_mut(STEP).enumerate() {
        let n = chunk.len();
        let got = cons.pop_slice(&mut step[..n]);
        step[got..n].fill(0.0);
        for (k, (dst, &src)) in chunk.iter_mut().zip(&step[..n]).enumerate() {
            let frame = (c * STEP + k) / ch;
            *dst = T::from_sample_(src * (1.0 - (frame + 1) as f32 / frames));
        }
        popped += got;
    }
    (len, popped)
}

/// Error callback body: a vanished device or invalidated stream is fatal (cpal's ALSA worker stops on
/// `DeviceNotAvailable`), which the DSP thread notices on its next tick and reports; other errors (xruns,
/// backend hiccups) are recoverable: cpal keeps the stream running, so they are only counted. Never blocks.
pub fn on_stream_error(kind: cpal::ErrorKind, counters: &StreamCounters) {
    match kind {
        cpal::ErrorKind::DeviceNotAvailable
        | cpal::ErrorKind::StreamInvalidated
        | cpal::ErrorKind::PermissionDenied => {
            counters.error.store(kind_code(kind), Ordering::Release);
            if let Some(dsp) = counters.wake.get() {
                dsp.unpark();
            }
        }
        _ => {
            counters.xruns.fetch_add(1, Ordering::Relaxed);
            counters.last_error.store(kind_code(kind), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Observer, Split};
    use ringbuf::HeapRb;

    #[test]
    fn input_callback_counts_overrun() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(600).split();
        let c = StreamCounters::default();
        let e = Epoch::new();
        let data = vec![i16::MAX; 1000];
        assert_eq!(push_input(&mut prod, &data, &c, &e), 600);
        assert_eq!(c.overruns.load(Ordering::Relaxed), 400);
        assert_eq!(c.samples.load(Ordering::Relaxed), 600);
        assert!(c.last_callback(&e).is_some());
        let mut got = [0.0f32; 600];
        assert_eq!(cons.pop_slice(&mut got), 600);
        assert!(got.iter().all(|&s| (s - 1.0).abs() < 1e-3), "i16::MAX converts to ~1.0");
    }

    #[test]
    fn input_callback_converts_unsigned_and_float() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(16).split();
        let c = StreamCounters::default();
        let e = Epoch::new();
        push_input(&mut prod, &[32768u16, 0u16], &c, &e);
        push_input(&mut prod, &[0.5f32], &c, &e);
        let mut got = [9.0f32; 3];
        assert_eq!(cons.pop_slice(&mut got), 3);
        assert_eq!(got[0], 0.0);
        assert_eq!(got[1], -1.0);
        assert_eq!(got[2], 0.5);
        assert_eq!(c.overruns.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn partial_underrun_zero_pads_tail() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(1024).split();
        let c = StreamCounters::default();
        let e = Epoch::new();
        prod.push_slice(&[0.5; 300]);
        let mut out = vec![7i16; 512];
        assert_eq!(fill_output(&mut cons, &mut out, &c, &e), 300);
        assert!(out[..300].iter().all(|&s| s == 16384));
        assert!(out[300..].iter().all(|&s| s == 0), "tail must be silence");
        assert_eq!(c.underruns.load(Ordering::Relaxed), 1);
        assert_eq!(c.underrun_samples.load(Ordering::Relaxed), 212);
        let mut out = vec![7u16; 4];
        fill_output(&mut cons, &mut out, &c, &e);
        assert_eq!(out, vec![32768u16; 4], "unsigned silence is the midpoint");
    }

    #[test]
    fn full_output_is_not_an_underrun() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(1024).split();
        let c = StreamCounters::default();
        let e = Epoch::new();
        prod.push_slice(&[0.25; 512]);
        let mut out = vec![0f32; 512];
        assert_eq!(fill_output(&mut cons, &mut out, &c, &e), 512);
        assert_eq!(c.underruns.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn flush_drops_queued_audio() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(1024).split();
        let c = StreamCounters::default();
        let e = Epoch::new();
        prod.push_slice(&[0.5; 800]);
        c.flush_requested.store(true, Ordering::Release);
        let mut out = vec![1.0f32; 256];
        assert_eq!(fill_output(&mut cons, &mut out, &c, &e), 0);
        assert!(out.iter().all(|&s| s == 0.0));
        assert!(
            !c.flush_requested.load(Ordering::Acquire),
            "callback acknowledges the flush"
        );
        assert_eq!(cons.occupied_len(), 0);
        assert_eq!(
            c.underruns.load(Ordering::Relaxed),
            0,
            "silence after a flush is wanted, not an underrun"
        );
    }

    #[test]
    fn flush_fades_out_what_was_about_to_play() {
        let (mut prod, mut cons) = HeapRb::<f32>::new(1024).split();
        let c = StreamCounters::default();
        c.flush_fade.store(8, Ordering::Relaxed);
        c.channels.store(2, Ordering::Relaxed);
        let e = Epoch::new();
        prod.push_slice(&[0.8; 600]);
        c.flush_requested.store(true, Ordering::Release);
        let mut out = vec![1.0f32; 16];
        assert_eq!(fill_output(&mut cons, &mut out, &c, &e), 8);
        let left: Vec<f32> = out.chunks_exact(2).map(|f| f[0]).collect();
        assert!(out.chunks_exact(2).all(|f| f[0] == f[1]), "both channels ramp together");
        assert!((left[0] - 0.6).abs() < 1e-6, "the ramp starts from what was queued");
        assert!(left[..4].windows(2).all(|w| w[1] < w[0]), "{left:?}");
        assert!(left[3..].iter().all(|&s| s == 0.0), "silence after the ramp: {left:?}");
        assert_eq!(cons.occupied_len(), 0, "the rest of the ring is dropped");
        assert_eq!(c.underruns.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn error_callback_marks_fatal_errors_only() {
        let c = StreamCounters::default();
        let e = Epoch::new();
        on_stream_error(cpal::ErrorKind::Xrun, &c);
        on_stream_error(cpal::ErrorKind::BackendError, &c);
        assert_eq!(c.error.load(Ordering::Relaxed), NO_ERROR);
        assert_eq!(c.xruns.load(Ordering::Relaxed), 2);
        assert_eq!(
            kind_text(c.last_error.load(Ordering::Relaxed)),
            cpal::ErrorKind::BackendError.to_string()
        );
        assert_eq!(c.failure(&e, Instant::now()), None);
        on_stream_error(cpal::ErrorKind::DeviceNotAvailable, &c);
        let why = c.failure(&e, Instant::now()).unwrap_or_default();
        assert!(why.contains("not available"), "{why}");
    }

    #[test]
    fn silent_stream_is_a_failure() {
        let c = StreamCounters::default();
        let e = Epoch::new();
        let long_ago = Instant::now() - FIRST_CALLBACK_LIMIT - Duration::from_millis(100);
        assert!(c.failure(&e, long_ago).is_some_and(|w| w.contains("no audio callback")));
        assert_eq!(
            c.failure(&e, Instant::now() - STALL_LIMIT),
            None,
            "a new stream gets longer"
        );
        c.last_callback_ns
            .store(e.nanos(Instant::now()).max(1), Ordering::Release);
        assert_eq!(c.failure(&e, long_ago), None);
    }
}
