//! Generation settings (temperature, topP, topK, maxOutputTokens, thinking, media resolution) from flags,
//! the config file and a preset, in that order of precedence, each number checked against its range. The
//! thinking asked for must fit the model's profile (`thinking = none|budget|level` in models/models.toml):
//! a flag or config key that asks for what the model refuses is an error naming the model, while a
//! preset's thinking is left out quietly where the model does not take it (a preset serves every model).

use serde::Deserialize;

use crate::models::{ModelProfile, Thinking};
use crate::protocol::{GenerationConfig, ThinkingConfig};

use super::SettingsError;

pub const TEMPERATURE: (f32, f32) = (0.0, 2.0);
pub const TOP_P: (f32, f32) = (0.0, 1.0);
/// topK: at least 1; the service documents no larger useful value than this.
pub const TOP_K_MAX: u32 = 1000;
/// maxOutputTokens: the Live models' output limit.
pub const MAX_OUTPUT_TOKENS: u32 = 65_536;
/// thinkingBudget: -1 (the model decides) or 0 (off) to this many tokens.
pub const THINKING_BUDGET_MAX: i32 = 32_768;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingLevel {
    Low,
    Medium,
    High,
}

impl ThinkingLevel {
    pub fn wire(self) -> &'static str {
        match self {
            ThinkingLevel::Low => "LOW",
            ThinkingLevel::Medium => "MEDIUM",
            ThinkingLevel::High => "HIGH",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaResolution {
    Low,
    Medium,
    High,
}

impl MediaResolution {
    pub fn wire(self) -> &'static str {
        match self {
            MediaResolution::Low => "MEDIA_RESOLUTION_LOW",
            MediaResolution::Medium => "MEDIA_RESOLUTION_MEDIUM",
            MediaResolution::High => "MEDIA_RESOLUTION_HIGH",
        }
    }
}

/// One layer of generation settings (flags, the config file or a preset), every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationKeys {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub thinking_level: Option<ThinkingLevel>,
    pub thinking_budget: Option<i32>,
    pub media_resolution: Option<MediaResolution>,
}

impl GenerationKeys {
    /// `self` where set, else `under`.
    pub fn over(&self, under: &GenerationKeys) -> GenerationKeys {
        GenerationKeys {
            temperature: self.temperature.or(under.temperature),
            top_p: self.top_p.or(under.top_p),
            top_k: self.top_k.or(under.top_k),
            max_output_tokens: self.max_output_tokens.or(under.max_output_tokens),
            thinking_level: self.thinking_level.or(under.thinking_level),
            thinking_budget: self.thinking_budget.or(under.thinking_budget),
            media_resolution: self.media_resolution.or(under.media_resolution),
        }
    }

    /// Every number in range; `source` names where they came from: "--" gives flag names (`--top-p`),
    /// anything else the config file's keys (`config file: top_p`).
    pub fn check(&self, source: &str) -> Result<(), SettingsError> {
        let flags = source == "--";
        let bad = |key: &str, value: String, range: &str| {
            let key = if flags { key.to_string() } else { key.replace('-', "_") };
            Err(SettingsError::Invalid(format!("{source}{key} {value}: give {range}")))
        };
        if let Some(t) = self
            .temperature
            .filter(|t| !(t.is_finite() && (TEMPERATURE.0..=TEMPERATURE.1).contains(t)))
        {
            return bad("temperature", t.to_string(), "a number from 0 to 2");
        }
        if let Some(p) = self
            .top_p
            .filter(|p| !(p.is_finite() && (TOP_P.0..=TOP_P.1).contains(p)))
        {
            return bad("top-p", p.to_string(), "a number from 0 to 1");
        }
        if let Some(k) = self.top_k.filter(|k| !(1..=TOP_K_MAX).contains(k)) {
            return bad("top-k", k.to_string(), &format!("a whole number from 1 to {TOP_K_MAX}"));
        }
        if let Some(n) = self.max_output_tokens.filter(|n| !(1..=MAX_OUTPUT_TOKENS).contains(n)) {
            return bad(
                "max-output-tokens",
                n.to_string(),
                &format!("a whole number from 1 to {MAX_OUTPUT_TOKENS}"),
            );
        }
        if let Some(b) = self.thinking_budget.filter(|b| !(-1..=THINKING_BUDGET_MAX).contains(b)) {
            return bad(
                "thinking-budget",
                b.to_string(),
                &format!("-1 (the model decides), 0 (off) or up to {THINKING_BUDGET_MAX} tokens"),
            );
        }
        if self.thinking_level.is_some() && self.thinking_budget.is_some() {
            let (level, budget) = if flags {
                ("--thinking-level", "--thinking-budget")
            } else {
                ("thinking_level", "thinking_budget")
            };
            return Err(SettingsError::Invalid(format!(
                "{source}{level} and {budget} together: give one (a model takes either a level or a budget)"
            )));
        }
        Ok(())
    }
}

