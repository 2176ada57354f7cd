//! `voxlive talk`: a recorded question goes up as 20 ms 16 kHz LINEAR16 frames and the spoken reply comes
//! back as a WAV. Wiring only, on the conversation core:
//! - one held turn (`--mode ptt`, the default): the whole file is the turn (activityStart, every frame,
//!   activityEnd), paced in real time unless fast; the answer is the reply audio alone.
//! - hands-free (`--mode hands-free --vad local|server`): the file plays through the real audio engine as a
//!   microphone would deliver it (resampled, framed, VAD) into a clock-driven speaker, so a file holding
//!   several utterances with pauses becomes several turns; the answer is what that speaker played, silence
//!   included, so its timeline is the file's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::audio::{
    AudioConfig, AudioEngine, BufferSource, ClockSink, Pacing, StreamFormat, UplinkFrame, VadState, DOWNLINK_RATE,
    FRAME_SAMPLES,
};
use crate::conversation::{Conversation, Notice, Policy, TalkMode, TextRoute, TranscriptWriter, VadSource};
use crate::protocol::OUTPUT_RATE;
use crate::session::{self, SessionOptions};
use crate::ui::Renderer;

use super::drive::{drive, Ended, Exit, Io};
use super::playback::{Collector, EnginePlayback, Playback};
use super::ModeError;

/// How long the conversation must stay idle after the file ended (the last reply heard) before talk stops.
const SETTLE: Duration = Duration::from_millis(600);

#[derive(Debug, Clone)]
pub struct TalkOptions {
    /// The question, 16 kHz mono (the one-turn path).
    pub question: Vec<i16>,
    /// The file itself (the hands-free path plays it through the audio engine at its own rate).
    pub path: Option<PathBuf>,
    /// Pace frames in real time (a live microphone's timing) rather than as fast as possible.
    pub real_time: bool,
    /// `PushToTalk`: the file is one held turn. Hands-free: each utterance is a turn (real time only).
    pub mode: TalkMode,
    pub reply_timeout: Duration,
    pub transcript: Option<PathBuf>,
    pub text_route: TextRoute,
    /// `--image`: sent, at their pace, before the question, so its reply can see them.
    pub images: Option<crate::media::ImageFeed>,
    /// The tools the model may call (nobody can confirm in talk: confirmation takes the default).
    pub tools: crate::tools::ToolBox,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct TalkReply {
    /// The reply audio at `rate` (24 kHz), mono; hands-free: the whole speaker timeline.
    pub audio: Vec<i16>,
    pub rate: u32,
    pub text: String,
    /// Transcripts of all turns, one line per turn ("\n" between turns).
    pub input_transcript: String,
    pub output_transcript: String,
    /// Tokens of all turns, when the server said.
    pub tokens: Option<u64>,
    /// From the end of the (first) question to its first reply audio or text.
    pub first_reply_after: Option<Duration>,
    /// Answered turns.
    pub turns: u32,
    pub frames_sent: usize,
    /// Warnings the session reported (malformed frames skipped).
    pub warnings: Vec<String>,
}

/// Collects what the conversation showed into a [`TalkReply`].
struct Gather(std::sync::Arc<std::sync::Mutex<TalkReply>>);

impl Renderer for Gather {
    fn show(&mut self, notice: &Notice) {
        let Ok(mut r) = self.0.lock() else { return };
        match notice {
            Notice::UserTranscript { text, .. } => r.input_transcript.push_str(text),
            Notice::ModelTranscript { text, .. } => r.output_transcript.push_str(text),
            Notice::ModelText { text, .. } => r.text.push_str(text),
            Notice::Warning(w) => r.warnings.push(w.clone()),
            Notice::TurnDone {
                first_reply, tokens, ..
            } => {
                r.turns += 1;
                let r = &mut *r;
                for t in [&mut r.input_transcript, &mut r.output_transcript, &mut r.text] {
                    if !t.is_empty() && !t.ends_with('\n') {
                        t.push('\n');
                    }
                }
                if r.first_reply_after.is_none() {
                    r.first_reply_after = *first_reply;
                }
                if let Some(t) = tokens {
                    r.tokens = Some(r.tokens.unwrap_or(0) + t);
                }
            }
            _ => {}
        }
    }
}

/// Runs the question through the conversation and returns the reply.
pub async fn talk(options: SessionOptions, talk: TalkOptions) -> Result<TalkReply, ModeError> {
    match talk.mode {
        TalkMode::HandsFree(vad) => hands_free(options, talk, vad).await,
        TalkMode::PushToTalk => one_turn(options, talk).await,
    }
}

/// The file as one held turn: every frame is labelled speech, so the core opens the activity on the first
/// frame and closes it when the frames end.
async fn one_turn(options: SessionOptions, talk: TalkOptions) -> Result<TalkReply, ModeError> {
    let frames: Vec<[i16; FRAME_SAMPLES]> = talk
        .question
        .chunks(FRAME_SAMPLES)
        .map(|c| {
            let mut f = [0i16; FRAME_SAMPLES];
            f[..c.len()].copy_from_slice(c);
            f
        })
        .collect();
    let frames_sent = frames.len();
    let (tx, rx) = mpsc::channel(64);
    let real_time = talk.real_time;
    let pacer = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        for (i, samples) in frames.into_iter().enumerate() {
            if real_time {
                tokio::time::sleep_until(start + Duration::from_millis(20 * i as u64)).await;
            }
            let now = Instant::now();
            let frame = UplinkFrame {
                samples,
                captured_at: now,
                produced_at: now,
                vad: VadState::Speech,
            };
            // a file is not a live microphone: wait for queue space rather than drop a frame
            if tx.send(frame).await.is_err() {
                break;
            }
        }
    });
    let policy = Policy {
        preroll_frames: 0,
        text_route: talk.text_route,
        ..Policy::new(TalkMode::HandsFree(VadSource::Local))
    };
    let (session, events) = session::start(options).await?;
    if let Some(feed) = &talk.images {
        feed.send(&session).await?;
    }
    let gathered = std::sync::Arc::new(std::sync::Mutex::new(TalkReply::default()));
    let collector = std::sync::Arc::new(std::sync::Mutex::new(Collector::default()));
    let mut io = Io {
        session: session.clone(),
        events,
        frames: rx,
        audio_events: None,
        user: None,
        playback: Box::new(Shared(collector.clone())),
        renderer: Box::new(Gather(gathered.clone())),
        transcript: talk.transcript.as_deref().map(TranscriptWriter::create).transpose()?,
        latency: None,
        status: None,
        lossless_uplink: true,
        image_input: None,
        tools: talk.tools.runner(),
    };
    // one turn: done as soon as its reply is complete
    let result = run(policy, &mut io, talk.reply_timeout, Duration::ZERO).await;
    pacer.abort();
    session.close().await;
    let mut reply = take(&gathered);
    reply.audio = collector.lock().map(|c| c.samples.clone()).unwrap_or_default();
    reply.rate = OUTPUT_RATE;
    reply.frames_sent = frames_sent;
    match result {
        Ok(()) => Ok(reply),
        Err(error) if !reply.audio.is_empty() || !reply.text.is_empty() => Err(ModeError::Partial {
            error: Box::new(error),
            reply: Box::new(reply),
        }),
        Err(error) => Err(error),
    }
}

