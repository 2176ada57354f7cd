//! The pace of video frames: a rate (`--image-rate`, frames a second) checked and clamped to the service's
//! 1 frame/s, and the gate every frame of a session passes (the `--image` feed and `/image PATH` alike):
//! the first at once, each next one an interval after the one before. A send that takes longer than the
//! interval delays the next frame rather than letting a burst catch up: frames never go faster than the rate.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::{Blob, ClientMessage, RealtimeInput};
use crate::session::{Session, SessionError};

use super::{Frame, MediaError};

/// The service takes about one frame a second.
pub const MAX_RATE: f64 = 1.0;
/// Slowest rate a flag may ask for: one frame a minute.
pub const MIN_RATE: f64 = 1.0 / 60.0;

/// The interval for `rate` frames a second, and a warning when it was clamped to [`MAX_RATE`].
pub fn interval_for(rate: f64) -> Result<(Duration, Option<String>), MediaError> {
    if !rate.is_finite() || rate < MIN_RATE {
        return Err(MediaError::Invalid(format!(
            "--image-rate {rate}: give frames per second from {MIN_RATE:.4} (one a minute) to {MAX_RATE}"
        )));
    }
    if rate > MAX_RATE {
        let warning = format!("--image-rate {rate}: the service takes at most {MAX_RATE} frame a second; sending 1/s");
        return Ok((Duration::from_secs_f64(1.0 / MAX_RATE), Some(warning)));
    }
    Ok((Duration::from_secs_f64(1.0 / rate), None))
}

/// The one pace every frame of a session keeps, whoever sends it (the `--image` feed, `/image PATH`): a
/// frame may go `interval` after the one before at the earliest. Cloned handles share the last send time.
#[derive(Debug, Clone)]
pub struct FrameGate {
    interval: Duration,
    last: Arc<Mutex<Option<Instant>>>,
}

impl FrameGate {
    pub fn new(interval: Duration) -> Self {
        FrameGate {
            interval: interval.max(Duration::from_millis(1)),
            last: Arc::default(),
        }
    }

    /// Counts a frame as gone and says true if one may go now; false (nothing counted) if it must wait.
    pub fn try_ready(&self) -> bool {
        let now = Instant::now();
        let Ok(mut last) = self.last.lock() else { return false };
        match *last {
            Some(t) if now < t + self.interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    /// Waits until a frame may go, and counts it as gone: the first at once, each next one an interval
    /// after the one before (or later: a late frame never lets the next one come sooner).
    pub async fn ready(&self) {
        loop {
            let now = Instant::now();
            let next = {
                let Ok(mut last) = self.last.lock() else { return };
                match *last {
                    Some(t) if now < t + self.interval => t + self.interval,
                    _ => {
                        *last = Some(now);
                        return;
                    }
                }
            };
            tokio::time::sleep_until(next).await;
        }
    }
}

/// Frames to send when a session starts, and the gate that paces them.
#[derive(Debug, Clone)]
pub struct ImageFeed {
    pub frames: Vec<Frame>,
    pub gate: FrameGate,
}

impl ImageFeed {
    /// Sends every frame on `session` in order at the gate's pace; the count sent.
    pub async fn send(&self, session: &Session) -> Result<usize, SessionError> {
        send_paced(&self.frames, &self.gate, |f| session.send(video_message(f))).await
    }
}

/// The realtimeInput message carrying one frame.
pub fn video_message(frame: &Frame) -> ClientMessage {
    ClientMessage::RealtimeInput(RealtimeInput {
        video: Some(Blob::new("image/jpeg", frame.jpeg.clone())),
        ..Default::default()
    })
}

/// Calls `send` for each frame in order, each when `gate` lets it go.
pub async fn send_paced<F, Fut, E>(frames: &[Frame], gate: &FrameGate, mut send: F) -> Result<usize, E>
where
    F: FnMut(&Frame) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    for frame in frames {
        gate.ready().await;
        send(frame).await?;
    }
    Ok(frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize) -> Vec<Frame> {
        (0..n)
            .map(|i| Frame {
                path: format!("{i}.jpg").into(),
                jpeg: vec![i as u8],
                width: 1,
                height: 1,
                source_width: 1,
                source_height: 1,
            })
            .collect()
    }

    #[test]
    fn rates_are_checked_and_clamped_to_one_a_second() {
        assert_eq!(interval_for(0.5).unwrap(), (Duration::from_secs(2), None));
        let (d, warning) = interval_for(5.0).unwrap();
        assert_eq!(d, Duration::from_secs(1));
        assert!(warning.unwrap().contains("at most 1 frame a second"));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.001] {
            assert!(interval_for(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn frames_go_in_order_one_interval_apart_the_first_at_once() {
        let start = Instant::now();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let n = send_paced(&frames(4), &FrameGate::new(Duration::from_secs(2)), |f| {
            log.lock().unwrap().push((f.jpeg[0], start.elapsed()));
            async { Ok::<(), ()>(()) }
        })
        .await
        .unwrap();
        assert_eq!(n, 4);
        let got = sent.lock().unwrap().clone();
        let expect: Vec<(u8, Duration)> = (0..4).map(|i| (i as u8, Duration::from_secs(2 * i))).collect();
        assert_eq!(got, expect);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_send_delays_the_next_frame_instead_of_bursting() {
        let start = Instant::now();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        send_paced(&frames(3), &FrameGate::new(Duration::from_secs(1)), |_| {
            log.lock().unwrap().push(start.elapsed());
            // each send blocks for 2.5 intervals (a network that lags)
            tokio::time::sleep(Duration::from_millis(2500)).then(|_| async { Ok::<(), ()>(()) })
        })
        .await
        .unwrap();
        let got = sent.lock().unwrap().clone();
        for pair in got.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(1), "{got:?}");
        }
        assert_eq!(
            got,
            [Duration::ZERO, Duration::from_millis(2500), Duration::from_millis(5000)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_send_stops_the_feed() {
        let mut calls = 0;
        let r = send_paced(&frames(3), &FrameGate::new(Duration::from_secs(1)), |_| {
            calls += 1;
            async { Err::<(), &str>("closed") }
        })
        .await;
        assert_eq!(r, Err("closed"));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_of_a_gate_share_one_pace() {
        let gate = FrameGate::new(Duration::from_secs(1));
        let other = gate.clone();
        let start = Instant::now();
        assert!(gate.try_ready());
        assert!(!other.try_ready(), "a clone sees the frame just counted");
        other.ready().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "the second frame waits for the first's interval"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = Instant::now();
        gate.ready().await;
        assert_eq!(before.elapsed(), Duration::ZERO, "after a pause a frame goes at once");
    }

    use futures_util::FutureExt as _;
}
