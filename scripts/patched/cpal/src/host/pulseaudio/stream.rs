use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex,
    },
    time::{Duration, Instant},
};

#[cfg(not(target_has_atomic = "64"))]
use portable_atomic::AtomicU64;
#[cfg(target_has_atomic = "64")]
use std::sync::atomic::AtomicU64;

use futures::executor::block_on;
use futures::FutureExt as _;
use pulseaudio::{protocol, AsPlaybackSource};

use crate::{
    host::{emit_error, latch::Latch, ErrorCallbackArc},
    traits::StreamTrait,
    Data, Error, ErrorKind, FrameCount, InputCallbackInfo, InputStreamTimestamp,
    OutputCallbackInfo, OutputStreamTimestamp, SampleFormat, StreamInstant,
};

/// voxlive patch: how often the latency thread asks the server for timing info (a round trip through the
/// reactor and the server, which wakes three threads). Upstream asked after every callback and at least every
/// 100 ms, because it interpolated between polls as if no audio moved (the latency only fell during playback,
/// only grew during capture), so its estimate drifted by whatever the stream moved since the last poll;
/// [`LatencyClock`] counts what the callbacks moved, so the estimate stays right between polls and a poll a
/// second only corrects the drift between the device and the system clock. Play and pause still poll at once.
const LATENCY_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// voxlive patch: the most the interpolation moves a polled latency: a poll older than this (a stream that was
/// corked, a server that is slow to answer) is not extrapolated further.
const LATENCY_MAX_CORRECTION: Duration = Duration::from_millis(100);

/// Whether a callback at `elapsed_usec` should wake the latency thread (see [`LATENCY_POLL_INTERVAL`]).
fn poll_due(elapsed_usec: u64, poll_usec: u64) -> bool {
    elapsed_usec.saturating_sub(poll_usec) >= LATENCY_POLL_INTERVAL.as_micros() as u64
}

