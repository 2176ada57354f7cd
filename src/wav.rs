//! WAV files in and out: any rate, channel count and sample format hound reads (8/16/24/32-bit integer,
//! 32-bit float) become mono f32 at the rate asked for; replies are written as mono 16-bit PCM. Every way a
//! file can be wrong is a [`WavError`] whose text names the file and the problem.

use std::path::{Path, PathBuf};

/// The highest sample rate accepted: far above any real recording, low enough that a resampler sized
/// from it stays small. A hostile header naming 4 GHz is rejected before anything is allocated.
pub const MAX_RATE: u32 = 768_000;
/// The lowest sample rate accepted: under telephone speech (8 kHz) no recording of a voice is usable, and a
/// header claiming 1 Hz would make a few kilobytes last hours when replayed in real time.
pub const MIN_RATE: u32 = 4_000;
/// The most channels accepted (every consumer sizes per-channel buffers).
pub const MAX_CHANNELS: u16 = 32;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WavError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("{path}: not a WAV file ({detail})")]
    NotWav { path: PathBuf, detail: String },
    #[error("{path}: unsupported WAV format: {detail} (voxlive reads 8/16/24/32-bit integer PCM and 32-bit float)")]
    Unsupported { path: PathBuf, detail: String },
    #[error("{path}: truncated WAV: the header promises {promised} samples but only {found} are there")]
    Truncated { path: PathBuf, promised: u64, found: u64 },
    #[error("{path}: the WAV holds no audio")]
    Empty { path: PathBuf },
    #[error("{path}: cannot write: {detail}")]
    Write { path: PathBuf, detail: String },
    #[error("resampling {from} Hz -> {to} Hz failed: {detail}")]
    Resample { from: u32, to: u32, detail: String },
}

/// Decoded audio as the file holds it: interleaved samples in [-1, 1], its rate and channel count.
#[derive(Debug, Clone)]
pub struct WavAudio {
    pub samples: Vec<f32>,
    pub rate: u32,
    pub channels: u16,
    /// e.g. "44100 Hz, 2 ch, 16-bit int", for messages.
    pub source_format: String,
}

/// Decoded audio: mono samples in [-1, 1] and their rate, plus what the file was.
#[derive(Debug, Clone)]
pub struct MonoAudio {
    pub samples: Vec<f32>,
    pub rate: u32,
    pub source_channels: u16,
    pub source_format: String,
}

impl MonoAudio {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / self.rate.max(1) as f64
    }
}

impl WavAudio {
    /// Downmixed to mono (the average of its channels).
    pub fn mono(&self) -> MonoAudio {
        let channels = usize::from(self.channels);
        let mut samples = vec![0.0; self.samples.len() / channels];
        crate::audio::downmix(&self.samples, channels, &mut samples);
        MonoAudio {
            samples,
            rate: self.rate,
            source_channels: self.channels,
            source_format: self.source_format.clone(),
        }
    }
}

impl MonoAudio {
    /// As 16-bit samples at `rate` (16 kHz for the uplink).
    pub fn pcm16(&self, rate: u32) -> Result<Vec<i16>, WavError> {
        Ok(to_i16(&resample(&self.samples, self.rate, rate)?))
    }
}

/// Reads a WAV file and downmixes it to mono (the average of its channels).
pub fn read_mono(path: &Path) -> Result<MonoAudio, WavError> {
    Ok(read_interleaved(path)?.mono())
}

/// Reads a WAV file as interleaved f32 (8/16/24/32-bit integer PCM or 32-bit float). Never panics on a
/// hostile header: a rate under [`MIN_RATE`] or above [`MAX_RATE`], 0 or more than [`MAX_CHANNELS`] channels, or a data
/// size the file cannot hold are errors found before any buffer is sized from them.
pub fn read_interleaved(path: &Path) -> Result<WavAudio, WavError> {
    let reader = hound::WavReader::open(path).map_err(|e| classify(path, e))?;
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    decode(path, reader, file_len)
}

/// [`read_interleaved`] on bytes in memory (fuzzing, property tests); errors name `<memory>`.
pub fn read_interleaved_bytes(bytes: &[u8]) -> Result<WavAudio, WavError> {
    let path = Path::new("<memory>");
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| classify(path, e))?;
    decode(path, reader, bytes.len() as u64)
}

