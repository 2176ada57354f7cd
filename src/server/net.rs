//! Network conditions on the embedded server's outbound traffic (`voxlive bench --net`), so the client's
//! jitter buffer and barge-in are measured under a realistic downlink instead of loopback's microseconds.
//!
//! The server's socket is wrapped in [`Shaped`]: every write is accepted at once and handed to a writer task
//! that delivers it at its release time, `now + delay ± jitter`, never before the previous write (TCP
//! delivers in order, so a late segment holds back the ones behind it). "Loss" on a TCP connection is not a
//! missing message but a retransmission: a lost write is released one [`RTO`] later (and everything behind
//! it waits). `burst=T` holds the output and releases it at every multiple of `T` since the connection
//! opened, the way a congested or Wi-Fi link delivers in clumps. Shaping sits under TLS, on the bytes.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a lost segment waits before its retransmission arrives: Linux's minimum retransmission timeout.
pub const RTO: Duration = Duration::from_millis(200);
/// The largest delay, jitter or burst period accepted: beyond it nothing interactive is measured.
pub const MAX_DURATION: Duration = Duration::from_secs(10);
/// The largest loss accepted (a fraction of writes).
pub const MAX_LOSS: f64 = 0.5;

/// A `--net` value is not usable; the message names the part and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--net {spec:?}: {problem}")]
pub struct NetSpecError {
    pub spec: String,
    pub problem: String,
}

/// Counts of what the shaping did, shared by every connection of one server.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Writes delivered through the shaper.
    pub writes: AtomicU64,
    /// Writes released one [`RTO`] late ("lost" and retransmitted).
    pub retransmitted: AtomicU64,
    /// Sum of the hold times of all writes, microseconds (mean = this / writes).
    pub held_us: AtomicU64,
    /// Connections shaped so far: each draws its own jitter and loss from the seed and its number.
    pub connections: AtomicU64,
}

/// Downlink conditions: `delay=40ms,jitter=20ms,loss=1%,burst=100ms,seed=7` (every part optional).
#[derive(Debug, Clone)]
pub struct NetShape {
    pub delay: Duration,
    /// Each write is delayed by `delay` plus a uniform amount in `[-jitter, +jitter]` (never below zero).
    pub jitter: Duration,
    /// Fraction of writes (0..=[`MAX_LOSS`]) that are retransmitted after [`RTO`].
    pub loss: f64,
    /// Release the output only at multiples of this period; `None` = no bursts.
    pub burst: Option<Duration>,
    /// Seed of the random jitter and loss: the same seed gives the same conditions to the same sequence of
    /// connections, and each connection of a run its own (connection `n` draws from `seed` and `n`).
    pub seed: u64,
    pub counters: Arc<NetCounters>,
}

impl PartialEq for NetShape {
    fn eq(&self, o: &Self) -> bool {
        (self.delay, self.jitter, self.burst, self.seed) == (o.delay, o.jitter, o.burst, o.seed) && self.loss == o.loss
    }
}

impl Default for NetShape {
    fn default() -> Self {
        NetShape {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            seed: 1,
            counters: Arc::default(),
        }
    }
}

impl fmt::Display for NetShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delay={}ms,jitter={}ms,loss={}%",
            self.delay.as_millis(),
            self.jitter.as_millis(),
            self.loss * 100.0
        )?;
        if let Some(b) = self.burst {
            write!(f, ",burst={}ms", b.as_millis())?;
        }
        write!(f, ",seed={}", self.seed)
    }
}

/// A duration such as `40ms`, `0.5s` or `40` (milliseconds), at most [`MAX_DURATION`].
fn duration(value: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1.0)
    } else {
        (value, 1e-3)
    };
    let x: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a duration (use e.g. 40ms or 0.5s)"))?;
    let secs = x * scale;
    if !secs.is_finite() || secs < 0.0 || secs > MAX_DURATION.as_secs_f64() {
        return Err(format!("{value:?}: give 0 to {} s", MAX_DURATION.as_secs()));
    }
    // checked above: finite, non-negative and small, so this cannot panic
    Ok(Duration::from_secs_f64(secs))
}

fn fraction(value: &str) -> Result<f64, String> {
    let (number, scale) = match value.strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (value, 1.0),
    };
    let x: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a loss rate (use e.g. 1%)"))?;
    let p = x * scale;
    if !p.is_finite() || !(0.0..=MAX_LOSS).contains(&p) {
        return Err(format!("loss {value:?}: give 0% to {}%", MAX_LOSS * 100.0));
    }
    Ok(p)
}

