//! One saved session as it sits on disk (JSON): its name, model, when it was created and last updated,
//! the newest resumption handle with when it arrived, and the turns as role + text. What is read back is
//! checked (version, name, sizes, counts) before anything uses it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::protocol::Content;

/// The file format's version; another one is refused with a clear error.
pub const FORMAT_VERSION: u32 = 1;
/// A saved file larger than this is not one of ours: refused before it is read.
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// At most this many turns are kept (the oldest are forgotten first).
pub const MAX_TURNS: usize = 1000;
/// One turn's text is cut at this many bytes.
pub const MAX_TURN_TEXT: usize = 64 << 10;
/// The longest model id accepted from a file.
pub const MAX_MODEL_LEN: usize = 256;
/// How long a resumption handle stays valid after the session last did something (protocol.md: 2 hours
/// after the session ends), less a minute so a handle is not tried in its last seconds.
pub const HANDLE_VALID_FOR: Duration = Duration::from_secs(2 * 60 * 60 - 60);

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Model,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Model => "model",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTurn {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedHandle {
    pub value: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSession {
    pub version: u32,
    pub name: String,
    pub model: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<SavedHandle>,
    #[serde(default)]
    pub turns: Vec<SavedTurn>,
}

impl SavedSession {
    pub fn new(name: &str, model: &str, now: OffsetDateTime) -> Self {
        SavedSession {
            version: FORMAT_VERSION,
            name: name.to_string(),
            model: model.to_string(),
            created: now,
            updated: now,
            handle: None,
            turns: Vec::new(),
        }
    }

    /// Checks what was read back; the reason when it cannot be used.
    pub fn validate(&self, expected_name: &str) -> Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} (this voxlive reads {FORMAT_VERSION})",
                self.version
            ));
        }
        if self.name != expected_name {
            return Err(format!("it names itself {:?}, not {expected_name:?}", self.name));
        }
        if self.model.is_empty() || self.model.len() > MAX_MODEL_LEN {
            return Err(format!("the model id must be 1 to {MAX_MODEL_LEN} bytes"));
        }
        if let Some(h) = &self.handle {
            if h.value.is_empty() || h.value.len() > crate::session::MAX_HANDLE_LEN {
                return Err(format!(
                    "the resumption handle must be 1 to {} bytes",
                    crate::session::MAX_HANDLE_LEN
                ));
            }
        }
        if self.turns.len() > MAX_TURNS {
            return Err(format!("{} turns (at most {MAX_TURNS})", self.turns.len()));
        }
        if let Some(i) = self.turns.iter().position(|t| t.text.len() > MAX_TURN_TEXT) {
            return Err(format!("turn {} is longer than {MAX_TURN_TEXT} bytes", i + 1));
        }
        Ok(())
    }

    /// The handle, if it is still valid at `now`: within [`HANDLE_VALID_FOR`] of the later of its arrival
    /// and the session's last update (a clock that went back more than 5 minutes voids it too).
    pub fn valid_handle(&self, now: OffsetDateTime) -> Option<&str> {
        let h = self.handle.as_ref()?;
        let last = h.received.max(self.updated);
        let age = now - last;
        let ok = age < time::Duration::try_from(HANDLE_VALID_FOR).ok()? && age > -time::Duration::minutes(5);
        ok.then_some(h.value.as_str())
    }

    /// Appends a turn: text trimmed and cut at [`MAX_TURN_TEXT`], the oldest turn dropped past [`MAX_TURNS`].
    pub fn push_turn(&mut self, role: Role, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let mut end = text.len().min(MAX_TURN_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if self.turns.len() >= MAX_TURNS {
            self.turns.remove(0);
        }
        self.turns.push(SavedTurn {
            role,
            text: text[..end].to_string(),
        });
    }

    /// The newest turns as clientContent history (at most the supervisor's seeding bound).
    pub fn history(&self) -> Vec<Content> {
        let skip = self.turns.len().saturating_sub(crate::session::MAX_HISTORY_TURNS);
        self.turns[skip..]
            .iter()
            .map(|t| Content::text(Some(t.role.as_str()), t.text.clone()))
            .collect()
    }

    pub fn to_json(&self) -> String {
        // a struct of strings, numbers and vectors always serializes
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// `t` as RFC 3339 (UTC), for people.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn a_handle_is_valid_for_two_hours_after_the_last_activity() {
        let mut s = SavedSession::new("a", "m", at(0));
        assert_eq!(s.valid_handle(at(1)), None, "no handle");
        s.handle = Some(SavedHandle {
            value: "h".into(),
            received: at(0),
        });
        s.updated = at(600);
        assert_eq!(s.valid_handle(at(600 + 3600)), Some("h"));
        assert_eq!(s.valid_handle(at(600 + 7200)), None, "expired");
        assert_eq!(s.valid_handle(at(-3600)), None, "a clock far behind voids it");
    }

    #[test]
    fn turns_are_bounded_and_trimmed() {
        let mut s = SavedSession::new("a", "m", at(0));
        s.push_turn(Role::User, "   ");
        assert!(s.turns.is_empty());
        for i in 0..MAX_TURNS + 3 {
            s.push_turn(Role::User, &format!(" t{i} "));
        }
        assert_eq!(s.turns.len(), MAX_TURNS);
        assert_eq!(s.turns[0].text, "t3");
        s.push_turn(Role::Model, &"é".repeat(MAX_TURN_TEXT));
        assert!(s.turns.last().unwrap().text.len() <= MAX_TURN_TEXT);
        assert!(s.validate("a").is_ok());
        assert_eq!(s.history().len(), crate::session::MAX_HISTORY_TURNS);
    }

    #[test]
    fn what_is_read_back_is_checked() {
        let mut s = SavedSession::new("a", "m", at(0));
        assert!(s.validate("b").unwrap_err().contains("names itself"));
        s.version = 9;
        assert!(s.validate("a").unwrap_err().contains("version 9"));
        s.version = FORMAT_VERSION;
        s.model.clear();
        assert!(s.validate("a").is_err());
        let json = SavedSession::new("a", "m", at(0)).to_json();
        let back: SavedSession = serde_json::from_str(&json).unwrap();
        assert_eq!(back, SavedSession::new("a", "m", at(0)));
    }
}
