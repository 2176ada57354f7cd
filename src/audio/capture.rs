//! The capture stream: a cpal input stream on any device, rate, channel count and sample format, whose
//! callback only converts to f32 and pushes into an SPSC ring ([`super::ring::push_input`]). The DSP thread
//! reads the ring through [`CpalSource`]. The stream is built right before `play()` and the source drops
//! whatever the ring holds when the DSP thread starts, so the start-up burst never reaches the session.

use std::sync::Arc;
use std::time::Instant;

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SizedSample};
use ringbuf::traits::{Consumer, Observer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::device::OpenedDevice;
use super::error::Direction;
use super::ring::{on_stream_error, push_input, with_sample_type, Epoch, StreamCounters};
use super::source::{AudioSource, SourceRead, StreamFormat};
use super::AudioError;

/// The DSP thread's end of the capture ring.
pub struct CpalSource {
    cons: HeapCons<f32>,
    counters: Arc<StreamCounters>,
    epoch: Epoch,
    format: StreamFormat,
    name: String,
    /// When the DSP thread started using the stream (for the no-callback watchdog).
    started: Instant,
}

fn build<T>(
    dev: &OpenedDevice,
    config: cpal::StreamConfig,
    mut prod: HeapProd<f32>,
    counters: Arc<StreamCounters>,
    epoch: Epoch,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let on_error = counters.clone();
    dev.device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            push_input(&mut prod, data, &counters, &epoch);
        },
        move |e: cpal::Error| on_stream_error(e.kind(), &on_error),
        None,
    )
}

/// Builds (does not start) the input stream; the caller calls `play()` immediately after.
pub fn open_capture(
    dev: &OpenedDevice,
    buffer_frames: Option<u32>,
    epoch: Epoch,
) -> Result<(cpal::Stream, CpalSource), AudioError> {
    let (format, config) = dev.stream_config(buffer_frames);
    // one second: the DSP thread drains it every few ms, so this only fills if that thread stalls
    let capacity = (format.sample_rate as usize * usize::from(format.channels)).max(4096);
    let (prod, cons) = HeapRb::<f32>::new(capacity).split();
    let counters = Arc::new(StreamCounters::default());
    let c = counters.clone();
    let unsupported = |other| Err(dev.unsupported_format(Direction::Input, other));
    let stream = with_sample_type!(
        dev.config.sample_format(),
        build(dev, config, prod, c, epoch),
        unsupported
    )
    .map_err(|e| AudioError::from_cpal(Direction::Input, &dev.name, e))?;
    Ok((
        stream,
        CpalSource {
            cons,
            counters,
            epoch,
            format,
            name: dev.name.clone(),
            started: Instant::now(),
        },
    ))
}

impl AudioSource for CpalSource {
    fn format(&self) -> StreamFormat {
        self.format
    }

    fn start(&mut self) {
        self.cons.clear();
        self.started = Instant::now();
    }

    fn read(&mut self, out: &mut [f32]) -> Result<SourceRead, AudioError> {
        if let Some(why) = self.counters.failure(&self.epoch, self.started) {
            return Err(AudioError::DeviceLost {
                direction: Direction::Input,
                reason: format!("{}: {why}", self.name),
            });
        }
        let ch = usize::from(self.format.channels.max(1));
        let n = self.cons.occupied_len().min(out.len()) / ch * ch;
        if n == 0 {
            return Ok(SourceRead::Pending);
        }
        Ok(SourceRead::Data(self.cons.pop_slice(&mut out[..n])))
    }

    fn captured_at(&self) -> Instant {
        self.counters.last_callback(&self.epoch).unwrap_or_else(Instant::now)
    }

    fn counters(&self) -> Option<Arc<StreamCounters>> {
        Some(self.counters.clone())
    }
}
