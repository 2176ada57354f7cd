//! voxlive patch: the latency a PulseAudio stream's callbacks report, from rare timing polls and the audio the
//! callbacks moved in between (see [`LATENCY_POLL_INTERVAL`]).

use std::{sync::atomic::Ordering, time::Duration};

#[cfg(not(target_has_atomic = "64"))]
use portable_atomic::AtomicU64;
#[cfg(target_has_atomic = "64")]
use std::sync::atomic::AtomicU64;

use pulseaudio::protocol;

/// voxlive patch: how often the latency thread asks the server for timing info (a round trip through the
/// reactor and the server, which wakes three threads). Upstream asked after every callback and at least every
/// 100 ms, because it interpolated between polls as if no audio moved (the latency only fell during playback,
/// only grew during capture), so its estimate drifted by whatever the stream moved since the last poll;
/// [`LatencyClock`] counts what the callbacks moved, so the estimate stays right between polls and a poll a
/// second only corrects the drift between the device and the system clock. Play and pause still poll at once.
pub(super) const LATENCY_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// voxlive patch: the most the interpolation moves a polled latency: a poll older than this (a stream that was
/// corked, a server that is slow to answer) is not extrapolated further.
const LATENCY_MAX_CORRECTION: Duration = Duration::from_millis(100);

/// voxlive patch: the stream's latency as last polled, and what the callbacks moved since, so a callback's
/// timestamp is interpolated from both (lock-free: the callbacks run on the reactor thread).
pub(super) struct LatencyClock {
    /// The latency the last poll found, in microseconds.
    latency_usec: AtomicU64,
    /// Microseconds since stream creation at the last poll.
    poll_usec: AtomicU64,
    /// Bytes the callbacks have moved in all (read from a record stream, written to a playback stream)...
    moved_bytes: AtomicU64,
    /// ... and at the last poll.
    poll_bytes: AtomicU64,
    bytes_per_frame: u64,
    rate: u64,
}

impl LatencyClock {
    pub(super) fn new(spec: protocol::SampleSpec) -> Self {
        Self {
            latency_usec: AtomicU64::new(0),
            poll_usec: AtomicU64::new(0),
            moved_bytes: AtomicU64::new(0),
            poll_bytes: AtomicU64::new(0),
            bytes_per_frame: (spec.format.bytes_per_sample() * spec.channels as usize) as u64,
            rate: u64::from(spec.sample_rate),
        }
    }

    /// Microseconds of audio in `bytes`.
    fn bytes_usec(&self, bytes: u64) -> u64 {
        if self.bytes_per_frame == 0 || self.rate == 0 {
            return 0;
        }
        (bytes / self.bytes_per_frame).saturating_mul(1_000_000) / self.rate
    }

    /// The latency at `elapsed_usec` (since stream creation). Since the poll, time went by and the callbacks
    /// moved audio: a record stream's backlog grew by the time and shrank by what was read; a playback
    /// stream's queue shrank by the time and grew by what was written.
    pub(super) fn latency_at(&self, elapsed_usec: u64, record: bool) -> u64 {
        let stored = self.latency_usec.load(Ordering::Relaxed);
        let since = elapsed_usec.saturating_sub(self.poll_usec.load(Ordering::Relaxed));
        let moved = self.moved_bytes.load(Ordering::Relaxed);
        let moved = self.bytes_usec(moved.saturating_sub(self.poll_bytes.load(Ordering::Relaxed)));
        let cap = LATENCY_MAX_CORRECTION.as_micros() as i64;
        let drift = (since as i64).saturating_sub(moved as i64).clamp(-cap, cap);
        let drift = if record { drift } else { -drift };
        stored.saturating_add_signed(drift)
    }

    /// Whether a callback at `elapsed_usec` should wake the latency thread (see [`LATENCY_POLL_INTERVAL`]).
    pub(super) fn poll_due(&self, elapsed_usec: u64) -> bool {
        let since = elapsed_usec.saturating_sub(self.poll_usec.load(Ordering::Relaxed));
        since >= LATENCY_POLL_INTERVAL.as_micros() as u64
    }

