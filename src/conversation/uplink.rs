//! The uplink gate: which microphone frames and activity signals go up, per [`TalkMode`]. Frames that are
//! not sent are kept in a short pre-roll, so the frames from just before a key press or a speech onset go
//! up first and the first syllable is never clipped.

use std::time::Instant;

use crate::audio::{Frame, VadState};

use super::core::Conversation;
use super::{Action, Notice, State, TalkMode, VadSource};

impl Conversation {
    pub(super) fn on_frame(&mut self, samples: Box<Frame>, vad: VadState, at: Instant, playing: bool) {
        self.note_playing(playing, at);
        let onset = vad == VadState::Speech && self.vad == VadState::Silence;
        let end = vad == VadState::Silence && self.vad == VadState::Speech;
        self.vad = vad;
        match self.policy.mode {
            TalkMode::PushToTalk => self.ptt_frame(samples, at),
            TalkMode::HandsFree(VadSource::Local) => self.local_frame(samples, onset, end, at),
            TalkMode::HandsFree(VadSource::Server) => self.server_frame(samples, onset, end, at),
        }
        self.settle(at);
    }

    fn ptt_frame(&mut self, samples: Box<Frame>, at: Instant) {
        if !self.activity_open {
            self.keep(samples);
            return;
        }
        self.out.push(Action::SendAudio {
            samples,
            captured_at: Some(at),
        });
        if self
            .user_start
            .is_some_and(|t| at.saturating_duration_since(t) >= self.policy.max_hold)
        {
            self.out.push(Action::Show(Notice::Warning(format!(
                "push-to-talk held for the maximum of {} s: turn ended",
                self.policy.max_hold.as_secs()
            ))));
            self.end_activity(at);
        }
    }

    fn local_frame(&mut self, samples: Box<Frame>, onset: bool, end: bool, at: Instant) {
        if onset && !self.activity_open && !self.source_ended {
            self.start_activity(at);
        }
        if !self.activity_open {
            self.keep(samples);
            return;
        }
        if end {
            // the hangover frames before this one went up labelled Speech; this one is silence
            self.end_activity(at);
            self.keep(samples);
        } else {
            self.out.push(Action::SendAudio {
                samples,
                captured_at: Some(at),
            });
        }
    }

    fn server_frame(&mut self, samples: Box<Frame>, onset: bool, end: bool, at: Instant) {
        if onset {
            self.barge_in(at);
            self.activity_open = true;
            self.silence_since = None;
            self.begin_user_turn(at);
            if !self.streaming {
                self.streaming = true;
                self.flush_preroll();
            }
        }
        if end {
            self.activity_open = false;
            self.silence_since = Some(at);
            self.user_end = Some(at);
            self.set_state(State::WaitingForReply);
        }
        if !self.streaming {
            self.keep(samples);
            return;
        }
        self.out.push(Action::SendAudio {
            samples,
            captured_at: Some(at),
        });
        let quiet_since = *self.silence_since.get_or_insert(at);
        if !self.activity_open && at.saturating_duration_since(quiet_since) >= self.policy.stream_end_after {
            self.out.push(Action::AudioStreamEnd);
            self.streaming = false;
        }
    }

    pub(super) fn on_key_down(&mut self, at: Instant) {
        if self.policy.mode != TalkMode::PushToTalk || self.activity_open {
            return;
        }
        self.start_activity(at);
    }

    pub(super) fn on_key_up(&mut self, at: Instant) {
        if self.policy.mode == TalkMode::PushToTalk && self.activity_open {
            self.end_activity(at);
        }
    }

    pub(super) fn on_typed(&mut self, text: String, at: Instant) {
        let text = text.trim().to_string();
        if text.is_empty() {
            return;
        }
        if !self.activity_open {
            self.barge_in(at);
            if self.user_start.is_none() {
                self.user_start = Some(at);
            }
            self.user_end = Some(at);
            self.set_state(State::WaitingForReply);
        }
        if !self.user_text.is_empty() {
            self.user_text.push(' ');
        }
        self.user_text.push_str(&text);
        self.out.push(Action::Show(Notice::UserTyped {
            turn: self.turn,
            text: text.clone(),
        }));
        self.out.push(Action::SendText {
            text,
            route: self.policy.text_route,
        });
    }

    pub(super) fn on_source_ended(&mut self, at: Instant) {
        self.source_ended = true;
        match self.policy.mode {
            TalkMode::HandsFree(VadSource::Server) => {
                if self.activity_open {
                    self.activity_open = false;
                    self.user_end = Some(at);
                    self.set_state(State::WaitingForReply);
                }
                if self.streaming {
                    self.out.push(Action::AudioStreamEnd);
                    self.streaming = false;
                }
            }
            _ if self.activity_open => self.end_activity(at),
            _ => {}
        }
    }

    /// Push-to-talk press or local onset: barge in, activityStart, then the pre-roll.
    fn start_activity(&mut self, at: Instant) {
        self.barge_in(at);
        self.activity_open = true;
        self.begin_user_turn(at);
        self.out.push(Action::ActivityStart);
        self.flush_preroll();
    }

    fn end_activity(&mut self, at: Instant) {
        self.activity_open = false;
        self.user_end = Some(at);
        self.out.push(Action::ActivityEnd);
        self.set_state(State::WaitingForReply);
    }

    fn begin_user_turn(&mut self, at: Instant) {
        if self.user_start.is_none() || self.user_end.is_some() && !self.reply.is_open() {
            self.user_start = Some(at);
        }
        self.user_end = None;
        self.set_state(State::UserSpeaking);
    }

    fn keep(&mut self, samples: Box<Frame>) {
        if self.policy.preroll_frames == 0 {
            return;
        }
        if self.preroll.len() >= self.policy.preroll_frames {
            self.preroll.pop_front();
        }
        self.preroll.push_back(samples);
    }

    fn flush_preroll(&mut self) {
        self.out.extend(self.preroll.drain(..).map(|samples| Action::SendAudio {
            samples,
            captured_at: None,
        }));
    }
}
