//! The resolved configuration: config file, then environment, then flags (later wins), with defaults and
//! validation against the model catalog. Everything after `main` reads this, never the raw flags.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{CommonArgs, ModalityArg, ModeArg, SensitivityArg, TalkingArgs, VadArg};
use crate::conversation::{TalkMode, TextRoute, VadSource};
use crate::models::{check_setup, Catalog, ModelError, SetupRefusal};
use crate::protocol::{
    AudioTranscriptionConfig, Content, GenerationConfig, Modality, PrebuiltVoiceConfig, SessionResumptionConfig, Setup,
    SpeechConfig, VoiceConfig,
};
use crate::session::{ApiVersion, Credential, Endpoint, ExtraHeaders, Secret, SessionError, GEMINI_BASE_URL};
use crate::settings::{AppliedPreset, Generation, MediaResolution, SettingsError, ThinkingLevel};

mod extras;
use extras::Extras;

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
    fn talking(&self) -> TalkingArgs {
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
    fn from_args(args: &CommonArgs) -> Result<Link, ConfigError> {
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

/// The default config file path: `<config dir>/voxlive/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("voxlive").join("config.toml"))
}

fn load_file(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
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
    toml::from_str(&text).map_err(|e| {
        // One line: the toml crate's Display spans several lines with a source excerpt.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let detail = match line {
            Some(n) => format!("line {n}: {}", e.message().trim()),
            None => e.message().trim().to_string(),
        };
        ConfigError::File { path, detail }
    })
}

/// The tool flags over the config file's tool keys, validated into the registry (a bad tool setting is an
/// error before anything connects).
fn tool_settings(
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

/// Reads the API key: the named variable, else GEMINI_API_KEY, then GOOGLE_API_KEY. (Google's SDK prefers
/// GOOGLE_API_KEY when both are set; voxlive prefers GEMINI_API_KEY, the name Google's docs use.)
pub fn api_key(env_var: Option<&str>) -> Result<Option<(Secret, String)>, ConfigError> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(name) = env_var {
        return read(name)
            .map(|v| Some((Secret::new(v.trim()), name.to_string())))
            .ok_or_else(|| ConfigError::MissingEnv(name.to_string()));
    }
    Ok(["GEMINI_API_KEY", "GOOGLE_API_KEY"]
        .into_iter()
        .find_map(|n| read(n).map(|v| (Secret::new(v.trim()), n.to_string()))))
}

/// Where the Vertex AI access token is read from.
pub const VERTEX_TOKEN_ENV: &str = "GOOGLE_CLOUD_ACCESS_TOKEN";
/// Where an ephemeral token is read from when no flag names one.
pub const EPHEMERAL_TOKEN_ENV: &str = "GEMINI_EPHEMERAL_TOKEN";

/// The credential `--vertex` (a bearer token) or `--token` / GEMINI_EPHEMERAL_TOKEN give, with where it
/// came from; `None`: fall back to --token-env and the API keys.
fn credential_override(args: &CommonArgs) -> Result<Option<(Credential, Option<String>)>, ConfigError> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if args.access.vertex {
        let token = read(VERTEX_TOKEN_ENV).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--vertex needs an OAuth access token in {VERTEX_TOKEN_ENV} (e.g. export {VERTEX_TOKEN_ENV}=$(gcloud auth print-access-token))"
            ))
        })?;
        return Ok(Some((
            Credential::Bearer(Secret::new(token)),
            Some(VERTEX_TOKEN_ENV.into()),
        )));
    }
    if let Some(token) = args.access.token.as_deref() {
        if token.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "--token: give the token's name (auth_tokens/...)".into(),
            ));
        }
        return Ok(Some((
            Credential::EphemeralToken(Secret::new(token)),
            Some("--token".into()),
        )));
    }
    if args.token_env.is_none() {
        if let Some(token) = read(EPHEMERAL_TOKEN_ENV) {
            let source = Some(EPHEMERAL_TOKEN_ENV.to_string());
            return Ok(Some((Credential::EphemeralToken(Secret::new(token)), source)));
        }
    }
    Ok(None)
}

/// The Vertex AI project and location, checked, when `--vertex` is on.
fn vertex_of(args: &CommonArgs) -> Result<Option<crate::session::Vertex>, ConfigError> {
    if !args.access.vertex {
        return Ok(None);
    }
    let project = args.access.project.as_deref().unwrap_or_default();
    let location = args.access.location.as_deref().unwrap_or_default();
    Ok(Some(crate::session::Vertex::new(project, location)?))
}

