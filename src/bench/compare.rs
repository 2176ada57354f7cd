//! `--compare OLD.json`: every metric of this run beside the same metric of an earlier one, with the
//! change and the ratio new / old. A run compared with itself shows no change.
//!
//! Before the table, one warning per condition the two runs differ in (mode, VAD, AEC, files, runs,
//! concurrency, `--net`, reply delay, endpoint, version, machine; `conditions.rs`): a ratio between runs
//! that measured different things is not an improvement. The old report is read as plain JSON, field by
//! field, so an older file missing a field leaves it unknown rather than failing, and its numbers, however
//! absurd, print in a column of fixed width.

mod conditions;

use std::fmt;
use std::path::Path;

use serde_json::Value;

pub use conditions::{Check, Conditions, Mismatch};

use super::record::{Report, Stage};

/// Largest magnitude printed in plain decimals; beyond it, scientific notation keeps the column's width.
const PLAIN_MAX: f64 = 1e6;

/// Why an old report could not be read for `--compare`.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    // `error`, not `source`: the message already holds it, and a chained source prints it twice
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: not JSON: {error}")]
    Json { path: String, error: serde_json::Error },
    /// Valid JSON, but without the `stages` list every report has: nothing to compare with.
    #[error("{path}: not a voxlive bench report (no \"stages\" list)")]
    NotAReport { path: String },
}

/// Reads an earlier JSON report leniently: only the `stages` list is required, every other field the
/// comparison uses may be missing (it is then unknown). Unlike `report::json::read`, an older schema is
/// not an error.
pub fn read_old(path: &Path) -> Result<Value, CompareError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| CompareError::Read { path: shown(), error })?;
    let value: Value = serde_json::from_str(&text).map_err(|error| CompareError::Json { path: shown(), error })?;
    if !value["stages"].is_array() {
        return Err(CompareError::NotAReport { path: shown() });
    }
    Ok(value)
}

/// One metric in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

impl Row {
    /// new / old, when both are finite and old is not zero: a ratio to zero, infinity or NaN means nothing.
    pub fn ratio(&self) -> Option<f64> {
        match (self.old, self.new) {
            (Some(o), Some(n)) if o != 0.0 && o.is_finite() && n.is_finite() => Some(n / o).filter(|r| r.is_finite()),
            _ => None,
        }
    }

    pub fn unchanged(&self) -> bool {
        self.old == self.new
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What the two runs differ in (printed before the table) and what the old one does not record.
    pub conditions: Check,
    pub rows: Vec<Row>,
}

impl Comparison {
    /// No metric changed (the conditions are not metrics: see [`Comparison::comparable`]).
    pub fn unchanged(&self) -> bool {
        self.rows.iter().all(Row::unchanged)
    }

    /// No condition is known to differ.
    pub fn comparable(&self) -> bool {
        self.conditions.mismatches.is_empty()
    }
}

/// Compares two reports read with `report::json::read` (or made by this run).
pub fn compare(old: &Report, new: &Report) -> Comparison {
    // a Report is plain serde data: turning it into a JSON value cannot fail
    let as_json = |r: &Report| serde_json::to_value(r).unwrap_or(Value::Null);
    compare_json(&as_json(old), &as_json(new))
}

/// Compares two reports as JSON (the old one from [`read_old`]): a field either lacks is unknown.
pub fn compare_json(old: &Value, new: &Value) -> Comparison {
    Comparison {
        conditions: conditions::check(&Conditions::from_json(old), &Conditions::from_json(new)),
        rows: rows(old, new),
    }
}

/// Compares this run with an old report from [`read_old`] (what `--compare` should call, so that an
/// older schema is read field by field instead of rejected whole).
pub fn compare_old(old: &Value, new: &Report) -> Comparison {
    compare_json(old, &serde_json::to_value(new).unwrap_or(Value::Null))
}

/// A stage's summary figure (`p50`, ...) in a report, if the report has the stage and the figure.
fn stage_figure(report: &Value, stage: Stage, figure: &str) -> Option<f64> {
    let key = stage_key(report, stage)?;
    report["stages"]
        .as_array()?
        .iter()
        .find(|s| s["stage"].as_str() == Some(key))
        .and_then(|s| s[figure].as_f64())
}

/// The key `stage` has in `report`: reports made before the jitter buffer's real depth was sampled have
/// no `jitter_target`, and their `jitter_depth` was the target; their real depth is unknown.
fn stage_key(report: &Value, stage: Stage) -> Option<&'static str> {
    let legacy = report["stages"]
        .as_array()
        .is_some_and(|a| !a.iter().any(|s| s["stage"].as_str() == Some(Stage::JitterTarget.key())));
    match stage {
        Stage::JitterTarget if legacy => Some(Stage::JitterDepth.key()),
        Stage::JitterDepth if legacy => None,
        s => Some(s.key()),
    }
}

