//! The largest size an image is sent at: `768` (the longer side) or `WxH` (a box to fit in).

use super::MediaError;

/// Smallest and largest side a flag may ask for (the service scales frames itself; beyond 4096 only the
/// message grows).
pub const SIDE_RANGE: (u32, u32) = (16, 4096);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxSize {
    pub width: u32,
    pub height: u32,
}

impl Default for MaxSize {
    /// 768x768: the tile size the Gemini models read an image at.
    fn default() -> Self {
        MaxSize {
            width: 768,
            height: 768,
        }
    }
}

impl MaxSize {
    /// The size a `w`x`h` image is sent at: scaled down (never up) to fit, keeping the aspect ratio.
    pub fn fit(&self, w: u32, h: u32) -> (u32, u32) {
        if w <= self.width && h <= self.height {
            return (w.max(1), h.max(1));
        }
        let scale = (f64::from(self.width) / f64::from(w)).min(f64::from(self.height) / f64::from(h));
        let side = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
        (side(w).min(self.width), side(h).min(self.height))
    }
}

impl std::str::FromStr for MaxSize {
    type Err = MediaError;

    fn from_str(s: &str) -> Result<Self, MediaError> {
        let bad = || {
            MediaError::Invalid(format!(
                "--image-size {s:?}: give the longest side (e.g. 768) or WxH (e.g. 1024x768), each {} to {}",
                SIDE_RANGE.0, SIDE_RANGE.1
            ))
        };
        let side = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (SIDE_RANGE.0..=SIDE_RANGE.1).contains(n))
                .ok_or_else(bad)
        };
        match s.split_once(['x', 'X']) {
            Some((w, h)) => Ok(MaxSize {
                width: side(w)?,
                height: side(h)?,
            }),
            None => {
                let n = side(s)?;
                Ok(MaxSize { width: n, height: n })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_side_or_a_box_within_bounds() {
        assert_eq!(
            "768".parse::<MaxSize>().unwrap(),
            MaxSize {
                width: 768,
                height: 768
            }
        );
        assert_eq!(
            "1024x512".parse::<MaxSize>().unwrap(),
            MaxSize {
                width: 1024,
                height: 512
            }
        );
        for bad in ["0", "8", "5000", "axb", "12x", "", "-5", "768x768x2"] {
            assert!(bad.parse::<MaxSize>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fits_keeping_the_aspect_ratio_and_never_enlarges() {
        let m = MaxSize::default();
        assert_eq!(m.fit(1536, 1024), (768, 512));
        assert_eq!(m.fit(1000, 4000), (192, 768));
        assert_eq!(m.fit(300, 200), (300, 200));
        assert_eq!(m.fit(10_000, 1), (768, 1));
        let wide = MaxSize {
            width: 1024,
            height: 512,
        };
        assert_eq!(wide.fit(2048, 2048), (512, 512));
    }
}
