//! Session resumption: the handles this server issued and the conversation state each one continues.
//! Every update issues a new handle; older handles of the same conversation stay valid. A handle is valid
//! for [`HANDLE_TTL`] after its conversation's last connection ended (the real service's 2 hours), then
//! forgotten; at most [`MAX_HANDLES`] are kept (the oldest go first), so a client that resumes forever or
//! asks for transparent updates on every message cannot grow the server without bound.
//!
//! What a resumed connection continues: the completed turns (a scripted responder goes on from there) and
//! the reply that was still being sent when the previous connection ended, so resume really continues
//! the conversation, mid-sentence included.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::reply::{Outgoing, TurnUsage};

/// How long a handle stays valid after its conversation's last connection ended.
pub const HANDLE_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// At most this many handles are remembered.
pub const MAX_HANDLES: usize = 100_000;

/// The part of a reply not yet sent when a connection ended.
#[derive(Debug, Default)]
pub struct Unsent {
    pub queue: VecDeque<Outgoing>,
    pub awaiting_tool: Option<super::tool_calls::OpenCalls>,
    pub usage: TurnUsage,
    pub next_call_id: u64,
}

/// What a resumed connection continues.
#[derive(Debug, Default)]
pub struct Conversation {
    turns: AtomicU64,
    unsent: Mutex<Option<Unsent>>,
    /// When its last connection ended; `None` while one is open.
    ended_at: Mutex<Option<Instant>>,
    /// Wakes a connection that resumed this conversation while an older one was still open (make before
    /// break): what the older one leaves unsent when it ends is handed over, not lost.
    pub handover: tokio::sync::Notify,
}

impl Conversation {
    /// Completed turns so far.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::SeqCst)
    }

    pub fn complete_turn(&self) {
        self.turns.fetch_add(1, Ordering::SeqCst);
    }

    /// A connection of this conversation ended with `unsent` still to send.
    pub fn connection_ended(&self, unsent: Unsent) {
        {
            // merge, never overwrite: two connections may end before a third takes over, and the older
            // one's reply comes first
            let mut slot = self.unsent.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_mut() {
                None => *slot = Some(unsent),
                Some(kept) => {
                    kept.queue.extend(unsent.queue);
                    if kept.awaiting_tool.is_none() {
                        kept.awaiting_tool = unsent.awaiting_tool;
                    }
                    kept.next_call_id = kept.next_call_id.max(unsent.next_call_id);
                }
            }
        }
        *self.ended_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.handover.notify_one();
    }

    /// A connection resumes this conversation: what the last one left unsent.
    pub fn take_unsent(&self) -> Option<Unsent> {
        *self.ended_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.unsent.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn expired(&self, now: Instant, ttl: Duration) -> bool {
        let ended = *self.ended_at.lock().unwrap_or_else(|e| e.into_inner());
        ended.is_some_and(|t| now.saturating_duration_since(t) > ttl)
    }
}

pub struct Sessions {
    handles: Mutex<Handles>,
    ttl: Duration,
}

#[derive(Default)]
struct Handles {
    map: HashMap<String, Arc<Conversation>>,
    order: VecDeque<String>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_ttl(HANDLE_TTL)
    }
}

impl Sessions {
    pub fn with_ttl(ttl: Duration) -> Self {
        Sessions {
            handles: Mutex::new(Handles::default()),
            ttl,
        }
    }

    /// A new handle for `conversation`.
    pub fn issue(&self, conversation: &Arc<Conversation>) -> String {
        let handle = format!("voxlive-{:032x}", rand::random::<u128>());
        // A poisoned lock only means another connection panicked mid-insert; the map is still usable.
        let mut h = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        while h.order.len() >= MAX_HANDLES {
            if let Some(old) = h.order.pop_front() {
                h.map.remove(&old);
            }
        }
        h.map.insert(handle.clone(), Arc::clone(conversation));
        h.order.push_back(handle.clone());
        handle
    }

    /// The conversation a handle continues, if this server issued it and it has not expired.
    pub fn resume(&self, handle: &str) -> Option<Arc<Conversation>> {
        let now = Instant::now();
        let mut h = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        let conversation = h.map.get(handle).cloned()?;
        if conversation.expired(now, self.ttl) {
            h.map.retain(|_, c| !Arc::ptr_eq(c, &conversation));
            let Handles { map, order } = &mut *h;
            order.retain(|k| map.contains_key(k));
            return None;
        }
        Some(conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_handles_resume_the_same_conversation() {
        let s = Sessions::default();
        let c = Arc::new(Conversation::default());
        let h = s.issue(&c);
        c.complete_turn();
        assert_eq!(s.resume(&h).map(|c| c.turns()), Some(1));
        assert!(s.resume("voxlive-unknown").is_none());
    }

    #[test]
    fn handles_expire_after_the_conversation_ended() {
        let s = Sessions::with_ttl(Duration::ZERO);
        let c = Arc::new(Conversation::default());
        let h = s.issue(&c);
        // still open: valid however long it has been
        assert!(s.resume(&h).is_some());
        c.connection_ended(Unsent::default());
        std::thread::sleep(Duration::from_millis(2));
        assert!(s.resume(&h).is_none(), "expired");
        assert!(s.resume(&h).is_none(), "and forgotten");
    }

    #[test]
    fn unsent_reply_is_handed_to_the_resuming_connection_once() {
        let c = Conversation::default();
        c.connection_ended(Unsent {
            next_call_id: 7,
            ..Unsent::default()
        });
        assert_eq!(c.take_unsent().map(|u| u.next_call_id), Some(7));
        assert!(c.take_unsent().is_none());
    }

    #[test]
    fn two_endings_before_a_take_over_keep_both() {
        let c = Conversation::default();
        let one = Outgoing::Message(crate::protocol::ServerMessage::default());
        c.connection_ended(Unsent {
            queue: [one.clone(), one].into_iter().collect(),
            ..Unsent::default()
        });
        c.connection_ended(Unsent::default());
        assert_eq!(c.take_unsent().map(|u| u.queue.len()), Some(2));
    }
}
