//! The renderer for a pipe, a file or a dumb terminal: one timestamped line per finished utterance, state
//! change or notice, with server text sanitized.

use std::io::Write;
use std::time::Instant;

use crate::conversation::{Notice, State};

use super::{sanitize, Renderer};

/// Plain lines: `[  12.34] you: ...`, `[  13.01] voxlive: ...`.
pub struct PlainRenderer {
    out: Box<dyn Write + Send>,
    started: Instant,
    said: String,
    heard: String,
    /// Print state changes too (off by default: a transcript-like log is what a pipe wants).
    pub show_states: bool,
}

impl PlainRenderer {
    pub fn new(out: Box<dyn Write + Send>, started: Instant) -> Self {
        PlainRenderer {
            out,
            started,
            said: String::new(),
            heard: String::new(),
            show_states: false,
        }
    }

    fn line(&mut self, text: &str) {
        let t = self.started.elapsed().as_secs_f64();
        // a closed pipe must not end the conversation: the line is lost, nothing else
        let _ = writeln!(self.out, "[{t:8.2}] {text}").and_then(|()| self.out.flush());
    }

    fn flush_turn(&mut self) {
        let said = std::mem::take(&mut self.said);
        let heard = std::mem::take(&mut self.heard);
        if !said.trim().is_empty() {
            self.line(&format!("you: {}", sanitize(said.trim())));
        }
        if !heard.trim().is_empty() {
            self.line(&format!("voxlive: {}", sanitize(heard.trim())));
        }
    }
}

impl Renderer for PlainRenderer {
    fn show(&mut self, notice: &Notice) {
        match notice {
            Notice::State(s) if self.show_states => self.line(&format!("({})", s.label())),
            Notice::State(State::UserSpeaking) => {}
            Notice::State(_) => {}
            Notice::UserTranscript { text, .. } => self.said.push_str(text),
            Notice::ModelTranscript { text, .. } | Notice::ModelText { text, .. } => self.heard.push_str(text),
            Notice::UserTyped { text, .. } => self.line(&format!("you (typed): {}", sanitize(text))),
            Notice::ToolCall { names, .. } => self.line(&format!("tool call: {}", sanitize(&names.join(", ")))),
            Notice::TurnDone {
                first_reply,
                interrupted,
                ..
            } => {
                self.flush_turn();
                let mut tail = String::new();
                if let Some(d) = first_reply {
                    tail.push_str(&format!("first reply after {} ms", d.as_millis()));
                }
                if *interrupted {
                    tail.push_str(if tail.is_empty() {
                        "interrupted"
                    } else {
                        ", interrupted"
                    });
                }
                if !tail.is_empty() {
                    self.line(&format!("({tail})"));
                }
            }
            Notice::Info(t) => self.line(&format!("voxlive: {}", sanitize(t))),
            Notice::Warning(t) => self.line(&format!("voxlive: warning: {}", sanitize(t))),
            Notice::Question(q) => self.line(&format!("voxlive: {} (type y or n)", sanitize(q))),
            Notice::QuestionClosed => {}
        }
    }

    fn finish(&mut self) {
        self.flush_turn();
    }
}
