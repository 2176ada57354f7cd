//! Where a session connects and with which credential: the base URL, API version, key or ephemeral token,
//! and the TLS roots to trust. Builds the WebSocket URL the way Google's SDKs do (base URL + `/ws/...`).
//! Credentials never appear in `Display`/`Debug` output: they are shown as `***`.

use std::fmt;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use url::Url;

use super::SessionError;

/// The real service's base URL (Gemini API).
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// A secret string (API key or token) that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key or token, trimmed the way the server trims what it receives, and registers it with
    /// [`crate::redact`] so no log line can carry it.
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        let value = value.trim().to_string();
        crate::redact::register(&value);
        Secret(value)
    }
    /// The secret itself; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credential {
    /// No credential (the embedded server without a configured key).
    #[default]
    None,
    /// An API key, sent in the `x-goog-api-key` header.
    ApiKey(Secret),
    /// An ephemeral token (`auth_tokens/...`), sent as `Authorization: Token ...` to the Constrained path.
    EphemeralToken(Secret),
    /// An OAuth access token (Vertex AI), sent as `Authorization: Bearer ...`.
    Bearer(Secret),
}

/// A Vertex AI project and location: the URL path and the model's resource name come from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vertex {
    pub project: String,
    pub location: String,
}

impl Vertex {
    /// Checks the names (they go into a host name and a path): a project id is 6 to 30 lowercase letters,
    /// digits and hyphens starting with a letter; a location 1 to 40 lowercase letters, digits and hyphens.
    pub fn new(project: &str, location: &str) -> Result<Vertex, SessionError> {
        let (project, location) = (project.trim(), location.trim());
        let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !(6..=30).contains(&project.len())
            || !project.starts_with(|c: char| c.is_ascii_lowercase())
            || !project.chars().all(lower)
            || project.ends_with('-')
        {
            return Err(SessionError::InvalidEndpoint(format!(
                "--project {project:?}: a Google Cloud project id is 6 to 30 lowercase letters, digits and hyphens, starting with a letter"
            )));
        }
        if location.is_empty() || location.len() > 40 || !location.chars().all(lower) || location.starts_with('-') {
            return Err(SessionError::InvalidEndpoint(format!(
                "--location {location:?}: give a Vertex AI region such as us-central1 (lowercase letters, digits, hyphens)"
            )));
        }
        Ok(Vertex {
            project: project.to_string(),
            location: location.to_string(),
        })
    }

    /// `https://{location}-aiplatform.googleapis.com` (`https://aiplatform.googleapis.com` for global).
    pub fn base_url(&self) -> String {
        match self.location.as_str() {
            "global" => "https://aiplatform.googleapis.com".into(),
            l => format!("https://{l}-aiplatform.googleapis.com"),
        }
    }

    /// The model's resource name: `projects/{p}/locations/{l}/publishers/google/models/{id}`.
    pub fn model_path(&self, model: &str) -> String {
        if model.starts_with("projects/") {
            return model.to_string();
        }
        let id = model.rsplit('/').next().unwrap_or(model);
        format!(
            "projects/{}/locations/{}/publishers/google/models/{id}",
            self.project, self.location
        )
    }
}

/// The Gemini API version in the URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    V1,
    #[default]
    V1beta,
    V1alpha,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V1beta => "v1beta",
            ApiVersion::V1alpha => "v1alpha",
        }
    }
}

/// A Live endpoint: base URL, API version and credential, plus extra trusted certificates.
#[derive(Clone)]
pub struct Endpoint {
    pub base_url: Url,
    pub api_version: ApiVersion,
    pub credential: Credential,
    /// PEM certificates trusted in addition to the web PKI roots (a local `voxlive serve --tls`).
    pub extra_roots_pem: Option<Arc<Vec<u8>>>,
    /// Headers the user added (`--header`), validated; sent after the credential's own.
    pub extra_headers: super::ExtraHeaders,
    /// Vertex AI instead of the Gemini API: its URL path and model names.
    pub vertex: Option<Vertex>,
}

