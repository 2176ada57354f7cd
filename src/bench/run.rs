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
    AudioConfig, AudioEngine, AudioSink, AudioSource, BufferSource, ClockSink, Pacing, SourceRead, Span, StreamFormat,
    DOWNLINK_RATE,
};
use crate::conversation::{Conversation, Notice, Policy, Status, TalkMode};
use crate::modes::drive::{drive, Exit, Io};
use crate::modes::playback::{EnginePlayback, Playback};
use crate::protocol::INPUT_RATE;
use crate::session::{self, SessionOptions, Signal};
use crate::ui::{Renderer, UserInput};

use super::record::{Counters, SessionReport, Stage, TurnRecord};
use super::speech::{utterances, Utterance};
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

/// Milliseconds from `a` to `b`, negative when `b` came first.
fn ms(a: Instant, b: Instant) -> f64 {
    match b.checked_duration_since(a) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(a.duration_since(b).as_secs_f64() * 1e3),
    }
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

/// When replies started and stopped, as the conversation handed them to the player. A reply is one
/// interaction: on models that speak several times in one interaction (turnComplete with
/// interactionStatus IN_PROGRESS, then IDLE) each utterance ends with its own end of reply for the player,
/// but only the conversation's end of the interaction ([`Notice::TurnDone`]) or a stop opens the next
/// reply, so the later utterances are not counted as replies answering nothing and the reply's first byte
/// and first sample heard are its first utterance's.
#[derive(Default)]
struct PlayLog {
    /// Arrival of the first chunk of each reply.
    starts: Vec<Instant>,
    /// When playback was stopped (barge-in or the server's `interrupted`).
    stops: Vec<Instant>,
    /// The next chunk played starts a new reply.
    boundary: bool,
}

impl PlayLog {
    fn new() -> Self {
        PlayLog {
            boundary: true,
            ..PlayLog::default()
        }
    }

    /// A reply chunk went to the player.
    fn played(&mut self, received_at: Instant) {
        if std::mem::replace(&mut self.boundary, false) {
            self.starts.push(received_at);
        }
    }

    /// The conversation closed the reply: its interaction is over (or it was interrupted).
    fn interaction_over(&mut self) {
        self.boundary = true;
    }

    /// Playback was cut: whatever plays next is a new reply.
    fn stopped(&mut self, at: Instant) {
        self.boundary = true;
        self.stops.push(at);
    }
}

/// The engine's player, noting reply starts and stops (on the pump's task, not the audio path).
struct Timed {
    inner: EnginePlayback,
    log: Arc<Mutex<PlayLog>>,
}

impl Playback for Timed {
    fn play(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant) {
        if let Ok(mut log) = self.log.lock() {
            log.played(received_at);
        }
        self.inner.play(samples, rate, received_at);
    }

    /// One utterance ended; the reply (the interaction) may go on: see [`PlayLog`].
    fn end_of_reply(&mut self) {
        self.inner.end_of_reply();
    }

    fn stop(&mut self, onset: Option<Instant>) {
        if let Ok(mut log) = self.log.lock() {
            log.stopped(Instant::now());
        }
        self.inner.stop(onset);
    }

    fn is_playing(&self) -> bool {
        self.inner.is_playing()
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }
}

/// The bench shows nothing while it runs (warnings go to the log); it notes where the conversation
/// closed each reply.
struct Quiet(Arc<Mutex<PlayLog>>);

impl Renderer for Quiet {
    fn show(&mut self, notice: &Notice) {
        match notice {
            Notice::Warning(w) => tracing::warn!("{w}"),
            Notice::TurnDone { .. } => {
                if let Ok(mut log) = self.0.lock() {
                    log.interaction_over();
                }
            }
            _ => {}
        }
    }
}

