//! Ephemeral tokens, the client side: `voxlive token` mints one with the API key (`POST
//! {base}/v1alpha/auth_tokens`, the request google-genai's `client.auth_tokens.create` sends) for an app
//! that must not hold the key; a session then connects with it (`--token`) to the v1alpha
//! `BidiGenerateContentConstrained` endpoint. `http.rs` is the one POST this needs.

pub mod http;

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::protocol::{AuthToken, CreateAuthToken, Setup};
use crate::session::{Credential, Endpoint};

/// Tokens live less than this (the service's limit for both times).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(20 * 3600);

/// Why no token was minted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A flag is out of range. Not retryable: fix the flag.
    #[error("{0}")]
    Invalid(String),
    /// Minting needs the API key (not a token, not Vertex AI). Not retryable.
    #[error("{0}")]
    NoKey(String),
    #[error("invalid URL: {0}")]
    Url(String),
    /// The server could not be reached. Retryable.
    #[error("cannot reach the token service: {0}")]
    Connect(String),
    #[error("the token service did not answer within {0:?}")]
    Timeout(Duration),
    /// The answer was not HTTP or not what was asked for.
    #[error("unexpected answer from the token service: {0}")]
    Answer(String),
    /// The service refused (a bad key is 400 with "API key not valid", a bad value 400 with its reason).
    #[error("the token service refused (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
}

/// A duration flag: `90s`, `30m`, `2h`, `1h30m` or plain seconds; positive and under 20 hours.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration, AuthError> {
    let bad = || {
        AuthError::Invalid(format!(
            "{flag} {text:?}: give a duration such as 90s, 30m, 2h or 1h30m, above 0 and under 20h"
        ))
    };
    let t = text.trim();
    let mut total: u64 = 0;
    if let Ok(secs) = t.parse::<u64>() {
        total = secs;
    } else {
        let mut number = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            number.clear();
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        }
        if !number.is_empty() {
            return Err(bad());
        }
    }
    let d = Duration::from_secs(total);
    if d.is_zero() || d >= MAX_TOKEN_LIFETIME {
        return Err(bad());
    }
    Ok(d)
}

/// What to mint.
#[derive(Debug, Clone)]
pub struct MintOptions {
    /// Sessions it may start; 0 = no limit.
    pub uses: u32,
    pub expire: Duration,
    pub new_session_expire: Duration,
    /// A setup to lock into the token.
    pub locked_setup: Option<Setup>,
}

/// The request body for `options` at `now`.
pub fn request(options: &MintOptions, now: OffsetDateTime) -> Result<CreateAuthToken, AuthError> {
    if options.new_session_expire > options.expire {
        return Err(AuthError::Invalid(format!(
            "--new-session-expire ({:?}) may not be later than --expire ({:?})",
            options.new_session_expire, options.expire
        )));
    }
    let at = |d: Duration| {
        let t = now + time::Duration::try_from(d).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let t = t.replace_nanosecond(0).unwrap_or(t);
        t.format(&Rfc3339).map_err(|e| AuthError::Invalid(e.to_string()))
    };
    let locked = match &options.locked_setup {
        None => None,
        Some(setup) => {
            let mut v = serde_json::to_value(setup).map_err(|e| AuthError::Invalid(e.to_string()))?;
            if let Some(obj) = v.as_object_mut() {
                // a handle belongs to one session, never to a token
                obj.remove("sessionResumption");
            }
            Some(v)
        }
    };
    Ok(CreateAuthToken {
        uses: Some(options.uses),
        expire_time: Some(at(options.expire)?),
        new_session_expire_time: Some(at(options.new_session_expire)?),
        bidi_generate_content_setup: locked,
        field_mask: None,
    })
}

/// `{base}/v1alpha/auth_tokens` on the endpoint's host (ws -> http, wss -> https, any path prefix kept).
pub fn tokens_url(endpoint: &Endpoint) -> Result<url::Url, AuthError> {
    let mut url = endpoint.base_url.clone();
    let scheme = if endpoint.is_tls() { "https" } else { "http" };
    url.set_scheme(scheme)
        .map_err(|_| AuthError::Url(format!("cannot use {} over {scheme}", endpoint.base_url)))?;
    let prefix = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{prefix}/v1alpha/auth_tokens"));
    url.set_query(None);
    Ok(url)
}

/// Mints a token at `endpoint` with its API key.
pub async fn mint(endpoint: &Endpoint, options: &MintOptions, timeout: Duration) -> Result<AuthToken, AuthError> {
    if endpoint.vertex.is_some() {
        return Err(AuthError::NoKey(
            "ephemeral tokens are a Gemini API feature: drop --vertex".into(),
        ));
    }
    let Credential::ApiKey(key) = &endpoint.credential else {
        return Err(AuthError::NoKey(
            "minting a token needs the API key (GEMINI_API_KEY, GOOGLE_API_KEY or --api-key-env), not a token".into(),
        ));
    };
    let body = serde_json::to_string(&request(options, OffsetDateTime::now_utc())?)
        .map_err(|e| AuthError::Invalid(e.to_string()))?;
    let url = tokens_url(endpoint)?;
    let tls = endpoint.tls_config().map_err(|e| AuthError::Connect(e.to_string()))?;
    let answer = http::post_json(&url, &[("x-goog-api-key", key.expose())], &body, tls, timeout).await?;
    if answer.status != 200 {
        return Err(AuthError::Refused {
            status: answer.status,
            message: error_message(&answer.body),
        });
    }
    let token: AuthToken =
        serde_json::from_slice(&answer.body).map_err(|e| AuthError::Answer(format!("not an AuthToken: {e}")))?;
    match &token.name {
        Some(name) if name.starts_with("auth_tokens/") && name.len() <= 4096 => {
            crate::redact::register(name);
            Ok(token)
        }
        _ => Err(AuthError::Answer(
            "the answer has no token name (auth_tokens/...)".into(),
        )),
    }
}

/// The `error.message` of Google's error body, else the body itself, sanitized and cut.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    crate::ui::sanitize(&text).chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_are_bounded() {
        assert_eq!(parse_duration("--expire", "30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("--expire", "1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("--expire", "90").unwrap(), Duration::from_secs(90));
        for bad in ["0s", "20h", "-5m", "5x", "m", "10m5", "", "99999999999999999999h"] {
            let e = parse_duration("--expire", bad).unwrap_err().to_string();
            assert!(e.starts_with("--expire"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_request_carries_rfc3339_times_and_the_locked_setup() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let setup = Setup {
            model: "models/m".into(),
            session_resumption: Some(Default::default()),
            ..Setup::default()
        };
        let options = MintOptions {
            uses: 3,
            expire: Duration::from_secs(1800),
            new_session_expire: Duration::from_secs(60),
            locked_setup: Some(setup),
        };
        let r = request(&options, now).unwrap();
        assert_eq!(r.expire_time.as_deref(), Some("2027-01-15T08:30:00Z"));
        assert_eq!(r.new_session_expire_time.as_deref(), Some("2027-01-15T08:01:00Z"));
        let locked = r.bidi_generate_content_setup.unwrap();
        assert_eq!(locked["model"], "models/m");
        assert!(locked.get("sessionResumption").is_none());
        let late = MintOptions {
            new_session_expire: Duration::from_secs(3600),
            ..options
        };
        assert!(request(&late, now).is_err());
    }
}
