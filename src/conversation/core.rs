//! [`Conversation`]: the state every policy step reads and writes, and the entry point that routes each
//! [`Input`] to the uplink gate (`uplink.rs`) or the reply tracker (`reply.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::audio::{Frame, VadState};

use super::{Action, Input, Notice, Policy, State};

/// How long after the last reply chunk was queued a "not playing" report from the player is not yet
/// trusted: the chunk may still be on its way to the DSP thread.
pub(super) const PLAY_GRACE: Duration = Duration::from_millis(150);

/// The conversation state machine. Feed it with [`Conversation::handle`]; it never blocks or sleeps.
#[derive(Debug)]
pub struct Conversation {
    pub(super) policy: Policy,
    pub(super) started: Instant,
    pub(super) out: Vec<Action>,
    pub(super) state: State,
    /// The turn in progress, from 1.
    pub(super) turn: u32,
    pub(super) turns_done: u32,
    /// The player's last reported state.
    pub(super) playing: bool,
    pub(super) last_play_at: Option<Instant>,
    // ---- uplink
    pub(super) preroll: VecDeque<Box<Frame>>,
    /// Push-to-talk or local VAD: an activity is open (activityStart sent). Server VAD: the user is speaking.
    pub(super) activity_open: bool,
    /// Server VAD: frames are streaming (not paused after audioStreamEnd).
    pub(super) streaming: bool,
    pub(super) vad: VadState,
    pub(super) silence_since: Option<Instant>,
    pub(super) user_start: Option<Instant>,
    pub(super) user_end: Option<Instant>,
    pub(super) user_text: String,
    pub(super) source_ended: bool,
    // ---- reply
    pub(super) reply: super::reply::Reply,
    /// The tool calls of the interaction in progress (see `interaction.rs`).
    pub(super) tools: super::ToolFlow,
    /// A turnComplete that did not end the interaction (a tool call's answer is still to come): the
    /// status it carried. The reply stays open until the interaction is over.
    pub(super) held: Option<Option<crate::protocol::InteractionStatus>>,
    pub(super) ended: bool,
}

impl Conversation {
    /// A conversation that starts listening at `started` (transcript times count from here).
    pub fn new(policy: Policy, started: Instant) -> Self {
        let cap = policy.preroll_frames;
        Conversation {
            policy,
            started,
            out: Vec::new(),
            state: State::Listening,
            turn: 1,
            turns_done: 0,
            playing: false,
            last_play_at: None,
            preroll: VecDeque::with_capacity(cap + 1),
            activity_open: false,
            streaming: true,
            vad: VadState::Silence,
            silence_since: None,
            user_start: None,
            user_end: None,
            user_text: String::new(),
            source_ended: false,
            reply: Default::default(),
            tools: Default::default(),
            held: None,
            ended: false,
        }
    }

    /// Folds one input into the actions it causes, in the order they must be carried out.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        if self.ended {
            return Vec::new();
        }
        match input {
            Input::Frame {
                samples,
                vad,
                at,
                playing,
            } => self.on_frame(samples, vad, at, playing),
            Input::KeyDown { at } => self.on_key_down(at),
            Input::KeyUp { at } => self.on_key_up(at),
            Input::Typed { text, at } => self.on_typed(text, at),
            Input::SourceEnded { at } => self.on_source_ended(at),
            Input::Playback { playing, at } => {
                self.note_playing(playing, at);
                self.settle(at);
            }
            Input::Server { event, at } => self.on_server(event, at),
            Input::ToolAnswered { ids, spoken, at } => self.on_tool_answered(&ids, spoken, at),
        }
        std::mem::take(&mut self.out)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replies completed so far (answered turns).
    pub fn turns(&self) -> u32 {
        self.turns_done
    }

    /// The user's turn ended (or a line was typed) and its reply has not completed yet.
    pub fn awaiting_reply(&self) -> bool {
        self.user_end.is_some() && !self.activity_open
    }

    /// When the user's pending turn ended, if a reply is awaited.
    pub fn awaiting_since(&self) -> Option<Instant> {
        self.user_end.filter(|_| !self.activity_open)
    }

    /// Nothing in flight: no open turn, no awaited reply, no reply still streaming or audible at `now`.
    pub fn is_idle(&self, now: Instant) -> bool {
        !self.activity_open
            && self.user_end.is_none()
            && self.held.is_none()
            && !self.reply.streaming()
            && !self.audible(now)
    }

    /// The session closed: no more inputs are taken.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub(super) fn set_state(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.out.push(Action::Show(Notice::State(state)));
        }
    }

    /// Takes the player's report; "not playing" right after a chunk was queued may only mean it has not
    /// reached the DSP thread yet, so it is trusted only [`PLAY_GRACE`] after the last chunk.
    pub(super) fn note_playing(&mut self, playing: bool, at: Instant) {
        let trusted = self
            .last_play_at
            .is_none_or(|t| at.saturating_duration_since(t) >= PLAY_GRACE);
        self.playing = playing || (self.playing && !trusted);
    }

    /// Reply audio is (or is about to be) heard at `now`.
    pub(super) fn audible(&self, now: Instant) -> bool {
        self.playing
            || self.reply.streaming_audio()
            || self
                .last_play_at
                .is_some_and(|t| now.saturating_duration_since(t) < PLAY_GRACE)
    }

    /// Stops an audible reply because the user took the floor at `at` (barge-in).
    pub(super) fn barge_in(&mut self, at: Instant) {
        if !self.policy.barge_in || !self.audible(at) {
            return;
        }
        self.out.push(Action::StopPlayback { onset: Some(at) });
        self.playing = false;
        self.last_play_at = None;
        self.reply.silence_rest();
        if self.reply.is_open() {
            self.close_reply(true, at);
        }
        self.set_state(State::Interrupted);
    }

    /// Milliseconds since the start, for transcript rows.
    pub(super) fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }
}
