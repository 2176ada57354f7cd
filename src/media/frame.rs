//! One image file to one JPEG video frame. The file is read with a size cap; its dimensions are read from
//! the header and checked before any pixel is decoded (a small file can claim a huge canvas); decoding
//! runs under the image crate's limits; the picture is scaled down to fit [`MaxSize`] and re-encoded as
//! JPEG. CPU-bound: callers on the async runtime run it under `spawn_blocking`.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader, Limits};

use super::{MaxSize, MediaError};

/// Largest image file read: 32 MiB.
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// Largest width or height decoded.
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels decoded (48 MP: a large camera photo); bigger images are refused before decoding.
pub const MAX_PIXELS: u64 = 48_000_000;
/// JPEG quality of the frames sent: good enough to read text in a screenshot, a fraction of PNG's size.
pub const JPEG_QUALITY: u8 = 85;

/// An image ready to send: JPEG bytes and their size.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub path: PathBuf,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The size of the picture in the file.
    pub source_width: u32,
    pub source_height: u32,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame({}, {}x{} from {}x{}, {} bytes)",
            self.path.display(),
            self.width,
            self.height,
            self.source_width,
            self.source_height,
            self.jpeg.len()
        )
    }
}

/// Reads, checks, scales and encodes `path`.
pub fn load(path: &Path, max: MaxSize) -> Result<Frame, MediaError> {
    let bad = |detail: String| MediaError::Image {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = read_capped(path).map_err(&bad)?;
    let reader = || {
        let mut r = ImageReader::new(Cursor::new(bytes.as_slice()))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?;
        if r.format().is_none() {
            return Err(bad("not an image voxlive reads (JPEG, PNG, WebP or GIF)".into()));
        }
        r.limits(limits());
        Ok(r)
    };
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| bad(format!("unreadable image header: {e}")))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad(format!(
            "{w}x{h} is too large (at most {MAX_SIDE} a side and {} megapixels)",
            MAX_PIXELS / 1_000_000
        )));
    }
    let picture = reader()?.decode().map_err(|e| bad(format!("cannot decode it: {e}")))?;
    let (tw, th) = max.fit(w, h);
    let scaled = if (tw, th) == (w, h) {
        picture
    } else {
        picture.resize_exact(tw, th, image::imageops::FilterType::Triangle)
    };
    let jpeg = encode_jpeg(&scaled).map_err(|e| bad(format!("cannot encode it as JPEG: {e}")))?;
    Ok(Frame {
        path: path.to_path_buf(),
        jpeg,
        width: tw,
        height: th,
        source_width: w,
        source_height: h,
    })
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    // RGBA8 of the largest picture allowed, plus the decoders' own buffers
    l.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    l
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err("is a directory (use --images DIR)".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_FILE_BYTES >> 20));
    }
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(bytes)
}

/// JPEG has no alpha: transparent pixels go out as their colour, as a screenshot tool would.
fn encode_jpeg(picture: &DynamicImage) -> image::ImageResult<Vec<u8>> {
    let rgb = picture.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
        let path = dir.join(name);
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        img.save(&path).unwrap();
        path
    }

    #[test]
    fn scales_a_png_down_to_a_jpeg_that_decodes_at_the_new_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(dir.path(), "big.png", 1536, 1024);
        let frame = load(&path, MaxSize::default()).unwrap();
        assert_eq!((frame.width, frame.height), (768, 512));
        assert_eq!((frame.source_width, frame.source_height), (1536, 1024));
        let back = image::load_from_memory_with_format(&frame.jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (768, 512));
    }

    #[test]
    fn a_small_image_keeps_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(dir.path(), "small.png", 64, 48);
        let frame = load(&path, MaxSize::default()).unwrap();
        assert_eq!((frame.width, frame.height), (64, 48));
    }

    #[test]
    fn corrupt_truncated_missing_and_non_images_fail_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_png(dir.path(), "good.png", 100, 100);
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("cut.png");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, "just some text").unwrap();
        let jpeg_garbage = dir.path().join("garbage.jpg");
        std::fs::write(&jpeg_garbage, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5]).unwrap();
        let empty = dir.path().join("empty.png");
        std::fs::write(&empty, []).unwrap();
        for (path, expect) in [
            (truncated, "cut.png"),
            (text, "not an image"),
            (jpeg_garbage, "garbage.jpg"),
            (empty, "empty"),
            (dir.path().join("missing.png"), "missing.png"),
            (dir.path().to_path_buf(), "directory"),
        ] {
            let err = load(&path, MaxSize::default()).unwrap_err().to_string();
            assert!(err.contains(expect), "{path:?}: {err}");
        }
    }

    #[test]
    fn a_huge_canvas_is_refused_before_decoding() {
        // a valid PNG header claiming 15000x15000 pixels (each side allowed, the area not), no pixels behind it
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.png");
        let mut png = vec![
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
        ];
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&15_000u32.to_be_bytes());
        ihdr.extend_from_slice(&15_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&ihdr);
        let mut crc_input = b"IHDR".to_vec();
        crc_input.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
            png.extend_from_slice(&0u32.to_be_bytes());
            png.extend_from_slice(chunk);
            png.extend_from_slice(&crc32(chunk).to_be_bytes());
        }
        std::fs::write(&path, png).unwrap();
        let err = load(&path, MaxSize::default()).unwrap_err().to_string();
        assert!(err.contains("15000x15000 is too large"), "{err}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