impl Endpoint {
    /// Parses a base URL (`https://host[:port][/prefix]`, `http://`, `ws://` or `wss://`).
    pub fn new(base_url: &str, api_version: ApiVersion, credential: Credential) -> Result<Self, SessionError> {
        let base_url = Url::parse(base_url.trim())
            .map_err(|e| SessionError::InvalidEndpoint(format!("{base_url:?} is not a URL: {e}")))?;
        match base_url.scheme() {
            "http" | "https" | "ws" | "wss" => {}
            other => {
                return Err(SessionError::InvalidEndpoint(format!(
                    "unsupported scheme {other:?} (use https://, wss://, http:// or ws://)"
                )))
            }
        }
        if base_url.host_str().is_none() {
            return Err(SessionError::InvalidEndpoint(format!("{base_url} has no host")));
        }
        Ok(Endpoint {
            base_url,
            api_version,
            credential,
            extra_roots_pem: None,
            extra_headers: Default::default(),
            vertex: None,
        })
    }

    /// Whether the connection uses TLS (https and wss do).
    pub fn is_tls(&self) -> bool {
        matches!(self.base_url.scheme(), "https" | "wss")
    }

    /// The WebSocket URL, without credentials.
    pub fn ws_url(&self) -> Url {
        let mut url = self.base_url.clone();
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        // set_scheme refuses some special-scheme changes; http<->ws and https<->wss are allowed.
        let _ = url.set_scheme(scheme);
        let method = match self.credential {
            Credential::EphemeralToken(_) => "BidiGenerateContentConstrained",
            _ => "BidiGenerateContent",
        };
        let prefix = url.path().trim_end_matches('/').to_string();
        if self.vertex.is_some() {
            url.set_path(&format!(
                "{prefix}/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
            ));
            url.set_query(None);
            return url;
        }
        url.set_path(&format!(
            "{prefix}/ws/google.ai.generativelanguage.{}.GenerativeService.{method}",
            self.api_version.as_str()
        ));
        url.set_query(None);
        url
    }

