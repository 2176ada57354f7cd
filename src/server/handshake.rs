//! The HTTP upgrade: which paths are Live endpoints (others get 404 before any WebSocket exists) and which
//! credential the request carries. The key is compared after the handshake so a wrong key gets a 1008 close
//! with a readable reason, as the real service does. Keys are never logged.

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

const SERVICE: &str = "GenerativeService.BidiGenerateContent";
const CONSTRAINED: &str = "google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained";
const VERSIONS: [&str; 3] = ["v1", "v1beta", "v1alpha"];
/// Vertex AI's Live method, after `google.cloud.aiplatform.{version}.`.
const VERTEX_SERVICE: &str = "LlmBidiService/BidiGenerateContent";
const VERTEX_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// Which endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `.../ws/google.ai.generativelanguage.{v1,v1beta,v1alpha}.GenerativeService.BidiGenerateContent`
    Key,
    /// The v1alpha `BidiGenerateContentConstrained` path for ephemeral tokens.
    Constrained,
    /// Vertex AI: `.../ws/google.cloud.aiplatform.{v1,v1beta1}.LlmBidiService/BidiGenerateContent`, with
    /// `Authorization: Bearer TOKEN`.
    Vertex,
}

/// Classifies a request path (any prefix, `/ws/` or `//ws/`); None means 404.
pub fn endpoint(path: &str) -> Option<Endpoint> {
    let idx = path.rfind("/ws/")?;
    let method = &path[idx + 4..];
    if method == CONSTRAINED {
        return Some(Endpoint::Constrained);
    }
    if let Some(rest) = method.strip_prefix("google.cloud.aiplatform.") {
        let version = rest.strip_suffix(VERTEX_SERVICE)?.strip_suffix('.')?;
        return VERTEX_VERSIONS.contains(&version).then_some(Endpoint::Vertex);
    }
    let version = method
        .strip_prefix("google.ai.generativelanguage.")?
        .strip_suffix(SERVICE)?;
    let version = version.strip_suffix('.')?;
    VERSIONS.contains(&version).then_some(Endpoint::Key)
}

/// The API version a Live path names (`v1`, `v1beta`, `v1alpha`; the Constrained path is v1alpha).
pub fn api_version(path: &str) -> Option<&'static str> {
    let method = &path[path.rfind("/ws/")? + 4..];
    if method == CONSTRAINED {
        return Some("v1alpha");
    }
    VERSIONS
        .into_iter()
        .find(|v| method.strip_prefix("google.ai.generativelanguage.") == Some(&format!("{v}.{SERVICE}")))
}

/// What the handshake learned: the endpoint and the credential presented, if any.
#[derive(Clone, Default)]
pub struct Credentials {
    pub presented: Option<String>,
    /// The API version in the path, checked against the model's profile once setup names the model.
    pub api_version: Option<&'static str>,
    /// Which endpoint the path named (`None` only in unit tests).
    pub endpoint: Option<Endpoint>,
}