fn decode<R: std::io::Read>(path: &Path, reader: hound::WavReader<R>, file_len: u64) -> Result<WavAudio, WavError> {
    let p = || path.to_path_buf();
    let spec = reader.spec();
    let format = format!(
        "{} Hz, {} ch, {}-bit {}",
        spec.sample_rate,
        spec.channels,
        spec.bits_per_sample,
        match spec.sample_format {
            hound::SampleFormat::Int => "int",
            hound::SampleFormat::Float => "float",
        }
    );
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(WavError::Unsupported {
            path: p(),
            detail: format!("{format}: sample rate outside {MIN_RATE}..={MAX_RATE} Hz"),
        });
    }
    if spec.channels == 0 || spec.channels > MAX_CHANNELS {
        return Err(WavError::Unsupported {
            path: p(),
            detail: format!("{format}: channel count outside 1..={MAX_CHANNELS}"),
        });
    }
    let promised = u64::from(reader.len());
    // what the file can hold at most: the buffer is sized from this, not from the header's claim alone
    let capacity = promised.min(file_len / u64::from(spec.bits_per_sample.div_ceil(8).max(1)));
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => collect(path, reader.into_samples::<f32>(), promised, capacity, |s| s)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            collect(path, reader.into_samples::<i32>(), promised, capacity, |s| {
                s as f32 * scale
            })?
        }
        _ => {
            return Err(WavError::Unsupported {
                path: p(),
                detail: format,
            })
        }
    };
    if samples.len() < usize::from(spec.channels) {
        return Err(WavError::Empty { path: p() });
    }
    Ok(WavAudio {
        samples,
        rate: spec.sample_rate,
        channels: spec.channels,
        source_format: format,
    })
}

fn collect<S, R: std::io::Read>(
    path: &Path,
    samples: hound::WavIntoSamples<R, S>,
    promised: u64,
    capacity: u64,
    convert: impl Fn(S) -> f32,
) -> Result<Vec<f32>, WavError>
where
    S: hound::Sample,
{
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    for s in samples {
        match s {
            Ok(v) => out.push(convert(v)),
            // hound reports a short read as UnexpectedEof or as "Failed to read enough bytes" (kind Other).
            Err(hound::Error::IoError(e)) if e.kind() != std::io::ErrorKind::PermissionDenied => {
                return Err(WavError::Truncated {
                    path: path.to_path_buf(),
                    promised,
                    found: out.len() as u64,
                })
            }
            Err(e) => return Err(classify(path, e)),
        }
    }
    Ok(out)
}

fn classify(path: &Path, e: hound::Error) -> WavError {
    use std::io::ErrorKind;
    let p = path.to_path_buf();
    match e {
        hound::Error::IoError(io) if io.kind() == ErrorKind::NotFound => WavError::NotFound { path: p },
        hound::Error::IoError(io) if matches!(io.kind(), ErrorKind::PermissionDenied | ErrorKind::IsADirectory) => {
            WavError::Io {
                path: p,
                detail: io.to_string(),
            }
        }
        // Any other read failure while opening (hound says "Failed to read enough bytes") is a cut header.
        hound::Error::IoError(_) => WavError::NotWav {
            path: p,
            detail: "the file ends inside the WAV header".into(),
        },
        // A well-formed header with a sample layout hound cannot decode (e.g. 64-bit float).
        hound::Error::FormatError(detail) if detail.contains("bits per sample") => WavError::Unsupported {
            path: p,
            detail: detail.to_string(),
        },
        hound::Error::FormatError(detail) => WavError::NotWav {
            path: p,
            detail: detail.to_string(),
        },
        hound::Error::Unsupported => WavError::Unsupported {
            path: p,
            detail: "a compressed encoding such as mu-law or A-law".into(),
        },
        other => WavError::Unsupported {
            path: p,
            detail: other.to_string(),
        },
    }
}

/// Resamples mono audio with the audio core's resampler ([`crate::audio::resample_all`]: the same
/// rubato FFT resampler the DSP thread streams through); output length is `len * to / from`, delay removed.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, WavError> {
    crate::audio::resample_all(samples, from, to).map_err(|e| WavError::Resample {
        from,
        to,
        detail: e.to_string(),
    })
}

/// Converts [-1, 1] floats to 16-bit samples, clamping.
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect()
}

/// Reads any WAV as mono 16-bit samples at `rate` (16 kHz for the uplink).
pub fn read_pcm16(path: &Path, rate: u32) -> Result<(Vec<i16>, MonoAudio), WavError> {
    let audio = read_mono(path)?;
    Ok((audio.pcm16(rate)?, audio))
}

