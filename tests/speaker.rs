//! What the device tests share to judge what the virtual speaker played: is an audio server up, levels,
//! loudness contours and their normalised correlation, a child process killed on drop.

use std::process::{Child, Command};
use std::time::Duration;

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
