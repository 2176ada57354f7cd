//! The compact fault spec of `voxlive serve --faults SPEC`: comma-separated items, each checked before it
//! sizes a timer or a frame.
//!
//! ```text
//! drop-every=3s,goaway-every=5s:timeleft=2s,close-1011-every=7s,delay=40ms,jitter=20ms,
//! reject-resume=0.2,malformed-every=4s,oversized-every=6s:bytes=2097152,random,seed=7,first=3
//! ```
//! - `KIND-every=D`: inject KIND every D on each connection (on a schedule from the server's start, or,
//!   with `random`, after a seeded random wait between D/2 and 3D/2). Kinds: `drop` (no close frame),
//!   `close-CODE` (a close frame with that code), `goaway` (`:timeleft=D`, default 2s), `malformed`
//!   (a frame that is not JSON), `oversized` (`:bytes=N`, default 2 MiB, a frame over the client's limit).
//! - `delay=D`, `jitter=D`: wait D (plus or minus up to the jitter) before each reply.
//! - `reject-resume=P`: refuse a resumption handle with probability P (1 = always).
//! - `seed=N`: the random draws (jitter, `random`, `reject-resume`) repeat for the same seed.
//! - `first=N`: only the first N connections get faults.

use std::fmt;
use std::time::Duration;

use super::{Faults, Periodic, PeriodicKind};

/// The shortest period a fault may have: faster would pin a core and never let a turn finish.
pub const MIN_EVERY: Duration = Duration::from_millis(10);
/// The longest duration any item takes (a day).
pub const MAX_SPEC_DURATION: Duration = Duration::from_secs(86_400);
/// The largest oversized frame (64 MiB): enough to exceed any sane client limit, bounded for the server.
pub const MAX_OVERSIZED: usize = 64 << 20;
/// Default size of an oversized frame: twice the official SDK's 1 MiB limit.
pub const DEFAULT_OVERSIZED: usize = 2 << 20;
/// Default `timeLeft` of an injected goAway.
pub const DEFAULT_TIME_LEFT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--faults: {item:?}: {problem}")]
pub struct FaultSpecError {
    pub item: String,
    pub problem: String,
}

fn bad(item: &str, problem: impl Into<String>) -> FaultSpecError {
    FaultSpecError {
        item: item.chars().take(80).collect(),
        problem: problem.into(),
    }
}

