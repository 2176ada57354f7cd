//! The DSP thread: one std thread that owns every stateful DSP stage (resamplers, framer, echo canceller,
//! VAD, jitter buffer) and joins the source to the session and the session to the sink. Echo cancellation
//! takes as its reference exactly what goes to the sink (the jitter buffer's 24 kHz output, resampled to
//! 16 kHz by a resampler of its own) and cleans each 16 kHz frame before the VAD sees it and before it
//! leaves: the reply's echo would otherwise reach the Live service and trip the VAD as "the user speaking".
//! It never waits on the network: uplink frames leave with `try_send` (drops counted), reply audio and
//! flushes arrive on a bounded channel.
//! It is woken by the capture callback (new samples), the playback callback (room in the ring) and by
//! `Player::play`/`flush` (reply audio, barge-in), and polls every [`TICK`] only when an end cannot wake it,
//! so a completed frame leaves without waiting for a poll: polling alone added 1-2 ms (p99 ~3 ms) between
//! the capture callback and the socket.
//!
//! The stages themselves are two chains the benches drive too: [`UplinkChain`] (`uplink.rs`: downmix ->
//! 16 kHz -> frames -> AEC -> VAD) and [`DownlinkChain`] (`downlink.rs`: jitter buffer -> AEC reference ->
//! device rate -> upmix); this file is the loop that joins them to the source, the sink, the channels and
//! the shared state: one turn = pump the uplink, take reply chunks and flushes, fill the sink, record
//! playout and barge-in latencies, publish counters, sleep if idle.

mod downlink;
mod uplink;
mod watch;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver as StdReceiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::framing::Frame;
use super::jitter::JitterConfig;
use super::levels::{peak_dbfs, peak_dbfs_i16, LevelMeter};
use super::recorder::Recorder;
use super::ring::{Epoch, StreamCounters};
use super::source::{AudioSink, AudioSource, SourceRead};
use super::stats::{DspCounters, LatencyRecorder, Stage};
use super::vad::{VadConfig, VadState, VadTransition};
use super::AudioError;

pub use downlink::{DownlinkChain, DOWN_STEP};
pub use uplink::{ChainFrame, UplinkChain, READ_STEP};
use watch::{warn_rarely, Watches};

/// Longest the DSP thread sleeps between polls when the source or the sink cannot wake it (files,
/// generators, [`super::ClockSink`]).
pub const TICK: Duration = Duration::from_millis(2);
/// Longest it sleeps when both ends are device streams, whose callbacks wake it (capture: new samples;
/// playback: room in the ring), as does `Player::play`/`flush`: only a safety net. Polling every [`TICK`]
/// there cost 500 wake-ups a second for nothing. Longer than a 20 ms device period, so it never fires
/// while the devices run (at 10 ms it woke the thread between every two callbacks: 50 wake-ups a second).
pub const WOKEN_TICK: Duration = Duration::from_millis(30);

/// One 20 ms, 16 kHz mono LINEAR16 frame for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkFrame {
    pub samples: Frame,
    /// When the capture callback that delivered the frame's newest samples ran.
    pub captured_at: Instant,
    /// When the DSP thread handed the frame over (the session measures `frame -> sent` from here).
    pub produced_at: Instant,
    /// Smoothed voice activity of this frame.
    pub vad: VadState,
}

/// Something the session or a mode may react to; delivered on a broadcast channel.
#[derive(Debug, Clone)]
pub enum AudioEvent {
    /// The user started speaking. `preroll` holds the frames before the onset (oldest first), already sent
    /// on the uplink labelled Silence: a consumer that gates on speech sends them first.
    SpeechStart {
        at: Instant,
        preroll: Arc<Vec<Frame>>,
    },
    SpeechEnd {
        at: Instant,
    },
    /// A file or generator source reached its end; the downlink keeps running.
    SourceEnded,
    /// A device failed; the DSP thread has stopped and the uplink channel is closed.
    DeviceError(AudioError),
}

/// Reply audio or nothing, for the downlink channel. Flushes travel through [`Shared::generation`].
pub(crate) struct Downlink {
    pub samples: Vec<i16>,
    pub received_at: Instant,
    pub generation: u64,
    /// No samples: the reply before this marker is complete.
    pub end_of_reply: bool,
}

