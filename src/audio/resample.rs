//! Sample-rate conversion and channel mixing on the DSP thread. rubato's synchronous FFT resampler runs on
//! fixed input chunks (10 ms, rounded to what the rate ratio needs) with buffers allocated once in `new`, and
//! `process_into_buffer` never allocates; device chunks of any size are accumulated into those chunks.
//! Uplink: device rate (mono after downmix) -> 16 kHz. Downlink: 24 kHz -> device rate, then upmix.

use rubato::{FftFixedIn, Resampler};

use super::AudioError;

/// Zero chunks in a row after which a resampler's filter state holds nothing but zeros, so its output for
/// another zero chunk is zeros: rubato's FFT resampler keeps one chunk of overlap; four leave margin.
const SETTLED_CHUNKS: u32 = 4;

/// Streams mono f32 audio from one rate to another in fixed chunks, without allocating after `new`.
pub struct StreamResampler {
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    fill: usize,
    out: Vec<Vec<f32>>,
    in_rate: u32,
    out_rate: u32,
    /// Emit zeros for digital silence once the filter has settled, without running it
    /// ([`StreamResampler::skipping_silence`]).
    skip_silence: bool,
    /// Zero chunks in a row fed so far (saturating at [`SETTLED_CHUNKS`]).
    zero_chunks: u32,
    /// `out` holds zeros from a skipped chunk.
    out_zeroed: bool,
    /// Chunks emitted as zeros without running the filter.
    skipped: u64,
}

impl StreamResampler {
    /// A resampler from `in_rate` to `out_rate` (equal rates pass audio through untouched).
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, AudioError> {
        if in_rate == 0 || out_rate == 0 {
            return Err(AudioError::Setup(format!(
                "invalid sample rates {in_rate} -> {out_rate}"
            )));
        }
        if in_rate == out_rate {
            return Ok(StreamResampler {
                inner: None,
                pending: Vec::new(),
                fill: 0,
                out: Vec::new(),
                in_rate,
                out_rate,
                skip_silence: false,
                zero_chunks: 0,
                out_zeroed: false,
                skipped: 0,
            });
        }
        let chunk = (in_rate as usize / 100).max(1);
        let inner = FftFixedIn::<f32>::new(in_rate as usize, out_rate as usize, chunk, 1, 1)
            .map_err(|e| AudioError::Setup(format!("resampler {in_rate} -> {out_rate}: {e}")))?;
        let pending = vec![0.0; inner.input_frames_max()];
        let out = inner.output_buffer_allocate(true);
        Ok(StreamResampler {
            inner: Some(inner),
            pending,
            fill: 0,
            out,
            in_rate,
            out_rate,
            skip_silence: false,
            zero_chunks: 0,
            out_zeroed: false,
            skipped: 0,
        })
    }

    /// The same resampler, but a chunk of digital silence fed after [`SETTLED_CHUNKS`] others comes out as
    /// zeros without running the filter: bit-identical output (zeros through a filter holding zeros), none
    /// of the FFT work. For the downlink, which renders silence between replies on every device. The uplink does not use it: a live microphone is never
    /// digitally silent (a muted one or a virtual device is), so there it would only flatter benchmarks.
    pub fn skipping_silence(mut self) -> Self {
        self.skip_silence = true;
        self
    }

    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// Input samples consumed per internal step (1 when passing through).
    pub fn chunk_in(&self) -> usize {
        self.inner.as_ref().map_or(1, |r| r.input_frames_next())
    }

    /// The most output one internal step can produce: size downstream buffers with it.
    pub fn max_out_per_chunk(&self) -> usize {
        self.inner.as_ref().map_or(1, |r| r.output_frames_max())
    }

    /// Input samples still to come before at least `out` more output samples have been emitted: whole
    /// chunks, less what the current chunk already holds (the capture callback wakes the DSP thread only
    /// when that much has arrived, since nothing comes out sooner).
    pub fn input_for(&self, out: usize) -> usize {
        match self.inner.as_ref() {
            None => out,
            Some(r) => {
                let per_chunk = r.output_frames_next().max(1);
                out.div_ceil(per_chunk) * r.input_frames_next() - self.fill.min(r.input_frames_next())
            }
        }
    }

    /// Chunks of silence emitted without running the filter (see [`StreamResampler::skipping_silence`]).
    pub fn skipped_chunks(&self) -> u64 {
        self.skipped
    }