    /// The handshake request, with the credential in its header.
    pub fn request(&self) -> Result<Request, SessionError> {
        let mut request = self
            .ws_url()
            .as_str()
            .into_client_request()
            .map_err(|e| SessionError::InvalidEndpoint(e.to_string()))?;
        let header = match &self.credential {
            Credential::None => None,
            Credential::ApiKey(key) => Some(("x-goog-api-key", key.expose().to_string())),
            Credential::EphemeralToken(token) => Some(("authorization", format!("Token {}", token.expose()))),
            Credential::Bearer(token) => Some(("authorization", format!("Bearer {}", token.expose()))),
        };
        if let Some((name, value)) = header {
            let value = HeaderValue::from_str(&value).map_err(|_| {
                SessionError::InvalidEndpoint("the credential has characters a header cannot carry".into())
            })?;
            request.headers_mut().insert(name, value);
        }
        for (name, value) in self.extra_headers.iter() {
            request.headers_mut().append(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// Whether the host is this machine (127.0.0.0/8, ::1 or localhost).
    pub fn is_loopback(&self) -> bool {
        match self.base_url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }

    /// Why sending this endpoint's credential may leak it: to a host that is not Google's, or over plain
    /// ws to anything but loopback. Empty when there is no credential or nothing to say.
    pub fn credential_warnings(&self) -> Vec<String> {
        if self.credential == Credential::None {
            return Vec::new();
        }
        let host = self.base_url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut out = Vec::new();
        let google = host == "googleapis.com" || host.ends_with(".googleapis.com");
        if !google && !self.is_loopback() {
            out.push(format!(
                "sending the API key to {host}, which is not a Google endpoint: make sure you trust it"
            ));
        }
        if !self.is_tls() && !self.is_loopback() {
            out.push(format!(
                "sending the API key in the clear (plain ws://) to {host}: anyone on the network can read it; use https:// or wss://"
            ));
        }
        out
    }

    /// The rustls client configuration: web PKI roots plus any extra certificates.
    pub fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, SessionError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &self.extra_roots_pem {
            use rustls_pki_types::pem::PemObject;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| SessionError::Tls(format!("reading the CA certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| SessionError::Tls(format!("adding the CA certificate: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SessionError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

impl fmt::Display for Endpoint {
    /// The WebSocket URL as shown to people: never with a credential in it (userinfo included).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.ws_url();
        if !shown.username().is_empty() || shown.password().is_some() {
            let _ = shown.set_username("***");
            let _ = shown.set_password(None);
        }
        write!(f, "{shown}")?;
        match self.credential {
            Credential::None => Ok(()),
            Credential::ApiKey(_) => f.write_str(" (key=***)"),
            Credential::EphemeralToken(_) => f.write_str(" (token=***)"),
            Credential::Bearer(_) => f.write_str(" (bearer=***)"),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sdk_style_urls() {
        let e = Endpoint::new(
            "https://generativelanguage.googleapis.com",
            ApiVersion::V1beta,
            Credential::None,
        )
        .unwrap();
        assert_eq!(
            e.ws_url().as_str(),
            "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        );
        let e = Endpoint::new(
            "http://127.0.0.1:9000/prefix/",
            ApiVersion::V1,
            Credential::EphemeralToken(Secret::new("t")),
        )
        .unwrap();
        assert_eq!(
            e.ws_url().as_str(),
            "ws://127.0.0.1:9000/prefix/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContentConstrained"
        );
    }

    #[test]
    fn credentials_never_print() {
        let e = Endpoint::new(
            "ws://127.0.0.1:1",
            ApiVersion::V1beta,
            Credential::ApiKey(Secret::new("sekrit")),
        )
        .unwrap();
        assert!(!format!("{e} {e:?}").contains("sekrit"));
        let req = e.request().unwrap();
        assert_eq!(req.headers()["x-goog-api-key"], "sekrit");
        assert!(!req.uri().to_string().contains("sekrit"));
    }

    #[test]
    fn extra_headers_go_on_the_handshake_after_the_credential() {
        let mut e = Endpoint::new(
            "ws://127.0.0.1:1",
            ApiVersion::V1beta,
            Credential::ApiKey(Secret::new("k-123456")),
        )
        .unwrap();
        e.extra_headers =
            super::super::ExtraHeaders::parse(["User-Agent: MyApp/1.0", "X-Session-Token: t0k3n-value"], []).unwrap();
        let req = e.request().unwrap();
        assert_eq!(req.headers()["user-agent"], "MyApp/1.0");
        assert_eq!(req.headers()["x-goog-api-key"], "k-123456");
        assert!(req.headers()["x-session-token"].is_sensitive());
        assert!(!format!("{e} {e:?}").contains("t0k3n-value"));
    }

    #[test]
    fn warns_before_a_key_leaves_for_a_strange_or_plain_endpoint() {
        let key = || Credential::ApiKey(Secret::new("k"));
        let google = Endpoint::new(GEMINI_BASE_URL, ApiVersion::V1beta, key()).unwrap();
        assert!(google.credential_warnings().is_empty());
        let local = Endpoint::new("ws://127.0.0.1:9", ApiVersion::V1beta, key()).unwrap();
        assert!(local.credential_warnings().is_empty());
        let other = Endpoint::new("wss://example.com", ApiVersion::V1beta, key()).unwrap();
        assert_eq!(other.credential_warnings().len(), 1);
        let plain = Endpoint::new("ws://10.0.0.5:80", ApiVersion::V1beta, key()).unwrap();
        assert_eq!(plain.credential_warnings().len(), 2);
        let spoof = Endpoint::new("https://googleapis.com.evil.net", ApiVersion::V1beta, key()).unwrap();
        assert_eq!(spoof.credential_warnings().len(), 1);
        let none = Endpoint::new("ws://10.0.0.5:80", ApiVersion::V1beta, Credential::None).unwrap();
        assert!(none.credential_warnings().is_empty());
    }

    #[test]
    fn vertex_urls_model_paths_and_names() {
        let v = Vertex::new("my-project-1", "us-central1").unwrap();
        let mut e = Endpoint::new(
            &v.base_url(),
            ApiVersion::V1beta,
            Credential::Bearer(Secret::new("ya29.x")),
        )
        .unwrap();
        e.vertex = Some(v.clone());
        assert_eq!(
            e.ws_url().as_str(),
            "wss://us-central1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
        );
        assert_eq!(e.request().unwrap().headers()["authorization"], "Bearer ya29.x");
        assert!(!format!("{e} {e:?}").contains("ya29"));
        assert_eq!(
            v.model_path("models/gemini-3.8-live"),
            "projects/my-project-1/locations/us-central1/publishers/google/models/gemini-3.8-live"
        );
        assert_eq!(
            Vertex::new("my-project-1", "global").unwrap().base_url(),
            "https://aiplatform.googleapis.com"
        );
        for (p, l) in [
            ("short", "us"),
            ("My-Project", "us"),
            ("my-project-1", "us/../x"),
            ("my-project-1", ""),
        ] {
            assert!(Vertex::new(p, l).is_err(), "{p} {l}");
        }
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(Endpoint::new("ftp://x", ApiVersion::V1beta, Credential::None).is_err());
        assert!(Endpoint::new("not a url", ApiVersion::V1beta, Credential::None).is_err());
    }
}
