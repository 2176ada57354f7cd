//! The pump every voice front end shares: it turns uplink frames, audio-engine events, key presses and typed
//! lines, and session events into [`Input`]s for the [`Conversation`], and carries out the [`Action`]s it
//! returns (send on the session, play or stop reply audio, render, write transcript rows). What ends the
//! conversation (Ctrl-C, a duration, the end of a WAV) is the caller's: it passes a `stop` future and an
//! [`Exit`] rule.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use crate::audio::{AudioEvent, LatencyRecorder, Stage, UplinkFrame};
use crate::conversation::{Action, Conversation, Input, Notice, Status, TextRoute, TranscriptWriter};
use crate::protocol::{ClientMessage, INPUT_RATE};
use crate::session::{Events, Mark, Session};
use crate::tools::{parse_answer, ConfirmRequest, RunnerEvent, ToolRunner};
use crate::ui::{Renderer, UserInput};

use super::playback::Playback;
use super::ModeError;

/// When the pump returns on its own.
#[derive(Debug, Clone, Copy)]
pub enum Exit {
    /// Only on `stop`, a quit from the keyboard, or the session's end.
    OnStop,
    /// Once the microphone source has ended and the conversation has been idle for `settle` (the last
    /// reply heard to its end); a reply not complete `reply_timeout` after the user's turn is an error.
    WhenSourceDone { settle: Duration, reply_timeout: Duration },
}

/// How the conversation ended (errors are `Err`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// `stop` fired or the user quit; the reason says which.
    Stopped(String),
    /// The source ended and every reply was heard.
    SourceDone,
    /// The server closed the session normally (1000).
    Closed(String),
}

/// Meters and counters the front end knows (levels, underruns), asked for at the renderer's frame rate.
pub type StatusSource<'a> = Box<dyn FnMut() -> Status + 'a>;

/// Everything the pump reads from and writes to.
pub struct Io<'a> {
    pub session: Session,
    pub events: Events,
    pub frames: mpsc::Receiver<UplinkFrame>,
    /// The engine's events (end of a file source, device failures); `None` without an engine.
    pub audio_events: Option<broadcast::Receiver<AudioEvent>>,
    /// Keys and typed lines; `None` when there is no keyboard.
    pub user: Option<mpsc::Receiver<UserInput>>,
    pub playback: Box<dyn Playback>,
    pub renderer: Box<dyn Renderer>,
    pub transcript: Option<TranscriptWriter>,
    pub latency: Option<LatencyRecorder>,
    pub status: Option<StatusSource<'a>>,
    /// Wait for queue space instead of dropping audio when the network lags: a file sent faster than real
    /// time is not a live microphone, and none of it may be lost.
    pub lossless_uplink: bool,
    /// `/image PATH` lines send an image so; `None`: such a line is text like any other.
    pub image_input: Option<super::image_input::ImageInput>,
    /// Runs the model's tool calls (a default runner answers each with NOT_FOUND, so none hangs a turn).
    pub tools: ToolRunner,
}

/// What caused a batch of actions, so the answering messages can be timed from it.
#[derive(Clone, Copy)]
enum Cause {
    Press(Instant),
    Release(Instant),
    Other,
}

/// A step of the pump: keep going or stop with this outcome.
type Step = Option<Result<Ended, ModeError>>;

/// Runs the conversation until `stop`, the [`Exit`] rule, the user's quit or the session's end.
pub async fn drive(
    conversation: &mut Conversation,
    io: &mut Io<'_>,
    exit: Exit,
    stop: impl Future<Output = String>,
) -> Result<Ended, ModeError> {
    tokio::pin!(stop);
    let tick_every = io
        .renderer
        .status_interval()
        .unwrap_or(Duration::from_millis(50))
        .clamp(Duration::from_millis(10), Duration::from_millis(50));
    let mut next_tick = tokio::time::Instant::now() + tick_every;
    let mut pump = Pump {
        conversation,
        io,
        exit,
        frames_done: false,
        idle_since: None,
        last_first_reply: None,
        vad_speech: false,
        press: None,
        questions: Default::default(),
    };
    let result = loop {
        let step = tokio::select! {
            reason = &mut stop => Some(Ok(Ended::Stopped(reason))),
            f = pump.io.frames.recv(), if !pump.frames_done => pump.on_frame(f).await,
            ev = recv_audio(&mut pump.io.audio_events) => pump.on_audio_event(ev).await,
            ev = pump.io.events.recv() => pump.on_session(ev).await,
            u = recv_user(&mut pump.io.user) => pump.on_user(u).await,
            t = pump.io.tools.next_event() => pump.on_tools(t).await,
            // the timer only runs the tick when no frame came to run it (see TICK_GRACE)
            _ = tokio::time::sleep_until(tick_timer(next_tick, pump.frames_done)) => None,
        };
        if let Some(r) = step {
            break r;
        }
        let now = tokio::time::Instant::now();
        if now >= next_tick {
            next_tick = now + tick_every;
            let step = match pump.refresh_playback().await {
                None => pump.on_tick(),
                done => done,
            };
            if let Some(r) = step {
                break r;
            }
        }
    };
    pump.io.renderer.finish();
    result
}

