//! Views of one [`super::Report`]: a table for the terminal, JSON (everything, and what `--compare` reads
//! back), CSV (one row per stage summary and per turn value) and an SVG with the latency distribution of
//! every stage and a per-turn waterfall.

pub mod csv;
pub mod json;
pub mod svg;
pub mod table;

use std::path::Path;

use super::BenchError;

/// Writes `text` to `path`, naming the file in the error.
pub fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::Report {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