/// voxlive patch: the stream's latency as last polled, and what the callbacks moved since, so a callback's
/// timestamp is interpolated from both (lock-free: the callbacks run on the reactor thread).
struct LatencyClock {
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
    fn new(spec: protocol::SampleSpec) -> Self {
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
    fn latency_at(&self, elapsed_usec: u64, record: bool) -> u64 {
        let stored = self.latency_usec.load(Ordering::Relaxed);
        let since = elapsed_usec.saturating_sub(self.poll_usec.load(Ordering::Relaxed));
        let moved = self.moved_bytes.load(Ordering::Relaxed);
        let moved = self.bytes_usec(moved.saturating_sub(self.poll_bytes.load(Ordering::Relaxed)));
        let cap = LATENCY_MAX_CORRECTION.as_micros() as i64;
        let drift = (since as i64).saturating_sub(moved as i64).clamp(-cap, cap);
        let drift = if record { drift } else { -drift };
        stored.saturating_add_signed(drift)
    }

    /// A callback moved `bytes`.
    fn moved(&self, bytes: usize) {
        self.moved_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The latency thread polled `latency` at `elapsed_usec`.
    fn polled(&self, elapsed_usec: u64, latency: Duration) {
        self.poll_bytes
            .store(self.moved_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        self.poll_usec.store(elapsed_usec, Ordering::Relaxed);
        self.latency_usec.store(
            latency.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

// Coordinates the latency polling thread
struct LatencyHandle {
    // Cancellation on drop
    cancel: Arc<AtomicBool>,
    // Event-driven early wakeup from callbacks and play/pause
    update: Arc<(Mutex<bool>, Condvar)>,
}

impl LatencyHandle {
    fn new() -> Self {
        Self {
            cancel: Arc::new(AtomicBool::new(false)),
            update: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    // Trigger an early poll
    fn notify(&self) {
        let (lock, cvar) = &*self.update;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_one();
    }

    // Signal cancellation and wake the thread immediately
    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.notify();
    }
}

enum StreamInner {
    Playback(pulseaudio::PlaybackStream, Instant, LatencyHandle),
    Record(pulseaudio::RecordStream, Instant, LatencyHandle),
}

pub struct Stream {
    inner: StreamInner,
    workers: Vec<std::thread::JoinHandle<()>>,
    latch: Latch,
}

impl Drop for Stream {
    fn drop(&mut self) {
        match &mut self.inner {
            StreamInner::Playback(stream, _, handle) => {
                handle.cancel();
                // Help the play_all driver thread terminate by
                // queueing a delete, which causes the reactor to drop
                // the source's eof_tx. We need to do this because
                // poll_read always reports a non-empty buffer.
                let _ = stream.clone().delete().now_or_never();
            }
            StreamInner::Record(_, _, handle) => {
                handle.cancel();
            }
        }

        // Unpark the threads in case they're sleeping.
        self.signal_ready();

        for handle in self.workers.drain(..) {
            // Prevent self-join: a worker thread may surface an error
            // through the user's error_callback, and that callback may
            // drop the Stream — in which case we'd be joining ourselves.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl StreamTrait for Stream {
    fn play(&self) -> Result<(), Error> {
        match &self.inner {
            StreamInner::Playback(stream, _, handle) => {
                block_on(stream.uncork()).map_err(Error::from)?;
                handle.notify();
            }
            StreamInner::Record(stream, _, handle) => {
                block_on(stream.uncork()).map_err(Error::from)?;
                block_on(stream.started()).map_err(Error::from)?;
                handle.notify();
            }
        }
        Ok(())
    }

    fn pause(&self) -> Result<(), Error> {
        let res = match &self.inner {
            StreamInner::Playback(stream, _, _) => block_on(stream.cork()),
            StreamInner::Record(stream, _, _) => block_on(stream.cork()),
        };
        res.map_err(Error::from)?;
        match &self.inner {
            StreamInner::Playback(_, _, handle) | StreamInner::Record(_, _, handle) => {
                handle.notify()
            }
        }
        Ok(())
    }

    fn now(&self) -> StreamInstant {
        let start = match &self.inner {
            StreamInner::Playback(_, start, _) | StreamInner::Record(_, start, _) => *start,
        };
        let elapsed = start.elapsed();
        StreamInstant::new(elapsed.as_secs(), elapsed.subsec_nanos())
    }

    fn buffer_size(&self) -> Result<FrameCount, Error> {
        let (spec, bytes) = match &self.inner {
            StreamInner::Playback(s, _, _) => (
                s.sample_spec(),
                s.buffer_attr().minimum_request_length as usize,
            ),
            StreamInner::Record(s, _, _) => {
                (s.sample_spec(), s.buffer_attr().fragment_size as usize)
            }
        };
        let frame_size = spec.channels as usize * spec.format.bytes_per_sample();
        Ok((bytes / frame_size) as _)
    }
}

impl Stream {
    pub fn new_playback<D, E>(
        client: pulseaudio::Client,
        params: protocol::PlaybackStreamParams,
        mut data_callback: D,
        error_callback: E,
    ) -> Result<Self, Error>
    where
        D: FnMut(&mut Data, &OutputCallbackInfo) + Send + 'static,
        E: FnMut(Error) + Send + 'static,
    {
        let start = Instant::now();

        let sample_spec = params.sample_spec;
        let clock = Arc::new(LatencyClock::new(sample_spec));
        let clock_callback = clock.clone();
        let pa_format = sample_spec.format;

        let format: SampleFormat = pa_format.try_into().map_err(|_| {
            Error::with_message(
                ErrorKind::UnsupportedConfig,
                "Sample format is not supported",
            )
        })?;

        // Silence for unsigned formats is the midpoint, not zero. Among
        // PulseAudio's supported formats, only U8 is unsigned and has a
        // single-byte repeatable silence representation (0x80). Multi-byte
        // unsigned formats (U16, U32, ...) are not currently supported.
        let silence_byte = if format == SampleFormat::U8 {
            0x80u8
        } else {
            0u8
        };

        let handle = LatencyHandle::new();
        let update_callback = handle.update.clone();

        // Wrap the write callback to match the pulseaudio signature.
        let callback = move |buf: &mut [u8]| {
            let elapsed = Instant::now().saturating_duration_since(start);
            let elapsed_usec = elapsed.as_micros() as u64;

            // voxlive patch: interpolated from the last poll and what was written since (LatencyClock).
            let latency = clock_callback.latency_at(elapsed_usec, false);
            let poll_usec = clock_callback.poll_usec.load(Ordering::Relaxed);

            let playback_time = elapsed + Duration::from_micros(latency);

            let timestamp = OutputStreamTimestamp {
                callback: StreamInstant::new(elapsed.as_secs(), elapsed.subsec_nanos()),
                playback: StreamInstant::new(playback_time.as_secs(), playback_time.subsec_nanos()),
            };

            // Preemptively fill the buffer with silence in case the user
            // callback doesn't fill it completely (cpal's API doesn't allow
            // short writes).
            buf.fill(silence_byte);

            let bps = sample_spec.format.bytes_per_sample();
            let n_samples = buf.len() / bps;

            // SAFETY: we calculated the number of samples based on
            // `sample_spec.format`, and `format` is directly derived from (and
            // equivalent to) `sample_spec.format`.
            let mut data = unsafe { Data::from_parts(buf.as_mut_ptr().cast(), n_samples, format) };

            data_callback(&mut data, &OutputCallbackInfo { timestamp });
            clock_callback.moved(buf.len());

            // Notify the latency thread that audio was written, so it updates timing info (voxlive patch:
            // at most every LATENCY_POLL_INTERVAL).
            if poll_due(elapsed_usec, poll_usec) {
                let (lock, cvar) = &*update_callback;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
                cvar.notify_one();
            }

            // We always consider the full buffer filled, because cpal's
            // user-facing API doesn't allow short writes.
            buf.len()
        };

        let stream = block_on(client.create_playback_stream(params, callback.as_playback_source()))
            .map_err(Error::from)?;

        // Share the error callback between the worker and latency threads so
        // both can surface errors to the user.
        let error_callback: ErrorCallbackArc = Arc::new(Mutex::new(error_callback));

        // Spawn a thread to drive the stream future. It will exit automatically
        // when the stream is stopped by the user.
        let stream_clone = stream.clone();
        let error_callback_clone = error_callback.clone();
        let cancel_driver = handle.cancel.clone();

        // The latch is released just before the `Stream` is returned so the driver and latency
        // threads cannot fire any callbacks before the caller has the handle.
        let mut latch = Latch::new();
        let waiter_driver = latch.waiter();

        let driver_handle = std::thread::spawn(move || {
            waiter_driver.wait();
            if let Err(e) = block_on(stream_clone.play_all()) {
                // A server playback error is expected when the client
                // closes their stream. No need to report it back to
                // the client.
                if !cancel_driver.load(Ordering::Relaxed) {
                    emit_error(&error_callback_clone, Error::from(e));
                }
            }
        });

        let cancel_thread = handle.cancel.clone();
        let update_thread = handle.update.clone();
        let stream_clone = stream.clone();
        let clock_thread = clock.clone();

        let waiter_latency = latch.waiter();
        let latency_handle = std::thread::spawn(move || {
            waiter_latency.wait();
            loop {
                if cancel_thread.load(Ordering::Relaxed) {
                    break;
                }

                let timing_info = match block_on(stream_clone.timing_info()) {
                    Ok(timing_info) => timing_info,
                    Err(e) => {
                        emit_error(&error_callback, Error::from(e));
                        break;
                    }
                };

                let poll_since_epoch =
                    Instant::now().saturating_duration_since(start).as_micros() as u64;
                clock_thread.polled(
                    poll_since_epoch,
                    polled_latency(
                        sample_spec,
                        timing_info.sink_usec,
                        timing_info.write_offset,
                        timing_info.read_offset,
                    ),
                );

                // Wait until woken by a write/play/pause/drop event or until LATENCY_POLL_INTERVAL.
                let (lock, cvar) = &*update_thread;
                let Ok(guard) = lock.lock() else { break };
                let (mut guard, _) = cvar
                    .wait_timeout_while(guard, LATENCY_POLL_INTERVAL, |notified| !*notified)
                    .unwrap_or_else(|e| e.into_inner());
                *guard = false;
            }
        });

        latch.add_thread(driver_handle.thread().clone());
        latch.add_thread(latency_handle.thread().clone());
        Ok(Self {
            inner: StreamInner::Playback(stream, start, handle),
            workers: vec![driver_handle, latency_handle],
            latch,
        })
    }

    pub fn new_record<D, E>(
        client: pulseaudio::Client,
        params: protocol::RecordStreamParams,
        mut data_callback: D,
        mut error_callback: E,
    ) -> Result<Self, Error>
    where
        D: FnMut(&Data, &InputCallbackInfo) + Send + 'static,
        E: FnMut(Error) + Send + 'static,
    {
        let start = Instant::now();

        let sample_spec = params.sample_spec;
        let clock = Arc::new(LatencyClock::new(sample_spec));
        let clock_callback = clock.clone();
        let pa_format = sample_spec.format;

        let format: SampleFormat = pa_format.try_into().map_err(|_| {
            Error::with_message(
                ErrorKind::UnsupportedConfig,
                "Sample format is not supported",
            )
        })?;

        let handle = LatencyHandle::new();
        let update_callback = handle.update.clone();

        let callback = move |buf: &[u8]| {
            let elapsed = Instant::now().saturating_duration_since(start);
            let elapsed_usec = elapsed.as_micros() as u64;

            // voxlive patch: interpolated from the last poll and what was read since (LatencyClock).
            let latency = clock_callback.latency_at(elapsed_usec, true);
            let poll_usec = clock_callback.poll_usec.load(Ordering::Relaxed);

            let capture_time = elapsed
                .checked_sub(Duration::from_micros(latency))
                .unwrap_or_default();

            let timestamp = InputStreamTimestamp {
                callback: StreamInstant::new(elapsed.as_secs(), elapsed.subsec_nanos()),
                capture: StreamInstant::new(capture_time.as_secs(), capture_time.subsec_nanos()),
            };

            let bps = sample_spec.format.bytes_per_sample();
            let n_samples = buf.len() / bps;

            // SAFETY: we calculated the number of samples based on
            // `sample_spec.format`, and `format` is directly derived from (and
            // equivalent to) `sample_spec.format`. The pointer is cast from
            // *const to *mut, but cpal's Data type for input streams only
            // exposes shared references (&[T]), so no mutation occurs.
            let data = unsafe { Data::from_parts(buf.as_ptr() as *mut _, n_samples, format) };

            data_callback(&data, &InputCallbackInfo { timestamp });
            clock_callback.moved(buf.len());

            // Notify the latency thread that audio was read, so it updates timing info (voxlive patch: at
            // most every LATENCY_POLL_INTERVAL).
            if poll_due(elapsed_usec, poll_usec) {
                let (lock, cvar) = &*update_callback;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
                cvar.notify_one();
            }
        };

        let stream =
            block_on(client.create_record_stream(params, callback)).map_err(Error::from)?;

        // Spawn a thread to monitor the stream's latency in a loop.
        let cancel_thread = handle.cancel.clone();
        let update_thread = handle.update.clone();
        let stream_clone = stream.clone();
        let clock_thread = clock.clone();

        // The latch is released just before the `Stream` is returned so the latency thread cannot
        // fire any callbacks before the caller has the handle.
        let mut latch = Latch::new();
        let waiter_latency = latch.waiter();

        let latency_handle = std::thread::spawn(move || {
            waiter_latency.wait();
            loop {
                if cancel_thread.load(Ordering::Relaxed) {
                    break;
                }

                let timing_info = match block_on(stream_clone.timing_info()) {
                    Ok(timing_info) => timing_info,
                    Err(e) => {
                        error_callback(Error::from(e));
                        break;
                    }
                };

                let poll_since_epoch =
                    Instant::now().saturating_duration_since(start).as_micros() as u64;
                clock_thread.polled(
                    poll_since_epoch,
                    polled_latency(
                        sample_spec,
                        timing_info.source_usec,
                        timing_info.write_offset,
                        timing_info.read_offset,
                    ),
                );

                // Wait until woken by a read/play/pause/drop event or until LATENCY_POLL_INTERVAL.
                let (lock, cvar) = &*update_thread;
                let Ok(guard) = lock.lock() else { break };
                let (mut guard, _) = cvar
                    .wait_timeout_while(guard, LATENCY_POLL_INTERVAL, |notified| !*notified)
                    .unwrap_or_else(|e| e.into_inner());
                *guard = false;
            }
        });

        latch.add_thread(latency_handle.thread().clone());
        Ok(Self {
            inner: StreamInner::Record(stream, start, handle),
            workers: vec![latency_handle],
            latch,
        })
    }

    /// Releases the latch so the worker thread can begin processing audio callbacks.
    pub(crate) fn signal_ready(&self) {
        self.latch.release();
    }
}

/// The latency a timing-info reply gives: the device's own plus what is queued between the client and the
/// device (voxlive patch: returned instead of stored, for [`LatencyClock::polled`]; the offsets are a server's
/// numbers, so their difference saturates instead of overflowing).
fn polled_latency(
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
mod latency_clock_tests {
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
