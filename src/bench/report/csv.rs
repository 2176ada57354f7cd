//! The CSV report: one header, then a row per stage summary (the whole run, then each session) and a row
//! per turn and per-turn stage. Columns that do not apply are empty; fields never contain a comma or a
//! quote unquoted (file names are quoted).

use std::fmt::Write as _;

use super::super::record::{Report, Stage, StageStats};

pub const HEADER: &str = "scope,input,run,turn,stage,count,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,value_ms";

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn summary_row(out: &mut String, scope: &str, input: &str, run: &str, s: &StageStats) {
    let m = &s.summary;
    let _ = writeln!(
        out,
        "{scope},{},{run},,{},{},{:.3},{:.3},{:.3},{:.3},{:.3},",
        field(input),
        s.stage.key(),
        m.count,
        m.p50,
        m.p90,
        m.p99,
        m.max,
        m.mean
    );
}

pub fn to_csv(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    for s in &report.stages {
        summary_row(&mut out, "aggregate", "", "", s);
    }
    for session in &report.sessions {
        for s in &session.stages {
            summary_row(&mut out, "session", &session.input, &session.run.to_string(), s);
        }
    }
    for t in &report.turns {
        for stage in Stage::ALL {
            if let Some(v) = t.value(stage) {
                let _ = writeln!(
                    out,
                    "turn,{},{},{},{},1,,,,,,{v:.3}",
                    field(&t.input),
                    t.run,
                    t.turn,
                    stage.key()
                );
            }
        }
    }
    out
}
