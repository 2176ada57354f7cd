//! The default mode: a live spoken conversation through a microphone and a speaker, hands-free. The mic
//! streams continuously; the server's activity detection takes turns; reply audio plays through the jitter
//! buffer; the user barges in by speaking (local VAD flushes playback at once, `interrupted` does too).
//! It knows the audio engine and the session only through their handles.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::audio::{AudioConfig, AudioEngine, AudioEvent, AudioStats, Stage};
use crate::session::{self, Event, SessionMetrics, SessionOptions};

use super::ModeError;

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub audio: AudioConfig,
    /// Stop after this long (demos, tests); `None` runs until Ctrl-C or the session ends.
    pub duration: Option<Duration>,
    /// Flush playback as soon as the local VAD hears the user start speaking over a reply.
    pub barge_in: bool,
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
    pub ended_by: String,
}

/// Runs the conversation until Ctrl-C, `duration`, a device failure or the session's end.
pub async fn live(
    options: SessionOptions,
    live: LiveOptions,
    out: &mut (dyn Write + Send),
) -> Result<LiveReport, ModeError> {
    let (session, mut events) = session::start(options).await?;
    // Open the devices only once the server said yes: a bad key never touches the microphone.
    let (engine, mut frames) = AudioEngine::start(live.audio.clone())?;
    let player = engine.player();
    let latency = engine.latency();
    let mut audio_events = engine.events();
    writeln!(out, "voxlive: listening - speak any time (Ctrl-C to stop)")?;

    let uplink_session = session.clone();
    let uplink = tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            if uplink_session
                .send_audio(&frame.samples, Some(frame.captured_at))
                .is_err()
            {
                break;
            }
        }
    });

    let stop_at = live.duration.map(|d| tokio::time::Instant::now() + d);
    let mut speech_ended_at: Option<Instant> = None;
    let mut reply_playing = false;
    let mut turns = 0u32;
    let (mut said, mut heard) = (String::new(), String::new());
    let ended_by = loop {
        let until_stop = async {
            match stop_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = until_stop => break "duration reached".to_string(),
            _ = tokio::signal::ctrl_c() => break "stopped by Ctrl-C".to_string(),
            ev = audio_events.recv() => match ev {
                Ok(AudioEvent::SpeechStart { .. }) => {
                    if live.barge_in && reply_playing {
                        player.flush();
                        reply_playing = false;
                    }
                    speech_ended_at = None;
                }
                Ok(AudioEvent::SpeechEnd { at }) => speech_ended_at = Some(at),
                Ok(AudioEvent::DeviceError(e)) => return Err(e.into()),
                Ok(AudioEvent::SourceEnded) => {}
                // Lagging behind the broadcast only loses VAD hints, never audio.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    return Err(engine.failure().map(ModeError::from).unwrap_or_else(|| ModeError::EndedEarly("the audio engine stopped".into())));
                }
            },
            ev = events.recv() => match ev {
                Some(Event::Audio { samples, received_at, .. }) => {
                    if let Some(end) = speech_ended_at.take() {
                        latency.record(Stage::SentToFirstReply, received_at.saturating_duration_since(end));
                    }
                    reply_playing = true;
                    player.play(samples, received_at)?;
                }
                Some(Event::Interrupted) => {
                    player.flush();
                    reply_playing = false;
                }
                Some(Event::InputTranscript(t)) => said.push_str(&t),
                Some(Event::OutputTranscript(t)) | Some(Event::Text(t)) => heard.push_str(&t),
                Some(Event::TurnComplete { .. }) => {
                    turns += 1;
                    reply_playing = false;
                    print_turn(out, &mut said, &mut heard)?;
                }
                Some(Event::ProtocolError(e)) => tracing::warn!("skipped a malformed server frame: {e}"),
                // A normal close ends the conversation; any other is an error the user must see.
                Some(Event::Closed { code: Some(1000), reason }) => break format!("the session ended: {reason}"),
                Some(Event::Closed { reason, .. }) => {
                    engine.stop();
                    return Err(ModeError::EndedEarly(reason));
                }
                None => break "the session ended".to_string(),
                Some(_) => {}
            },
        }
    };
    print_turn(out, &mut said, &mut heard)?;
    uplink.abort();
    session.close().await;
    let metrics = session.metrics().clone();
    let audio = engine.stats();
    engine.stop();
    Ok(LiveReport {
        turns,
        audio,
        uplink_p50: metrics.uplink_percentile(50.0),
        uplink_p99: metrics.uplink_percentile(99.0),
        uplink_count: metrics.uplink_count(),
        frames_sent: SessionMetrics::get(&metrics.audio_frames_sent),
        frames_dropped: SessionMetrics::get(&metrics.audio_frames_dropped),
        ended_by,
    })
}

fn print_turn(out: &mut (dyn Write + Send), said: &mut String, heard: &mut String) -> std::io::Result<()> {
    if !said.trim().is_empty() {
        writeln!(out, "you: {}", said.trim())?;
    }
    if !heard.trim().is_empty() {
        writeln!(out, "voxlive: {}", heard.trim())?;
    }
    said.clear();
    heard.clear();
    out.flush()
}

impl std::fmt::Display for LiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "n/a".into())
        };
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
        write!(f, "{}", self.audio)
    }
}
