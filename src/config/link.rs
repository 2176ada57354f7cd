//! How sessions connect and what they put up with: the timeout, message size and reconnection flags,
//! checked here once so nothing after resolution can be handed a timer that panics or never fires.

use std::time::Duration;

use crate::cli::CommonArgs;

use super::ConfigError;

/// How sessions connect and what they put up with, from the flags.
#[derive(Debug, Clone)]
pub struct Link {
    pub connect_timeout: Duration,
    pub setup_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_message_size: usize,
    pub reconnect: bool,
    /// Shared with the session so `--metrics FILE` can be written whatever happens.
    pub metrics: std::sync::Arc<crate::session::SessionMetrics>,
}

/// Longest timeout any flag may give: a day. Beyond it (or a negative, NaN or infinite value)
/// `Duration::from_secs_f64` would panic or a timer would never fire in any useful sense.
pub const MAX_FLAG_SECS: f64 = 86_400.0;
/// Largest message size a flag may allow (256 MiB): beyond that one hostile frame could exhaust memory.
pub const MAX_MESSAGE_LIMIT: u64 = 256 << 20;

/// A duration flag in seconds, checked: positive, finite, at most [`MAX_FLAG_SECS`].
pub fn flag_secs(flag: &str, secs: f64) -> Result<Duration, ConfigError> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_FLAG_SECS {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(ConfigError::Invalid(format!(
            "{flag} {secs}: give a number of seconds above 0 and at most {MAX_FLAG_SECS}"
        )))
    }
}

impl Link {
    pub(super) fn from_args(args: &CommonArgs) -> Result<Link, ConfigError> {
        if !(1024..=MAX_MESSAGE_LIMIT).contains(&args.max_message_size) {
            return Err(ConfigError::Invalid(format!(
                "--max-message-size {}: give a byte count from 1024 to {MAX_MESSAGE_LIMIT}",
                args.max_message_size
            )));
        }
        Ok(Link {
            connect_timeout: flag_secs("--connect-timeout", args.connect_timeout)?,
            setup_timeout: flag_secs("--setup-timeout", args.setup_timeout)?,
            idle_timeout: flag_secs("--idle-timeout", args.idle_timeout)?,
            max_message_size: args.max_message_size as usize,
            reconnect: !args.no_reconnect,
            metrics: Default::default(),
        })
    }
}
