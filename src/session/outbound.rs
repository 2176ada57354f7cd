//! The outbound queue, which knows what it carries (design.md habit 6): real-time media (audio, video
//! frames) is droppable, everything else (typed turns, text, tool responses, activity signals, audio
//! stream end) must be delivered. One queue keeps both in order, so an `activityEnd` never overtakes the
//! last audio frame of its turn, across a reconnect too.
//!
//! - Not yet written: `queue`. While no connection is up it holds up to [`RECONNECT_AUDIO`] of audio (the
//!   oldest is dropped and counted beyond that) and every must-deliver message.
//! - Written but not known to be consumed: `unacked`, numbered per connection from 0 (setup excluded) as
//!   the server counts for `lastConsumedClientMessageIndex`. A resumption update acknowledges a prefix;
//!   after a reconnect the rest is written again first, so nothing the user said or typed is lost and
//!   nothing the server consumed is sent twice.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::{Mark, SessionMetrics};
use crate::protocol::{ClientMessage, INPUT_RATE};

/// Audio captured while no connection is up is kept up to this long, and sent after the resume.
pub const RECONNECT_AUDIO: Duration = Duration::from_secs(5);
/// At most this many must-deliver messages wait for acknowledgement; beyond it the oldest are forgotten
/// (with a warning): a server that never acknowledges must not grow the client without bound.
pub const MAX_UNACKED: usize = 1024;
/// At most this many must-deliver messages wait unsent (the handle's `send` waits for room beyond it is
/// the channel's job; this bounds what a long outage accumulates).
pub const MAX_QUEUED: usize = 4096;

/// One message to send, with what its latency is measured from.
#[derive(Debug, Clone)]
pub struct Item {
    pub msg: ClientMessage,
    pub captured_at: Option<Instant>,
    pub mark: Option<(Mark, Instant)>,
}

impl Item {
    pub fn new(msg: ClientMessage) -> Self {
        Item {
            msg,
            captured_at: None,
            mark: None,
        }
    }
}

/// Real-time media is the only droppable kind: late audio is worse than none, and it is never replayed
/// from `unacked` (audio queued during an outage is another matter: see [`RECONNECT_AUDIO`]).
pub fn is_droppable(msg: &ClientMessage) -> bool {
    matches!(msg, ClientMessage::RealtimeInput(r)
        if r.text.is_none() && r.activity_start.is_none() && r.activity_end.is_none() && r.audio_stream_end.is_none())
}

/// Samples of 16 kHz audio a message carries (its byte length halved), to bound the outage buffer by time.
fn audio_samples(msg: &ClientMessage) -> usize {
    match msg {
        ClientMessage::RealtimeInput(r) => r.audio_blobs().map(|b| b.data.len() / 2).sum(),
        _ => 0,
    }
}

pub struct Outbox {
    queue: VecDeque<Item>,
    queued_audio: usize,
    max_audio: usize,
    unacked: VecDeque<(u64, ClientMessage)>,
    next_index: u64,
    metrics: Arc<SessionMetrics>,
}

impl Outbox {
    pub fn new(metrics: Arc<SessionMetrics>) -> Self {
        let max_audio = (RECONNECT_AUDIO.as_millis() as usize) * (INPUT_RATE as usize) / 1000;
        Outbox {
            queue: VecDeque::new(),
            queued_audio: 0,
            max_audio,
            unacked: VecDeque::new(),
            next_index: 0,
            metrics,
        }
    }

    /// Queues a message to write; audio beyond the outage bound drops the oldest queued audio.
    pub fn push(&mut self, item: Item) {
        if is_droppable(&item.msg) {
            self.queued_audio += audio_samples(&item.msg);
        } else if self.queue.len() >= MAX_QUEUED {
            tracing::warn!("{MAX_QUEUED} messages wait for a connection; the oldest is dropped");
            self.drop_front_must_deliver();
        }
        self.queue.push_back(item);
        while self.queued_audio > self.max_audio {
            let Some(pos) = self.queue.iter().position(|i| is_droppable(&i.msg)) else {
                break;
            };
            if let Some(old) = self.queue.remove(pos) {
                self.queued_audio = self.queued_audio.saturating_sub(audio_samples(&old.msg));
                self.count_drop();
            }
        }
    }

    fn drop_front_must_deliver(&mut self) {
        if let Some(pos) = self.queue.iter().position(|i| !is_droppable(&i.msg)) {
            self.queue.remove(pos);
        }
    }

    fn count_drop(&self) {
        let n = self.metrics.audio_frames_dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n % 100 == 0 {
            tracing::warn!("no connection to send on: {n} microphone frames dropped so far (oldest first)");
        }
    }

