//! One conversation with a Live endpoint over as many connections as it takes: connect, send setup, wait
//! for setupComplete, then send audio, text, turns, tool responses and activity signals through a
//! cloneable [`Session`] handle and receive typed [`Event`]s. The handle and the events outlive
//! connections: `supervisor.rs` reconnects and resumes (`reconnect.rs` says when and how soon,
//! `resumption.rs` with what, `outbound.rs` what is replayed or dropped); `journal.rs` says what a session
//! continues from an earlier run and lets an observer record it (saved sessions); `connection.rs` is one WebSocket
//! that never reconnects. A close becomes a typed value (code, reason, class) a person understands.

mod connection;
mod endpoint;
mod error;
mod event;
mod handle;
mod headers;
mod journal;
mod metrics;
mod outbound;
mod reconnect;
mod resumption;
mod supervisor;

use std::time::Duration;

pub use connection::DEFAULT_MAX_MESSAGE;
pub use endpoint::{ApiVersion, Credential, Endpoint, Secret, Vertex, GEMINI_BASE_URL};
pub use error::{CloseInfo, SessionError};
pub use event::{events_from, interaction_done, Event};
pub use handle::{start, Events, Session};
pub use headers::{is_secret, ExtraHeaders};
pub use journal::{Journal, JournalRef, ResumeFrom, Start};
pub use metrics::{Mark, SessionMetrics, Signal};
pub use outbound::{is_droppable, RECONNECT_AUDIO};
pub use reconnect::{backoff, classify_close, first_attempt, CloseClass, BACKOFF_BASE, BACKOFF_MAX, MAX_ATTEMPTS};
pub use resumption::{MAX_HANDLE_LEN, MAX_HISTORY_TURNS};
pub use supervisor::{GOAWAY_MARGIN, SWITCH_DRAIN};

use crate::protocol::Setup;

/// Everything needed to open a session. Every limit here is configurable and each ends in a typed error.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub endpoint: Endpoint,
    pub setup: Setup,
    /// Limit for the TCP + TLS + WebSocket handshake.
    pub connect_timeout: Duration,
    /// Limit from setup written to setupComplete read.
    pub setup_timeout: Duration,
    /// Limit for writing one message (a server that stops reading).
    pub write_timeout: Duration,
    /// Nothing from the server (pongs included) for this long: the connection is dead; reconnect.
    pub idle_timeout: Duration,
    /// A WebSocket ping this often (the official SDK pings every 20 s).
    pub ping_interval: Duration,
    /// Largest server message accepted (the official SDK's limit, 1 MiB, by default).
    pub max_message_size: usize,
    /// Outbound channel length in messages; audio beyond it is dropped and counted (50 frames = 1 s).
    pub outbound_capacity: usize,
    /// Reconnect and resume after retryable failures (on by default).
    pub reconnect: bool,
    /// Count into these metrics instead of fresh ones (so a caller can report them whatever happens).
    pub metrics: Option<std::sync::Arc<SessionMetrics>>,
    /// Continue an earlier conversation (a saved handle, else saved history): see [`ResumeFrom`].
    pub resume: Option<ResumeFrom>,
    /// Told what is sent and received, to keep a record (saved sessions): see [`Journal`].
    pub journal: Option<JournalRef>,
}

impl SessionOptions {
    /// Options for `setup` on `endpoint`; on Vertex AI the model becomes its resource name
    /// (`projects/.../models/ID`).
    pub fn new(endpoint: Endpoint, mut setup: Setup) -> Self {
        if let Some(vertex) = &endpoint.vertex {
            setup.model = vertex.model_path(&setup.model);
        }
        SessionOptions {
            endpoint,
            setup,
            connect_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(20),
            max_message_size: DEFAULT_MAX_MESSAGE,
            outbound_capacity: 64,
            reconnect: true,
            metrics: None,
            resume: None,
            journal: None,
        }
    }

    pub(crate) fn limits(&self) -> connection::Limits {
        connection::Limits {
            connect_timeout: self.connect_timeout,
            setup_timeout: self.setup_timeout,
            write_timeout: self.write_timeout,
            max_message_size: self.max_message_size.max(1024),
        }
    }

    /// Warns before a real credential goes somewhere it should not: to a host that is not Google's, or
    /// in the clear over plain ws to anything but loopback.
    pub(crate) fn warn_about_credentials(&self) {
        for warning in self.endpoint.credential_warnings() {
            tracing::warn!("{warning}");
        }
    }
}
