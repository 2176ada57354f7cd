//! Where the DSP thread gets audio from and sends it to. cpal devices (capture.rs, playback.rs), WAV files
//! and generators implement the same two traits, so the whole pipeline runs unchanged in tests, in the
//! latency benchmark and on a headless machine.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ring::StreamCounters;
use super::AudioError;

/// Rate and channel count of interleaved f32 audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

/// Result of one [`AudioSource::read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRead {
    /// This many interleaved samples were written (a multiple of the channel count).
    Data(usize),
    /// Nothing available yet: the DSP thread waits a tick.
    Pending,
    /// The source is finished (end of file).
    Ended,
}

/// A producer of interleaved f32 audio, read by the DSP thread.
pub trait AudioSource: Send {
    fn format(&self) -> StreamFormat;
    /// Called once on the DSP thread right before the first read: drop what piled up before (the start-up burst).
    fn start(&mut self) {}
    fn read(&mut self, out: &mut [f32]) -> Result<SourceRead, AudioError>;
    /// When the newest samples returned by `read` were captured.
    fn captured_at(&self) -> Instant;
    /// The device stream's counters (callbacks, overruns), for [`super::AudioEngine::stats`].
    fn counters(&self) -> Option<Arc<StreamCounters>> {
        None
    }
}

/// A consumer of interleaved f32 audio at the device rate, fed by the DSP thread.
pub trait AudioSink: Send {
    fn format(&self) -> StreamFormat;
    /// Called once on the DSP thread before the first write.
    fn start(&mut self) {}
    /// Interleaved samples to write now to keep the sink at its target fill.
    fn wanted(&self) -> usize;
    /// Writes samples; returns how many were taken.
    fn write(&mut self, samples: &[f32]) -> usize;
    /// Drops what is queued and not yet played (barge-in), after ramping the first
    /// [`super::ring::FLUSH_FADE`] of it down to silence so the cut does not click.
    fn flush(&mut self);
    /// True while a requested flush has not yet reached the device (a device sink applies it in its next
    /// output callback); a sink that flushes at once never is.
    fn flush_pending(&self) -> bool {
        false
    }
    /// Samples written and not yet handed to the device.
    fn queued(&self) -> u64;
    /// When the device last took samples (the output callback's latest run).
    fn last_played(&self) -> Option<Instant>;
    /// Err once the device has failed (checked every tick by the DSP thread).
    fn check(&self) -> Result<(), AudioError> {
        Ok(())
    }
    /// The device stream's counters (callbacks, underruns), for [`super::AudioEngine::stats`].
    fn counters(&self) -> Option<Arc<StreamCounters>> {
        None
    }
}

/// How a file or generator source delivers: at the wall-clock rate (like a microphone) or as fast as the
/// pipeline runs (throughput benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    RealTime,
    AsFastAsPossible,
}

/// Samples of `format` due `elapsed` after the start, in whole frames.
fn due(format: StreamFormat, elapsed: Duration) -> u64 {
    (elapsed.as_secs_f64() * f64::from(format.sample_rate)) as u64 * u64::from(format.channels)
}

/// Interleaved audio held in memory, played out as a source (WAV files load into it).
pub struct BufferSource {
    format: StreamFormat,
    samples: Vec<f32>,
    pos: usize,
    pacing: Pacing,
    started: Instant,
    captured: Instant,
}

impl BufferSource {
    pub fn new(format: StreamFormat, samples: Vec<f32>, pacing: Pacing) -> Self {
        let now = Instant::now();
        BufferSource {
            format,
            samples,
            pos: 0,
            pacing,
            started: now,
            captured: now,
        }
    }

    /// A sine generator: `secs` of `freq` Hz at `amplitude` on every channel.
    pub fn sine(format: StreamFormat, freq: f32, amplitude: f32, secs: f32, pacing: Pacing) -> Self {
        let frames = (format.sample_rate as f32 * secs) as usize;
        let ch = usize::from(format.channels.max(1));
        let w = 2.0 * std::f32::consts::PI * freq / format.sample_rate as f32;
        let samples = (0..frames * ch)
            .map(|i| amplitude * (w * (i / ch) as f32).sin())
            .collect();
        Self::new(format, samples, pacing)
    }

    /// Loads a WAV file as a source through [`crate::wav::read_interleaved`] (the crate's one WAV reader:
    /// 8/16/24/32-bit integer PCM or 32-bit float; truncated files and hostile headers are errors).
    pub fn wav(path: &Path, pacing: Pacing) -> Result<Self, AudioError> {
        let audio = crate::wav::read_interleaved(path)?;
        let format = StreamFormat {
            sample_rate: audio.rate,
            channels: audio.channels,
        };
        Ok(Self::new(format, audio.samples, pacing))
    }
}

impl AudioSource for BufferSource {
    fn format(&self) -> StreamFormat {
        self.format
    }

    fn start(&mut self) {
        self.started = Instant::now();
    }

