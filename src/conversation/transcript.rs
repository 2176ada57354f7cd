//! Transcript rows: one JSON line per finished utterance (who, what, when, which turn, interrupted or not),
//! written by `--transcript FILE` in live, talk and bench.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Model,
}

/// One finished utterance. Times are milliseconds since the conversation started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptRow {
    pub turn: u32,
    pub role: Role,
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub interrupted: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("transcript {path}: {detail}")]
pub struct TranscriptError {
    pub path: PathBuf,
    pub detail: String,
}

/// Appends rows to a JSON-lines file, flushed after each row so a crash or Ctrl-C loses nothing written.
pub struct TranscriptWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl TranscriptWriter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self, TranscriptError> {
        let err = |e: std::io::Error| TranscriptError {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let file = std::fs::File::create(path).map_err(err)?;
        Ok(TranscriptWriter {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
        })
    }

    pub fn write(&mut self, row: &TranscriptRow) -> Result<(), TranscriptError> {
        let err = |detail: String| TranscriptError {
            path: self.path.clone(),
            detail,
        };
        let mut row = row.clone();
        row.text = crate::redact::pii::scrub(&row.text);
        let line = serde_json::to_string(&row).map_err(|e| err(e.to_string()))?;
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| err(e.to_string()))
    }
}