fn has_stage(report: &Value, stage: Stage) -> bool {
    let Some(key) = stage_key(report, stage) else {
        return false;
    };
    report["stages"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s["stage"].as_str() == Some(key)))
}

fn counter(report: &Value, name: &str) -> Option<f64> {
    report["counters"][name].as_u64().map(|n| n as f64)
}

fn rows(old: &Value, new: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for stage in Stage::ALL {
        if !has_stage(old, stage) && !has_stage(new, stage) {
            continue;
        }
        for figure in ["p50", "p90", "p99", "max"] {
            rows.push(Row {
                metric: format!("{} {figure} (ms)", stage.label()),
                old: stage_figure(old, stage, figure),
                new: stage_figure(new, stage, figure),
            });
        }
    }
    let cpu = |r: &Value| r["cpu_per_audio_sec"].as_f64().map(|c| c * 1e3);
    rows.push(Row {
        metric: "CPU per audio second (ms)".into(),
        old: cpu(old),
        new: cpu(new),
    });
    let rss = |r: &Value| r["peak_rss_mb"].as_f64();
    rows.push(Row {
        metric: "peak RSS (MB)".into(),
        old: rss(old),
        new: rss(new),
    });
    let dropped = |r: &Value| Some(counter(r, "frames_dropped")? + counter(r, "session_frames_dropped")?);
    for (name, old, new) in [
        (
            "unanswered turns",
            counter(old, "unanswered_turns"),
            counter(new, "unanswered_turns"),
        ),
        ("frames dropped", dropped(old), dropped(new)),
        (
            "jitter underruns",
            counter(old, "jitter_underruns"),
            counter(new, "jitter_underruns"),
        ),
    ] {
        rows.push(Row {
            metric: name.into(),
            old,
            new,
        });
    }
    rows
}

/// A value for a 10-wide column: `-` when absent, `n/a` when not finite, scientific beyond [`PLAIN_MAX`]
/// (an old file's `1e308` is not 309 digits), two decimals below 10.
pub(crate) fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if !v.is_finite() => "n/a".into(),
        Some(v) if v.abs() >= PLAIN_MAX => format!("{v:.2e}"),
        Some(v) if v.abs() < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
    }
}

/// new - old, signed, in the same bounded form; `n/a` when either is absent or the difference is not finite.
fn change(r: &Row) -> String {
    match (r.old, r.new) {
        _ if r.unchanged() => "no change".into(),
        (Some(o), Some(n)) if (n - o).is_finite() => {
            let d = n - o;
            if d.abs() >= PLAIN_MAX {
                format!("{d:+.2e}")
            } else if d.abs() < 1.0 {
                format!("{d:+.2}")
            } else {
                format!("{d:+.1}")
            }
        }
        _ => "n/a".into(),
    }
}