    fn read(&mut self, out: &mut [f32]) -> Result<SourceRead, AudioError> {
        if self.pos >= self.samples.len() {
            return Ok(SourceRead::Ended);
        }
        let ch = usize::from(self.format.channels.max(1));
        let mut n = (out.len() / ch * ch).min(self.samples.len() - self.pos);
        if self.pacing == Pacing::RealTime {
            let now = Instant::now();
            let due = due(self.format, now.saturating_duration_since(self.started)) as usize;
            n = n.min(due.saturating_sub(self.pos) / ch * ch);
            if n == 0 {
                return Ok(SourceRead::Pending);
            }
            self.captured = now;
        } else {
            self.captured = Instant::now();
        }
        out[..n].copy_from_slice(&self.samples[self.pos..self.pos + n]);
        self.pos += n;
        Ok(SourceRead::Data(n))
    }

    fn captured_at(&self) -> Instant {
        self.captured
    }
}

/// A sink standing in for a speaker: it "plays" at the wall-clock rate (or instantly) and can keep what it
/// played for inspection (tests, benchmarks, `--record`-like checks without a device).
pub struct ClockSink {
    format: StreamFormat,
    pacing: Pacing,
    target: usize,
    started: Option<Instant>,
    written: u64,
    /// Interleaved samples a flush keeps, ramped down ([`super::ring::FLUSH_FADE`]).
    fade: usize,
    kept: Option<Arc<Mutex<Vec<f32>>>>,
}

impl ClockSink {
    /// `target` = how far ahead of the clock the DSP thread may write, like a device ring's fill level.
    pub fn new(format: StreamFormat, pacing: Pacing, target: Duration) -> Self {
        let target = due(format, target) as usize;
        ClockSink {
            format,
            pacing,
            target,
            started: None,
            written: 0,
            fade: due(format, super::ring::FLUSH_FADE) as usize,
            kept: None,
        }
    }

    /// Keeps everything played (written, minus what a flush dropped); the returned handle reads it.
    pub fn keep(mut self) -> (Self, Arc<Mutex<Vec<f32>>>) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        self.kept = Some(kept.clone());
        (self, kept)
    }

    fn consumed(&self) -> u64 {
        match (self.pacing, self.started) {
            (Pacing::AsFastAsPossible, _) => self.written,
            (Pacing::RealTime, Some(t)) => due(self.format, t.elapsed()).min(self.written),
            (Pacing::RealTime, None) => 0,
        }
    }
}

impl AudioSink for ClockSink {
    fn format(&self) -> StreamFormat {
        self.format
    }

    fn wanted(&self) -> usize {
        let queued = (self.written - self.consumed()) as usize;
        let ch = usize::from(self.format.channels.max(1));
        self.target.saturating_sub(queued) / ch * ch
    }

    fn write(&mut self, samples: &[f32]) -> usize {
        self.started.get_or_insert_with(Instant::now);
        if let Some(kept) = &self.kept {
            if let Ok(mut k) = kept.lock() {
                k.extend_from_slice(samples);
            }
        }
        self.written += samples.len() as u64;
        samples.len()
    }

    /// Keeps the first [`super::ring::FLUSH_FADE`] of the queue, ramped down to silence, and drops the
    /// rest (also from what it keeps: the kept audio is what a listener would have heard).
    fn flush(&mut self) {
        let consumed = self.consumed();
        let queued = self.written - consumed;
        let keep = queued.min(self.fade as u64);
        if let Some(kept) = &self.kept {
            if let Ok(mut k) = kept.lock() {
                let ch = usize::from(self.format.channels.max(1));
                let start = k.len().saturating_sub(queued as usize);
                let end = (start + keep as usize).min(k.len());
                let frames = ((end - start) / ch).max(1) as f32;
                for (i, s) in k[start..end].iter_mut().enumerate() {
                    *s *= 1.0 - (i / ch + 1) as f32 / frames;
                }
                k.truncate(end);
            }
        }
        self.written = consumed + keep;
    }

    fn queued(&self) -> u64 {
        self.written - self.consumed()
    }

    fn last_played(&self) -> Option<Instant> {
        Some(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_buffer_source_delivers_whole_frames_then_ends() {
        let fmt = StreamFormat {
            sample_rate: 48_000,
            channels: 2,
        };
        let mut s = BufferSource::sine(fmt, 440.0, 0.5, 0.01, Pacing::AsFastAsPossible);
        let mut buf = [0.0f32; 301];
        assert_eq!(s.read(&mut buf).ok(), Some(SourceRead::Data(300)));
        let mut total = 300;
        while let Ok(SourceRead::Data(n)) = s.read(&mut buf) {
            total += n;
        }
        assert_eq!(total, 960);
    }

    #[test]
    fn wav_round_trip_keeps_samples() {
        let dir = std::env::temp_dir().join(format!("voxlive-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for v in [0i16, 16384, -16384, 32767] {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let mut s = BufferSource::wav(&path, Pacing::AsFastAsPossible).unwrap();
        assert_eq!(
            s.format(),
            StreamFormat {
                sample_rate: 16_000,
                channels: 1
            }
        );
        let mut buf = [0.0f32; 8];
        assert_eq!(s.read(&mut buf).ok(), Some(SourceRead::Data(4)));
        assert_eq!(&buf[..3], &[0.0, 0.5, -0.5]);
        // the same checked reader as `crate::wav`: a cut data chunk is an error, not a short source
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
        let err = BufferSource::wav(&cut, Pacing::AsFastAsPossible).err();
        assert!(
            matches!(err, Some(AudioError::Wav(crate::wav::WavError::Truncated { .. }))),
            "{err:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
