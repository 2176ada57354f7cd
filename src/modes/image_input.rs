//! Images a mode sends: the `--image` feed once the session is up, and `/image PATH` typed mid-session.
//! Decoding runs on the blocking pool so the pump's runtime (one thread in a live conversation) keeps
//! moving audio meanwhile.

use std::path::PathBuf;

use crate::cli::ImageArgs;
use crate::conversation::Notice;
use crate::media::{self, ImageFeed, MaxSize, MediaError};
use crate::session::{Session, SessionError};

/// `--image` and `--images`, each file checked, scaled and encoded before any connection (a bad file is
/// one error naming it), paced by `--image-rate`. None when no image was asked for: on gemini-3.8-live
/// every frame sent reaches the model (turnCoverage), so none is sent unasked.
pub async fn feed_from_args(args: &ImageArgs) -> Result<Option<ImageFeed>, MediaError> {
    // checked even with no image given: a bad flag is an error, not silently unused
    let (interval, warning) = media::interval_for(args.image_rate)?;
    let size = args.image_size.parse::<MaxSize>()?;
    if args.image.is_empty() && args.images.is_empty() {
        return Ok(None);
    }
    if let Some(w) = warning {
        eprintln!("voxlive: warning: {w}");
    }
    let too_many = || {
        MediaError::Invalid(format!(
            "more than {} images: at most that many a session",
            media::MAX_IMAGES
        ))
    };
    let mut paths = args.image.clone();
    for spec in &args.images {
        if paths.len() > media::MAX_IMAGES {
            return Err(too_many());
        }
        paths.extend(media::expand(spec)?);
    }
    if paths.len() > media::MAX_IMAGES {
        return Err(too_many());
    }
    let frames = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| media::load(p, size))
            .collect::<Result<Vec<_>, MediaError>>()
    })
    .await
    .map_err(|e| MediaError::Invalid(format!("loading the images failed: {e}")))??;
    for f in &frames {
        tracing::info!(
            "image {}: {}x{} -> {}x{} JPEG, {} bytes",
            f.path.display(),
            f.source_width,
            f.source_height,
            f.width,
            f.height,
            f.jpeg.len()
        );
    }
    Ok(Some(ImageFeed { frames, interval }))
}

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
