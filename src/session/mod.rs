//! One conversation with a Live endpoint: connect, send setup, wait for setupComplete, then send audio,
//! text, turns, tool responses and activity signals through a cloneable [`Session`] handle and receive
//! typed [`Event`]s. A close with a reason becomes an error a person understands.

mod actor;
mod connection;
mod endpoint;
mod error;
mod event;
mod metrics;
mod reconnect;

use std::time::Duration;

pub use actor::{start, Events, Session};
pub use endpoint::{ApiVersion, Credential, Endpoint, Secret, GEMINI_BASE_URL};
pub use error::{CloseInfo, SessionError};
pub use event::{events_from, Event};
pub use metrics::{Mark, SessionMetrics, Signal};
pub use reconnect::{backoff, classify_close, first_attempt, CloseClass, BACKOFF_BASE, BACKOFF_MAX, MAX_ATTEMPTS};

use crate::protocol::Setup;

/// Everything needed to open a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub endpoint: Endpoint,
    pub setup: Setup,
    /// Limit for the WebSocket handshake and for setupComplete, each.
    pub setup_timeout: Duration,
    /// Outbound queue length in messages; audio beyond it is dropped and counted (50 frames = 1 s).
    pub outbound_capacity: usize,
}

impl SessionOptions {
    pub fn new(endpoint: Endpoint, setup: Setup) -> Self {
        SessionOptions {
            endpoint,
            setup,
            setup_timeout: Duration::from_secs(10),
            outbound_capacity: 64,
        }
    }
}