impl Config {
    pub fn resolve(args: &CommonArgs) -> Result<Config, ConfigError> {
        let mut file = load_file(args.config.as_deref())?;
        let (tools, confirm) = tool_settings(&args.tools, &mut file)?;
        let file_talking = file.talking();
        let catalog = Catalog::builtin();
        let warnings = Vec::new();
        let api_version = args.api_version.or(file.api_version).unwrap_or_default();

        let key_env = args.api_key_env.clone().or(file.api_key_env.clone());
        let (credential, key_source) = if let Some(found) = credential_override(args)? {
            found
        } else if let Some(var) = &args.token_env {
            let token = std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::MissingEnv(var.clone()))?;
            (Credential::EphemeralToken(Secret::new(token)), Some(var.clone()))
        } else {
            match api_key(key_env.as_deref())? {
                Some((key, source)) => (Credential::ApiKey(key), Some(source)),
                None => (Credential::None, None),
            }
        };
        // the Constrained endpoint exists in v1alpha only
        let api_version = match (&credential, args.api_version.or(file.api_version)) {
            (Credential::EphemeralToken(_), None) => ApiVersion::V1alpha,
            _ => api_version,
        };
        let endpoint_url = args.endpoint.clone().or(file.endpoint.clone());
        let vertex = vertex_of(args)?;
        let target = match (endpoint_url, &credential) {
            (Some(url), _) => Target::Remote(Endpoint::new(&url, api_version, credential.clone())?),
            (None, _) if vertex.is_some() => {
                let base = vertex.as_ref().map(|v| v.base_url()).unwrap_or_default();
                Target::Remote(Endpoint::new(&base, api_version, credential.clone())?)
            }
            (None, Credential::None) => Target::Embedded,
            (None, _) => Target::Remote(Endpoint::new(GEMINI_BASE_URL, api_version, credential.clone())?),
        };
        let target = match target {
            Target::Remote(mut e) => {
                e.vertex = vertex;
                Target::Remote(e)
            }
            t => t,
        };
        let target = match (target, args.ca_cert.clone().or(file.ca_cert.clone())) {
            (Target::Remote(mut e), Some(path)) => {
                let pem = std::fs::read(&path).map_err(|err| ConfigError::Cert {
                    path,
                    detail: err.to_string(),
                })?;
                e.extra_roots_pem = Some(Arc::new(pem));
                Target::Remote(e)
            }
            (t, _) => t,
        };

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
        let mut text_route = TextRoute::RealtimeInput;
        // the embedded server honours transparent resumption for every model
        let mut transparent_resumption = matches!(target, Target::Embedded);
        let link = Link::from_args(args)?;
        // an unknown or shut-down model is `checked`'s to report
        let mut function_default = crate::tools::Behavior::Blocking;
        if let Ok(profile) = catalog.model(&model) {
            function_default = crate::tools::Behavior::model_default(profile.default_function_behavior);
            transparent_resumption |= profile.transparent_resumption;
            if profile.typed_text == crate::models::TypedText::ClientContent {
                text_route = TextRoute::ClientContent;
            }
        }
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
            warnings,
            text_route,
            transparent_resumption,
            link,
            generation: extras.generation,
            safety: extras.safety,
            preset: extras.preset,
            headers: extras.headers,
            resume_from: None,
            journal: None,
            tools,
            confirm,
            function_default,
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

    /// Turn taking: flags, then the config file, then `default_mode` (hands-free with server VAD for the
    /// live conversation, push-to-talk for a WAV question).
    pub fn talking(&self, flags: &TalkingArgs, ptt_key: Option<&str>, default_mode: TalkMode) -> Talking {
        let file = &self.file_talking;
        let vad = match flags.vad.or(file.vad) {
            Some(VadArg::Local) => VadSource::Local,
            Some(VadArg::Server) => VadSource::Server,
            None => match default_mode {
                TalkMode::HandsFree(v) => v,
                TalkMode::PushToTalk => VadSource::Server,
            },
        };
        let mode = match flags.mode.or(file.mode) {
            Some(ModeArg::Ptt) => TalkMode::PushToTalk,
            Some(ModeArg::HandsFree) => TalkMode::HandsFree(vad),
            // --vad alone means hands-free
            None if flags.vad.is_some() => TalkMode::HandsFree(vad),
            None => default_mode,
        };
        let preset = self.preset.as_ref().map(|p| p.preset.vad.clone()).unwrap_or_default();
        Talking {
            mode,
            tuning: VadTuning {
                start_sensitivity: flags
                    .start_sensitivity
                    .or(file.start_sensitivity)
                    .or(preset.start_sensitivity),
                end_sensitivity: flags
                    .end_sensitivity
                    .or(file.end_sensitivity)
                    .or(preset.end_sensitivity),
                prefix_padding_ms: flags
                    .prefix_padding_ms
                    .or(file.prefix_padding_ms)
                    .or(preset.prefix_padding_ms),
                silence_ms: flags.silence_ms.or(file.silence_ms).or(preset.silence_ms),
            },
            ptt_key: ptt_key.map(str::to_string).or_else(|| self.file_ptt_key.clone()),
            transcript: flags.transcript.clone(),
        }
    }

