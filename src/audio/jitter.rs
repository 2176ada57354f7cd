//! Downlink jitter buffer (DSP thread). Reply audio arrives in bursts over the network; playing it the moment
//! it lands would stutter whenever a chunk is late. The buffer waits until it holds `target_depth` before
//! playing, and adapts that target to the arrival jitter it measures: late chunks raise it at once, calm
//! arrivals let it decay back (time constant [`SHRINK_TAU`]) so latency returns when the network does.
//! Running dry fades to silence in [`FADE`] samples (no click) and re-buffers; a flush (barge-in) empties it
//! at once. A dry spell counts as an underrun only if audio arrives again within [`STARVE_LIMIT`];
//! otherwise the reply had simply ended. An underrun raises the target by the lateness of the chunk that
//! ended it (measured against the stream it continues), so a network that dropped a packet once gets the
//! margin for the next retransmission, until calm arrivals shrink it again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::framing::to_f32;

/// Downlink sample rate of the Live API (`audio/pcm;rate=24000`).
pub const DOWNLINK_RATE: u32 = 24_000;
/// Samples of fade-out on underrun and fade-in on resume (2 ms at 24 kHz).
pub const FADE: usize = 48;
/// How fast the target depth shrinks back once arrivals are regular.
pub const SHRINK_TAU: Duration = Duration::from_secs(2);
/// A gap longer than this is the end of a reply, not an underrun.
pub const STARVE_LIMIT: Duration = Duration::from_secs(1);

/// Depth limits of the adaptive target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Lowest target (default 40 ms): the latency floor when the network is steady.
    pub min_depth: Duration,
    /// Highest target (default 600 ms).
    pub max_depth: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_depth: Duration::from_millis(40),
            max_depth: Duration::from_millis(600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    Buffering,
    Playing,
    Starved(Instant),
}

/// What a [`JitterBuffer::pull`] handed out, for latency accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullInfo {
    /// The first chunk whose first sample was output: its offset in `out` and its arrival time.
    pub chunk_start: Option<(usize, Instant)>,
    /// Samples of `out` that came from the queue (reply audio); the rest is silence or the fade to it.
    pub audio: usize,
}