/// The resolved settings, ready to go into `generationConfig`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generation {
    pub keys: GenerationKeys,
    pub thinking: Option<ThinkingConfig>,
}

impl Generation {
    /// `asked` (flags over the config file) over `preset`, checked; the thinking fitted to `profile` (None:
    /// a model the catalog does not know, which gets what was asked).
    pub fn resolve(
        asked: &GenerationKeys,
        preset: &GenerationKeys,
        model: &str,
        profile: Option<&ModelProfile>,
    ) -> Result<Generation, SettingsError> {
        asked.check("--")?;
        preset.check("preset ")?;
        let mut keys = asked.over(preset);
        // a level asked for replaces a preset's budget and the other way round
        if asked.thinking_level.is_some() {
            keys.thinking_budget = asked.thinking_budget;
        }
        if asked.thinking_budget.is_some() {
            keys.thinking_level = asked.thinking_level;
        }
        let takes = profile.map(|p| p.thinking);
        let thinking = match (keys.thinking_level, keys.thinking_budget, takes) {
            (None, None, _) => None,
            (level, budget, None) => Some(config(level, budget)),
            (Some(_), _, Some(Thinking::Level)) | (_, Some(_), Some(Thinking::Budget)) => {
                Some(config(keys.thinking_level, keys.thinking_budget))
            }
            (level, _, Some(takes)) => {
                let flag = if level.is_some() {
                    asked.thinking_level.is_some()
                } else {
                    asked.thinking_budget.is_some()
                };
                if flag {
                    return Err(SettingsError::Invalid(refusal(model, level.is_some(), takes)));
                }
                None
            }
        };
        Ok(Generation { keys, thinking })
    }

    /// Writes the settings into `g`, leaving what is unset to the service's defaults.
    pub fn apply(&self, g: &mut GenerationConfig) {
        let k = &self.keys;
        g.temperature = k.temperature.or(g.temperature);
        g.top_p = k.top_p.or(g.top_p);
        g.top_k = k.top_k.map(|k| k as f32).or(g.top_k);
        g.max_output_tokens = k.max_output_tokens.or(g.max_output_tokens);
        if let Some(t) = &self.thinking {
            g.thinking_config = Some(t.clone());
        }
        if let Some(r) = k.media_resolution {
            g.media_resolution = Some(r.wire().to_string());
        }
    }
}

fn config(level: Option<ThinkingLevel>, budget: Option<i32>) -> ThinkingConfig {
    ThinkingConfig {
        thinking_budget: budget,
        thinking_level: level.map(|l| l.wire().to_string()),
        include_thoughts: None,
    }
}

