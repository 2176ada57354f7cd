//! When periodic faults are due on one connection, and how many of each were injected. On a schedule,
//! a fault with period P fires at the server's start + k*P (so faults of different periods interleave
//! across reconnects instead of the shortest always winning); with `random`, after a wait drawn from the
//! server's seeded generator between P/2 and 3P/2 of the previous one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::Rng;
use tokio::time::Instant;

use super::{Faults, PeriodicKind};

/// Faults injected so far, by kind (shared by every connection of a server; tests read it).
#[derive(Debug, Clone, Default)]
pub struct FaultCounts(Arc<[AtomicU64; 8]>);

impl FaultCounts {
    pub const LABELS: [&'static str; 8] = [
        "drop",
        "close",
        "goaway",
        "malformed",
        "oversized",
        "reject-resume",
        "delay",
        "close-mid-turn",
    ];

    pub fn add(&self, label: &str) {
        if let Some(i) = Self::LABELS.iter().position(|l| *l == label) {
            self.0[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self, label: &str) -> u64 {
        Self::LABELS
            .iter()
            .position(|l| *l == label)
            .map(|i| self.0[i].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// `kind=count` for every kind injected at least once.
    pub fn summary(&self) -> String {
        Self::LABELS
            .iter()
            .map(|l| (l, self.get(l)))
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| format!("{l}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct FaultClock {
    kinds: Vec<(PeriodicKind, std::time::Duration)>,
    due: Vec<Instant>,
    random: bool,
    origin: Instant,
    rng: Arc<Mutex<StdRng>>,
}

impl FaultClock {
    /// The clock for a connection set up now, on a server started at `origin`.
    pub fn new(faults: &Faults, origin: Instant, rng: Arc<Mutex<StdRng>>) -> Self {
        let kinds: Vec<_> = faults.periodic.iter().map(|p| (p.kind.clone(), p.every)).collect();
        let mut clock = FaultClock {
            due: Vec::with_capacity(kinds.len()),
            kinds,
            random: faults.random_schedule,
            origin,
            rng,
        };
        let now = Instant::now();
        for i in 0..clock.kinds.len() {
            let at = clock.after(i, now);
            clock.due.push(at);
        }
        clock
    }

    /// The next due time of fault `i` strictly after `now`.
    fn after(&self, i: usize, now: Instant) -> Instant {
        let every = self.kinds[i].1;
        if self.random {
            let factor = self.rng.lock().map(|mut r| r.random_range(0.5..1.5)).unwrap_or(1.0);
            return now + every.mul_f64(factor);
        }
        let since = now.saturating_duration_since(self.origin).as_nanos();
        let period = every.as_nanos().max(1);
        let k = since / period + 1;
        let offset = u64::try_from(k.saturating_mul(period)).unwrap_or(u64::MAX);
        self.origin + std::time::Duration::from_nanos(offset)
    }

    /// The earliest due fault: when, and which.
    pub fn next(&self) -> Option<(Instant, usize)> {
        self.due.iter().copied().enumerate().map(|(i, t)| (t, i)).min()
    }

    /// Fault `i` fired: what it is; it is due again one period later.
    pub fn fire(&mut self, i: usize) -> PeriodicKind {
        let now = Instant::now();
        self.due[i] = self.after(i, now);
        self.kinds[i].0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn scheduled_faults_fire_on_the_server_clock() {
        let faults: Faults = "drop-every=3s,close-1011-every=7s".parse().unwrap();
        let origin = Instant::now();
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(1)));
        tokio::time::advance(Duration::from_secs(5)).await;
        let mut clock = FaultClock::new(&faults, origin, rng);
        assert_eq!(clock.next(), Some((origin + Duration::from_secs(6), 0)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(clock.fire(0), PeriodicKind::Drop);
        assert_eq!(clock.next(), Some((origin + Duration::from_secs(7), 1)));
    }

    #[tokio::test(start_paused = true)]
    async fn random_waits_repeat_for_a_seed() {
        let faults: Faults = "drop-every=1s,random".parse().unwrap();
        let draw = || {
            let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(7)));
            let clock = FaultClock::new(&faults, Instant::now(), rng);
            clock.next().unwrap().0 - Instant::now()
        };
        let (a, b) = (draw(), draw());
        assert_eq!(a, b);
        assert!(a >= Duration::from_millis(500) && a <= Duration::from_millis(1500));
    }

    #[test]
    fn counts_by_kind() {
        let c = FaultCounts::default();
        c.add("drop");
        c.add("drop");
        c.add("goaway");
        c.add("unknown");
        assert_eq!(c.summary(), "drop=2, goaway=1");
    }
}
