//! One WAV replayed once, on the path a live conversation runs: the file is the microphone of the real
//! [`AudioEngine`] (paced in real time from its own rate, resampled, framed, AEC as configured, VAD) into a
//! clock-driven sink that plays at 24 kHz as a device would, and the real conversation core drives the
//! session through the shared pump ([`drive`]), exactly as `voxlive talk --mode hands-free` does. The bench
//! only wraps the edges to read the clocks the pipeline already keeps:
//! - the source's start: sample `i` of the file is "spoken" at `start + i / rate`, so the end of each
//!   utterance ([`super::speech`]) is an instant on the monotonic clock;
//! - the session's socket write times of activity signals ([`crate::session::SessionMetrics::signals`]) and
//!   its capture -> socket histogram;
//! - the arrival time of every reply chunk handed to the player (the first of a reply = first reply byte);
//! - the engine's spans from a reply's first chunk to its first sample played, and barge-in -> silence;
//! - with server VAD (no activityEnd), the socket write time of the audio frame holding each last word.
//!
//! After the file the source goes on with [`super::inputs::tail_for`] of silence, as an open microphone
//! would, so the VAD (ours or the server's) ends the last turn, not the end of the recording.
//! With `--mode ptt` the key goes down just before each utterance and up at its last word.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::audio::{
    AudioConfig, AudioEngine, AudioSink, AudioSource, AudioStats, BufferSource, ClockSink, Pacing, SourceRead, Span,
    StreamFormat, UplinkFrame, DOWNLINK_RATE,
};
use crate::conversation::{Conversation, Policy, Status, TalkMode, VadSource};
use crate::modes::drive::{drive, Exit, Io};
use crate::modes::playback::EnginePlayback;
use crate::session::{self, Events, Session, SessionMetrics, SessionOptions, Signal};
use crate::ui::UserInput;

use super::inputs::Input;
use super::record::{Counters, SessionReport, Stage, TurnRecord};
use super::replies::{PlayLog, Quiet, Timed};
use super::speech::Utterance;
use super::turns::{barge_in_from_onsets, frames_holding};
pub use super::turns::{match_turns, Matched, EARLY};
use super::BenchError;

/// The key goes down this long before an utterance starts (`--mode ptt`).
const PRESS_LEAD: Duration = Duration::from_millis(100);
/// How long the conversation must stay idle after the file ended before the session is over.
const SETTLE: Duration = Duration::from_millis(600);

/// How every session of a run is set up.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub options: SessionOptions,
    pub mode: TalkMode,
    pub echo_cancellation: bool,
    pub reply_timeout: Duration,
    /// Silence after each file (see [`super::inputs::tail_for`]).
    pub tail: Duration,
}

/// What one session measured: its report, its turns, and every value of every stage.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    pub report: SessionReport,
    pub turns: Vec<TurnRecord>,
    pub values: Vec<(Stage, Vec<f64>)>,
}

/// A source that tells when the engine started it: the origin of the file's timeline.
struct Clocked {
    inner: BufferSource,
    started: Arc<OnceLock<Instant>>,
    tell: Option<oneshot::Sender<Instant>>,
}

impl AudioSource for Clocked {
    fn format(&self) -> StreamFormat {
        self.inner.format()
    }

    fn start(&mut self) {
        self.inner.start();
        let now = Instant::now();
        let _ = self.started.set(now);
        if let Some(tx) = self.tell.take() {
            let _ = tx.send(now);
        }
    }

    fn read(&mut self, out: &mut [f32]) -> Result<SourceRead, crate::audio::AudioError> {
        self.inner.read(out)
    }

    fn captured_at(&self) -> Instant {
        self.inner.captured_at()
    }
}

