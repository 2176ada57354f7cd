//! The handle side of a session: a cloneable [`Session`] to send on and the [`Events`] stream, both
//! outliving any one connection (the supervisor behind them reconnects). [`start`] opens the first
//! connection, so a bad key or an unknown model is an error from `start` itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::connection::Connection;
use super::event::Event;
use super::journal::{JournalRef, Start};
use super::metrics::Mark;
use super::metrics::SessionMetrics;
use super::outbound::Item;
use super::supervisor::{Command, Supervisor};
use super::{SessionError, SessionOptions};
use crate::protocol::{
    ClientContent, ClientMessage, Content, ContextUpdate, Empty, FunctionResponse, RealtimeInput, ToolResponse,
    INPUT_RATE,
};

/// A cloneable handle to send on the session.
#[derive(Clone)]
pub struct Session {
    tx: mpsc::Sender<Command>,
    metrics: Arc<SessionMetrics>,
    journal: Option<JournalRef>,
}

/// The stream of events from the server, across reconnects, ending with [`Event::Closed`].
pub struct Events {
    rx: mpsc::Receiver<Event>,
    journal: Option<JournalRef>,
}

impl Events {
    /// The next event; `None` after the session has ended and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        let event = self.rx.recv().await;
        if let (Some(journal), Some(event)) = (&self.journal, &event) {
            journal.0.event(event);
        }
        event
    }
}

/// Connects, completes setup, and starts the supervisor that keeps the session going. With
/// [`SessionOptions::resume`] the first connection continues that conversation (see [`open_first`]).
pub async fn start(mut options: SessionOptions) -> Result<(Session, Events), SessionError> {
    options.warn_about_credentials();
    let (conn, started, seed) = open_first(&options).await?;
    // the supervisor keeps the handle the server accepted (a drop before its first update resumes with it)
    // and the saved history (a later refusal seeds it again); seeded history joins it once consumed
    if !matches!(started, Start::ByHandle) {
        options.resume = None;
    }
    let journal = options.journal.clone();
    let (tx, rx) = mpsc::channel(options.outbound_capacity.clamp(8, 4096));
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let metrics = options.metrics.clone().unwrap_or_default();
    let supervisor = Supervisor::new(options, conn, rx, ev_tx, metrics.clone());
    if let Some(seed) = seed {
        // first in the queue: the history precedes anything the caller sends
        tx.send(Command::Send(Item::new(seed)))
            .await
            .map_err(|_| SessionError::SessionClosed)?;
    }
    tokio::spawn(supervisor.run());
    if let Some(j) = &journal {
        j.0.started(&started);
    }
    let session = Session {
        tx,
        metrics,
        journal: journal.clone(),
    };
    Ok((session, Events { rx: ev_rx, journal }))
}

/// The first connection: with a saved handle, resumed by it; if there is none or the server refuses it, a
/// fresh session, with the saved history (if any) as the first message to send.
async fn open_first(options: &SessionOptions) -> Result<(Connection, Start, Option<ClientMessage>), SessionError> {
    let limits = options.limits();
    let Some(resume) = &options.resume else {
        let conn = Connection::open(&options.endpoint, &options.setup, limits).await?;
        return Ok((conn, Start::Fresh, None));
    };
    let mut reason = "no valid saved resumption handle".to_string();
    if let Some(handle) = &resume.handle {
        let mut setup = options.setup.clone();
        let config = setup.session_resumption.get_or_insert_with(Default::default);
        config.handle = Some(handle.clone());
        match Connection::open(&options.endpoint, &setup, limits).await {
            Ok(conn) => return Ok((conn, Start::ByHandle, None)),
            Err(SessionError::ResumptionRejected(r)) => {
                tracing::info!("the server refused the saved resumption handle ({r}); seeding the saved history");
                reason = format!("the server refused the saved handle: {r}");
            }
            Err(e) => return Err(e),
        }
    }
    let conn = Connection::open(&options.endpoint, &options.setup, limits).await?;
    let turns = resume.history.len();
    let seed = (turns > 0).then(|| {
        ClientMessage::ClientContent(ClientContent {
            turns: resume.history.clone(),
            turn_complete: Some(false),
        })
    });
    Ok((conn, Start::ByHistory { turns, reason }, seed))
}

