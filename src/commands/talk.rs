//! `voxlive talk`: one WAV question, the spoken reply into a WAV and the transcript on standard output.
//! A reply cut short by an error is still written, so what arrived is never thrown away.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use voxlive::cli::{ImageArgs, TalkArgs, TurnArg};
use voxlive::config::{Config, Talking};
use voxlive::conversation::{TalkMode, VadSource};
use voxlive::modes::{endpoint, talk};
use voxlive::protocol::INPUT_RATE;
use voxlive::ui::sanitize;

use super::warn_config;

/// Asks the question in `args.input` and writes the reply to `args.output`.
pub async fn run_talk(config: &Config, args: TalkArgs, cli_images: &ImageArgs) -> Result<()> {
    warn_config(config);
    let (question, info) = voxlive::wav::read_pcm16(&args.input, INPUT_RATE)?;
    eprintln!(
        "voxlive: question {} ({}, {:.2} s)",
        args.input.display(),
        info.source_format,
        info.duration_secs()
    );
    let talking = talking(config, &args);
    let (images, _) = voxlive::modes::image_input::from_args(cli_images).await?;
    let (endpoint, _server) = endpoint::resolve(config).await?;
    let options = config.session_options(endpoint, config.voice_setup(&talking));
    let reply = match talk::talk(
        options,
        talk::TalkOptions {
            question,
            path: Some(args.input.clone()),
            real_time: !args.fast,
            mode: talking.mode,
            reply_timeout: Duration::from_secs(args.reply_timeout),
            transcript: talking.transcript.clone(),
            text_route: config.text_route,
            images,
            tools: config.toolbox(voxlive::tools::Asker::Nobody),
        },
    )
    .await
    {
        Ok(reply) => reply,
        Err(voxlive::modes::ModeError::Partial { error, reply }) => {
            keep_partial(&reply, &args.output)?;
            return Err((*error).into());
        }
        Err(e) => return Err(e.into()),
    };
    for w in &reply.warnings {
        eprintln!("voxlive: warning: {w}");
    }
    print_transcript(&reply);
    if reply.audio.is_empty() && reply.text.is_empty() {
        anyhow::bail!("the server completed the turn without any reply");
    }
    voxlive::wav::write_pcm16(&args.output, reply.rate, &reply.audio)?;
    print_summary(&reply, &args.output);
    Ok(())
}

/// Turn taking for a WAV question: push-to-talk unless the flags or the config file say otherwise, and
/// `--turn` over both.
fn talking(config: &Config, args: &TalkArgs) -> Talking {
    let mut talking = config.talking(&args.talking, None, TalkMode::PushToTalk);
    match args.turn {
        Some(TurnArg::Manual) => talking.mode = TalkMode::PushToTalk,
        Some(TurnArg::Auto) => talking.mode = TalkMode::HandsFree(VadSource::Server),
        None => {}
    }
    talking
}

/// What arrived before a failure is kept in `output`, not thrown away.
fn keep_partial(reply: &talk::TalkReply, output: &Path) -> Result<()> {
    if !reply.audio.is_empty() {
        voxlive::wav::write_pcm16(output, reply.rate, &reply.audio)?;
        eprintln!(
            "voxlive: warning: kept the {:.2} s of reply received before the error in {}",
            reply.audio.len() as f64 / f64::from(reply.rate.max(1)),
            output.display()
        );
    }
    Ok(())
}

/// One line per turn: "you" and the spoken reply side by side.
fn print_transcript(reply: &talk::TalkReply) {
    let (said, heard, text) = (
        lines(&reply.input_transcript),
        lines(&reply.output_transcript),
        lines(&reply.text),
    );
    for turn in 0..said.len().max(heard.len()).max(text.len()) {
        for (who, lines) in [("you", &said), ("voxlive", &heard), ("voxlive (text)", &text)] {
            if let Some(line) = lines.get(turn).filter(|l| !l.is_empty()) {
                println!("{who}: {}", sanitize(line));
            }
        }
    }
}

/// The reply's length, where it went, and how long it took to start.
fn print_summary(reply: &talk::TalkReply, output: &Path) {
    let first = reply
        .first_reply_after
        .map(|d| format!("{} ms", d.as_millis()))
        .unwrap_or_else(|| "n/a".into());
    let tokens = reply.tokens.map(|t| format!(", {t} tokens")).unwrap_or_default();
    let turns = if reply.turns == 1 {
        String::new()
    } else {
        format!("{} turns, ", reply.turns)
    };
    println!(
        "reply: {:.2} s of audio at {} Hz -> {} ({turns}first reply {first} after the question ended{tokens})",
        reply.audio.len() as f64 / reply.rate as f64,
        reply.rate,
        output.display()
    );
}

/// A transcript's turns, one per line, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}
