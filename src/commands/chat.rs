//! `voxlive chat`: typed turns on standard input, the replies' text on standard output.

use anyhow::Result;
use voxlive::cli::{ChatArgs, ImageArgs};
use voxlive::config::Config;
use voxlive::modes::{chat, endpoint};

use super::warn_config;

/// Holds a typed conversation until standard input ends.
pub async fn run_chat(config: &Config, args: ChatArgs, cli_images: &ImageArgs) -> Result<()> {
    warn_config(config);
    let (images, image_input) = voxlive::modes::image_input::from_args(cli_images).await?;
    let (endpoint, _server) = endpoint::resolve(config).await?;
    let options = config.session_options(endpoint, config.setup(false));
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut stdout = std::io::stdout();
    // questions are asked on the prompt when a person types there; from a pipe the default answers
    let asker = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        voxlive::tools::Asker::FrontEnd
    } else {
        voxlive::tools::Asker::Nobody
    };
    chat::chat(
        options,
        chat::ChatOptions {
            save_audio: args.save_audio,
            reply_timeout: voxlive::config::flag_secs("--reply-timeout", args.reply_timeout)?,
            images,
            image_input,
            tools: config.toolbox(asker).runner(),
        },
        stdin,
        &mut stdout,
    )
    .await?;
    Ok(())
}