impl Session {
    /// Queues 16 kHz mono audio without waiting; if the network has fallen behind, the frame is dropped
    /// and counted (real-time audio that arrives late is worse than audio that never arrives).
    pub fn send_audio(&self, samples: &[i16], captured_at: Option<Instant>) -> Result<(), SessionError> {
        self.send_audio_marked(samples, captured_at, None)
    }

    /// [`Session::send_audio`], recording the time from `mark`'s instant to the socket under its [`Mark`].
    pub fn send_audio_marked(
        &self,
        samples: &[i16],
        captured_at: Option<Instant>,
        mark: Option<(Mark, Instant)>,
    ) -> Result<(), SessionError> {
        let msg = ClientMessage::audio(INPUT_RATE, samples);
        match self.tx.try_send(Command::Send(Item { msg, captured_at, mark })) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = self.metrics.audio_frames_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n % 100 == 0 {
                    tracing::warn!("the network is not keeping up: {n} microphone frames dropped so far");
                }
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SessionError::SessionClosed),
        }
    }

    /// Sends any client message, waiting for queue space (nothing the user typed is dropped).
    pub async fn send(&self, msg: ClientMessage) -> Result<(), SessionError> {
        self.send_marked(msg, None).await
    }

    /// [`Session::send`], recording the time from `mark`'s instant to the socket under its [`Mark`].
    pub async fn send_marked(&self, msg: ClientMessage, mark: Option<(Mark, Instant)>) -> Result<(), SessionError> {
        if let Some(journal) = &self.journal {
            journal.0.sent(&msg);
        }
        self.tx
            .send(Command::Send(Item {
                msg,
                captured_at: None,
                mark,
            }))
            .await
            .map_err(|_| SessionError::SessionClosed)
    }

    /// A complete typed user turn.
    pub async fn send_text_turn(&self, text: &str) -> Result<(), SessionError> {
        self.send(ClientMessage::user_text(text)).await
    }

    /// Seeds history without asking for a reply.
    pub async fn send_history(&self, turns: Vec<Content>) -> Result<(), SessionError> {
        self.send(ClientMessage::ClientContent(ClientContent {
            turns,
            turn_complete: Some(false),
        }))
        .await
    }

    pub async fn send_realtime_text(&self, text: &str) -> Result<(), SessionError> {
        self.realtime(RealtimeInput {
            text: Some(text.to_string()),
            ..Default::default()
        })
        .await
    }

    /// Marks the start of user speech (automatic activity detection disabled: push-to-talk).
    pub async fn activity_start(&self) -> Result<(), SessionError> {
        self.realtime(RealtimeInput {
            activity_start: Some(Empty {}),
            ..Default::default()
        })
        .await
    }

    /// Marks the end of user speech: the server answers.
    pub async fn activity_end(&self) -> Result<(), SessionError> {
        self.activity_end_marked(None).await
    }

    /// [`Session::activity_end`] answering a key release at `mark`'s instant (timed to the socket).
    pub async fn activity_end_marked(&self, mark: Option<(Mark, Instant)>) -> Result<(), SessionError> {
        let end = RealtimeInput {
            activity_end: Some(Empty {}),
            ..Default::default()
        };
        self.send_marked(ClientMessage::RealtimeInput(end), mark).await
    }

    /// The microphone paused (automatic activity detection): flush cached audio.
    pub async fn audio_stream_end(&self) -> Result<(), SessionError> {
        self.realtime(RealtimeInput {
            audio_stream_end: Some(true),
            ..Default::default()
        })
        .await
    }

    pub async fn tool_response(&self, responses: Vec<FunctionResponse>) -> Result<(), SessionError> {
        self.send(ClientMessage::ToolResponse(ToolResponse {
            function_responses: responses,
        }))
        .await
    }

    /// Changes the system instruction mid-session.
    pub async fn update_system_instruction(&self, text: &str) -> Result<(), SessionError> {
        self.send(ClientMessage::ContextUpdate(ContextUpdate {
            system_instruction: Some(Content::text(Some("user"), text)),
        }))
        .await
    }

    /// Closes the session with a normal close (after writing what is queued); events end with
    /// [`Event::Closed`].
    pub async fn close(&self) {
        let _ = self.tx.send(Command::Close).await;
    }

    pub fn metrics(&self) -> &Arc<SessionMetrics> {
        &self.metrics
    }

    async fn realtime(&self, input: RealtimeInput) -> Result<(), SessionError> {
        self.send(ClientMessage::RealtimeInput(input)).await
    }
}
