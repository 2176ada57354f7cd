//! The session actor: owns the WebSocket, writes what the handle queues, turns frames into events.
//! Callers hold a cloneable [`Session`] handle and an [`Events`] stream.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::connection::{connect, WsStream};
use super::event::{events_from, Event};
use super::metrics::Mark;
use super::metrics::{SessionMetrics, Signal};
use super::{SessionError, SessionOptions};
use crate::protocol::{
    ClientContent, ClientMessage, Content, ContextUpdate, Empty, FunctionResponse, RealtimeInput, ServerMessage,
    ToolResponse, INPUT_RATE,
};

/// What the handle asks the actor to do. One queue keeps audio and control messages in order, so an
/// `audioStreamEnd` never overtakes the last audio frame.
#[derive(Debug)]
enum Outbound {
    Message {
        msg: ClientMessage,
        captured_at: Option<Instant>,
        /// A user action this message answers (a key press or release) and when it happened: the time to
        /// the socket is recorded under the mark.
        mark: Option<(Mark, Instant)>,
    },
    Close,
}

/// A cloneable handle to send on the session.
#[derive(Clone)]
pub struct Session {
    tx: mpsc::Sender<Outbound>,
    metrics: Arc<SessionMetrics>,
}

/// The stream of events from the server, ending with [`Event::Closed`].
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event; `None` after the session has ended and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

/// Connects, completes setup, and starts the actor.
pub async fn start(options: SessionOptions) -> Result<(Session, Events), SessionError> {
    let (ws, early) = connect(&options.endpoint, &options.setup, options.setup_timeout).await?;
    let (tx, rx) = mpsc::channel(options.outbound_capacity.max(8));
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let metrics = Arc::new(SessionMetrics::default());
    let now = Instant::now();
    for msg in early {
        for ev in events_from(msg, now) {
            let _ = ev_tx.send(ev).await;
        }
    }
    let actor = SessionActor {
        ws,
        rx,
        events: ev_tx,
        metrics: metrics.clone(),
    };
    tokio::spawn(actor.run());
    Ok((Session { tx, metrics }, Events { rx: ev_rx }))
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
        match self.tx.try_send(Outbound::Message { msg, captured_at, mark }) {
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
        self.tx
            .send(Outbound::Message {
                msg,
                captured_at: None,
                mark,
            })
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

    /// Closes the connection with a normal close; events end with [`Event::Closed`].
    pub async fn close(&self) {
        let _ = self.tx.send(Outbound::Close).await;
    }

    pub fn metrics(&self) -> &Arc<SessionMetrics> {
        &self.metrics
    }

    async fn realtime(&self, input: RealtimeInput) -> Result<(), SessionError> {
        self.send(ClientMessage::RealtimeInput(input)).await
    }
}

struct SessionActor {
    ws: WsStream,
    rx: mpsc::Receiver<Outbound>,
    events: mpsc::Sender<Event>,
    metrics: Arc<SessionMetrics>,
}

impl SessionActor {
    async fn run(mut self) {
        let closed = loop {
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(Outbound::Message { msg, captured_at, mark }) => {
                        if let Err(e) = self.write(msg, captured_at, mark).await {
                            break Event::closed(&e);
                        }
                    }
                    Some(Outbound::Close) | None => break self.close_normally().await,
                },
                frame = self.ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => self.on_frame(t.as_bytes()).await,
                    Some(Ok(Message::Binary(b))) => self.on_frame(&b).await,
                    Some(Ok(Message::Close(frame))) => break closed_event(frame),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Event::closed(&SessionError::ConnectionLost(e.to_string())),
                    None => break Event::closed(&SessionError::ConnectionLost("the server went away without a close frame".into())),
                },
            }
        };
        let _ = self.events.send(closed).await;
    }

    async fn write(
        &mut self,
        msg: ClientMessage,
        captured_at: Option<Instant>,
        mark: Option<(Mark, Instant)>,
    ) -> Result<(), SessionError> {
        let is_audio = matches!(&msg, ClientMessage::RealtimeInput(r) if r.audio.is_some());
        let signal = match &msg {
            ClientMessage::RealtimeInput(r) if r.activity_end.is_some() => Some(Signal::ActivityEnd),
            ClientMessage::RealtimeInput(r) if r.activity_start.is_some() => Some(Signal::ActivityStart),
            ClientMessage::RealtimeInput(r) if r.audio_stream_end == Some(true) => Some(Signal::AudioStreamEnd),
            _ => None,
        };
        self.ws
            .send(Message::text(msg.to_json()))
            .await
            .map_err(|e| SessionError::ConnectionLost(e.to_string()))?;
        self.metrics.messages_sent.fetch_add(1, Ordering::Relaxed);
        if is_audio {
            self.metrics.audio_frames_sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(s) = signal {
            self.metrics.record_signal(s, Instant::now());
        }
        if let Some(t) = captured_at {
            self.metrics.record_uplink(t.elapsed());
        }
        if let Some((m, t)) = mark {
            self.metrics.record_mark(m, t.elapsed());
        }
        Ok(())
    }

    async fn on_frame(&mut self, bytes: &[u8]) {
        let received_at = Instant::now();
        self.metrics.messages_received.fetch_add(1, Ordering::Relaxed);
        match ServerMessage::from_slice(bytes) {
            Ok(msg) => {
                for ev in events_from(msg, received_at) {
                    let _ = self.events.send(ev).await;
                }
            }
            Err(e) => {
                // Skip it and keep the session: one bad frame must not cost the rest of the conversation.
                self.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("ignoring a malformed frame from the server: {e}");
                let _ = self.events.send(Event::ProtocolError(e.to_string())).await;
            }
        }
    }

    async fn close_normally(&mut self) -> Event {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "client closed the session".into(),
        };
        let _ = self.ws.close(Some(frame)).await;
        // Read until the server acknowledges, so queued replies are not cut off mid-frame.
        let drain = async {
            while let Some(Ok(msg)) = self.ws.next().await {
                if let Message::Close(_) = msg {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
        Event::Closed {
            code: Some(1000),
            reason: "closed by the client".into(),
            class: super::CloseClass::Normal,
        }
    }
}

fn closed_event(frame: Option<CloseFrame>) -> Event {
    match frame {
        Some(f) => {
            let code = u16::from(f.code);
            let error = SessionError::from_close(code, &f.reason);
            Event::Closed {
                code: Some(code),
                reason: error.to_string(),
                class: error.class(),
            }
        }
        None => Event::closed(&SessionError::Closed(super::CloseInfo {
            code: 1005,
            reason: String::new(),
        })),
    }
}
