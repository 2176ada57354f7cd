//! `--record DIR`: keeps what the microphone sent (`mic-16k.wav`, the 16 kHz frames as the session got them),
//! what it heard before echo cancellation (`mic-raw-16k.wav`, the same frames before AEC: the two files give the
//! echo removed on a real echo path, which AEC3's own ERLE estimate only guesses) and what the speaker played (`speaker-24k.wav`, the jitter buffer's 24 kHz output including silence, so
//! both files share one timeline). The DSP thread hands blocks over with `try_send` on a bounded channel (no
//! allocation per block); a writer thread does the file I/O. Blocks that do not fit are dropped and counted.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::framing::{to_i16, Frame, FRAME_SAMPLES, UPLINK_RATE};
use super::jitter::DOWNLINK_RATE;
use super::AudioError;

/// Speaker block length (24 kHz samples), the DSP thread's downlink step.
pub const SPEAKER_BLOCK: usize = 240;

enum Block {
    Mic(Frame),
    MicRaw(Frame),
    Speaker([i16; SPEAKER_BLOCK]),
}

/// Handle held by the DSP thread. Dropping it finishes both files.
pub struct Recorder {
    tx: Option<SyncSender<Block>>,
    dropped: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

type Wav = hound::WavWriter<std::io::BufWriter<std::fs::File>>;

/// `NAME.part`: where a recording is written until it is finished and renamed to `NAME`.
fn part(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".part");
    p.into()
}

/// Gives finished recordings their real names (what was recorded before an error is kept either way).
fn publish(paths: &[std::path::PathBuf]) {
    for path in paths {
        if let Err(e) = std::fs::rename(part(path), path) {
            tracing::warn!("recording {}: could not rename: {e}", path.display());
        }
    }
}

fn create(path: &Path, rate: u32) -> Result<Wav, AudioError> {
    let path = &part(path);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(path, spec).map_err(|e| AudioError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

impl Recorder {
    /// Creates `dir` and both files, and starts the writer thread.
    pub fn start(dir: &Path) -> Result<Recorder, AudioError> {
        std::fs::create_dir_all(dir).map_err(|e| AudioError::File {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let names = [
            dir.join("mic-16k.wav"),
            dir.join("mic-raw-16k.wav"),
            dir.join("speaker-24k.wav"),
        ];
        let mut mic = create(&names[0], UPLINK_RATE)?;
        let mut mic_raw = create(&names[1], UPLINK_RATE)?;
        let mut speaker = create(&names[2], DOWNLINK_RATE)?;
        // ~4 s of blocks of either kind
        let (tx, rx) = sync_channel::<Block>(512);
        let writer = std::thread::Builder::new()
            .name("voxlive-recorder".into())
            .spawn(move || {
                let mut failed = false;
                for block in rx {
                    let res = match &block {
                        Block::Mic(f) => f.iter().try_for_each(|&s| mic.write_sample(s)),
                        Block::MicRaw(f) => f.iter().try_for_each(|&s| mic_raw.write_sample(s)),
                        Block::Speaker(b) => b.iter().try_for_each(|&s| speaker.write_sample(s)),
                    };
                    if let Err(e) = res {
                        if !failed {
                            tracing::warn!(error = %e, "recording failed; the rest is not recorded");
                        }
                        failed = true;
                    }
                }
                let finished = mic.finalize().and_then(|()| mic_raw.finalize());
                if let Err(e) = finished.and_then(|()| speaker.finalize()) {
                    tracing::warn!(error = %e, "could not finish the recording");
                }
                publish(&names);
            })
            .map_err(|e| AudioError::Setup(format!("recorder thread: {e}")))?;
        Ok(Recorder {
            tx: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
            writer: Some(writer),
        })
    }

    fn send(&self, block: Block) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(block) {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n % 100 == 0 {
                    tracing::warn!(count = n, "recorder is behind: audio block not recorded");
                }
            }
        }
    }

    /// Records one uplink frame as sent.
    pub fn mic(&mut self, frame: &Frame) {
        debug_assert_eq!(frame.len(), FRAME_SAMPLES);
        self.send(Block::Mic(*frame));
    }

    /// Records one uplink frame as captured, before echo cancellation.
    pub fn mic_raw(&mut self, frame: &Frame) {
        self.send(Block::MicRaw(*frame));
    }

    /// Records one block of what goes to the speaker (24 kHz mono).
    pub fn speaker(&mut self, block: &[f32; SPEAKER_BLOCK]) {
        let mut b = [0i16; SPEAKER_BLOCK];
        for (d, &s) in b.iter_mut().zip(block) {
            *d = to_i16(s);
        }
        self.send(Block::Speaker(b));
    }

    /// Blocks dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_writes_both_files() {
        let dir = std::env::temp_dir().join(format!("voxlive-rec-{}", std::process::id()));
        let mut r = Recorder::start(&dir).unwrap();
        r.mic(&[1000; FRAME_SAMPLES]);
        r.mic(&[-1000; FRAME_SAMPLES]);
        r.mic_raw(&[7; FRAME_SAMPLES]);
        r.speaker(&[0.5; SPEAKER_BLOCK]);
        drop(r);
        let mic = hound::WavReader::open(dir.join("mic-16k.wav")).unwrap();
        assert_eq!(mic.spec().sample_rate, 16_000);
        assert_eq!(mic.len(), 640);
        let raw = hound::WavReader::open(dir.join("mic-raw-16k.wav")).unwrap();
        assert_eq!(raw.len(), 320);
        let spk: Vec<i16> = hound::WavReader::open(dir.join("speaker-24k.wav"))
            .unwrap()
            .into_samples()
            .map(Result::unwrap)
            .collect();
        assert_eq!(spk, vec![16384; SPEAKER_BLOCK]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
