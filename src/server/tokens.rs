//! Ephemeral tokens the embedded server minted (`POST /v1alpha/auth_tokens`) and admits on the v1alpha
//! `BidiGenerateContentConstrained` path: each with its uses, its two expiry times and an optional locked
//! setup. A new session spends a use and must start before `newSessionExpireTime`; resuming one is free but
//! must come before `expireTime`. Bounded: at most [`MAX_TOKENS`] are kept (expired ones are forgotten
//! first). Token names are secrets: never logged.

use std::collections::HashMap;
use std::sync::Mutex;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::protocol::{AuthToken, CreateAuthToken, Setup};

/// At most this many live tokens; minting one more is refused.
pub const MAX_TOKENS: usize = 10_000;
/// `expireTime` when the request gives none.
pub const DEFAULT_EXPIRE: Duration = Duration::minutes(30);
/// `newSessionExpireTime` when the request gives none.
pub const DEFAULT_NEW_SESSION_EXPIRE: Duration = Duration::seconds(60);
/// Neither time may be this far ahead or more.
pub const MAX_AHEAD: Duration = Duration::hours(20);
/// The largest `uses` accepted.
pub const MAX_USES: u32 = 1_000_000;
/// The largest locked setup accepted, serialized.
pub const MAX_LOCKED_SETUP: usize = 256 << 10;

/// One minted token.
#[derive(Debug, Clone)]
struct Token {
    /// `None`: no limit.
    uses_left: Option<u32>,
    expire: OffsetDateTime,
    new_session_expire: OffsetDateTime,
    locked: Option<Locked>,
}

/// A setup locked into a token, and which of its fields are locked (`None`: the whole setup).
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    pub setup: serde_json::Value,
    pub fields: Option<Vec<String>>,
}

/// A token let in: the setup it locks, and when sessions using it end.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub locked: Option<Locked>,
    pub expires: OffsetDateTime,
}

#[derive(Default)]
pub struct Tokens {
    map: Mutex<HashMap<String, Token>>,
}

/// Parses an RFC 3339 time; one without an offset (Python's naive `isoformat()`) is taken as UTC.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()
}