/// State the engine, the players and the DSP thread share.
#[derive(Default)]
pub(crate) struct Shared {
    pub stop: AtomicBool,
    /// Bumped by every flush; chunks tagged with an older generation are dropped, so a flush also drops what
    /// was still queued in the channel, in order, without a lock.
    pub generation: AtomicU64,
    pub counters: DspCounters,
    /// The DSP thread's part of [`super::Player::is_playing`]: reply samples wait in the jitter buffer or
    /// the sink has not yet played the last one written.
    pub playing: AtomicBool,
    /// Chunks `Player::play` queued that the DSP thread has not yet taken (pushed or dropped as stale).
    pub in_flight: AtomicU64,
    /// The onset of the latest [`super::Player::barge_in`] ([`Epoch`] nanoseconds, at least 1), 0 = none;
    /// the DSP thread takes it when it applies the flush.
    pub barge_onset: AtomicU64,
    /// The time origin of `barge_onset`.
    pub epoch: Epoch,
    pub levels: LevelMeter,
    /// Set when the DSP thread has ended: nothing will be played any more (is_playing is false).
    pub finished: AtomicBool,
    pub latency: LatencyRecorder,
    /// Why the DSP thread ended, if it failed.
    pub failure: std::sync::Mutex<Option<AudioError>>,
    /// The DSP thread, unparked by [`super::Player::play`] so reply audio waits for no poll tick.
    pub thread: std::sync::OnceLock<std::thread::Thread>,
}

pub(crate) struct Dsp {
    pub source: Box<dyn AudioSource>,
    pub sink: Box<dyn AudioSink>,
    pub shared: Arc<Shared>,
    pub uplink: mpsc::Sender<UplinkFrame>,
    pub events: broadcast::Sender<AudioEvent>,
    pub downlink: StdReceiver<Downlink>,
    pub vad: VadConfig,
    pub jitter: JitterConfig,
    pub echo_cancellation: bool,
    pub recorder: Option<Recorder>,
}

/// What the DSP thread builds on itself (the `!Send` stages) and carries from one loop turn to the next.
struct State {
    up: UplinkChain,
    down: DownlinkChain,
    read_buf: Vec<f32>,
    /// The flush generation applied so far.
    generation: u64,
    source_ended: bool,
    /// A chunk received ahead of the flush it was sent after.
    waiting: Option<Downlink>,
    /// Arrival time of the chunk that started the current reply (pushed into an idle jitter buffer).
    reply_start: Option<Instant>,
    /// The onset of a barge-in whose flush has not yet reached the device.
    barge_in: Option<Instant>,
    watches: Watches,
    tick: Duration,
    /// The capture stream's counters, where the uplink says how much input completes its next frame.
    capture: Option<Arc<StreamCounters>>,
}

/// Where a finished uplink frame goes: events, the recorder, latency, the session.
struct Outlets<'a> {
    uplink: &'a mpsc::Sender<UplinkFrame>,
    events: &'a broadcast::Sender<AudioEvent>,
    recorder: &'a mut Option<Recorder>,
    shared: &'a Shared,
}

