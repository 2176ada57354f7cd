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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver as StdReceiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::aec::EchoCanceller;
use super::framing::{Frame, Framer, UPLINK_RATE};
use super::jitter::{JitterBuffer, JitterConfig, DOWNLINK_RATE};
use super::recorder::Recorder;
use super::resample::{downmix, upmix, StreamResampler};
use super::source::{AudioSink, AudioSource, SourceRead};
use super::stats::{DspCounters, LatencyRecorder, Stage};
use super::vad::{VadConfig, VadState, VadTransition, VoiceDetector};
use super::AudioError;

/// Longest the DSP thread sleeps between polls when the source or the sink cannot wake it (files,
/// generators, [`super::ClockSink`]).
pub const TICK: Duration = Duration::from_millis(2);
/// Longest it sleeps when both ends are device streams, whose callbacks wake it (capture: new samples;
/// playback: room in the ring), as does `Player::play`/`flush`: only a safety net. Polling every [`TICK`]
/// there cost 500 wake-ups a second for nothing.
pub const WOKEN_TICK: Duration = Duration::from_millis(10);
/// 24 kHz samples pulled from the jitter buffer per step (10 ms).
const DOWN_STEP: usize = 240;
/// Device samples read from the source per step.
const READ_STEP: usize = 4096;

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
}

