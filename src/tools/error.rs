//! Why a tool call failed. Every failure is answered, never swallowed: [`ToolError::to_response`] is the
//! `{"error": {"status", "message", "retryable"}}` object the model gets instead of a result, so it can
//! tell the user, retry, or move on.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// A failed tool call; the variant docs say whether trying again can help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments are wrong (missing, wrong type, an expression that does not parse). Not retryable.
    #[error("invalid arguments: {0}")]
    InvalidArgument(String),
    /// No such tool is declared, or no such file. Not retryable.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed: the user refused, or a path outside the allowed folders. Not retryable.
    #[error("{0}")]
    PermissionDenied(String),
    /// The run took longer than its timeout and was stopped. Retryable.
    #[error("the tool did not finish within {0:?} and was stopped")]
    Timeout(Duration),
    /// The output or input was over a size limit. Not retryable.
    #[error("{0}")]
    TooLarge(String),
    /// Too many calls at once; later may work. Retryable.
    #[error("{0}")]
    Unavailable(String),
    /// The tool ran and failed (a non-zero exit, an I/O error).
    #[error("{message}")]
    Failed { message: String, retryable: bool },
}

impl ToolError {
    /// The status word on the wire (google.rpc-style codes, TIMEOUT for a stopped run).
    pub fn status(&self) -> &'static str {
        match self {
            ToolError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ToolError::NotFound(_) => "NOT_FOUND",
            ToolError::PermissionDenied(_) => "PERMISSION_DENIED",
            ToolError::Timeout(_) => "TIMEOUT",
            ToolError::TooLarge(_) => "RESOURCE_EXHAUSTED",
            ToolError::Unavailable(_) => "UNAVAILABLE",
            ToolError::Failed { .. } => "FAILED",
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            ToolError::Timeout(_) | ToolError::Unavailable(_) => true,
            ToolError::Failed { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The `response` object of a function response that failed.
    pub fn to_response(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "error".into(),
            json!({"status": self.status(), "message": self.to_string(), "retryable": self.retryable()}),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_a_retryable_error_object() {
        let r = ToolError::Timeout(Duration::from_secs(2)).to_response();
        assert_eq!(r["error"]["status"], "TIMEOUT");
        assert_eq!(r["error"]["retryable"], true);
        assert!(r["error"]["message"].as_str().unwrap().contains("2s"));
        let denied = ToolError::PermissionDenied("refused".into()).to_response();
        assert_eq!(denied["error"]["retryable"], false);
    }
}
