//! Cuts the 16 kHz mono uplink stream, arriving in device-sized pieces, into exact 20 ms LINEAR16 frames:
//! the unit the Live API, the VAD and the recorder all use. Holds at most one partial frame.

/// Uplink sample rate (Hz): what the Live API expects as `audio/pcm;rate=16000`.
pub const UPLINK_RATE: u32 = 16_000;
/// Samples in one 20 ms frame at 16 kHz.
pub const FRAME_SAMPLES: usize = 320;
/// One uplink frame: 20 ms of 16 kHz mono LINEAR16.
pub type Frame = [i16; FRAME_SAMPLES];

/// f32 in [-1, 1] to i16, clamped (resampling can overshoot full scale slightly).
pub fn to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// i16 to f32 in [-1, 1).
pub fn to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// Accumulates samples into 20 ms frames.
pub struct Framer {
    frame: Frame,
    fill: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    pub fn new() -> Self {
        Framer {
            frame: [0; FRAME_SAMPLES],
            fill: 0,
        }
    }

    /// Adds 16 kHz samples; calls `emit` with every frame completed.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(&Frame)) {
        for &s in samples {
            self.frame[self.fill] = to_i16(s);
            self.fill += 1;
            if self.fill == FRAME_SAMPLES {
                emit(&self.frame);
                self.fill = 0;
            }
        }
    }

    /// Samples waiting for the next frame.
    pub fn pending(&self) -> usize {
        self.fill
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_chunks_become_exact_frames_in_order() {
        let mut f = Framer::new();
        let input: Vec<f32> = (0..1000).map(|i| to_f32(i as i16)).collect();
        let mut frames = Vec::new();
        for chunk in input.chunks(171) {
            f.push(chunk, |fr| frames.push(*fr));
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(f.pending(), 1000 - 960);
        let flat: Vec<i16> = frames.iter().flatten().copied().collect();
        assert_eq!(flat, (0..960).map(|i| i as i16).collect::<Vec<_>>());
    }

    #[test]
    fn conversion_clamps_overshoot() {
        assert_eq!(to_i16(1.2), i16::MAX);
        assert_eq!(to_i16(-1.5), i16::MIN);
        assert_eq!(to_i16(0.5), 16384);
        assert_eq!(to_i16(to_f32(-1234)), -1234);
    }
}
