//! Table tests: sequences of timestamped inputs -> the actions they must cause. No devices, sockets or clocks.
//! This file holds the script clock and the traces every topic file reads (`ptt.rs`, `hands_free.rs`,
//! `replies.rs`, `interactions.rs`).

use std::time::{Duration, Instant};

use crate::audio::{Frame, VadState, FRAME_SAMPLES};
use crate::session::Event;

use super::*;

/// A test clock: every input carries `t0 + ms`.
struct Script {
    t0: Instant,
    c: Conversation,
}

fn frame(tag: i16) -> Box<Frame> {
    Box::new([tag; FRAME_SAMPLES])
}

impl Script {
    fn new(mode: TalkMode) -> Self {
        Self::with(Policy::new(mode))
    }

    fn with(policy: Policy) -> Self {
        let t0 = Instant::now();
        Script {
            t0,
            c: Conversation::new(policy, t0),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// A frame tagged with its sample value, so tests can tell which frames went up.
    fn frame(&mut self, ms: u64, tag: i16, vad: VadState, playing: bool) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::Frame {
            samples: frame(tag),
            vad,
            at,
            playing,
        })
    }

    /// Frames every 20 ms from `from` (tags from `tag0` up), all with the same VAD state.
    fn frames(&mut self, from: u64, n: u64, tag0: i16, vad: VadState, playing: bool) -> Vec<Action> {
        (0..n)
            .flat_map(|i| self.frame(from + 20 * i, tag0 + i as i16, vad, playing))
            .collect()
    }

    fn key_down(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::KeyDown { at })
    }

    fn key_up(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::KeyUp { at })
    }

    fn server(&mut self, ms: u64, event: Event) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::Server { event, at })
    }

    fn audio(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.server(
            ms,
            Event::Audio {
                samples: vec![1; 480],
                rate: 24_000,
                received_at: at,
            },
        )
    }

    fn turn_complete(&mut self, ms: u64) -> Vec<Action> {
        self.server(
            ms,
            Event::TurnComplete {
                usage: None,
                reason: None,
                interaction: None,
            },
        )
    }
}

/// The tags of the frames sent, and the signals, as a compact trace: "start 1 2 3 end".
fn trace(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAudio { samples, .. } => Some(samples[0].to_string()),
            Action::ActivityStart => Some("start".into()),
            Action::ActivityEnd => Some("end".into()),
            Action::AudioStreamEnd => Some("stream-end".into()),
            Action::StopPlayback { onset: Some(_) } => Some("barge-in".into()),
            Action::StopPlayback { onset: None } => Some("flush".into()),
            Action::Play { .. } => Some("play".into()),
            Action::EndOfReply => Some("eor".into()),
            Action::SendText { text, .. } => Some(format!("text:{text}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn states(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Show(Notice::State(s)) => Some(*s),
            _ => None,
        })
        .collect()
}

fn rows(actions: &[Action]) -> Vec<TranscriptRow> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transcript(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

use VadState::{Silence, Speech};

impl Script {
    fn turn_complete_with(&mut self, ms: u64, interaction: Option<crate::protocol::InteractionStatus>) -> Vec<Action> {
        self.server(
            ms,
            Event::TurnComplete {
                usage: None,
                reason: None,
                interaction,
            },
        )
    }
}

fn turns_done(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Show(Notice::TurnDone { .. })))
        .count()
}

fn tool_call(id: &str) -> Event {
    Event::ToolCall(vec![crate::protocol::FunctionCall {
        id: Some(id.into()),
        name: "calculator".into(),
        args: Default::default(),
    }])
}

mod hands_free;
mod interactions;
mod ptt;
mod replies;
