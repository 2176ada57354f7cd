//! Counters and latency histograms of the audio path, readable from any thread for `--stats`.
//! Latencies go into hdrhistogram behind a mutex: recorded by the DSP thread and the session, never by the
//! audio callbacks (they only store timestamps in atomics, see `ring.rs`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

/// A stage of the round trip whose latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Capture callback -> the 20 ms frame holding its samples handed to the session (DSP).
    CaptureToFrame,
    /// Frame handed over -> written to the socket (recorded by the session).
    FrameToSent,
    /// Last frame of the user's turn sent -> first reply byte received (recorded by the session).
    SentToFirstReply,
    /// Reply chunk received -> its first sample handed to the output callback (DSP; includes jitter buffer).
    /// Later chunks of a reply queue behind the earlier ones, so this grows with how far ahead the server is.
    ReplyToPlayout,
    /// The first chunk of a reply (pushed into an idle jitter buffer) -> its first sample handed to the output
    /// callback: what the user waits for once the reply has arrived.
    FirstReplyToPlayout,
    /// [`super::Player::barge_in`]'s onset (when the VAD heard the user start) -> playback silent: the flush
    /// applied and, on a device, the output callback has taken its next buffer (which holds the short
    /// fade-out, then silence); on a [`super::ClockSink`], the flush and fade written.
    BargeInToSilence,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::CaptureToFrame,
        Stage::FrameToSent,
        Stage::SentToFirstReply,
        Stage::ReplyToPlayout,
        Stage::FirstReplyToPlayout,
        Stage::BargeInToSilence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::CaptureToFrame => "capture -> frame",
            Stage::FrameToSent => "frame -> sent",
            Stage::SentToFirstReply => "sent -> first reply",
            Stage::ReplyToPlayout => "reply -> speaker",
            Stage::FirstReplyToPlayout => "first reply -> speaker",
            Stage::BargeInToSilence => "barge-in -> silence",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-stage latency histograms (microseconds, 3 significant digits, up to 60 s). Cheap to clone.
#[derive(Clone)]
pub struct LatencyRecorder {
    /// `None` only if hdrhistogram refused the (valid, constant) bounds: then nothing is recorded.
    hists: Arc<[Mutex<Option<Histogram<u64>>>; Stage::ALL.len()]>,
    /// The latest [`SPANS`] rare events with both ends (first reply heard, barge-in silenced): a histogram
    /// cannot say which turn a latency belongs to, and `voxlive bench` reports per turn.
    spans: Arc<Mutex<std::collections::VecDeque<Span>>>,
}

/// Spans kept by a [`LatencyRecorder`] (allocated up front; the oldest go first).
pub const SPANS: usize = 1024;

/// One measured latency with its two instants, so a caller can tell which turn it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub stage: Stage,
    pub start: std::time::Instant,
    pub end: std::time::Instant,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        let mk = || Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).ok());
        LatencyRecorder {
            hists: Arc::new(std::array::from_fn(|_| mk())),
            spans: Arc::new(Mutex::new(std::collections::VecDeque::with_capacity(SPANS))),
        }
    }

    /// Records `end - start` under `stage` and keeps the span itself (see [`LatencyRecorder::spans`]).
    /// For rare events only (one per reply or barge-in): the span list is bounded, its memory preallocated.
    pub fn record_span(&self, stage: Stage, start: std::time::Instant, end: std::time::Instant) {
        self.record(stage, end.saturating_duration_since(start));
        if let Ok(mut spans) = self.spans.lock() {
            if spans.len() >= SPANS {
                spans.pop_front();
            }
            spans.push_back(Span { stage, start, end });
        }
    }

    /// The spans recorded so far (the latest [`SPANS`]), oldest first.
    pub fn spans(&self) -> Vec<Span> {
        self.spans
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Records one latency. Not for audio callbacks (takes a mutex).
    pub fn record(&self, stage: Stage, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 60_000_000);
        if let Ok(mut guard) = self.hists[stage.index()].lock() {
            if let Some(h) = guard.as_mut() {
                h.saturating_record(us);
            }
        }
    }

    /// Percentiles of every stage with at least one sample.
    pub fn summary(&self) -> Vec<StageSummary> {
        Stage::ALL
            .iter()
            .filter_map(|&stage| {
                let guard = self.hists[stage.index()].lock().ok()?;
                let h = guard.as_ref()?;
                (!h.is_empty()).then(|| StageSummary {
                    stage,
                    count: h.len(),
                    p50: Duration::from_micros(h.value_at_quantile(0.5)),
                    p90: Duration::from_micros(h.value_at_quantile(0.9)),
                    p99: Duration::from_micros(h.value_at_quantile(0.99)),
                    max: Duration::from_micros(h.max()),
                })
            })
            .collect()
    }
}

