//! [`AudioEngine`]: what the rest of voxlive holds. `start` opens the devices, starts the streams and the
//! DSP thread, and hands back the uplink frame receiver; [`Player`] queues reply audio and flushes it on
//! barge-in; `stats` and `events` report. Dropping the engine stops the thread and the streams.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::StreamTrait;
use tokio::sync::{broadcast, mpsc};

use super::capture::open_capture;
use super::device::{open_host, pick, DeviceChoice};
use super::dsp::{AudioEvent, Downlink, Dsp, Shared, UplinkFrame};
use super::error::Direction;
use super::jitter::JitterConfig;
use super::levels::Levels;
use super::playback::open_playback;
use super::recorder::Recorder;
use super::ring::{kind_text, Epoch, StreamCounters, NO_ERROR};
use super::source::{AudioSink, AudioSource};
use super::stats::{AudioStats, DspCounters, LatencyRecorder};
use super::vad::VadConfig;
use super::AudioError;

/// Everything needed to start the engine; `Default` opens the default devices.
#[derive(Debug, Clone)]
pub struct AudioConfig {
    pub input_device: DeviceChoice,
    pub output_device: DeviceChoice,
    /// cpal `BufferSize::Fixed(n)` for both streams; `None` = the host's choice (ALSA: the device default;
    /// native PulseAudio: 10 ms). Use >= 128 (smaller floods ALSA/PulseAudio with xruns); on ALSA it gives a
    /// period of about 2n/3 frames.
    pub buffer_frames: Option<u32>,
    /// Audio the DSP thread keeps queued in the playback ring (default 30 ms): must cover one device period
    /// plus the DSP poll tick; everything above it is latency and what a barge-in cannot take back.
    pub playback_target: Duration,
    pub vad: VadConfig,
    pub jitter: JitterConfig,
    /// Uplink frames the session may leave unread before frames are dropped (default 50 = 1 s).
    pub uplink_capacity: usize,
    /// Reply chunks queued between [`Player`] and the DSP thread (default 256).
    pub downlink_capacity: usize,
    /// `--record DIR`: write mic and speaker WAVs there.
    pub record_dir: Option<PathBuf>,
    /// Remove the echo of the reply from the microphone before VAD and uplink (default true; `--no-aec`
    /// turns it off, e.g. with a headset, where there is no echo to remove). See [`super::EchoCanceller`].
    pub echo_cancellation: bool,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            input_device: DeviceChoice::Default,
            output_device: DeviceChoice::Default,
            buffer_frames: None,
            playback_target: Duration::from_millis(30),
            vad: VadConfig::default(),
            jitter: JitterConfig::default(),
            uplink_capacity: 50,
            downlink_capacity: 256,
            record_dir: None,
            echo_cancellation: true,
        }
    }
}

/// Queues reply audio (24 kHz mono LINEAR16) for playback. Cheap to clone; never blocks.
#[derive(Clone)]
pub struct Player {
    tx: SyncSender<Downlink>,
    shared: Arc<Shared>,
    /// Queued chunks from which on a chunk wakes the DSP thread even while a reply plays (a quarter of the
    /// queue): a burst faster than real time is taken in before it could fill the queue.
    wake_depth: u64,
}

impl Player {
    /// Queues a chunk that arrived at `received_at` (the jitter buffer measures network jitter from these).
    /// `Err(QueueFull)` drops the chunk (counted); `Err(Stopped)` means the engine is gone.
    pub fn play(&self, samples_24k: Vec<i16>, received_at: Instant) -> Result<(), AudioError> {
        self.send(Downlink {
            samples: samples_24k,
            received_at,
            generation: self.shared.generation.load(Ordering::Acquire),
            end_of_reply: false,
        })
    }

    /// The server completed the reply queued so far: once it has played, the next chunk starts a new reply
    /// (no dry spell counted as an underrun between two replies, the next reply's first sample timed).
    pub fn end_of_reply(&self) {
        let marker = Downlink {
            samples: Vec::new(),
            received_at: Instant::now(),
            generation: self.shared.generation.load(Ordering::Acquire),
            end_of_reply: true,
        };
        // a full queue only costs the marker: the buffer then idles after its usual wait
        let _ = self.send(marker);
    }

