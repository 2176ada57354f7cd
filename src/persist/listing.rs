//! What `voxlive sessions list` and `voxlive sessions show` print: plain text, server words sanitized.

use std::fmt::Write;

use time::OffsetDateTime;

use super::record::{rfc3339, SavedSession};
use super::store::{Listed, Store};
use super::SavedError;
use crate::ui::sanitize;

/// One line per saved session, newest first, with a header; unreadable files are named with the reason.
pub fn list(store: &Store, now: OffsetDateTime) -> Result<String, SavedError> {
    let listed = store.list()?;
    if listed.is_empty() {
        return Ok(format!("no saved sessions in {}\n", store.dir().display()));
    }
    let mut out = format!(
        "{:<24} {:<46} {:<20} {:>5}  handle\n",
        "NAME", "MODEL", "UPDATED (UTC)", "TURNS"
    );
    for entry in listed {
        match entry {
            Listed::Ok(s) => {
                let handle = match (&s.handle, s.valid_handle(now)) {
                    (_, Some(_)) => "valid",
                    (Some(_), None) => "expired",
                    (None, None) => "none",
                };
                let _ = writeln!(
                    out,
                    "{:<24} {:<46} {:<20} {:>5}  {handle}",
                    s.name,
                    sanitize(&s.model),
                    rfc3339(s.updated),
                    s.turns.len()
                );
            }
            Listed::Corrupt { name, error } => {
                let _ = writeln!(out, "{name:<24} (unreadable: {error})");
            }
        }
    }
    Ok(out)
}

/// The header and transcript of one session.
pub fn show(s: &SavedSession, now: OffsetDateTime) -> String {
    let mut out = format!(
        "session {} (model {}), created {}, updated {}, {} turns, resumption handle {}\n",
        s.name,
        sanitize(&s.model),
        rfc3339(s.created),
        rfc3339(s.updated),
        s.turns.len(),
        match (&s.handle, s.valid_handle(now)) {
            (_, Some(_)) => "valid",
            (Some(_), None) => "expired",
            (None, None) => "none",
        }
    );
    for t in &s.turns {
        let who = match t.role {
            super::Role::User => "you",
            super::Role::Model => "assistant",
        };
        let _ = writeln!(out, "{who}: {}", sanitize(&t.text));
    }
    out
}
