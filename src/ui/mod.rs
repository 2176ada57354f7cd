//! What the user sees and types: the live terminal UI (ratatui + crossterm) when stdin and stdout are a
//! terminal, plain timestamped lines otherwise. Both implement [`Renderer`]; key presses and typed lines come
//! back as [`UserInput`] on a tokio channel the front end folds into the conversation.
//!
//! - `terminal.rs`: [`TerminalUi`], which owns the terminal (a key thread and a render thread) and restores
//!   it on every exit path, panics included.
//! - `keys.rs`: the push-to-talk key ([`KeySpec`]), hold-release vs tap-toggle ([`KeyMode`]), and the pure
//!   key-event mapping with the input line ([`KeyMapper`]).
//! - `screen.rs`: what the UI shows ([`Screen`]), drawn with ratatui; `frames.rs`: [`Frames`], which sends
//!   the terminal only what changed (the meters alone when only they moved); `plain.rs`: [`PlainRenderer`].
//! - `stdin.rs`: typed lines from a non-terminal stdin; `log.rs`: [`UiLogWriter`], which keeps `tracing`
//!   lines off the UI's screen; `sanitize.rs`: server text is printed, never interpreted.
//!
//! A front end picks one at start and then drives it the same way:
//!
//! ```no_run
//! # async fn front_end() -> Result<(), voxlive::ui::UiError> {
//! use voxlive::conversation::{Notice, State, Status, TalkMode};
//! use voxlive::ui::{self, Renderer, StdinEof, TerminalOptions, TerminalUi, UserInput};
//!
//! let mode = TalkMode::PushToTalk;
//! let (mut renderer, mut input): (Box<dyn Renderer>, _) = if ui::is_terminal() {
//!     let mut opts = TerminalOptions::new(mode);
//!     opts.ptt_key = Some("space".parse()?); // --ptt-key; a bad name is UiError::UnknownKey
//!     let (tui, input) = TerminalUi::start(opts)?;
//!     (Box::new(tui), input)
//! } else {
//!     let plain = ui::PlainRenderer::new(Box::new(std::io::stdout()), std::time::Instant::now());
//!     (Box::new(plain), ui::stdin_lines(StdinEof::Quit)) // hands-free: StdinEof::Ignore
//! };
//! renderer.show(&Notice::State(State::Listening));
//! renderer.status(&Status { mic_dbfs: -30.0, ..Status::default() });
//! while let Some(got) = input.recv().await {
//!     match got {
//!         UserInput::KeyDown { at } | UserInput::KeyUp { at } => { let _ = at; /* Input::KeyDown/KeyUp */ }
//!         UserInput::Line { text, at } => { let _ = (text, at); /* Input::Typed */ }
//!         UserInput::Quit => break,
//!     }
//! }
//! renderer.finish(); // restores the terminal (so does dropping it, and a panic)
//! # Ok(()) }
//! ```

mod error;
mod frames;
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
pub use frames::Frames;
pub use keys::{KeyMapper, KeyMode, KeySpec, TAP_REPEAT_DELAY, TAP_REPEAT_GAP};
pub use log::{LogLine, UiLogWriter, HELD_LINES};
pub use plain::PlainRenderer;
pub use sanitize::sanitize;
pub use screen::{Redraw, Screen};
pub use stdin::{lines_from, stdin_lines, StdinEof};
pub use terminal::{announce, is_terminal, TerminalOptions, TerminalUi};

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
    /// Where to read the mic and speaker levels from, for a renderer that shows them at its own frame rate:
    /// the terminal UI's render thread calls it itself each frame, so moving meters wake one thread, not two
    /// (on this kind of VM a thread's wake-up alone costs about 60 us). Levels in [`Renderer::status`] are
    /// then ignored.
    fn levels_from(&mut self, _source: LevelSource) {}
    /// The conversation is over: restore the terminal, print what is left.
    fn finish(&mut self) {}
}

/// The mic and speaker levels now, in dBFS (the audio engine keeps them; reading them must be cheap and must
/// never block the audio threads).
pub type LevelSource = Box<dyn FnMut() -> Levels + Send>;

/// Levels as the meters show them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Levels {
    pub mic_dbfs: f32,
    pub speaker_dbfs: f32,
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
