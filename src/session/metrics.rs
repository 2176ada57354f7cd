//! Session counters and the uplink latency histogram, shared between the handle and the actor. Read them
//! at any time; nothing here is touched by an audio callback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[derive(Debug)]
pub struct SessionMetrics {
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
    pub audio_frames_sent: AtomicU64,
    /// Audio frames dropped because the outbound queue was full (the network fell behind).
    pub audio_frames_dropped: AtomicU64,
    pub malformed_frames: AtomicU64,
    /// Connections set up (the first included).
    pub connections: AtomicU64,
    /// Reconnect attempts started.
    pub reconnects: AtomicU64,
    /// Connections that continued the session with a resumption handle.
    pub resumes: AtomicU64,
    /// Fresh sessions started after a refused handle.
    pub restarts: AtomicU64,
    /// Must-deliver messages written again after a reconnect.
    pub replayed: AtomicU64,
    /// goAway messages received.
    pub go_aways: AtomicU64,
    /// From the capture timestamp a frame carries to its bytes written on the socket, in microseconds.
    /// `None` only if hdrhistogram refused the (valid, constant) bounds: then nothing is recorded.
    uplink_us: Mutex<Option<Histogram<u64>>>,
    /// Per [`Mark`]: from a user action to the message that answers it written on the socket, microseconds.
    marks_us: [Mutex<Option<Histogram<u64>>>; Mark::ALL.len()],
    /// When each activity signal was written on the socket (the latest [`SIGNALS`]): the benchmark times the
    /// end of a turn from the user's last word to its `activityEnd` leaving the machine.
    signals: Mutex<std::collections::VecDeque<(Signal, Instant)>>,
    /// Per audio frame written, (capture time, socket write time), once [`SessionMetrics::keep_frame_times`]
    /// asked for them (the benchmark, which times the end of a server-VAD turn from the frame holding the
    /// user's last word); `None` otherwise, so a live session keeps nothing per frame.
    frame_times: Mutex<Option<Vec<(Instant, Instant)>>>,
}

/// Audio frames whose times [`SessionMetrics::frame_times`] keeps at most: 30 minutes of 20 ms frames
/// (2.9 MB); later frames are not kept.
pub const FRAME_TIMES: usize = 90_000;

/// Activity signals kept by [`SessionMetrics::signals`] (the oldest go first).
pub const SIGNALS: usize = 4096;

/// A turn-taking message whose socket write time is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    ActivityStart,
    ActivityEnd,
    AudioStreamEnd,
}

/// A user action whose time to the socket is measured (push-to-talk latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Key press -> the first audio frame of the turn (the oldest pre-roll frame) on the socket.
    PressToFirstFrame,
    /// Key release -> activityEnd on the socket.
    ReleaseToActivityEnd,
}

impl Mark {
    pub const ALL: [Mark; 2] = [Mark::PressToFirstFrame, Mark::ReleaseToActivityEnd];

    pub fn label(self) -> &'static str {
        match self {
            Mark::PressToFirstFrame => "key press -> first frame on the socket",
            Mark::ReleaseToActivityEnd => "key release -> activityEnd on the socket",
        }
    }
}

fn histogram() -> Mutex<Option<Histogram<u64>>> {
    // 1 us .. 60 s, 3 significant digits.
    Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).ok())
}

fn record(h: &Mutex<Option<Histogram<u64>>>, latency: Duration) {
    if let Ok(mut guard) = h.lock() {
        if let Some(h) = guard.as_mut() {
            h.saturating_record((latency.as_micros() as u64).clamp(1, 60_000_000));
        }
    }
}

fn percentile(h: &Mutex<Option<Histogram<u64>>>, p: f64) -> Option<Duration> {
    let guard = h.lock().ok()?;
    let h = guard.as_ref()?;
    (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(p / 100.0)))
}

fn count(h: &Mutex<Option<Histogram<u64>>>) -> u64 {
    h.lock().ok().and_then(|g| g.as_ref().map(|h| h.len())).unwrap_or(0)
}

impl Default for SessionMetrics {
    fn default() -> Self {
        SessionMetrics {
            messages_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            audio_frames_sent: AtomicU64::new(0),
            audio_frames_dropped: AtomicU64::new(0),
            malformed_frames: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            resumes: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            go_aways: AtomicU64::new(0),
            uplink_us: histogram(),
            marks_us: [histogram(), histogram()],
            signals: Mutex::new(std::collections::VecDeque::new()),
            frame_times: Mutex::new(None),
        }
    }
}