fn ratio(r: &Row) -> String {
    match (r.old, r.new, r.ratio()) {
        (None, _, _) | (_, None, _) => "-".into(),
        (_, _, None) => "n/a".into(),
        (_, _, Some(x)) if x >= PLAIN_MAX => format!("{x:.1e}x"),
        (_, _, Some(x)) => format!("{x:.2}x"),
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.conditions)?;
        writeln!(
            f,
            "{:<50} {:>10} {:>10} {:>10} {:>7}",
            "metric", "old", "new", "change", "ratio"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<50} {:>10} {:>10} {:>10} {:>7}",
                r.metric,
                number(r.old),
                number(r.new),
                change(r),
                ratio(r)
            )?;
        }
        if self.unchanged() {
            writeln!(f, "no change in any metric")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(p50: f64, vad: &str, inputs: &[&str]) -> Value {
        json!({
            "voxlive_version": "0.1.0",
            "machine": {"cpu_model": "AMD EPYC", "cores": 2},
            "settings": {"inputs": inputs, "runs": 1, "endpoint": "embedded", "mode": "hands-free",
                         "vad": vad, "aec": true, "concurrency": 1, "net": null, "reply_delay_ms": null},
            "cpu_per_audio_sec": 0.01, "peak_rss_mb": 40.0,
            "stages": [{"stage": "speech_end_to_first_byte", "label": "x", "unit": "ms", "count": 3,
                        "p50": p50, "p90": 600.0, "p99": 650.0, "max": 650.0, "min": 1.0, "mean": 2.0}],
            "counters": {"frames_sent": 9, "frames_dropped": 0, "session_frames_dropped": 0,
                         "jitter_underruns": 0, "unanswered_turns": 0},
        })
    }

    fn row(c: &Comparison, metric: &str) -> Row {
        c.rows.iter().find(|r| r.metric.contains(metric)).cloned().unwrap()
    }

    #[test]
    fn runs_that_measured_different_things_are_flagged_before_the_table() {
        let old = report(
            555.7,
            "server",
            &["a/01.wav", "a/02.wav", "a/03.wav", "a/04.wav", "a/05.wav", "a/06.wav"],
        );
        let new = report(300.0, "local", &["01.wav"]);
        let c = compare_json(&old, &new);
        assert!(!c.comparable());
        let text = c.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("warning: not comparable, the runs differ in VAD: old server, new local"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("warning: not comparable, the runs differ in input files: old 6 files, new 1 file;"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("metric"),
            "the warnings come before the table: {text}"
        );
        // the same run: no warning, no change
        let c = compare_json(&old, &old);
        assert!(c.comparable() && c.unchanged());
        assert!(c.to_string().starts_with("metric"), "{c}");
    }

    #[test]
    fn an_absurd_old_value_keeps_the_table_aligned() {
        let old = report(1e308, "server", &["a.wav"]);
        let new = report(300.0, "server", &["a.wav"]);
        let c = compare_json(&old, &new);
        let text = c.to_string();
        let p50 = text.lines().find(|l| l.contains("first reply byte p50")).unwrap();
        assert!(p50.len() <= 50 + 4 * 11 + 8, "{p50}");
        assert!(p50.contains("1.00e308") && p50.contains("-1.00e308"), "{p50}");
        let widths: Vec<usize> = text
            .lines()
            .skip_while(|l| !l.starts_with("metric"))
            .map(str::len)
            .collect();
        assert!(
            widths.iter().all(|&w| w == widths[0]),
            "every row as wide as the header: {text}"
        );
    }

    #[test]
    fn values_and_ratios_are_bounded() {
        assert_eq!(number(None), "-");
        assert_eq!(number(Some(f64::NAN)), "n/a");
        assert_eq!(number(Some(f64::INFINITY)), "n/a");
        assert_eq!(number(Some(1e308)), "1.00e308");
        assert_eq!(number(Some(-2.5e7)), "-2.50e7");
        assert_eq!(number(Some(999_999.94)), "999999.9");
        assert_eq!(number(Some(4.256)), "4.26");
        let r = |old, new| Row {
            metric: "m".into(),
            old,
            new,
        };
        assert_eq!(ratio(&r(Some(0.0), Some(5.0))), "n/a");
        assert_eq!(ratio(&r(Some(0.0), Some(0.0))), "n/a", "0 / 0 is no ratio");
        assert_eq!(ratio(&r(Some(f64::INFINITY), Some(5.0))), "n/a");
        assert_eq!(ratio(&r(Some(f64::NAN), Some(5.0))), "n/a");
        assert_eq!(ratio(&r(Some(1e-300), Some(1e300))), "n/a", "an overflowing ratio");
        assert_eq!(ratio(&r(None, Some(5.0))), "-");
        assert_eq!(ratio(&r(Some(2.0), Some(5.0))), "2.50x");
        assert_eq!(ratio(&r(Some(1.0), Some(5e7))), "5.0e7x");
        assert_eq!(
            change(&r(Some(-1e308), Some(1e308))),
            "n/a",
            "an overflowing difference"
        );
        assert_eq!(change(&r(Some(1.0), Some(1.5))), "+0.50");
        assert_eq!(change(&r(Some(0.0), Some(2e9))), "+2.00e9");
    }

    #[test]
    fn an_older_file_without_machine_settings_or_counters_still_compares() {
        let new = report(300.0, "server", &["a.wav"]);
        let old = json!({"stages": [{"stage": "speech_end_to_first_byte", "p50": 600.0}]});
        let c = compare_json(&old, &new);
        assert!(c.comparable(), "unknown is not different: {c:?}");
        assert_eq!(c.conditions.unknown_old.len(), 12);
        let p50 = row(&c, "first reply byte p50");
        assert_eq!((p50.old, p50.new, p50.ratio()), (Some(600.0), Some(300.0), Some(0.5)));
        assert_eq!(row(&c, "first reply byte p90").old, None);
        assert_eq!(row(&c, "unanswered turns").old, None);
        assert!(
            c.to_string()
                .starts_with("note: the old report does not record mode, VAD"),
            "{c}"
        );
    }

    #[test]
    fn read_old_accepts_a_partial_report_and_rejects_what_is_none() {
        let dir = std::env::temp_dir().join(format!("voxlive-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        assert!(read_old(&write("partial.json", r#"{"stages": []}"#)).is_ok());
        assert!(matches!(
            read_old(&write("array.json", "[1]")),
            Err(CompareError::NotAReport { .. })
        ));
        assert!(matches!(
            read_old(&write("bad.json", "{")),
            Err(CompareError::Json { .. })
        ));
        assert!(matches!(
            read_old(&dir.join("missing.json")),
            Err(CompareError::Read { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_committed_reports_compare_with_their_differences_named() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/runs/bench-2026-12-02");
        let old = read_old(&root.join("server-vad-net.json")).expect("a committed report");
        let new = read_old(&root.join("local-vad.json")).expect("a committed report");
        let c = compare_json(&old, &new);
        let what: Vec<&str> = c.conditions.mismatches.iter().map(|m| m.what).collect();
        assert_eq!(what, ["VAD", "runs", "--net"], "{c}");
        assert!(c.conditions.unknown_old.is_empty(), "{c}");
    }

    #[test]
    fn an_old_reports_jitter_depth_was_the_target_and_compares_as_such() {
        let stage = |key: &str, p50: f64| serde_json::json!({"stage": key, "p50": p50});
        let old = serde_json::json!({"stages": [stage("jitter_depth", 40.0)]});
        let new = serde_json::json!({"stages": [stage("jitter_depth", 170.0), stage("jitter_target", 40.0)]});
        assert_eq!(stage_figure(&old, Stage::JitterTarget, "p50"), Some(40.0));
        assert_eq!(
            stage_figure(&old, Stage::JitterDepth, "p50"),
            None,
            "unknown in an old report"
        );
        assert_eq!(stage_figure(&new, Stage::JitterDepth, "p50"), Some(170.0));
        assert_eq!(stage_figure(&new, Stage::JitterTarget, "p50"), Some(40.0));
    }
}
