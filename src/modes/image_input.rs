//! Images a mode sends: the `--image` feed once the session is up, and `/image PATH` typed mid-session,
//! both through one [`FrameGate`] so that together they never go faster than `--image-rate`. Decoding
//! runs on the blocking pool so the pump's runtime (one thread in a live conversation) keeps moving audio.

use std::path::PathBuf;

use crate::cli::ImageArgs;
use crate::conversation::Notice;
use crate::media::{self, Frame, FrameGate, ImageFeed, MaxSize, MediaError};
use crate::session::{Session, SessionError};

/// How `/image PATH` sends: the size, and the gate it shares with the feed.
#[derive(Debug, Clone)]
pub struct ImageInput {
    pub size: MaxSize,
    pub gate: FrameGate,
}

impl Default for ImageInput {
    /// The flags' defaults: 768 px, one frame a second.
    fn default() -> Self {
        ImageInput {
            size: MaxSize::default(),
            gate: FrameGate::new(std::time::Duration::from_secs_f64(1.0 / media::MAX_RATE)),
        }
    }
}

/// `--image` and `--images`, each file checked, scaled and encoded before any connection (a bad file is
/// one error naming it), and the [`ImageInput`] for `/image`. The feed is None when no image was asked
/// for: on gemini-3.8-live every frame sent reaches the model (turnCoverage), so none is sent unasked.
pub async fn from_args(args: &ImageArgs) -> Result<(Option<ImageFeed>, ImageInput), MediaError> {
    // checked even with no image given: a bad flag is an error, not silently unused
    let (interval, warning) = media::interval_for(args.image_rate)?;
    let size = args.image_size.parse::<MaxSize>()?;
    let input = ImageInput {
        size,
        gate: FrameGate::new(interval),
    };
    if args.image.is_empty() && args.images.is_empty() {
        return Ok((None, input));
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
    let feed = ImageFeed {
        frames,
        gate: input.gate.clone(),
    };
    Ok((Some(feed), input))
}

/// Loads `/image`'s `path` off the runtime; a warning to show when it cannot be used.
pub async fn load(path: &str, size: MaxSize) -> Result<Frame, Notice> {
    if path.is_empty() {
        return Err(Notice::Warning("/image PATH: give the image's path".into()));
    }
    let file = PathBuf::from(path);
    match tokio::task::spawn_blocking(move || media::load(&file, size)).await {
        Ok(Ok(frame)) => Ok(frame),
        Ok(Err(e)) => Err(Notice::Warning(e.to_string())),
        Err(e) => Err(Notice::Warning(format!("image {path}: loading it failed: {e}"))),
    }
}

/// The line shown once `frame` went up.
pub fn sent_notice(frame: &Frame) -> Notice {
    Notice::Info(format!(
        "image {} sent ({}x{})",
        frame.path.display(),
        frame.width,
        frame.height
    ))
}

/// Loads and sends one image at the gate's pace, waiting for it (chat); what to show. Only a closed
/// session is an error.
pub async fn send_image(session: &Session, path: &str, input: &ImageInput) -> Result<Notice, SessionError> {
    let frame = match load(path, input.size).await {
        Ok(frame) => frame,
        Err(notice) => return Ok(notice),
    };
    input.gate.ready().await;
    session.send(media::video_message(&frame)).await?;
    Ok(sent_notice(&frame))
}

/// Loads one image and sends it now if the pace allows, else hands the send to a task that waits for the
/// gate (a live conversation's pump must not wait up to a second); what to show. Only a closed session
/// is an error.
pub async fn queue_image(session: &Session, path: &str, input: &ImageInput) -> Result<Notice, SessionError> {
    let frame = match load(path, input.size).await {
        Ok(frame) => frame,
        Err(notice) => return Ok(notice),
    };
    if input.gate.try_ready() {
        session.send(media::video_message(&frame)).await?;
        return Ok(sent_notice(&frame));
    }
    let notice = Notice::Info(format!(
        "image {} queued ({}x{}): it goes up at the image rate",
        frame.path.display(),
        frame.width,
        frame.height
    ));
    let (session, gate) = (session.clone(), input.gate.clone());
    tokio::spawn(async move {
        gate.ready().await;
        // a closed session ends the conversation, and the pump reports that
        let _ = session.send(media::video_message(&frame)).await;
    });
    Ok(notice)
}