/// Why `model` refuses the thinking asked for, and what it takes instead.
fn refusal(model: &str, asked_level: bool, takes: Thinking) -> String {
    let asked = if asked_level {
        "--thinking-level"
    } else {
        "--thinking-budget"
    };
    match takes {
        Thinking::None => {
            format!("{asked}: model {model} takes no thinking configuration (it rejects thinkingConfig); drop the flag")
        }
        Thinking::Budget => format!("{asked}: model {model} takes a thinking budget: use --thinking-budget N"),
        Thinking::Level => {
            format!("{asked}: model {model} takes a thinking level: use --thinking-level low|medium|high")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Catalog;

    fn profile(id: &str) -> &'static ModelProfile {
        Catalog::builtin().model(id).unwrap()
    }

    #[test]
    fn numbers_out_of_range_are_one_clear_error() {
        for (keys, expect) in [
            (
                GenerationKeys {
                    temperature: Some(2.5),
                    ..Default::default()
                },
                "--temperature 2.5",
            ),
            (
                GenerationKeys {
                    temperature: Some(f32::NAN),
                    ..Default::default()
                },
                "--temperature NaN",
            ),
            (
                GenerationKeys {
                    top_p: Some(-0.1),
                    ..Default::default()
                },
                "--top-p -0.1",
            ),
            (
                GenerationKeys {
                    top_k: Some(0),
                    ..Default::default()
                },
                "--top-k 0",
            ),
            (
                GenerationKeys {
                    top_k: Some(TOP_K_MAX + 1),
                    ..Default::default()
                },
                "--top-k 1001",
            ),
            (
                GenerationKeys {
                    max_output_tokens: Some(0),
                    ..Default::default()
                },
                "--max-output-tokens 0",
            ),
            (
                GenerationKeys {
                    thinking_budget: Some(-2),
                    ..Default::default()
                },
                "--thinking-budget -2",
            ),
        ] {
            let err = Generation::resolve(&keys, &GenerationKeys::default(), "m", None).unwrap_err();
            assert!(err.to_string().starts_with(expect), "{err}");
        }
    }

    #[test]
    fn thinking_follows_the_model_profile() {
        let level = GenerationKeys {
            thinking_level: Some(ThinkingLevel::High),
            ..Default::default()
        };
        let budget = GenerationKeys {
            thinking_budget: Some(0),
            ..Default::default()
        };
        let none = GenerationKeys::default();
        let live = profile("gemini-3.8-live");
        let err = Generation::resolve(&level, &none, "gemini-3.8-live", Some(live)).unwrap_err();
        assert!(err.to_string().contains("gemini-3.8-live takes no thinking"), "{err}");
        assert!(Generation::resolve(&budget, &none, "gemini-3.8-live", Some(live)).is_err());
        let preview = profile("gemini-2.5-flash-native-audio-preview-12-2025");
        let g = Generation::resolve(&budget, &none, "p", Some(preview)).unwrap();
        assert_eq!(g.thinking.unwrap().thinking_budget, Some(0));
        let err = Generation::resolve(&level, &none, "p", Some(preview)).unwrap_err();
        assert!(err.to_string().contains("use --thinking-budget"), "{err}");
        // a preset's budget is left out where the model takes none, not an error
        let g = Generation::resolve(&none, &budget, "gemini-3.8-live", Some(live)).unwrap();
        assert_eq!(g.thinking, None);
        // an unknown model gets what was asked
        let g = Generation::resolve(&level, &none, "gemini-9", None).unwrap();
        assert_eq!(g.thinking.unwrap().thinking_level.as_deref(), Some("HIGH"));
    }

    #[test]
    fn flags_override_the_preset_and_land_in_generation_config() {
        let preset = GenerationKeys {
            temperature: Some(0.1),
            max_output_tokens: Some(200),
            thinking_budget: Some(0),
            media_resolution: Some(MediaResolution::Low),
            ..Default::default()
        };
        let asked = GenerationKeys {
            temperature: Some(0.9),
            top_k: Some(40),
            ..Default::default()
        };
        let preview = profile("gemini-2.5-flash-native-audio-preview-12-2025");
        let g = Generation::resolve(&asked, &preset, "p", Some(preview)).unwrap();
        let mut wire = GenerationConfig::default();
        g.apply(&mut wire);
        assert_eq!(wire.temperature, Some(0.9));
        assert_eq!(wire.max_output_tokens, Some(200));
        assert_eq!(wire.top_k, Some(40.0));
        assert_eq!(wire.media_resolution.as_deref(), Some("MEDIA_RESOLUTION_LOW"));
        assert_eq!(wire.thinking_config.unwrap().thinking_budget, Some(0));
    }
}
