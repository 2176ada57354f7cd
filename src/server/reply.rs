//! What a responder answers ([`Reply`]) and how it becomes wire messages: audio cut into 40 ms
//! `inlineData` chunks, text by modality, transcripts only when setup asked for them, tool calls with ids,
//! then `generationComplete` and `turnComplete` with usage.
//! Token counting is in `usage.rs`.

use std::time::Duration;

use crate::protocol::codec::pcm16_to_bytes;
use crate::protocol::{
    Blob, Content, FunctionCall, Modality, Part, ServerContent, ServerMessage, ToolCall, Transcription, OUTPUT_RATE,
};

use super::responder::signal::speech_like_tone;
pub use super::usage::{audio_tokens, text_tokens, TurnUsage};

/// Reply audio is sent in chunks of this many 24 kHz samples (40 ms).
pub const CHUNK_SAMPLES: usize = OUTPUT_RATE as usize / 25;

/// A finished user turn, as responders see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserTurn {
    /// 16 kHz mono audio (empty for a text turn).
    pub audio: Vec<i16>,
    /// The typed text of a text turn.
    pub text: Option<String>,
}

/// One piece of a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyPart {
    /// 24 kHz mono audio (skipped in a TEXT session).
    Audio(Vec<i16>),
    /// Words to answer with: a text part in a TEXT session; a speech-like tone plus an output transcript
    /// in an AUDIO session.
    Say(String),
    /// A text part, in any modality.
    Text(String),
    InputTranscript(String),
    OutputTranscript(String),
    /// Ask the client to run a function; the reply pauses until the matching toolResponse.
    ToolCall(FunctionCall),
    /// Several calls in one toolCall message, with per-call cancellations and whether the turn closes at
    /// once (see [`ToolCalls`]).
    ToolCalls(ToolCalls),
}

/// One toolCall message: what a responder asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCalls {
    pub calls: Vec<FunctionCall>,
    /// Per call (same order): send toolCallCancellation for it this long after the toolCall, if it is
    /// still open.
    pub cancel_after: Vec<Option<Duration>>,
    /// Close the turn (turnComplete) right after the toolCall, as the real service may; the answer then
    /// comes as a further turn. NON_BLOCKING calls always close it.
    pub close_turn: bool,
}

/// What the connection must know about a toolCall it sends: each call's id and name, cancellations, and
/// whether to close the turn at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCallMeta {
    pub calls: Vec<(String, String)>,
    pub cancel_after: Vec<Option<Duration>>,
    pub close_turn: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub parts: Vec<ReplyPart>,
    /// Send goAway with this timeLeft after the turn completes.
    pub go_away: Option<Duration>,
}

impl Reply {
    pub fn new(parts: Vec<ReplyPart>) -> Self {
        Reply { parts, go_away: None }
    }
}

/// What the session asked for, which decides how parts are rendered.
#[derive(Debug, Clone, Copy)]
pub struct RenderCtx {
    pub modality: Modality,
    pub input_transcription: bool,
    pub output_transcription: bool,
}

/// One queued server message and how the handler treats it.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Message(ServerMessage),
    /// A reply audio chunk lasting this long (paced, counted for faults).
    Audio(ServerMessage, Duration),
    /// A toolCall: after it the queue waits for the toolResponse answering its BLOCKING calls.
    ToolCall(ServerMessage, ToolCallMeta),
    /// The turnComplete (with usage); then goAway with this timeLeft if set.
    TurnComplete(ServerMessage, Option<Duration>),
}

fn model_turn(part: Part) -> ServerMessage {
    ServerMessage::content(ServerContent {
        model_turn: Some(Content {
            role: Some("model".into()),
            parts: vec![part],
        }),
        ..ServerContent::default()
    })
}

fn transcript(input: bool, text: String) -> ServerMessage {
    let t = Some(Transcription {
        text: Some(text),
        ..Transcription::default()
    });
    let content = if input {
        ServerContent {
            input_transcription: t,
            ..ServerContent::default()
        }
    } else {
        ServerContent {
            output_transcription: t,
            ..ServerContent::default()
        }
    };
    ServerMessage::content(content)
}

fn push_audio(out: &mut Vec<Outgoing>, samples: &[i16], usage: &mut TurnUsage) {
    usage.add_response_audio(samples.len());
    for chunk in samples.chunks(CHUNK_SAMPLES) {
        let blob = Blob::new(format!("audio/pcm;rate={OUTPUT_RATE}"), pcm16_to_bytes(chunk));
        let part = Part {
            inline_data: Some(blob),
            ..Part::default()
        };
        let duration = Duration::from_micros(chunk.len() as u64 * 1_000_000 / u64::from(OUTPUT_RATE));
        out.push(Outgoing::Audio(model_turn(part), duration));
    }
}

