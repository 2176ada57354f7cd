//! The reply tracker: what the session said, turned into playback, notices, the first-reply latency and
//! transcript rows. After a local barge-in the rest of the interrupted reply is dropped (the service keeps
//! sending it for a few hundred milliseconds until it notices) until `interrupted` or `turnComplete` closes it.

use std::time::Instant;

use crate::protocol::{FunctionCall, InteractionStatus, UsageMetadata};
use crate::session::{CloseClass, Event};

use super::connection::connection_notice;
use super::core::Conversation;
use super::{call_key, interaction_over, Action, Notice, Role, State, TranscriptRow};

/// The reply in progress.
#[derive(Debug, Default)]
pub(super) struct Reply {
    /// Model content (audio, text, transcript) arrived since the last close.
    content: bool,
    audio: bool,
    /// Audio of this reply is still arriving (no turnComplete yet).
    streaming: bool,
    first_at: Option<Instant>,
    last_at: Option<Instant>,
    text: String,
    /// A local barge-in cut this reply: drop what is still on its way.
    silenced: bool,
    first_reply_measured: bool,
    tokens: Option<u64>,
    /// An utterance ended with the interaction still in progress: the next words start a new sentence.
    utterance_break: bool,
}

impl Reply {
    pub fn is_open(&self) -> bool {
        self.content
    }

    pub fn streaming(&self) -> bool {
        self.streaming
    }

    pub fn streaming_audio(&self) -> bool {
        self.streaming && self.audio
    }

    /// Drop the rest of this reply, if more of it may still arrive.
    pub fn silence_rest(&mut self) {
        self.silenced = self.streaming;
    }

    fn mark(&mut self, at: Instant) {
        self.content = true;
        self.streaming = true;
        self.first_at.get_or_insert(at);
        self.last_at = Some(at);
    }
}

impl Conversation {
    /// A session event: reply content, the turn's and the interaction's ends, tool calls, and what the
    /// connection went through (as notices).
    pub(super) fn on_server(&mut self, event: Event, at: Instant) {
        match event {
            Event::Audio {
                samples,
                rate,
                received_at,
            } => self.on_audio(samples, rate, received_at),
            Event::Text(text) => self.on_model_text(text, at, false),
            Event::OutputTranscript(text) => self.on_model_text(text, at, true),
            Event::Interaction(status) => {
                if self.held.is_some() {
                    self.held = Some(Some(status));
                    self.end_interaction_if_over(at);
                    self.settle(at);
                }
            }
            Event::Thought(_) | Event::GenerationComplete | Event::ResumptionUpdate { .. } => {}
            Event::InterimInputTranscript(text) => self
                .out
                .push(Action::Show(Notice::InterimUserTranscript { turn: self.turn, text })),
            Event::VoiceActivity { started, offset } => {
                tracing::debug!(started, ?offset, "the server's VAD");
                self.server_vad = Some(started);
            }
            Event::Usage(u) => self.reply.tokens = u.total_token_count.map(u64::from).or(self.reply.tokens),
            Event::InputTranscript(text) => {
                self.user_text.push_str(&text);
                self.out
                    .push(Action::Show(Notice::UserTranscript { turn: self.turn, text }));
            }
            Event::Interrupted => self.on_interrupted(at),
            Event::TurnComplete { usage, interaction, .. } => self.on_turn_complete(usage, interaction, at),
            Event::ToolCall(calls) => self.on_tool_call(calls, at),
            Event::ToolCallCancellation(ids) => self.on_tool_cancellation(ids, at),
            event @ (Event::GoAway { .. }
            | Event::Reconnecting { .. }
            | Event::Resumed { .. }
            | Event::Restarted { .. }
            | Event::ProtocolError(_)) => {
                if let Some(notice) = connection_notice(event) {
                    self.out.push(Action::Show(notice));
                }
            }
            Event::Closed { reason, class, .. } => {
                self.ended = true;
                self.out.push(Action::End {
                    normal: class == CloseClass::Normal,
                    reason,
                });
            }
        }
    }

    /// The server's `interrupted`: the user took the floor, so whatever the model meant to add is not
    /// awaited any more and what is queued for the speaker goes.
    fn on_interrupted(&mut self, at: Instant) {
        self.held_since = None;
        self.out.push(Action::StopPlayback { onset: None });
        self.playing = false;
        self.last_play_at = None;
        self.reply.silenced = false;
        self.held = None;
        if self.reply.is_open() {
            self.close_reply(true, at);
        }
        if !self.activity_open {
            self.set_state(State::Interrupted);
        }
    }

    /// A turnComplete ends an utterance (its audio plays out); the reply stays open until the
    /// interaction is over (a tool's answer, or the next utterance of an interaction in progress, may
    /// still come).
    fn on_turn_complete(&mut self, usage: Option<UsageMetadata>, interaction: Option<InteractionStatus>, at: Instant) {
        if let Some(t) = usage.and_then(|u| u.total_token_count).map(u64::from) {
            self.reply.tokens = Some(t);
        }
        // what a barge-in cut is over now: later audio belongs to the next reply
        self.reply.silenced = false;
        if self.reply.audio {
            self.out.push(Action::EndOfReply);
            self.reply.audio = false;
        }
        self.reply.streaming = false;
        self.held = Some(interaction);
        self.held_since = Some(at);
        self.end_interaction_if_over(at);
        self.settle(at);
    }

    /// The model called tools: part of the reply, which waits for their answers.
    fn on_tool_call(&mut self, calls: Vec<FunctionCall>, at: Instant) {
        self.reply.mark(at);
        self.tools.called(calls.iter().map(call_key));
        let names = calls.into_iter().map(|c| c.name).collect();
        self.out.push(Action::Show(Notice::ToolCall { turn: self.turn, names }));
    }

