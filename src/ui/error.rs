//! What can go wrong starting or running the terminal UI.

/// Errors of the terminal UI. None of them is worth a retry: the front end falls back to plain lines
/// ([`super::PlainRenderer`] with [`super::stdin_lines`]) or reports the bad flag.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A push-to-talk key name that voxlive does not know (a configuration error: fix the flag).
    #[error("unknown push-to-talk key {name:?}: {why} (try space, f5, ctrl+t or a single character)")]
    UnknownKey { name: String, why: &'static str },
    /// stdin or stdout is not a terminal: use the plain renderer instead.
    #[error("standard input and output must both be a terminal for the live UI")]
    NotATerminal,
    /// Raw mode, the alternate screen or the first draw failed (the terminal is restored before this returns).
    #[error("terminal setup failed: {0}")]
    Setup(#[source] std::io::Error),
    /// The UI or key thread could not be started.
    #[error("could not start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