    /// The setup for a voice session taking turns as `talking` says: the service's activity detection off
    /// for push-to-talk and local VAD, tuned for server VAD.
    pub fn voice_setup(&self, talking: &Talking) -> Setup {
        let mut setup = self.setup(talking.mode.manual_activity());
        // the server's VAD as events, for the screen: the embedded server sends them; the official SDK
        // allows explicitVadSignal on Vertex AI only, so it is not asked of the Gemini API
        if !talking.mode.manual_activity() && matches!(self.target, Target::Embedded) {
            setup.explicit_vad_signal = Some(true);
        }
        if !talking.mode.manual_activity() && talking.tuning != VadTuning::default() {
            let t = &talking.tuning;
            let level = |s: Option<SensitivityArg>, start: bool| {
                s.map(|s| {
                    let (kind, lvl) = match (start, s) {
                        (true, SensitivityArg::High) => ("START", "HIGH"),
                        (true, SensitivityArg::Low) => ("START", "LOW"),
                        (false, SensitivityArg::High) => ("END", "HIGH"),
                        (false, SensitivityArg::Low) => ("END", "LOW"),
                    };
                    format!("{kind}_SENSITIVITY_{lvl}")
                })
            };
            setup.realtime_input_config = Some(crate::protocol::RealtimeInputConfig {
                automatic_activity_detection: Some(crate::protocol::AutomaticActivityDetection {
                    disabled: None,
                    start_of_speech_sensitivity: level(t.start_sensitivity, true),
                    end_of_speech_sensitivity: level(t.end_sensitivity, false),
                    prefix_padding_ms: t.prefix_padding_ms,
                    silence_duration_ms: t.silence_ms,
                }),
                ..Default::default()
            });
        }
        setup
    }

    /// The setup message for this configuration. `manual_activity` turns off the server's voice activity
    /// detection so the client marks turns itself (push-to-talk, WAV files).
    pub fn setup(&self, manual_activity: bool) -> Setup {
        let speech_config = (self.voice.is_some() || self.language.is_some()).then(|| SpeechConfig {
            voice_config: self.voice.as_ref().map(|v| VoiceConfig {
                prebuilt_voice_config: Some(PrebuiltVoiceConfig {
                    voice_name: Some(v.clone()),
                }),
            }),
            language_code: self.language.clone(),
            multi_speaker_voice_config: None,
        });
        let audio = self.modality == Modality::Audio;
        let mut generation_config = GenerationConfig {
            response_modalities: vec![self.modality],
            temperature: self.temperature,
            speech_config: if audio { speech_config } else { None },
            ..GenerationConfig::default()
        };
        self.generation.apply(&mut generation_config);
        let transcribe = self
            .preset
            .as_ref()
            .map(|p| p.preset.transcription.clone())
            .unwrap_or_default();
        let mut setup = Setup {
            model: format!("models/{}", self.model),
            generation_config: Some(generation_config),
            safety_settings: self.safety.clone(),
            system_instruction: self.system.as_ref().map(|s| Content::text(Some("user"), s)),
            realtime_input_config: manual_activity.then(|| crate::protocol::RealtimeInputConfig {
                automatic_activity_detection: Some(crate::protocol::AutomaticActivityDetection {
                    disabled: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            input_audio_transcription: (transcribe.input != Some(false)).then_some(AudioTranscriptionConfig::default()),
            output_audio_transcription: (audio && transcribe.output != Some(false))
                .then_some(AudioTranscriptionConfig::default()),
            session_resumption: Some(SessionResumptionConfig {
                handle: None,
                transparent: self.transparent_resumption.then_some(true),
            }),
            ..Setup::default()
        };
        setup.tools = self.tools.setup_tools(self.function_default);
        setup
    }

    /// This session's tools; `asker`: whether a person can answer confirmation questions.
    pub fn toolbox(&self, asker: crate::tools::Asker) -> crate::tools::ToolBox {
        crate::tools::ToolBox {
            registry: self.tools.clone(),
            policy: crate::tools::ConfirmPolicy { asker, ..self.confirm },
        }
    }

    /// Session options for `endpoint` and `setup`, with this configuration's timeouts and limits.
    pub fn session_options(&self, endpoint: crate::session::Endpoint, setup: Setup) -> crate::session::SessionOptions {
        let mut o = crate::session::SessionOptions::new(endpoint, setup);
        o.connect_timeout = self.link.connect_timeout;
        o.setup_timeout = self.link.setup_timeout;
        o.idle_timeout = self.link.idle_timeout;
        o.max_message_size = self.link.max_message_size;
        o.reconnect = self.link.reconnect;
        o.metrics = Some(self.link.metrics.clone());
        o.resume = self.resume_from.clone();
        o.journal = self.journal.clone();
        o
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
