//! Session resumption: the handles this server issued and the conversation state each one continues.
//! Every update issues a new handle; older handles of the same conversation stay valid (the real service
//! keeps them for 2 hours; this server keeps them until it stops).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What a resumed connection continues.
#[derive(Debug, Default)]
pub struct Conversation {
    turns: AtomicU64,
}

impl Conversation {
    /// Completed turns so far.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::SeqCst)
    }

    pub fn complete_turn(&self) {
        self.turns.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
pub struct Sessions {
    handles: Mutex<HashMap<String, Arc<Conversation>>>,
}

impl Sessions {
    /// A new handle for `conversation`.
    pub fn issue(&self, conversation: &Arc<Conversation>) -> String {
        let handle = format!("voxlive-{:032x}", rand::random::<u128>());
        // A poisoned lock only means another connection panicked mid-insert; the map is still usable.
        let mut map = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(handle.clone(), Arc::clone(conversation));
        handle
    }

    /// The conversation a handle continues, if this server issued it.
    pub fn resume(&self, handle: &str) -> Option<Arc<Conversation>> {
        let map = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        map.get(handle).cloned()
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
}
