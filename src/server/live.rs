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
use crate::protocol::{
    ClientMessage, GoAway, RealtimeInput, ServerContent, ServerMessage, SessionResumptionUpdate,
    Setup, SetupComplete, ToolResponse,
};

use super::faults::{ChunkFault, Faults, MALFORMED_FRAME};
use super::handler::{close, send_json, Ws};
use super::reply::{render, Outgoing, RenderCtx, TurnUsage, UserTurn};
use super::responder::Responder;
use super::sessions::Conversation;
use super::turns::{TurnEvent, TurnTracker};
use super::Shared;

/// With pacing, the first this many audio chunks of a reply (200 ms) go out at once, so the client's
/// jitter buffer starts with a lead; the rest follow in real time.
const LEAD_CHUNKS: usize = 5;

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
    pub fn new(
        shared: Arc<Shared>,
        ws: Ws<S>,
        setup: Setup,
        conversation: Arc<Conversation>,
        faults: Faults,
    ) -> Self {
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
        loop {
            let due = !self.queue.is_empty() && self.awaiting_tool.is_none();
            let at = self.next_send_at;
            let event = tokio::select! {
                frame = self.ws.next() => Some(frame),
                _ = tokio::time::sleep_until(at), if due => None,
            };
            let flow = match event {
                None => self.send_next().await?,
                Some(None) => return Ok(()),
                Some(Some(Err(e))) => return Err(e),
                Some(Some(Ok(Message::Text(t)))) => self.on_frame(t.as_bytes()).await?,
                Some(Some(Ok(Message::Binary(b)))) => self.on_frame(&b).await?,
                // Pings are answered by tungstenite; a close is answered too and ends the stream.
                Some(Some(Ok(_))) => Flow::Continue,
            };
            if let Flow::Stop = flow {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, message: ServerMessage) -> Result<(), WsError> {
        send_json(
            &mut self.ws,
            message.to_json(),
            self.shared.config.text_frames,
        )
        .await
    }

    async fn on_frame(&mut self, bytes: &[u8]) -> Result<Flow, WsError> {
        let message = match ClientMessage::from_slice(bytes) {
            Ok(m) => m,
            Err(e) => {
                close(&mut self.ws, 1007, &e.to_string()).await?;
                return Ok(Flow::Stop);
            }
        };
        self.received += 1;
        match message {
            ClientMessage::Setup(_) => {
                close(
                    &mut self.ws,
                    1007,
                    "setup may be sent only once per connection",
                )
                .await?;
                return Ok(Flow::Stop);
            }
            ClientMessage::ClientContent(content) => {
                if content.turn_complete == Some(true) {
                    let user = content
                        .turns
                        .iter()
                        .rev()
                        .find(|c| c.role.as_deref() != Some("model"));
                    let text = user.map(|c| c.joined_text()).unwrap_or_default();
                    self.barge_in().await?;
                    self.start_turn(UserTurn {
                        audio: Vec::new(),
                        text: Some(text),
                    });
                }
            }
            ClientMessage::RealtimeInput(input) => self.on_realtime(input).await?,
            ClientMessage::ToolResponse(response) => return self.on_tool_response(response).await,
            ClientMessage::ContextUpdate(_) => tracing::debug!("contextUpdate accepted"),
        }
        Ok(Flow::Continue)
    }

    async fn on_realtime(&mut self, input: RealtimeInput) -> Result<(), WsError> {
        if input.activity_start.is_some() {
            self.barge_in().await?;
            self.turns.activity_start();
        }
        let mut events = Vec::new();
        for blob in input.audio_blobs() {
            events.extend(self.turns.audio(blob));
        }
        for event in events {
            match event {
                TurnEvent::SpeechStarted => self.barge_in().await?,
                TurnEvent::Ended(audio) => self.start_turn(UserTurn { audio, text: None }),
            }
        }
        if let Some(text) = input.text {
            self.barge_in().await?;
            self.start_turn(UserTurn {
                audio: Vec::new(),
                text: Some(text),
            });
        }
        if input.activity_end.is_some() {
            let audio = self.turns.activity_end();
            self.start_turn(UserTurn { audio, text: None });
        }
        if input.audio_stream_end == Some(true) {
            if let Some(audio) = self.turns.audio_stream_end() {
                self.start_turn(UserTurn { audio, text: None });
            }
        }
        Ok(())
    }

    /// New user activity while a reply is still queued: drop the rest and say `interrupted`.
    async fn barge_in(&mut self) -> Result<(), WsError> {
        if !self.interrupts || self.queue.is_empty() {
            return Ok(());
        }
        tracing::debug!(dropped = self.queue.len(), "reply interrupted by the user");
        self.queue.clear();
        self.chunks_sent = 0;
        let content = ServerContent {
            interrupted: Some(true),
            ..ServerContent::default()
        };
        self.send(ServerMessage::content(content)).await
    }

    fn start_turn(&mut self, turn: UserTurn) {
        let reply = self.responder.on_turn(&turn, self.ctx.modality);
        self.usage = TurnUsage::for_turn(&turn);
        let items = render(reply, &self.ctx, &mut self.usage, &mut self.next_call_id);
        self.enqueue(items);
    }

    fn enqueue(&mut self, items: Vec<Outgoing>) {
        if self.queue.is_empty() {
            self.next_send_at = Instant::now() + self.faults.reply_delay.unwrap_or_default();
        }
        self.queue.extend(items);
    }

    async fn on_tool_response(&mut self, response: ToolResponse) -> Result<Flow, WsError> {
        let Some(expected) = self.awaiting_tool.take() else {
            tracing::debug!("toolResponse with no pending tool call; ignored");
            return Ok(Flow::Continue);
        };
        let got: Vec<String> = response
            .function_responses
            .iter()
            .map(|r| r.id.clone().unwrap_or_default())
            .collect();
        let (mut a, mut b) = (expected.clone(), got.clone());
        a.sort();
        b.sort();
        if a != b {
            let reason =
                format!("toolResponse ids {got:?} do not match the pending call ids {expected:?}");
            close(&mut self.ws, 1007, &reason).await?;
            return Ok(Flow::Stop);
        }
        let reply = self
            .responder
            .on_tool_response(&response, self.ctx.modality);
        let items = render(reply, &self.ctx, &mut self.usage, &mut self.next_call_id);
        self.enqueue(items);
        Ok(Flow::Continue)
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
