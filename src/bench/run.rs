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
//! - the engine's spans from a reply's first chunk to its first sample played, and barge-in -> silence.
//!
//! With `--mode ptt` the key goes down just before each utterance and up at its last word.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::audio::{
    AudioConfig, AudioEngine, AudioSink, AudioSource, AudioStats, BufferSource, ClockSink, Pacing, SourceRead, Span,
    StreamFormat, UplinkFrame, DOWNLINK_RATE,
};
use crate::conversation::{Conversation, Policy, Status, TalkMode};
use crate::modes::drive::{drive, Exit, Io};
use crate::modes::playback::EnginePlayback;
use crate::protocol::INPUT_RATE;
use crate::session::{self, Events, Session, SessionMetrics, SessionOptions, Signal};
use crate::ui::UserInput;

use super::record::{Counters, SessionReport, Stage, TurnRecord};
use super::replies::{PlayLog, Quiet, Timed};
use super::speech::{utterances, Utterance};
use super::turns::ms;
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
pub async fn one(input: &Path, run: u32, plan: &SessionPlan) -> Result<SessionOutcome, BenchError> {
    let name = input.display().to_string();
    let (pcm, _) = crate::wav::read_pcm16(input, INPUT_RATE)?;
    let speech = utterances(&pcm, INPUT_RATE);
    let audio_secs = pcm.len() as f64 / f64::from(INPUT_RATE);
    let began = Instant::now();
    let devices = Devices::new(input)?;
    let started = devices.started.clone();

    let connect = Instant::now();
    let (session, events) = session::start(plan.options.clone()).await?;
    let setup_ms = connect.elapsed().as_secs_f64() * 1e3;
    let audio = AudioConfig {
        echo_cancellation: plan.echo_cancellation,
        ..AudioConfig::default()
    };
    let (engine, frames) = AudioEngine::start_with(Box::new(devices.source), devices.sink, audio)?;
    let log = Arc::new(Mutex::new(PlayLog::new()));
    let user = (plan.mode == TalkMode::PushToTalk).then(|| press_keys(devices.told, speech.clone()));
    let mut jitter_ms = Vec::new();
    let mut io = pump_io((session.clone(), events), frames, &engine, user, &log, &mut jitter_ms);
    let mut conversation = Conversation::new(Policy::new(plan.mode), Instant::now());
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
    let matched = matched_turns(&speech, origin, &metrics, &log, &spans, (&name, run));
    let counters = counters(&stats, &metrics, &matched);
    let turns = matched.turns;
    let values = stage_values(&metrics, &spans, &jitter_ms, setup_ms, &turns);
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
    fn new(input: &Path) -> Result<Devices, BenchError> {
        let started = Arc::new(OnceLock::new());
        let (tell, told) = oneshot::channel();
        let source = Clocked {
            inner: BufferSource::wav(input, Pacing::RealTime)?,
            started: started.clone(),
            tell: Some(tell),
        };
        let format = StreamFormat {
            sample_rate: DOWNLINK_RATE,
            channels: 1,
        };
        let sink = ClockSink::new(format, Pacing::RealTime, Duration::from_millis(30));
        Ok(Devices {
            source,
            sink: Box::new(sink),
            started,
            told,
        })
    }
}

/// The pump's ends for a bench session: the engine's frames and player (noting reply starts and stops in
/// `log`), no screen, no tools, and the jitter buffer's depth sampled into `jitter_ms` while a reply plays.
fn pump_io<'a>(
    (session, events): (Session, Events),
    frames: mpsc::Receiver<UplinkFrame>,
    engine: &'a AudioEngine,
    user: Option<mpsc::Receiver<UserInput>>,
    log: &Arc<Mutex<PlayLog>>,
    jitter_ms: &'a mut Vec<f64>,
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
                jitter_ms.push(c.jitter_target.as_secs_f64() * 1e3);
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

/// The session's turns matched from its clocks (the activityEnds it wrote, the replies `log` noted, the
/// engine's spans), each named by its file, run and number.
fn matched_turns(
    speech: &[Utterance],
    origin: Instant,
    metrics: &SessionMetrics,
    log: &Mutex<PlayLog>,
    spans: &[Span],
    (name, run): (&str, u32),
) -> Matched {
    let signals: Vec<Instant> = metrics
        .signals()
        .into_iter()
        .filter(|(s, _)| *s == Signal::ActivityEnd)
        .map(|(_, at)| at)
        .collect();
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
/// barge-in spans from the engine, jitter depth samples, setup time, and the per-turn stages.
fn stage_values(
    metrics: &crate::session::SessionMetrics,
    spans: &[crate::audio::Span],
    jitter_ms: &[f64],
    setup_ms: f64,
    turns: &[TurnRecord],
) -> Vec<(Stage, Vec<f64>)> {
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
            Stage::BargeInToSilence => v.extend(
                spans
                    .iter()
                    .filter(|s| s.stage == crate::audio::Stage::BargeInToSilence)
                    .map(|s| ms(s.start, s.end)),
            ),
            Stage::JitterDepth => v.extend_from_slice(jitter_ms),
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

/// The WAV files named by `inputs`: files as given, directories as their `*.wav` files in name order.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, BenchError> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut wavs: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| BenchError::Input(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")) && f.is_file())
                .collect();
            if wavs.is_empty() {
                return Err(BenchError::Input(format!(
                    "{}: no .wav files in the directory",
                    p.display()
                )));
            }
            wavs.sort();
            out.extend(wavs);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(BenchError::Input(format!("{}: no such file or directory", p.display())));
        }
    }
    Ok(out)
}
