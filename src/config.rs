//! The resolved configuration: config file, then environment, then flags (later wins), with defaults and
//! validation against the model catalog. Everything after `main` reads this, never the raw flags.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::{CommonArgs, ModalityArg, SensitivityArg, TalkingArgs};
use crate::conversation::{TalkMode, TextRoute, VadSource};
use crate::models::{check_setup, Catalog, ModelError, SetupRefusal};
use crate::protocol::Modality;
use crate::session::{ApiVersion, Credential, Endpoint, ExtraHeaders, SessionError};
use crate::settings::{AppliedPreset, Generation, SettingsError};

mod access;
mod extras;
mod file;
mod link;
mod setup;
mod tool_flags;

pub use access::{api_key, EPHEMERAL_TOKEN_ENV, VERTEX_TOKEN_ENV};
use extras::Extras;
pub use file::{default_config_path, FileConfig};
pub use link::{flag_secs, Link, MAX_FLAG_SECS, MAX_MESSAGE_LIMIT};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The catalog says the model refuses this setup (the real service would close the connection):
    /// a usage error, exit status 2.
    #[error(transparent)]
    Setup(#[from] SetupRefusal),
    #[error(transparent)]
    Endpoint(#[from] SessionError),
    #[error("environment variable {0} is not set or empty")]
    MissingEnv(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read the certificate {path}: {detail}")]
    Cert { path: PathBuf, detail: String },
    /// A bad instruction, preset or generation setting (exit status 2, like a bad flag).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Tools(#[from] crate::tools::ToolSettingsError),
}

impl ConfigError {
    /// Whether the user gave a value that can never work (a usage error: exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ConfigError::Settings(_)
                | ConfigError::Setup(_)
                | ConfigError::Invalid(_)
                | ConfigError::Endpoint(SessionError::InvalidEndpoint(_))
        )
    }
}

/// The server's activity detection as tuned by flags and the config file (`None`: the service's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VadTuning {
    pub start_sensitivity: Option<SensitivityArg>,
    pub end_sensitivity: Option<SensitivityArg>,
    pub prefix_padding_ms: Option<u32>,
    pub silence_ms: Option<u32>,
}

/// How turns are taken, resolved from flags and the config file.
#[derive(Debug, Clone)]
pub struct Talking {
    pub mode: TalkMode,
    pub tuning: VadTuning,
    pub ptt_key: Option<String>,
    pub transcript: Option<PathBuf>,
}

impl Talking {
    /// A warning when the server-VAD tuning flags (or config entries) are set but the service's activity
    /// detection is off (push-to-talk, local VAD): they would otherwise be dropped without a word.
    pub fn ignored_tuning(&self) -> Option<String> {
        if self.mode == TalkMode::HandsFree(VadSource::Server) || self.tuning == VadTuning::default() {
            return None;
        }
        let how = match self.mode {
            TalkMode::PushToTalk => "push-to-talk",
            _ => "local VAD",
        };
        Some(format!(
            "--silence-ms, --prefix-padding-ms and the sensitivities tune the service's activity detection, \
             which is off with {how}: ignored"
        ))
    }
}

/// Where the conversation goes.
#[derive(Debug, Clone)]
// One value per run, moved a few times at start: boxing the endpoint would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Target {
    /// A Live endpoint (the real service, or a server the user runs).
    Remote(Endpoint),
    /// The embedded server, started in-process on a free loopback port.
    Embedded,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub api_version: ApiVersion,
    pub model: String,
    pub voice: Option<String>,
    pub system: Option<String>,
    pub modality: Modality,
    pub temperature: Option<f32>,
    pub language: Option<String>,
    /// Where the API key came from, for messages (never the key).
    pub key_source: Option<String>,
    /// Warnings found while resolving (unknown model or voice), shown once at start.
    pub warnings: Vec<String>,
    /// How typed lines go up during a voice session, per the model's profile.
    pub text_route: TextRoute,
    /// Ask for `sessionResumption.transparent` (the model's profile supports it, or the embedded server).
    pub transparent_resumption: bool,
    /// Timeouts, message size limit and reconnection, from the flags (validated).
    pub link: Link,
    /// Generation settings (flags over the config file over the preset), fitted to the model.
    pub generation: Generation,
    pub safety: Vec<crate::protocol::SafetySetting>,
    /// The preset in use, its instruction filled in.
    pub preset: Option<AppliedPreset>,
    /// Extra handshake headers (also sent to the embedded server).
    pub headers: ExtraHeaders,
    /// What the session continues (`--resume`) and the journal that saves it; set by the CLI.
    pub resume_from: Option<crate::session::ResumeFrom>,
    pub journal: Option<crate::session::JournalRef>,
    /// The enabled tools (declared in setup, the only ones that may run) and how calls are confirmed.
    pub tools: Arc<crate::tools::Registry>,
    pub confirm: crate::tools::ConfirmPolicy,
    /// What the model does with a function declared without `behavior` (its profile's default).
    pub function_default: crate::tools::Behavior,
    /// The config file's turn-taking keys (flags override them in [`Config::talking`]).
    file_talking: TalkingArgs,
    file_ptt_key: Option<String>,
}

/// What the model's profile decides for a session: how typed lines go up, whether transparent resumption
/// is asked for, what a function declared without `behavior` does. An unknown or shut-down model keeps the
/// defaults: it is [`Config::checked`]'s to report.
struct ModelTraits {
    text_route: TextRoute,
    transparent_resumption: bool,
    function_default: crate::tools::Behavior,
}

