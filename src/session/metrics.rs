//! Session counters and the uplink latency histogram, shared between the handle and the actor. Read them
//! at any time; nothing here is touched by an audio callback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

#[derive(Debug)]
pub struct SessionMetrics {
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
    pub audio_frames_sent: AtomicU64,
    /// Audio frames dropped because the outbound queue was full (the network fell behind).
    pub audio_frames_dropped: AtomicU64,
    pub malformed_frames: AtomicU64,
    /// From the capture timestamp a frame carries to its bytes written on the socket, in microseconds.
    /// `None` only if hdrhistogram refused the (valid, constant) bounds: then nothing is recorded.
    uplink_us: Mutex<Option<Histogram<u64>>>,
}

impl Default for SessionMetrics {
    fn default() -> Self {
        SessionMetrics {
            messages_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            audio_frames_sent: AtomicU64::new(0),
            audio_frames_dropped: AtomicU64::new(0),
            malformed_frames: AtomicU64::new(0),
            // 1 us .. 60 s, 3 significant digits.
            uplink_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).ok()),
        }
    }
}

impl SessionMetrics {
    pub(crate) fn record_uplink(&self, latency: Duration) {
        if let Ok(mut guard) = self.uplink_us.lock() {
            if let Some(h) = guard.as_mut() {
                h.saturating_record((latency.as_micros() as u64).clamp(1, 60_000_000));
            }
        }
    }

    /// Percentile (0-100) of capture-to-socket latency, if any frame carried a capture time.
    pub fn uplink_percentile(&self, p: f64) -> Option<Duration> {
        let guard = self.uplink_us.lock().ok()?;
        let h = guard.as_ref()?;
        (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(p / 100.0)))
    }

    pub fn uplink_count(&self) -> u64 {
        self.uplink_us
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|h| h.len()))
            .unwrap_or(0)
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
