//! The SVG plots, written by hand: `plotters` lays text out through a font backend (font-kit and
//! fontconfig, or ab_glyph with a font file bundled), and a report must render on a machine without fonts
//! installed; SVG text is laid out by the viewer. Two panels:
//! - the latency distribution of every stage: a quantile curve through min, p50, p90, p99 and max on a
//!   log time axis, one `<polyline class="series" data-stage="KEY">` per stage;
//! - a per-turn waterfall: from the end of speech to the turn end sent, to the first reply byte, to the reply
//!   heard, one row per turn (the first [`WATERFALL_TURNS`]).

use std::fmt::Write as _;

use super::super::record::{Report, TurnRecord};

pub const WATERFALL_TURNS: usize = 60;
const WIDTH: f64 = 980.0;
const LEFT: f64 = 200.0;
const RIGHT: f64 = 30.0;
const DIST_TOP: f64 = 60.0;
const DIST_HEIGHT: f64 = 260.0;
/// The distribution's time axis: 0.01 ms to 100 s, log scale.
const LOG_MIN: f64 = -2.0;
const LOG_MAX: f64 = 5.0;
const ROW: f64 = 16.0;
const PALETTE: [&str; 9] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn x_log(ms: f64) -> f64 {
    let l = ms.max(10f64.powf(LOG_MIN)).log10().clamp(LOG_MIN, LOG_MAX);
    LEFT + (l - LOG_MIN) / (LOG_MAX - LOG_MIN) * (WIDTH - LEFT - RIGHT)
}

fn y_frac(f: f64) -> f64 {
    DIST_TOP + DIST_HEIGHT * (1.0 - f)
}

/// Where legend entry `i` goes (two columns under the distribution panel).
fn legend_at(i: usize) -> (f64, f64) {
    let column = (i % 2) as f64;
    let row = (i / 2) as f64;
    (LEFT + column * 340.0, DIST_TOP + DIST_HEIGHT + 34.0 + row * 15.0)
}

fn distribution(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">Latency distribution per stage: min, p50, p90, p99, max (log time axis)</text>"#,
        DIST_TOP - 25.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{DIST_TOP}" width="{}" height="{DIST_HEIGHT}" fill="none" stroke="#888"/>"##,
        WIDTH - LEFT - RIGHT
    );
    for e in (LOG_MIN as i32)..=(LOG_MAX as i32) {
        let ms = 10f64.powi(e);
        let x = x_log(ms);
        let label = if ms < 1000.0 {
            format!("{ms} ms")
        } else {
            format!("{} s", ms / 1000.0)
        };
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{DIST_TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{label}</text>"##,
            DIST_TOP + DIST_HEIGHT,
            DIST_TOP + DIST_HEIGHT + 14.0
        );
    }
    for (f, name) in [(0.0, "min"), (0.5, "p50"), (0.9, "p90"), (1.0, "max")] {
        let y = y_frac(f);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{name}</text>"##,
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 3.0
        );
    }
    for (i, st) in report.stages.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let m = &st.summary;
        let points: Vec<String> = [(m.min, 0.0), (m.p50, 0.5), (m.p90, 0.9), (m.p99, 0.99), (m.max, 1.0)]
            .iter()
            .map(|&(v, f)| format!("{:.1},{:.1}", x_log(v), y_frac(f)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline class="series" data-stage="{}" fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}: n={} p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms</title></polyline>"#,
            st.stage.key(),
            points.join(" "),
            esc(&st.label),
            m.count,
            m.p50,
            m.p90,
            m.p99,
            m.max
        );
        // the legend: two columns under the panel
        let (lx, ly) = legend_at(i);
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}" font-size="11">{} (n={})</text>"#,
            lx + 18.0,
            lx + 22.0,
            ly + 4.0,
            esc(&st.label),
            m.count
        );
    }
}

