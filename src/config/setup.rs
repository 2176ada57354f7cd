//! What a resolved configuration builds: the turn taking of a session, its setup message, its tools and
//! its session options. Apart from the resolution so the wire-facing side reads on its own.

use crate::cli::{ModeArg, SensitivityArg, TalkingArgs, VadArg};
use crate::conversation::{TalkMode, VadSource};
use crate::protocol::{
    AudioTranscriptionConfig, Content, GenerationConfig, Modality, PrebuiltVoiceConfig, SessionResumptionConfig, Setup,
    SpeechConfig, VoiceConfig,
};

use super::{Config, Talking, Target, VadTuning};

impl Config {
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
