//! Client messages in: parses each frame, counts it for `lastConsumedClientMessageIndex`, turns audio and
//! activity signals into user turns, interrupts a playing reply on new activity (barge-in) and checks
//! toolResponse ids against the pending call. Part of [`Live`]; split off to keep each file about one job.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::protocol::{ClientMessage, RealtimeInput, ServerContent, ServerMessage};

use super::super::handler::close;
use super::super::reply::{render, Outgoing, TurnUsage, UserTurn};
use super::super::turns::TurnEvent;
use super::{Flow, Live};

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Live<S> {
    pub(super) async fn on_frame(&mut self, bytes: &[u8]) -> Result<Flow, WsError> {
        let message = match ClientMessage::from_slice(bytes) {
            Ok(m) => m,
            Err(e) => {
                close(&mut self.ws, 1007, &e.to_string()).await?;
                return Ok(Flow::Stop);
            }
        };
        self.received += 1;
        self.shared
            .metrics
            .messages_received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(log) = &self.shared.config.message_log {
            log.push(&message);
        }
        if self.transparent && self.resumable && !crate::session::is_droppable(&message) {
            self.send_resumption_update().await?;
        }
        match message {
            ClientMessage::Setup(_) => {
                close(&mut self.ws, 1007, "setup may be sent only once per connection").await?;
                return Ok(Flow::Stop);
            }
            ClientMessage::ClientContent(content) => {
                if content.turn_complete == Some(true) {
                    let user = content.turns.iter().rev().find(|c| c.role.as_deref() != Some("model"));
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
        if !self.interrupts {
            return Ok(());
        }
        self.interrupt_reply().await
    }

    /// Drops the queued rest of the reply and says `interrupted` (barge-in, or an INTERRUPT answer).
    pub(super) async fn interrupt_reply(&mut self) -> Result<(), WsError> {
        if self.queue.is_empty() {
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
        let cancelled = self.cancel_blocking_on_input();
        let reply = self.responder.on_turn(&turn, self.ctx.modality);
        self.usage = TurnUsage::for_turn(&turn);
        let items = render(reply, &self.ctx, &mut self.usage, &mut self.next_call_id);
        self.enqueue(items);
        // the cancellation goes before the new reply
        if let Some(msg) = cancelled {
            self.queue.push_front(Outgoing::Message(msg));
        }
    }

    pub(super) fn enqueue(&mut self, items: Vec<Outgoing>) {
        if self.queue.is_empty() {
            self.next_send_at = Instant::now() + self.reply_delay();
        }
        self.queue.extend(items);
    }

    /// The fault's delay before a reply, plus or minus its seeded jitter.
    fn reply_delay(&self) -> std::time::Duration {
        let base = self.faults.reply_delay.unwrap_or_default();
        let Some(jitter) = self.faults.reply_jitter.filter(|j| !j.is_zero()) else {
            return base;
        };
        let draw: f64 = self
            .shared
            .fault_rng
            .lock()
            .map(|mut r| rand::Rng::random_range(&mut *r, -1.0..=1.0))
            .unwrap_or(0.0);
        let shift = jitter.mul_f64(draw.abs());
        if draw < 0.0 {
            base.saturating_sub(shift)
        } else {
            base + shift
        }
    }
}
