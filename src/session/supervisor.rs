//! The supervisor: one conversation over as many connections as it takes. It owns the outbound queue,
//! the resumption state and the current [`Connection`] (which never reconnects by itself), and decides
//! what an ending means:
//! - an abrupt drop, a retryable close (1001, 1011, ...), a dead connection (no pong, a write that never
//!   completes): reconnect with the newest resumption handle, after a backoff from `reconnect.rs`;
//! - a refused handle: a fresh session, seeded with the conversation so far, and an event that says so;
//! - a terminal error (bad key, invalid argument, unknown model, policy): stop at once with the reason;
//! - a goAway: make before break. The next connection is opened and set up at once; the switch happens at
//!   the next turn boundary (once what was written on the old one is acknowledged), or at the deadline
//!   minus [`GOAWAY_MARGIN`] whichever comes first. A timer keeps that deadline, since the old connection
//!   may go silent and never deliver another frame.
//!
//! After every switch the must-deliver messages the old connection did not acknowledge are written first,
//! then what queued meanwhile (audio captured during an outage included, up to its bound).
//!
//! This file holds the loop and what each message means; `supervisor/switching.rs` the connection
//! changes (goAway, retries, switching, restarts).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::connection::{Connection, Incoming};
use super::event::{events_from, Event};
use super::metrics::SessionMetrics;
use super::outbound::{Item, Outbox};
use super::reconnect::{backoff, first_attempt, CloseClass, MAX_ATTEMPTS};
use super::resumption::Resumption;
use super::{SessionError, SessionOptions};

/// Switch this long before a goAway's deadline at the latest (a frame in flight must still arrive).
pub const GOAWAY_MARGIN: Duration = Duration::from_millis(500);
/// A goAway without a usable timeLeft is taken to mean this much time.
pub const GOAWAY_DEFAULT_LEFT: Duration = Duration::from_secs(5);
/// A goAway's timeLeft is believed up to this (the service sends about a minute).
pub const GOAWAY_MAX_LEFT: Duration = Duration::from_secs(600);
/// At a turn boundary with the next connection ready, wait at most this for the old connection to
/// acknowledge what was written on it before switching anyway.
pub const SWITCH_DRAIN: Duration = Duration::from_millis(1000);
/// How long a closing session waits for the server's close frame.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// Messages a closing connection may hand over before its drain waits for room.
const LEFTOVER_QUEUE: usize = 256;
/// A connection retired while it holds unacknowledged messages is read this long for its close (and the
/// acknowledgements before it) before anything is replayed; see `switching.rs`'s `retire_current`.
pub const SWITCH_ACK_WAIT: Duration = Duration::from_millis(500);

/// What the handle asks the supervisor to do.
#[derive(Debug)]
pub enum Command {
    Send(Item),
    Close,
}

type Connecting = Pin<Box<dyn Future<Output = Result<Connection, SessionError>> + Send>>;

mod switching;

/// What woke the supervisor up.
enum Wake {
    Command(Option<Command>),
    Incoming(Incoming),
    Connected(Box<Result<Connection, SessionError>>),
    Deadline,
    Tick,
    /// A message an old connection delivered while it was closing.
    Leftover(Box<crate::protocol::ServerMessage>),
}

/// Whether the supervisor goes on.
enum Flow {
    Continue,
    End(Event),
}

pub struct Supervisor {
    options: SessionOptions,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    metrics: Arc<SessionMetrics>,
    outbox: Outbox,
    resumption: Resumption,
    conn: Option<Connection>,
    /// The next connection, set up and waiting for the switch (goAway).
    standby: Option<Connection>,
    connecting: Option<Connecting>,
    /// When a goAway asked us to leave: switch by then.
    switch_by: Option<Instant>,
    /// Since when writes wait for the switch (a turn boundary with the standby ready).
    draining_since: Option<Instant>,
    /// Reconnects in a row without progress: sizes the backoff; reset by progress (an acknowledgement, a
    /// reply, a completed turn).
    attempt: u32,
    /// Connection attempts in a row that failed to set up: at [`MAX_ATTEMPTS`] the session gives up. A
    /// server that accepts us and then fails is retried for as long as it accepts (with backoff).
    failed_opens: u32,
    /// Why the last connection ended, for the events that follow.
    last_error: Option<String>,
    /// The next connection starts a fresh session (the handle was refused): seed it with history.
    restarting: Option<String>,
    /// A reply is streaming on the current connection (no turn boundary yet).
    in_reply: bool,
    /// A message that asks for a reply (a turn end, a typed turn, a tool response) was written and no
    /// turnComplete has come since: the reply will come on this connection, so this is no turn boundary.
    awaiting_reply: bool,
    last_heard: Instant,
    down_since: Option<Instant>,
    /// What connections left behind while closing after a switch (see [`Connection::close_forwarding`]).
    leftover_tx: mpsc::Sender<crate::protocol::ServerMessage>,
    leftover_rx: mpsc::Receiver<crate::protocol::ServerMessage>,
}