impl ModelTraits {
    fn of(catalog: &Catalog, model: &str, target: &Target) -> ModelTraits {
        let mut traits = ModelTraits {
            text_route: TextRoute::RealtimeInput,
            // the embedded server honours transparent resumption for every model
            transparent_resumption: matches!(target, Target::Embedded),
            function_default: crate::tools::Behavior::Blocking,
        };
        if let Ok(profile) = catalog.model(model) {
            traits.function_default = crate::tools::Behavior::model_default(profile.default_function_behavior);
            traits.transparent_resumption |= profile.transparent_resumption;
            if profile.typed_text == crate::models::TypedText::ClientContent {
                traits.text_route = TextRoute::ClientContent;
            }
        }
        traits
    }
}

impl Config {
    /// Resolves the flags over the environment over the config file (over a preset), checked against the
    /// model catalog: everything after `main` reads the result, never the raw flags.
    pub fn resolve(args: &CommonArgs) -> Result<Config, ConfigError> {
        let mut file = file::load_file(args.config.as_deref())?;
        let (tools, confirm) = tool_flags::tool_settings(&args.tools, &mut file)?;
        let file_talking = file.talking();
        let catalog = Catalog::builtin();
        let (credential, key_source) = access::credential(args, &file)?;
        // the Constrained endpoint exists in v1alpha only
        let api_version = match (&credential, args.api_version.or(file.api_version)) {
            (Credential::EphemeralToken(_), None) => ApiVersion::V1alpha,
            (_, given) => given.unwrap_or_default(),
        };
        let target = access::target(args, &file, api_version, &credential)?;
        let model = args
            .model
            .clone()
            .or(file.model.clone())
            .unwrap_or_else(|| catalog.default_model.clone());
        let model = model.trim_start_matches("models/").to_string();
        let modality = match args.modality.or(file.modality) {
            Some(ModalityArg::Text) => Modality::Text,
            _ => Modality::Audio,
        };
        let voice = args.voice.clone().or(file.voice.clone());
        let link = Link::from_args(args)?;
        let traits = ModelTraits::of(catalog, &model, &target);
        let extras = Extras::resolve(args, &file, &model)?;
        let target = match target {
            Target::Remote(mut e) => {
                e.extra_headers = extras.headers.clone();
                Target::Remote(e)
            }
            t => t,
        };
        let config = Config {
            target,
            api_version,
            model,
            voice,
            system: extras.system,
            modality,
            temperature: extras.generation.keys.temperature,
            language: file.language,
            key_source,
            warnings: Vec::new(),
            text_route: traits.text_route,
            transparent_resumption: traits.transparent_resumption,
            link,
            generation: extras.generation,
            safety: extras.safety,
            preset: extras.preset,
            headers: extras.headers,
            resume_from: None,
            journal: None,
            tools,
            confirm,
            function_default: traits.function_default,
            file_talking,
            file_ptt_key: file.ptt_key,
        };
        config.checked()
    }

    /// Checks the setup this configuration builds against the catalog before anything connects: what the
    /// model refuses is an error; an unknown model is an error against the embedded server (it knows only
    /// the catalog) and a warning against a remote endpoint (the service may know newer models).
    fn checked(mut self) -> Result<Config, ConfigError> {
        let api_version = match &self.target {
            Target::Remote(e) => e.api_version,
            Target::Embedded => self.api_version,
        };
        match check_setup(Catalog::builtin(), &self.setup(false), Some(api_version.as_str())) {
            Ok(_) => Ok(self),
            Err(e @ SetupRefusal::UnknownModel { .. }) if matches!(self.target, Target::Remote(_)) => {
                self.warnings
                    .push(format!("{e} (trying anyway: the service may know newer models)"));
                Ok(self)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn config(args: &[&str]) -> Config {
        let cli = Cli::parse_from(["voxlive", "--config", "/dev/null"].iter().chain(args));
        Config::resolve(&cli.common).expect("resolves")
    }

    #[test]
    fn server_vad_sessions_ask_the_embedded_server_for_voice_activity_only() {
        let mut c = config(&["--endpoint", "ws://127.0.0.1:9"]);
        let server_vad = c.talking(&TalkingArgs::default(), None, TalkMode::HandsFree(VadSource::Server));
        let ptt = c.talking(&TalkingArgs::default(), None, TalkMode::PushToTalk);
        assert_eq!(
            c.voice_setup(&server_vad).explicit_vad_signal,
            None,
            "not asked of a remote service"
        );
        c.target = Target::Embedded;
        assert_eq!(c.voice_setup(&server_vad).explicit_vad_signal, Some(true));
        assert_eq!(
            c.voice_setup(&ptt).explicit_vad_signal,
            None,
            "no server VAD, nothing to report"
        );
    }

    #[test]
    fn the_default_model_is_gemini_3_8_live_with_audio_and_its_transcript() {
        let c = config(&["--endpoint", "ws://127.0.0.1:9"]);
        let setup = c.setup(false);
        assert_eq!(setup.model, "models/gemini-3.8-live");
        assert_eq!(setup.modality(), Modality::Audio);
        assert!(
            setup.output_audio_transcription.is_some(),
            "the words of a spoken reply, as text"
        );
        assert!(check_setup(Catalog::builtin(), &setup, Some("v1beta")).is_ok());
    }
}
