//! The typed events a session delivers, one server message becoming one or more events in wire order.

use std::time::{Duration, Instant};

use super::reconnect::CloseClass;
use crate::protocol::codec::{parse_duration, pcm16_from_bytes, pcm_rate};
use crate::protocol::{FunctionCall, InteractionStatus, ServerMessage, UsageMetadata, OUTPUT_RATE};

/// Something the server said, as the rest of voxlive sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A chunk of the model's speech: mono 16-bit samples at `rate` (24 kHz from the real service).
    Audio {
        samples: Vec<i16>,
        rate: u32,
        received_at: Instant,
    },
    /// Text from the model (TEXT modality, or text parts beside audio).
    Text(String),
    /// The model's thinking, when it includes thoughts.
    Thought(String),
    /// Transcript of what the user said.
    InputTranscript(String),
    /// Transcript of what the model said.
    OutputTranscript(String),
    /// The model asks for these functions to be run.
    ToolCall(Vec<FunctionCall>),
    /// These calls are cancelled: do not answer them.
    ToolCallCancellation(Vec<String>),
    /// The user barged in: drop all queued, unplayed audio now.
    Interrupted,
    /// The model finished generating this turn (audio may still be playing).
    GenerationComplete,
    /// The turn is over; usage when the server sent it. `interaction` (gemini-3.8-live) says whether the
    /// model may speak again without new input (`InProgress`: background tools still run) or is done
    /// (`Idle`); `None` from older models, where a turnComplete after a tool call is not the end either.
    TurnComplete {
        usage: Option<UsageMetadata>,
        reason: Option<String>,
        interaction: Option<InteractionStatus>,
    },
    /// An `interactionStatus` that came without a turnComplete.
    Interaction(InteractionStatus),
    /// A transcription of what the user is saying that may still change (late 2026).
    InterimInputTranscript(String),
    /// The server's voice activity detection: speech started (`true`) or ended, `offset` into the audio
    /// stream when the server said (late 2026 `voiceActivity`).
    VoiceActivity { started: bool, offset: Option<Duration> },
    /// Usage sent on a message that did not complete a turn.
    Usage(UsageMetadata),
    /// The server will close this connection after `time_left`.
    GoAway { time_left: Option<Duration> },
    /// A new resumption handle.
    ResumptionUpdate {
        handle: Option<String>,
        resumable: bool,
        last_consumed_index: Option<i64>,
    },
    /// The connection was lost (or the server asked us to leave) and the supervisor is connecting again:
    /// attempt number (from 1), the wait before it, and why.
    Reconnecting {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// A new connection continues the same session (resumption handle): `replayed` messages the old one
    /// had not acknowledged were written again; `downtime` is how long no connection was up (None for a
    /// make-before-break switch after goAway).
    Resumed {
        replayed: usize,
        downtime: Option<Duration>,
    },
    /// The server refused the resumption handle: a fresh session was started, seeded with
    /// `history_turns` turns of the conversation so far.
    Restarted { reason: String, history_turns: usize },
    /// The server sent a frame that is not a valid message; it was skipped.
    ProtocolError(String),
    /// The session ended for good: the server's close code (if a close frame said why), the reason in
    /// words, and its class (normal end, terminal error, or a retryable failure the supervisor could not
    /// overcome).
    Closed {
        code: Option<u16>,
        reason: String,
        class: CloseClass,
    },
}

/// Whether a turnComplete carrying `interaction` ends the whole interaction. Only `IN_PROGRESS` says the
/// model will speak again without new input (gemini-3.8-live, while background work goes on); `IDLE`,
/// an unknown value, or none at all (older models) end it. Every mode asks this one function, so the
/// rule lives in one place.
pub fn interaction_done(interaction: Option<&InteractionStatus>) -> bool {
    !matches!(interaction, Some(InteractionStatus::InProgress))
}

impl Event {
    /// The final event for a session that ended with `error`.
    pub fn closed(error: &super::SessionError) -> Event {
        Event::Closed {
            code: error.close_code(),
            reason: error.to_string(),
            class: error.class(),
        }
    }
}