/// The toolCall message, every call with an id (`call-N` where the responder gave none).
fn tool_call(mut calls: ToolCalls, next_call_id: &mut u64) -> Outgoing {
    let mut meta = ToolCallMeta {
        calls: Vec::with_capacity(calls.calls.len()),
        cancel_after: std::mem::take(&mut calls.cancel_after),
        close_turn: calls.close_turn,
    };
    for call in &mut calls.calls {
        let id = call.id.clone().unwrap_or_else(|| {
            *next_call_id += 1;
            format!("call-{next_call_id}")
        });
        call.id = Some(id.clone());
        meta.calls.push((id, call.name.clone()));
    }
    let msg = ServerMessage {
        tool_call: Some(ToolCall {
            function_calls: calls.calls,
        }),
        ..ServerMessage::default()
    };
    Outgoing::ToolCall(msg, meta)
}

/// Renders `reply` into queued messages. Parts after a tool call are dropped (a reply that calls a tool
/// continues in the responder's `on_tool_response`); without a tool call the turn is closed with
/// generationComplete and turnComplete carrying `usage`. `next_call_id` numbers calls without an id.
pub fn render(reply: Reply, ctx: &RenderCtx, usage: &mut TurnUsage, next_call_id: &mut u64) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for part in reply.parts {
        match part {
            ReplyPart::Audio(samples) if ctx.modality != Modality::Text => push_audio(&mut out, &samples, usage),
            ReplyPart::Audio(_) => {}
            ReplyPart::Say(text) if ctx.modality == Modality::Text => {
                usage.add_response_text(&text);
                out.push(Outgoing::Message(model_turn(Part::text(text))));
            }
            ReplyPart::Say(text) => {
                if ctx.output_transcription {
                    out.push(Outgoing::Message(transcript(false, text.clone())));
                }
                push_audio(&mut out, &speech_like_tone(&text, OUTPUT_RATE), usage);
            }
            ReplyPart::Text(text) => {
                usage.add_response_text(&text);
                out.push(Outgoing::Message(model_turn(Part::text(text))));
            }
            ReplyPart::InputTranscript(text) if ctx.input_transcription => {
                out.push(Outgoing::Message(transcript(true, text)));
            }
            ReplyPart::OutputTranscript(text) if ctx.output_transcription => {
                out.push(Outgoing::Message(transcript(false, text)));
            }
            ReplyPart::InputTranscript(_) | ReplyPart::OutputTranscript(_) => {}
            ReplyPart::ToolCall(call) => {
                let calls = ToolCalls {
                    calls: vec![call],
                    ..ToolCalls::default()
                };
                out.push(tool_call(calls, next_call_id));
                return out;
            }
            ReplyPart::ToolCalls(calls) => {
                out.push(tool_call(calls, next_call_id));
                return out;
            }
        }
    }
    let done = ServerContent {
        generation_complete: Some(true),
        ..ServerContent::default()
    };
    out.push(Outgoing::Message(ServerMessage::content(done)));
    let complete = ServerMessage {
        usage_metadata: Some(usage.metadata()),
        ..ServerMessage::content(ServerContent {
            turn_complete: Some(true),
            ..ServerContent::default()
        })
    };
    out.push(Outgoing::TurnComplete(complete, reply.go_away));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_rule_is_25_tokens_per_second_of_audio() {
        assert_eq!(audio_tokens(16_000, 16_000), 25);
        assert_eq!(audio_tokens(1, 16_000), 1);
        assert_eq!(text_tokens("hello"), 2);
    }

    #[test]
    fn audio_reply_is_cut_into_40ms_chunks_and_closed_with_usage() {
        let ctx = RenderCtx {
            modality: Modality::Audio,
            input_transcription: false,
            output_transcription: false,
        };
        let mut usage = TurnUsage::for_turn(&UserTurn {
            audio: vec![0; 16_000],
            text: None,
        });
        let out = render(
            Reply::new(vec![ReplyPart::Audio(vec![0; 2000])]),
            &ctx,
            &mut usage,
            &mut 0,
        );
        assert_eq!(out.iter().filter(|o| matches!(o, Outgoing::Audio(..))).count(), 3);
        let Some(Outgoing::TurnComplete(msg, None)) = out.last() else {
            panic!("no turnComplete")
        };
        let meta = msg.usage_metadata.clone().unwrap();
        assert_eq!(meta.prompt_token_count, Some(25));
        assert_eq!(meta.response_token_count, Some(3));
    }
}
