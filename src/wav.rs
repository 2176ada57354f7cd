//! WAV files in and out: any rate, channel count and sample format hound reads (8/16/24/32-bit integer,
//! 32-bit float) become mono f32 at the rate asked for; replies are written as mono 16-bit PCM. Every way a
//! file can be wrong is a [`WavError`] whose text names the file and the problem.

use std::path::{Path, PathBuf};

use rubato::{FftFixedInOut, Resampler};

#[derive(Debug, thiserror::Error)]
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

/// Reads a WAV file and downmixes it to mono (the average of its channels).
pub fn read_mono(path: &Path) -> Result<MonoAudio, WavError> {
    let p = || path.to_path_buf();
    let reader = hound::WavReader::open(path).map_err(|e| classify(path, e))?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let promised = reader.len() as u64;
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
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => collect(path, reader.into_samples::<f32>(), promised, |s| s)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            collect(path, reader.into_samples::<i32>(), promised, |s| s as f32 * scale)?
        }
        _ => {
            return Err(WavError::Unsupported {
                path: p(),
                detail: format,
            })
        }
    };
    if interleaved.is_empty() || spec.sample_rate == 0 {
        return Err(WavError::Empty { path: p() });
    }
    let samples = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(MonoAudio {
        samples,
        rate: spec.sample_rate,
        source_channels: spec.channels,
        source_format: format,
    })
}

fn collect<S, R: std::io::Read>(
    path: &Path,
    samples: hound::WavIntoSamples<R, S>,
    promised: u64,
    convert: impl Fn(S) -> f32,
) -> Result<Vec<f32>, WavError>
where
    S: hound::Sample,
{
    let mut out = Vec::with_capacity(promised.min(1 << 28) as usize);
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

/// Resamples mono audio with rubato's FFT resampler; output length is `len * to / from`, delay removed.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, WavError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| WavError::Resample {
        from,
        to,
        detail: e.to_string(),
    };
    let mut r = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1).map_err(|e| err(&e))?;
    let delay = r.output_delay();
    let expected = (samples.len() as u64 * to as u64 / from as u64) as usize;
    let mut out = Vec::with_capacity(expected + delay + r.output_frames_max());
    let mut pos = 0;
    while out.len() < expected + delay {
        let need = r.input_frames_next();
        let chunk = if pos + need <= samples.len() {
            r.process(&[&samples[pos..pos + need]], None)
        } else if pos < samples.len() {
            r.process_partial(Some(&[&samples[pos..]]), None)
        } else {
            r.process_partial::<&[f32]>(None, None)
        }
        .map_err(|e| err(&e))?;
        pos += need;
        out.extend_from_slice(&chunk[0]);
    }
    Ok(out[delay..delay + expected].to_vec())
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
    let resampled = resample(&audio.samples, audio.rate, rate)?;
    Ok((to_i16(&resampled), audio))
}

/// Writes mono 16-bit PCM.
pub fn write_pcm16(path: &Path, rate: u32, samples: &[i16]) -> Result<(), WavError> {
    let werr = |e: hound::Error| WavError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(werr)?;
    for &s in samples {
        w.write_sample(s).map_err(werr)?;
    }
    w.finalize().map_err(werr)
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