pub struct JitterBuffer {
    cfg: JitterConfig,
    queue: VecDeque<f32>,
    /// (absolute index of a chunk's first sample, arrival)
    marks: VecDeque<(u64, Instant)>,
    read_pos: u64,
    write_pos: u64,
    state: State,
    stream_start: Option<Instant>,
    stream_pushed: u64,
    jitter: f64,
    last_arrival: Option<Instant>,
    last_out: f32,
    fade_in: usize,
    underruns: u64,
    /// The reply in the queue is complete ([`JitterBuffer::end_of_reply`]).
    ending: bool,
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        JitterBuffer {
            cfg,
            queue: VecDeque::with_capacity(DOWNLINK_RATE as usize * 10),
            marks: VecDeque::with_capacity(1024),
            read_pos: 0,
            write_pos: 0,
            state: State::Idle,
            stream_start: None,
            stream_pushed: 0,
            jitter: 0.0,
            last_arrival: None,
            last_out: 0.0,
            fade_in: 0,
            underruns: 0,
            ending: false,
        }
    }

    /// Current target depth.
    pub fn target_depth(&self) -> Duration {
        let s = self.cfg.min_depth.as_secs_f64() + self.jitter;
        Duration::from_secs_f64(s.min(self.cfg.max_depth.as_secs_f64()))
    }

    /// Audio queued and not yet played.
    pub fn depth(&self) -> Duration {
        Duration::from_secs_f64(self.queue.len() as f64 / f64::from(DOWNLINK_RATE))
    }

    /// Underruns so far (dry spells that more audio followed).
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// True while reply samples wait in the queue (a reply still has audio to hand out).
    pub fn has_audio(&self) -> bool {
        !self.queue.is_empty()
    }

    /// True while a reply is queued or playing, including a dry spell of up to [`STARVE_LIMIT`] after it.
    pub fn is_active(&self) -> bool {
        self.state != State::Idle
    }

    /// The server completed the reply: once what is queued has played, the buffer goes idle instead of
    /// waiting [`STARVE_LIMIT`] for a late chunk, so the next reply starts a stream of its own (its jitter
    /// measured from its own first chunk, its first sample timed) and no underrun is counted between the two.
    pub fn end_of_reply(&mut self) {
        match self.state {
            State::Starved(_) => self.state = State::Idle,
            State::Idle => {}
            _ => self.ending = true,
        }
    }

    /// Queues a 24 kHz chunk that arrived at `received_at` and updates the jitter estimate.
    pub fn push(&mut self, samples: &[i16], received_at: Instant) {
        if samples.is_empty() {
            return;
        }
        // audio queued behind a completed reply continues the stream
        self.ending = false;
        match self.state {
            State::Idle => {
                self.stream_start = None;
                self.state = State::Buffering;
            }
            State::Starved(since) => {
                if received_at.saturating_duration_since(since) < STARVE_LIMIT {
                    self.underruns += 1;
                    // the chunk that ended the dry spell was late against the stream it continues (a
                    // retransmission, a stall): that lateness is what the target lacked, so it is learnt
                    // before the stream restarts, and decays as any other
                    if let Some(start) = self.stream_start {
                        let late = received_at.saturating_duration_since(start).as_secs_f64()
                            - self.stream_pushed as f64 / f64::from(DOWNLINK_RATE);
                        self.jitter = self.jitter.max(late);
                    }
                }
                self.stream_start = None;
                self.state = State::Buffering;
            }
            _ => {}
        }
        self.measure(samples.len(), received_at);
        self.marks.push_back((self.write_pos, received_at));
        self.queue.extend(samples.iter().map(|&s| to_f32(s)));
        self.write_pos += samples.len() as u64;
    }

    /// Lateness = arrival - (arrival of the stream's first chunk + media time before this chunk): how much
    /// later than a steady real-time sender this chunk came, i.e. how much buffer it would have needed.
    /// Early chunks (a server generating faster than real time sends bursts) count as 0, so a burst followed
    /// by a pause is not mistaken for jitter, as a min-transit (RFC 3550-style) estimate would. The estimate
    /// is a peak that decays with [`SHRINK_TAU`].
    fn measure(&mut self, len: usize, at: Instant) {
        if let Some(last) = self.last_arrival {
            let dt = at.saturating_duration_since(last).as_secs_f64();
            self.jitter *= (-dt / SHRINK_TAU.as_secs_f64()).exp();
        }
        self.last_arrival = Some(at);
        let start = match self.stream_start {
            Some(start) => start,
            None => {
                self.stream_pushed = 0;
                *self.stream_start.insert(at)
            }
        };
        let lateness =
            at.saturating_duration_since(start).as_secs_f64() - self.stream_pushed as f64 / f64::from(DOWNLINK_RATE);
        self.jitter = self.jitter.max(lateness);
        self.stream_pushed += len as u64;
    }

    /// Drops everything queued at once (barge-in / `interrupted`).
    pub fn flush(&mut self) {
        self.queue.clear();
        self.marks.clear();
        self.read_pos = self.write_pos;
        self.state = State::Idle;
        self.last_out = 0.0;
        self.stream_start = None;
    }

    /// Fills `out` (24 kHz mono) with audio or silence; never short.
    pub fn pull(&mut self, out: &mut [f32], now: Instant) -> PullInfo {
        let mut info = PullInfo::default();
        if self.state == State::Buffering {
            let target = (self.target_depth().as_secs_f64() * f64::from(DOWNLINK_RATE)) as usize;
            let quiet = self
                .last_arrival
                .is_some_and(|t| now.saturating_duration_since(t) >= self.target_depth());
            if self.queue.len() >= target.max(1) || quiet {
                self.state = State::Playing;
                self.fade_in = FADE;
            }
        }
        if let State::Starved(since) = self.state {
            if now.saturating_duration_since(since) >= STARVE_LIMIT {
                self.state = State::Idle;
            }
        }
        let mut i = 0;
        if self.state == State::Playing {
            while i < out.len() {
                let Some(s) = self.queue.pop_front() else {
                    break;
                };
                while self.marks.front().is_some_and(|m| m.0 <= self.read_pos) {
                    if let Some((_, at)) = self.marks.pop_front() {
                        info.chunk_start.get_or_insert((i, at));
                    }
                }
                self.read_pos += 1;
                let gain = if self.fade_in > 0 {
                    self.fade_in -= 1;
                    1.0 - self.fade_in as f32 / FADE as f32
                } else {
                    1.0
                };
                out[i] = s * gain;
                self.last_out = out[i];
                i += 1;
            }
            if i < out.len() {
                self.state = if std::mem::take(&mut self.ending) {
                    State::Idle
                } else {
                    State::Starved(now)
                };
            }
        }
        // fade from the last sample played to silence so the step does not click
        for (k, dst) in out[i..].iter_mut().enumerate() {
            let g = FADE.saturating_sub(k + 1) as f32 / FADE as f32;
            *dst = self.last_out * g;
        }
        if i < out.len() {
            self.last_out = 0.0;
        }
        info.audio = i;
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS20: usize = 480;

    #[test]
    fn target_depth_grows_under_jitter_and_shrinks_after() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let chunk = [1000i16; MS20];
        let mut t = t0;
        for _ in 0..50 {
            jb.push(&chunk, t);
            t += Duration::from_millis(20);
        }
        let calm = jb.target_depth();
        assert_eq!(calm, Duration::from_millis(40));
        for k in 0..50u64 {
            // a 100 ms stall, then the backlog arrives at once
            jb.push(&chunk, t + Duration::from_millis(100 - 20 * (k % 5)));
            t += Duration::from_millis(20);
        }
        let jittery = jb.target_depth();
        assert!(
            jittery >= calm + Duration::from_millis(80),
            "target {jittery:?} did not grow"
        );
        for _ in 0..1000 {
            jb.push(&chunk, t);
            t += Duration::from_millis(20);
        }
        let after = jb.target_depth();
        assert!(
            after < calm + Duration::from_millis(5),
            "target {after:?} did not shrink back"
        );
    }

    #[test]
    fn bursts_ahead_of_real_time_are_not_jitter() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        // 2 s of reply in 100 ms, a pause, then the rest exactly when it is due
        for k in 0..100u64 {
            jb.push(&[1000i16; MS20], t0 + Duration::from_millis(k));
        }
        for k in 100..150u64 {
            jb.push(&[1000i16; MS20], t0 + Duration::from_millis(20 * k));
        }
        assert_eq!(jb.target_depth(), Duration::from_millis(40));
    }

    #[test]
    fn waits_for_target_then_plays_in_order() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let ramp: Vec<i16> = (0..MS20 as i16).collect();
        jb.push(&ramp, t0);
        let mut out = [1.0f32; 240];
        jb.pull(&mut out, t0);
        assert!(out.iter().all(|&s| s == 0.0), "20 ms < 40 ms target: still buffering");
        jb.push(&ramp, t0 + Duration::from_millis(20));
        let info = jb.pull(&mut out, t0 + Duration::from_millis(20));
        assert_eq!(info.chunk_start, Some((0, t0)));
        assert_eq!(out[100], to_f32(100));
        assert!(out[0].abs() < 1e-6 && out[10] < to_f32(10), "fade-in at the start");
    }

    #[test]
    fn flush_drops_queued_audio() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        jb.push(&[5000i16; 4800], t0);
        let mut out = [0.0f32; 240];
        jb.pull(&mut out, t0);
        assert!(out[200] > 0.1);
        jb.flush();
        assert_eq!(jb.depth(), Duration::ZERO);
        assert!(!jb.is_active());
        jb.pull(&mut out, t0 + Duration::from_millis(10));
        assert!(
            out.iter().all(|&s| s == 0.0),
            "nothing of the old reply is played after a flush"
        );
        assert_eq!(jb.underruns(), 0);
    }

    #[test]
    fn underrun_fades_out_and_is_counted_when_audio_resumes() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        jb.push(&[16384i16; 1200], t0);
        let mut out = vec![0.0f32; 1400];
        jb.pull(&mut out, t0);
        assert!((out[1199] - 0.5).abs() < 1e-6);
        assert!(out[1200] < 0.5 && out[1200] > 0.4, "fade starts near the last sample");
        assert!(out[1200 + FADE..].iter().all(|&s| s == 0.0));
        assert!(out[1200..1200 + FADE].windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(jb.underruns(), 0, "not yet an underrun: the reply may have ended");
        jb.push(&[16384i16; 480], t0 + Duration::from_millis(100));
        assert_eq!(jb.underruns(), 1);
        jb.push(&[16384i16; 480], t0 + Duration::from_secs(5));
        assert_eq!(jb.underruns(), 1, "still buffering: no new dry spell");
    }

    #[test]
    fn a_chunk_that_ends_an_underrun_raises_the_target_by_its_lateness() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let t0 = Instant::now();
        let chunk = [8000i16; 480]; // 20 ms
        let mut out = vec![0.0f32; 480];
        // 10 chunks in real time, played as they come
        for k in 0..10u64 {
            let at = t0 + Duration::from_millis(20 * k);
            jb.push(&chunk, at);
            jb.pull(&mut out, at);
        }
        let calm = jb.target_depth();
        assert_eq!(calm, Duration::from_millis(40), "steady arrivals keep the floor");
        // the next chunk is held 200 ms (a retransmission): the buffer runs dry meanwhile
        for k in 10..20u64 {
            jb.pull(&mut out, t0 + Duration::from_millis(20 * k));
        }
        jb.push(&chunk, t0 + Duration::from_millis(400));
        assert_eq!(jb.underruns(), 1);
        let after = jb.target_depth();
        assert!(
            after >= Duration::from_millis(200),
            "the target learnt the {:?} the chunk was late: {after:?}",
            Duration::from_millis(200)
        );
    }
}
