//! `voxlive talk`: a recorded question goes up as 20 ms 16 kHz LINEAR16 frames (paced in real time unless
//! fast), the turn ends, and the spoken reply comes back as 24 kHz audio for a WAV file.

use std::time::{Duration, Instant};

use crate::protocol::{ClientMessage, UsageMetadata, INPUT_RATE, OUTPUT_RATE};
use crate::session::{self, Event, SessionOptions};

use super::ModeError;

/// Samples in one 20 ms frame at 16 kHz.
pub const FRAME_SAMPLES: usize = (INPUT_RATE as usize) / 50;

#[derive(Debug, Clone)]
pub struct TalkOptions {
    /// The question, 16 kHz mono.
    pub question: Vec<i16>,
    /// Pace frames in real time (a live microphone's timing) rather than as fast as possible.
    pub real_time: bool,
    /// Mark the turn with activityStart/activityEnd (the setup must disable automatic detection);
    /// otherwise end with audioStreamEnd and let the server's detection find the end of speech.
    pub manual_turn: bool,
    pub reply_timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct TalkReply {
    /// The reply audio at `rate` (24 kHz from the real service), mono.
    pub audio: Vec<i16>,
    pub rate: u32,
    pub text: String,
    pub input_transcript: String,
    pub output_transcript: String,
    pub usage: Option<UsageMetadata>,
    /// From the end of the question to the first reply audio (or text).
    pub first_reply_after: Option<Duration>,
    pub frames_sent: usize,
    /// Warnings the session reported (malformed frames skipped).
    pub warnings: Vec<String>,
}

/// Runs one spoken turn.
pub async fn talk(options: SessionOptions, talk: TalkOptions) -> Result<TalkReply, ModeError> {
    let (session, mut events) = session::start(options).await?;
    let sender = session.clone();
    let frames: Vec<Vec<i16>> = talk.question.chunks(FRAME_SAMPLES).map(<[i16]>::to_vec).collect();
    let frames_sent = frames.len();
    let manual = talk.manual_turn;
    let real_time = talk.real_time;
    let upload = tokio::spawn(async move {
        if manual {
            sender.activity_start().await?;
        }
        let start = tokio::time::Instant::now();
        for (i, frame) in frames.into_iter().enumerate() {
            if real_time {
                tokio::time::sleep_until(start + Duration::from_millis(20 * i as u64)).await;
            }
            // A file is not a live microphone: wait for queue space rather than drop a frame.
            sender.send(ClientMessage::audio(INPUT_RATE, &frame)).await?;
        }
        if manual {
            sender.activity_end().await?;
        } else {
            sender.audio_stream_end().await?;
        }
        Ok::<Instant, session::SessionError>(Instant::now())
    });

    let mut reply = TalkReply {
        rate: OUTPUT_RATE,
        frames_sent,
        ..TalkReply::default()
    };
    let mut question_end: Option<Instant> = None;
    let mut upload = Some(upload);
    let result = loop {
        let deadline = question_end.map(|t| t + talk.reply_timeout);
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d.into(), events.recv()).await.map_err(|_| ()),
                None => Ok(events.recv().await),
            }
        };
        tokio::select! {
            done = async {
                match upload.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            }, if upload.is_some() => {
                upload = None;
                match done {
                    Ok(Ok(t)) => question_end = Some(t),
                    Ok(Err(e)) => break Err(e.into()),
                    Err(e) => break Err(ModeError::EndedEarly(format!("the upload task failed: {e}"))),
                }
            }
            ev = next => match ev {
                Err(()) => break Err(ModeError::ReplyTimeout(talk.reply_timeout)),
                Ok(None) => break Err(ModeError::EndedEarly("the session closed".into())),
                Ok(Some(ev)) => {
                    if let Some(done) = on_event(ev, &mut reply, question_end) {
                        break done;
                    }
                }
            },
        }
    };
    session.close().await;
    result.map(|()| reply)
}

/// Folds one event into the reply; `Some` when the turn is over (or failed).
fn on_event(ev: Event, reply: &mut TalkReply, question_end: Option<Instant>) -> Option<Result<(), ModeError>> {
    let mark_first = |reply: &mut TalkReply, at: Instant| {
        if reply.first_reply_after.is_none() {
            reply.first_reply_after = question_end.map(|end| at.saturating_duration_since(end));
        }
    };
    match ev {
        Event::Audio {
            samples,
            rate,
            received_at,
        } => {
            mark_first(reply, received_at);
            reply.rate = rate;
            reply.audio.extend_from_slice(&samples);
        }
        Event::Text(t) => {
            mark_first(reply, Instant::now());
            reply.text.push_str(&t);
        }
        Event::InputTranscript(t) => reply.input_transcript.push_str(&t),
        Event::OutputTranscript(t) => reply.output_transcript.push_str(&t),
        Event::TurnComplete { usage, .. } => {
            reply.usage = usage;
            return Some(Ok(()));
        }
        Event::Usage(u) => reply.usage = Some(u),
        Event::ProtocolError(e) => reply.warnings.push(format!("skipped a malformed server frame: {e}")),
        Event::Closed { reason, .. } => return Some(Err(ModeError::EndedEarly(reason))),
        _ => {}
    }
    None
}
