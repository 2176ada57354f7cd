//! What can go wrong in a session, in words a person understands, and whether retrying can help.

use std::time::Duration;

use super::reconnect::{classify_close, CloseClass};
use crate::protocol::ProtocolError;

/// A close frame from the server: its code and reason text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: u16,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The base URL or credential cannot be used. Terminal.
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(String),
    /// The endpoint could not be reached (refused, DNS, network down). Retryable.
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// TLS setup or handshake failed. Terminal until the certificate problem is fixed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server refused the WebSocket handshake with an HTTP status. 401/403 are terminal.
    #[error("{endpoint} refused the connection: {detail}")]
    HandshakeRefused {
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// The API key or token was rejected. Terminal: retrying with the same key cannot help.
    #[error("{}", auth_message(.0))]
    Auth(String),
    /// The server rejected the setup or a message (model, voice, field) with this close code. Terminal.
    #[error("{reason}")]
    InvalidSetup { code: u16, reason: String },
    /// The TCP/TLS/WebSocket handshake did not finish in time. Retryable.
    #[error("no connection to {endpoint} within {timeout:?} (the network or the server is not answering)")]
    ConnectTimeout { endpoint: String, timeout: Duration },
    /// setupComplete did not arrive in time. Retryable.
    #[error("no setupComplete from the server within {0:?}")]
    SetupTimeout(Duration),
    /// Nothing (not even a pong to our ping) came from the server for this long: the connection is
    /// presumed dead. Retryable.
    #[error("the server sent nothing for {0:?} (not even a pong): the connection is presumed dead")]
    IdleTimeout(Duration),
    /// A write did not complete in time: the server stopped reading. Retryable.
    #[error("the server stopped reading: a write did not complete within {0:?}")]
    WriteTimeout(Duration),
    /// The server refused the resumption handle (expired or unknown). The supervisor falls back to a
    /// fresh session; terminal only for a caller that insisted on this handle.
    #[error("the server refused the session resumption handle: {0}")]
    ResumptionRejected(String),
    /// Reconnecting failed this many times in a row; the last error says why. Terminal.
    #[error("gave up reconnecting after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    /// The server closed the connection with a code and reason.
    #[error("the server closed the connection (code {}): {}", .0.code, explain_reason(&.0.reason))]
    Closed(CloseInfo),
    /// The connection dropped without a close frame. Retryable.
    #[error("the connection was lost: {0}")]
    ConnectionLost(String),
    /// The server sent a frame that is not a valid message. Not retryable by itself.
    #[error("the server sent a malformed frame")]
    Protocol(#[from] ProtocolError),
    /// The server sent a message over the size limit. Retryable: the connection is gone, the session may
    /// not be.
    #[error("the server sent a message over the size limit ({0}); raise --max-message-size if it is legitimate")]
    MessageTooBig(String),
    /// The server sent this many messages without setupComplete (a flood). Terminal.
    #[error("the server sent more than {0} messages before setupComplete")]
    TooManyEarly(usize),
    /// The session has ended; nothing more can be sent.
    #[error("the session is closed")]
    SessionClosed,
}

fn explain_reason(reason: &str) -> &str {
    if reason.is_empty() {
        "no reason given"
    } else {
        reason
    }
}

/// "the API key was rejected: ...", or "the token was rejected: ..." when the reason is about a token.
fn auth_message(reason: &str) -> String {
    if reason.to_ascii_lowercase().contains("token") {
        format!("the token was rejected: {reason}")
    } else {
        format!("the API key was rejected: {reason}")
    }
}

impl SessionError {
    /// Whether a new connection (resuming if possible) may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class() == CloseClass::Retryable
    }

    /// What this error means for the session: retry, stop, or a normal end.
    pub fn class(&self) -> CloseClass {
        match self {
            SessionError::Unreachable { .. }
            | SessionError::ConnectTimeout { .. }
            | SessionError::SetupTimeout(_)
            | SessionError::IdleTimeout(_)
            | SessionError::WriteTimeout(_)
            | SessionError::ConnectionLost(_)
            // the connection is dead either way; a resume may well not meet the same message again, and
            // the attempt count bounds a server that insists
            | SessionError::MessageTooBig(_)
            | SessionError::ResumptionRejected(_) => CloseClass::Retryable,
            SessionError::HandshakeRefused { status, .. } if *status >= 500 => CloseClass::Retryable,
            SessionError::Closed(info) => classify_close(info.code, &info.reason),
            _ => CloseClass::Terminal,
        }
    }

    /// The close code this error came from, if it came from a close frame.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            SessionError::Closed(info) => Some(info.code),
            SessionError::InvalidSetup { code, .. } => Some(*code),
            SessionError::Auth(_) | SessionError::ResumptionRejected(_) => Some(1008),
            _ => None,
        }
    }

    /// Classifies a close frame: authentication and invalid-argument closes get their own variants.
    pub fn from_close(code: u16, reason: &str) -> SessionError {
        let lower = reason.to_ascii_lowercase();
        let about_key = lower.contains("api key")
            || lower.contains("api_key")
            || lower.contains("token")
            || lower.contains("unauthenticated")
            || lower.contains("permission");
        if code == 1008 && about_key {
            SessionError::Auth(reason.to_string())
        } else if code == 1008 && lower.contains("resumption") {
            SessionError::ResumptionRejected(reason.to_string())
        } else if matches!(code, 1007 | 1008) && !lower.contains("resumption") && !lower.contains("deadline") {
            SessionError::InvalidSetup {
                code,
                reason: reason.to_string(),
            }
        } else {
            SessionError::Closed(CloseInfo {
                code,
                reason: reason.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_close_is_auth_and_terminal() {
        let e = SessionError::from_close(1008, "API key not valid. Please pass a valid API key.");
        assert!(matches!(e, SessionError::Auth(_)));
        assert!(e.to_string().starts_with("the API key was rejected"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn model_close_keeps_the_reason() {
        let e = SessionError::from_close(1008, "model x does not exist; known models: a, b");
        assert_eq!(e.to_string(), "model x does not exist; known models: a, b");
        assert!(!e.is_retryable());
    }

    #[test]
    fn internal_error_is_retryable() {
        assert!(SessionError::from_close(1011, "internal error").is_retryable());
        assert!(SessionError::from_close(1001, "going away").is_retryable());
        assert_eq!(SessionError::from_close(1000, "bye").class(), CloseClass::Normal);
    }

    #[test]
    fn rejected_handle_is_its_own_error() {
        let e = SessionError::from_close(1008, "invalid session resumption handle");
        assert!(matches!(e, SessionError::ResumptionRejected(_)), "{e:?}");
        assert_eq!(e.close_code(), Some(1008));
    }
}
