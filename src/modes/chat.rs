//! `voxlive chat`: typed turns. Each line read is a complete user turn; text replies stream to the output as
//! they arrive, audio replies print their transcript and can be saved as WAV files. Tool calls are run by
//! the [`ToolRunner`] while the reply waits, and a tool that needs confirmation is asked about on the
//! prompt (the next line typed answers it). A reply ends when the interaction does
//! ([`interaction_over`]): a turnComplete right after a tool call is not the end, the answer that uses the
//! tool's result is still to come.

use std::io::Write;
use std::path::PathBuf;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, Lines};

use crate::conversation::{call_key, interaction_over, ToolFlow};
use crate::protocol::InteractionStatus;
use crate::session::{self, Event, Session, SessionOptions};
use crate::tools::{parse_answer, ConfirmRequest, RunnerEvent, ToolRunner};

use super::ModeError;

pub struct ChatOptions {
    pub save_audio: Option<PathBuf>,
    /// A reply not complete this long after its line was sent is an error (a server that stopped
    /// answering must not hang the chat). Time spent waiting for the user to answer a confirmation
    /// question does not count.
    pub reply_timeout: std::time::Duration,
    /// Runs the session's tool calls (a default runner answers every call with NOT_FOUND).
    pub tools: ToolRunner,
}

/// One reply being received.
struct Reply {
    audio: Vec<i16>,
    rate: u32,
    tools: ToolFlow,
    /// The last turn closed with this status (`Some(None)`: closed, no status); `None`: a turn is open.
    closed: Option<Option<InteractionStatus>>,
}

/// Runs until the input ends or a line reads `/quit`. Output goes to `out` (stdout in the CLI).
pub async fn chat<R: AsyncBufRead + Unpin>(
    options: SessionOptions,
    mut chat: ChatOptions,
    input: R,
    out: &mut (dyn Write + Send),
) -> Result<usize, ModeError> {
    let (session, mut events) = session::start(options).await?;
    if let Some(dir) = &chat.save_audio {
        std::fs::create_dir_all(dir)?;
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
        session.send_text_turn(line).await?;
        turns += 1;
        write!(out, "assistant: ")?;
        let reply = receive(&session, &mut events, &mut chat, &mut lines, out).await?;
        writeln!(out)?;
        if let (Some(dir), false) = (&chat.save_audio, reply.audio.is_empty()) {
            let path = dir.join(format!("reply-{turns}.wav"));
            crate::wav::write_pcm16(&path, reply.rate, &reply.audio)?;
            writeln!(
                out,
                "(audio reply: {:.1} s -> {})",
                reply.audio.len() as f64 / reply.rate as f64,
                path.display()
            )?;
        }
    }
    session.close().await;
    Ok(turns)
}

/// Receives one reply to its end: every model turn of the interaction, tool calls answered on the way.
async fn receive<R: AsyncBufRead + Unpin>(
    session: &Session,
    events: &mut session::Events,
    chat: &mut ChatOptions,
    lines: &mut Lines<R>,
    out: &mut (dyn Write + Send),
) -> Result<Reply, ModeError> {
    let mut reply = Reply {
        audio: Vec::new(),
        rate: crate::protocol::OUTPUT_RATE,
        tools: ToolFlow::default(),
        closed: None,
    };
    let mut deadline = tokio::time::Instant::now() + chat.reply_timeout;
    loop {
        tokio::select! {
            next = tokio::time::timeout_at(deadline, events.recv()) => {
                let next = next.map_err(|_| ModeError::ReplyTimeout(chat.reply_timeout))?;
                on_event(next, &mut reply, &mut chat.tools, out)?;
            }
            ev = chat.tools.next_event() => match ev {
                RunnerEvent::Respond(answers) => {
                    let ids: Vec<String> = answers.iter().map(|a| a.id.clone().unwrap_or_else(|| a.name.clone())).collect();
                    let spoken = answers.iter().any(|a| a.scheduling.as_deref() != Some("SILENT"));
                    reply.tools.answered(&ids, spoken);
                    session.tool_response(answers).await?;
                }
                RunnerEvent::Ask(question) => {
                    let started = tokio::time::Instant::now();
                    ask(question, lines, out).await?;
                    // the user's thinking time is not the server's
                    deadline += started.elapsed();
                }
            },
        }
        if let Some(status) = &reply.closed {
            if interaction_over(status.as_ref(), &reply.tools) {
                return Ok(reply);
            }
        }
    }
}

fn on_event(
    next: Option<Event>,
    reply: &mut Reply,
    tools: &mut ToolRunner,
    out: &mut (dyn Write + Send),
) -> Result<(), ModeError> {
    match next {
        Some(Event::Text(t)) | Some(Event::OutputTranscript(t)) => {
            reply.tools.model_spoke();
            reply.closed = None;
            write!(out, "{t}")?;
            out.flush()?;
        }
        Some(Event::Audio { samples, rate, .. }) => {
            reply.tools.model_spoke();
            reply.closed = None;
            reply.rate = rate;
            reply.audio.extend_from_slice(&samples);
        }
        Some(Event::ToolCall(calls)) => {
            reply.tools.called(calls.iter().map(call_key));
            tools.dispatch(calls);
        }
        Some(Event::ToolCallCancellation(ids)) => {
            reply.tools.cancelled(&ids);
            tools.cancel(&ids);
        }
        Some(Event::TurnComplete { interaction, .. }) => reply.closed = Some(interaction),
        Some(Event::Interaction(status)) => reply.closed = Some(Some(status)),
        Some(Event::ProtocolError(e)) => tracing::warn!("skipped a malformed server frame: {e}"),
        Some(Event::Closed { reason, .. }) => return Err(ModeError::EndedEarly(reason)),
        None => return Err(ModeError::EndedEarly("the session closed".into())),
        Some(_) => {}
    }
    Ok(())
}

/// Asks on the prompt; the next line answers. No answer in time, the end of the input or a dismissed
/// question (the call was cancelled) leave the default to the runner.
async fn ask<R: AsyncBufRead + Unpin>(
    mut question: ConfirmRequest,
    lines: &mut Lines<R>,
    out: &mut (dyn Write + Send),
) -> Result<(), ModeError> {
    write!(out, "\n{} ", crate::ui::sanitize(&question.question()))?;
    out.flush()?;
    let timeout = question.timeout;
    let answer = tokio::select! {
        line = tokio::time::timeout(timeout, lines.next_line()) => match line {
            Ok(Ok(Some(text))) => parse_answer(&text),
            Ok(Ok(None)) | Err(_) => None,
            Ok(Err(e)) => return Err(e.into()),
        },
        _ = question.dismissed() => None,
    };
    match answer {
        Some(allow) => {
            writeln!(out, "({})", if allow { "allowed" } else { "refused" })?;
            question.answer(allow);
        }
        // dropping the question leaves the default to the runner's own timer
        None => writeln!(
            out,
            "(no answer: {})",
            if question.default_allow { "allowed" } else { "refused" }
        )?,
    }
    write!(out, "assistant: ")?;
    Ok(())
}