/// Writes mono 16-bit PCM to a temporary name beside `path`, then renames it: a crash or Ctrl-C mid-write
/// never leaves a truncated file under the real name (nor clobbers an older one).
pub fn write_pcm16(path: &Path, rate: u32, samples: &[i16]) -> Result<(), WavError> {
    let werr = |e: hound::Error| WavError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    write_pcm16_to(&part, rate, samples).map_err(werr)?;
    std::fs::rename(&part, path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        WavError::Write {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    })
}

fn write_pcm16_to(path: &Path, rate: u32, samples: &[i16]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, secs: f32, amp: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn resample_keeps_length_frequency_and_level() {
        let input = sine(48_000, 440.0, 1.0, 0.5);
        let out = resample(&input, 48_000, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
        let expected = sine(16_000, 440.0, 1.0, 0.5);
        // Same phase (delay removed): compare the middle sample by sample.
        let err: f32 = out[1000..15000]
            .iter()
            .zip(&expected[1000..15000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "max error {err}");
        assert!((rms(&out[1000..15000]) - rms(&expected[1000..15000])).abs() < 0.005);
    }

    #[test]
    fn reads_stereo_float_and_writes_pcm16() {
        let dir = std::env::temp_dir().join(format!("voxlive-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for s in sine(44_100, 300.0, 0.5, 0.25) {
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let (pcm, info) = read_pcm16(&path, 16_000).unwrap();
        assert_eq!(info.source_channels, 2);
        assert_eq!(pcm.len(), 8_000);
        let out = dir.join("o.wav");
        write_pcm16(&out, 24_000, &pcm).unwrap();
        let back = read_mono(&out).unwrap();
        assert_eq!(back.rate, 24_000);
        assert_eq!(back.samples.len(), 8_000);
    }

    /// A canonical 44-byte PCM header claiming `data_len` bytes, followed by `body` bytes of zeros.
    fn hostile(name: &str, rate: u32, channels: u16, data_len: u32, body: usize) -> PathBuf {
        let bits = 16u16;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        let align = u32::from(channels) * u32::from(bits / 8);
        b.extend_from_slice(&rate.wrapping_mul(align).to_le_bytes());
        b.extend_from_slice(&(align as u16).to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data_len.to_le_bytes());
        b.resize(b.len() + body, 0);
        let path = std::env::temp_dir().join(format!("voxlive-hostile-{}-{name}.wav", std::process::id()));
        std::fs::write(&path, b).unwrap();
        path
    }

    #[test]
    fn hostile_headers_are_errors_not_panics_or_huge_buffers() {
        let cases = [
            ("rate0", 0, 1, 64, 64),
            // 32 000 samples at 1 Hz: almost nine hours of "audio" in 64 KB
            ("rate1", 1, 1, 64_000, 64_000),
            ("rate-huge", 2_000_000_000, 1, 64, 64),
            ("ch0", 16_000, 0, 64, 64),
            ("ch-many", 16_000, 1000, 2000, 2000),
            // claims 4 GB of audio in an 8-byte body: truncated, and no 4 GB buffer is reserved first
            ("size-huge", 16_000, 1, u32::MAX - 65, 8),
        ];
        for (name, rate, ch, len, body) in cases {
            let path = hostile(name, rate, ch, len, body);
            let err = read_interleaved(&path).unwrap_err();
            let ok = match name {
                "size-huge" => matches!(err, WavError::Truncated { found: 4, .. }),
                "ch0" => matches!(err, WavError::NotWav { .. } | WavError::Unsupported { .. }),
                _ => matches!(err, WavError::Unsupported { .. }),
            };
            assert!(ok, "{name}: {err:?}");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
            std::fs::remove_file(&path).ok();
        }
        let path = hostile("fine", 8_000, 2, 8, 8);
        let audio = read_interleaved(&path).unwrap();
        assert_eq!((audio.rate, audio.channels, audio.samples.len()), (8_000, 2, 4));
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn missing_and_garbage_files_are_clear_errors() {
        let missing = read_mono(Path::new("/nonexistent/q.wav")).unwrap_err();
        assert!(matches!(missing, WavError::NotFound { .. }), "{missing}");
        let dir = std::env::temp_dir();
        let junk = dir.join(format!("voxlive-junk-{}.wav", std::process::id()));
        std::fs::write(&junk, b"this is not a wav file at all, just text").unwrap();
        assert!(matches!(read_mono(&junk).unwrap_err(), WavError::NotWav { .. }));
    }
}
