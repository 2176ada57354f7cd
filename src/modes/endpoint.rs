//! Where a conversation goes: the configured endpoint, or the embedded server started in-process on a free
//! loopback port (announced in one line) when no key and no endpoint are set.

use crate::config::{Config, Target};
use crate::server::{self, ServerConfig, ServerHandle};
use crate::session::{Credential, Endpoint};

use super::ModeError;

/// The endpoint to use, and the embedded server behind it if one was started (keep it alive).
pub async fn resolve(config: &Config) -> Result<(Endpoint, Option<ServerHandle>), ModeError> {
    match &config.target {
        Target::Remote(endpoint) => Ok((endpoint.clone(), None)),
        Target::Embedded => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let handle = server::spawn(ServerConfig::default(), addr)
                .await
                .map_err(|e| ModeError::EmbeddedServer(e.to_string()))?;
            let mut endpoint = Endpoint::new(&handle.base_url(), config.api_version, Credential::None)?;
            endpoint.extra_headers = config.headers.clone();
            eprintln!(
                "voxlive: no API key set (GEMINI_API_KEY or GOOGLE_API_KEY); using the embedded offline server at {} (echo responder)",
                handle.base_url()
            );
            Ok((endpoint, Some(handle)))
        }
    }
}