    /// The next message to write, oldest first.
    pub fn pop(&mut self) -> Option<Item> {
        let item = self.queue.pop_front()?;
        if is_droppable(&item.msg) {
            self.queued_audio = self.queued_audio.saturating_sub(audio_samples(&item.msg));
        }
        Some(item)
    }

    /// Puts a message that could not be written back at the front.
    pub fn unpop(&mut self, item: Item) {
        if is_droppable(&item.msg) {
            self.queued_audio += audio_samples(&item.msg);
        }
        self.queue.push_front(item);
    }

    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Records that `msg` was written on the current connection; returns its index there.
    pub fn written(&mut self, msg: &ClientMessage) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        if !is_droppable(msg) {
            if self.unacked.len() >= MAX_UNACKED {
                tracing::warn!(
                    "the server acknowledged none of the last {MAX_UNACKED} messages; the oldest is forgotten"
                );
                self.unacked.pop_front();
            }
            self.unacked.push_back((index, msg.clone()));
        }
        index
    }

    /// The server consumed every message up to `last_consumed` on this connection: returns the
    /// must-deliver messages that this acknowledges (for the conversation history). Negative or future
    /// indices (a confused peer) acknowledge nothing beyond what was written.
    pub fn ack(&mut self, last_consumed: i64) -> Vec<ClientMessage> {
        let Ok(last) = u64::try_from(last_consumed) else {
            return Vec::new();
        };
        let mut acked = Vec::new();
        while self.unacked.front().is_some_and(|(i, _)| *i <= last) {
            if let Some((_, msg)) = self.unacked.pop_front() {
                acked.push(msg);
            }
        }
        acked
    }

    /// A new connection begins: what the old one did not acknowledge goes first, in order, and numbering
    /// starts again at 0. Returns how many messages are replayed.
    pub fn begin_connection(&mut self) -> usize {
        let replay: Vec<_> = self.unacked.drain(..).collect();
        let n = replay.len();
        for (_, msg) in replay.into_iter().rev() {
            self.queue.push_front(Item::new(msg));
        }
        self.next_index = 0;
        n
    }

    /// Must-deliver messages written but not acknowledged.
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Empty, RealtimeInput};

    fn outbox() -> Outbox {
        Outbox::new(Arc::new(SessionMetrics::default()))
    }

    fn audio(n: usize) -> Item {
        Item::new(ClientMessage::audio(INPUT_RATE, &vec![1i16; n]))
    }

    fn end() -> Item {
        Item::new(ClientMessage::RealtimeInput(RealtimeInput {
            activity_end: Some(Empty {}),
            ..Default::default()
        }))
    }

    #[test]
    fn kinds_are_decided_in_one_place() {
        assert!(is_droppable(&audio(10).msg));
        assert!(!is_droppable(&end().msg));
        assert!(!is_droppable(&ClientMessage::user_text("hi")));
    }

    #[test]
    fn outage_keeps_five_seconds_of_audio_dropping_the_oldest() {
        let mut o = outbox();
        o.push(end());
        // 6 s of 20 ms frames
        for _ in 0..300 {
            o.push(audio(320));
        }
        assert_eq!(o.queued(), 1 + 250);
        assert_eq!(SessionMetrics::get(&o.metrics.audio_frames_dropped), 50);
        // the must-deliver message kept its place at the front
        assert!(!is_droppable(&o.pop().unwrap().msg));
    }

    #[test]
    fn unacknowledged_messages_are_replayed_in_order_and_acked_ones_are_not() {
        let mut o = outbox();
        for text in ["a", "b", "c"] {
            let msg = ClientMessage::user_text(text);
            o.written(&ClientMessage::audio(INPUT_RATE, &[0; 4]));
            o.written(&msg);
        }
        // indices: 0 audio, 1 a, 2 audio, 3 b, 4 audio, 5 c
        let acked = o.ack(3);
        assert_eq!(
            acked,
            vec![ClientMessage::user_text("a"), ClientMessage::user_text("b")]
        );
        o.push(end());
        assert_eq!(o.begin_connection(), 1);
        assert_eq!(o.pop().unwrap().msg, ClientMessage::user_text("c"));
        assert!(!is_droppable(&o.pop().unwrap().msg));
        assert!(o.pop().is_none());
        // numbering restarts on the new connection
        assert_eq!(o.written(&ClientMessage::user_text("d")), 0);
    }

    #[test]
    fn hostile_ack_indices_are_harmless() {
        let mut o = outbox();
        o.written(&ClientMessage::user_text("a"));
        assert!(o.ack(-5).is_empty());
        assert_eq!(o.unacked(), 1);
        assert_eq!(o.ack(i64::MAX).len(), 1);
        assert_eq!(o.unacked(), 0);
    }
}
