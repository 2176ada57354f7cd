//! The JSON report: the whole [`Report`] (settings, machine, version, every session, stage and turn).

use super::super::{BenchError, Report};

pub fn to_json(report: &Report) -> String {
    // a plain data struct of strings, numbers and options: serialising it cannot fail
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Reads a report back (`--compare OLD.json`).
pub fn read(path: &std::path::Path) -> Result<Report, BenchError> {
    let err = |reason: String| BenchError::Report {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("not a voxlive bench report: {e}")))
}
