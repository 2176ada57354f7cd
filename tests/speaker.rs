//! What the device tests share to judge what the virtual speaker played: is an audio server up, a monitor
//! recorded while it runs, levels, loudness contours and their normalised correlation, a child process
//! killed on drop.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const RATE: usize = 16_000;
/// Peak level of a 10 ms window that counts as sound starting: a reply, an utterance (-40 dBFS).
pub const LOUD: i32 = 328;
/// Below this peak level the speaker is silent (-50 dBFS).
pub const SILENT: i32 = 104;

pub fn audio_server_running() -> bool {
    let up = Command::new("pactl")
        .arg("info")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !up {
        assert!(
            std::env::var("VOXLIVE_SKIP_DEVICE_TESTS").as_deref() == Ok("1"),
            "no PulseAudio server: run `source scripts/virtual-audio.sh start` first (or set VOXLIVE_SKIP_DEVICE_TESTS=1)"
        );
    }
    up
}

pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// RMS envelope in 10 ms windows.
pub fn envelope(x: &[i16]) -> Vec<f64> {
    x.chunks(RATE / 100)
        .map(|w| (w.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt())
        .collect()
}

/// Normalised correlation of `needle` against `hay` at offset `lag` (both zero-mean over the window).
pub fn ncc(hay: &[f64], needle: &[f64], lag: usize) -> f64 {
    let h = &hay[lag..lag + needle.len()];
    let (mh, mn) = (
        h.iter().sum::<f64>() / h.len() as f64,
        needle.iter().sum::<f64>() / needle.len() as f64,
    );
    let (mut num, mut dh, mut dn) = (0.0, 0.0, 0.0);
    for (a, b) in h.iter().zip(needle) {
        num += (a - mh) * (b - mn);
        dh += (a - mh).powi(2);
        dn += (b - mn).powi(2);
    }
    if dh == 0.0 || dn == 0.0 {
        0.0
    } else {
        num / (dh * dn).sqrt()
    }
}

pub fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

pub fn peak(x: &[i16]) -> i32 {
    x.iter().map(|&s| i32::from(s).abs()).max().unwrap_or(0)
}

pub fn secs(samples: usize) -> Duration {
    Duration::from_secs_f64(samples as f64 / RATE as f64)
}

#[derive(Default)]
struct Recorded {
    samples: Vec<i16>,
    /// When sample 0 was recorded: the earliest `arrival - samples so far / RATE` over all reads (each read
    /// is timestamped), so two monitors recorded at once share one clock to within a few milliseconds.
    t0: Option<Instant>,
}

/// A PulseAudio source (a monitor) recorded by `pacat` into memory at 16 kHz mono, readable while it runs.
pub struct Monitor {
    pacat: Killed,
    rec: Arc<Mutex<Recorded>>,
    reader: Option<JoinHandle<()>>,
}

impl Monitor {
    pub fn start(source: &str) -> Monitor {
        let mut pacat = Command::new("pacat")
            .args([
                "--record",
                "-d",
                source,
                "--format=s16le",
                "--rate=16000",
                "--channels=1",
                "--raw",
            ])
            .arg("--latency-msec=10")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pacat runs");
        let mut out = pacat.stdout.take().unwrap();
        let rec = Arc::new(Mutex::new(Recorded::default()));
        let shared = rec.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut odd = None;
            loop {
                let n = match out.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let now = Instant::now();
                let mut bytes = &buf[..n];
                let mut r = shared.lock().unwrap();
                if let Some(lo) = odd.take() {
                    r.samples.push(i16::from_le_bytes([lo, bytes[0]]));
                    bytes = &bytes[1..];
                }
                let pairs = bytes.chunks_exact(2);
                odd = pairs.remainder().first().copied();
                r.samples.extend(pairs.map(|c| i16::from_le_bytes([c[0], c[1]])));
                if let Some(start) = now.checked_sub(secs(r.samples.len())) {
                    r.t0 = Some(r.t0.map_or(start, |t| t.min(start)));
                }
            }
        });
        Monitor {
            pacat: Killed(pacat),
            rec,
            reader: Some(reader),
        }
    }

    pub fn len(&self) -> usize {
        self.rec.lock().unwrap().samples.len()
    }

    /// The loudest sample recorded from sample `from` on.
    pub fn peak_since(&self, from: usize) -> i32 {
        let r = self.rec.lock().unwrap();
        peak(&r.samples[from.min(r.samples.len())..])
    }

    /// When sample `i` was recorded.
    pub fn time_of(&self, i: usize) -> Instant {
        let t0 = self.rec.lock().unwrap().t0.expect("the monitor recorded something");
        t0 + secs(i)
    }

    /// Waits for the first 10 ms window from sample `from` whose peak satisfies `pred`; its first sample.
    pub fn wait_for(&self, from: usize, timeout: Duration, pred: impl Fn(i32) -> bool) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut i = from;
        loop {
            {
                let r = self.rec.lock().unwrap();
                while i + RATE / 100 <= r.samples.len() {
                    if pred(peak(&r.samples[i..i + RATE / 100])) {
                        return Some(i);
                    }
                    i += RATE / 100;
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the latest `quiet` of the recording was silent.
    pub fn wait_quiet(&self, quiet: Duration, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let k = (quiet.as_secs_f64() * RATE as f64) as usize;
        while Instant::now() < deadline {
            {
                let r = self.rec.lock().unwrap();
                let n = r.samples.len();
                if n >= k && peak(&r.samples[n - k..]) < SILENT {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Stops recording: the samples and when the first of them was recorded.
    pub fn finish(mut self) -> (Vec<i16>, Instant) {
        let _ = self.pacat.0.kill();
        let _ = self.pacat.0.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let r = std::mem::take(&mut *self.rec.lock().unwrap());
        (r.samples, r.t0.expect("the monitor recorded something"))
    }
}