impl FromStr for NetShape {
    type Err = NetSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| NetSpecError {
            spec: spec.to_string(),
            problem,
        };
        let mut shape = NetShape::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| err(format!("{part:?} is not key=value")))?;
            let key = key.trim();
            if seen.contains(&key) {
                return Err(err(format!("{key} is given twice")));
            }
            seen.push(key);
            match key {
                "delay" => shape.delay = duration(value).map_err(err)?,
                "jitter" => shape.jitter = duration(value).map_err(err)?,
                "loss" => shape.loss = fraction(value).map_err(err)?,
                "burst" => {
                    let b = duration(value).map_err(err)?;
                    if b > Duration::ZERO && b < Duration::from_millis(1) {
                        return Err(err("burst: give at least 1ms (or 0 for none)".into()));
                    }
                    shape.burst = (b > Duration::ZERO).then_some(b);
                }
                "seed" => {
                    shape.seed = value
                        .trim()
                        .parse()
                        .map_err(|_| err(format!("seed {value:?} is not a whole number")))?
                }
                other => {
                    return Err(err(format!(
                        "unknown part {other:?} (use delay, jitter, loss, burst, seed)"
                    )))
                }
            }
        }
        if seen.is_empty() {
            return Err(err("give at least one of delay, jitter, loss, burst".into()));
        }
        Ok(shape)
    }
}

/// One write on its way, or the end of the stream.
enum Packet {
    Data(Vec<u8>, Instant),
    Shutdown(Instant),
}

/// When each write is released.
struct Schedule {
    shape: NetShape,
    rng: rand::rngs::StdRng,
    opened: Instant,
    last: Instant,
}

impl Schedule {
    fn new(shape: NetShape) -> Self {
        let now = Instant::now();
        let n = shape.counters.connections.fetch_add(1, Ordering::Relaxed);
        // splitmix64's odd constant: connection n's stream is unrelated to connection n+1's
        let seed = shape.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Schedule {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            shape,
            opened: now,
            last: now,
        }
    }