/// The waterfall's three segments, in order: colour and what each measures.
const SEGMENTS: [(&str, &str); 3] = [
    (
        "#9467bd",
        "to turn end sent (activityEnd, or the frame with the last word)",
    ),
    ("#ff7f0e", "to first reply byte"),
    ("#2ca02c", "to reply heard"),
];

/// The per-turn panel starting at `top`; returns where it ends.
fn waterfall(out: &mut String, turns: &[TurnRecord], top: f64) -> f64 {
    let shown = &turns[..turns.len().min(WATERFALL_TURNS)];
    waterfall_legend(out, top);
    let span = shown
        .iter()
        .flat_map(|t| [t.turn_end_ms, t.first_byte_ms, t.heard_ms])
        .flatten()
        .fold(1.0f64, f64::max);
    let scale = (WIDTH - LEFT - RIGHT) / span;
    let x = |ms: f64| LEFT + ms.max(0.0) * scale;
    let bottom = top + shown.len() as f64 * ROW;
    for k in 0..=4 {
        let ms = span * f64::from(k) / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{top:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{ms:.0}</text>"##,
            x(ms),
            x(ms),
            x(ms),
            top - 4.0
        );
    }
    for (i, t) in shown.iter().enumerate() {
        turn_row(out, t, top + i as f64 * ROW, &x);
    }
    bottom
}

/// The panel's title and the segments' legend, above `top`.
fn waterfall_legend(out: &mut String, top: f64) {
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-size="14" font-weight="bold">Per turn, ms after the end of speech: turn end sent, first reply byte, reply heard</text>"#,
        top - 50.0
    );
    for (k, (colour, what)) in SEGMENTS.iter().enumerate() {
        let lx = LEFT + k as f64 * 170.0;
        let _ = writeln!(
            out,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="9" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10">{what}</text>"#,
            top - 40.0,
            lx + 18.0,
            top - 32.0
        );
    }
}

/// One turn at height `y`: its label, then each measured segment from where the previous one ended.
fn turn_row(out: &mut String, t: &TurnRecord, y: f64, x: &dyn Fn(f64) -> f64) {
    let stem = std::path::Path::new(&t.input)
        .file_stem()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    // long names are cut: the label column is LEFT wide
    let name: String = if stem.chars().count() > 22 {
        stem.chars().take(21).chain(std::iter::once('…')).collect()
    } else {
        stem
    };
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{} #{} turn {}{}</text>"#,
        LEFT - 4.0,
        y + 11.0,
        esc(&name),
        t.run,
        t.turn,
        if t.interrupted { " (int.)" } else { "" }
    );
    let mut from = 0.0;
    for (to, (colour, what)) in [t.turn_end_ms, t.first_byte_ms, t.heard_ms].into_iter().zip(SEGMENTS) {
        let Some(to) = to else { continue };
        let (a, b) = (x(from), x(to));
        let _ = writeln!(
            out,
            r#"<rect class="turn" x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{what}: {to:.1} ms</title></rect>"#,
            y + 2.0,
            (b - a).max(1.0),
            ROW - 4.0
        );
        from = to.max(from);
    }
    if t.first_byte_ms.is_none() {
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#d62728">no reply</text>"##,
            y + 11.0
        );
    }
}

pub fn to_svg(report: &Report) -> String {
    let legend_bottom = legend_at(report.stages.len().saturating_sub(1)).1;
    let wf_top = legend_bottom + 80.0;
    let mut body = String::new();
    distribution(&mut body, report);
    let bottom = waterfall(&mut body, &report.turns, wf_top);
    let height = bottom + 30.0;
    let s = &report.settings;
    let title = format!(
        "voxlive bench {}: {} / {} VAD, {} run(s), net {}, {} on {}",
        report.voxlive_version,
        s.mode,
        s.vad,
        s.runs,
        s.net.as_deref().unwrap_or("none"),
        s.endpoint,
        report.machine.cpu_model
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="18" font-size="12">{}</text>
{body}</svg>
"#,
        esc(&title)
    )
}
