//! What the client's `realtimeInputConfig.automaticActivityDetection` asks of the server's VAD, turned
//! into frame counts for [`super::vad::SpeechDetector`]: how long speech must last before its start is
//! committed (`prefixPaddingMs`), how long silence must last before its end is (`silenceDurationMs`), and
//! how much evidence each needs (`startOfSpeechSensitivity`, `endOfSpeechSensitivity`).
//!
//! Google documents the sensitivities only as "more or less likely to detect", so the mapping is ours:
//! the durations are what HIGH waits, and LOW asks for twice as many frames in a row. HIGH is the Gemini
//! API's default (protocol.md, "Late-2026 semantics"), so a setup without these fields keeps the server's
//! long-standing 60 ms onset and 500 ms hangover; Vertex AI defaults to LOW, as the service does.
//! Doubling the run needed is the simplest "more evidence" a run-length smoother can take: a burst of
//! noise frames that would pass HIGH's run has to last twice as long to pass LOW's.
//!
//! Every number here is the client's and so hostile: negative or non-integer values never get this far
//! (the setup does not parse: 1007), and values above [`MAX_DURATION_MS`] are refused with 1007 and a
//! reason, like any other invalid setup field. What passes costs a counter, never memory.

use crate::protocol::Setup;

use super::vad::FRAME;

/// Milliseconds in one VAD frame (20 ms at 16 kHz).
const FRAME_MS: u32 = (FRAME as u32 * 1000) / crate::protocol::INPUT_RATE;
/// The onset at HIGH start sensitivity when `prefixPaddingMs` is absent (3 frames).
pub const DEFAULT_PREFIX_MS: u32 = 60;
/// The hangover at HIGH end sensitivity when `silenceDurationMs` is absent (25 frames).
pub const DEFAULT_SILENCE_MS: u32 = 500;
/// The longest prefix or silence a client may ask for: 10 s. Longer is not a turn-taking setting but a
/// mistake (or an attack on the turn buffer): a 60 s turn cap with a silence near it would drop the speech.
pub const MAX_DURATION_MS: u32 = 10_000;
/// How many times more frames LOW sensitivity needs than HIGH.
const LOW_FACTOR: u32 = 2;

/// How eager one side of the detector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Commits on the configured duration.
    High,
    /// Needs [`LOW_FACTOR`] times the configured duration.
    Low,
}

/// Frame counts for the smoother; only built through [`VadSettings::from_setup`] or [`Default`], so both
/// are at least 1 and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VadSettings {
    /// Voiced frames in a row that start speech.
    pub onset_frames: u32,
    /// Unvoiced frames in a row that end speech.
    pub hangover_frames: u32,
}

impl Default for VadSettings {
    /// The Gemini API's defaults: HIGH, 60 ms, 500 ms.
    fn default() -> Self {
        VadSettings {
            onset_frames: frames(DEFAULT_PREFIX_MS, Sensitivity::High),
            hangover_frames: frames(DEFAULT_SILENCE_MS, Sensitivity::High),
        }
    }
}

/// A setup field the server refuses (closed 1007 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VadSettingsError {
    #[error("realtimeInputConfig.automaticActivityDetection.{field} {value} is out of range (0 to {max} ms)")]
    OutOfRange { field: &'static str, value: u32, max: u32 },
}

impl VadSettingsError {
    /// The close code: invalid argument.
    pub fn code(&self) -> u16 {
        1007
    }
}

impl VadSettings {
    /// The settings `setup` asks for; `vertex` picks Vertex AI's default sensitivity (LOW) for an absent
    /// or UNSPECIFIED one. Unknown sensitivity names were already refused by `models::check_setup`; should
    /// one get here, it counts as the default. The ranges are checked even with detection disabled: an
    /// out-of-range field is invalid whatever else the setup says.
    pub fn from_setup(setup: &Setup, vertex: bool) -> Result<Self, VadSettingsError> {
        let aad = setup
            .realtime_input_config
            .as_ref()
            .and_then(|r| r.automatic_activity_detection.as_ref());
        let prefix = checked("prefixPaddingMs", aad.and_then(|a| a.prefix_padding_ms))?;
        let silence = checked("silenceDurationMs", aad.and_then(|a| a.silence_duration_ms))?;
        let default = if vertex { Sensitivity::Low } else { Sensitivity::High };
        let start = sensitivity(aad.and_then(|a| a.start_of_speech_sensitivity.as_deref()), default);
        let end = sensitivity(aad.and_then(|a| a.end_of_speech_sensitivity.as_deref()), default);
        let settings = VadSettings {
            onset_frames: frames(prefix.unwrap_or(DEFAULT_PREFIX_MS), start),
            hangover_frames: frames(silence.unwrap_or(DEFAULT_SILENCE_MS), end),
        };
        tracing::debug!(?settings, ?start, ?end, "server VAD settings");
        Ok(settings)
    }
}

fn checked(field: &'static str, value: Option<u32>) -> Result<Option<u32>, VadSettingsError> {
    match value {
        Some(v) if v > MAX_DURATION_MS => Err(VadSettingsError::OutOfRange {
            field,
            value: v,
            max: MAX_DURATION_MS,
        }),
        other => Ok(other),
    }
}

