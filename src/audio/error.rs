//! The one error type of the audio core. Variant docs say whether trying again can help.

/// Why the audio core could not start or had to stop.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AudioError {
    /// No audio host could be opened (no ALSA/PulseAudio/CoreAudio/WASAPI). Retrying will not help until
    /// an audio system runs (on a headless machine: `virtual-devices.sh start`).
    #[error("no audio system available: {0}")]
    NoAudioSystem(String),
    /// The host reports no default device of that direction. Pick one by name or index (`voxlive devices`).
    #[error("no default {direction} device; available {direction} devices: {available}")]
    NoDefaultDevice { direction: Direction, available: String },
    /// No device matched the requested name or index. Retrying will not help; choose from `available`.
    #[error("{direction} device {wanted:?} not found; available {direction} devices: {available}")]
    DeviceNotFound {
        direction: Direction,
        wanted: String,
        available: String,
    },
    /// The device refuses the configuration (format, rate, channels). Another device or its default may work.
    #[error("{direction} device {device:?} does not support the configuration: {reason}")]
    UnsupportedConfig {
        direction: Direction,
        device: String,
        reason: String,
    },
    /// Building or starting a stream failed (device busy, permission ...). Retrying later can help.
    #[error("could not open {direction} stream on {device:?}: {reason}")]
    Stream {
        direction: Direction,
        device: String,
        reason: String,
    },
    /// The device disappeared or failed while running. The engine has stopped; start a new one.
    #[error("{direction} device failed while running: {reason}")]
    DeviceLost { direction: Direction, reason: String },
    /// A source or sink file could not be read or written (WAV source, `--record`).
    #[error("audio file {path}: {reason}")]
    File { path: String, reason: String },
    /// A WAV source could not be read (missing, malformed, unsupported, truncated): the text names the file
    /// and the problem. Retrying will not help.
    #[error(transparent)]
    Wav(#[from] crate::wav::WavError),
    /// Building a resampler or another DSP stage failed: a configuration bug, retrying will not help.
    #[error("audio pipeline setup: {0}")]
    Setup(String),
    /// The engine has stopped (its DSP thread ended); nothing more can be played or captured.
    #[error("the audio engine has stopped")]
    Stopped,
    /// The downlink queue is full: the chunk was dropped (counted in stats). The engine is still running.
    #[error("downlink queue full, chunk dropped")]
    QueueFull,
}

/// Capture or playback: said in every device error so the reader knows which side failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

impl AudioError {
    /// Classifies a cpal error from opening or configuring a device.
    pub(crate) fn from_cpal(direction: Direction, device: &str, e: cpal::Error) -> AudioError {
        match e.kind() {
            cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::InvalidInput => AudioError::UnsupportedConfig {
                direction,
                device: device.to_string(),
                reason: e.to_string(),
            },
            cpal::ErrorKind::HostUnavailable => AudioError::NoAudioSystem(e.to_string()),
            _ => AudioError::Stream {
                direction,
                device: device.to_string(),
                reason: e.to_string(),
            },
        }
    }
}