/// Replays `input` once and measures it. A failed session is reported with its error, not dropped.
pub async fn one(input: &Input, run: u32, plan: &SessionPlan) -> Result<SessionOutcome, BenchError> {
    let name = input.path.display().to_string();
    let speech = input.speech.clone();
    let began = Instant::now();
    let devices = Devices::new(input, plan.tail);
    let started = devices.started.clone();

    let connect = Instant::now();
    let (session, events) = session::start(plan.options.clone()).await?;
    let setup_ms = connect.elapsed().as_secs_f64() * 1e3;
    // before the engine starts, so no frame is missed: the server-VAD turn end is the last word's frame
    session.metrics().keep_frame_times();
    let audio = AudioConfig {
        echo_cancellation: plan.echo_cancellation,
        ..AudioConfig::default()
    };
    let (engine, frames) = AudioEngine::start_with(Box::new(devices.source), devices.sink, audio)?;
    let log = Arc::new(Mutex::new(PlayLog::new()));
    let user = (plan.mode == TalkMode::PushToTalk).then(|| press_keys(devices.told, speech.clone()));
    let mut jitter = Jitter::default();
    let mut io = pump_io((session.clone(), events), frames, &engine, user, &log, &mut jitter);
    let policy = Policy::new(plan.mode).after_server_silence(plan.options.setup.vad_silence());
    let mut conversation = Conversation::new(policy, Instant::now());
    let exit = Exit::WhenSourceDone {
        settle: SETTLE,
        reply_timeout: plan.reply_timeout,
    };
    let ended = drive(&mut conversation, &mut io, exit, std::future::pending()).await;
    drop(io);
    let error = ended.err().map(|e| e.to_string());

    let metrics = session.metrics().clone();
    session.close().await;
    let stats = engine.stats();
    let spans = engine.latency().spans();
    engine.stop();

    let origin = started.get().copied().unwrap_or(began);
    // the tail is audio the pipeline processes like the rest: CPU per audio second counts it, as far as it
    // played (a session that failed or ended early replayed less)
    let audio_secs = (input.secs + plan.tail.as_secs_f64()).min(origin.elapsed().as_secs_f64());
    let clocks = Clocks {
        speech: &speech,
        origin,
        metrics: &metrics,
        spans: &spans,
        server_vad: plan.mode == TalkMode::HandsFree(VadSource::Server),
    };
    let matched = matched_turns(&clocks, &log, (&name, run));
    let counters = counters(&stats, &metrics, &matched);
    let turns = matched.turns;
    let values = stage_values(&clocks, &jitter, setup_ms, &turns);
    let stages = super::summaries(&values);
    Ok(SessionOutcome {
        report: SessionReport {
            input: name,
            run,
            audio_secs,
            wall_secs: began.elapsed().as_secs_f64(),
            setup_ms: Some(setup_ms),
            stages,
            counters,
            error,
        },
        turns,
        values,
    })
}

/// The devices of a bench session: the file as the microphone, paced in real time and telling when the
/// engine started it (the origin of the file's timeline), and a clock-driven sink playing at 24 kHz as a
/// device would.
struct Devices {
    source: Clocked,
    sink: Box<dyn AudioSink>,
    /// When the source started, once it has.
    started: Arc<OnceLock<Instant>>,
    /// The same instant, for the push-to-talk keys.
    told: oneshot::Receiver<Instant>,
}

impl Devices {
    fn new(input: &Input, tail: Duration) -> Devices {
        let started = Arc::new(OnceLock::new());
        let (tell, told) = oneshot::channel();
        let format = StreamFormat {
            sample_rate: input.audio.rate,
            channels: input.audio.channels,
        };
        let source = Clocked {
            inner: BufferSource::new(format, input.samples_with_tail(tail), Pacing::RealTime),
            started: started.clone(),
            tell: Some(tell),
        };
        let format = StreamFormat {
            sample_rate: DOWNLINK_RATE,
            channels: 1,
        };
        let sink = ClockSink::new(format, Pacing::RealTime, Duration::from_millis(30));
        Devices {
            source,
            sink: Box::new(sink),
            started,
            told,
        }
    }
}

/// The jitter buffer sampled while a reply played: the audio queued in it, and its target.
#[derive(Debug, Default)]
struct Jitter {
    depth_ms: Vec<f64>,
    target_ms: Vec<f64>,
}

/// The clocks a finished session leaves: the file's utterances and the instant its first sample was
/// "spoken", the session's socket times, and the engine's spans.
struct Clocks<'a> {
    speech: &'a [Utterance],
    origin: Instant,
    metrics: &'a SessionMetrics,
    spans: &'a [Span],
    /// The server takes turns: no activityEnd is written, the frame with the last word ends the turn.
    server_vad: bool,
}

/// The pump's ends for a bench session: the engine's frames and player (noting reply starts and stops in
/// `log`), no screen, no tools, and the jitter buffer sampled into `jitter` while a reply plays.
fn pump_io<'a>(
    (session, events): (Session, Events),
    frames: mpsc::Receiver<UplinkFrame>,
    engine: &'a AudioEngine,
    user: Option<mpsc::Receiver<UserInput>>,
    log: &Arc<Mutex<PlayLog>>,
    jitter: &'a mut Jitter,
) -> Io<'a> {
    let player = engine.player();
    Io {
        session,
        events,
        frames,
        audio_events: Some(engine.events()),
        user,
        playback: Box::new(Timed {
            inner: EnginePlayback::new(player.clone()),
            log: log.clone(),
        }),
        renderer: Box::new(Quiet(log.clone())),
        transcript: None,
        latency: Some(engine.latency()),
        status: Some(Box::new(move || {
            let c = engine.counters();
            if player.is_playing() {
                jitter.depth_ms.push(c.jitter_depth.as_secs_f64() * 1e3);
                jitter.target_ms.push(c.jitter_target.as_secs_f64() * 1e3);
            }
            Status {
                underruns: c.underruns,
                frames_dropped: c.frames_dropped,
                chunks_dropped: c.chunks_dropped,
                ..Status::default()
            }
        })),
        lossless_uplink: false,
        image_input: None,
        // a benchmark has no tools: any call is answered with NOT_FOUND, never left hanging
        tools: crate::tools::ToolRunner::default(),
    }
}