/// How late the status tick may run while uplink frames flow: a frame arrives every 20 ms and runs a tick
/// that is due on its own wake-up, so the timer never fires then. A timer of its own woke the session's
/// thread 20 times a second for nothing more, and a wake-up costs 20-60 us of CPU on this kind of VM.
/// 50 ms, not 30: with 20 ms device periods two frames can come close together and the next one up to
/// 40 ms later, and a 30 ms grace still let the timer fire about 5 times a second.
const TICK_GRACE: Duration = Duration::from_millis(50);

/// The nearest the timer is set while frames flow. tokio's timer wheel keeps a deadline more than 64 ms
/// away (or one across a 64 ms boundary) in a coarser level and wakes the thread up to 63 ms before it to
/// move it down; a timer re-armed on every frame at `next_tick + TICK_GRACE` (50-100 ms away) was hit by
/// that about 15 times a second (strace: epoll_wait timing out between frames). From 105 ms away the move
/// comes at least 42 ms ahead, later than the next frame that replaces the timer.
const TICK_TIMER_FLOOR: Duration = Duration::from_millis(105);

/// When the status tick's timer fires: at the tick once frames have stopped, else only if no frame comes.
fn tick_timer(next_tick: tokio::time::Instant, frames_done: bool) -> tokio::time::Instant {
    if frames_done {
        next_tick
    } else {
        (next_tick + TICK_GRACE).max(tokio::time::Instant::now() + TICK_TIMER_FLOOR)
    }
}

async fn recv_audio(
    rx: &mut Option<broadcast::Receiver<AudioEvent>>,
) -> Result<AudioEvent, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_user(rx: &mut Option<mpsc::Receiver<UserInput>>) -> Option<UserInput> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

struct Pump<'a, 'b> {
    conversation: &'a mut Conversation,
    io: &'a mut Io<'b>,
    exit: Exit,
    frames_done: bool,
    idle_since: Option<Instant>,
    last_first_reply: Option<Duration>,
    /// The latest uplink frame's VAD state, for the screen (levels come from the status source).
    vad_speech: bool,
    /// A key press whose first frame has not gone up yet (the pre-roll was empty): the next frame sent
    /// answers it, so a press is always measured, the slow case included.
    press: Option<(Mark, Instant)>,
    /// Confirmation questions for tool calls, the one shown first; a typed y/n answers it.
    questions: std::collections::VecDeque<ConfirmRequest>,
}

impl Pump<'_, '_> {
    async fn on_frame(&mut self, frame: Option<UplinkFrame>) -> Step {
        match frame {
            Some(f) => {
                self.vad_speech = f.vad == crate::audio::VadState::Speech;
                let input = Input::Frame {
                    samples: Box::new(f.samples),
                    vad: f.vad,
                    at: f.captured_at,
                    playing: self.io.playback.is_playing(),
                };
                self.feed(input, Cause::Other).await
            }
            None => {
                self.frames_done = true;
                self.feed(Input::SourceEnded { at: Instant::now() }, Cause::Other).await
            }
        }
    }

    async fn on_audio_event(&mut self, ev: Result<AudioEvent, broadcast::error::RecvError>) -> Step {
        match ev {
            Ok(AudioEvent::SourceEnded) if !self.frames_done => {
                // every frame of the file was queued before this event: take them first
                while let Ok(f) = self.io.frames.try_recv() {
                    if let Some(done) = self.on_frame(Some(f)).await {
                        return Some(done);
                    }
                }
                self.frames_done = true;
                self.feed(Input::SourceEnded { at: Instant::now() }, Cause::Other).await
            }
            Ok(AudioEvent::DeviceError(e)) => Some(Err(e.into())),
            // lagging behind the broadcast only loses VAD hints; the frames carry the VAD state anyway
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => {
                self.io.audio_events = None;
                None
            }
        }
    }

