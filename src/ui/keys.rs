//! The keyboard: which key is push-to-talk ([`KeySpec`]), how its presses become talk turns ([`KeyMode`]),
//! and the pure mapping from key events to [`UserInput`] plus the input line ([`KeyMapper`]). The thread that
//! reads crossterm events lives in `terminal.rs`; everything here is testable without a terminal.
//!
//! Key release is only known where the terminal reports it (the kitty keyboard protocol's event types):
//! there the key is held to talk. Everywhere else a tap starts talking and the next tap stops it. Release
//! is never guessed from gaps in key auto-repeat: repeat rates and delays differ per system and a slow
//! frame would cut the user off mid-sentence.

use std::fmt;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{UiError, UserInput};

/// A key chosen for push-to-talk, e.g. `space`, `f5`, `ctrl+t`, `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub code: KeyCode,
    /// Only CONTROL and ALT: SHIFT changes what a character key types, so it is not a push-to-talk modifier.
    pub modifiers: KeyModifiers,
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec {
            code: KeyCode::Char(' '),
            modifiers: KeyModifiers::NONE,
        }
    }
}

impl std::str::FromStr for KeySpec {
    type Err = UiError;

    /// Parses `[ctrl+][alt+]name`; names are case-insensitive except single characters.
    fn from_str(name: &str) -> Result<Self, UiError> {
        let bad = |why| UiError::UnknownKey {
            name: name.to_string(),
            why,
        };
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = name.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl+") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt+") {
                (KeyModifiers::ALT, 4)
            } else {
                break;
            };
            modifiers |= m;
            rest = &rest[len..];
        }
        let code = key_code(rest).ok_or_else(|| bad("not a key name"))?;
        let reserved = match code {
            KeyCode::Enter | KeyCode::Esc | KeyCode::Backspace => true,
            KeyCode::Char('c' | 'd' | 'u') => modifiers.contains(KeyModifiers::CONTROL),
            _ => false,
        };
        if reserved {
            return Err(bad("reserved for the input line or quitting"));
        }
        Ok(KeySpec { code, modifiers })
    }
}

/// Key names beside single characters and f1..f24; the first name of a key is the one shown.
const NAMES: &[(&str, KeyCode)] = &[
    ("space", KeyCode::Char(' ')),
    ("tab", KeyCode::Tab),
    ("insert", KeyCode::Insert),
    ("ins", KeyCode::Insert),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pgup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("pgdn", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("backspace", KeyCode::Backspace),
];

fn key_code(name: &str) -> Option<KeyCode> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return (!c.is_control() && c != ' ').then_some(KeyCode::Char(c));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        return (1..=24).contains(&n).then_some(KeyCode::F(n));
    }
    NAMES.iter().find(|(n, _)| *n == lower).map(|(_, c)| *c)
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl+")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => f.write_str(NAMES.iter().find(|(_, c)| *c == other).map_or("?", |(n, _)| n)),
        }
    }
}

impl KeySpec {
    /// Whether `ev` is this key. Release events match on the key alone: the user may let go of ctrl first.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let code = match ev.code {
            KeyCode::Char(c) if self.modifiers.contains(KeyModifiers::CONTROL) => KeyCode::Char(c.to_ascii_lowercase()),
            code => code,
        };
        if code != self.code {
            return false;
        }
        let wanted = KeyModifiers::CONTROL | KeyModifiers::ALT;
        ev.kind == KeyEventKind::Release || ev.modifiers & wanted == self.modifiers
    }

    /// Whether pressing the key would type a character into the input line.
    fn is_printable(&self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && self.modifiers.is_empty()
    }
}

/// How the push-to-talk key works on this terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The terminal reports key release (kitty keyboard protocol): hold the key to talk.
    HoldRelease,
    /// No release events: a tap starts talking, the next tap stops (the conversation core caps the turn).
    TapToggle,
}

impl KeyMode {
    /// The line shown on screen, e.g. "hold space to talk (key release reported)".
    pub fn label(self, key: &KeySpec) -> String {
        match self {
            KeyMode::HoldRelease => format!("hold {key} to talk (key release reported)"),
            KeyMode::TapToggle => format!("tap {key} to start and stop talking"),
        }
    }
}