fn format_time(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl Tokens {
    /// Mints a token for `request` at `now`; the reason (for an HTTP 400) when the request is invalid.
    pub fn mint(&self, request: &CreateAuthToken, now: OffsetDateTime) -> Result<AuthToken, String> {
        let time = |field: &str, given: &Option<String>, default: Duration| match given {
            None => Ok(now + default),
            Some(text) => {
                let t = parse_time(text).ok_or_else(|| format!("{field} {text:?} is not an RFC 3339 time"))?;
                if t <= now {
                    Err(format!("{field} {text} is not in the future"))
                } else if t - now >= MAX_AHEAD {
                    Err(format!("{field} {text} must be less than 20 hours in the future"))
                } else {
                    Ok(t)
                }
            }
        };
        let expire = time("expireTime", &request.expire_time, DEFAULT_EXPIRE)?;
        let new_session_expire = time(
            "newSessionExpireTime",
            &request.new_session_expire_time,
            DEFAULT_NEW_SESSION_EXPIRE,
        )?
        .min(expire);
        let uses = request.uses.unwrap_or(1);
        if uses > MAX_USES {
            return Err(format!("uses {uses} is more than {MAX_USES}"));
        }
        let locked = locked_of(request)?;
        let name = format!(
            "auth_tokens/{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.expire > now);
        if map.len() >= MAX_TOKENS {
            return Err(format!("too many live tokens (limit {MAX_TOKENS}); try again later"));
        }
        map.insert(
            name.clone(),
            Token {
                uses_left: (uses > 0).then_some(uses),
                expire,
                new_session_expire,
                locked,
            },
        );
        Ok(AuthToken {
            name: Some(name),
            expire_time: Some(format_time(expire)),
            new_session_expire_time: Some(format_time(new_session_expire)),
            uses: Some(uses),
        })
    }

    /// Admits `name` for a new session (spending a use) or a resumed one: its locked setup and when it
    /// expires, or why not.
    pub fn admit(&self, name: &str, resuming: bool, now: OffsetDateTime) -> Result<Admitted, String> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(token) = map.get_mut(name.trim()) else {
            return Err("the ephemeral token is not valid (unknown token)".into());
        };
        if now >= token.expire {
            return Err("the ephemeral token has expired".into());
        }
        if !resuming {
            if now >= token.new_session_expire {
                return Err(
                    "the ephemeral token can no longer start new sessions (newSessionExpireTime passed)".into(),
                );
            }
            match token.uses_left {
                Some(0) => return Err("the ephemeral token is used up (no uses left)".into()),
                Some(n) => token.uses_left = Some(n - 1),
                None => {}
            }
        }
        Ok(Admitted {
            locked: token.locked.clone(),
            expires: token.expire,
        })
    }
}

/// The setup a token request locks, checked: an object, bounded, a valid setup.
fn locked_of(request: &CreateAuthToken) -> Result<Option<Locked>, String> {
    Ok(match &request.bidi_generate_content_setup {
        None => None,
        Some(v) if !v.is_object() => return Err("bidiGenerateContentSetup must be an object".into()),
        Some(v) => {
            if v.to_string().len() > MAX_LOCKED_SETUP {
                return Err(format!(
                    "bidiGenerateContentSetup is larger than {MAX_LOCKED_SETUP} bytes"
                ));
            }
            serde_json::from_value::<Setup>(v.clone())
                .map_err(|e| format!("bidiGenerateContentSetup is not a valid setup: {e}"))?;
            let fields = request.field_mask.as_ref().map(|m| {
                m.split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect()
            });
            Some(Locked {
                setup: v.clone(),
                fields,
            })
        }
    })
}

/// `setup` with the locked fields taken from `locked` (all of them but the resumption handle when the whole
/// setup is locked). The client cannot change what the token's minter fixed.
pub fn apply_lock(setup: &Setup, locked: &Locked) -> Result<Setup, String> {
    let client = serde_json::to_value(setup).map_err(|e| e.to_string())?;
    let mut merged = match &locked.fields {
        None => {
            let mut v = locked.setup.clone();
            if let (Some(obj), Some(resumption)) = (v.as_object_mut(), client.get("sessionResumption")) {
                obj.insert("sessionResumption".into(), resumption.clone());
            }
            v
        }
        Some(_) => client,
    };
    for field in locked.fields.iter().flatten() {
        let path: Vec<&str> = field.split('.').collect();
        let value = path.iter().try_fold(&locked.setup, |v, k| v.get(*k));
        set_path(&mut merged, &path, value.cloned());
    }
    serde_json::from_value(merged).map_err(|e| format!("the locked setup does not apply: {e}"))
}

fn set_path(target: &mut serde_json::Value, path: &[&str], value: Option<serde_json::Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = target;
    for key in parents {
        let Some(obj) = here.as_object_mut() else { return };
        here = obj.entry(key.to_string()).or_insert_with(|| serde_json::json!({}));
    }
    if let Some(obj) = here.as_object_mut() {
        match value {
            Some(v) => obj.insert(last.to_string(), v),
            None => obj.remove(*last),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn mint(tokens: &Tokens, req: CreateAuthToken) -> String {
        tokens.mint(&req, now()).unwrap().name.unwrap()
    }

    #[test]
    fn uses_are_spent_by_new_sessions_only() {
        let t = Tokens::default();
        let name = mint(
            &t,
            CreateAuthToken {
                uses: Some(1),
                ..Default::default()
            },
        );
        assert!(name.starts_with("auth_tokens/"));
        assert!(t.admit(&name, false, now()).is_ok());
        assert!(t.admit(&name, true, now()).is_ok(), "resuming is free");
        assert!(t.admit(&name, false, now()).unwrap_err().contains("used up"));
        assert!(t
            .admit("auth_tokens/nope", false, now())
            .unwrap_err()
            .contains("unknown"));
        let unlimited = mint(
            &t,
            CreateAuthToken {
                uses: Some(0),
                ..Default::default()
            },
        );
        for _ in 0..5 {
            assert!(t.admit(&unlimited, false, now()).is_ok());
        }
    }

    #[test]
    fn both_expiry_times_are_enforced_with_the_documented_defaults() {
        let t = Tokens::default();
        let answer = t.mint(&CreateAuthToken::default(), now()).unwrap();
        assert_eq!(
            parse_time(answer.expire_time.as_deref().unwrap()),
            Some(now() + DEFAULT_EXPIRE)
        );
        let name = answer.name.unwrap();
        let later = now() + Duration::seconds(61);
        assert!(t.admit(&name, false, later).unwrap_err().contains("new sessions"));
        assert!(
            t.admit(&name, true, later).is_ok(),
            "a running session may still resume"
        );
        let expired = now() + Duration::minutes(31);
        assert!(t.admit(&name, true, expired).unwrap_err().contains("expired"));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let t = Tokens::default();
        let bad = |req: CreateAuthToken| t.mint(&req, now()).unwrap_err();
        assert!(bad(CreateAuthToken {
            expire_time: Some("tomorrow".into()),
            ..Default::default()
        })
        .contains("RFC 3339"));
        assert!(bad(CreateAuthToken {
            expire_time: Some("2000-01-01T00:00:00Z".into()),
            ..Default::default()
        })
        .contains("future"));
        assert!(bad(CreateAuthToken {
            expire_time: Some(format_time(now() + Duration::hours(21))),
            ..Default::default()
        })
        .contains("20 hours"));
        assert!(bad(CreateAuthToken {
            bidi_generate_content_setup: Some(serde_json::json!([1])),
            ..Default::default()
        })
        .contains("object"));
        assert!(
            parse_time("2026-12-02T07:00:00.123456").is_some(),
            "naive isoformat is UTC"
        );
    }

    #[test]
    fn a_locked_setup_overrides_the_client() {
        let client: Setup = serde_json::from_value(serde_json::json!({
            "model": "models/client-choice",
            "systemInstruction": {"parts": [{"text": "be rude"}]},
            "sessionResumption": {"handle": "h"}
        }))
        .unwrap();
        let whole = Locked {
            setup: serde_json::json!({"model": "models/locked", "generationConfig": {"temperature": 0.5}}),
            fields: None,
        };
        let s = apply_lock(&client, &whole).unwrap();
        assert_eq!(s.model, "models/locked");
        assert!(s.system_instruction.is_none(), "everything is locked");
        assert_eq!(s.session_resumption.unwrap().handle.as_deref(), Some("h"));
        let some = Locked {
            fields: Some(vec!["model".into()]),
            ..whole
        };
        let s = apply_lock(&client, &some).unwrap();
        assert_eq!(s.model, "models/locked");
        assert!(s.system_instruction.is_some(), "only the model is locked");
    }
}
