//! Deterministic signal helpers for the responders: the exact echo upsampler, a plain linear resampler for
//! other rates, and a speech-like tone that stands in for a spoken answer. No randomness anywhere, so
//! tests can predict every sample.

/// The Echo responder's reply audio: `input_16k` upsampled to 24 kHz by linear interpolation.
///
/// Exact rule (integer arithmetic, so every platform gives the same samples): with `n = input.len()`, the
/// output has `n * 3 / 2` samples (integer division). Output sample `j` sits at input position `2j / 3`:
/// with `i = (2 * j) / 3` and `r = (2 * j) % 3` (0, 1 or 2),
/// `y[j] = round(((3 - r) * x[i] + r * x[i + 1]) / 3)`, where `x[n] = x[n - 1]` (the last sample is held)
/// and `round` rounds halves away from zero.
pub fn echo_reply_samples(input_16k: &[i16]) -> Vec<i16> {
    let n = input_16k.len();
    let out_len = n * 3 / 2;
    let mut out = Vec::with_capacity(out_len);
    for j in 0..out_len {
        let i = (2 * j) / 3;
        let r = ((2 * j) % 3) as i32;
        let a = i32::from(input_16k[i]);
        let b = i32::from(*input_16k.get(i + 1).unwrap_or(&input_16k[i]));
        out.push(div_round(((3 - r) * a + r * b) as i64, 3) as i16);
    }
    out
}

/// Division rounding halves away from zero.
fn div_round(num: i64, den: i64) -> i64 {
    if num >= 0 {
        (num + den / 2) / den
    } else {
        -((-num + den / 2) / den)
    }
}

/// Linear-interpolation resampling from `from` Hz to `to` Hz (good enough for a test server; not band-limited).
pub fn resample_linear(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|j| {
            let pos = j as f64 * step;
            let i = pos as usize;
            let frac = pos - i as f64;
            let a = f64::from(input[i.min(input.len() - 1)]);
            let b = f64::from(input[(i + 1).min(input.len() - 1)]);
            (a + (b - a) * frac).round() as i16
        })
        .collect()
}

/// A speech-like stand-in for saying `text` at `rate` Hz: a 180 Hz tone with its 2nd and 3rd harmonics,
/// amplitude-modulated at 4 Hz like syllables; 0.4 s + 60 ms per character, between 0.5 s and 4 s.
pub fn speech_like_tone(text: &str, rate: u32) -> Vec<i16> {
    let secs = (0.4 + 0.06 * text.chars().count() as f64).clamp(0.5, 4.0);
    let n = (secs * f64::from(rate)) as usize;
    let tau = std::f64::consts::TAU;
    (0..n)
        .map(|k| {
            let t = k as f64 / f64::from(rate);
            let voice = (tau * 180.0 * t).sin() + 0.5 * (tau * 360.0 * t).sin() + 0.33 * (tau * 540.0 * t).sin();
            let envelope = 0.5 - 0.5 * (tau * 4.0 * t).cos();
            (6000.0 * voice * envelope).round() as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_upsampling_follows_the_documented_rule() {
        assert_eq!(
            echo_reply_samples(&[0, 300, 600, 900]),
            vec![0, 200, 400, 600, 800, 900]
        );
        assert_eq!(echo_reply_samples(&[-3, -4]), vec![-3, -4, -4]);
        assert!(echo_reply_samples(&[]).is_empty());
        assert_eq!(echo_reply_samples(&[7]), vec![7]);
    }

    #[test]
    fn linear_resampling_scales_length() {
        let x: Vec<i16> = (0..480).map(|v| v as i16).collect();
        let y = resample_linear(&x, 48_000, 16_000);
        assert_eq!(y.len(), 160);
        assert_eq!(y[1], 3);
    }

    #[test]
    fn tone_length_follows_the_text() {
        assert_eq!(speech_like_tone("", 24_000).len(), 12_000);
        assert_eq!(speech_like_tone(&"x".repeat(100), 24_000).len(), 96_000);
    }
}
