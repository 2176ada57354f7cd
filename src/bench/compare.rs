//! `--compare OLD.json`: every metric of this run beside the same metric of an earlier one, with the
//! change and the ratio new / old. A run compared with itself shows no change.

use std::fmt;

use super::record::{Report, Stage};

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

impl Row {
    /// new / old, when both exist and old is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.old, self.new) {
            (Some(o), Some(n)) if o != 0.0 => Some(n / o),
            (Some(o), Some(n)) if o == n => Some(1.0),
            _ => None,
        }
    }

    pub fn unchanged(&self) -> bool {
        self.old == self.new
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn unchanged(&self) -> bool {
        self.rows.iter().all(Row::unchanged)
    }
}

pub fn compare(old: &Report, new: &Report) -> Comparison {
    let mut rows = Vec::new();
    for stage in Stage::ALL {
        let (o, n) = (old.stage(stage), new.stage(stage));
        if o.is_none() && n.is_none() {
            continue;
        }
        for (name, pick) in [
            (
                "p50",
                (|s: &super::stats::Summary| s.p50) as fn(&super::stats::Summary) -> f64,
            ),
            ("p90", |s| s.p90),
            ("p99", |s| s.p99),
            ("max", |s| s.max),
        ] {
            rows.push(Row {
                metric: format!("{} {name} (ms)", stage.label()),
                old: o.map(|s| pick(&s.summary)),
                new: n.map(|s| pick(&s.summary)),
            });
        }
    }
    rows.push(Row {
        metric: "CPU per audio second (ms)".into(),
        old: old.cpu_per_audio_sec.map(|c| c * 1e3),
        new: new.cpu_per_audio_sec.map(|c| c * 1e3),
    });
    rows.push(Row {
        metric: "peak RSS (MB)".into(),
        old: old.peak_rss_mb,
        new: new.peak_rss_mb,
    });
    for (name, f) in [
        (
            "unanswered turns",
            (|r: &Report| r.counters.unanswered_turns) as fn(&Report) -> u64,
        ),
        ("frames dropped", |r| {
            r.counters.frames_dropped + r.counters.session_frames_dropped
        }),
        ("jitter underruns", |r| r.counters.jitter_underruns),
    ] {
        rows.push(Row {
            metric: name.into(),
            old: Some(f(old) as f64),
            new: Some(f(new) as f64),
        });
    }
    Comparison { rows }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<50} {:>10} {:>10} {:>10} {:>7}",
            "metric", "old", "new", "change", "ratio"
        )?;
        let num = |v: Option<f64>| {
            v.map(|v| {
                if v.abs() < 10.0 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.1}")
                }
            })
            .unwrap_or_else(|| "-".into())
        };
        for r in &self.rows {
            let change = match (r.old, r.new) {
                _ if r.unchanged() => "no change".to_string(),
                (Some(o), Some(n)) if (n - o).abs() < 1.0 => format!("{:+.2}", n - o),
                (Some(o), Some(n)) => format!("{:+.1}", n - o),
                _ => "n/a".into(),
            };
            let ratio = r.ratio().map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "{:<50} {:>10} {:>10} {:>10} {:>7}",
                r.metric,
                num(r.old),
                num(r.new),
                change,
                ratio
            )?;
        }
        if self.unchanged() {
            writeln!(f, "no change in any metric")?;
        }
        Ok(())
    }
}