impl SessionMetrics {
    /// Counts a message written on the socket and times it from its capture or user action.
    pub(crate) fn record_sent(&self, item: &super::outbound::Item) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        if matches!(&item.msg, crate::protocol::ClientMessage::RealtimeInput(r) if r.audio.is_some()) {
            self.audio_frames_sent.fetch_add(1, Ordering::Relaxed);
        }
        let signal = match &item.msg {
            crate::protocol::ClientMessage::RealtimeInput(r) if r.activity_end.is_some() => Some(Signal::ActivityEnd),
            crate::protocol::ClientMessage::RealtimeInput(r) if r.activity_start.is_some() => {
                Some(Signal::ActivityStart)
            }
            crate::protocol::ClientMessage::RealtimeInput(r) if r.audio_stream_end == Some(true) => {
                Some(Signal::AudioStreamEnd)
            }
            _ => None,
        };
        if let Some(s) = signal {
            self.record_signal(s, Instant::now());
        }
        if let Some(t) = item.captured_at {
            self.record_uplink(t.elapsed());
            self.record_frame_time(t);
        }
        if let Some((m, t)) = item.mark {
            self.record_mark(m, t.elapsed());
        }
    }

    pub(crate) fn record_uplink(&self, latency: Duration) {
        record(&self.uplink_us, latency);
    }

    pub(crate) fn record_mark(&self, mark: Mark, latency: Duration) {
        record(&self.marks_us[mark as usize], latency);
    }

    pub(crate) fn record_signal(&self, signal: Signal, at: Instant) {
        if let Ok(mut log) = self.signals.lock() {
            if log.len() >= SIGNALS {
                log.pop_front();
            }
            log.push_back((signal, at));
        }
    }

    fn record_frame_time(&self, captured: Instant) {
        if let Ok(mut guard) = self.frame_times.lock() {
            if let Some(log) = guard.as_mut().filter(|l| l.len() < FRAME_TIMES) {
                log.push((captured, Instant::now()));
            }
        }
    }

    /// From now on keep every audio frame's capture and socket write times (at most [`FRAME_TIMES`]).
    pub fn keep_frame_times(&self) {
        if let Ok(mut guard) = self.frame_times.lock() {
            guard.get_or_insert_with(Vec::new);
        }
    }

    /// The audio frames written since [`SessionMetrics::keep_frame_times`]: (capture time, socket write
    /// time), in the order written.
    pub fn frame_times(&self) -> Vec<(Instant, Instant)> {
        self.frame_times.lock().ok().and_then(|g| g.clone()).unwrap_or_default()
    }

    /// Activity signals written on the socket so far (the latest [`SIGNALS`]), oldest first.
    pub fn signals(&self) -> Vec<(Signal, Instant)> {
        self.signals
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default()
    }

    /// A copy of the capture-to-socket histogram (microseconds), to merge several sessions' frames.
    pub fn uplink_histogram(&self) -> Option<Histogram<u64>> {
        self.uplink_us.lock().ok().and_then(|h| h.clone())
    }

    /// Percentile (0-100) of capture-to-socket latency, if any frame carried a capture time.
    pub fn uplink_percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.uplink_us, p)
    }

    pub fn uplink_count(&self) -> u64 {
        count(&self.uplink_us)
    }

    /// Percentile (0-100) of a user action's time to the socket, once one was recorded.
    pub fn mark_percentile(&self, mark: Mark, p: f64) -> Option<Duration> {
        percentile(&self.marks_us[mark as usize], p)
    }

    pub fn mark_count(&self, mark: Mark) -> u64 {
        count(&self.marks_us[mark as usize])
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every counter and the uplink latency percentiles, as one JSON object (`--metrics FILE`).
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |p: f64| self.uplink_percentile(p).map(|d| d.as_secs_f64() * 1e3);
        let g = Self::get;
        let sent = g(&self.messages_sent);
        let errors = g(&self.malformed_frames) + g(&self.reconnects);
        serde_json::json!({
            "sessions": 1,
            "connections": g(&self.connections),
            "messages_sent": sent,
            "messages_received": g(&self.messages_received),
            "audio_frames_sent": g(&self.audio_frames_sent),
            "audio_frames_dropped": g(&self.audio_frames_dropped),
            "malformed_frames": g(&self.malformed_frames),
            "reconnects": g(&self.reconnects),
            "resumes": g(&self.resumes),
            "restarts": g(&self.restarts),
            "replayed": g(&self.replayed),
            "go_aways": g(&self.go_aways),
            "error_rate": if sent + g(&self.messages_received) == 0 { 0.0 } else {
                errors as f64 / (sent + g(&self.messages_received)) as f64
            },
            "uplink_latency_ms": {
                "count": self.uplink_count(),
                "mean": self.uplink_mean().map(|d| d.as_secs_f64() * 1e3),
                "p50": ms(50.0), "p95": ms(95.0), "p99": ms(99.0),
            },
        })
    }

    /// Mean capture-to-socket latency, if any frame carried a capture time.
    pub fn uplink_mean(&self) -> Option<Duration> {
        let guard = self.uplink_us.lock().ok()?;
        let h = guard.as_ref()?;
        (!h.is_empty()).then(|| Duration::from_micros(h.mean() as u64))
    }

    /// Writes [`SessionMetrics::to_json`] to `path` through a temporary name.
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        std::fs::write(&part, text + "\n")?;
        std::fs::rename(&part, path)
    }
}
