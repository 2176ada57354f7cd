//! Where reply audio goes: the audio engine's [`Player`] (speaker or clock sink) or a plain collector (a WAV
//! answer). Both take chunks at whatever rate the server declared, checked and converted to the 24 kHz the
//! downlink runs at, so a server that speaks 16 or 48 kHz is heard at the right pitch, and an absurd rate is
//! refused with a warning instead of sizing anything.

use std::time::Instant;

use crate::audio::{AudioError, Player, StreamResampler, DOWNLINK_RATE};

/// Rates a reply chunk may declare; anything else is dropped (counted) with a warning.
pub const REPLY_RATES: std::ops::RangeInclusive<u32> = 8_000..=96_000;

/// A sink for reply audio.
pub trait Playback: Send {
    /// Queues a chunk of mono 16-bit samples at `rate`. Never blocks; a full queue drops (counted).
    fn play(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant);
    /// The reply queued so far is complete (the next chunk starts a new one).
    fn end_of_reply(&mut self) {}
    /// Stops now and drops what is queued: `onset` of a local barge-in (fade, measured), `None` for the
    /// server's `interrupted`.
    fn stop(&mut self, onset: Option<Instant>);
    /// Reply audio is still to be heard.
    fn is_playing(&self) -> bool;
    /// Chunks dropped so far (bad rate, full queue).
    fn dropped(&self) -> u64;
}

/// Converts reply chunks to [`DOWNLINK_RATE`]; keeps one resampler per declared rate change.
#[derive(Default)]
struct ToDownlinkRate {
    resampler: Option<StreamResampler>,
    warned_rate: Option<u32>,
    dropped: u64,
}

impl ToDownlinkRate {
    /// The chunk at 24 kHz, or `None` when its rate is refused.
    fn convert(&mut self, samples: Vec<i16>, rate: u32) -> Option<Vec<i16>> {
        if rate == DOWNLINK_RATE {
            return Some(samples);
        }
        if !REPLY_RATES.contains(&rate) {
            self.dropped += 1;
            if self.warned_rate != Some(rate) {
                self.warned_rate = Some(rate);
                tracing::warn!(rate, "the server sent reply audio at an unusable sample rate: dropped");
            }
            return None;
        }
        if self.resampler.as_ref().is_none_or(|r| r.in_rate() != rate) {
            self.resampler = StreamResampler::new(rate, DOWNLINK_RATE).ok();
        }
        let r = self.resampler.as_mut()?;
        let input: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let mut out = Vec::with_capacity(samples.len() * DOWNLINK_RATE as usize / rate as usize + 64);
        r.process(&input, |o| {
            out.extend(o.iter().map(|&v| (v * 32767.0).clamp(-32768.0, 32767.0) as i16))
        })
        .ok()?;
        Some(out)
    }
}

/// Reply audio to the audio engine.
pub struct EnginePlayback {
    player: Player,
    rate: ToDownlinkRate,
    stopped_warned: bool,
}

impl EnginePlayback {
    pub fn new(player: Player) -> Self {
        EnginePlayback {
            player,
            rate: ToDownlinkRate::default(),
            stopped_warned: false,
        }
    }
}

impl Playback for EnginePlayback {
    fn play(&mut self, samples: Vec<i16>, rate: u32, received_at: Instant) {
        let Some(samples) = self.rate.convert(samples, rate) else {
            return;
        };
        match self.player.play(samples, received_at) {
            // a full downlink queue drops this chunk (the engine counts it); the conversation goes on
            Ok(()) | Err(AudioError::QueueFull) => {}
            Err(e) => {
                if !std::mem::replace(&mut self.stopped_warned, true) {
                    tracing::warn!("reply audio not played: {e}");
                }
            }
        }
    }

    fn end_of_reply(&mut self) {
        self.player.end_of_reply();
    }

    fn stop(&mut self, onset: Option<Instant>) {
        match onset {
            Some(at) => self.player.barge_in(at),
            None => self.player.flush(),
        }
        self.rate.resampler = None;
    }

    fn is_playing(&self) -> bool {
        self.player.is_playing()
    }

    fn dropped(&self) -> u64 {
        self.rate.dropped
    }
}

/// Reply audio into memory at 24 kHz (a WAV answer); `stop` keeps what was already received.
#[derive(Default)]
pub struct Collector {
    pub samples: Vec<i16>,
    rate: ToDownlinkRate,
}

impl Playback for Collector {
    fn play(&mut self, samples: Vec<i16>, rate: u32, _received_at: Instant) {
        if let Some(s) = self.rate.convert(samples, rate) {
            self.samples.extend_from_slice(&s);
        }
    }

    fn stop(&mut self, _onset: Option<Instant>) {}

    fn is_playing(&self) -> bool {
        false
    }

    fn dropped(&self) -> u64 {
        self.rate.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_rates_are_checked_and_converted() {
        let mut c = Collector::default();
        let now = Instant::now();
        c.play(vec![100; 480], 24_000, now);
        assert_eq!(c.samples.len(), 480, "24 kHz passes untouched");
        c.play(vec![100; 480], 0, now);
        c.play(vec![100; 480], u32::MAX, now);
        assert_eq!(c.dropped(), 2, "rate 0 and an absurd rate are refused");
        assert_eq!(c.samples.len(), 480);
        // 16 kHz: 1.5x the samples once the resampler's chunk is full
        for _ in 0..10 {
            c.play(vec![1000; 160], 16_000, now);
        }
        let added = c.samples.len() - 480;
        assert!((2000..=2400).contains(&added), "{added} samples from 1600 at 16 kHz");
    }
}
