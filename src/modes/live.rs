//! The default mode: a live spoken conversation through a microphone and a speaker. Wiring only: it opens
//! the session, then the devices, and pumps both through the conversation core ([`super::drive`]) with the
//! renderer and keyboard the caller chose. Push-to-talk, hands-free with local or server VAD, barge-in and
//! typed lines are the core's policy, not this file's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::audio::{AudioConfig, AudioEngine, AudioStats};
use crate::conversation::{Conversation, Notice, Policy, Status, TranscriptWriter};
use crate::session::{self, Mark, SessionMetrics, SessionOptions};
use crate::ui::{Renderer, UserInput};

use super::drive::{drive, Ended, Exit, Io};
use super::playback::EnginePlayback;
use super::ModeError;

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub audio: AudioConfig,
    /// Stop after this long (demos, tests); `None` runs until Ctrl-C, a quit key or the session's end.
    pub duration: Option<Duration>,
    pub policy: Policy,
    /// `--transcript FILE`: one JSON line per finished utterance.
    pub transcript: Option<PathBuf>,
    /// `--image`: frames sent at their pace while the conversation runs.
    pub images: Option<crate::media::ImageFeed>,
    /// How `/image PATH` sends (its size, and the pace it shares with `images`).
    pub image_input: super::image_input::ImageInput,
    /// The tools the model may call, and who confirms them.
    pub tools: crate::tools::ToolBox,
}

/// What a live session did, for `--stats`.
#[derive(Debug, Clone)]
pub struct LiveReport {
    pub turns: u32,
    pub audio: AudioStats,
    pub uplink_p50: Option<Duration>,
    pub uplink_p99: Option<Duration>,
    pub uplink_count: u64,
    pub frames_sent: u64,
    pub frames_dropped: u64,
    /// Push-to-talk: (label, p50, p95, count) per measured user action.
    pub marks: Vec<(&'static str, Option<Duration>, Option<Duration>, u64)>,
    pub ended_by: String,
}

/// Runs the conversation until Ctrl-C, `duration`, a quit from `user`, a device failure or the session's end.
pub async fn live(
    options: SessionOptions,
    live: LiveOptions,
    renderer: Box<dyn Renderer>,
    user: Option<tokio::sync::mpsc::Receiver<UserInput>>,
) -> Result<LiveReport, ModeError> {
    let transcript = live.transcript.as_deref().map(TranscriptWriter::create).transpose()?;
    let (session, events) = session::start(options).await?;
    // the images trickle in beside the conversation; a closed session ends the feed, and the pump says why
    let feed = live.images.clone().map(|feed| {
        let session = session.clone();
        tokio::spawn(async move { feed.send(&session).await })
    });
    // Open the devices only once the server said yes: a bad key never touches the microphone. The DSP loop
    // keeps a thread of its own: run as a task on this thread (tried at 486a6ad, removed since) it saved
    // 1,500 context switches per 30 s but no measurable CPU once AEC3 rests without an echo path, and it
    // failed the real-echo-path barge-in test more often (`benches/runs/live-cpu-2026-12-03d.md`).
    let (engine, frames) = AudioEngine::start(live.audio.clone())?;
    let started = Instant::now();
    let mut io = Io {
        session: session.clone(),
        events,
        frames,
        audio_events: Some(engine.events()),
        user,
        playback: Box::new(EnginePlayback::new(engine.player())),
        renderer,
        transcript,
        latency: Some(engine.latency()),
        status: Some(engine_status(&engine, session.metrics().clone())),
        lossless_uplink: false,
        image_input: Some(live.image_input.clone()),
        tools: live.tools.runner(),
    };
    greet(&mut io, &engine, live.policy.mode);
    let mut conversation = Conversation::new(live.policy.clone(), started);
    let stop = until_stopped(live.duration);
    let ended = drive(&mut conversation, &mut io, Exit::OnStop, stop).await;
    drop(io);
    if let Some(feed) = feed {
        feed.abort();
    }
    session.close().await;
    let audio = engine.stats();
    engine.stop();
    let ended_by = match ended? {
        Ended::Stopped(r) => r,
        Ended::SourceDone => "the microphone stopped".to_string(),
        Ended::Closed(r) => format!("the session ended: {r}"),
    };
    Ok(LiveReport::new(
        conversation.turns(),
        audio,
        session.metrics(),
        ended_by,
    ))
}

/// The status snapshot the pump takes: the engine's counters and levels, plus the frames the session
/// dropped while no connection was up.
fn engine_status(engine: &AudioEngine, metrics: std::sync::Arc<SessionMetrics>) -> super::drive::StatusSource<'_> {
    let player = engine.player();
    Box::new(move || {
        let stats = engine.counters();
        // the DSP thread keeps both levels: the mic's after echo cancellation, the speaker's as played
        let levels = player.levels();
        Status {
            mic_dbfs: levels.mic_dbfs,
            speaker_dbfs: levels.speaker_dbfs,
            underruns: stats.underruns,
            frames_dropped: stats.frames_dropped + SessionMetrics::get(&metrics.audio_frames_dropped),
            chunks_dropped: stats.chunks_dropped,
            ..Status::default()
        }
    })
}

