//! The settings part of the configuration: instruction, preset, generation, safety and headers, layered
//! flags over the config file over the preset (see [`crate::settings`]).

use crate::cli::CommonArgs;
use crate::models::Catalog;
use crate::session::ExtraHeaders;
use crate::settings::{AppliedPreset, Generation, GenerationKeys, PresetParams, SettingsError};

use super::{ConfigError, FileConfig};

impl FileConfig {
    fn generation(&self) -> GenerationKeys {
        GenerationKeys {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_output_tokens: self.max_output_tokens,
            thinking_level: self.thinking_level,
            thinking_budget: self.thinking_budget,
            media_resolution: self.media_resolution,
        }
    }
}

/// What the settings flags and keys resolve to: the instruction, preset, generation, safety and headers.
pub(super) struct Extras {
    pub system: Option<String>,
    pub preset: Option<AppliedPreset>,
    pub generation: Generation,
    pub safety: Vec<crate::protocol::SafetySetting>,
    pub headers: ExtraHeaders,
}

impl Extras {
    pub fn resolve(args: &CommonArgs, file: &FileConfig, model: &str) -> Result<Extras, ConfigError> {
        let s = &args.settings;
        let preset = match s.preset.as_deref().or(file.preset.as_deref()) {
            Some(name) => {
                let params = PresetParams {
                    from: s.from.clone().or(file.from.clone()),
                    to: s.to.clone().or(file.to.clone()),
                };
                Some(crate::settings::presets::find(name)?.apply(&params)?)
            }
            None if s.from.is_some() || s.to.is_some() => {
                return Err(SettingsError::Invalid(
                    "--from / --to fill a preset's instruction: add --preset translator or --preset tutor".into(),
                )
                .into())
            }
            None => None,
        };
        // flags and the file: an explicit instruction replaces the preset's
        let system = match args.system.as_deref().or(file.system.as_deref()) {
            Some(given) => Some(crate::settings::instruction::resolve(given)?),
            None => preset.as_ref().map(|p| p.system.clone()),
        };
        let flags = GenerationKeys {
            temperature: s.temperature,
            top_p: s.top_p,
            top_k: s.top_k,
            max_output_tokens: s.max_output_tokens,
            thinking_level: s.thinking_level,
            thinking_budget: s.thinking_budget,
            media_resolution: s.media_resolution,
        };
        let from_file = file.generation();
        from_file.check("config file: ")?;
        let under = preset.as_ref().map(|p| p.preset.generation.clone()).unwrap_or_default();
        let profile = Catalog::builtin().model(model).ok();
        let generation = Generation::resolve(&flags.over(&from_file), &under, model, profile)?;
        let safety = crate::settings::safety::resolve(
            file.safety.iter().map(|(c, t)| (c.as_str(), t.as_str())),
            s.safety.iter().map(String::as_str),
        )?;
        let headers = ExtraHeaders::parse(
            s.header.iter().map(String::as_str),
            file.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )?;
        Ok(Extras {
            system,
            preset,
            generation,
            safety,
            headers,
        })
    }
}
