//! Keeps a saved session up to date while it runs: a [`crate::session::Journal`] that folds what is sent
//! (typed lines) and received (transcripts, text, resumption handles, turn ends) into the record, and a
//! writer thread of its own that saves it. The session's tasks never wait on the disk: each change hands
//! the newest copy to the writer, which writes only the latest one when changes come faster than writes.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use time::OffsetDateTime;

use super::record::{Role, SavedHandle, SavedSession};
use super::store::Store;
use crate::protocol::ClientMessage;
use crate::session::{Event, Journal, Start};

/// Says something to the person (the CLI prints it).
pub type Notice = Box<dyn Fn(&str) + Send + Sync>;

/// What the journal knows: the record and the words of the turn in progress.
struct State {
    record: SavedSession,
    user: String,
    model: String,
    /// Why a resumed session could not use its handle (expired, none), for the start notice.
    no_handle: Option<String>,
}

#[derive(Default)]
struct Slot {
    next: Option<SavedSession>,
    done: bool,
    failures: u64,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

pub struct SessionJournal {
    state: Mutex<State>,
    slot: Shared,
    writer: Mutex<Option<JoinHandle<()>>>,
    notice: Notice,
}

impl SessionJournal {
    /// Starts the writer for `record` in `store`. `no_handle` says why a resumed session has no handle.
    pub fn new(store: Store, record: SavedSession, no_handle: Option<String>, notice: Notice) -> Arc<Self> {
        let slot: Shared = Arc::default();
        let writer = {
            let slot = slot.clone();
            std::thread::Builder::new()
                .name("voxlive-save".into())
                .spawn(move || write_loop(store, slot))
                .map_err(|e| tracing::warn!("cannot start the session writer ({e}); this session is not saved"))
                .ok()
        };
        Arc::new(SessionJournal {
            state: Mutex::new(State {
                record,
                user: String::new(),
                model: String::new(),
                no_handle,
            }),
            slot,
            writer: Mutex::new(writer),
            notice,
        })
    }

    pub fn name(&self) -> String {
        self.lock().record.name.clone()
    }

    /// Writes what is pending and stops the writer (also on drop).
    pub fn finish(&self) {
        {
            let (lock, cv) = &*self.slot;
            let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
            slot.done = true;
            cv.notify_all();
        }
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the newest record to the writer.
    fn save(&self, state: &mut State) {
        state.record.updated = OffsetDateTime::now_utc();
        let (lock, cv) = &*self.slot;
        let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
        slot.next = Some(state.record.clone());
        cv.notify_all();
    }
}

impl Drop for SessionJournal {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Masks PII (`--redact-pii`) before anything is saved.
fn clean(text: &str) -> String {
    if crate::redact::pii::enabled() {
        crate::redact::pii::mask(text)
    } else {
        text.to_string()
    }
}

impl Journal for SessionJournal {
    fn started(&self, start: &Start) {
        let mut state = self.lock();
        let name = state.record.name.clone();
        let line = match start {
            Start::Fresh => format!("saving this conversation as {name} (continue it later with --resume {name})"),
            Start::ByHandle => format!(
                "resumed saved session {name} with its resumption handle: the server continues the same conversation"
            ),
            Start::ByHistory { turns, reason } => {
                // the old handle is dead either way
                state.record.handle = None;
                let why = state.no_handle.clone().unwrap_or_else(|| reason.clone());
                format!("continued saved session {name} from its transcript: {turns} turns sent as history ({why})")
            }
        };
        self.save(&mut state);
        drop(state);
        (self.notice)(&line);
    }

    fn sent(&self, msg: &ClientMessage) {
        let mut state = self.lock();
        let mut changed = false;
        match msg {
            ClientMessage::ClientContent(c) => {
                for turn in &c.turns {
                    let role = match turn.role.as_deref() {
                        Some("model") => Role::Model,
                        _ => Role::User,
                    };
                    state.record.push_turn(role, &clean(&turn.joined_text()));
                    changed = true;
                }
            }
            ClientMessage::RealtimeInput(r) => {
                if let Some(t) = &r.text {
                    state.record.push_turn(Role::User, &clean(t));
                    changed = true;
                }
            }
            _ => {}
        }
        if changed {
            self.save(&mut state);
        }
    }

    fn event(&self, event: &Event) {
        let mut state = self.lock();
        match event {
            Event::ResumptionUpdate {
                handle: Some(h),
                resumable: true,
                ..
            } if !h.is_empty() && h.len() <= crate::session::MAX_HANDLE_LEN => {
                if state.record.handle.as_ref().is_some_and(|old| &old.value == h) {
                    return;
                }
                state.record.handle = Some(SavedHandle {
                    value: h.clone(),
                    received: OffsetDateTime::now_utc(),
                });
                self.save(&mut state);
            }
            Event::InputTranscript(t) => state.user.push_str(t),
            Event::OutputTranscript(t) | Event::Text(t) => state.model.push_str(t),
            Event::TurnComplete { .. } => {
                let (user, model) = (std::mem::take(&mut state.user), std::mem::take(&mut state.model));
                state.record.push_turn(Role::User, &clean(&user));
                state.record.push_turn(Role::Model, &clean(&model));
                self.save(&mut state);
            }
            Event::Restarted { .. } => {
                state.record.handle = None;
                self.save(&mut state);
            }
            Event::Closed { .. } => self.save(&mut state),
            _ => {}
        }
    }
}

/// The writer thread: saves the newest record handed over until told to finish (after a last write).
fn write_loop(store: Store, slot: Shared) {
    let (lock, cv) = &*slot;
    loop {
        let (next, done) = {
            let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
            while s.next.is_none() && !s.done {
                s = cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            (s.next.take(), s.done)
        };
        if let Some(record) = next {
            if let Err(e) = store.save(&record) {
                let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                s.failures += 1;
                if s.failures == 1 || s.failures % 100 == 0 {
                    tracing::warn!("saving the session failed ({} times so far): {e}", s.failures);
                }
            }
            continue;
        }
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::UsageMetadata;

    #[test]
    fn a_conversation_is_saved_turn_by_turn_with_its_newest_handle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let record = SavedSession::new("t", "m", OffsetDateTime::now_utc());
        let j = SessionJournal::new(store.clone(), record, None, Box::new(|_| {}));
        j.started(&Start::Fresh);
        j.sent(&ClientMessage::user_text("hello"));
        j.event(&Event::ResumptionUpdate {
            handle: Some("h1".into()),
            resumable: true,
            last_consumed_index: None,
        });
        j.event(&Event::OutputTranscript("hi ".into()));
        j.event(&Event::OutputTranscript("there".into()));
        j.event(&Event::TurnComplete {
            usage: None::<UsageMetadata>,
            reason: None,
            interaction: None,
        });
        j.event(&Event::InputTranscript("spoken".into()));
        j.event(&Event::TurnComplete {
            usage: None,
            reason: None,
            interaction: None,
        });
        j.finish();
        let back = store.load("t").unwrap();
        let turns: Vec<_> = back.turns.iter().map(|t| (t.role, t.text.as_str())).collect();
        assert_eq!(
            turns,
            [(Role::User, "hello"), (Role::Model, "hi there"), (Role::User, "spoken")]
        );
        assert_eq!(back.handle.map(|h| h.value), Some("h1".into()));
    }
}