impl Supervisor {
    pub fn new(
        options: SessionOptions,
        conn: Connection,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        metrics: Arc<SessionMetrics>,
    ) -> Self {
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        let (leftover_tx, leftover_rx) = mpsc::channel(LEFTOVER_QUEUE);
        let resumption = Resumption::continuing(options.resume.as_ref());
        Supervisor {
            outbox: Outbox::new(metrics.clone()),
            options,
            commands,
            events,
            metrics,
            resumption,
            conn: Some(conn),
            standby: None,
            connecting: None,
            switch_by: None,
            draining_since: None,
            attempt: 0,
            failed_opens: 0,
            last_error: None,
            restarting: None,
            in_reply: false,
            awaiting_reply: false,
            last_heard: Instant::now(),
            down_since: None,
            leftover_tx,
            leftover_rx,
        }
    }

    pub async fn run(mut self) {
        if let Some(conn) = self.conn.as_mut() {
            let early = std::mem::take(&mut conn.early);
            for msg in early {
                if let Flow::End(ev) = self.on_message(msg).await {
                    let _ = self.events.send(ev).await;
                    return;
                }
            }
        }
        let mut tick = tokio::time::interval(self.options.ping_interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        let last = loop {
            let deadline = self.next_deadline();
            let wake = tokio::select! {
                c = self.commands.recv() => Wake::Command(c),
                i = recv_on(&mut self.conn) => Wake::Incoming(i),
                r = connect_on(&mut self.connecting) => Wake::Connected(Box::new(r)),
                _ = sleep_until(deadline) => Wake::Deadline,
                _ = tick.tick() => Wake::Tick,
                Some(m) = self.leftover_rx.recv() => Wake::Leftover(Box::new(m)),
            };
            let flow = match wake {
                Wake::Command(Some(Command::Send(item))) => {
                    self.outbox.push(item);
                    Flow::Continue
                }
                Wake::Command(Some(Command::Close)) | Wake::Command(None) => break self.close().await,
                Wake::Incoming(incoming) => self.on_incoming(incoming).await,
                Wake::Connected(result) => {
                    self.connecting = None;
                    self.on_connected(*result).await
                }
                Wake::Deadline => self.on_deadline().await,
                Wake::Tick => self.on_tick().await,
                Wake::Leftover(m) => self.on_leftover(*m).await,
            };
            // whatever woke us, write what can be written now (a new connection may be up)
            let flow = match flow {
                Flow::Continue => self.flush().await,
                end => end,
            };
            if let Flow::End(ev) = flow {
                break ev;
            }
        };
        let _ = self.events.send(last).await;
    }

    /// The earliest timer that matters: the goAway switch or the end of a drain.
    fn next_deadline(&self) -> Option<Instant> {
        let drain = self.draining_since.map(|t| t + SWITCH_DRAIN);
        match (self.switch_by, drain) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn emit(&mut self, ev: Event) {
        let _ = self.events.send(ev).await;
    }

    /// Writes what is queued, unless no connection is up or a switch is pending; a failed write ends the
    /// connection (and may switch to the standby, on which writing goes on).
    async fn flush(&mut self) -> Flow {
        loop {
            match self.write_queued().await {
                None => return Flow::Continue,
                Some(e) => {
                    if let Flow::End(ev) = self.on_lost(e).await {
                        return Flow::End(ev);
                    }
                }
            }
        }
    }

    async fn write_queued(&mut self) -> Option<SessionError> {
        if self.draining_since.is_some() {
            return None;
        }
        while let Some(conn) = self.conn.as_mut() {
            let item = self.outbox.pop()?;
            match conn.send(&item.msg).await {
                Ok(()) => {
                    if asks_for_reply(&item.msg) {
                        self.awaiting_reply = true;
                    }
                    self.outbox.written(&item.msg);
                    self.metrics.record_sent(&item);
                }
                Err(e) => {
                    self.outbox.unpop(item);
                    return Some(e);
                }
            }
        }
        None
    }

    async fn on_incoming(&mut self, incoming: Incoming) -> Flow {
        self.last_heard = Instant::now();
        match incoming {
            Incoming::Message(msg) => {
                self.metrics.messages_received.fetch_add(1, Ordering::Relaxed);
                let flow = self.on_message(*msg).await;
                if let Flow::End(_) = flow {
                    return flow;
                }
                self.maybe_switch().await
            }
            Incoming::Malformed(e) => {
                // Skip it and keep the session: one bad frame must not cost the rest of the conversation.
                self.metrics.messages_received.fetch_add(1, Ordering::Relaxed);
                self.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("ignoring a malformed frame from the server: {e}");
                self.emit(Event::ProtocolError(e.to_string())).await;
                Flow::Continue
            }
            Incoming::Alive => Flow::Continue,
            Incoming::Ended(e) => self.on_lost(e).await,
        }
    }

    async fn on_message(&mut self, msg: crate::protocol::ServerMessage) -> Flow {
        if let Some(update) = &msg.session_resumption_update {
            self.apply_update(update, true);
        }
        for ev in events_from(msg, std::time::Instant::now()) {
            match &ev {
                // a connection that delivers a reply works: the next failure starts the backoff afresh
                Event::Audio { .. } | Event::Text(_) | Event::ToolCall(_) => {
                    self.in_reply = true;
                    self.attempt = 0;
                }
                Event::OutputTranscript(t) => {
                    self.in_reply = true;
                    self.attempt = 0;
                    self.resumption.model_words(t);
                }
                Event::InputTranscript(t) => self.resumption.user_speech(t),
                Event::TurnComplete { interaction, .. } => {
                    self.in_reply = false;
                    // IN_PROGRESS: the model speaks again on this connection, so this is no boundary to
                    // switch connections at
                    self.awaiting_reply = !super::interaction_done(interaction.as_ref());
                    self.attempt = 0;
                    self.resumption.turn_complete();
                }
                Event::Interaction(status) if super::interaction_done(Some(status)) => self.awaiting_reply = false,
                Event::Interrupted => self.in_reply = false,
                Event::GoAway { time_left } => self.on_go_away(*time_left),
                _ => {}
            }
            if let Event::Text(t) = &ev {
                self.resumption.model_words(t);
            }
            self.emit(ev).await;
        }
        Flow::Continue
    }

    /// A resumption update: the newest handle (unless `keep_handle` is false: a connection already
    /// switched away from issued it), and the acknowledgement of every message up to its index.
    fn apply_update(&mut self, update: &crate::protocol::SessionResumptionUpdate, keep_handle: bool) {
        if keep_handle {
            self.resumption
                .update(update.new_handle.clone(), update.resumable.unwrap_or(false));
        }
        if let Some(index) = update.last_consumed_client_message_index {
            self.apply_ack(index);
        }
    }

    /// The server consumed every message up to `index` on the current numbering.
    fn apply_ack(&mut self, index: i64) {
        let acked = self.outbox.ack(index);
        if !acked.is_empty() {
            self.attempt = 0;
        }
        for m in &acked {
            self.resumption.consumed(m);
        }
    }

    /// A message from a connection already switched away from: its content counts (the rest of a reply, a
    /// turnComplete); its resumption update (the old connection's numbering, an older handle), goAway and
    /// setupComplete do not.
    async fn on_leftover(&mut self, mut msg: crate::protocol::ServerMessage) -> Flow {
        msg.session_resumption_update = None;
        msg.go_away = None;
        msg.setup_complete = None;
        self.on_message(msg).await
    }

    /// Keep-alive: a ping each interval; a connection that answered nothing for the idle limit is dead.
    async fn on_tick(&mut self) -> Flow {
        let idle = self.options.idle_timeout;
        let Some(conn) = self.conn.as_mut() else {
            return Flow::Continue;
        };
        if self.last_heard.elapsed() > idle {
            return self.on_lost(SessionError::IdleTimeout(idle)).await;
        }
        match conn.ping().await {
            Ok(()) => Flow::Continue,
            Err(e) => self.on_lost(e).await,
        }
    }

    /// The user closed the session: write what is queued, close politely, end normally.
    async fn close(&mut self) -> Event {
        self.draining_since = None;
        if let Flow::End(ev) = self.flush().await {
            if self.conn.is_none() && self.standby.is_none() {
                return ev;
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.close(CLOSE_DRAIN).await;
        }
        if let Some(standby) = self.standby.take() {
            tokio::spawn(standby.close(CLOSE_DRAIN));
        }
        Event::Closed {
            code: Some(1000),
            reason: "closed by the client".into(),
            class: CloseClass::Normal,
        }
    }
}

/// Whether the server answers `msg` with a reply (so the turn boundary is after that reply).
fn asks_for_reply(msg: &crate::protocol::ClientMessage) -> bool {
    use crate::protocol::ClientMessage;
    match msg {
        ClientMessage::ClientContent(c) => c.turn_complete == Some(true),
        ClientMessage::RealtimeInput(r) => {
            r.activity_end.is_some() || r.audio_stream_end == Some(true) || r.text.is_some()
        }
        ClientMessage::ToolResponse(_) => true,
        _ => false,
    }
}

async fn recv_on(conn: &mut Option<Connection>) -> Incoming {
    match conn {
        Some(c) => c.recv().await,
        None => std::future::pending().await,
    }
}

async fn connect_on(connecting: &mut Option<Connecting>) -> Result<Connection, SessionError> {
    match connecting {
        Some(f) => f.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