/// A duration such as `3s`, `40ms`, `1.5s`, `2m`, checked to lie in `min..=MAX_SPEC_DURATION`.
pub fn parse_spec_duration(item: &str, text: &str, min: Duration) -> Result<Duration, FaultSpecError> {
    let text = text.trim();
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad(item, format!("{text:?} needs a unit: ms, s or m")));
    };
    let value: f64 = number
        .parse()
        .map_err(|_| bad(item, format!("{number:?} is not a number")))?;
    let secs = value * unit;
    if !secs.is_finite() || secs < min.as_secs_f64() || secs > MAX_SPEC_DURATION.as_secs_f64() {
        return Err(bad(
            item,
            format!("{text} is out of range ({min:?} to {MAX_SPEC_DURATION:?})"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_kind(item: &str, name: &str) -> Result<PeriodicKind, FaultSpecError> {
    match name {
        "drop" => Ok(PeriodicKind::Drop),
        "goaway" => Ok(PeriodicKind::GoAway {
            time_left: DEFAULT_TIME_LEFT,
        }),
        "malformed" => Ok(PeriodicKind::Malformed),
        "oversized" => Ok(PeriodicKind::Oversized {
            bytes: DEFAULT_OVERSIZED,
        }),
        other => match other.strip_prefix("close-").map(str::parse::<u16>) {
            Some(Ok(code)) if (1000..=4999).contains(&code) && !matches!(code, 1004..=1006 | 1015) => {
                Ok(PeriodicKind::Close { code })
            }
            Some(_) => Err(bad(
                item,
                "close-CODE needs a code a close frame may carry (1000-4999, not 1004-1006 or 1015)",
            )),
            None => Err(bad(
                item,
                "unknown fault (drop, close-CODE, goaway, malformed, oversized)",
            )),
        },
    }
}

impl std::str::FromStr for Faults {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Faults, FaultSpecError> {
        let mut f = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "random" {
                f.random_schedule = true;
                continue;
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(item, "expected KEY=VALUE (or `random`)"))?;
            match key {
                "delay" => f.reply_delay = Some(parse_spec_duration(item, value, Duration::ZERO)?),
                "jitter" => f.reply_jitter = Some(parse_spec_duration(item, value, Duration::ZERO)?),
                "reject-resume" => {
                    let p: f64 = value.parse().map_err(|_| bad(item, "a probability from 0 to 1"))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(bad(item, "a probability from 0 to 1"));
                    }
                    f.reject_resume_probability = p;
                    f.reject_resumption = p >= 1.0;
                }
                "seed" => f.seed = Some(value.parse().map_err(|_| bad(item, "a whole number"))?),
                "first" => f.first_connections = Some(value.parse().map_err(|_| bad(item, "a whole number"))?),
                _ => {
                    let kind = key.strip_suffix("-every").ok_or_else(|| bad(item, "unknown key"))?;
                    let mut kind = parse_kind(item, kind)?;
                    let mut parts = value.split(':');
                    let every = parse_spec_duration(item, parts.next().unwrap_or(""), MIN_EVERY)?;
                    for option in parts {
                        match (&mut kind, option.split_once('=')) {
                            (PeriodicKind::GoAway { time_left }, Some(("timeleft", v))) => {
                                *time_left = parse_spec_duration(item, v, Duration::ZERO)?
                            }
                            (PeriodicKind::Oversized { bytes }, Some(("bytes", v))) => {
                                let n: usize = v.parse().map_err(|_| bad(item, "bytes: a whole number"))?;
                                if !(1..=MAX_OVERSIZED).contains(&n) {
                                    return Err(bad(item, format!("bytes: 1 to {MAX_OVERSIZED}")));
                                }
                                *bytes = n;
                            }
                            _ => return Err(bad(item, format!("unknown option {option:?}"))),
                        }
                    }
                    f.periodic.push(Periodic { kind, every });
                }
            }
        }
        Ok(f)
    }
}

fn dur(d: Duration) -> String {
    if d.subsec_nanos() % 1_000_000 == 0 && d.as_millis() % 1000 != 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

impl fmt::Display for Faults {
    /// The spec that parses back to these faults (the periodic, delay, resume and seed items).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        for p in &self.periodic {
            items.push(match &p.kind {
                PeriodicKind::Drop => format!("drop-every={}", dur(p.every)),
                PeriodicKind::Close { code } => format!("close-{code}-every={}", dur(p.every)),
                PeriodicKind::GoAway { time_left } => {
                    format!("goaway-every={}:timeleft={}", dur(p.every), dur(*time_left))
                }
                PeriodicKind::Malformed => format!("malformed-every={}", dur(p.every)),
                PeriodicKind::Oversized { bytes } => format!("oversized-every={}:bytes={bytes}", dur(p.every)),
            });
        }
        if let Some(d) = self.reply_delay {
            items.push(format!("delay={}", dur(d)));
        }
        if let Some(d) = self.reply_jitter {
            items.push(format!("jitter={}", dur(d)));
        }
        if self.reject_resume_probability > 0.0 {
            items.push(format!("reject-resume={}", self.reject_resume_probability));
        }
        if self.random_schedule {
            items.push("random".into());
        }
        if let Some(s) = self.seed {
            items.push(format!("seed={s}"));
        }
        if let Some(n) = self.first_connections {
            items.push(format!("first={n}"));
        }
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_parses() {
        let f: Faults = "drop-every=3s,goaway-every=5s:timeleft=2s,close-1011-every=7s,delay=40ms,jitter=20ms,reject-resume=0.2,seed=7"
            .parse()
            .unwrap();
        assert_eq!(
            f.periodic,
            vec![
                Periodic {
                    kind: PeriodicKind::Drop,
                    every: Duration::from_secs(3)
                },
                Periodic {
                    kind: PeriodicKind::GoAway {
                        time_left: Duration::from_secs(2)
                    },
                    every: Duration::from_secs(5)
                },
                Periodic {
                    kind: PeriodicKind::Close { code: 1011 },
                    every: Duration::from_secs(7)
                },
            ]
        );
        assert_eq!(f.reply_delay, Some(Duration::from_millis(40)));
        assert_eq!(f.reply_jitter, Some(Duration::from_millis(20)));
        assert_eq!(f.reject_resume_probability, 0.2);
        assert_eq!(f.seed, Some(7));
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
    }

    #[test]
    fn bad_items_are_clear_errors() {
        for spec in [
            "drop-every=0s",
            "drop-every=1e300s",
            "drop-every=3",
            "drop-every=-1s",
            "drop-every=NaNs",
            "close-99999-every=1s",
            "close-1006-every=1s",
            "explode-every=1s",
            "reject-resume=1.5",
            "reject-resume=x",
            "oversized-every=1s:bytes=99999999999",
            "goaway-every=1s:foo=1",
            "seed=-1",
            "nonsense",
            "delay=1e20ms",
        ] {
            let e = spec.parse::<Faults>().unwrap_err();
            assert!(e.to_string().starts_with("--faults: "), "{spec}: {e}");
        }
    }

    #[test]
    fn malformed_and_oversized_take_options() {
        let f: Faults = "malformed-every=4s,oversized-every=6s:bytes=4096,random,first=2"
            .parse()
            .unwrap();
        assert_eq!(f.periodic.len(), 2);
        assert!(f.random_schedule);
        assert_eq!(f.first_connections, Some(2));
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
    }
}
