//! What a run measured (mode, VAD, AEC, files, runs, concurrency, network, reply delay, endpoint, version,
//! machine), so that `--compare` can say when two reports are not comparable before it prints ratios: a
//! server-VAD run over six files against a local-VAD run over one is not an improvement of 0.54x.
//!
//! Read from the report's JSON, not its Rust type, so an older or hand-edited file that lacks a field (or
//! holds it with another type) leaves that field unknown instead of failing the comparison.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde_json::Value;

/// Longest text of an old report shown in a warning: the file may hold anything.
const SHOWN_MAX_CHARS: usize = 60;
/// Input file names listed in a warning before "+N more".
const SHOWN_MAX_NAMES: usize = 3;

/// The conditions of one run. `None`: the report does not say (an older file); a JSON `null` where the
/// report records "none" (no `--net`, no reply delay) is a known value, not an unknown one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    pub mode: Option<String>,
    pub vad: Option<String>,
    pub aec: Option<bool>,
    /// The input files' names (not their paths: the same set under another directory is the same input).
    pub inputs: Option<BTreeSet<String>>,
    pub runs: Option<u64>,
    pub concurrency: Option<u64>,
    /// The `--net` spec, `"none"` for loopback.
    pub net: Option<String>,
    /// The embedded server's reply delay in ms, 0 when none was given.
    pub reply_delay_ms: Option<f64>,
    /// `embedded` or the remote endpoint's origin.
    pub endpoint: Option<String>,
    pub version: Option<String>,
    pub cpu_model: Option<String>,
    pub cores: Option<u64>,
}

impl Conditions {
    /// Every field the JSON report (`report::json`) holds, each read on its own.
    pub fn from_json(report: &Value) -> Conditions {
        let settings = &report["settings"];
        let machine = &report["machine"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        Conditions {
            mode: text(&settings["mode"]),
            vad: text(&settings["vad"]),
            aec: settings["aec"].as_bool(),
            inputs: settings["inputs"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|p| {
                        Path::new(p)
                            .file_name()
                            .map_or_else(|| p.to_string(), |f| f.to_string_lossy().into_owned())
                    })
                    .collect()
            }),
            runs: settings["runs"].as_u64(),
            concurrency: settings["concurrency"].as_u64(),
            // present but null = "none"; absent (or another type) = unknown
            net: match settings.get("net") {
                Some(Value::Null) => Some("none".into()),
                Some(v) => text(v),
                None => None,
            },
            reply_delay_ms: match settings.get("reply_delay_ms") {
                Some(Value::Null) => Some(0.0),
                Some(v) => v.as_f64(),
                None => None,
            },
            endpoint: text(&settings["endpoint"]),
            version: text(&report["voxlive_version"]),
            cpu_model: text(&machine["cpu_model"]),
            cores: machine["cores"].as_u64(),
        }
    }
}

/// One condition that differs between the two runs: their figures measure different things.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub what: &'static str,
    /// Old and new, as shown.
    pub detail: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "warning: not comparable, the runs differ in {}: {}",
            self.what, self.detail
        )
    }
}

/// What the two runs' conditions say: what differs, and what either report does not record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Check {
    pub mismatches: Vec<Mismatch>,
    /// Conditions the old report does not record (not checked).
    pub unknown_old: Vec<&'static str>,
    /// Conditions the new report does not record (only an edited file lacks them).
    pub unknown_new: Vec<&'static str>,
}

/// `s` safe to print on one line of a terminal: control characters escaped, at most [`SHOWN_MAX_CHARS`].
pub fn shown(s: &str) -> String {
    let escaped: String = s.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() <= SHOWN_MAX_CHARS {
        escaped
    } else {
        let cut: String = escaped.chars().take(SHOWN_MAX_CHARS - 3).collect();
        format!("{cut}...")
    }
}

fn names(set: &BTreeSet<&String>) -> String {
    let mut out: Vec<String> = set.iter().take(SHOWN_MAX_NAMES).map(|n| shown(n)).collect();
    if set.len() > SHOWN_MAX_NAMES {
        out.push(format!("+{} more", set.len() - SHOWN_MAX_NAMES));
    }
    out.join(", ")
}

fn count(n: usize) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}

