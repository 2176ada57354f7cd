//! Images a mode sends: the `--image` feed once the session is up, and `/image PATH` typed mid-session.
//! Decoding runs on the blocking pool so the pump's runtime (one thread in a live conversation) keeps
//! moving audio meanwhile.

use std::path::PathBuf;

use crate::conversation::Notice;
use crate::media::{self, MaxSize};
use crate::session::{Session, SessionError};

/// Loads `path`, sends it as one video frame, and says what happened: an info line, or a warning for an
/// image that could not be used (the session goes on). Only a closed session is an error.
pub async fn send_image(session: &Session, path: &str, size: MaxSize) -> Result<Notice, SessionError> {
    if path.is_empty() {
        return Ok(Notice::Warning("/image PATH: give the image's path".into()));
    }
    let file = PathBuf::from(path);
    let loaded = tokio::task::spawn_blocking(move || media::load(&file, size)).await;
    let frame = match loaded {
        Ok(Ok(frame)) => frame,
        Ok(Err(e)) => return Ok(Notice::Warning(e.to_string())),
        Err(e) => return Ok(Notice::Warning(format!("image {path}: loading it failed: {e}"))),
    };
    session.send(media::video_message(&frame)).await?;
    Ok(Notice::Info(format!(
        "image {} sent ({}x{})",
        frame.path.display(),
        frame.width,
        frame.height
    )))
}
