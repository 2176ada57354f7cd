//! One set-up connection: reads client messages and streams replies at the same time, so a barge-in can
//! interrupt a reply that is still playing. Client messages are counted from 0 (setup excluded) for
//! `lastConsumedClientMessageIndex`; every message is consumed as soon as it is read.
//!
//! The reply queue holds rendered messages (see `reply.rs`); one is sent each time the pacing deadline
//! passes (after a 200 ms lead, 40 ms per audio chunk in real time; or at once). A toolCall pauses the queue until the matching
//! toolResponse; a mismatched one closes 1007. Faults are applied here, after each audio chunk and turn.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::protocol::codec::format_duration;
use crate::protocol::{GoAway, ServerMessage, SessionResumptionUpdate, Setup, SetupComplete};

mod input;

use super::faults::{ChunkFault, Faults, MALFORMED_FRAME};
use super::handler::{close, send_json, Ws};
use super::reply::{Outgoing, RenderCtx, TurnUsage};
use super::responder::Responder;
use super::sessions::Conversation;
use super::turns::TurnTracker;
use super::Shared;

/// With pacing, the first this many audio chunks of a reply (200 ms) go out at once, so the client's
/// jitter buffer starts with a lead; the rest follow in real time.
const LEAD_CHUNKS: usize = 5;

/// What woke the connection up.
enum Event {
    Frame(Option<Result<Message, WsError>>),
    SendDue,
    Shutdown,
}

/// Whether the connection goes on after handling an event.
enum Flow {
    Continue,
    Stop,
}

pub struct Live<S> {
    shared: Arc<Shared>,
    ws: Ws<S>,
    ctx: RenderCtx,
    resumable: bool,
    interrupts: bool,
    conversation: Arc<Conversation>,
    faults: Faults,
    responder: Box<dyn Responder>,
    turns: TurnTracker,
    queue: VecDeque<Outgoing>,
    awaiting_tool: Option<Vec<String>>,
    usage: TurnUsage,
    next_call_id: u64,
    next_send_at: Instant,
    chunks_sent: usize,
    received: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Live<S> {
    pub fn new(shared: Arc<Shared>, ws: Ws<S>, setup: Setup, conversation: Arc<Conversation>, faults: Faults) -> Self {
        let ctx = RenderCtx {
            modality: setup.modality(),
            input_transcription: setup.input_audio_transcription.is_some(),
            output_transcription: setup.output_audio_transcription.is_some(),
        };
        let handling = setup
            .realtime_input_config
            .as_ref()
            .and_then(|r| r.activity_handling.as_deref());
        let responder = shared.config.responder.build(conversation.turns());
        Live {
            ws,
            ctx,
            resumable: setup.session_resumption.is_some(),
            interrupts: handling != Some("NO_INTERRUPTION"),
            conversation,
            faults,
            responder,
            turns: TurnTracker::new(setup.manual_activity()),
            queue: VecDeque::new(),
            awaiting_tool: None,
            usage: TurnUsage::default(),
            next_call_id: 0,
            next_send_at: Instant::now(),
            chunks_sent: 0,
            received: 0,
            shared,
        }
    }

    pub async fn run(mut self) -> Result<(), WsError> {
        let complete = ServerMessage {
            setup_complete: Some(SetupComplete::default()),
            ..ServerMessage::default()
        };
        self.send(complete).await?;
        if self.faults.malformed_frame {
            send_json(
                &mut self.ws,
                MALFORMED_FRAME.to_string(),
                self.shared.config.text_frames,
            )
            .await?;
        }
        if self.resumable {
            self.send_resumption_update().await?;
        }
        let mut stop = self.shared.stop.clone();
        loop {
            let due = !self.queue.is_empty() && self.awaiting_tool.is_none();
            let at = self.next_send_at;
            let event = tokio::select! {
                frame = self.ws.next() => Event::Frame(frame),
                _ = tokio::time::sleep_until(at), if due => Event::SendDue,
                _ = stop.changed() => Event::Shutdown,
            };
            let flow = match event {
                Event::SendDue => self.send_next().await?,
                Event::Shutdown => {
                    close(&mut self.ws, 1001, "server shutting down").await?;
                    Flow::Stop
                }
                Event::Frame(None) => return Ok(()),
                Event::Frame(Some(Err(e))) => return Err(e),
                Event::Frame(Some(Ok(Message::Text(t)))) => self.on_frame(t.as_bytes()).await?,
                Event::Frame(Some(Ok(Message::Binary(b)))) => self.on_frame(&b).await?,
                // Pings are answered by tungstenite; a close is answered too and ends the stream.
                Event::Frame(Some(Ok(_))) => Flow::Continue,
            };
            if let Flow::Stop = flow {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, message: ServerMessage) -> Result<(), WsError> {
        send_json(&mut self.ws, message.to_json(), self.shared.config.text_frames).await
    }

    async fn send_next(&mut self) -> Result<Flow, WsError> {
        let Some(item) = self.queue.pop_front() else {
            return Ok(Flow::Continue);
        };
        match item {
            Outgoing::Message(m) => self.send(m).await?,
            Outgoing::Audio(m, duration) => {
                self.send(m).await?;
                self.chunks_sent += 1;
                if self.shared.config.pace_replies && self.chunks_sent >= LEAD_CHUNKS {
                    self.next_send_at += duration;
                }
                match self.faults.after_chunk(self.chunks_sent) {
                    Some(ChunkFault::Close { code, reason }) => {
                        tracing::info!(code, "fault: closing mid-turn");
                        close(&mut self.ws, code, &reason).await?;
                        return Ok(Flow::Stop);
                    }
                    Some(ChunkFault::Drop) => {
                        tracing::info!("fault: dropping the connection mid-turn");
                        return Ok(Flow::Stop);
                    }
                    None => {}
                }
            }
            Outgoing::ToolCall(m, ids) => {
                self.send(m).await?;
                self.awaiting_tool = Some(ids);
            }
            Outgoing::TurnComplete(m, go_away) => {
                self.send(m).await?;
                self.conversation.complete_turn();
                self.chunks_sent = 0;
                if self.resumable {
                    self.send_resumption_update().await?;
                }
                if let Some(left) = go_away.or(self.faults.go_away_after_turn) {
                    let time_left = format_duration(left);
                    self.send(ServerMessage {
                        go_away: Some(GoAway { time_left }),
                        ..ServerMessage::default()
                    })
                    .await?;
                }
            }
        }
        Ok(Flow::Continue)
    }

    async fn send_resumption_update(&mut self) -> Result<(), WsError> {
        let update = SessionResumptionUpdate {
            new_handle: Some(self.shared.sessions.issue(&self.conversation)),
            resumable: Some(true),
            last_consumed_client_message_index: self.received.checked_sub(1).map(|i| i as i64),
        };
        self.send(ServerMessage {
            session_resumption_update: Some(update),
            ..ServerMessage::default()
        })
        .await
    }
}
