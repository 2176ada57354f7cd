//! `voxlive token`: an ephemeral token minted at a server that outlives the command (Google's, or a
//! `voxlive serve`), for clients that must not hold the API key.

use anyhow::Result;
use voxlive::config::Config;

/// `voxlive token`: mints an ephemeral token and prints its name alone on stdout (for `$(voxlive token)`).
pub async fn run_token(
    config: &Config,
    common: &voxlive::cli::CommonArgs,
    args: voxlive::cli::TokenArgs,
) -> Result<()> {
    use voxlive::auth::{self, MintOptions};
    use voxlive::session::Credential;
    let voxlive::config::Target::Remote(endpoint) = &config.target else {
        anyhow::bail!(
            "voxlive token mints at a server that outlives it: set GEMINI_API_KEY for Google's, or --endpoint URL of a `voxlive serve`"
        );
    };
    // minting takes the key even where a session would take a token (GEMINI_EPHEMERAL_TOKEN left set)
    let mut endpoint = endpoint.clone();
    if !matches!(endpoint.credential, Credential::ApiKey(_)) {
        if let Some((key, _)) = voxlive::config::api_key(common.api_key_env.as_deref())? {
            endpoint.credential = Credential::ApiKey(key);
        }
    }
    let endpoint = &endpoint;
    let options = MintOptions {
        uses: args.uses,
        expire: auth::parse_duration("--expire", &args.expire)?,
        new_session_expire: auth::parse_duration("--new-session-expire", &args.new_session_expire)?,
        locked_setup: args.lock_setup.then(|| config.setup(false)),
    };
    let token = auth::mint(
        endpoint,
        &options,
        config.link.connect_timeout + config.link.setup_timeout,
    )
    .await?;
    println!("{}", token.name.as_deref().unwrap_or_default());
    let uses = match token.uses.unwrap_or(options.uses) {
        0 => "any number of sessions".to_string(),
        1 => "1 session".to_string(),
        n => format!("{n} sessions"),
    };
    eprintln!(
        "voxlive: ephemeral token for {uses}; new sessions until {}, sessions end at {}{} (connect with --token TOKEN)",
        token.new_session_expire_time.as_deref().unwrap_or("?"),
        token.expire_time.as_deref().unwrap_or("?"),
        if args.lock_setup { ", setup locked" } else { "" }
    );
    Ok(())
}
