//! The config file: its keys (all optional, unknown ones refused) and where it is read from. Kept apart
//! from the resolution so the file's shape can be read in one place; flags and environment win over it in
//! [`super::Config::resolve`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{ModalityArg, ModeArg, SensitivityArg, TalkingArgs, VadArg};
use crate::session::ApiVersion;
use crate::settings::{MediaResolution, ThinkingLevel};

use super::ConfigError;

/// The config file's keys, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub voice: Option<String>,
    pub system: Option<String>,
    pub modality: Option<ModalityArg>,
    pub api_version: Option<ApiVersion>,
    pub api_key_env: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub temperature: Option<f32>,
    pub language: Option<String>,
    /// How turns are taken (flags win): "ptt" or "hands-free".
    pub mode: Option<ModeArg>,
    /// Hands-free: "server" or "local".
    pub vad: Option<VadArg>,
    pub ptt_key: Option<String>,
    /// Server VAD tuning: "high" or "low".
    pub start_sensitivity: Option<SensitivityArg>,
    pub end_sensitivity: Option<SensitivityArg>,
    pub prefix_padding_ms: Option<u32>,
    pub silence_ms: Option<u32>,
    /// A preset name (`voxlive presets`), and its languages.
    pub preset: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub thinking_level: Option<ThinkingLevel>,
    pub thinking_budget: Option<i32>,
    pub media_resolution: Option<MediaResolution>,
    /// `[safety]`: category = threshold.
    #[serde(default)]
    pub safety: std::collections::BTreeMap<String, String>,
    /// `[headers]`: extra handshake headers, name = value.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Built-in tools to enable (flags win): time, calc, read_file.
    pub tools: Option<Vec<String>>,
    /// Folders read_file may read.
    pub allow_dirs: Option<Vec<PathBuf>>,
    /// Tools whose calls need confirmation.
    pub confirm_tools: Option<Vec<String>>,
    pub confirm_timeout_secs: Option<f64>,
    pub confirm_default: Option<crate::cli::ConfirmDefaultArg>,
    /// `[[tool]]` tables: tools run as a command (see src/tools/command.rs).
    pub tool: Option<Vec<crate::tools::command::CommandSpec>>,
}

impl FileConfig {
    /// The turn-taking keys, shaped like the flags they stand behind.
    pub(super) fn talking(&self) -> TalkingArgs {
        TalkingArgs {
            mode: self.mode,
            vad: self.vad,
            start_sensitivity: self.start_sensitivity,
            end_sensitivity: self.end_sensitivity,
            prefix_padding_ms: self.prefix_padding_ms,
            silence_ms: self.silence_ms,
            transcript: None,
        }
    }
}

/// The default config file path: `<config dir>/voxlive/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("voxlive").join("config.toml"))
}

pub(super) fn load_file(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok(FileConfig::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(FileConfig::default()),
        Err(e) => {
            return Err(ConfigError::File {
                path,
                detail: e.to_string(),
            })
        }
    };
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        // One line: the toml crate's Display spans several lines with a source excerpt.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let detail = match line {
            Some(n) => format!("line {n}: {}", e.message().trim()),
            None => e.message().trim().to_string(),
        };
        ConfigError::File {
            path: path.clone(),
            detail,
        }
    })?;
    // the same bounds as the flags': the service's activity detection takes turns, not minutes
    for (key, value) in [
        ("prefix_padding_ms", file.prefix_padding_ms),
        ("silence_ms", file.silence_ms),
    ] {
        if let Some(v) = value.filter(|&v| v > MAX_VAD_MS) {
            return Err(ConfigError::File {
                path,
                detail: format!("{key} = {v}: give 0 to {MAX_VAD_MS} ms"),
            });
        }
    }
    Ok(file)
}

/// The longest `prefix_padding_ms` / `silence_ms` accepted (as `--prefix-padding-ms` / `--silence-ms`).
pub const MAX_VAD_MS: u32 = 10_000;