    async fn on_session(&mut self, ev: Option<crate::session::Event>) -> Step {
        use crate::session::Event;
        match ev {
            Some(event) => {
                // the conversation shows the call; the runner runs it (or drops a cancelled one)
                match &event {
                    Event::ToolCall(calls) => self.io.tools.dispatch(calls.clone()),
                    Event::ToolCallCancellation(ids) => self.io.tools.cancel(ids),
                    _ => {}
                }
                self.feed(
                    Input::Server {
                        event,
                        at: Instant::now(),
                    },
                    Cause::Other,
                )
                .await
            }
            None => Some(Err(ModeError::EndedEarly(
                "the session's connection task stopped without closing the session".into(),
            ))),
        }
    }

    async fn on_user(&mut self, input: Option<UserInput>) -> Step {
        match input {
            Some(UserInput::KeyDown { at }) => self.feed(Input::KeyDown { at }, Cause::Press(at)).await,
            Some(UserInput::KeyUp { at }) => self.feed(Input::KeyUp { at }, Cause::Release(at)).await,
            Some(UserInput::Line { text, at }) => {
                if let Some(allow) = self.questions.front().and_then(|_| parse_answer(&text)) {
                    self.answer_question(allow);
                    return None;
                }
                if let (Some(input), Some(path)) = (&self.io.image_input, crate::media::image_command(&text)) {
                    return match super::image_input::queue_image(&self.io.session, path, input).await {
                        Ok(notice) => {
                            self.io.renderer.show(&notice);
                            None
                        }
                        Err(e) => Some(Err(e.into())),
                    };
                }
                self.feed(Input::Typed { text, at }, Cause::Other).await
            }
            Some(UserInput::Quit) => Some(Ok(Ended::Stopped("stopped by the user".into()))),
            // no more keyboard input (standard input closed): the voice conversation goes on
            None => {
                self.io.user = None;
                None
            }
        }
    }

    /// The player's state between frames (no frames come after a file source ended).
    async fn refresh_playback(&mut self) -> Step {
        let input = Input::Playback {
            playing: self.io.playback.is_playing(),
            at: Instant::now(),
        };
        self.feed(input, Cause::Other).await
    }

    /// Answers from the runner go up; its questions are shown, one at a time.
    async fn on_tools(&mut self, event: RunnerEvent) -> Step {
        match event {
            RunnerEvent::Respond(answers) => {
                let ids = answers
                    .iter()
                    .map(|a| a.id.clone().unwrap_or_else(|| a.name.clone()))
                    .collect();
                let spoken = answers.iter().any(|a| a.scheduling.as_deref() != Some("SILENT"));
                if let Err(e) = self.io.session.tool_response(answers).await {
                    tracing::debug!("send failed: {e}");
                }
                let input = Input::ToolAnswered {
                    ids,
                    spoken,
                    at: Instant::now(),
                };
                self.feed(input, Cause::Other).await
            }
            RunnerEvent::Ask(question) => {
                self.questions.push_back(question);
                self.show_question();
                None
            }
        }
    }

    /// Shows the first question still waiting for an answer (dismissed ones, timed out or cancelled, go).
    fn show_question(&mut self) {
        let before = self.questions.len();
        self.questions.retain(|q| !q.is_dismissed());
        match self.questions.front() {
            Some(q) => {
                let text = q.question();
                self.io.renderer.show(&Notice::Question(text));
            }
            None if before > 0 => self.io.renderer.show(&Notice::QuestionClosed),
            None => {}
        }
    }

    fn answer_question(&mut self, allow: bool) {
        if let Some(q) = self.questions.pop_front() {
            let word = if allow { "allowed" } else { "refused" };
            self.io.renderer.show(&Notice::Info(format!("tool {} {word}", q.name)));
            q.answer(allow);
        }
        self.io.renderer.show(&Notice::QuestionClosed);
        self.show_question();
    }

