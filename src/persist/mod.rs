//! Conversations that outlive voxlive: each talk, chat or live session is saved under a name (one JSON file
//! in the user's data directory) with its newest resumption handle and its turns, rewritten atomically on
//! every handle and every turn. `--resume [NAME]` continues one: with the saved handle while it is valid
//! (the server keeps the conversation for 2 hours), else with the saved turns as clientContent history.
//!
//! - `record.rs`: the file's contents and what is checked when it is read back.
//! - `store.rs`: the directory, names, atomic writes, listing.
//! - `listing.rs`: what `voxlive sessions list|show` print.
//! - `journal.rs`: the session's [`crate::session::Journal`] that keeps the file up to date.

mod journal;
pub mod listing;
mod record;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;

pub use journal::{Notice, SessionJournal};
pub use record::{
    rfc3339, Role, SavedHandle, SavedSession, SavedTurn, FORMAT_VERSION, HANDLE_VALID_FOR, MAX_FILE_BYTES, MAX_TURNS,
    MAX_TURN_TEXT,
};
pub use store::{check_name, Listed, Store, DATA_DIR_ENV, MAX_NAME_LEN};

use crate::session::ResumeFrom;

/// Why a saved session cannot be used. None is retryable as such: fix the name or the file.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("invalid session name {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("no saved session named {0:?} (see `voxlive sessions list`)")]
    NotFound(String),
    /// `voxlive --resume chat`: the flag took the command as its value.
    #[error("no saved session named {0:?}: put --resume after the command (voxlive {0} --resume [NAME])")]
    CommandAsName(String),
    #[error("no saved sessions in {0} yet")]
    NoneSaved(PathBuf),
    #[error("a saved session named {0:?} exists already: continue it with --resume {0}, or choose another name")]
    Exists(String),
    #[error("saved session {path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("saved session {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot tell where the user's data directory is: set {DATA_DIR_ENV}")]
    NoDataDir,
}

/// What a session run will save into, decided from the flags before the session starts.
pub struct Plan {
    store: Store,
    record: SavedSession,
    resuming: bool,
}

impl Plan {
    /// A new session saved as `name` (which must be free), or under a name made from the time.
    pub fn new_session(store: Store, name: Option<&str>) -> Result<Plan, SavedError> {
        let now = OffsetDateTime::now_utc();
        let name = match name {
            Some(n) if store.exists(n)? => return Err(SavedError::Exists(n.to_string())),
            Some(n) => n.to_string(),
            None => store.fresh_name(now)?,
        };
        Ok(Plan {
            record: SavedSession::new(&name, "", now),
            store,
            resuming: false,
        })
    }

    /// Continue the session `name`, or the most recently updated one.
    pub fn resume(store: Store, name: Option<&str>) -> Result<Plan, SavedError> {
        let record = match name {
            Some(n) => store.load(n).map_err(|e| match e {
                SavedError::NotFound(n) if ["chat", "talk"].contains(&n.as_str()) => SavedError::CommandAsName(n),
                e => e,
            })?,
            None => store.latest()?,
        };
        Ok(Plan {
            store,
            record,
            resuming: true,
        })
    }

    /// The model the resumed session used (a resumed conversation keeps its model unless told otherwise).
    pub fn saved_model(&self) -> Option<&str> {
        self.resuming.then_some(self.record.model.as_str())
    }

    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Starts saving for a session on `model`: what its first connection continues (when resuming) and the
    /// journal to put in the session options.
    pub fn start(mut self, model: &str, notice: Notice) -> (Option<ResumeFrom>, Arc<SessionJournal>) {
        let now = OffsetDateTime::now_utc();
        let mut resume = None;
        let mut no_handle = None;
        if self.resuming {
            let handle = self.record.valid_handle(now).map(str::to_string);
            if handle.is_none() {
                no_handle = Some(match &self.record.handle {
                    Some(h) => format!("the saved handle from {} has expired", rfc3339(h.received)),
                    None => "no resumption handle was saved".to_string(),
                });
            }
            resume = Some(ResumeFrom {
                handle,
                history: self.record.history(),
            });
        }
        self.record.model = model.to_string();
        let journal = SessionJournal::new(self.store, self.record, no_handle, notice);
        (resume, journal)
    }
}
