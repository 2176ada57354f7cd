//! Counters the callbacks and the [`super::super::Player`] bump, turned into rare warnings on the DSP
//! thread (the 1st and every 100th occurrence, never per event).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::super::ring::StreamCounters;
use super::super::stats::DspCounters;

/// Warn on the 1st and every 100th occurrence, never per event.
pub fn warn_rarely(count: u64, what: &str) {
    if count == 1 || count % 100 == 0 {
        tracing::warn!(count, "{what}");
    }
}

/// One counter: each check that finds it grown is one occurrence.
#[derive(Default)]
struct Watch {
    last: u64,
    occurrences: u64,
}

impl Watch {
    fn check(&mut self, value: u64, what: &str) {
        if value > self.last {
            self.last = value;
            self.occurrences += 1;
            warn_rarely(self.occurrences, what);
        }
    }
}

/// The counters the DSP thread watches: capture overruns, playback underruns, downlink drops.
pub struct Watches {
    input: Option<Arc<StreamCounters>>,
    output: Option<Arc<StreamCounters>>,
    overruns: Watch,
    underruns: Watch,
    drops: Watch,
}

impl Watches {
    pub fn new(input: Option<Arc<StreamCounters>>, output: Option<Arc<StreamCounters>>) -> Self {
        Watches {
            input,
            output,
            overruns: Watch::default(),
            underruns: Watch::default(),
            drops: Watch::default(),
        }
    }

    /// Warns (rarely) about whatever grew since the last check.
    pub fn check(&mut self, dsp: &DspCounters) {
        if let Some(ic) = &self.input {
            self.overruns.check(
                ic.overruns.load(Ordering::Relaxed),
                "capture overrun: the DSP thread fell behind, audio lost",
            );
        }
        if let Some(oc) = &self.output {
            self.underruns.check(
                oc.underruns.load(Ordering::Relaxed),
                "playback underrun: the speaker played silence",
            );
        }
        self.drops.check(
            dsp.chunks_dropped.load(Ordering::Relaxed),
            "downlink queue full: reply audio dropped",
        );
    }
}