/// Old and new input sets: how many, and which are only in one of them.
fn inputs_detail(old: &BTreeSet<String>, new: &BTreeSet<String>) -> String {
    let only_old: BTreeSet<&String> = old.difference(new).collect();
    let only_new: BTreeSet<&String> = new.difference(old).collect();
    let mut d = format!("old {}, new {}", count(old.len()), count(new.len()));
    if !only_old.is_empty() {
        d.push_str(&format!("; only in old: {}", names(&only_old)));
    }
    if !only_new.is_empty() {
        d.push_str(&format!("; only in new: {}", names(&only_new)));
    }
    d
}

fn endpoint_shown(e: &str) -> String {
    if e == "embedded" {
        "embedded server".into()
    } else {
        format!("remote {}", shown(e))
    }
}

fn delay_shown(ms: f64) -> String {
    if ms == 0.0 {
        "none".into()
    } else {
        format!("{} ms", super::number(Some(ms)))
    }
}

/// Compares every condition; a field unknown on either side is listed, not compared.
pub fn check(old: &Conditions, new: &Conditions) -> Check {
    let mut c = Check::default();
    let mut field = |what: &'static str, o: Option<String>, n: Option<String>, detail: Option<String>| match (o, n) {
        (None, n) => {
            c.unknown_old.push(what);
            if n.is_none() {
                c.unknown_new.push(what);
            }
        }
        (Some(_), None) => c.unknown_new.push(what),
        (Some(o), Some(n)) if o != n => c.mismatches.push(Mismatch {
            what,
            detail: detail.unwrap_or_else(|| format!("old {o}, new {n}")),
        }),
        _ => {}
    };
    let s = |v: &Option<String>| v.as_deref().map(shown);
    let on_off = |v: Option<bool>| v.map(|b| if b { "on" } else { "off" }.to_string());
    let num = |v: Option<u64>| v.map(|n| n.to_string());
    field("mode", s(&old.mode), s(&new.mode), None);
    field("VAD", s(&old.vad), s(&new.vad), None);
    field("AEC", on_off(old.aec), on_off(new.aec), None);
    let inputs_detail = match (&old.inputs, &new.inputs) {
        (Some(o), Some(n)) => Some(inputs_detail(o, n)),
        _ => None,
    };
    // sets compared as sets: the names joined in order are equal exactly when the sets are
    let joined = |v: &Option<BTreeSet<String>>| v.as_ref().map(|s| s.iter().cloned().collect::<Vec<_>>().join("\n"));
    field("input files", joined(&old.inputs), joined(&new.inputs), inputs_detail);
    field("runs", num(old.runs), num(new.runs), None);
    field("concurrency", num(old.concurrency), num(new.concurrency), None);
    field("--net", s(&old.net), s(&new.net), None);
    field(
        "reply delay",
        old.reply_delay_ms.map(delay_shown),
        new.reply_delay_ms.map(delay_shown),
        None,
    );
    field(
        "endpoint",
        old.endpoint.as_deref().map(endpoint_shown),
        new.endpoint.as_deref().map(endpoint_shown),
        None,
    );
    field("voxlive version", s(&old.version), s(&new.version), None);
    field("CPU model", s(&old.cpu_model), s(&new.cpu_model), None);
    field("CPU cores", num(old.cores), num(new.cores), None);
    c
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.mismatches {
            writeln!(f, "{m}")?;
        }
        for (side, unknown) in [("old", &self.unknown_old), ("new", &self.unknown_new)] {
            if !unknown.is_empty() {
                writeln!(
                    f,
                    "note: the {side} report does not record {}: not checked",
                    unknown.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(settings: Value) -> Value {
        json!({
            "voxlive_version": "0.1.0",
            "machine": {"cpu_model": "AMD EPYC", "cores": 2, "os": "Debian", "kernel": "6"},
            "settings": settings,
        })
    }

    fn six_files_server_vad() -> Value {
        report(json!({
            "inputs": ["models/bench/01_short.wav", "models/bench/02_medium.wav", "models/bench/03_long.wav",
                       "models/bench/04_noisy.wav", "models/bench/05_long_pause.wav", "models/bench/06_two.wav"],
            "runs": 2, "endpoint": "embedded", "mode": "hands-free", "vad": "server", "aec": true,
            "concurrency": 1, "net": "delay=40ms,jitter=20ms,loss=1%,seed=1", "reply_delay_ms": null,
            "command": "bench"
        }))
    }

    fn check_json(old: &Value, new: &Value) -> Check {
        check(&Conditions::from_json(old), &Conditions::from_json(new))
    }

    #[test]
    fn the_same_conditions_give_no_warning() {
        let r = six_files_server_vad();
        assert_eq!(check_json(&r, &r), Check::default());
        // the same files under another directory are the same input
        let mut moved = r.clone();
        moved["settings"]["inputs"] = json!([
            "/elsewhere/01_short.wav",
            "02_medium.wav",
            "x/03_long.wav",
            "04_noisy.wav",
            "05_long_pause.wav",
            "06_two.wav"
        ]);
        assert_eq!(check_json(&r, &moved), Check::default());
    }

    #[test]
    fn every_difference_is_one_warning() {
        let old = six_files_server_vad();
        let new = json!({
            "voxlive_version": "0.2.0",
            "machine": {"cpu_model": "Intel Xeon", "cores": 8},
            "settings": {
                "inputs": ["models/bench/01_short.wav", "other.wav"], "runs": 3,
                "endpoint": "https://example.com", "mode": "ptt", "vad": "local", "aec": false,
                "concurrency": 4, "net": null, "reply_delay_ms": 250.0
            }
        });
        let c = check_json(&old, &new);
        let what: Vec<&str> = c.mismatches.iter().map(|m| m.what).collect();
        assert_eq!(
            what,
            [
                "mode",
                "VAD",
                "AEC",
                "input files",
                "runs",
                "concurrency",
                "--net",
                "reply delay",
                "endpoint",
                "voxlive version",
                "CPU model",
                "CPU cores"
            ]
        );
        assert!(c.unknown_old.is_empty() && c.unknown_new.is_empty(), "{c:?}");
        let text = c.to_string();
        assert_eq!(text.lines().count(), 12, "{text}");
        assert!(text.lines().all(|l| l.starts_with("warning: ")), "{text}");
        assert!(text.contains("differ in VAD: old server, new local\n"), "{text}");
        assert!(
            text.contains("differ in input files: old 6 files, new 2 files; only in old: 02_medium.wav, 03_long.wav, 04_noisy.wav, +2 more; only in new: other.wav\n"),
            "{text}"
        );
        assert!(
            text.contains("differ in --net: old delay=40ms,jitter=20ms,loss=1%,seed=1, new none\n"),
            "{text}"
        );
        assert!(
            text.contains("differ in reply delay: old none, new 250.0 ms\n"),
            "{text}"
        );
        assert!(
            text.contains("differ in endpoint: old embedded server, new remote https://example.com\n"),
            "{text}"
        );
    }

    #[test]
    fn a_field_missing_in_the_old_file_is_unknown_not_an_error() {
        // an older report: no concurrency, no --net, no reply delay, no machine
        let old = json!({
            "voxlive_version": "0.0.9",
            "settings": {"inputs": ["a.wav"], "runs": 1, "endpoint": "embedded", "mode": "hands-free",
                         "vad": "server", "aec": "yes"}
        });
        let new = report(json!({
            "inputs": ["a.wav"], "runs": 1, "endpoint": "embedded", "mode": "hands-free", "vad": "server",
            "aec": true, "concurrency": 1, "net": null, "reply_delay_ms": null
        }));
        let c = check_json(&old, &new);
        assert_eq!(c.mismatches.len(), 1, "only the version is known to differ: {c:?}");
        assert_eq!(
            c.unknown_old,
            ["AEC", "concurrency", "--net", "reply delay", "CPU model", "CPU cores"]
        );
        assert!(c.unknown_new.is_empty());
        assert!(
            c.to_string()
                .contains("note: the old report does not record AEC, concurrency"),
            "{c}"
        );
        // not even an object: everything unknown, still no panic
        let c = check_json(&json!([1, 2]), &new);
        assert_eq!(c.unknown_old.len(), 12);
    }

    #[test]
    fn strange_text_in_the_old_file_stays_on_one_short_line() {
        let mut old = six_files_server_vad();
        old["machine"]["cpu_model"] = json!(format!("evil\n\u{1b}[2J{}", "x".repeat(10_000)));
        let c = check_json(&old, &six_files_server_vad());
        let text = c.to_string();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.len() < 200 && !text.contains('\u{1b}'), "{text}");
    }
}