/// Replays `input` once and measures it. A failed session is reported with its error, not dropped.
pub async fn one(input: &Path, run: u32, plan: &SessionPlan) -> Result<SessionOutcome, BenchError> {
    let name = input.display().to_string();
    let (pcm, _) = crate::wav::read_pcm16(input, INPUT_RATE)?;
    let speech = utterances(&pcm, INPUT_RATE);
    let audio_secs = pcm.len() as f64 / f64::from(INPUT_RATE);
    let began = Instant::now();

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

    let connect = Instant::now();
    let (session, events) = session::start(plan.options.clone()).await?;
    let setup_ms = connect.elapsed().as_secs_f64() * 1e3;
    let audio = AudioConfig {
        echo_cancellation: plan.echo_cancellation,
        ..AudioConfig::default()
    };
    let sink: Box<dyn AudioSink> = Box::new(sink);
    let (engine, frames) = AudioEngine::start_with(Box::new(source), sink, audio)?;
    let log = Arc::new(Mutex::new(PlayLog::new()));
    let user = (plan.mode == TalkMode::PushToTalk).then(|| press_keys(told, speech.clone()));
    let player = engine.player();
    let counters_engine = &engine;
    let mut jitter_ms = Vec::new();
    let jitter = &mut jitter_ms;
    let mut io = Io {
        session: session.clone(),
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
            let c = counters_engine.counters();
            if player.is_playing() {
                jitter.push(c.jitter_target.as_secs_f64() * 1e3);
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
    };
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
    let matched = match_turns(&speech, origin, &signals, &log.0, &log.1, &spans);
    let turns: Vec<TurnRecord> = matched
        .turns
        .into_iter()
        .enumerate()
        .map(|(k, t)| TurnRecord {
            input: name.clone(),
            run,
            turn: k as u32 + 1,
            ..t
        })
        .collect();
    let get = crate::session::SessionMetrics::get;
    let counters = Counters {
        frames_sent: stats.frames,
        frames_dropped: stats.frames_dropped,
        session_frames_dropped: get(&metrics.audio_frames_dropped),
        chunks_dropped: stats.chunks_dropped,
        jitter_underruns: stats.jitter_underruns,
        reconnects: get(&metrics.reconnects),
        malformed_frames: get(&metrics.malformed_frames),
        unanswered_turns: turns.iter().filter(|t| t.first_byte_ms.is_none()).count() as u64,
        extra_replies: matched.extra_replies,
        early_turn_ends: matched.early_turn_ends,
    };
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

/// Turns as matched from the clocks: utterance `k` gets the first activityEnd written after it ended (less
/// [`EARLY`]) and before the next one began, and the first reply that started after that (with server VAD:
/// after the utterance ended, less [`EARLY`]) and before the next utterance ended.
pub struct Matched {
    pub turns: Vec<TurnRecord>,
    /// Replies that answered no utterance (most often: an early turn end's reply).
    pub extra_replies: u64,
    /// activityEnds written while the user was still speaking (the VAD ended the turn at a pause).
    pub early_turn_ends: u64,
}

/// How much earlier than the file's end of speech an activityEnd may come and still end that turn: the
/// file's level detector and the pipeline's VAD may disagree by a frame or two about the last word's tail.
pub const EARLY: Duration = Duration::from_millis(150);

pub fn match_turns(
    speech: &[Utterance],
    origin: Instant,
    activity_ends: &[Instant],
    reply_starts: &[Instant],
    stops: &[Instant],
    spans: &[Span],
) -> Matched {
    let at = |secs: f64| origin + Duration::from_secs_f64(secs.max(0.0));
    let (mut e, mut r) = (0, 0);
    let (mut extra, mut early) = (0, 0);
    let mut turns = Vec::with_capacity(speech.len());
    for (k, u) in speech.iter().enumerate() {
        let (start, end) = (at(u.start), at(u.end));
        let next_start = speech.get(k + 1).map(|n| at(n.start));
        let next_end = speech.get(k + 1).map(|n| at(n.end));
        // an activityEnd before the user finished (the VAD ended the turn at a pause) is not this turn's end
        while e < activity_ends.len() && activity_ends[e] < end.checked_sub(EARLY).unwrap_or(end) {
            if activity_ends[e] >= start {
                early += 1;
            }
            e += 1;
        }
        let turn_end = match activity_ends.get(e) {
            Some(&t) if next_start.is_none_or(|n| t < n) => {
                e += 1;
                Some(t)
            }
            _ => None,
        };
        // a reply that started before the user finished answers an early turn end, not this turn
        let after = turn_end.unwrap_or(end.checked_sub(EARLY).unwrap_or(end));
        while r < reply_starts.len() && reply_starts[r] < after {
            r += 1;
            extra += 1;
        }
        let reply = match reply_starts.get(r) {
            Some(&t) if next_end.is_none_or(|n| t < n) => {
                r += 1;
                Some(t)
            }
            _ => None,
        };
        let heard = reply.and_then(|t| {
            spans
                .iter()
                .find(|s| s.stage == crate::audio::Stage::FirstReplyToPlayout && s.start == t)
                .map(|s| s.end)
        });
        let interrupted = reply.is_some_and(|t| {
            let until = reply_starts.get(r).copied();
            stops.iter().any(|&s| s >= t && until.is_none_or(|u| s < u))
        });
        turns.push(TurnRecord {
            input: String::new(),
            run: 0,
            turn: 0,
            speech_start_s: u.start,
            speech_end_s: u.end,
            turn_end_ms: turn_end.map(|t| ms(end, t)),
            first_byte_ms: reply.map(|t| ms(end, t)),
            heard_ms: heard.map(|t| ms(end, t)),
            interrupted,
        });
    }
    extra += (reply_starts.len() - r) as u64;
    Matched {
        turns,
        extra_replies: extra,
        early_turn_ends: early,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_match_their_own_activity_end_and_reply() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 1.5 }, Utterance { start: 4.0, end: 5.0 }];
        let ends = [t(1_800), t(5_300)];
        let replies = [t(1_900), t(5_450)];
        let spans = [Span {
            stage: crate::audio::Stage::FirstReplyToPlayout,
            start: t(1_900),
            end: t(1_960),
        }];
        let m = match_turns(&speech, o, &ends, &replies, &[t(4_200)], &spans);
        assert_eq!(m.extra_replies, 0);
        let [a, b] = &m.turns[..] else {
            panic!("{:?}", m.turns.len())
        };
        assert_eq!(
            (a.turn_end_ms, a.first_byte_ms, a.heard_ms),
            (Some(300.0), Some(400.0), Some(460.0))
        );
        assert!(a.interrupted, "a stop between its reply and the next one");
        assert_eq!(
            (b.turn_end_ms, b.first_byte_ms, b.heard_ms),
            (Some(300.0), Some(450.0), None)
        );
        assert_eq!(a.value(Stage::TurnEndToFirstByte), Some(100.0));
        assert_eq!(a.value(Stage::FirstByteToHeard), Some(60.0));
    }

    #[test]
    fn a_turn_ended_at_a_pause_is_counted_early_and_not_timed() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 4.0 }];
        // the VAD ended the turn at 2.0 s mid-sentence (its reply at 2.1 s), then again after the last word
        let m = match_turns(&speech, o, &[t(2_000), t(4_300)], &[t(2_100), t(4_400)], &[], &[]);
        assert_eq!((m.early_turn_ends, m.extra_replies), (1, 1));
        assert_eq!(m.turns[0].turn_end_ms, Some(300.0));
        assert_eq!(m.turns[0].first_byte_ms, Some(400.0));
    }

    #[test]
    fn a_turn_without_a_reply_does_not_take_the_next_ones() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 1.0 }, Utterance { start: 1.2, end: 2.0 }];
        // the VAD merged both: one activityEnd and one reply, after the second
        let m = match_turns(&speech, o, &[t(2_300)], &[t(2_400)], &[], &[]);
        assert_eq!((m.turns[0].turn_end_ms, m.turns[0].first_byte_ms), (None, None));
        assert_eq!(m.turns[1].turn_end_ms, Some(300.0));
        assert_eq!(
            m.turns[1].first_byte_ms,
            Some(400.0),
            "the reply belongs to the turn it followed"
        );
        assert_eq!(m.extra_replies, 0);
    }

    /// gemini-3.8-live: one interaction of two utterances (turnComplete IN_PROGRESS, then IDLE) answers the
    /// first question; a later interaction answers the second. Only the conversation's TurnDone (the end
    /// of the interaction) opens a new reply, so the second utterance is no extra reply and the first
    /// question's first byte and heard are its first utterance's.
    #[test]
    fn an_interaction_of_several_utterances_is_one_reply() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let log = Arc::new(Mutex::new(PlayLog::new()));
        let mut shown = Quiet(log.clone());
        let done = Notice::TurnDone {
            turn: 0,
            first_reply: None,
            interrupted: false,
            tokens: None,
        };
        let play = |at: Instant| log.lock().unwrap().played(at);
        // first utterance, its turnComplete IN_PROGRESS (the player's end of reply, no TurnDone), the
        // second utterance, then IDLE: TurnDone
        play(t(1_900));
        play(t(1_950));
        play(t(2_600));
        play(t(2_650));
        shown.show(&done);
        // the next question's interaction
        play(t(5_450));
        shown.show(&done);
        let starts = log.lock().unwrap().starts.clone();
        assert_eq!(starts, vec![t(1_900), t(5_450)]);
        let speech = [Utterance { start: 0.5, end: 1.5 }, Utterance { start: 4.0, end: 5.0 }];
        let spans = [
            Span {
                stage: crate::audio::Stage::FirstReplyToPlayout,
                start: t(1_900),
                end: t(1_960),
            },
            Span {
                stage: crate::audio::Stage::FirstReplyToPlayout,
                start: t(2_600),
                end: t(2_660),
            },
        ];
        let m = match_turns(&speech, o, &[t(1_800), t(5_300)], &starts, &[], &spans);
        assert_eq!(m.extra_replies, 0);
        assert_eq!(
            (m.turns[0].first_byte_ms, m.turns[0].heard_ms),
            (Some(400.0), Some(460.0))
        );
        assert_eq!(m.turns[1].first_byte_ms, Some(450.0));
    }

    #[test]
    fn a_stop_opens_a_new_reply_without_a_turn_done() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let mut log = PlayLog::new();
        log.played(t(100));
        log.stopped(t(200));
        log.played(t(300));
        assert_eq!((log.starts, log.stops), (vec![t(100), t(300)], vec![t(200)]));
    }
}