/// Each utterance of the file is a turn: the file is the microphone of the real audio engine.
async fn hands_free(options: SessionOptions, talk: TalkOptions, vad: VadSource) -> Result<TalkReply, ModeError> {
    let path = talk
        .path
        .clone()
        .ok_or_else(|| ModeError::EndedEarly("hands-free talk needs the WAV file's path".into()))?;
    if !talk.real_time {
        return Err(ModeError::Invalid(
            "--fast: hands-free turns are found in real time (the VAD and the reply timeline need the file's clock); drop --fast or use --mode ptt".into(),
        ));
    }
    let source = BufferSource::wav(&path, Pacing::RealTime)?;
    let format = StreamFormat {
        sample_rate: DOWNLINK_RATE,
        channels: 1,
    };
    let (sink, kept) = ClockSink::new(format, Pacing::RealTime, Duration::from_millis(30)).keep();
    let server_silence = options.setup.vad_silence();
    let (session, events) = session::start(options).await?;
    if let Some(feed) = &talk.images {
        feed.send(&session).await?;
    }
    let audio = AudioConfig {
        // nothing the clock sink plays reaches the file: there is no echo to cancel
        echo_cancellation: false,
        ..AudioConfig::default()
    };
    let (engine, frames) = AudioEngine::start_with(Box::new(source), Box::new(sink), audio)?;
    let gathered = std::sync::Arc::new(std::sync::Mutex::new(TalkReply::default()));
    let mut io = Io {
        session: session.clone(),
        events,
        frames,
        audio_events: Some(engine.events()),
        user: None,
        playback: Box::new(EnginePlayback::new(engine.player())),
        renderer: Box::new(Gather(gathered.clone())),
        transcript: talk.transcript.as_deref().map(TranscriptWriter::create).transpose()?,
        latency: Some(engine.latency()),
        status: None,
        lossless_uplink: false,
        image_input: None,
        tools: talk.tools.runner(),
    };
    let policy = Policy {
        text_route: talk.text_route,
        ..Policy::new(TalkMode::HandsFree(vad))
    }
    .after_server_silence(server_silence);
    let result = run(policy, &mut io, talk.reply_timeout, SETTLE).await;
    drop(io);
    session.close().await;
    let frames_sent = engine.stats().frames as usize;
    engine.stop();
    result?;
    let mut reply = take(&gathered);
    let played = kept.lock().map(|k| k.clone()).unwrap_or_default();
    reply.audio = played
        .iter()
        .map(|&s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect();
    reply.rate = DOWNLINK_RATE;
    reply.frames_sent = frames_sent;
    Ok(reply)
}

async fn run(policy: Policy, io: &mut Io<'_>, reply_timeout: Duration, settle: Duration) -> Result<(), ModeError> {
    let mut conversation = Conversation::new(policy, Instant::now());
    let exit = Exit::WhenSourceDone { settle, reply_timeout };
    match drive(&mut conversation, io, exit, std::future::pending()).await? {
        Ended::SourceDone => Ok(()),
        Ended::Stopped(r) | Ended::Closed(r) if conversation.turns() > 0 && conversation.is_idle(Instant::now()) => {
            tracing::debug!("talk ended: {r}");
            Ok(())
        }
        Ended::Stopped(r) | Ended::Closed(r) => Err(ModeError::EndedEarly(r)),
    }
}

fn take(gathered: &std::sync::Mutex<TalkReply>) -> TalkReply {
    gathered.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default()
}

/// A [`Collector`] the caller can read after the conversation.
struct Shared(std::sync::Arc<std::sync::Mutex<Collector>>);

impl Playback for Shared {
    fn play(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant) {
        if let Ok(mut c) = self.0.lock() {
            c.play(samples, rate, received_at);
        }
    }

    fn stop(&mut self, _onset: Option<Instant>) {}

    fn is_playing(&self) -> bool {
        false
    }

    fn dropped(&self) -> u64 {
        self.0.lock().map(|c| c.dropped()).unwrap_or(0)
    }
}