    /// The resampler's delay in output samples (for latency accounting).
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Feeds mono `input`; calls `emit` with each block of converted output as soon as a chunk is complete.
    pub fn process(&mut self, mut input: &[f32], mut emit: impl FnMut(&[f32])) -> Result<(), AudioError> {
        let Some(inner) = self.inner.as_mut() else {
            if !input.is_empty() {
                emit(input);
            }
            return Ok(());
        };
        while !input.is_empty() {
            let need = inner.input_frames_next();
            let take = (need - self.fill).min(input.len());
            self.pending[self.fill..self.fill + take].copy_from_slice(&input[..take]);
            self.fill += take;
            input = &input[take..];
            if self.fill == need {
                self.fill = 0;
                let chunk = &self.pending[..need];
                if self.skip_silence {
                    let silent = chunk.iter().all(|&s| s == 0.0);
                    if silent && self.zero_chunks >= SETTLED_CHUNKS {
                        let produced = inner.output_frames_next();
                        if !self.out_zeroed {
                            self.out[0][..produced].fill(0.0);
                            self.out_zeroed = true;
                        }
                        self.skipped += 1;
                        emit(&self.out[0][..produced]);
                        continue;
                    }
                    self.zero_chunks = if silent { self.zero_chunks + 1 } else { 0 };
                }
                let (_, produced) = inner
                    .process_into_buffer(&[chunk], &mut self.out, None)
                    .map_err(|e| AudioError::Setup(format!("resampling: {e}")))?;
                self.out_zeroed = false;
                emit(&self.out[0][..produced]);
            }
        }
        Ok(())
    }

    /// Forgets buffered input and filter state (after a flush), so stale audio never comes out later.
    pub fn reset(&mut self) {
        self.fill = 0;
        self.zero_chunks = 0;
        if let Some(inner) = self.inner.as_mut() {
            inner.reset();
        }
    }
}

/// Resamples a whole mono buffer (a file, a reply) with a [`StreamResampler`]: the crate's one resampling
/// path, so offline conversion and the DSP thread's streaming produce the same audio. The output holds
/// exactly `len * to / from` samples, with the resampler's delay removed (so it lines up with the input).
/// Allocates the output; not for the DSP thread.
pub fn resample_all(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let mut rs = StreamResampler::new(from, to)?;
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let delay = rs.delay();
    let expected = usize::try_from(samples.len() as u64 * u64::from(to) / u64::from(from))
        .map_err(|_| AudioError::Setup(format!("resampling {} samples: too long", samples.len())))?;
    let mut out = Vec::with_capacity(expected + delay + 2 * rs.max_out_per_chunk());
    rs.process(samples, |o| out.extend_from_slice(o))?;
    // flush the filter: feed silence until the delayed tail of the input is out
    let silence = vec![0.0; rs.chunk_in()];
    while out.len() < expected + delay {
        rs.process(&silence, |o| out.extend_from_slice(o))?;
    }
    out.drain(..delay);
    out.truncate(expected);
    Ok(out)
}

/// Averages interleaved `channels` into mono `out`; returns the frames written (bounded by `out.len()`).
/// Averaging keeps the level of a signal that is the same on every channel (the usual microphone case).
pub fn downmix(interleaved: &[f32], channels: usize, out: &mut [f32]) -> usize {
    if channels <= 1 {
        let n = interleaved.len().min(out.len());
        out[..n].copy_from_slice(&interleaved[..n]);
        return n;
    }
    let scale = 1.0 / channels as f32;
    let mut n = 0;
    for (dst, frame) in out.iter_mut().zip(interleaved.chunks_exact(channels)) {
        *dst = frame.iter().sum::<f32>() * scale;
        n += 1;
    }
    n
}

