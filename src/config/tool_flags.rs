//! The tool flags and the config file's tool keys, validated into the registry before anything connects:
//! a bad tool setting is a usage error, not a failure in the middle of a conversation.

use std::sync::Arc;
use std::time::Duration;

use super::{ConfigError, FileConfig};

/// The tool flags over the config file's tool keys, validated into the registry (a bad tool setting is an
/// error before anything connects).
pub(super) fn tool_settings(
    flags: &crate::cli::ToolArgs,
    file: &mut FileConfig,
) -> Result<(Arc<crate::tools::Registry>, crate::tools::ConfirmPolicy), ConfigError> {
    let pick = |flag: &Vec<String>, file: Option<Vec<String>>| {
        if flag.is_empty() {
            file.unwrap_or_default()
        } else {
            flag.clone()
        }
    };
    let mut policy = crate::tools::ConfirmPolicy::default();
    if let Some(secs) = flags.confirm_timeout.or(file.confirm_timeout_secs) {
        let max = crate::tools::confirm::MAX_TIMEOUT.as_secs_f64();
        if !(secs.is_finite() && secs > 0.0 && secs <= max) {
            return Err(ConfigError::Invalid(format!(
                "--confirm-timeout {secs}: give more than 0 and at most {max} seconds"
            )));
        }
        policy.timeout = Duration::from_secs_f64(secs);
    }
    policy.default_allow = flags.confirm_default.or(file.confirm_default) == Some(crate::cli::ConfirmDefaultArg::Allow);
    let settings = crate::tools::ToolSettings {
        builtins: pick(&flags.tools, file.tools.take()),
        allow_dirs: if flags.allow_dir.is_empty() {
            file.allow_dirs.take().unwrap_or_default()
        } else {
            flags.allow_dir.clone()
        },
        confirm: pick(&flags.confirm_tools, file.confirm_tools.take()),
        commands: file.tool.take().unwrap_or_default(),
    };
    Ok((Arc::new(settings.registry()?), policy))
}