    fn on_tick(&mut self) -> Step {
        if self.questions.front().is_some_and(ConfirmRequest::is_dismissed) {
            self.show_question();
        }
        if let Some(source) = self.io.status.as_mut() {
            let mut status = source();
            status.state = self.conversation.state();
            status.mode = Some(self.conversation.policy().mode);
            status.turns = self.conversation.turns();
            status.last_first_reply = self.last_first_reply;
            status.vad_speech = self.vad_speech;
            status.server_vad = self.conversation.server_vad();
            self.io.renderer.status(&status);
        }
        let Exit::WhenSourceDone { settle, reply_timeout } = self.exit else {
            return None;
        };
        let now = Instant::now();
        if let Some(since) = self.conversation.awaiting_since() {
            if now.saturating_duration_since(since) > reply_timeout {
                return Some(Err(ModeError::ReplyTimeout(reply_timeout)));
            }
        }
        let idle = self.frames_done && self.conversation.is_idle(now) && !self.io.playback.is_playing();
        match (idle, self.idle_since) {
            (false, _) => self.idle_since = None,
            (true, None) => self.idle_since = Some(now),
            (true, Some(t)) if now.saturating_duration_since(t) >= settle => return Some(Ok(Ended::SourceDone)),
            (true, Some(_)) => {}
        }
        None
    }

    async fn feed(&mut self, input: Input, cause: Cause) -> Step {
        let actions = self.conversation.handle(input);
        self.apply(actions, cause).await
    }

    async fn apply(&mut self, actions: Vec<Action>, cause: Cause) -> Step {
        if let Cause::Press(at) = cause {
            self.press = Some((Mark::PressToFirstFrame, at));
        }
        let release = match cause {
            Cause::Release(at) => Some((Mark::ReleaseToActivityEnd, at)),
            _ => None,
        };
        let mut press = self.press.take();
        for action in actions {
            if let Some(done) = self.apply_one(action, &mut press, release).await {
                return Some(done);
            }
        }
        // still unanswered (no frame went up yet): the next batch's first frame answers it, unless the key
        // is already up again (a press too short to send anything is not a press to time)
        self.press = press.filter(|_| release.is_none());
        None
    }

    async fn apply_one(
        &mut self,
        action: Action,
        press: &mut Option<(Mark, Instant)>,
        release: Option<(Mark, Instant)>,
    ) -> Step {
        let session = &self.io.session;
        // a failed send means the connection is gone: its Closed event ends the conversation with the reason
        let sent = match action {
            Action::SendAudio { samples, .. } if self.io.lossless_uplink => {
                session.send(ClientMessage::audio(INPUT_RATE, &samples[..])).await
            }
            Action::SendAudio { samples, captured_at } => {
                session.send_audio_marked(&samples[..], captured_at, press.take())
            }
            Action::ActivityStart => session.activity_start().await,
            Action::ActivityEnd => session.activity_end_marked(release).await,
            Action::AudioStreamEnd => session.audio_stream_end().await,
            Action::SendText { text, route } => match route {
                TextRoute::RealtimeInput => session.send_realtime_text(&text).await,
                TextRoute::ClientContent => session.send_text_turn(&text).await,
            },
            Action::Play {
                samples,
                rate,
                received_at,
            } => {
                self.io.playback.play(samples, rate, received_at);
                Ok(())
            }
            Action::EndOfReply => {
                self.io.playback.end_of_reply();
                Ok(())
            }
            Action::StopPlayback { onset } => {
                self.io.playback.stop(onset);
                Ok(())
            }
            Action::FirstReply(d) => {
                self.last_first_reply = Some(d);
                if let Some(l) = &self.io.latency {
                    l.record(Stage::SentToFirstReply, d);
                }
                Ok(())
            }
            Action::Show(notice) => {
                tracing::debug!(?notice, "conversation");
                self.io.renderer.show(&notice);
                Ok(())
            }
            Action::Transcript(row) => {
                self.write_row(&row);
                Ok(())
            }
            Action::End { normal: true, reason } => return Some(Ok(Ended::Closed(reason))),
            Action::End { normal: false, reason } => return Some(Err(ModeError::EndedEarly(reason))),
        };
        if let Err(e) = sent {
            tracing::debug!("send failed: {e}");
        }
        None
    }

    fn write_row(&mut self, row: &crate::conversation::TranscriptRow) {
        let Some(w) = self.io.transcript.as_mut() else {
            return;
        };
        if let Err(e) = w.write(row) {
            // tell the user once and stop writing; the conversation itself goes on
            self.io
                .renderer
                .show(&Notice::Warning(format!("{e}; no more transcript rows are written")));
            self.io.transcript = None;
        }
    }
}
