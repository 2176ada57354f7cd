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
/// The rows go to `NAME.part` while the conversation runs; the file takes its real name when the writer
/// is dropped (the end of the conversation, an error or Ctrl-C alike), so a reader never sees a half file
/// under the real name, and what was written before a hard kill is still in `NAME.part`.
pub struct TranscriptWriter {
    path: PathBuf,
    part: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl TranscriptWriter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self, TranscriptError> {
        let err = |e: std::io::Error| TranscriptError {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let file = std::fs::File::create(&part).map_err(err)?;
        Ok(TranscriptWriter {
            path: path.to_path_buf(),
            part,
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

impl Drop for TranscriptWriter {
    fn drop(&mut self) {
        let _ = self.file.flush();
        if let Err(e) = std::fs::rename(&self.part, &self.path) {
            tracing::warn!(
                "transcript {}: could not rename from {}: {e}",
                self.path.display(),
                self.part.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_to_a_part_file_that_takes_the_real_name_at_the_end() {
        let dir = std::env::temp_dir().join(format!("voxlive-transcript-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut w = TranscriptWriter::create(&path).unwrap();
        w.write(&TranscriptRow {
            turn: 1,
            role: Role::User,
            text: "hello".into(),
            start_ms: 0,
            end_ms: 10,
            interrupted: false,
        })
        .unwrap();
        assert!(!path.exists(), "not under the real name while running");
        let part = std::fs::read_to_string(dir.join("t.jsonl.part")).unwrap();
        assert!(part.contains("hello"), "written as it goes: {part}");
        drop(w);
        assert!(std::fs::read_to_string(&path).unwrap().contains("hello"));
        assert!(!dir.join("t.jsonl.part").exists());
    }
}
