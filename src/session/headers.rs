//! Extra request headers the user asks for (`--header 'Name: value'`, config `headers`), sent on the
//! WebSocket handshake. Checked before any connection: a valid name, a value without CR/LF or other control
//! characters, and none of the headers the handshake itself or the credential owns (Host, Upgrade, the
//! Sec-WebSocket-* set, x-goog-api-key, Authorization). Values of auth-like headers are secrets: registered
//! with [`crate::redact`] and shown as `***` wherever headers are described.

use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use super::SessionError;

/// Most extra headers one session may send: a typo'd loop in a config file must not build a huge request.
pub const MAX_HEADERS: usize = 32;
/// Longest header value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 4096;

/// Headers the handshake or the credential owns; the user may not set them.
const RESERVED: [&str; 11] = [
    "host",
    "upgrade",
    "connection",
    "content-length",
    "transfer-encoding",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "x-goog-api-key",
    "authorization",
];

/// Parts of a header name that mark its value as a credential.
const SECRET_HINTS: [&str; 7] = ["auth", "key", "token", "secret", "cookie", "password", "signature"];

/// Validated extra headers, in the order given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtraHeaders(Vec<(HeaderName, HeaderValue)>);

impl ExtraHeaders {
    /// Parses `Name: value` lines (flags) and `(name, value)` pairs (the config file): the first error ends
    /// it, naming the header (never its value).
    pub fn parse<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ExtraHeaders, SessionError> {
        let mut out = ExtraHeaders::default();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                SessionError::InvalidEndpoint(format!(
                    "--header {:?}: write it as 'Name: value'",
                    line.chars().take(40).collect::<String>()
                ))
            })?;
            out.push(name, value)?;
        }
        for (name, value) in pairs {
            out.push(name, value)?;
        }
        Ok(out)
    }

    fn push(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        let bad = |why: &str| SessionError::InvalidEndpoint(format!("header {:?}: {why}", name.trim()));
        if self.0.len() >= MAX_HEADERS {
            return Err(bad(&format!("at most {MAX_HEADERS} extra headers")));
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| bad("not a valid header name (letters, digits and -)"))?;
        if RESERVED.contains(&name.as_str()) {
            return Err(bad(
                "set by the handshake or the credential (use --api-key-env / --token-env for credentials)",
            ));
        }
        let value = value.trim();
        if value.len() > MAX_VALUE_LEN {
            return Err(bad(&format!("the value is longer than {MAX_VALUE_LEN} bytes")));
        }
        // HeaderValue itself refuses CR, LF and NUL; tabs pass there, other controls are refused here too
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad("the value holds a control character (CR, LF, ...)"));
        }
        let mut header = HeaderValue::from_str(value).map_err(|_| bad("the value is not visible ASCII text"))?;
        if is_secret(name.as_str()) {
            header.set_sensitive(true);
            crate::redact::register(value);
        }
        self.0.push((name, header));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }
}

/// Whether a header's value is a credential, by its name.
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HINTS.iter().any(|h| name.contains(h))
}

impl std::fmt::Debug for ExtraHeaders {
    /// Names with values, except auth-like ones (`***`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_map();
        for (name, value) in &self.0 {
            let shown = if value.is_sensitive() {
                "***"
            } else {
                value.to_str().unwrap_or("?")
            };
            list.entry(&name.as_str(), &shown);
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<ExtraHeaders, SessionError> {
        ExtraHeaders::parse([line], [])
    }

    #[test]
    fn parses_names_and_values_in_order() {
        let h = ExtraHeaders::parse(["User-Agent: MyApp/1.0", "x-trace:  abc "], [("X-Team", "blue")]).unwrap();
        let got: Vec<_> = h.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(
            got,
            [("user-agent", "MyApp/1.0"), ("x-trace", "abc"), ("x-team", "blue")]
        );
    }

    #[test]
    fn refuses_reserved_malformed_and_injected_headers() {
        for (line, why) in [
            ("Host: evil", "handshake"),
            ("upgrade: h2c", "handshake"),
            ("Authorization: Bearer x", "credential"),
            ("x-goog-api-key: k", "credential"),
            ("Sec-WebSocket-Key: x", "handshake"),
            ("no colon here", "Name: value"),
            ("bad name: v", "header name"),
            ("X-A: one\r\nHost: evil", "control character"),
            ("X-A: a\u{7}b", "control character"),
        ] {
            let err = one(line).unwrap_err().to_string();
            assert!(err.contains(why), "{line:?}: {err}");
        }
        let long = format!("X-Big: {}", "a".repeat(MAX_VALUE_LEN + 1));
        assert!(one(&long).is_err());
        let many: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v")).collect();
        assert!(ExtraHeaders::parse(many.iter().map(String::as_str), []).is_err());
    }

    #[test]
    fn auth_like_values_never_print() {
        let h = ExtraHeaders::parse(["X-Custom-Token: tok-hidden-123", "X-Plain: shown"], []).unwrap();
        let shown = format!("{h:?}");
        assert!(!shown.contains("tok-hidden-123"), "{shown}");
        assert!(shown.contains("shown"), "{shown}");
        assert!(!crate::redact::redact("sent tok-hidden-123").contains("tok-hidden-123"));
        let err = one("X-Api-Key: secret\nvalue").unwrap_err().to_string();
        assert!(!err.contains("secret"), "errors never carry the value: {err}");
    }
}
