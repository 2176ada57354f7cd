//! What the user sees and types: the live terminal UI (ratatui + crossterm) when stdout is a terminal, plain
//! timestamped lines otherwise. Both implement [`Renderer`]; key presses and typed lines come back as
//! [`UserInput`] on a channel the front end folds into the conversation.

mod error;
mod keys;
mod log;
mod plain;
mod sanitize;
mod screen;
mod stdin;
mod terminal;

use std::time::{Duration, Instant};

use crate::conversation::{Notice, Status};

pub use error::UiError;
pub use keys::{KeyMapper, KeyMode, KeySpec, TAP_REPEAT_DELAY, TAP_REPEAT_GAP};
pub use log::{LogLine, UiLogWriter, HELD_LINES};
pub use plain::PlainRenderer;
pub use sanitize::sanitize;
pub use screen::Screen;
pub use stdin::{lines_from, stdin_lines, StdinEof};
pub use terminal::{is_terminal, TerminalOptions, TerminalUi};

/// Shows the conversation. Called from the front end's task: implementations must not block for long
/// (a terminal UI hands the work to its own thread).
pub trait Renderer: Send {
    fn show(&mut self, notice: &Notice);
    /// A fresh snapshot of meters and counters, at most every [`Renderer::status_interval`].
    fn status(&mut self, _status: &Status) {}
    /// How often the renderer wants [`Renderer::status`] (`None`: never).
    fn status_interval(&self) -> Option<Duration> {
        None
    }
    /// The conversation is over: restore the terminal, print what is left.
    fn finish(&mut self) {}
}

/// What the user did at the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInput {
    /// The push-to-talk key went down (or a tap turned talking on, in tap-to-toggle mode).
    KeyDown {
        at: Instant,
    },
    KeyUp {
        at: Instant,
    },
    /// A typed line, sent with Enter.
    Line {
        text: String,
        at: Instant,
    },
    /// The user asked to stop (Ctrl-C, q or Esc in the UI, end of standard input).
    Quit,
}
