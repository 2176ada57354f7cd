//! Keeps credentials out of every line voxlive writes: the API key or token itself, wherever it appears
//! (registered once it is read), `key=`/`access_token=` query values and URL userinfo. The log writer runs
//! every line through [`redact`], so a library that logs a request with its headers (tungstenite does, at
//! trace level) cannot leak the key at any log level.

pub mod pii;

use std::borrow::Cow;
use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Shorter secrets are not registered: replacing them would mangle ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// Remembers `secret` so that [`redact`] replaces it everywhere.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    if let Ok(mut s) = SECRETS.lock() {
        if !s.iter().any(|k| k == secret) {
            s.push(secret.to_string());
        }
    }
}

/// `text` with every registered secret, `key=`/`access_token=`/`token=` value, `auth_tokens/NAME`,
/// `Bearer TOKEN` and URL userinfo replaced
/// by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if pii::enabled() {
        out = Cow::Owned(pii::mask(&out));
    }
    if let Ok(secrets) = SECRETS.lock() {
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), "***"));
            }
        }
    }
    // ephemeral token names (minted ones are never registered) and bearer tokens, wherever they appear
    for param in ["key=", "access_token=", "token=", "auth_tokens/", "bearer "] {
        if out.to_ascii_lowercase().contains(param) {
            out = Cow::Owned(redact_param(&out, param));
        }
    }
    if out.contains("://") && out.contains('@') {
        out = Cow::Owned(redact_userinfo(&out));
    }
    out
}

fn is_value_end(c: char) -> bool {
    matches!(c, '&' | '"' | '\'' | '#' | ',' | ')' | ']' | '>' | ';') || c.is_whitespace()
}

/// Longest plain lowercase word after `key=` that is still taken for prose rather than a credential.
const PLACEHOLDER_MAX_LEN: usize = 12;

/// Whether the text after `key=`/`token=`/`Bearer ` is an ordinary word (`key=value` in a usage message,
/// `token=none`), not a credential: at most [`PLACEHOLDER_MAX_LEN`] ASCII lowercase letters, a sentence's
/// closing punctuation aside. API keys (`AIza...`), OAuth tokens (`ya29.`), minted token names
/// (`auth_tokens/...`) all carry upper case, digits or punctuation, and a long random lowercase run is
/// still masked; a short all-lowercase key is caught by [`register`] once read. Without this, every
/// `is not key=value` error printed as `key=***`, which reads as if a secret had leaked into it.
fn is_placeholder_word(value: &str) -> bool {
    let word = value.trim_end_matches(['.', ':', '!', '?']);
    !word.is_empty() && word.len() <= PLACEHOLDER_MAX_LEN && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// Replaces the value after each `param` (at a word start: `?key=`, `&key=`, ` key=`) with `***`.
fn redact_param(text: &str, param: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find(param) {
        let at = i + found;
        let boundary = at == 0
            || !text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let value_start = at + param.len();
        out.push_str(&text[i..value_start]);
        let value_len = text[value_start..]
            .find(is_value_end)
            .unwrap_or(text.len() - value_start);
        let value = &text[value_start..value_start + value_len];
        if boundary && value_len > 0 && !value.starts_with("***") && !is_placeholder_word(value) {
            out.push_str("***");
        } else {
            out.push_str(&text[value_start..value_start + value_len]);
        }
        i = value_start + value_len;
    }
    out.push_str(&text[i..]);
    out
}

/// `scheme://user:pass@host` -> `scheme://***@host`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find("://") {
        let start = p + 3;
        out.push_str(&rest[..start]);
        let authority_len = rest[start..]
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len() - start);
        let authority = &rest[start..start + authority_len];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &rest[start + authority_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_and_bearer_tokens_vanish() {
        let r = redact("minted auth_tokens/0123456789abcdef for you; Authorization: Bearer ya29.abc-def");
        assert!(!r.contains("0123456789") && !r.contains("ya29"), "{r}");
        assert!(r.contains("auth_tokens/***") && r.contains("Bearer ***"), "{r}");
    }

    #[test]
    fn registered_secrets_vanish_everywhere() {
        register("AIzaSyTESTKEY-redact-1234");
        let line = r#"Request: "GET /ws HTTP/1.1\r\nx-goog-api-key: AIzaSyTESTKEY-redact-1234\r\n""#;
        let r = redact(line);
        assert!(!r.contains("AIzaSyTESTKEY"), "{r}");
        assert!(r.contains("x-goog-api-key: ***"));
    }

    #[test]
    fn query_credentials_and_userinfo_are_masked() {
        assert_eq!(redact("wss://h/ws?key=abc123&alt=x"), "wss://h/ws?key=***&alt=x");
        assert_eq!(
            redact("url ?access_token=auth_tokens/xyz end"),
            "url ?access_token=*** end"
        );
        assert_eq!(redact("https://bob:hunter2@example.com/x"), "https://***@example.com/x");
        assert_eq!(redact("monkey=banana"), "monkey=banana", "only whole parameter names");
        assert_eq!(redact("nothing here"), "nothing here");
        assert_eq!(
            redact("ws://h/x (key=***)"),
            "ws://h/x (key=***)",
            "already redacted text is kept"
        );
    }

    #[test]
    fn a_placeholder_word_is_not_taken_for_a_secret() {
        // the --net parser's usage error, printed through redact by main
        assert_eq!(redact(r#""garbage" is not key=value"#), r#""garbage" is not key=value"#);
        assert_eq!(redact("give key=value."), "give key=value.");
        assert_eq!(
            redact("token=none, access_token=unset"),
            "token=none, access_token=unset"
        );
        assert_eq!(redact("send a Bearer token"), "send a Bearer token");
    }

    #[test]
    fn real_secrets_after_key_are_still_masked() {
        let key = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW";
        assert_eq!(
            redact(&format!("wss://h/ws?key={key}&alt=x")),
            "wss://h/ws?key=***&alt=x"
        );
        assert_eq!(redact(&format!("key={key}.")), "key=***");
        // a long lowercase run, digits, upper case, or punctuation: all plausible credentials
        assert_eq!(redact("?key=qwertyuiopasdfghjkl"), "?key=***");
        assert_eq!(redact("?key=secret1"), "?key=***");
        assert_eq!(redact("?key=VALUE"), "?key=***");
        assert_eq!(redact("?token=ya29.abc"), "?token=***");
        assert_eq!(redact("Bearer abcdefghijklmnop"), "Bearer ***");
    }
}
