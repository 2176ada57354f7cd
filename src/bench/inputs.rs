//! The bench's input files, read and checked before the first session starts: a broken or speechless file
//! at the end of a set is an error in the first second, not after minutes of real-time replay before it.
//! Each file is decoded once and shared by all its runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::INPUT_RATE;
use crate::wav::WavAudio;

use super::speech::{utterances, Utterance};
use super::BenchError;

/// Silence the microphone keeps delivering after the file's last sample, beyond the longest silence the
/// VAD in use waits for: a real microphone stays open after the user's last word, so the turn ends where
/// the VAD decides, not where the recording happens to stop (a file trimmed right after its last word
/// would otherwise time the end of the file, not the VAD).
pub const TAIL_BEYOND_VAD: Duration = Duration::from_millis(1500);
/// The longest server-VAD silence the tail covers (a longer `--silence-ms` is clamped to this for the tail).
pub const MAX_TAIL_SILENCE: Duration = Duration::from_secs(10);

/// One input file, decoded: its samples as the file holds them (replayed at their own rate), where the
/// user speaks in it, and its length.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub audio: Arc<WavAudio>,
    pub speech: Vec<Utterance>,
    pub secs: f64,
}

impl Input {
    /// Reads `path` and finds its utterances; a file without any is an error (nothing to time).
    pub fn read(path: &Path) -> Result<Input, BenchError> {
        // decoded once: the source replays it as it is, the speech detector reads it mono at 16 kHz
        let audio = crate::wav::read_interleaved(path)?;
        let mono = audio.mono();
        let pcm = mono.pcm16(INPUT_RATE)?;
        let speech = utterances(&pcm, INPUT_RATE);
        if speech.is_empty() {
            return Err(BenchError::Input(format!(
                "{}: no speech found ({:.1} s of {}; speech is 12 dB above the file's quietest tenth and louder \
                 than -50 dBFS): nothing to time",
                path.display(),
                mono.duration_secs(),
                audio.source_format
            )));
        }
        Ok(Input {
            path: path.to_path_buf(),
            secs: pcm.len() as f64 / f64::from(INPUT_RATE),
            audio: Arc::new(audio),
            speech,
        })
    }

    /// The file's samples followed by `tail` of silence, interleaved at the file's rate and channels.
    pub fn samples_with_tail(&self, tail: Duration) -> Vec<f32> {
        let frames = (tail.as_secs_f64() * f64::from(self.audio.rate)) as usize;
        let silence = frames * usize::from(self.audio.channels);
        let mut out = Vec::with_capacity(self.audio.samples.len() + silence);
        out.extend_from_slice(&self.audio.samples);
        out.resize(out.len() + silence, 0.0);
        out
    }
}

/// The tail of silence after each file: the server VAD's silence (`silence` when the setup sets one, else
/// the local VAD's and the embedded server's, both under a second) plus [`TAIL_BEYOND_VAD`].
pub fn tail_for(silence: Option<Duration>) -> Duration {
    silence.unwrap_or(Duration::ZERO).min(MAX_TAIL_SILENCE) + TAIL_BEYOND_VAD
}

/// The WAV files named by `inputs`: files as given, directories as their `*.wav` files in name order.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, BenchError> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut wavs: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| BenchError::Input(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")) && f.is_file())
                .collect();
            if wavs.is_empty() {
                return Err(BenchError::Input(format!(
                    "{}: no .wav files in the directory",
                    p.display()
                )));
            }
            wavs.sort();
            out.extend(wavs);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(BenchError::Input(format!("{}: no such file or directory", p.display())));
        }
    }
    Ok(out)
}

/// Every file of `inputs` read and checked, in order; the first bad one is the error.
pub fn read_all(inputs: &[PathBuf]) -> Result<Vec<Input>, BenchError> {
    expand(inputs)?.iter().map(|p| Input::read(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0.5 s of silence, 0.5 s of a loud tone (the "speech"), 0.5 s of silence, at 16 kHz.
    fn one_utterance(path: &Path) {
        let mut pcm = vec![0i16; 8_000];
        pcm.extend((0..8_000).map(|i| ((i as f32 * 0.3).sin() * 12_000.0) as i16));
        pcm.extend(vec![0i16; 8_000]);
        crate::wav::write_pcm16(path, 16_000, &pcm).unwrap();
    }

    #[test]
    fn a_file_without_speech_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        // a steady tone from the first sample: its floor is its level, so nothing stands out as speech
        let tone: Vec<i16> = (0..16_000).map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16).collect();
        crate::wav::write_pcm16(&path, 16_000, &tone).unwrap();
        let err = Input::read(&path).unwrap_err().to_string();
        assert!(err.contains("tone.wav") && err.contains("no speech"), "{err}");
    }

    #[test]
    fn the_tail_is_silence_at_the_files_rate_and_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.wav");
        one_utterance(&path);
        let input = Input::read(&path).unwrap();
        assert_eq!(input.speech.len(), 1);
        let with = input.samples_with_tail(Duration::from_millis(500));
        assert_eq!(with.len(), 24_000 + 8_000);
        assert!(with[24_000..].iter().all(|&s| s == 0.0));
        assert_eq!(tail_for(None), TAIL_BEYOND_VAD);
        assert_eq!(
            tail_for(Some(Duration::from_secs(3600))),
            MAX_TAIL_SILENCE + TAIL_BEYOND_VAD
        );
    }

    #[test]
    fn the_first_bad_file_of_a_set_fails_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        one_utterance(&dir.path().join("a.wav"));
        std::fs::write(dir.path().join("z.wav"), b"not a wav").unwrap();
        let err = read_all(&[dir.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("z.wav"), "{err}");
    }
}
