//! The ephemeral-token request and answer of `POST {base}/v1alpha/auth_tokens`, as Google's SDKs send and
//! read them (google-genai's `client.auth_tokens.create`): camelCase out, snake_case accepted in.

use serde::{Deserialize, Serialize};

/// What `auth_tokens.create` posts. Times are RFC 3339 strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthToken {
    /// Sessions the token may start; 0 = no limit; none = 1. Resuming a session is not a use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// After this, sessions using the token end (default: 30 minutes from now; under 20 hours).
    #[serde(default, alias = "expire_time", skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// After this, no new session may start with the token (default: 60 seconds from now).
    #[serde(default, alias = "new_session_expire_time", skip_serializing_if = "Option::is_none")]
    pub new_session_expire_time: Option<String>,
    /// A setup locked into the token: it overrides what the client's setup says.
    #[serde(
        default,
        alias = "bidi_generate_content_setup",
        skip_serializing_if = "Option::is_none"
    )]
    pub bidi_generate_content_setup: Option<serde_json::Value>,
    /// Which fields of the locked setup are locked (comma-separated paths); none = all of it.
    #[serde(default, alias = "field_mask", skip_serializing_if = "Option::is_none")]
    pub field_mask: Option<String>,
}

/// The answer: the token's name (`auth_tokens/...`) is the credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthToken {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, alias = "expire_time", skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, alias = "new_session_expire_time", skip_serializing_if = "Option::is_none")]
    pub new_session_expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sdk_request_and_writes_camel_case() {
        let sdk = r#"{"uses": 2, "expireTime": "2026-12-02T08:00:00+00:00",
            "new_session_expire_time": "2026-12-02T07:01:00Z",
            "bidiGenerateContentSetup": {"model": "models/m"}, "fieldMask": "model"}"#;
        let r: CreateAuthToken = serde_json::from_str(sdk).unwrap();
        assert_eq!(r.uses, Some(2));
        assert_eq!(r.new_session_expire_time.as_deref(), Some("2026-12-02T07:01:00Z"));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"newSessionExpireTime\"") && json.contains("\"bidiGenerateContentSetup\""));
        let t: AuthToken = serde_json::from_str(r#"{"name": "auth_tokens/abc", "extra": 1}"#).unwrap();
        assert_eq!(t.name.as_deref(), Some("auth_tokens/abc"));
    }
}
