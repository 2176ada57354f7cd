//! What a session asks of the model beyond where it connects: the system instruction (`instruction.rs`:
//! text or `@FILE`), named presets shipped in models/presets (`presets.rs`), generation settings fitted to
//! the model's profile (`generation.rs`) and safety settings (`safety.rs`). `config.rs` layers them: flags
//! over the config file over a preset; everything here is checked before any connection.

pub mod generation;
pub mod instruction;
pub mod presets;
pub mod safety;

pub use generation::{Generation, GenerationKeys, MediaResolution, ThinkingLevel};
pub use presets::{AppliedPreset, Preset, PresetParams};

/// A setting that cannot be used; the text is the one line a person reads. Never retryable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
}
