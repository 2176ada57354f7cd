//! The terminal table: one line per stage (count, p50, p90, p99, max), then the run's totals.

use std::fmt::Write as _;

use super::super::record::{Report, Stage};

/// The whole table: settings, stages, counters, totals, the network applied, sessions and failures.
pub fn to_table(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    stage_rows(&mut out, report);
    counters(&mut out, report);
    totals(&mut out, report);
    if let Some(n) = &report.net_applied {
        let _ = writeln!(
            out,
            "network applied to the server's replies: {} ({} writes, {} retransmitted, mean hold {:.1} ms)",
            n.spec, n.writes, n.retransmitted, n.mean_hold_ms
        );
    }
    if report.sessions.len() > 1 {
        per_session(&mut out, report);
    }
    for session in report.sessions.iter().filter(|s| s.error.is_some()) {
        let _ = writeln!(
            out,
            "failed: {} run {}: {}",
            session.input,
            session.run,
            session.error.as_deref().unwrap_or_default()
        );
    }
    out
}

/// What was run, and how.
fn header(out: &mut String, report: &Report) {
    let s = &report.settings;
    let _ = writeln!(
        out,
        "voxlive bench {}: {} file(s) x {} run(s), {} session(s) at once, {} / {} VAD, AEC {}, endpoint {}{}{}",
        report.voxlive_version,
        s.inputs.len(),
        s.runs,
        s.concurrency,
        s.mode,
        s.vad,
        if s.aec { "on" } else { "off" },
        s.endpoint,
        s.net.as_ref().map(|n| format!(", net {n}")).unwrap_or_default(),
        s.reply_delay_ms
            .map(|d| format!(", reply delay {d:.0} ms"))
            .unwrap_or_default(),
    );
}

/// One line per stage: count and percentiles in milliseconds.
fn stage_rows(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "{:<36} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "stage (ms)", "n", "p50", "p90", "p99", "max"
    );
    for st in &report.stages {
        let m = &st.summary;
        let _ = writeln!(
            out,
            "{:<36} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            st.stage.label(),
            m.count,
            m.p50,
            m.p90,
            m.p99,
            m.max
        );
    }
}

/// Turns and what went wrong in them; frames and chunks dropped; underruns; reconnects.
fn counters(out: &mut String, report: &Report) {
    let c = &report.counters;
    let _ = writeln!(
        out,
        "turns {} ({} unanswered, {} interrupted, {} turn ends while still speaking, {} extra replies); frames sent {}, dropped {} (DSP) + {} (session); reply chunks dropped {}; jitter underruns {}; reconnects {}",
        report.turns.len(),
        c.unanswered_turns,
        report.turns.iter().filter(|t| t.interrupted).count(),
        c.early_turn_ends,
        c.extra_replies,
        c.frames_sent,
        c.frames_dropped,
        c.session_frames_dropped,
        c.chunks_dropped,
        c.jitter_underruns,
        c.reconnects
    );
}

/// Audio and wall time, CPU per audio second and peak RSS.
fn totals(out: &mut String, report: &Report) {
    let cpu = report
        .cpu_per_audio_sec
        .map(|c| format!("{:.1} ms CPU per audio second ({:.1}% of a core)", c * 1e3, c * 100.0))
        .unwrap_or_else(|| "CPU n/a".into());
    let rss = report
        .peak_rss_mb
        .map(|r| format!("peak RSS {r:.1} MB"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{:.1} s of audio in {:.1} s; {cpu}; {rss}{}",
        report.audio_secs,
        report.wall_secs,
        if report.settings.endpoint == "embedded" {
            " (process totals, embedded server included)"
        } else {
            ""
        }
    );
}

/// With several sessions: each one's end of speech -> reply heard, and its setup time.
fn per_session(out: &mut String, report: &Report) {
    let ms = |v: Option<f64>| v.map(|m| format!("{m:.1}")).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "per session (end of speech -> reply heard):");
    for session in &report.sessions {
        let heard = session.stages.iter().find(|s| s.stage == Stage::SpeechEndToHeard);
        let _ = writeln!(
            out,
            "  {} run {}: {} turn(s), p50 {} ms, max {} ms; setup {} ms",
            session.input,
            session.run,
            heard.map(|h| h.summary.count).unwrap_or(0),
            ms(heard.map(|h| h.summary.p50)),
            ms(heard.map(|h| h.summary.max)),
            ms(session.setup_ms),
        );
    }
}
