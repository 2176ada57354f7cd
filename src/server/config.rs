//! How one embedded server behaves: key, responder, framing, pacing, TLS and injected faults.
//! Plain data with defaults, so tests build exactly the server they need.

use std::fmt;
use std::sync::Arc;

use super::faults::Faults;
use super::responder::echo::EchoResponder;
use super::responder::scripted::ScriptedResponder;
use super::responder::Responder;
use super::tls::TlsIdentity;

/// Builds a responder for one connection, given the turns its conversation already completed.
pub type ResponderFactory = Arc<dyn Fn(u64) -> Box<dyn Responder> + Send + Sync>;

/// Every client message the server received after setup, with its arrival time: tests check what a client
/// sent (nothing during silence, activity signals in order) and benchmarks time it. Bounded: past
/// [`MessageLog::CAPACITY`] messages the oldest are dropped.
#[derive(Clone, Default)]
pub struct MessageLog(
    Arc<std::sync::Mutex<std::collections::VecDeque<(std::time::Instant, crate::protocol::ClientMessage)>>>,
);

impl MessageLog {
    pub const CAPACITY: usize = 100_000;

    pub(crate) fn push(&self, message: &crate::protocol::ClientMessage) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() >= Self::CAPACITY {
                log.pop_front();
            }
            log.push_back((std::time::Instant::now(), message.clone()));
        }
    }

    /// A copy of what was received so far, oldest first.
    pub fn snapshot(&self) -> Vec<(std::time::Instant, crate::protocol::ClientMessage)> {
        self.0.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }
}

/// Every accepted setup with the request headers it came with (credentials left out): tests check what a
/// client asked for (a preset's instruction, safety settings, extra headers). Bounded like [`MessageLog`].
#[derive(Clone, Default)]
pub struct SetupLog(Arc<std::sync::Mutex<std::collections::VecDeque<SetupRecord>>>);

/// One connection's setup and handshake headers (lower-case names, in order; no credential headers).
#[derive(Debug, Clone)]
pub struct SetupRecord {
    pub headers: Vec<(String, String)>,
    pub setup: crate::protocol::Setup,
}

impl SetupLog {
    pub const CAPACITY: usize = 1000;

    pub(crate) fn push(&self, record: SetupRecord) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() >= Self::CAPACITY {
                log.pop_front();
            }
            log.push_back(record);
        }
    }

    /// A copy of what was received so far, oldest first.
    pub fn snapshot(&self) -> Vec<SetupRecord> {
        self.0.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }
}

/// What one server puts up with; over each limit a client gets a close with a code and a reason that says
/// which limit (protocol.md's codes: 1011 for quota, 1008 for policy, 1009 for size, 1001 going away).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections served at once; one more is closed at once with 1011 "quota exceeded".
    pub max_connections: usize,
    /// From the WebSocket upgrade to the setup message; later: 1008.
    pub setup_timeout: std::time::Duration,
    /// A set-up connection from which nothing (not even a ping) arrives for this long: 1001.
    pub idle_timeout: std::time::Duration,
    /// Largest client message or frame; larger: 1009.
    pub max_message_size: usize,
    /// Client messages per second, sustained; twice as many may come in a burst; faster: 1008.
    pub max_messages_per_sec: u32,
    /// Longest one connection may stream (none by default). A model's profile `stream_minutes` (Live
    /// Transcribe: 10) caps its connections too; the lower wins. A goAway comes before the end (see
    /// `live::stream_notice`), then the connection closes with 1008 as after any goAway.
    pub max_stream: Option<std::time::Duration>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 64,
            setup_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(300),
            max_message_size: 4 << 20,
            max_messages_per_sec: 5000,
            max_stream: None,
        }
    }
}

/// Which responder answers user turns.
#[derive(Clone, Default)]
pub enum ResponderKind {
    /// Plays the user's turn back (audio upsampled to 24 kHz; text as "You said: ...").
    #[default]
    Echo,
    /// Canned turns from a script file, with tool calls and WAV replies.
    Scripted(ScriptedResponder),
    /// Any other [`Responder`], built per connection (for tests and later responders).
    Custom(ResponderFactory),
}

impl fmt::Debug for ResponderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponderKind::Echo => f.write_str("Echo"),
            ResponderKind::Scripted(s) => write!(f, "Scripted({} turns)", s.len()),
            ResponderKind::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl ResponderKind {
    /// A fresh responder for one connection of a conversation that has completed `turns_done` turns.
    pub(crate) fn build(&self, turns_done: u64) -> Box<dyn Responder> {
        match self {
            ResponderKind::Echo => Box::new(EchoResponder),
            ResponderKind::Scripted(script) => Box::new(script.cursor(turns_done)),
            ResponderKind::Custom(factory) => factory(turns_done),
        }
    }
}

/// Configuration of the embedded server. `Default` is: no key, Echo, binary frames, paced replies, no TLS.
#[derive(Clone)]
pub struct ServerConfig {
    /// When set, clients must present this key (`x-goog-api-key`, `?key=`, or a token on the Constrained path).
    pub api_key: Option<String>,
    pub responder: ResponderKind,
    /// Send JSON in text frames instead of binary frames (the real service uses binary).
    pub text_frames: bool,
    /// Stream reply audio in real time (a 200 ms lead, then one 40 ms chunk every 40 ms); off sends it as
    /// fast as possible.
    pub pace_replies: bool,
    /// Serve wss with this certificate instead of ws.
    pub tls: Option<TlsIdentity>,
    pub faults: Faults,
    /// Record every client message received (tests, benchmarks); `None` keeps nothing.
    pub message_log: Option<MessageLog>,
    /// Record every setup and its handshake headers (tests); `None` keeps nothing.
    pub setup_log: Option<SetupLog>,
    /// Shape what the server sends (delay, jitter, loss, bursts: `voxlive bench --net`); `None` = as is.
    pub net: Option<super::net::NetShape>,
    /// Faults injected so far, by kind (read by tests and the soak report).
    pub fault_counts: super::faults::FaultCounts,
    pub limits: ServerLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            api_key: None,
            responder: ResponderKind::Echo,
            text_frames: false,
            pace_replies: true,
            tls: None,
            faults: Faults::default(),
            message_log: None,
            setup_log: None,
            net: None,
            fault_counts: Default::default(),
            limits: ServerLimits::default(),
        }
    }
}

impl ServerConfig {
    /// Serve wss with a freshly generated self-signed certificate.
    pub fn with_generated_tls(mut self) -> Result<Self, super::ServerError> {
        self.tls = Some(TlsIdentity::generate()?);
        Ok(self)
    }
}

impl fmt::Debug for ServerConfig {
    // Never print the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("responder", &self.responder)
            .field("text_frames", &self.text_frames)
            .field("pace_replies", &self.pace_replies)
            .field("tls", &self.tls.is_some())
            .field("faults", &self.faults)
            .field("net", &self.net.as_ref().map(|n| n.to_string()))
            .field("limits", &self.limits)
            .finish()
    }
}