/// Hands the renderer the level meters and says how to talk.
fn greet(io: &mut Io<'_>, engine: &AudioEngine, mode: crate::conversation::TalkMode) {
    // the UI's render thread reads the levels itself, each frame, from what the DSP thread keeps
    let meters = engine.player();
    io.renderer.levels_from(Box::new(move || {
        let l = meters.levels();
        crate::ui::Levels {
            mic_dbfs: l.mic_dbfs,
            speaker_dbfs: l.speaker_dbfs,
        }
    }));
    let talk_hint = match mode {
        crate::conversation::TalkMode::PushToTalk => "press the push-to-talk key to talk (the screen says hold or tap)",
        crate::conversation::TalkMode::HandsFree(_) => "speak any time",
    };
    io.renderer.show(&Notice::Info(format!(
        "listening, {}: {talk_hint}; type a line and Enter to send text; Ctrl-C to stop",
        mode.label()
    )));
}

/// Ctrl-C or the end of `duration`, whichever comes first; the reason says which.
async fn until_stopped(duration: Option<Duration>) -> String {
    let until = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = until => "duration reached".to_string(),
        _ = tokio::signal::ctrl_c() => "stopped by Ctrl-C".to_string(),
    }
}

impl LiveReport {
    fn new(turns: u32, audio: AudioStats, metrics: &SessionMetrics, ended_by: String) -> Self {
        LiveReport {
            turns,
            audio,
            uplink_p50: metrics.uplink_percentile(50.0),
            uplink_p99: metrics.uplink_percentile(99.0),
            uplink_count: metrics.uplink_count(),
            frames_sent: SessionMetrics::get(&metrics.audio_frames_sent),
            frames_dropped: SessionMetrics::get(&metrics.audio_frames_dropped),
            marks: Mark::ALL
                .iter()
                .map(|&m| {
                    (
                        m.label(),
                        metrics.mark_percentile(m, 50.0),
                        metrics.mark_percentile(m, 95.0),
                        metrics.mark_count(m),
                    )
                })
                .collect(),
            ended_by,
        }
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "n/a".into())
}

impl std::fmt::Display for LiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "session: {} turns, {}", self.turns, self.ended_by)?;
        writeln!(
            f,
            "uplink: {} frames sent, {} dropped; capture callback -> socket p50 {} p99 {} ({} frames)",
            self.frames_sent,
            self.frames_dropped,
            ms(self.uplink_p50),
            ms(self.uplink_p99),
            self.uplink_count
        )?;
        for (label, p50, p95, n) in self.marks.iter().filter(|m| m.3 > 0) {
            writeln!(f, "{label}: p50 {} p95 {} ({n})", ms(*p50), ms(*p95))?;
        }
        write!(f, "{}", self.audio)
    }
}
