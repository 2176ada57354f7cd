//! `voxlive chat`: typed turns. Each line read is a complete user turn; text replies stream to the output as
//! they arrive, audio replies print their transcript and can be saved as WAV files.

use std::io::Write;
use std::path::PathBuf;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::session::{self, Event, SessionOptions};

use super::ModeError;

pub struct ChatOptions {
    pub save_audio: Option<PathBuf>,
    /// A reply not complete this long after its line was sent is an error (a server that stopped
    /// answering must not hang the chat).
    pub reply_timeout: std::time::Duration,
    /// `--image`: sent, at their pace, before the first line is read.
    pub images: Option<crate::media::ImageFeed>,
    /// How `/image PATH` sends (its size, and the pace it shares with `images`).
    pub image_input: super::image_input::ImageInput,
}

/// Runs until the input ends or a line reads `/quit`. Output goes to `out` (stdout in the CLI).
pub async fn chat<R: AsyncBufRead + Unpin>(
    options: SessionOptions,
    chat: ChatOptions,
    input: R,
    out: &mut (dyn Write + Send),
) -> Result<usize, ModeError> {
    let (session, mut events) = session::start(options).await?;
    if let Some(dir) = &chat.save_audio {
        std::fs::create_dir_all(dir)?;
    }
    if let Some(feed) = &chat.images {
        let sent = feed.send(&session).await?;
        writeln!(out, "(sent {sent} image{})", if sent == 1 { "" } else { "s" })?;
    }
    let mut lines = input.lines();
    let mut turns = 0;
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        if let Some(path) = crate::media::image_command(line) {
            match super::image_input::send_image(&session, path, &chat.image_input).await? {
                crate::conversation::Notice::Warning(w) => writeln!(out, "(warning: {w})")?,
                crate::conversation::Notice::Info(i) => writeln!(out, "({i})")?,
                _ => {}
            }
            continue;
        }
        session.send_text_turn(line).await?;
        turns += 1;
        let mut audio: Vec<i16> = Vec::new();
        let mut rate = crate::protocol::OUTPUT_RATE;
        write!(out, "assistant: ")?;
        let deadline = tokio::time::Instant::now() + chat.reply_timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, events.recv())
                .await
                .map_err(|_| ModeError::ReplyTimeout(chat.reply_timeout))?;
            match next {
                Some(Event::Text(t)) | Some(Event::OutputTranscript(t)) => {
                    write!(out, "{t}")?;
                    out.flush()?;
                }
                Some(Event::Audio { samples, rate: r, .. }) => {
                    rate = r;
                    audio.extend_from_slice(&samples);
                }
                Some(Event::TurnComplete { .. }) => break,
                Some(Event::ProtocolError(e)) => tracing::warn!("skipped a malformed server frame: {e}"),
                Some(Event::Closed { reason, .. }) => return Err(ModeError::EndedEarly(reason)),
                None => return Err(ModeError::EndedEarly("the session closed".into())),
                Some(_) => {}
            }
        }
        writeln!(out)?;
        if let (Some(dir), false) = (&chat.save_audio, audio.is_empty()) {
            let path = dir.join(format!("reply-{turns}.wav"));
            crate::wav::write_pcm16(&path, rate, &audio)?;
            writeln!(
                out,
                "(audio reply: {:.1} s -> {})",
                audio.len() as f64 / rate as f64,
                path.display()
            )?;
        }
    }
    session.close().await;
    Ok(turns)
}
