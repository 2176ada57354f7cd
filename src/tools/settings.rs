//! The tool flags and config-file keys, resolved: which built-ins are on, the folders `read_file` may
//! read, which tools need confirmation and how it is asked, and the `[[tool]]` command tools. Validated
//! once at start into a [`Registry`]; a bad setting is one clear error.

use std::path::PathBuf;
use std::sync::Arc;

use super::calc::Calculator;
use super::clock::Clock;
use super::command::{CommandSpec, CommandTool};
use super::read_file::{ReadFile, MAX_BYTES};
use super::Registry;

/// A tool setting that cannot be used. Not retryable: fix the flag or the config file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolSettingsError {
    #[error("{0}")]
    Invalid(String),
}

/// The built-ins: the name `--tools` takes, and the function name the model sees.
pub const BUILTINS: [(&str, &str); 3] = [
    ("time", "current_time"),
    ("calc", "calculator"),
    ("read_file", "read_file"),
];

#[derive(Debug, Clone, Default)]
pub struct ToolSettings {
    /// Built-ins to enable, by their `--tools` names (or function names).
    pub builtins: Vec<String>,
    /// Folders `read_file` may read.
    pub allow_dirs: Vec<PathBuf>,
    /// Tools (either name) whose calls need confirmation.
    pub confirm: Vec<String>,
    /// `[[tool]]` tables: command tools, all enabled.
    pub commands: Vec<CommandSpec>,
}

fn builtin(name: &str) -> Option<(&'static str, &'static str)> {
    BUILTINS
        .iter()
        .copied()
        .find(|(flag, func)| *flag == name || *func == name)
}

impl ToolSettings {
    /// Whether any tool is enabled.
    pub fn any(&self) -> bool {
        !self.builtins.is_empty() || !self.commands.is_empty()
    }

    /// The enabled tools, checked: known built-in names, existing folders, valid command specs, and
    /// confirmation only for enabled tools.
    pub fn registry(&self) -> Result<Registry, ToolSettingsError> {
        let invalid = ToolSettingsError::Invalid;
        let mut registry = Registry::new();
        let wants_confirm = |func: &str| {
            self.confirm
                .iter()
                .any(|c| c == func || builtin(c).is_some_and(|b| b.1 == func))
        };
        for name in &self.builtins {
            let Some((_, func)) = builtin(name.trim()) else {
                let known: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
                return Err(invalid(format!(
                    "--tools {name}: no such built-in tool; built-ins: {}",
                    known.join(", ")
                )));
            };
            if registry.get(func).is_some() {
                continue;
            }
            let confirm = wants_confirm(func);
            match func {
                "current_time" => registry.add(Arc::new(Clock), confirm)?,
                "calculator" => registry.add(Arc::new(Calculator), confirm)?,
                _ => {
                    let tool = ReadFile::new(&self.allow_dirs, MAX_BYTES).map_err(invalid)?;
                    registry.add(Arc::new(tool), confirm)?
                }
            }
        }
        if !self.allow_dirs.is_empty() && registry.get("read_file").is_none() {
            tracing::warn!("--allow-dir has no effect without --tools read_file");
        }
        for spec in &self.commands {
            let confirm = wants_confirm(&spec.name);
            let tool = CommandTool::from_spec(spec.clone()).map_err(invalid)?;
            registry.add(Arc::new(tool), confirm)?;
        }
        for c in &self.confirm {
            let func = builtin(c).map_or(c.as_str(), |b| b.1);
            if registry.get(func).is_none() {
                return Err(invalid(format!(
                    "--confirm-tools {c}: not an enabled tool (enabled: {})",
                    registry.names().join(", ")
                )));
            }
        }
        Ok(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_by_either_name_and_confirmation_by_either_name() {
        let s = ToolSettings {
            builtins: vec!["time".into(), "calculator".into()],
            confirm: vec!["calc".into()],
            ..ToolSettings::default()
        };
        let r = s.registry().unwrap();
        assert_eq!(r.names(), vec!["calculator", "current_time"]);
        assert!(r.get("calculator").unwrap().confirm);
        assert!(!r.get("current_time").unwrap().confirm);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let unknown = ToolSettings {
            builtins: vec!["shell".into()],
            ..ToolSettings::default()
        };
        assert!(unknown
            .registry()
            .unwrap_err()
            .to_string()
            .contains("built-ins: time, calc, read_file"));
        let no_dir = ToolSettings {
            builtins: vec!["read_file".into()],
            ..ToolSettings::default()
        };
        assert!(no_dir.registry().unwrap_err().to_string().contains("--allow-dir"));
        let confirm_off = ToolSettings {
            builtins: vec!["time".into()],
            confirm: vec!["read_file".into()],
            ..ToolSettings::default()
        };
        assert!(confirm_off
            .registry()
            .unwrap_err()
            .to_string()
            .contains("not an enabled tool"));
    }
}