    fn send(&self, chunk: Downlink) -> Result<(), AudioError> {
        // counted before it can be taken, so is_playing is true as soon as this returns Ok
        let queued = self.shared.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let playing = self.shared.playing.load(Ordering::Acquire);
        match self.tx.try_send(chunk) {
            Ok(()) => {
                // A reply's first chunk wakes the DSP thread at once (the first sample is what the user
                // waits for); later ones wait for its next wake-up, which a capture device brings every
                // period (or its poll tick, without one) while the jitter buffer still holds the chunks
                // before them: a wake-up per chunk cost as much CPU as a capture period.
                if !playing || queued >= self.wake_depth {
                    if let Some(dsp) = self.shared.thread.get() {
                        dsp.unpark();
                    }
                }
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                self.shared.counters.chunks_dropped.fetch_add(1, Ordering::Relaxed);
                Err(AudioError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                Err(AudioError::Stopped)
            }
        }
    }

    /// Stops playback now and drops everything queued (server `interrupted`): the sink plays a
    /// [`super::FLUSH_FADE`] ramp of what it was about to play, then silence. Audio passed to `play` after
    /// this call plays normally.
    pub fn flush(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(dsp) = self.shared.thread.get() {
            dsp.unpark();
        }
    }

    /// The user started talking over the reply: [`Player::flush`] (same generation mechanism: every queued
    /// chunk is dropped, later `play`s play), and the DSP thread records [`super::Stage::BargeInToSilence`]
    /// from `onset` (when the VAD heard the user start) to the moment playback is silent: for a device
    /// sink, when the output callback has applied the flush (played the [`super::FLUSH_FADE`] ramp and
    /// silence after it) and taken its buffer; for a [`super::ClockSink`], when the flush and fade were written.
    pub fn barge_in(&self, onset: Instant) {
        let nanos = self.shared.epoch.nanos(onset).max(1);
        // stored before the generation bump that the DSP thread acts on
        self.shared.barge_onset.store(nanos, Ordering::Release);
        self.flush();
    }

    /// True exactly while reply audio remains to be heard: from the moment `play` queued a chunk (true as
    /// soon as `play` returns `Ok`) until the last reply sample has left the jitter buffer and the sink's
    /// queue (handed to the device, or consumed by a [`super::ClockSink`]'s clock); a flush or barge-in ends
    /// it once the short fade-out has played. It does not wait for a possible late chunk: if the jitter
    /// buffer runs dry mid-reply (an underrun), this turns false once the sink drained and true again when
    /// the late chunk is queued. Audio still inside the device's own buffer (one period) is not counted.
    /// False once the engine has stopped.
    pub fn is_playing(&self) -> bool {
        if self.shared.finished.load(Ordering::Acquire) {
            return false; // chunks left in the channel of a stopped engine will never be heard
        }
        self.shared.in_flight.load(Ordering::Acquire) > 0 || self.shared.playing.load(Ordering::Acquire)
    }

    /// Peak levels of the latest uplink frame and the latest ~10 ms sent to the sink (lock-free; cheap
    /// enough for a meter redrawn 30 times a second).
    pub fn levels(&self) -> Levels {
        self.shared.levels.get()
    }

    /// Latency histograms shared with the engine, for the session's own stages.
    pub fn latency(&self) -> &LatencyRecorder {
        &self.shared.latency
    }
}

/// The running audio core. Drop or [`AudioEngine::stop`] ends it.
pub struct AudioEngine {
    shared: Arc<Shared>,
    player: Player,
    events: broadcast::Sender<AudioEvent>,
    thread: Option<JoinHandle<()>>,
    streams: Vec<cpal::Stream>,
    device_counters: [Option<Arc<StreamCounters>>; 2],
}

impl AudioEngine {
    /// Opens the configured devices, starts both streams and the DSP thread.
    pub fn start(config: AudioConfig) -> Result<(AudioEngine, mpsc::Receiver<UplinkFrame>), AudioError> {
        // libasound's own lines ("ALSA lib pulse.c: ... Connection refused") would precede voxlive's error
        let _quiet = super::quiet::AlsaQuiet::new();
        // one host for both: the PulseAudio host holds a server connection
        let host = open_host()?;
        let input = pick(&host, Direction::Input, &config.input_device)?;
        let output = pick(&host, Direction::Output, &config.output_device)?;
        let epoch = Epoch::new();
        // built right before play(): audio buffered between the two arrives as a burst
        let (in_stream, source) = open_capture(&input, config.buffer_frames, epoch)?;
        let (out_stream, sink) = open_playback(&output, config.buffer_frames, config.playback_target, epoch)?;
        // the DSP thread starts first so the playback ring holds its target of silence before the first
        // output callback (no start-up underrun); capture drops what arrived before the DSP thread ran
        let (mut engine, rx) = Self::start_with(Box::new(source), Box::new(sink), config)?;
        out_stream.play().map_err(|e| AudioError::Stream {
            direction: Direction::Output,
            device: output.name.clone(),
            reason: e.to_string(),
        })?;
        in_stream.play().map_err(|e| AudioError::Stream {
            direction: Direction::Input,
            device: input.name.clone(),
            reason: e.to_string(),
        })?;
        tracing::info!(
            host = input.host,
            input = %input.name,
            output = %output.name,
            in_rate = input.config.sample_rate(),
            out_rate = output.config.sample_rate(),
            "audio devices open"
        );
        engine.streams = vec![in_stream, out_stream];
        Ok((engine, rx))
    }