/// The session's turns matched from its clocks (the activityEnds it wrote, or with server VAD the frames
/// holding the last words; the replies `log` noted; the engine's spans), each named by its file, run and
/// number.
fn matched_turns(clocks: &Clocks<'_>, log: &Mutex<PlayLog>, (name, run): (&str, u32)) -> Matched {
    let Clocks {
        speech,
        origin,
        metrics,
        spans,
        ..
    } = *clocks;
    let signals: Vec<Instant> = if clocks.server_vad {
        frames_holding(speech, origin, &metrics.frame_times())
    } else {
        metrics
            .signals()
            .into_iter()
            .filter(|(s, _)| *s == Signal::ActivityEnd)
            .map(|(_, at)| at)
            .collect()
    };
    let log = log
        .lock()
        .map(|l| (l.starts.clone(), l.stops.clone()))
        .unwrap_or_default();
    let mut matched = match_turns(speech, origin, &signals, &log.0, &log.1, spans);
    matched.turns = std::mem::take(&mut matched.turns)
        .into_iter()
        .enumerate()
        .map(|(k, t)| TurnRecord {
            input: name.to_string(),
            run,
            turn: k as u32 + 1,
            ..t
        })
        .collect();
    matched
}

/// The session's counters: what the engine and the session dropped, reconnections, and how its turns
/// matched.
fn counters(stats: &AudioStats, metrics: &SessionMetrics, matched: &Matched) -> Counters {
    let get = SessionMetrics::get;
    Counters {
        frames_sent: stats.frames,
        frames_dropped: stats.frames_dropped,
        session_frames_dropped: get(&metrics.audio_frames_dropped),
        chunks_dropped: stats.chunks_dropped,
        jitter_underruns: stats.jitter_underruns,
        reconnects: get(&metrics.reconnects),
        malformed_frames: get(&metrics.malformed_frames),
        unanswered_turns: matched.turns.iter().filter(|t| t.first_byte_ms.is_none()).count() as u64,
        extra_replies: matched.extra_replies,
        early_turn_ends: matched.early_turn_ends,
    }
}

/// Every stage's values for one session: per-frame capture -> socket from the session's histogram,
/// barge-ins from the file's onsets to the engine's silence, jitter samples, setup time, and the per-turn
/// stages.
fn stage_values(clocks: &Clocks<'_>, jitter: &Jitter, setup_ms: f64, turns: &[TurnRecord]) -> Vec<(Stage, Vec<f64>)> {
    let metrics = clocks.metrics;
    let mut values: Vec<(Stage, Vec<f64>)> = Stage::ALL.iter().map(|&s| (s, Vec::new())).collect();
    for (stage, v) in values.iter_mut() {
        match stage {
            Stage::CaptureToSocket => {
                if let Some(h) = metrics.uplink_histogram() {
                    for it in h.iter_recorded() {
                        let value = it.value_iterated_to() as f64 / 1e3;
                        v.extend(std::iter::repeat_n(value, it.count_at_value() as usize));
                    }
                }
            }
            Stage::BargeInToSilence => v.extend(barge_in_from_onsets(clocks.speech, clocks.origin, clocks.spans)),
            Stage::JitterDepth => v.extend_from_slice(&jitter.depth_ms),
            Stage::JitterTarget => v.extend_from_slice(&jitter.target_ms),
            Stage::Setup => v.push(setup_ms),
            per_turn => v.extend(turns.iter().filter_map(|t| t.value(*per_turn))),
        }
    }
    values
}

/// Push-to-talk from the file's timeline: the key goes down [`PRESS_LEAD`] before each utterance and up
/// at its last word, on the source's clock (told once the engine started it).
fn press_keys(told: oneshot::Receiver<Instant>, speech: Vec<Utterance>) -> mpsc::Receiver<UserInput> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let Ok(origin) = told.await else { return };
        for u in speech {
            let down = origin + Duration::from_secs_f64(u.start).saturating_sub(PRESS_LEAD);
            tokio::time::sleep_until(down.into()).await;
            if tx.send(UserInput::KeyDown { at: Instant::now() }).await.is_err() {
                return;
            }
            tokio::time::sleep_until((origin + Duration::from_secs_f64(u.end)).into()).await;
            if tx.send(UserInput::KeyUp { at: Instant::now() }).await.is_err() {
                return;
            }
        }
        // keep the channel open: its end is not a quit
        tx.closed().await;
    });
    rx
}
