//! The playback stream: a cpal output stream on any device, rate, channel count and sample format, whose
//! callback only pops from an SPSC ring and pads with silence ([`super::ring::fill_output`]). The DSP thread
//! keeps the ring at a small target fill through [`CpalSink`]: enough to cover one device period and its own
//! polling, little enough that a barge-in flush leaves almost nothing to hear.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::device::OpenedDevice;
use super::error::Direction;
use super::ring::{fill_output, on_stream_error, with_sample_type, Epoch, StreamCounters, FLUSH_FADE};
use super::source::{AudioSink, StreamFormat};
use super::AudioError;

/// The DSP thread's end of the playback ring.
pub struct CpalSink {
    prod: HeapProd<f32>,
    counters: Arc<StreamCounters>,
    epoch: Epoch,
    format: StreamFormat,
    target: usize,
    name: String,
    /// When the DSP thread started using the stream (for the no-callback watchdog).
    started: Instant,
}

fn build<T>(
    dev: &OpenedDevice,
    config: cpal::StreamConfig,
    mut cons: HeapCons<f32>,
    counters: Arc<StreamCounters>,
    epoch: Epoch,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let on_error = counters.clone();
    dev.device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            fill_output(&mut cons, out, &counters, &epoch);
        },
        move |e: cpal::Error| on_stream_error(e.kind(), &on_error),
        None,
    )
}

/// Builds (does not start) the output stream; `target` is the ring fill the DSP thread keeps.
pub fn open_playback(
    dev: &OpenedDevice,
    buffer_frames: Option<u32>,
    target: Duration,
    epoch: Epoch,
) -> Result<(cpal::Stream, CpalSink), AudioError> {
    let (format, config) = dev.stream_config(buffer_frames);
    let ch = usize::from(format.channels.max(1));
    let target = ((target.as_secs_f64() * f64::from(format.sample_rate)) as usize).max(256) * ch;
    let (mut prod, cons) = HeapRb::<f32>::new((target * 4).max(format.sample_rate as usize * ch / 2)).split();
    // Silence queued before the stream exists: PulseAudio asks for its buffer as soon as the stream is
    // created (corked), before `build` returns, and then for more; an empty ring there counted as an
    // underrun. Its buffer is two of the periods asked for (20 ms periods: 40 ms, more than the target).
    let asked = match config.buffer_size {
        cpal::BufferSize::Fixed(frames) => frames as usize * ch,
        cpal::BufferSize::Default => 0,
    };
    prod.push_iter(std::iter::repeat_n(0.0, target + 2 * asked));
    let counters = Arc::new(StreamCounters::default());
    let fade = (FLUSH_FADE.as_secs_f64() * f64::from(format.sample_rate)) as usize * ch;
    counters.flush_fade.store(fade, Ordering::Relaxed);
    counters.channels.store(ch, Ordering::Relaxed);
    let c = counters.clone();
    let unsupported = |other| Err(dev.unsupported_format(Direction::Output, other));
    let stream = with_sample_type!(
        dev.config.sample_format(),
        build(dev, config, cons, c, epoch),
        unsupported
    )
    .map_err(|e| AudioError::from_cpal(Direction::Output, &dev.name, e))?;
    // The ring must cover at least two device periods (ALSA double-buffers); and it starts with the target
    // plus two more periods of silence, because the first callbacks come back to back as the device buffer
    // fills (PulseAudio asks for its whole two-period buffer, then more), before the DSP thread has run.
    // The excess plays out once and the fill settles at `target`.
    let period = stream.buffer_size().map_or(0, |p| p as usize * ch);
    let prefill = target + 2 * period;
    let target = target.max(2 * period);
    prod.push_iter(std::iter::repeat_n(0.0, prefill.saturating_sub(prod.occupied_len())));
    // Less than the target minus half a period left after a callback took its period: wake the DSP thread
    // (see wake_below). It also runs on every capture frame, in the same server wake-up as the playback
    // request when the periods match, but it may run just before the request takes its period instead of
    // just after: the ring then holds the target less one period until the next frame, and a request a
    // little longer than a period (the server asks for what has played, which varies) found it short.
    counters
        .wake_below
        .store(target.saturating_sub(period / 2).max(target / 2), Ordering::Relaxed);
    Ok((
        stream,
        CpalSink {
            prod,
            counters,
            epoch,
            format,
            target,
            name: dev.name.clone(),
            started: Instant::now(),
        },
    ))
}

impl CpalSink {
    fn flushing(&self) -> bool {
        self.counters.flush_requested.load(Ordering::Acquire)
    }
}

impl AudioSink for CpalSink {
    fn format(&self) -> StreamFormat {
        self.format
    }

    fn start(&mut self) {
        self.started = Instant::now();
    }

    fn wanted(&self) -> usize {
        if self.flushing() {
            return 0;
        }
        let ch = usize::from(self.format.channels.max(1));
        self.target.saturating_sub(self.prod.occupied_len()) / ch * ch
    }

    fn write(&mut self, samples: &[f32]) -> usize {
        if self.flushing() {
            return 0;
        }
        self.prod.push_slice(samples)
    }

    /// The output callback applies it (with the [`FLUSH_FADE`] ramp) on its next run.
    fn flush(&mut self) {
        self.counters.flush_requested.store(true, Ordering::Release);
    }

    fn flush_pending(&self) -> bool {
        self.flushing()
    }

    fn queued(&self) -> u64 {
        self.prod.occupied_len() as u64
    }

    fn last_played(&self) -> Option<Instant> {
        self.counters.last_callback(&self.epoch)
    }

    fn check(&self) -> Result<(), AudioError> {
        if let Some(why) = self.counters.failure(&self.epoch, self.started) {
            return Err(AudioError::DeviceLost {
                direction: Direction::Output,
                reason: format!("{}: {why}", self.name),
            });
        }
        Ok(())
    }

    fn counters(&self) -> Option<Arc<StreamCounters>> {
        Some(self.counters.clone())
    }
}