/// Percentiles of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSummary {
    pub stage: Stage,
    pub count: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Counters the DSP thread updates; snapshot with [`AudioStats`].
#[derive(Debug, Default)]
pub struct DspCounters {
    pub frames: AtomicU64,
    /// Uplink frames dropped because the session's queue was full.
    pub frames_dropped: AtomicU64,
    /// Downlink chunks dropped because the DSP queue was full.
    pub chunks_dropped: AtomicU64,
    /// Jitter-buffer underruns (a reply ran dry and then continued).
    pub jitter_underruns: AtomicU64,
    /// Current jitter target in microseconds.
    pub jitter_target_us: AtomicU64,
    /// Reply audio queued in the jitter buffer now, in microseconds.
    pub jitter_depth_us: AtomicU64,
    /// Events or recorder blocks dropped because their consumer lagged.
    pub side_dropped: AtomicU64,
}

/// A snapshot of everything countable, printable for `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioStats {
    pub input_callbacks: u64,
    pub output_callbacks: u64,
    /// Captured samples lost because the DSP thread fell behind.
    pub overruns: u64,
    /// Output callbacks that had to play some silence because the playback ring ran dry.
    pub underruns: u64,
    pub xruns: u64,
    /// The latest recoverable stream error, if any (what the xruns were).
    pub last_stream_error: Option<String>,
    /// Largest buffers (interleaved samples) the input / output callbacks asked for.
    pub input_max_request: u64,
    pub output_max_request: u64,
    pub frames: u64,
    pub frames_dropped: u64,
    pub chunks_dropped: u64,
    pub jitter_underruns: u64,
    pub jitter_target: Duration,
    /// Reply audio in the jitter buffer when the snapshot was taken.
    pub jitter_depth: Duration,
    pub side_dropped: u64,
    pub latency: Vec<StageSummary>,
}

impl DspCounters {
    pub fn load(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

impl fmt::Display for AudioStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "audio: {} frames sent ({} dropped), {} input / {} output callbacks (largest {} / {} samples)",
            self.frames,
            self.frames_dropped,
            self.input_callbacks,
            self.output_callbacks,
            self.input_max_request,
            self.output_max_request
        )?;
        writeln!(
            f,
            "  overruns {} samples, playback underruns {}, recovered stream errors {}, jitter underruns {}, downlink drops {}, jitter target {} ms",
            self.overruns,
            self.underruns,
            self.xruns,
            self.jitter_underruns,
            self.chunks_dropped,
            self.jitter_target.as_millis()
        )?;
        if let Some(e) = &self.last_stream_error {
            writeln!(f, "  latest recovered stream error: {e}")?;
        }
        for s in &self.latency {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            writeln!(
                f,
                "  {:<22} n={:<6} p50 {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
                s.stage.name(),
                s.count,
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.max)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_recorded_values() {
        let r = LatencyRecorder::new();
        for ms in 1..=100u64 {
            r.record(Stage::FrameToSent, Duration::from_millis(ms));
        }
        let s = r.summary();
        assert_eq!(s.len(), 1, "only stages with samples are listed");
        assert_eq!(s[0].count, 100);
        let p50 = s[0].p50.as_millis();
        assert!((49..=51).contains(&p50), "p50 {p50}");
        assert!(s[0].max >= Duration::from_millis(99));
        let text = AudioStats {
            latency: s,
            ..Default::default()
        }
        .to_string();
        assert!(text.contains("frame -> sent"));
        r.record(Stage::BargeInToSilence, Duration::from_millis(7));
        let text = AudioStats {
            latency: r.summary(),
            ..Default::default()
        }
        .to_string();
        assert!(text.contains("barge-in -> silence"), "{text}");
    }
}