impl Outlets<'_> {
    fn deliver(&mut self, frame: ChainFrame<'_>, captured_at: Instant) {
        let now = Instant::now();
        match frame.transition {
            Some(VadTransition::SpeechStart) => {
                let preroll = Arc::new(std::mem::take(frame.preroll));
                let _ = self.events.send(AudioEvent::SpeechStart { at: now, preroll });
            }
            Some(VadTransition::SpeechEnd) => {
                let _ = self.events.send(AudioEvent::SpeechEnd { at: now });
            }
            None => {}
        }
        if let Some(rec) = self.recorder.as_mut() {
            rec.mic_raw(frame.raw);
            rec.mic(frame.samples);
        }
        let shared = self.shared;
        shared.levels.set_mic(peak_dbfs_i16(frame.samples));
        shared
            .latency
            .record(Stage::CaptureToFrame, now.saturating_duration_since(captured_at));
        let f = UplinkFrame {
            samples: *frame.samples,
            captured_at,
            produced_at: now,
            vad: frame.vad,
        };
        let c = &shared.counters;
        match self.uplink.try_send(f) {
            Ok(()) => {
                c.frames.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = c.frames_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                warn_rarely(n, "uplink queue full: the session is not keeping up, frame dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl Dsp {
    /// The thread body. Builds the `!Send` stages here, then loops until stopped or a device fails.
    pub fn run(mut self) {
        if let Err(e) = self.run_inner() {
            tracing::error!(error = %e, "audio DSP thread stopped");
            if let Ok(mut f) = self.shared.failure.lock() {
                *f = Some(e.clone());
            }
            let _ = self.events.send(AudioEvent::DeviceError(e));
        }
        self.shared.finished.store(true, Ordering::Release);
    }

    fn run_inner(&mut self) -> Result<(), AudioError> {
        let mut st = self.prepare()?;
        while !self.shared.stop.load(Ordering::Acquire) {
            self.sink.check()?;
            let busy = self.pump_uplink(&mut st)?;
            self.take_downlink(&mut st);
            self.fill_sink(&mut st)?;
            self.record_playout(&mut st);
            self.watch_barge_in(&mut st);
            self.publish(&mut st);
            if !busy {
                self.idle(&mut st);
            }
        }
        Ok(())
    }

    /// Builds both chains, registers this thread for wake-ups and starts the source and the sink.
    fn prepare(&mut self) -> Result<State, AudioError> {
        let (in_fmt, out_fmt) = (self.source.format(), self.sink.format());
        let up = UplinkChain::new(in_fmt, self.vad, self.echo_cancellation)?;
        let down = DownlinkChain::new(out_fmt, self.jitter)?;
        let (in_counters, out_counters) = (self.source.counters(), self.sink.counters());
        // Wake-ups: the capture callback and Player::play unpark this thread; TICK bounds the sleep otherwise.
        let _ = self.shared.thread.set(std::thread::current());
        for counters in in_counters.iter().chain(&out_counters) {
            let _ = counters.wake.set(std::thread::current());
        }
        let tick = if in_counters.is_some() && out_counters.is_some() {
            WOKEN_TICK
        } else {
            TICK
        };
        let st = State {
            read_buf: vec![0.0; READ_STEP * up.channels()],
            up,
            down,
            generation: self.shared.generation.load(Ordering::Acquire),
            source_ended: false,
            waiting: None,
            reply_start: None,
            barge_in: None,
            capture: in_counters.clone(),
            watches: Watches::new(in_counters, out_counters),
            tick,
        };
        self.source.start();
        self.sink.start();
        tracing::debug!(?in_fmt, ?out_fmt, "audio DSP thread running");
        Ok(st)
    }

    /// Uplink: reads what the source has and runs it through the chain; true if anything was read.
    fn pump_uplink(&mut self, st: &mut State) -> Result<bool, AudioError> {
        let mut busy = false;
        while !st.source_ended {
            let n = match self.source.read(&mut st.read_buf)? {
                SourceRead::Data(n) => n,
                SourceRead::Pending => break,
                SourceRead::Ended => {
                    st.source_ended = true;
                    let _ = self.events.send(AudioEvent::SourceEnded);
                    break;
                }
            };
            busy = true;
            let captured_at = self.source.captured_at();
            let mut out = Outlets {
                uplink: &self.uplink,
                events: &self.events,
                recorder: &mut self.recorder,
                shared: &self.shared,
            };
            st.up
                .process(&st.read_buf[..n], |frame| out.deliver(frame, captured_at))?;
            if n < st.read_buf.len() {
                break;
            }
        }
        if let Some(c) = &st.capture {
            c.wake_at.store(st.up.input_for_next_frame(), Ordering::Relaxed);
        }
        Ok(busy)
    }

    /// Downlink input: applies flushes and moves queued reply chunks into the jitter buffer, dropping the
    /// ones a flush made stale.
    fn take_downlink(&mut self, st: &mut State) {
        let mut flush_to = self.shared.generation.load(Ordering::Acquire);
        loop {
            if flush_to != st.generation {
                st.generation = flush_to;
                self.apply_flush(st);
            }
            let d = match st.waiting.take() {
                Some(d) => d,
                None => match self.downlink.try_recv() {
                    Ok(d) => d,
                    Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
                },
            };
            // a chunk tagged with a newer generation was sent after a flush we have not applied yet
            if d.generation > st.generation {
                flush_to = d.generation;
                st.waiting = Some(d);
                continue;
            }
            if d.generation == st.generation && d.end_of_reply {
                st.down.end_of_reply();
            } else if d.generation == st.generation {
                if st.down.push(&d.samples, d.received_at) {
                    st.reply_start = Some(d.received_at);
                }
                // playing before the chunk stops counting as in flight: is_playing never blinks false
                let audible = st.down.jitter().has_audio();
                self.shared.playing.fetch_or(audible, Ordering::AcqRel);
            }
            self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Drops the queued reply everywhere: jitter buffer, resamplers, chunk marks, the sink (which fades out
    /// what it was about to play). A barge-in's onset is kept until the sink reports the flush applied.
    fn apply_flush(&mut self, st: &mut State) {
        st.down.flush();
        self.sink.flush();
        let onset = self.shared.barge_onset.swap(0, Ordering::AcqRel);
        if onset != 0 {
            st.barge_in = Some(self.shared.epoch.instant(onset));
        }
    }

    /// Records barge-in -> silence once the sink has applied the flush: on a device, the output callback
    /// that played the fade-out and the silence after it ran at `last_played`.
    fn watch_barge_in(&mut self, st: &mut State) {
        let Some(onset) = st.barge_in else { return };
        if self.sink.flush_pending() {
            return;
        }
        st.barge_in = None;
        let silent_at = self.sink.last_played().unwrap_or_else(Instant::now);
        self.shared
            .latency
            .record_span(Stage::BargeInToSilence, onset, silent_at);
    }

    /// Downlink output: steps the chain while the sink wants audio, bounded by what it wanted at the start
    /// of the turn (a sink that consumes instantly, as-fast-as-possible pacing, must not keep this busy).
    fn fill_sink(&mut self, st: &mut State) -> Result<(), AudioError> {
        let step = st.down.step_len();
        let mut budget = self.sink.wanted();
        while budget >= step {
            budget -= step;
            let pulled = st.down.pull(Instant::now());
            self.shared.levels.set_speaker(peak_dbfs(pulled));
            if let Some(rec) = self.recorder.as_mut() {
                rec.speaker(pulled);
            }
            st.down.render_reference(st.up.echo_canceller())?;
            let sink = &mut self.sink;
            st.down.to_sink(|samples| sink.write(samples))?;
        }
        Ok(())
    }

    /// Latency marks: every chunk whose first sample the device has taken records reply -> speaker.
    fn record_playout(&mut self, st: &mut State) {
        let played = st.down.written().saturating_sub(self.sink.queued());
        let last = self.sink.last_played();
        let (latency, reply_start) = (&self.shared.latency, &mut st.reply_start);
        st.down.take_played(played, |at| {
            if let Some(t) = last {
                latency.record(Stage::ReplyToPlayout, t.saturating_duration_since(at));
                if *reply_start == Some(at) {
                    *reply_start = None;
                    latency.record_span(Stage::FirstReplyToPlayout, at, t);
                }
            }
        });
    }

    /// Rare warnings and the counters [`super::AudioEngine::stats`] and [`super::Player`] read.
    fn publish(&mut self, st: &mut State) {
        let c = &self.shared.counters;
        st.watches.check(c);
        let played = st.down.written().saturating_sub(self.sink.queued());
        self.shared
            .playing
            .store(st.down.reply_pending(played), Ordering::Release);
        let jitter = st.down.jitter();
        c.jitter_underruns.store(jitter.underruns(), Ordering::Relaxed);
        c.jitter_target_us
            .store(jitter.target_depth().as_micros() as u64, Ordering::Relaxed);
        c.jitter_depth_us
            .store(jitter.depth().as_micros() as u64, Ordering::Relaxed);
        if let Some(rec) = &self.recorder {
            c.side_dropped.store(rec.dropped(), Ordering::Relaxed);
        }
    }

    /// Nothing read this turn: take a waiting chunk, or sleep until a device callback or a Player wakes
    /// us, or the tick passes (a source or sink that cannot wake us is polled).
    fn idle(&mut self, st: &mut State) {
        match self.downlink.try_recv() {
            Ok(d) => st.waiting = Some(d),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => std::thread::park_timeout(st.tick),
        }
    }
}