/// Copies mono `input` to every one of `channels` in interleaved `out`; returns samples written.
pub fn upmix(input: &[f32], channels: usize, out: &mut [f32]) -> usize {
    let channels = channels.max(1);
    let mut n = 0;
    for (frame, &s) in out.chunks_exact_mut(channels).zip(input) {
        frame.fill(s);
        n += channels;
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What the capture callback waits for before it wakes the DSP thread: nothing comes out sooner.
    #[test]
    fn input_for_counts_whole_chunks_less_what_is_buffered() {
        let mut r = StreamResampler::new(48_000, 16_000).unwrap();
        assert_eq!(r.input_for(320), 960, "a 20 ms frame is two 10 ms chunks");
        let mut out = 0;
        r.process(&[0.0; 100], |o| out += o.len()).unwrap();
        assert_eq!(out, 0);
        assert_eq!(r.input_for(320), 860);
        r.process(&[0.0; 380], |o| out += o.len()).unwrap();
        assert_eq!(out, 160, "one chunk out");
        assert_eq!(r.input_for(160), 480);
        // what input_for promised is exactly enough
        r.process(&vec![0.0; r.input_for(320)], |o| out += o.len()).unwrap();
        assert_eq!(out, 160 + 320);
        let same = StreamResampler::new(16_000, 16_000).unwrap();
        assert_eq!(same.input_for(320), 320);
    }

    pub fn sine(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    pub fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    /// Frequency from the count of upward zero crossings over the slice.
    pub fn zero_cross_freq(x: &[f32], rate: u32) -> f32 {
        let ups = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        ups as f32 * rate as f32 / x.len() as f32
    }

    fn run(input: &[f32], from: u32, to: u32, step: usize) -> Vec<f32> {
        let mut r = StreamResampler::new(from, to).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            r.process(chunk, |o| out.extend_from_slice(o)).unwrap();
        }
        out
    }

    fn check(out: &[f32], rate: u32, freq: f32, in_rms: f32) {
        let body = &out[rate as usize / 10..out.len() - rate as usize / 10];
        let f = zero_cross_freq(body, rate);
        assert!((f - freq).abs() < freq * 0.01, "frequency {f} Hz, wanted {freq}");
        let db = 20.0 * (rms(body) / in_rms).log10();
        assert!(db.abs() < 0.5, "level changed by {db} dB");
    }

    #[test]
    fn stereo_44k1_and_48k_to_16k_keep_frequency_and_level() {
        for rate in [44_100u32, 48_000] {
            let mono = sine(1000.0, rate, 1.0, 0.5);
            let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
            let mut down = vec![0.0; mono.len()];
            let n = downmix(&stereo, 2, &mut down);
            assert_eq!(n, mono.len());
            // device callbacks come in odd sizes: 512-frame chunks exercise the accumulation
            let out = run(&down[..n], rate, 16_000, 512);
            let expected = (mono.len() as f64 * 16_000.0 / rate as f64) as usize;
            assert!(
                out.len() + 400 >= expected && out.len() <= expected,
                "{} samples out of {expected}",
                out.len()
            );
            check(&out, 16_000, 1000.0, rms(&mono));
        }
    }

    #[test]
    fn downlink_24k_to_48k_keeps_frequency_and_level() {
        let x = sine(440.0, 24_000, 1.0, 0.3);
        let out = run(&x, 24_000, 48_000, 480);
        check(&out, 48_000, 440.0, rms(&x));
        let mut stereo = vec![0.0; out.len() * 2];
        assert_eq!(upmix(&out, 2, &mut stereo), out.len() * 2);
        assert_eq!(stereo[200], stereo[201]);
    }

    #[test]
    fn whole_buffer_resampling_is_aligned_and_exact_in_length() {
        let x = sine(440.0, 48_000, 1.0, 0.5);
        let out = resample_all(&x, 48_000, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
        let want = sine(440.0, 16_000, 1.0, 0.5);
        let err = out[1000..15_000]
            .iter()
            .zip(&want[1000..15_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "delay not removed: max error {err}");
        assert_eq!(resample_all(&x[..7], 48_000, 48_000).unwrap(), x[..7].to_vec());
        assert!(resample_all(&x, 0, 16_000).is_err());
        assert_eq!(resample_all(&[0.5], 8_000, 24_000).unwrap().len(), 3);
    }

    #[test]
    fn skipping_silence_changes_no_sample() {
        // a reply, the silence after it, a second reply cut by a flush, silence again: as the downlink sees it
        let mut x = sine(440.0, 24_000, 0.3, 0.3);
        x.extend(std::iter::repeat_n(0.0, 12_000));
        x.extend(sine(300.0, 24_000, 0.2, 0.5));
        x.extend(std::iter::repeat_n(0.0, 9_000));
        for (to, step) in [(48_000, 240), (16_000, 240), (44_100, 333)] {
            let mut plain = StreamResampler::new(24_000, to).unwrap();
            let mut skipping = StreamResampler::new(24_000, to).unwrap().skipping_silence();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (i, c) in x.chunks(step).enumerate() {
                if i == 100 {
                    plain.reset();
                    skipping.reset();
                }
                plain.process(c, |o| a.extend_from_slice(o)).unwrap();
                skipping.process(c, |o| b.extend_from_slice(o)).unwrap();
            }
            assert_eq!(a, b, "24 kHz -> {to}");
            // most of the 0.875 s of silence (10 ms chunks) ran no filter
            assert!(skipping.skipped_chunks() >= 70, "{} skipped", skipping.skipped_chunks());
            assert_eq!(plain.skipped_chunks(), 0);
        }
    }

    #[test]
    fn equal_rates_pass_through() {
        let x = sine(300.0, 16_000, 0.1, 0.2);
        assert_eq!(run(&x, 16_000, 16_000, 100), x);
    }
}
