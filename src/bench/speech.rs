//! Where the user speaks in a WAV, from the file's own timeline: the benchmark's "end of user speech" is a
//! property of the recording, not of the pipeline under test (whose VAD hangover is part of what is
//! measured). 10 ms frames, speech = frames louder than the noise floor by [`ABOVE_FLOOR_DB`] (and above
//! [`MIN_DBFS`]); gaps shorter than [`MERGE_GAP`] are pauses inside one utterance.

use std::time::Duration;

/// Frames above the file's noise floor (its 10th-percentile frame level) by this much are speech.
pub const ABOVE_FLOOR_DB: f32 = 12.0;
/// Nothing quieter than this is speech, however quiet the floor (a digitally silent file).
pub const MIN_DBFS: f32 = -50.0;
/// Pauses shorter than this stay inside one utterance: twice the local VAD's 300 ms hangover, so a pause
/// that ends a turn in the pipeline also ends an utterance here.
pub const MERGE_GAP: Duration = Duration::from_millis(600);
/// Bursts shorter than this are clicks, not speech.
pub const MIN_SPEECH: Duration = Duration::from_millis(100);

const FRAME_MS: usize = 10;

/// One utterance, in seconds from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utterance {
    pub start: f64,
    pub end: f64,
}

fn frame_dbfs(frame: &[i16]) -> f32 {
    let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / frame.len().max(1) as f64;
    let rms = energy.sqrt() / 32768.0;
    if rms <= 0.0 {
        -120.0
    } else {
        (20.0 * rms.log10()) as f32
    }
}

/// The utterances of mono `samples` at `rate`, in order.
pub fn utterances(samples: &[i16], rate: u32) -> Vec<Utterance> {
    let frame = (rate as usize * FRAME_MS / 1000).max(1);
    let levels: Vec<f32> = samples.chunks(frame).map(frame_dbfs).collect();
    if levels.is_empty() {
        return Vec::new();
    }
    let mut sorted = levels.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let threshold = (floor + ABOVE_FLOOR_DB).max(MIN_DBFS);
    let secs = |i: usize| (i * frame) as f64 / f64::from(rate);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, &l) in levels.iter().enumerate() {
        if l < threshold {
            continue;
        }
        match spans.last_mut() {
            Some((_, end)) if secs(i) - secs(*end) < MERGE_GAP.as_secs_f64() => *end = i + 1,
            _ => spans.push((i, i + 1)),
        }
    }
    let total = samples.len() as f64 / f64::from(rate);
    spans
        .into_iter()
        .map(|(a, b)| Utterance {
            start: secs(a),
            end: secs(b).min(total),
        })
        .filter(|u| u.end - u.start >= MIN_SPEECH.as_secs_f64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs: f64, amp: f64) -> Vec<i16> {
        (0..(16_000.0 * secs) as usize)
            .map(|i| (amp * 32767.0 * (i as f64 * 0.07).sin()) as i16)
            .collect()
    }

    #[test]
    fn two_utterances_with_a_long_pause_and_a_short_one_inside() {
        let mut s = vec![0i16; 8_000]; // 0.5 s silence
        s.extend(tone(1.0, 0.3));
        s.extend(vec![0i16; 3_200]); // 0.2 s: a pause inside the utterance
        s.extend(tone(0.5, 0.3));
        s.extend(vec![0i16; 24_000]); // 1.5 s: a new utterance follows
        s.extend(tone(0.8, 0.3));
        s.extend(vec![0i16; 8_000]);
        let u = utterances(&s, 16_000);
        assert_eq!(u.len(), 2, "{u:?}");
        assert!(
            (u[0].start - 0.5).abs() < 0.011 && (u[0].end - 2.2).abs() < 0.011,
            "{u:?}"
        );
        assert!(
            (u[1].start - 3.7).abs() < 0.011 && (u[1].end - 4.5).abs() < 0.011,
            "{u:?}"
        );
    }

    #[test]
    fn noise_floor_is_not_speech() {
        let mut s: Vec<i16> = (0..32_000).map(|i| ((i * 7919) % 600) as i16 - 300).collect();
        let loud = tone(1.0, 0.3);
        for (d, v) in s[8_000..].iter_mut().zip(&loud) {
            *d = d.saturating_add(*v);
        }
        let u = utterances(&s, 16_000);
        assert_eq!(u.len(), 1, "{u:?}");
        assert!((u[0].end - 1.5).abs() < 0.02, "{u:?}");
        assert!(utterances(&[], 16_000).is_empty());
    }
}
