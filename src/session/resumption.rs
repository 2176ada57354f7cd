//! What the next connection's setup carries: the newest resumable handle, or, when the server refused it,
//! no handle and the conversation so far as clientContent history (so a fresh session still knows what was
//! said). The history is what the server is known to have consumed: acknowledged typed turns, transcripts
//! of the user's speech, and the model's replies; it is bounded.

use std::collections::VecDeque;

use crate::protocol::{ClientContent, ClientMessage, Content, SessionResumptionConfig, Setup};

/// At most this many turns of history seed a fresh session (the oldest are forgotten first).
pub const MAX_HISTORY_TURNS: usize = 200;
/// A handle longer than this is not a handle (a hostile or broken server): it is ignored.
pub const MAX_HANDLE_LEN: usize = 4096;

#[derive(Debug, Default)]
pub struct Resumption {
    handle: Option<String>,
    history: VecDeque<Content>,
    /// The model's words of the reply in progress (transcript or text), added to history at turn end.
    reply: String,
    /// The user's speech transcribed in the turn in progress.
    user_speech: String,
}

impl Resumption {
    /// The state of a session that continues `resume` (the handle the server accepted and the saved
    /// history, so a later refusal seeds all of it), or a new one.
    pub fn continuing(resume: Option<&super::ResumeFrom>) -> Self {
        let mut r = Resumption::default();
        if let Some(resume) = resume {
            r.update(resume.handle.clone(), true);
            for turn in &resume.history {
                r.push(turn.clone());
            }
        }
        r
    }

    /// Keeps a new handle if the server says the session is resumable at this point.
    pub fn update(&mut self, handle: Option<String>, resumable: bool) {
        match handle {
            Some(h) if resumable && !h.is_empty() && h.len() <= MAX_HANDLE_LEN => self.handle = Some(h),
            Some(h) if h.len() > MAX_HANDLE_LEN => {
                tracing::warn!(len = h.len(), "ignoring an oversized resumption handle")
            }
            _ => {}
        }
    }

    /// Forgets the handle (the server refused it): the next setup starts a fresh session.
    pub fn forget_handle(&mut self) {
        self.handle = None;
    }

    /// The setup for the next connection: `base` with the newest handle, if any.
    pub fn setup(&self, base: &Setup) -> Setup {
        let mut setup = base.clone();
        if let Some(config) = setup.session_resumption.as_mut() {
            config.handle = self.handle.clone();
        } else if self.handle.is_some() {
            setup.session_resumption = Some(SessionResumptionConfig {
                handle: self.handle.clone(),
                transparent: None,
            });
        }
        setup
    }

    /// A message the server consumed: typed user text joins the history.
    pub fn consumed(&mut self, msg: &ClientMessage) {
        match msg {
            ClientMessage::ClientContent(c) => {
                for turn in &c.turns {
                    self.push(turn.clone());
                }
            }
            ClientMessage::RealtimeInput(r) => {
                if let Some(t) = &r.text {
                    self.push(Content::text(Some("user"), t.clone()));
                }
            }
            _ => {}
        }
    }

    pub fn user_speech(&mut self, text: &str) {
        self.user_speech.push_str(text);
    }

    pub fn model_words(&mut self, text: &str) {
        self.reply.push_str(text);
    }

    /// A turn ended: what was said in it joins the history.
    pub fn turn_complete(&mut self) {
        let user = std::mem::take(&mut self.user_speech);
        if !user.trim().is_empty() {
            self.push(Content::text(Some("user"), user.trim()));
        }
        let reply = std::mem::take(&mut self.reply);
        if !reply.trim().is_empty() {
            self.push(Content::text(Some("model"), reply.trim()));
        }
    }

    fn push(&mut self, content: Content) {
        if self.history.len() >= MAX_HISTORY_TURNS {
            self.history.pop_front();
        }
        self.history.push_back(content);
    }

    pub fn history_turns(&self) -> usize {
        self.history.len()
    }

    /// The history as one clientContent that asks for no reply, or `None` when nothing was said yet.
    pub fn seed(&self) -> Option<ClientMessage> {
        (!self.history.is_empty()).then(|| {
            ClientMessage::ClientContent(ClientContent {
                turns: self.history.iter().cloned().collect(),
                turn_complete: Some(false),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_resumable_handle_goes_into_the_next_setup() {
        let mut r = Resumption::default();
        let base = Setup {
            session_resumption: Some(SessionResumptionConfig::default()),
            ..Setup::default()
        };
        assert_eq!(r.setup(&base).session_resumption.unwrap().handle, None);
        r.update(Some("h1".into()), true);
        r.update(Some("h2".into()), false);
        r.update(Some("x".repeat(MAX_HANDLE_LEN + 1)), true);
        assert_eq!(r.setup(&base).session_resumption.unwrap().handle.as_deref(), Some("h1"));
        r.forget_handle();
        assert_eq!(r.setup(&base).session_resumption.unwrap().handle, None);
    }

    #[test]
    fn history_seeds_a_fresh_session_without_asking_for_a_reply() {
        let mut r = Resumption::default();
        assert!(r.seed().is_none());
        r.consumed(&ClientMessage::user_text("hello"));
        r.model_words("hi ");
        r.model_words("there");
        r.turn_complete();
        r.user_speech("spoken question");
        r.turn_complete();
        let Some(ClientMessage::ClientContent(c)) = r.seed() else {
            panic!("a clientContent seed")
        };
        assert_eq!(c.turn_complete, Some(false));
        let texts: Vec<_> = c
            .turns
            .iter()
            .map(|t| (t.role.clone().unwrap_or_default(), t.joined_text()))
            .collect();
        assert_eq!(
            texts,
            [
                ("user".to_string(), "hello".to_string()),
                ("model".into(), "hi there".into()),
                ("user".into(), "spoken question".into())
            ]
        );
    }

    #[test]
    fn history_is_bounded() {
        let mut r = Resumption::default();
        for i in 0..MAX_HISTORY_TURNS + 10 {
            r.consumed(&ClientMessage::user_text(format!("t{i}")));
        }
        assert_eq!(r.history_turns(), MAX_HISTORY_TURNS);
    }
}