/// Tap-to-toggle only: a legacy terminal reports a held key as a stream of presses. A press this soon after
/// the press that toggled is the held key's first auto-repeat (typical initial delays are 250-660 ms)...
pub const TAP_REPEAT_DELAY: Duration = Duration::from_millis(700);
/// ...and one this soon after any press of the key is a later auto-repeat (repeat rates are 10-50 per second).
/// Both are swallowed, so holding the key toggles once; no release is ever inferred from them.
pub const TAP_REPEAT_GAP: Duration = Duration::from_millis(120);

/// The input line stops growing here (a paste of a whole file is not a message).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// The pure key state machine: key events in, [`UserInput`] out, and the input line being typed.
#[derive(Debug, Clone)]
pub struct KeyMapper {
    ptt: Option<(KeySpec, KeyMode)>,
    line: String,
    /// The key is held (hold mode) or toggled on (tap mode).
    talking: bool,
    last_toggle: Option<Instant>,
    last_press: Option<Instant>,
}

impl KeyMapper {
    /// `ptt`: the push-to-talk key and how it works; `None` in hands-free mode, where every key types.
    pub fn new(ptt: Option<(KeySpec, KeyMode)>) -> Self {
        KeyMapper {
            ptt,
            line: String::new(),
            talking: false,
            last_toggle: None,
            last_press: None,
        }
    }

    /// The input line as typed so far (not yet sent).
    pub fn line(&self) -> &str {
        &self.line
    }

    /// Folds one key event read at `at`. The input line may change even when nothing is returned.
    pub fn on_key(&mut self, ev: &KeyEvent, at: Instant) -> Option<UserInput> {
        if let Some((spec, mode)) = self.ptt {
            if spec.matches(ev) {
                if let Some(out) = self.on_ptt(spec, mode, ev, at) {
                    return out;
                }
            }
        }
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Char('c' | 'C' | 'd' | 'D') if ctrl => Some(UserInput::Quit),
            KeyCode::Char('u' | 'U') if ctrl => {
                self.line.clear();
                None
            }
            KeyCode::Esc if self.line.is_empty() => Some(UserInput::Quit),
            KeyCode::Esc => {
                self.line.clear();
                None
            }
            KeyCode::Enter if self.line.trim().is_empty() => None,
            KeyCode::Enter => Some(UserInput::Line {
                text: std::mem::take(&mut self.line),
                at,
            }),
            KeyCode::Backspace => {
                self.line.pop();
                None
            }
            KeyCode::Char(c) if !ctrl && !ev.modifiers.contains(KeyModifiers::ALT) => {
                if self.line.len() < MAX_LINE_BYTES {
                    self.line.push(typed_char(c, ev.modifiers));
                }
                None
            }
            _ => None,
        }
    }

    /// The push-to-talk key. `Some(out)`: handled (`out` to send); `None`: it types like any other key.
    fn on_ptt(&mut self, spec: KeySpec, mode: KeyMode, ev: &KeyEvent, at: Instant) -> Option<Option<UserInput>> {
        let types = spec.is_printable() && !self.line.is_empty();
        match (mode, ev.kind) {
            (KeyMode::HoldRelease, KeyEventKind::Release) if self.talking => {
                self.talking = false;
                Some(Some(UserInput::KeyUp { at }))
            }
            (_, KeyEventKind::Release) => Some(None),
            (KeyMode::HoldRelease, _) if types && !self.talking => None,
            (KeyMode::HoldRelease, KeyEventKind::Repeat) => Some(None),
            (KeyMode::HoldRelease, _) if self.talking => Some(None),
            (KeyMode::HoldRelease, _) => {
                self.talking = true;
                Some(Some(UserInput::KeyDown { at }))
            }
            (KeyMode::TapToggle, _) => {
                let previous = self.last_press.replace(at);
                let repeat = within(previous, at, TAP_REPEAT_GAP)
                    || within(self.last_toggle, at, TAP_REPEAT_DELAY)
                    || ev.kind == KeyEventKind::Repeat;
                if types && !self.talking {
                    return None;
                }
                if repeat {
                    return Some(None);
                }
                self.last_toggle = Some(at);
                self.talking = !self.talking;
                Some(Some(if self.talking {
                    UserInput::KeyDown { at }
                } else {
                    UserInput::KeyUp { at }
                }))
            }
        }
    }
}

fn within(earlier: Option<Instant>, at: Instant, window: Duration) -> bool {
    earlier.is_some_and(|e| at.saturating_duration_since(e) < window)
}

/// With every key reported as an escape code and no alternate keys, shift+a arrives as 'a' with SHIFT.
fn typed_char(c: char, modifiers: KeyModifiers) -> char {
    if modifiers.contains(KeyModifiers::SHIFT) && c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