    /// The server cancelled tool calls: their answers are not awaited any more.
    fn on_tool_cancellation(&mut self, ids: Vec<String>, at: Instant) {
        self.tools.cancelled(&ids);
        self.out.push(Action::Show(Notice::Info(format!(
            "tool calls cancelled: {}",
            ids.join(", ")
        ))));
        self.end_interaction_if_over(at);
    }

    /// Answers to tool calls went up: the model may now speak about them, or (all SILENT) nothing follows.
    pub(super) fn on_tool_answered(&mut self, ids: &[String], spoken: bool, at: Instant) {
        self.tools.answered(ids, spoken);
        self.end_interaction_if_over(at);
        self.settle(at);
    }

    /// After a turnComplete (held): closes the reply once [`interaction_over`] says the model is done;
    /// until then the next utterance adds to the same reply, as a new sentence.
    fn end_interaction_if_over(&mut self, at: Instant) {
        let Some(status) = &self.held else { return };
        if !interaction_over(status.as_ref(), &self.tools) {
            self.reply.utterance_break = true;
            return;
        }
        self.held = None;
        self.held_since = None;
        self.tools.reset();
        if self.reply.is_open() {
            self.close_reply(false, at);
        }
    }

    /// Model content arrived: a further turn of the interaction (the answer after a tool call, the next
    /// utterance) has begun.
    fn model_content(&mut self) {
        self.tools.model_spoke();
        self.held = None;
        self.held_since = None;
    }
    fn on_audio(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant) {
        if self.reply.silenced {
            return;
        }
        self.model_content();
        self.begin_reply(received_at);
        self.reply.audio = true;
        self.last_play_at = Some(received_at);
        self.out.push(Action::Play {
            samples,
            rate,
            received_at,
        });
        self.set_state(State::AssistantSpeaking);
    }

    fn on_model_text(&mut self, text: String, at: Instant, transcript: bool) {
        if self.reply.silenced {
            return;
        }
        self.model_content();
        self.begin_reply(at);
        // the next utterance of an interaction in progress is a new sentence: keep the words apart
        let mut text = text;
        let joined = self.reply.text.ends_with(char::is_whitespace) || text.starts_with(char::is_whitespace);
        if std::mem::take(&mut self.reply.utterance_break) && !self.reply.text.is_empty() && !joined {
            text.insert(0, ' ');
        }
        self.reply.text.push_str(&text);
        let turn = self.turn;
        self.out.push(Action::Show(if transcript {
            Notice::ModelTranscript { turn, text }
        } else {
            Notice::ModelText { turn, text }
        }));
        if self.state == State::WaitingForReply || self.state == State::Listening {
            self.set_state(State::AssistantSpeaking);
        }
    }

    /// The first piece of a reply: measure how long it took after the user's turn ended.
    fn begin_reply(&mut self, at: Instant) {
        if !self.reply.first_reply_measured {
            if let Some(end) = self.user_end.filter(|_| !self.activity_open) {
                self.reply.first_reply_measured = true;
                self.out.push(Action::FirstReply(at.saturating_duration_since(end)));
            }
        }
        self.reply.mark(at);
    }

    /// The reply is over (completed, or `interrupted`): count the turn, write its transcript rows.
    pub(super) fn close_reply(&mut self, interrupted: bool, at: Instant) {
        self.held = None;
        let turn = self.turn;
        let first_reply = match (self.user_end, self.reply.first_at) {
            (Some(end), Some(first)) => Some(first.saturating_duration_since(end)),
            _ => None,
        };
        if let Some(start) = self
            .user_start
            .filter(|_| !self.user_text.trim().is_empty() || self.user_end.is_some())
        {
            let end = self.user_end.unwrap_or(at);
            let text = std::mem::take(&mut self.user_text).trim().to_string();
            self.out.push(Action::Transcript(TranscriptRow {
                turn,
                role: Role::User,
                text,
                start_ms: self.ms(start),
                end_ms: self.ms(end),
                interrupted: false,
            }));
        }
        if self.reply.content {
            let row = TranscriptRow {
                turn,
                role: Role::Model,
                text: self.reply.text.trim().to_string(),
                start_ms: self.reply.first_at.map_or(0, |t| self.ms(t)),
                end_ms: self.ms(if interrupted {
                    at
                } else {
                    self.reply.last_at.unwrap_or(at)
                }),
                interrupted,
            };
            self.out.push(Action::Transcript(row));
        }
        self.out.push(Action::Show(Notice::TurnDone {
            turn,
            first_reply,
            interrupted,
            tokens: self.reply.tokens,
        }));
        self.turns_done += 1;
        self.turn += 1;
        let silenced = self.reply.silenced;
        self.reply = Reply {
            silenced,
            ..Reply::default()
        };
        if !self.activity_open {
            self.user_start = None;
            self.user_end = None;
        }
    }

    /// Back to listening once nothing of the reply is left to hear; waiting, when the model said it will
    /// speak again in this interaction.
    pub(super) fn settle(&mut self, at: Instant) {
        if self.held.is_some() {
            // between the turns of one interaction: the answer is still to come
            if !self.audible(at) && self.state == State::AssistantSpeaking {
                self.set_state(State::WaitingForReply);
            }
            return;
        }
        let done = matches!(self.state, State::AssistantSpeaking | State::Interrupted)
            && !self.reply.streaming()
            && !self.audible(at)
            && !self.activity_open;
        if done {
            self.set_state(State::Listening);
        }
    }
}
