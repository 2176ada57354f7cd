//! One set-up connection: reads client messages and streams replies at the same time, so a barge-in can
//! interrupt a reply that is still playing. Client messages are counted from 0 (setup excluded) for
//! `lastConsumedClientMessageIndex`; every message is consumed as soon as it is read.
//!
//! The reply queue holds rendered messages (see `reply.rs`); one is sent each time the pacing deadline
//! passes (after a 200 ms lead, 40 ms per audio chunk in real time; or at once). A toolCall pauses the queue until the matching
//! toolResponse; a mismatched one closes 1007. Faults are applied here, after each audio chunk and turn;
//! the periodic ones in `inject.rs`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::protocol::codec::format_duration;
use crate::protocol::{GoAway, ServerMessage, SessionResumptionUpdate, Setup, SetupComplete};

mod inject;
mod input;
mod tools;

pub(super) use inject::drop_abruptly;
use inject::fault_due;

use super::faults::{ChunkFault, FaultClock, Faults, MALFORMED_FRAME};
use super::handler::{close, send_json, Ws};
use super::reply::{Outgoing, RenderCtx, TurnUsage};
use super::responder::Responder;
use super::sessions::{Conversation, Unsent};
use super::turns::TurnTracker;
use super::vad_settings::VadSettings;
use super::Shared;

/// With pacing, the first this many audio chunks of a reply (200 ms) go out at once, so the client's
/// jitter buffer starts with a lead; the rest follow in real time.
const LEAD_CHUNKS: usize = 5;

