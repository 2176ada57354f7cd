//! Starting where an earlier run left off, and watching a session so it can be saved: [`ResumeFrom`] says
//! what the first connection continues (a saved resumption handle, else saved history seeded as
//! clientContent); a [`Journal`] sees every must-deliver message sent and every event delivered, and how the
//! session started ([`Start`]). Both sit in [`super::SessionOptions`]; the supervisor knows nothing of them.

use std::fmt;
use std::sync::Arc;

use super::Event;
use crate::protocol::{ClientMessage, Content};

/// What a session continues when it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeFrom {
    /// A resumption handle believed still valid: the first setup carries it.
    pub handle: Option<String>,
    /// The conversation so far, seeded as clientContent history when there is no handle or the server
    /// refuses it.
    pub history: Vec<Content>,
}

/// How a session started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A new conversation with nothing to continue.
    Fresh,
    /// The server accepted the saved handle: the same server-side session goes on.
    ByHandle,
    /// The conversation so far was sent as history to a new server-side session: `reason` says why the
    /// handle was not used (none, expired, or refused by the server).
    ByHistory { turns: usize, reason: String },
}

/// Sees what a session sends and receives, to keep a record of it. Called on the sending task and the task
/// reading events, so it must be quick: hand slow work (file writes) to a thread of its own.
pub trait Journal: Send + Sync {
    /// The first connection is set up.
    fn started(&self, start: &Start);
    /// A must-deliver message was queued (typed text, history, tool responses; never audio).
    fn sent(&self, msg: &ClientMessage);
    /// An event is being delivered to the session's reader.
    fn event(&self, event: &Event);
}

/// A shared [`Journal`] that fits in the cloneable, printable [`super::SessionOptions`].
#[derive(Clone)]
pub struct JournalRef(pub Arc<dyn Journal>);

impl fmt::Debug for JournalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Journal")
    }
}