    fn release(&mut self, now: Instant) -> Instant {
        let s = &self.shape;
        let jitter = s.jitter.as_secs_f64();
        let offset = if jitter > 0.0 {
            self.rng.random_range(-jitter..=jitter)
        } else {
            0.0
        };
        // both bounded by MAX_DURATION: finite and small
        let held = Duration::from_secs_f64((s.delay.as_secs_f64() + offset).max(0.0));
        let mut at = now + held;
        if s.loss > 0.0 && self.rng.random_bool(s.loss) {
            at += RTO;
            s.counters.retransmitted.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(period) = s.burst {
            let since = at.saturating_duration_since(self.opened).as_nanos();
            let p = period.as_nanos().max(1);
            let slots = since.div_ceil(p);
            at = self.opened + Duration::from_nanos(u64::try_from(slots * p).unwrap_or(u64::MAX));
        }
        // in order, as TCP delivers
        at = at.max(self.last);
        self.last = at;
        s.counters.writes.fetch_add(1, Ordering::Relaxed);
        s.counters
            .held_us
            .fetch_add(at.saturating_duration_since(now).as_micros() as u64, Ordering::Relaxed);
        at
    }
}

/// A server socket whose writes arrive late; reads pass through. Without a shape it is the socket itself.
pub struct Shaped<S>(Inner<S>);

enum Inner<S> {
    Direct(S),
    Delayed {
        read: ReadHalf<S>,
        tx: mpsc::UnboundedSender<Packet>,
        schedule: Box<Schedule>,
    },
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Shaped<S> {
    /// Wraps `stream`; with a shape, starts the writer task that delivers its writes (it ends with the
    /// stream). The queue is unbounded on purpose: the server paces its replies in real time, so it holds at
    /// most `delay + jitter` worth of them (bounded by [`MAX_DURATION`]).
    pub fn new(stream: S, shape: Option<&NetShape>) -> Self {
        let Some(shape) = shape else {
            return Shaped(Inner::Direct(stream));
        };
        let (read, write) = tokio::io::split(stream);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(write, rx));
        Shaped(Inner::Delayed {
            read,
            tx,
            schedule: Box::new(Schedule::new(shape.clone())),
        })
    }
}

async fn deliver<S: AsyncWrite>(mut write: WriteHalf<S>, mut rx: mpsc::UnboundedReceiver<Packet>) {
    while let Some(packet) = rx.recv().await {
        match packet {
            Packet::Data(bytes, at) => {
                tokio::time::sleep_until(at).await;
                if write.write_all(&bytes).await.is_err() || write.flush().await.is_err() {
                    return;
                }
            }
            Packet::Shutdown(at) => {
                tokio::time::sleep_until(at).await;
                let _ = write.shutdown().await;
                return;
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the shaped connection's writer has stopped")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Shaped<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Direct(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Delayed { read, .. } => Pin::new(read).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Shaped<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Direct(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Delayed { tx, schedule, .. } => {
                let at = schedule.release(Instant::now());
                match tx.send(Packet::Data(buf.to_vec(), at)) {
                    Ok(()) => Poll::Ready(Ok(buf.len())),
                    Err(_) => Poll::Ready(Err(gone())),
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Direct(s) => Pin::new(s).poll_flush(cx),
            // written = on the wire: the writer task delivers it at its time
            Inner::Delayed { .. } => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Direct(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Delayed { tx, schedule, .. } => {
                let at = schedule.last.max(Instant::now());
                let _ = tx.send(Packet::Shutdown(at));
                Poll::Ready(Ok(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_every_part() {
        let s: NetShape = "delay=40ms,jitter=20ms,loss=1%,burst=0.1s,seed=7".parse().unwrap();
        assert_eq!(s.delay, Duration::from_millis(40));
        assert_eq!(s.jitter, Duration::from_millis(20));
        assert!((s.loss - 0.01).abs() < 1e-12);
        assert_eq!(s.burst, Some(Duration::from_millis(100)));
        assert_eq!(s.seed, 7);
        assert_eq!(s.to_string(), "delay=40ms,jitter=20ms,loss=1%,burst=100ms,seed=7");
    }

    #[test]
    fn bad_specs_are_clear_errors_not_panics() {
        for bad in [
            "delay=1e300s",
            "delay=-5ms",
            "delay=NaNms",
            "jitter=11s",
            "loss=60%",
            "loss=inf",
            "wobble=3",
            "delay",
            "seed=x",
            "burst=0.0001ms",
            "delay=40ms,delay=50ms",
            "",
            " , ",
        ] {
            let e = bad.parse::<NetShape>().err();
            assert!(e.is_some(), "{bad} should be refused");
        }
    }

    #[test]
    fn writes_are_released_in_order_after_the_delay() {
        let shape: NetShape = "delay=40ms,jitter=20ms".parse().unwrap();
        let mut s = Schedule::new(shape.clone());
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..200u64 {
            let now = t0 + Duration::from_millis(i);
            let at = s.release(now);
            assert!(at >= last, "in order");
            assert!(
                at >= now + Duration::from_millis(20) || at == last,
                "never sooner than delay - jitter"
            );
            last = at;
        }
        assert_eq!(shape.counters.writes.load(Ordering::Relaxed), 200);
    }

    #[test]
    fn bursts_release_on_period_boundaries_and_loss_costs_an_rto() {
        let shape: NetShape = "burst=100ms,loss=50%,seed=3".parse().unwrap();
        let mut s = Schedule::new(shape.clone());
        let t0 = s.opened;
        for i in 0..50u64 {
            let at = s.release(t0 + Duration::from_millis(3 * i));
            assert_eq!(at.duration_since(t0).as_millis() % 100, 0, "on a burst boundary");
        }
        let lost = shape.counters.retransmitted.load(Ordering::Relaxed);
        assert!(
            (10..=40).contains(&lost),
            "about half of 50 writes retransmitted: {lost}"
        );
    }

    #[test]
    fn each_connection_draws_its_own_conditions_and_a_seed_repeats_them() {
        let releases = |shape: &NetShape| {
            let mut s = Schedule::new(shape.clone());
            let t0 = s.opened;
            (0..40u64)
                .map(|i| s.release(t0 + Duration::from_millis(20 * i)).duration_since(t0))
                .collect::<Vec<_>>()
        };
        let shape: NetShape = "jitter=40ms,loss=10%,seed=5".parse().unwrap();
        let (first, second) = (releases(&shape), releases(&shape));
        assert_ne!(first, second, "two connections of one bench saw the same network");
        let again: NetShape = "jitter=40ms,loss=10%,seed=5".parse().unwrap();
        assert_eq!(
            (releases(&again), releases(&again)),
            (first, second),
            "the seed repeats the run"
        );
    }
}