/// Splits one server message into events, in the order a client should act on them.
pub fn events_from(msg: ServerMessage, received_at: Instant) -> Vec<Event> {
    let mut out = Vec::new();
    let mut usage = msg.usage_metadata;
    if let Some(content) = msg.server_content {
        if content.interrupted == Some(true) {
            out.push(Event::Interrupted);
        }
        if let Some(t) = content.interim_input_transcription.and_then(|t| t.text) {
            out.push(Event::InterimInputTranscript(t));
        }
        if let Some(t) = content.input_transcription.and_then(|t| t.text) {
            out.push(Event::InputTranscript(t));
        }
        for part in content.model_turn.map(|c| c.parts).unwrap_or_default() {
            if let Some(blob) = part.inline_data {
                if blob.mime_type.starts_with("audio/") {
                    let rate = pcm_rate(&blob.mime_type).unwrap_or(OUTPUT_RATE);
                    out.push(Event::Audio {
                        samples: pcm16_from_bytes(&blob.data),
                        rate,
                        received_at,
                    });
                }
            }
            if let Some(text) = part.text {
                if part.thought == Some(true) {
                    out.push(Event::Thought(text));
                } else {
                    out.push(Event::Text(text));
                }
            }
        }
        if let Some(t) = content.output_transcription.and_then(|t| t.text) {
            out.push(Event::OutputTranscript(t));
        }
        if content.generation_complete == Some(true) {
            out.push(Event::GenerationComplete);
        }
        if content.turn_complete == Some(true) {
            out.push(Event::TurnComplete {
                usage: usage.take(),
                reason: content.turn_complete_reason,
                interaction: content.interaction_status,
            });
        } else if let Some(status) = content.interaction_status {
            out.push(Event::Interaction(status));
        }
    }
    if let Some(activity) = msg.voice_activity {
        out.push(Event::VoiceActivity {
            started: activity.voice_activity_type.ends_with("START"),
            offset: activity.audio_offset.as_deref().and_then(|d| parse_duration(d).ok()),
        });
    }
    if let Some(call) = msg.tool_call {
        out.push(Event::ToolCall(call.function_calls));
    }
    if let Some(cancel) = msg.tool_call_cancellation {
        out.push(Event::ToolCallCancellation(cancel.ids));
    }
    if let Some(go) = msg.go_away {
        out.push(Event::GoAway {
            time_left: parse_duration(&go.time_left).ok(),
        });
    }
    if let Some(upd) = msg.session_resumption_update {
        out.push(Event::ResumptionUpdate {
            handle: upd.new_handle,
            resumable: upd.resumable.unwrap_or(false),
            last_consumed_index: upd.last_consumed_client_message_index,
        });
    }
    if let Some(u) = usage {
        out.push(Event::Usage(u));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_message_yields_events_in_order() {
        let msg = ServerMessage::from_slice(
            br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AQACAA=="}},{"text":"hi"}]},
                "outputTranscription":{"text":"hi"},"generationComplete":true,"turnComplete":true},
                "usageMetadata":{"totalTokenCount":3}}"#,
        )
        .unwrap();
        let now = Instant::now();
        let ev = events_from(msg, now);
        assert_eq!(
            ev[0],
            Event::Audio {
                samples: vec![1, 2],
                rate: 24000,
                received_at: now
            }
        );
        assert_eq!(ev[1], Event::Text("hi".into()));
        assert_eq!(ev[2], Event::OutputTranscript("hi".into()));
        assert_eq!(ev[3], Event::GenerationComplete);
        assert!(matches!(&ev[4], Event::TurnComplete { usage: Some(u), .. } if u.total_token_count == Some(3)));
        assert_eq!(ev.len(), 5);
    }

    #[test]
    fn late_2026_fields_become_events() {
        let msg = ServerMessage::from_slice(
            br#"{"serverContent":{"interimInputTranscription":{"text":"wha"},"inputTranscription":{"text":"what","finished":true,"languageCode":"en-US"},
                "turnComplete":true,"interactionStatus":"IN_PROGRESS","turnCompleteReason":"NEED_MORE_INPUT"},
                "voiceActivity":{"voiceActivityType":"ACTIVITY_START","audioOffset":"1.500s"}}"#,
        )
        .unwrap();
        let ev = events_from(msg, Instant::now());
        assert_eq!(ev[0], Event::InterimInputTranscript("wha".into()));
        assert_eq!(ev[1], Event::InputTranscript("what".into()));
        assert!(matches!(
            &ev[2],
            Event::TurnComplete { interaction: Some(InteractionStatus::InProgress), reason: Some(r), .. } if r == "NEED_MORE_INPUT"
        ));
        assert_eq!(
            ev[3],
            Event::VoiceActivity {
                started: true,
                offset: Some(Duration::from_millis(1500))
            }
        );
        let idle = ServerMessage::from_slice(br#"{"serverContent":{"interactionStatus":"IDLE"}}"#).unwrap();
        assert_eq!(
            events_from(idle, Instant::now()),
            vec![Event::Interaction(InteractionStatus::Idle)]
        );
        let odd = ServerMessage::from_slice(br#"{"serverContent":{"interactionStatus":"SOMETHING_NEW"}}"#).unwrap();
        assert_eq!(
            events_from(odd, Instant::now()),
            vec![Event::Interaction(InteractionStatus::Other("SOMETHING_NEW".into()))]
        );
    }

    #[test]
    fn interrupted_comes_first() {
        let msg = ServerMessage::from_slice(br#"{"serverContent":{"interrupted":true}}"#).unwrap();
        assert_eq!(events_from(msg, Instant::now()), vec![Event::Interrupted]);
    }
}
