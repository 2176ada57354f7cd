//! Responders decide what the embedded server answers to a finished user turn. The connection handler
//! owns turn detection, rendering, pacing and tool-call bookkeeping; a responder only maps turns (and tool
//! responses) to [`Reply`] values, so a new one is a small file implementing [`Responder`].
//!
//! - `echo.rs`: plays the user's audio back at 24 kHz, answers text with "You said: ...".
//! - `scripted.rs`: canned turns from a TOML or JSON script, with WAV replies and tool calls.
//! - `signal.rs`: the deterministic DSP both use.

pub mod echo;
pub mod scripted;
pub mod signal;

use crate::protocol::{Modality, ToolResponse};

use super::reply::{Reply, UserTurn};

/// Answers user turns for one connection. Created per connection (see `ResponderKind`), so it may keep
/// state; conversation state that must survive a resumed connection comes in through its constructor.
pub trait Responder: Send {
    /// The reply to a finished user turn in a session of `modality`.
    fn on_turn(&mut self, turn: &UserTurn, modality: Modality) -> Reply;

    /// The rest of the turn once the client answered the reply's tool call (ids already checked).
    fn on_tool_response(&mut self, _response: &ToolResponse, _modality: Modality) -> Reply {
        Reply::default()
    }
}