/// State the engine, the players and the DSP thread share.
#[derive(Default)]
pub(crate) struct Shared {
    pub stop: AtomicBool,
    /// Bumped by every flush; chunks tagged with an older generation are dropped, so a flush also drops what
    /// was still queued in the channel, in order, without a lock.
    pub generation: AtomicU64,
    pub counters: DspCounters,
    /// True while reply audio is queued or playing (the jitter buffer is active).
    pub playing: AtomicBool,
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

/// Warn on the 1st and every 100th occurrence, never per event.
fn warn_rarely(count: u64, what: &str) {
    if count == 1 || count % 100 == 0 {
        tracing::warn!(count, "{what}");
    }
}

/// Turns a counter the callbacks or the Player bump into rare warnings: each tick that finds it grown is
/// one occurrence.
#[derive(Default)]
struct Watch {
    last: u64,
    occurrences: u64,
}

impl Watch {
    fn check(&mut self, value: u64, what: &str) {
        if value > self.last {
            self.last = value;
            self.occurrences += 1;
            warn_rarely(self.occurrences, what);
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
    }

    fn run_inner(&mut self) -> Result<(), AudioError> {
        let in_fmt = self.source.format();
        let out_fmt = self.sink.format();
        let in_ch = usize::from(in_fmt.channels.max(1));
        let out_ch = usize::from(out_fmt.channels.max(1));
        let mut up_rs = StreamResampler::new(in_fmt.sample_rate, UPLINK_RATE)?;
        let mut down_rs = StreamResampler::new(DOWNLINK_RATE, out_fmt.sample_rate)?;
        let mut framer = Framer::new();
        let mut vad = VoiceDetector::new(self.vad);
        // AEC (`!Send`, built here) and the resampler that turns the speaker's 24 kHz into its 16 kHz reference
        let mut aec = self.echo_cancellation.then(EchoCanceller::new);
        let mut ref_rs = StreamResampler::new(DOWNLINK_RATE, UPLINK_RATE)?;
        let mut jitter = JitterBuffer::new(self.jitter);
        let mut read_buf = vec![0.0f32; READ_STEP * in_ch];
        let mut mono = vec![0.0f32; READ_STEP];
        let mut preroll: Vec<Frame> = Vec::with_capacity(self.vad.preroll_frames + 1);
        let down_max = down_rs.max_out_per_chunk().max(DOWN_STEP);
        let mut down_buf = [0.0f32; DOWN_STEP];
        let mut out_buf = vec![0.0f32; down_max * out_ch * 2];
        let step_out =
            (DOWN_STEP as u64 * u64::from(out_fmt.sample_rate)).div_ceil(u64::from(DOWNLINK_RATE)) as usize * out_ch;
        let mut marks: VecDeque<(u64, Instant)> = VecDeque::with_capacity(256);
        let mut written: u64 = 0;
        let mut generation = self.shared.generation.load(Ordering::Acquire);
        let mut source_ended = false;
        let mut waiting: Option<Downlink> = None;
        // Arrival time of the chunk that started the current reply (pushed into an idle jitter buffer).
        let mut reply_start: Option<Instant> = None;
        let c = &self.shared.counters;
        let latency = self.shared.latency.clone();
        let (in_counters, out_counters) = (self.source.counters(), self.sink.counters());
        let (mut overruns, mut underruns, mut drops) = (Watch::default(), Watch::default(), Watch::default());
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
        self.source.start();
        self.sink.start();
        tracing::debug!(?in_fmt, ?out_fmt, "audio DSP thread running");

        while !self.shared.stop.load(Ordering::Acquire) {
            self.sink.check()?;
            // ---- uplink: source -> mono -> 16 kHz -> 20 ms frames -> VAD -> session
            let mut busy = false;
            while !source_ended {
                let n = match self.source.read(&mut read_buf)? {
                    SourceRead::Data(n) => n,
                    SourceRead::Pending => break,
                    SourceRead::Ended => {
                        source_ended = true;
                        let _ = self.events.send(AudioEvent::SourceEnded);
                        break;
                    }
                };
                busy = true;
                let captured_at = self.source.captured_at();
                let frames = downmix(&read_buf[..n], in_ch, &mut mono);
                let (uplink, events, recorder) = (&self.uplink, &self.events, &mut self.recorder);
                up_rs.process(&mono[..frames], |out16k| {
                    framer.push(out16k, |raw| {
                        let mut frame = *raw;
                        if let Some(rec) = recorder.as_mut() {
                            rec.mic_raw(raw);
                        }
                        if let Some(aec) = aec.as_mut() {
                            aec.process(&mut frame);
                        }
                        let frame = &frame;
                        let (state, transition) = vad.process(frame, &mut preroll);
                        let now = Instant::now();
                        match transition {
                            Some(VadTransition::SpeechStart) => {
                                let pre = Arc::new(std::mem::take(&mut preroll));
                                let _ = events.send(AudioEvent::SpeechStart { at: now, preroll: pre });
                            }
                            Some(VadTransition::SpeechEnd) => {
                                let _ = events.send(AudioEvent::SpeechEnd { at: now });
                            }
                            None => {}
                        }
                        if let Some(rec) = recorder.as_mut() {
                            rec.mic(frame);
                        }
                        latency.record(Stage::CaptureToFrame, now.saturating_duration_since(captured_at));
                        let f = UplinkFrame {
                            samples: *frame,
                            captured_at,
                            produced_at: now,
                            vad: state,
                        };
                        match uplink.try_send(f) {
                            Ok(()) => {
                                c.frames.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                let n = c.frames_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                                warn_rarely(n, "uplink queue full: the session is not keeping up, frame dropped");
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => {}
                        }
                    })
                })?;
                if n < read_buf.len() {
                    break;
                }
            }

            // ---- downlink: channel -> jitter buffer -> device rate -> sink
            let mut flush_to = self.shared.generation.load(Ordering::Acquire);
            loop {
                if flush_to != generation {
                    generation = flush_to;
                    jitter.flush();
                    down_rs.reset();
                    ref_rs.reset();
                    self.sink.flush();
                    marks.clear();
                }
                let d = match waiting.take() {
                    Some(d) => d,
                    None => match self.downlink.try_recv() {
                        Ok(d) => d,
                        Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
                    },
                };
                // a chunk tagged with a newer generation was sent after a flush we have not applied yet
                if d.generation > generation {
                    flush_to = d.generation;
                    waiting = Some(d);
                } else if d.generation == generation {
                    if !jitter.is_active() {
                        reply_start = Some(d.received_at);
                    }
                    jitter.push(&d.samples, d.received_at);
                }
            }
            // bounded by what the sink wanted at the start of the tick: a sink that consumes instantly
            // (as-fast-as-possible pacing) must not keep this loop busy forever
            let mut budget = self.sink.wanted();
            while budget >= step_out {
                budget -= step_out;
                let now = Instant::now();
                let info = jitter.pull(&mut down_buf, now);
                if let Some(rec) = self.recorder.as_mut() {
                    rec.speaker(&down_buf);
                }
                // the echo reference: what is about to reach the speaker, silence included
                if let Some(aec) = aec.as_mut() {
                    ref_rs.process(&down_buf, |r16k| aec.render(r16k))?;
                }
                if let Some((offset, at)) = info.chunk_start {
                    let pos = written
                        + (offset as u64 * u64::from(out_fmt.sample_rate) / u64::from(DOWNLINK_RATE)) * out_ch as u64;
                    if marks.len() < marks.capacity() {
                        marks.push_back((pos, at));
                    }
                }
                let sink = &mut self.sink;
                let mut wrote = 0u64;
                down_rs.process(&down_buf, |dev| {
                    let n = upmix(dev, out_ch, &mut out_buf);
                    wrote += sink.write(&out_buf[..n]) as u64;
                })?;
                written += wrote;
            }
            let played = written.saturating_sub(self.sink.queued());
            let last = self.sink.last_played();
            while let Some(&(pos, at)) = marks.front() {
                if pos > played {
                    break;
                }
                marks.pop_front();
                if let Some(t) = last {
                    latency.record(Stage::ReplyToPlayout, t.saturating_duration_since(at));
                    if reply_start == Some(at) {
                        reply_start = None;
                        latency.record(Stage::FirstReplyToPlayout, t.saturating_duration_since(at));
                    }
                }
            }
            if let Some(ic) = &in_counters {
                overruns.check(
                    ic.overruns.load(Ordering::Relaxed),
                    "capture overrun: the DSP thread fell behind, audio lost",
                );
            }
            if let Some(oc) = &out_counters {
                underruns.check(
                    oc.underruns.load(Ordering::Relaxed),
                    "playback underrun: the speaker played silence",
                );
            }
            drops.check(
                c.chunks_dropped.load(Ordering::Relaxed),
                "downlink queue full: reply audio dropped",
            );
            self.shared.playing.store(jitter.is_active(), Ordering::Release);
            c.jitter_underruns.store(jitter.underruns(), Ordering::Relaxed);
            c.jitter_target_us
                .store(jitter.target_depth().as_micros() as u64, Ordering::Relaxed);
            if let Some(rec) = &self.recorder {
                c.side_dropped.store(rec.dropped(), Ordering::Relaxed);
            }

            if !busy {
                match self.downlink.try_recv() {
                    Ok(d) => waiting = Some(d),
                    // Nothing to do: sleep until a device callback or a Player wakes us, or the tick passes
                    // (a source or sink that cannot wake us is polled).
                    Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => std::thread::park_timeout(tick),
                }
            }
        }
        Ok(())
    }
}