    /// Runs the same pipeline on any source and sink (WAV files, generators, [`super::ClockSink`]).
    pub fn start_with(
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
        config: AudioConfig,
    ) -> Result<(AudioEngine, mpsc::Receiver<UplinkFrame>), AudioError> {
        let shared = Arc::new(Shared::default());
        let (up_tx, up_rx) = mpsc::channel(config.uplink_capacity.max(1));
        let (down_tx, down_rx) = sync_channel(config.downlink_capacity.max(1));
        let (events, _) = broadcast::channel(64);
        let recorder = config.record_dir.as_deref().map(Recorder::start).transpose()?;
        let device_counters = [source.counters(), sink.counters()];
        let dsp = Dsp {
            source,
            sink,
            shared: shared.clone(),
            uplink: up_tx,
            events: events.clone(),
            downlink: down_rx,
            vad: config.vad,
            jitter: config.jitter,
            echo_cancellation: config.echo_cancellation,
            recorder,
        };
        let thread = std::thread::Builder::new()
            .name("voxlive-dsp".into())
            .spawn(move || {
                super::denormals::flush_to_zero_on_this_thread();
                super::priority::raise_this_thread_logged("dsp");
                dsp.run()
            })
            .map_err(|e| AudioError::Setup(format!("DSP thread: {e}")))?;
        let player = Player {
            tx: down_tx,
            shared: shared.clone(),
            wake_depth: (config.downlink_capacity.max(1) as u64).div_ceil(4),
        };
        Ok((
            AudioEngine {
                shared,
                player,
                events,
                thread: Some(thread),
                streams: Vec::new(),
                device_counters,
            },
            up_rx,
        ))
    }

    /// A handle to queue and flush reply audio.
    pub fn player(&self) -> Player {
        self.player.clone()
    }

    /// Speech start/end, end of a file source, device failures.
    pub fn events(&self) -> broadcast::Receiver<AudioEvent> {
        self.events.subscribe()
    }

    /// Peak levels of mic and speaker, as [`Player::levels`].
    pub fn levels(&self) -> Levels {
        self.shared.levels.get()
    }

    /// Latency histograms; the session records its stages here too.
    pub fn latency(&self) -> LatencyRecorder {
        self.shared.latency.clone()
    }

    /// False once the DSP thread has ended (device failure or stop).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Why the engine stopped on its own (a device failed), once it has.
    pub fn failure(&self) -> Option<AudioError> {
        self.shared.failure.lock().ok().and_then(|f| f.clone())
    }

    /// A snapshot of counters and latency percentiles.
    pub fn stats(&self) -> AudioStats {
        AudioStats {
            latency: self.shared.latency.summary(),
            ..self.counters()
        }
    }

    /// [`AudioEngine::stats`] without the latency percentiles: cheap enough for a meter redrawn 30 times a
    /// second.
    pub fn counters(&self) -> AudioStats {
        let c = &self.shared.counters;
        let mut s = AudioStats {
            frames: DspCounters::load(&c.frames),
            frames_dropped: DspCounters::load(&c.frames_dropped),
            chunks_dropped: DspCounters::load(&c.chunks_dropped),
            jitter_underruns: DspCounters::load(&c.jitter_underruns),
            jitter_target: Duration::from_micros(DspCounters::load(&c.jitter_target_us)),
            jitter_depth: Duration::from_micros(DspCounters::load(&c.jitter_depth_us)),
            side_dropped: DspCounters::load(&c.side_dropped),
            ..AudioStats::default()
        };
        for c in self.device_counters.iter().flatten() {
            let code = c.last_error.load(Ordering::Relaxed);
            if code != NO_ERROR {
                s.last_stream_error = Some(kind_text(code));
            }
        }
        if let Some(i) = &self.device_counters[0] {
            s.input_callbacks = i.callbacks.load(Ordering::Relaxed);
            s.overruns = i.overruns.load(Ordering::Relaxed);
            s.input_max_request = i.max_request.load(Ordering::Relaxed);
            s.xruns += i.xruns.load(Ordering::Relaxed);
        }
        if let Some(o) = &self.device_counters[1] {
            s.output_callbacks = o.callbacks.load(Ordering::Relaxed);
            s.underruns = o.underruns.load(Ordering::Relaxed);
            s.output_max_request = o.max_request.load(Ordering::Relaxed);
            s.xruns += o.xruns.load(Ordering::Relaxed);
        }
        s
    }

    /// Stops the DSP thread (finishing any recording), then the streams.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("audio DSP thread panicked");
            }
        }
        self.streams.clear();
    }
}

impl Drop for AudioEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