impl std::fmt::Debug for Credentials {
    // never the credential itself
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("presented", &self.presented.as_ref().map(|_| "***"))
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Credentials {
    /// The ephemeral token presented on the Constrained path, if that is what this is.
    pub fn token(&self) -> Option<&str> {
        match self.endpoint {
            Some(Endpoint::Constrained) => self.presented.as_deref().filter(|p| p.starts_with("auth_tokens/")),
            _ => None,
        }
    }
}

impl Credentials {
    /// Whether the presented credential matches `expected`, both trimmed the way the client trims. The
    /// time taken depends only on the expected key's length, never on how much of it a guess got right
    /// nor on the guess's length.
    pub fn matches(&self, expected: &str) -> bool {
        let Some(given) = self.presented.as_deref() else {
            return false;
        };
        let (a, b) = (given.trim().as_bytes(), expected.trim().as_bytes());
        let mut diff = u8::from(a.len() != b.len());
        for (i, y) in b.iter().enumerate() {
            let x = if a.is_empty() { 0 } else { a[i % a.len()] };
            diff |= x ^ y;
        }
        diff == 0 && !b.is_empty()
    }
}

/// Reads the credential for `endpoint`: the key endpoint takes `x-goog-api-key` or `?key=`; the Constrained
/// one takes `Authorization: Token X` or `?access_token=` (and the key forms too: be liberal).
pub fn credentials(request: &Request, endpoint: Endpoint) -> Credentials {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let query = request.uri().query().unwrap_or("");
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let key = header("x-goog-api-key").map(str::to_string).or_else(|| param("key"));
    let token = || {
        header("authorization")
            .and_then(|v| v.strip_prefix("Token ").or_else(|| v.strip_prefix("Bearer ")))
            .map(|v| v.trim().to_string())
            .or_else(|| param("access_token"))
    };
    let bearer = || {
        header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_string())
    };
    let presented = match endpoint {
        Endpoint::Key => key,
        Endpoint::Constrained => token().or(key),
        Endpoint::Vertex => bearer().or(key),
    };
    Credentials {
        presented,
        api_version: api_version(request.uri().path()),
        endpoint: Some(endpoint),
    }
}

/// The request's headers for the setup log: lower-case names in order, credential headers left out.
pub fn logged_headers(request: &Request) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-goog-api-key" | "authorization"))
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
        .collect()
}

/// The handshake callback: 404 for unknown paths, else records the credentials in `out`.
// The error type is tungstenite's `Callback` contract, not ours to shrink.
#[allow(clippy::result_large_err)]
pub fn check(request: &Request, response: Response, out: &mut Option<Credentials>) -> Result<Response, ErrorResponse> {
    match endpoint(request.uri().path()) {
        Some(ep) => {
            *out = Some(credentials(request, ep));
            Ok(response)
        }
        None => {
            tracing::info!(path = request.uri().path(), "refusing handshake: not a Live endpoint");
            let mut refusal = ErrorResponse::new(Some(format!("no Live endpoint at {}", request.uri().path())));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_paths_are_recognised_with_any_prefix() {
        let p = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
        assert_eq!(endpoint(p), Some(Endpoint::Key));
        assert_eq!(endpoint(&format!("/prefix/{p}")), Some(Endpoint::Key));
        assert_eq!(endpoint(&p.replace("v1beta", "v1")), Some(Endpoint::Key));
        assert_eq!(endpoint(&p.replace("v1beta", "v2")), None);
        assert_eq!(endpoint(&format!("/{CONSTRAINED}")), None);
        assert_eq!(endpoint(&format!("//ws/{CONSTRAINED}")), Some(Endpoint::Constrained));
        assert_eq!(endpoint("/"), None);
        assert_eq!(api_version(&format!("/{}", p.replace("v1beta", "v1"))), Some("v1"));
        assert_eq!(api_version(p), Some("v1beta"));
        assert_eq!(api_version(&format!("/ws/{CONSTRAINED}")), Some("v1alpha"));
        assert_eq!(api_version("/ws/other"), None);
        let vertex = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";
        assert_eq!(endpoint(vertex), Some(Endpoint::Vertex));
        assert_eq!(endpoint(&vertex.replace("v1beta1", "v1")), Some(Endpoint::Vertex));
        assert_eq!(endpoint(&vertex.replace("v1beta1", "v2")), None);
    }

    #[test]
    fn credentials_compare_exactly() {
        let c = Credentials {
            presented: Some("abc".into()),
            ..Credentials::default()
        };
        assert!(c.matches("abc"));
        assert!(!c.matches("abd"));
        assert!(!c.matches("abcd"));
        assert!(!Credentials::default().matches("abc"));
        assert!(!c.matches("abcabc"), "a repeated prefix is not the key");
        assert!(!c.matches(""), "an empty key matches nothing");
        let padded = Credentials {
            presented: Some(" abc\n".into()),
            ..Credentials::default()
        };
        assert!(padded.matches("abc"), "both sides trim");
    }
}
