//! Where the conversation goes and with which credential: `--endpoint`, Vertex AI, the real service or the
//! embedded server; an API key, an ephemeral token or a bearer token, each with where it came from (for
//! messages: never the secret itself).

use std::sync::Arc;

use crate::cli::CommonArgs;
use crate::session::{ApiVersion, Credential, Endpoint, Secret, GEMINI_BASE_URL};

use super::{ConfigError, FileConfig, Target};

/// Reads the API key: the named variable, else GEMINI_API_KEY, then GOOGLE_API_KEY. (Google's SDK prefers
/// GOOGLE_API_KEY when both are set; voxlive prefers GEMINI_API_KEY, the name Google's docs use.)
pub fn api_key(env_var: Option<&str>) -> Result<Option<(Secret, String)>, ConfigError> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(name) = env_var {
        return read(name)
            .map(|v| Some((Secret::new(v.trim()), name.to_string())))
            .ok_or_else(|| ConfigError::MissingEnv(name.to_string()));
    }
    Ok(["GEMINI_API_KEY", "GOOGLE_API_KEY"]
        .into_iter()
        .find_map(|n| read(n).map(|v| (Secret::new(v.trim()), n.to_string()))))
}

/// Where the Vertex AI access token is read from.
pub const VERTEX_TOKEN_ENV: &str = "GOOGLE_CLOUD_ACCESS_TOKEN";
/// Where an ephemeral token is read from when no flag names one.
pub const EPHEMERAL_TOKEN_ENV: &str = "GEMINI_EPHEMERAL_TOKEN";

/// The credential `--vertex` (a bearer token) or `--token` / GEMINI_EPHEMERAL_TOKEN give, with where it
/// came from; `None`: fall back to --token-env and the API keys.
fn credential_override(args: &CommonArgs) -> Result<Option<(Credential, Option<String>)>, ConfigError> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if args.access.vertex {
        let token = read(VERTEX_TOKEN_ENV).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--vertex needs an OAuth access token in {VERTEX_TOKEN_ENV} (e.g. export {VERTEX_TOKEN_ENV}=$(gcloud auth print-access-token))"
            ))
        })?;
        return Ok(Some((
            Credential::Bearer(Secret::new(token)),
            Some(VERTEX_TOKEN_ENV.into()),
        )));
    }
    if let Some(token) = args.access.token.as_deref() {
        if token.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "--token: give the token's name (auth_tokens/...)".into(),
            ));
        }
        return Ok(Some((
            Credential::EphemeralToken(Secret::new(token)),
            Some("--token".into()),
        )));
    }
    if args.token_env.is_none() {
        if let Some(token) = read(EPHEMERAL_TOKEN_ENV) {
            let source = Some(EPHEMERAL_TOKEN_ENV.to_string());
            return Ok(Some((Credential::EphemeralToken(Secret::new(token)), source)));
        }
    }
    Ok(None)
}

/// The Vertex AI project and location, checked, when `--vertex` is on.
fn vertex_of(args: &CommonArgs) -> Result<Option<crate::session::Vertex>, ConfigError> {
    if !args.access.vertex {
        return Ok(None);
    }
    let project = args.access.project.as_deref().unwrap_or_default();
    let location = args.access.location.as_deref().unwrap_or_default();
    Ok(Some(crate::session::Vertex::new(project, location)?))
}

/// The session's credential and where it came from: `--vertex`, `--token` or GEMINI_EPHEMERAL_TOKEN first,
/// then `--token-env`, then the API key (`--api-key-env` or the config file's `api_key_env`, else the usual
/// variables); none at all means the embedded server.
pub(super) fn credential(args: &CommonArgs, file: &FileConfig) -> Result<(Credential, Option<String>), ConfigError> {
    let key_env = args.api_key_env.clone().or(file.api_key_env.clone());
    if let Some(found) = credential_override(args)? {
        return Ok(found);
    }
    if let Some(var) = &args.token_env {
        let token = std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::MissingEnv(var.clone()))?;
        return Ok((Credential::EphemeralToken(Secret::new(token)), Some(var.clone())));
    }
    Ok(match api_key(key_env.as_deref())? {
        Some((key, source)) => (Credential::ApiKey(key), Some(source)),
        None => (Credential::None, None),
    })
}

/// Where the conversation goes: the endpoint the flags or the config file name, Vertex AI with `--vertex`,
/// the real service when there is a credential, else the embedded server. A remote endpoint carries the
/// Vertex project and the extra CA certificate (read here, so a missing file fails before connecting).
pub(super) fn target(
    args: &CommonArgs,
    file: &FileConfig,
    api_version: ApiVersion,
    credential: &Credential,
) -> Result<Target, ConfigError> {
    let endpoint_url = args.endpoint.clone().or(file.endpoint.clone());
    let vertex = vertex_of(args)?;
    let mut endpoint = match (endpoint_url, credential) {
        (Some(url), _) => Endpoint::new(&url, api_version, credential.clone())?,
        (None, _) if vertex.is_some() => {
            let base = vertex.as_ref().map(|v| v.base_url()).unwrap_or_default();
            Endpoint::new(&base, api_version, credential.clone())?
        }
        (None, Credential::None) => return Ok(Target::Embedded),
        (None, _) => Endpoint::new(GEMINI_BASE_URL, api_version, credential.clone())?,
    };
    endpoint.vertex = vertex;
    if let Some(path) = args.ca_cert.clone().or(file.ca_cert.clone()) {
        let pem = std::fs::read(&path).map_err(|err| ConfigError::Cert {
            path,
            detail: err.to_string(),
        })?;
        endpoint.extra_roots_pem = Some(Arc::new(pem));
    }
    Ok(Target::Remote(endpoint))
}