/// `START_SENSITIVITY_LOW` / `END_SENSITIVITY_LOW` are LOW, the `_HIGH` ones HIGH; absent or
/// `_UNSPECIFIED` is the endpoint's default.
fn sensitivity(value: Option<&str>, default: Sensitivity) -> Sensitivity {
    match value {
        Some(v) if v.ends_with("_SENSITIVITY_LOW") => Sensitivity::Low,
        Some(v) if v.ends_with("_SENSITIVITY_HIGH") => Sensitivity::High,
        _ => default,
    }
}

/// Whole frames covering `ms` (rounded up: "at least this long"), at least one (0 ms means the first
/// frame decides), times [`LOW_FACTOR`] for LOW. `ms` is at most [`MAX_DURATION_MS`], so no overflow.
fn frames(ms: u32, sensitivity: Sensitivity) -> u32 {
    let base = ms.div_ceil(FRAME_MS).max(1);
    match sensitivity {
        Sensitivity::High => base,
        Sensitivity::Low => base * LOW_FACTOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AutomaticActivityDetection, RealtimeInputConfig};

    fn setup(aad: AutomaticActivityDetection) -> Setup {
        Setup {
            realtime_input_config: Some(RealtimeInputConfig {
                automatic_activity_detection: Some(aad),
                ..RealtimeInputConfig::default()
            }),
            ..Setup::default()
        }
    }

    #[test]
    fn absent_fields_keep_the_old_60_ms_onset_and_500_ms_hangover() {
        let old = VadSettings {
            onset_frames: 3,
            hangover_frames: 25,
        };
        assert_eq!(VadSettings::default(), old);
        assert_eq!(VadSettings::from_setup(&Setup::default(), false), Ok(old));
        let unspecified = setup(AutomaticActivityDetection {
            start_of_speech_sensitivity: Some("START_SENSITIVITY_UNSPECIFIED".into()),
            end_of_speech_sensitivity: Some("END_SENSITIVITY_UNSPECIFIED".into()),
            ..Default::default()
        });
        assert_eq!(VadSettings::from_setup(&unspecified, false), Ok(old));
    }

    #[test]
    fn durations_round_up_to_whole_frames_and_low_doubles_them() {
        let s = setup(AutomaticActivityDetection {
            prefix_padding_ms: Some(30),
            silence_duration_ms: Some(1500),
            ..Default::default()
        });
        let got = VadSettings::from_setup(&s, false).unwrap();
        assert_eq!((got.onset_frames, got.hangover_frames), (2, 75));
        let zero = setup(AutomaticActivityDetection {
            prefix_padding_ms: Some(0),
            silence_duration_ms: Some(0),
            ..Default::default()
        });
        let got = VadSettings::from_setup(&zero, false).unwrap();
        assert_eq!(
            (got.onset_frames, got.hangover_frames),
            (1, 1),
            "the first frame decides"
        );
        let low = setup(AutomaticActivityDetection {
            start_of_speech_sensitivity: Some("START_SENSITIVITY_LOW".into()),
            end_of_speech_sensitivity: Some("END_SENSITIVITY_LOW".into()),
            prefix_padding_ms: Some(20),
            silence_duration_ms: Some(300),
            ..Default::default()
        });
        let got = VadSettings::from_setup(&low, false).unwrap();
        assert_eq!((got.onset_frames, got.hangover_frames), (2, 30));
    }

    #[test]
    fn vertex_defaults_to_low_and_high_overrides_it() {
        let got = VadSettings::from_setup(&Setup::default(), true).unwrap();
        assert_eq!((got.onset_frames, got.hangover_frames), (6, 50));
        let high = setup(AutomaticActivityDetection {
            start_of_speech_sensitivity: Some("START_SENSITIVITY_HIGH".into()),
            end_of_speech_sensitivity: Some("END_SENSITIVITY_HIGH".into()),
            ..Default::default()
        });
        assert_eq!(VadSettings::from_setup(&high, true), Ok(VadSettings::default()));
    }

    #[test]
    fn durations_over_ten_seconds_are_refused_with_the_field_named() {
        let at_max = setup(AutomaticActivityDetection {
            prefix_padding_ms: Some(MAX_DURATION_MS),
            silence_duration_ms: Some(MAX_DURATION_MS),
            end_of_speech_sensitivity: Some("END_SENSITIVITY_LOW".into()),
            ..Default::default()
        });
        let got = VadSettings::from_setup(&at_max, false).unwrap();
        assert_eq!((got.onset_frames, got.hangover_frames), (500, 1000));
        for (prefix, silence, field) in [
            (Some(MAX_DURATION_MS + 1), None, "prefixPaddingMs"),
            (None, Some(u32::MAX), "silenceDurationMs"),
        ] {
            let s = setup(AutomaticActivityDetection {
                disabled: Some(true),
                prefix_padding_ms: prefix,
                silence_duration_ms: silence,
                ..Default::default()
            });
            let err = VadSettings::from_setup(&s, false).unwrap_err();
            assert_eq!(err.code(), 1007);
            let text = err.to_string();
            assert!(text.contains(field) && text.contains("0 to 10000 ms"), "{text}");
            assert!(
                text.len() <= super::super::handler::MAX_CLOSE_REASON,
                "fits a close frame: {text}"
            );
        }
    }
}
