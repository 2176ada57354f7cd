//! Peak levels of what the microphone sent and what the speaker is playing, for a level meter in a UI.
//! The DSP thread stores them in atomics (f32 bits) once per uplink frame and once per 10 ms downlink step;
//! any thread reads them without a lock, as often as it likes.

use std::sync::atomic::{AtomicU32, Ordering};

/// The level reported for digital silence (and before anything was measured): a floor instead of
/// `-inf`, so a meter can do arithmetic with it.
pub const SILENCE_DBFS: f32 = -120.0;

/// Peak levels in dBFS (0 = full scale), each at least [`SILENCE_DBFS`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// The latest 20 ms uplink frame, after echo cancellation (what the session sends).
    pub mic_dbfs: f32,
    /// The latest ~10 ms of reply audio (or silence) handed to the sink.
    pub speaker_dbfs: f32,
}

/// Peak of f32 samples in [-1, 1] as dBFS, floored at [`SILENCE_DBFS`].
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    dbfs(peak)
}

/// Peak of LINEAR16 samples as dBFS, floored at [`SILENCE_DBFS`].
pub fn peak_dbfs_i16(samples: &[i16]) -> f32 {
    let peak = samples.iter().fold(0u16, |m, s| m.max(s.unsigned_abs()));
    dbfs(f32::from(peak) / 32768.0)
}

fn dbfs(peak: f32) -> f32 {
    if peak > 0.0 {
        (20.0 * peak.log10()).max(SILENCE_DBFS)
    } else {
        SILENCE_DBFS
    }
}

/// The two levels as f32 bits in atomics (written by the DSP thread only).
pub(crate) struct LevelMeter {
    mic: AtomicU32,
    speaker: AtomicU32,
}

impl Default for LevelMeter {
    fn default() -> Self {
        LevelMeter {
            mic: AtomicU32::new(SILENCE_DBFS.to_bits()),
            speaker: AtomicU32::new(SILENCE_DBFS.to_bits()),
        }
    }
}

impl LevelMeter {
    pub fn set_mic(&self, dbfs: f32) {
        self.mic.store(dbfs.to_bits(), Ordering::Relaxed);
    }

    pub fn set_speaker(&self, dbfs: f32) {
        self.speaker.store(dbfs.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> Levels {
        Levels {
            mic_dbfs: f32::from_bits(self.mic.load(Ordering::Relaxed)),
            speaker_dbfs: f32::from_bits(self.speaker.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_is_zero_db_and_silence_is_the_floor() {
        assert!(peak_dbfs(&[0.0, -1.0, 0.5]).abs() < 1e-4);
        assert!((peak_dbfs(&[0.1]) + 20.0).abs() < 1e-3);
        assert_eq!(peak_dbfs(&[0.0; 8]), SILENCE_DBFS);
        assert_eq!(peak_dbfs(&[]), SILENCE_DBFS);
        assert!((peak_dbfs_i16(&[i16::MIN, 3]) - 0.0).abs() < 1e-4);
        assert_eq!(peak_dbfs_i16(&[0; 4]), SILENCE_DBFS);
        let m = LevelMeter::default();
        assert_eq!(m.get().mic_dbfs, SILENCE_DBFS);
        m.set_speaker(-6.0);
        assert_eq!(m.get().speaker_dbfs, -6.0);
    }
}
