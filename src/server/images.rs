//! Video frames in: `realtimeInput.video` and the deprecated `mediaChunks` with an image mime type. Each
//! frame is checked (a JPEG or PNG signature, its dimensions read from the header under limits, never
//! decoded), paced (the service takes about one frame a second: a frame closer than [`MIN_SPACING`] to the
//! last one taken is ignored and counted, with a warning), and counted for the next user turn, whose reply
//! says what was seen ("I see 2 images, the last 768x512"), so a client can check end to end that its
//! images arrived, how many, and at what size. Message size is bounded before this by the server's limits.

use std::io::Cursor;
use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::Blob;

/// Frames closer together than this are too fast: half the service's 1 frame/s, so a client pacing at
/// 1/s never loses a frame to network jitter, while a flood is still refused.
pub const MIN_SPACING: Duration = Duration::from_millis(500);
/// Largest side read from a header (beyond it a frame is invalid).
pub const MAX_SIDE: u32 = 16_384;

/// What the images since the previous user turn were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenImages {
    /// Frames taken.
    pub count: u32,
    /// The size of the last frame taken.
    pub last: Option<(u32, u32)>,
    /// Frames ignored for coming too fast.
    pub too_fast: u32,
    /// Frames that were not a readable JPEG or PNG.
    pub invalid: u32,
}

impl SeenImages {
    pub fn is_empty(&self) -> bool {
        *self == SeenImages::default()
    }

    /// The sentence a reply carries, e.g. "I see 2 images, the last 768x512"; None when nothing came.
    pub fn sentence(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let plural = |n: u32, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut text = format!("I see {}", plural(self.count, "image"));
        if let Some((w, h)) = self.last {
            text.push_str(&format!(", the last {w}x{h}"));
        }
        if self.too_fast > 0 {
            text.push_str(&format!(
                "; {} ignored (faster than 1 frame/s)",
                plural(self.too_fast, "frame")
            ));
        }
        if self.invalid > 0 {
            text.push_str(&format!("; {} not a JPEG or PNG", plural(self.invalid, "frame")));
        }
        Some(text)
    }
}

/// Counts the frames of one connection.
#[derive(Debug, Default)]
pub struct ImageTracker {
    turn: SeenImages,
    last_taken: Option<Instant>,
}

impl ImageTracker {
    /// Takes one blob if it is an image (others are left to the audio path); `now` is its arrival.
    pub fn frame(&mut self, blob: &Blob, now: Instant) {
        if !blob.mime_type.starts_with("image/") {
            return;
        }
        let size = match dimensions(&blob.data) {
            Ok(size) => size,
            Err(why) => {
                self.turn.invalid += 1;
                tracing::warn!(mime = %blob.mime_type, bytes = blob.data.len(), "ignoring a video frame: {why}");
                return;
            }
        };
        if let Some(last) = self
            .last_taken
            .filter(|t| now.saturating_duration_since(*t) < MIN_SPACING)
        {
            self.turn.too_fast += 1;
            let n = self.turn.too_fast;
            if n == 1 || n % 100 == 0 {
                tracing::warn!(
                    after_ms = now.saturating_duration_since(last).as_millis() as u64,
                    "video frames faster than 1/s: {n} ignored this turn"
                );
            }
            return;
        }
        self.last_taken = Some(now);
        self.turn.count += 1;
        self.turn.last = Some(size);
    }

    /// What came since the previous turn; the count starts again.
    pub fn take_turn(&mut self) -> SeenImages {
        std::mem::take(&mut self.turn)
    }
}

/// The width and height of a JPEG or PNG, from its header.
pub fn dimensions(data: &[u8]) -> Result<(u32, u32), String> {
    let format = if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        image::ImageFormat::Jpeg
    } else if data.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        image::ImageFormat::Png
    } else {
        return Err("not a JPEG or PNG (no signature)".into());
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("unreadable header: {e}"))?;
    if w == 0 || h == 0 {
        return Err(format!("{w}x{h} has no pixels"));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Blob {
        let img = image::RgbImage::new(w, h);
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut out)
            .encode(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        Blob::new("image/jpeg", out)
    }

    #[test]
    fn counts_frames_per_turn_with_the_last_size() {
        let mut t = ImageTracker::default();
        let start = Instant::now();
        t.frame(&jpeg(64, 32), start);
        t.frame(&jpeg(768, 512), start + Duration::from_secs(1));
        t.frame(
            &Blob::new("audio/pcm;rate=16000", vec![0; 320]),
            start + Duration::from_secs(2),
        );
        let seen = t.take_turn();
        assert_eq!(seen.count, 2);
        assert_eq!(seen.sentence().unwrap(), "I see 2 images, the last 768x512");
        assert!(t.take_turn().is_empty(), "the next turn starts from none");
        assert_eq!(SeenImages::default().sentence(), None);
    }

    #[test]
    fn frames_too_fast_and_invalid_ones_are_counted_not_taken() {
        let mut t = ImageTracker::default();
        let start = Instant::now();
        t.frame(&jpeg(10, 10), start);
        t.frame(&jpeg(20, 20), start + Duration::from_millis(100));
        t.frame(
            &Blob::new("image/jpeg", b"GIF89a....".to_vec()),
            start + Duration::from_secs(5),
        );
        t.frame(
            &Blob::new("image/png", vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 1]),
            start + Duration::from_secs(6),
        );
        t.frame(&jpeg(30, 30), start + Duration::from_millis(600));
        let seen = t.take_turn();
        assert_eq!((seen.count, seen.too_fast, seen.invalid), (2, 1, 2));
        assert_eq!(seen.last, Some((30, 30)));
        assert_eq!(
            seen.sentence().unwrap(),
            "I see 2 images, the last 30x30; 1 frame ignored (faster than 1 frame/s); 2 frames not a JPEG or PNG"
        );
    }
}
