//! What can go wrong in a session, in words a person understands, and whether retrying can help.

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
    #[error("the API key was rejected: {0}")]
    Auth(String),
    /// The server rejected the setup (model, voice, field). Terminal.
    #[error("{0}")]
    InvalidSetup(String),
    /// setupComplete did not arrive in time. Retryable.
    #[error("no setupComplete from the server within {0:?}")]
    SetupTimeout(std::time::Duration),
    /// The server closed the connection with a code and reason.
    #[error("the server closed the connection (code {}): {}", .0.code, explain_reason(&.0.reason))]
    Closed(CloseInfo),
    /// The connection dropped without a close frame. Retryable.
    #[error("the connection was lost: {0}")]
    ConnectionLost(String),
    /// The server sent a frame that is not a valid message. Not retryable by itself.
    #[error("the server sent a malformed frame")]
    Protocol(#[from] ProtocolError),
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

impl SessionError {
    /// Whether a new connection (resuming if possible) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SessionError::Unreachable { .. } | SessionError::SetupTimeout(_) | SessionError::ConnectionLost(_) => true,
            SessionError::Closed(info) => !matches!(info.code, 1007 | 1008) && info.code != 1000,
            _ => false,
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
        } else if matches!(code, 1007 | 1008) && !lower.contains("resumption") && !lower.contains("deadline") {
            SessionError::InvalidSetup(reason.to_string())
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
    }
}