/// What woke the connection up.
enum Event {
    Frame(Option<Result<Message, WsError>>),
    SendDue,
    Shutdown,
    /// The deadline a goAway announced has passed: close, as the real service does.
    GoAwayDeadline,
    /// A periodic fault is due.
    Fault(usize),
    /// Nothing arrived from the client for the idle limit.
    Idle,
    /// A scheduled toolCallCancellation is due.
    CancelDue,
    /// The connection's streaming cap is near: say goAway.
    StreamCap,
    /// An older connection of this conversation ended: take over what it left unsent.
    Handover,
    /// The ephemeral token this connection came with has expired.
    TokenExpired,
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
    /// `sessionResumption.transparent`: an update (with `lastConsumedClientMessageIndex`) follows every
    /// consumed must-deliver message, so the client knows exactly what to replay.
    transparent: bool,
    interrupts: bool,
    /// `explicitVadSignal`: tell the client what the server's VAD hears (`voiceActivity` messages).
    explicit_vad: bool,
    /// `historyConfig.initialHistoryInClientContent`: the clientContent up to the first one with
    /// `turnComplete: true` is history, answered by nothing.
    seeding_history: bool,
    conversation: Arc<Conversation>,
    faults: Faults,
    clock: FaultClock,
    responder: Box<dyn Responder>,
    turns: TurnTracker,
    /// Video frames since the last user turn.
    images: super::images::ImageTracker,
    queue: VecDeque<Outgoing>,
    /// Open tool calls (BLOCKING ones hold the queue).
    awaiting_tool: Option<super::tool_calls::OpenCalls>,
    tool_rules: tools::ToolRules,
    usage: TurnUsage,
    next_call_id: u64,
    next_send_at: Instant,
    chunks_sent: usize,
    received: u64,
    /// Set by a goAway: the connection closes then (1008 "connection deadline").
    go_away_deadline: Option<Instant>,
    /// The streaming cap (the model's `stream_minutes`, the server's `max_stream`): when to say goAway,
    /// and when the connection ends.
    stream_cap: Option<(Instant, Instant)>,
    /// When the client's last frame arrived (idle limit, rate limit).
    last_heard: Instant,
    rate: super::limits::RateLimit,
    /// The connection's ephemeral token expires then: the session ends (its `expireTime`).
    token_expires: Option<Instant>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Live<S> {
    /// `vad`: the server's VAD settings from the setup (None: the client marks turns itself).
    pub fn new(
        shared: Arc<Shared>,
        ws: Ws<S>,
        setup: Setup,
        vad: Option<VadSettings>,
        conversation: Arc<Conversation>,
        faults: Faults,
    ) -> Self {
        // setup was validated against the catalog, so the profile is there; without one, the older fields only
        let profile = crate::models::Catalog::builtin().model(&setup.model).ok();
        let ctx = RenderCtx {
            modality: setup.modality(),
            input_transcription: setup.input_audio_transcription.is_some(),
            output_transcription: setup.output_audio_transcription.is_some(),
            interim_transcription: profile.is_some_and(|p| p.interim_transcription),
            interaction_status: profile.is_some_and(|p| p.interaction_status),
            input_language: setup
                .input_audio_transcription
                .as_ref()
                .and_then(|t| t.language_codes.first().cloned()),
        };
        let handling = setup.activity_handling();
        let responder = shared.config.responder.build(conversation.turns());
        let unsent = conversation.take_unsent().unwrap_or_default();
        let clock = FaultClock::new(&faults, shared.origin, shared.fault_rng.clone());
        Live {
            ws,
            ctx,
            resumable: setup.session_resumption.is_some(),
            transparent: setup.session_resumption.as_ref().and_then(|r| r.transparent) == Some(true),
            interrupts: handling != Some("NO_INTERRUPTION"),
            explicit_vad: setup.explicit_vad_signal(),
            seeding_history: setup
                .history_config
                .as_ref()
                .and_then(|h| h.initial_history_in_client_content)
                == Some(true),
            conversation,
            faults,
            clock,
            responder,
            turns: TurnTracker::new(vad),
            images: Default::default(),
            queue: unsent.queue,
            awaiting_tool: unsent.awaiting_tool,
            tool_rules: tools::ToolRules::from_setup(&setup),
            usage: unsent.usage,
            next_call_id: unsent.next_call_id,
            next_send_at: Instant::now(),
            chunks_sent: 0,
            received: 0,
            go_away_deadline: None,
            stream_cap: stream_cap(
                profile.and_then(|p| p.stream_minutes),
                shared.config.limits.max_stream,
                Instant::now(),
            ),
            last_heard: Instant::now(),
            rate: super::limits::RateLimit::new(shared.config.limits.max_messages_per_sec),
            token_expires: None,
            shared,
        }
    }

    /// Ends the session at `at` (the ephemeral token's expireTime).
    pub fn token_expires(mut self, at: Option<Instant>) -> Self {
        self.token_expires = at;
        self
    }

    /// Serves the connection; whatever reply was not sent yet is left to the conversation, for a
    /// connection that resumes it.
    pub async fn run(mut self) -> Result<(), WsError> {
        let result = self.serve().await;
        if self.resumable {
            self.conversation.connection_ended(Unsent {
                queue: std::mem::take(&mut self.queue),
                awaiting_tool: self.awaiting_tool.take(),
                usage: std::mem::take(&mut self.usage),
                next_call_id: self.next_call_id,
            });
        }
        result
    }

    /// setupComplete, then client messages and replies at once until either side ends the connection.
    async fn serve(&mut self) -> Result<(), WsError> {
        self.greet().await?;
        let mut stop = self.shared.stop.clone();
        loop {
            let event = self.next_event(&mut stop).await;
            if let Event::Frame(Some(Ok(_))) = &event {
                if !self.admit_frame() {
                    let limit = self.shared.config.limits.max_messages_per_sec;
                    let reason = format!("rate limit exceeded: more than {limit} messages per second");
                    close(&mut self.ws, 1008, &reason).await?;
                    return Ok(());
                }
            }
            if let Flow::Stop = self.handle(event).await? {
                return Ok(());
            }
        }
    }

    /// The first messages of a connection: setupComplete, the malformed frame a fault asks for, and the
    /// first resumption handle.
    async fn greet(&mut self) -> Result<(), WsError> {
        let complete = ServerMessage {
            setup_complete: Some(SetupComplete {
                session_id: Some(self.conversation.id.0.clone()),
            }),
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
        Ok(())
    }

    /// Waits for whatever comes first: a client frame, a reply message due, a fault, a deadline, the
    /// server's shutdown or a handover from an older connection.
    async fn next_event(&mut self, stop: &mut tokio::sync::watch::Receiver<bool>) -> Event {
        let held = self.awaiting_tool.as_ref().is_some_and(|o| o.blocks());
        let due = !self.queue.is_empty() && !held;
        let cancel_at = self.next_cancel();
        let at = self.next_send_at;
        let deadline = self.go_away_deadline;
        let fault = self.clock.next();
        let idle_at = self.last_heard + self.shared.config.limits.idle_timeout;
        let cap_notice = self.stream_cap.map(|(notice, _)| notice);
        tokio::select! {
            _ = tokio::time::sleep_until(idle_at) => Event::Idle,
            _ = self.conversation.handover.notified() => Event::Handover,
            i = fault_due(fault) => Event::Fault(i),
            frame = self.ws.next() => Event::Frame(frame),
            _ = tokio::time::sleep_until(at), if due => Event::SendDue,
            _ = stop.changed() => Event::Shutdown,
            _ = sleep_until_opt(deadline) => Event::GoAwayDeadline,
            _ = sleep_until_opt(self.token_expires) => Event::TokenExpired,
            _ = sleep_until_opt(cancel_at) => Event::CancelDue,
            _ = sleep_until_opt(cap_notice) => Event::StreamCap,
        }
    }

    /// A client frame arrived: notes when, and whether it is within the rate limit.
    fn admit_frame(&mut self) -> bool {
        let now = Instant::now();
        let admitted = self.rate.admit(now - self.last_heard);
        self.last_heard = now;
        admitted
    }

    /// Handles one event; `Flow::Stop` once the connection is over.
    async fn handle(&mut self, event: Event) -> Result<Flow, WsError> {
        Ok(match event {
            Event::SendDue => self.send_next().await?,
            Event::Fault(i) => self.inject(i).await?,
            Event::Handover => {
                self.take_over();
                Flow::Continue
            }
            Event::CancelDue => {
                self.cancel_due().await?;
                Flow::Continue
            }
            Event::Idle => {
                let limit = self.shared.config.limits.idle_timeout;
                close(&mut self.ws, 1001, &format!("idle for {limit:?}: closing")).await?;
                Flow::Stop
            }
            Event::StreamCap => self.stream_cap_near().await?,
            Event::GoAwayDeadline => {
                close(&mut self.ws, 1008, "connection deadline exceeded after goAway").await?;
                Flow::Stop
            }
            Event::Shutdown => {
                close(&mut self.ws, 1001, "server shutting down").await?;
                Flow::Stop
            }
            Event::TokenExpired => {
                close(&mut self.ws, 1008, "the ephemeral token has expired").await?;
                Flow::Stop
            }
            Event::Frame(None) => Flow::Stop,
            Event::Frame(Some(Err(WsError::Capacity(e)))) => {
                close(&mut self.ws, 1009, &format!("message too big: {e}")).await?;
                Flow::Stop
            }
            Event::Frame(Some(Err(e))) => return Err(e),
            Event::Frame(Some(Ok(Message::Text(t)))) => self.on_frame(t.as_bytes()).await?,
            Event::Frame(Some(Ok(Message::Binary(b)))) => self.on_frame(&b).await?,
            // Pings are answered by tungstenite; a close is answered too and ends the stream.
            Event::Frame(Some(Ok(_))) => Flow::Continue,
        })
    }

    async fn send(&mut self, message: ServerMessage) -> Result<(), WsError> {
        self.shared
            .metrics
            .messages_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                        self.shared.config.fault_counts.add("close-mid-turn");
                        close(&mut self.ws, code, &reason).await?;
                        return Ok(Flow::Stop);
                    }
                    Some(ChunkFault::Drop) => {
                        tracing::info!("fault: dropping the connection mid-turn");
                        self.shared.config.fault_counts.add("drop");
                        drop_abruptly(&mut self.ws).await;
                        return Ok(Flow::Stop);
                    }
                    None => {}
                }
            }
            Outgoing::ToolCall(m, meta) => {
                self.send(m).await?;
                self.tool_call_sent(meta).await?;
            }
            Outgoing::TurnComplete(m, go_away) => {
                self.send(m).await?;
                self.conversation.complete_turn();
                self.chunks_sent = 0;
                if self.resumable {
                    self.send_resumption_update().await?;
                }
                if let Some(left) = go_away.or(self.faults.go_away_after_turn) {
                    if let Some(at) = Instant::now().checked_add(left) {
                        self.go_away_deadline.get_or_insert(at);
                    }
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

    /// The streaming cap is near: goAway with the time left, and the connection closes at the cap.
    async fn stream_cap_near(&mut self) -> Result<Flow, WsError> {
        let Some((_, end)) = self.stream_cap.take() else {
            return Ok(Flow::Continue);
        };
        let left = end.saturating_duration_since(Instant::now());
        tracing::info!(?left, "streaming cap: goAway");
        self.go_away_deadline.get_or_insert(end);
        self.send(ServerMessage {
            go_away: Some(GoAway {
                time_left: format_duration(left),
            }),
            ..ServerMessage::default()
        })
        .await?;
        Ok(Flow::Continue)
    }

    /// Appends what an older connection of the conversation left unsent to this one's queue.
    fn take_over(&mut self) {
        let Some(unsent) = self.conversation.take_unsent() else {
            return;
        };
        if unsent.queue.is_empty() && unsent.awaiting_tool.as_ref().is_none_or(|o| o.is_empty()) {
            return;
        }
        tracing::debug!(
            items = unsent.queue.len(),
            "taking over the reply an older connection left"
        );
        if self.queue.is_empty() {
            self.next_send_at = Instant::now();
            self.usage = unsent.usage;
        }
        self.queue.extend(unsent.queue);
        if self.awaiting_tool.as_ref().is_none_or(|o| o.is_empty()) {
            self.awaiting_tool = unsent.awaiting_tool;
        }
        self.next_call_id = self.next_call_id.max(unsent.next_call_id);
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

/// How long before a streaming cap its goAway goes out: a minute, as the service does before a connection's
/// end, or half the cap when that is shorter.
pub const STREAM_NOTICE: std::time::Duration = std::time::Duration::from_secs(60);

/// When to say goAway and when to end a connection that started at `now`, for a model's `stream_minutes`
/// and the server's own `max_stream` (the lower wins); `None` without either.
pub fn stream_cap(
    minutes: Option<u32>,
    max_stream: Option<std::time::Duration>,
    now: Instant,
) -> Option<(Instant, Instant)> {
    let from_model = minutes.map(|m| std::time::Duration::from_secs(u64::from(m) * 60));
    let cap = match (from_model, max_stream) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let end = now.checked_add(cap)?;
    Some((end - STREAM_NOTICE.min(cap / 2), end))
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_streaming_cap_says_go_away_a_minute_before_and_the_lower_cap_wins() {
        let now = Instant::now();
        assert_eq!(stream_cap(None, None, now), None);
        let (notice, end) = stream_cap(Some(10), None, now).unwrap();
        assert_eq!(end - now, Duration::from_secs(600), "Live Transcribe: 10 minutes");
        assert_eq!(end - notice, STREAM_NOTICE);
        let (notice, end) = stream_cap(Some(10), Some(Duration::from_secs(2)), now).unwrap();
        assert_eq!(end - now, Duration::from_secs(2));
        assert_eq!(
            end - notice,
            Duration::from_secs(1),
            "half of a cap shorter than two minutes"
        );
        let (_, end) = stream_cap(None, Some(Duration::from_secs(900)), now).unwrap();
        assert_eq!(end - now, Duration::from_secs(900));
    }
}
