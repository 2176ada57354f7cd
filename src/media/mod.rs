//! Images sent to the model as realtime `video` frames (`image/jpeg`, base64), as the Live API takes a
//! camera or screen: read with a size cap, decoded under dimension and memory limits, downscaled to fit a
//! maximum size keeping the aspect ratio, re-encoded as JPEG, and sent in order at most one frame a second
//! (the service's rate). One job per file:
//! - `frame.rs`: one file to one JPEG frame, every failure a [`MediaError`] naming the file.
//! - `size.rs`: `--image-size 768` or `WxH`.
//! - `list.rs`: `--images DIR|GLOB` to files, in name order.
//! - `pacer.rs`: the rate (`--image-rate`, clamped to 1/s) and the gate every frame of a session passes.
//! - `command.rs`: `/image PATH` typed during a session.

mod command;
mod frame;
mod list;
mod pacer;
mod size;

pub use command::image_command;
pub use frame::{load, Frame, MAX_FILE_BYTES, MAX_PIXELS, MAX_SIDE};
pub use list::{expand, MAX_IMAGES};
pub use pacer::{interval_for, send_paced, video_message, FrameGate, ImageFeed, MAX_RATE, MIN_RATE};
pub use size::MaxSize;

use std::path::PathBuf;

/// Why an image cannot be sent; the text names the file and is the one line a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("image {path}: {detail}")]
    Image { path: PathBuf, detail: String },
    #[error("{0}")]
    Invalid(String),
}