    /// A callback moved `bytes`.
    pub(super) fn moved(&self, bytes: usize) {
        self.moved_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The latency thread polled `latency` at `elapsed_usec`.
    pub(super) fn polled(&self, elapsed_usec: u64, latency: Duration) {
        self.poll_bytes
            .store(self.moved_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        self.poll_usec.store(elapsed_usec, Ordering::Relaxed);
        self.latency_usec.store(
            latency.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The latency a timing-info reply gives: the device's own plus what is queued between the client and the
/// device (voxlive patch: returned instead of stored, for [`LatencyClock::polled`]; the offsets are a server's
/// numbers, so their difference saturates instead of overflowing).
pub(super) fn polled_latency(
    sample_spec: protocol::SampleSpec,
    device_latency_usec: u64,
    write_offset: i64,
    read_offset: i64,
) -> Duration {
    let offset = write_offset.saturating_sub(read_offset).max(0) as u64;
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    Duration::from_micros(device_latency_usec).saturating_add(sample_spec.bytes_to_duration(offset))
}

/// voxlive patch: the latency interpolation between polls.
#[cfg(test)]
mod tests {
    use super::*;

    /// 48 kHz stereo 16-bit: 192 bytes a millisecond.
    fn spec() -> protocol::SampleSpec {
        protocol::SampleSpec {
            format: protocol::SampleFormat::S16Le,
            channels: 2,
            sample_rate: 48_000,
        }
    }

    fn clock() -> LatencyClock {
        LatencyClock::new(spec())
    }

    const MS_BYTES: usize = 192;

    #[test]
    fn a_steady_stream_keeps_the_polled_latency_between_polls() {
        let c = clock();
        c.polled(1_000_000, Duration::from_millis(30));
        // 500 ms later the callbacks have moved 500 ms of audio: the backlog is what it was
        c.moved(500 * MS_BYTES);
        assert_eq!(c.latency_at(1_500_000, true), 30_000);
        assert_eq!(c.latency_at(1_500_000, false), 30_000);
    }

    #[test]
    fn time_without_callbacks_grows_a_capture_backlog_and_drains_a_playback_queue() {
        let c = clock();
        c.polled(0, Duration::from_millis(30));
        c.moved(10 * MS_BYTES);
        // 25 ms went by, 10 ms were moved
        assert_eq!(c.latency_at(25_000, true), 45_000);
        assert_eq!(c.latency_at(25_000, false), 15_000);
        // a playback queue cannot drain below nothing
        assert_eq!(c.latency_at(80_000, false), 0);
    }

    #[test]
    fn a_stale_poll_moves_the_estimate_by_at_most_the_cap() {
        let c = clock();
        c.polled(0, Duration::from_millis(30));
        let cap = LATENCY_MAX_CORRECTION.as_micros() as u64;
        // a stream corked for ten seconds, polled before: not extrapolated by ten seconds
        assert_eq!(c.latency_at(10_000_000, true), 30_000 + cap);
        // far more written than time went by (a burst at start-up): bounded the other way
        c.moved(10_000 * MS_BYTES);
        assert_eq!(c.latency_at(1_000, false), 30_000 + cap);
    }

    #[test]
    fn a_new_poll_starts_counting_afresh() {
        let c = clock();
        c.polled(0, Duration::from_millis(30));
        c.moved(40 * MS_BYTES);
        c.polled(50_000, Duration::from_millis(20));
        c.moved(5 * MS_BYTES);
        assert_eq!(c.latency_at(55_000, true), 20_000);
    }

    #[test]
    fn timing_offsets_from_a_server_saturate() {
        let spec = spec();
        assert_eq!(polled_latency(spec, 5_000, 192 * 10, 0), Duration::from_millis(15));
        assert_eq!(polled_latency(spec, 5_000, 0, 192 * 10), Duration::from_millis(5));
        // no overflow on hostile offsets
        let _ = polled_latency(spec, u64::MAX, i64::MAX, i64::MIN);
    }
}
