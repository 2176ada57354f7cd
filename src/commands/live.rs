//! The live conversation (no command): the microphone and the speaker through the audio engine, the
//! terminal UI or plain lines as the front end.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use voxlive::audio::AudioConfig;
use voxlive::cli::{ImageArgs, LiveArgs};
use voxlive::config::{Config, Talking};
use voxlive::conversation::{Policy, TalkMode, VadSource};
use voxlive::modes::{endpoint, live};
use voxlive::ui::{self, KeySpec, PlainRenderer, Renderer, StdinEof, TerminalOptions, TerminalUi, UserInput};

use super::warn_config;

/// Holds the live conversation until the user quits, `--duration` passes or the session ends.
pub async fn run_live(config: &Config, args: LiveArgs, cli_images: &ImageArgs) -> Result<()> {
    warn_config(config);
    let duration = match args.duration {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Some(Duration::from_secs_f64(s)),
        Some(s) => anyhow::bail!("--duration {s}: give a positive number of seconds"),
        None => None,
    };
    let talking = config.talking(
        &args.talking,
        args.ptt_key.as_deref(),
        TalkMode::HandsFree(VadSource::Server),
    );
    if let Some(w) = talking.ignored_tuning() {
        eprintln!("voxlive: warning: {w}");
    }
    let audio = audio_config(&args);
    let policy = Policy {
        barge_in: !args.no_barge_in,
        text_route: config.text_route,
        ..Policy::new(talking.mode)
    }
    .after_server_silence(talking.tuning.silence_ms.map(|ms| Duration::from_millis(u64::from(ms))));
    let (images, image_input) = voxlive::modes::image_input::from_args(cli_images).await?;
    // the endpoint first: starting the embedded server prints a line the UI would otherwise tear
    let (endpoint, _server) = endpoint::resolve(config).await?;
    let (renderer, user) = front_end(&talking, args.no_tui)?;
    // the terminal UI can ask (a question line, y/n); plain lines from a pipe cannot
    let asker = if ui::is_terminal() && !args.no_tui {
        voxlive::tools::Asker::FrontEnd
    } else {
        voxlive::tools::Asker::Nobody
    };
    let options = config.session_options(endpoint, config.voice_setup(&talking));
    let report = live::live(
        options,
        live::LiveOptions {
            audio,
            duration,
            policy,
            transcript: talking.transcript.clone(),
            images,
            image_input,
            tools: config.toolbox(asker),
        },
        renderer,
        user,
    )
    .await
    .map_err(with_audio_hint)?;
    if args.stats {
        println!("{report}");
    }
    if let Some(dir) = &args.record {
        eprintln!(
            "voxlive: recorded the microphone and the speaker into {}",
            dir.display()
        );
    }
    Ok(())
}

/// The devices, buffer, recording and echo cancellation the flags ask for.
fn audio_config(args: &LiveArgs) -> AudioConfig {
    AudioConfig {
        input_device: device_choice(args.input_device.as_deref()),
        output_device: device_choice(args.output_device.as_deref()),
        buffer_frames: args.buffer_frames,
        record_dir: args.record.clone(),
        echo_cancellation: !args.no_aec,
        ..AudioConfig::default()
    }
}

/// The most common failure on a fresh machine is no sound server (or no sound card) at all: say what to do.
fn with_audio_hint(e: voxlive::modes::ModeError) -> anyhow::Error {
    match e {
        voxlive::modes::ModeError::Audio(a)
            if a.to_string().contains("Connection refused") || a.to_string().contains("no audio") =>
        {
            anyhow::anyhow!(
                "{a} (is an audio server running? Without a sound card, `source scripts/virtual-audio.sh start` \
                 provides virtual devices; `voxlive talk` works without any)"
            )
        }
        other => other.into(),
    }
}

type FrontEnd = (Box<dyn Renderer>, Option<mpsc::Receiver<UserInput>>);

/// The renderer and the keyboard: the terminal UI when stdin and stdout are a terminal (unless --no-tui),
/// else plain timestamped lines with typed lines read from standard input (its end does not stop a
/// hands-free conversation).
fn front_end(talking: &Talking, no_tui: bool) -> Result<FrontEnd> {
    let ptt = talking.mode == TalkMode::PushToTalk;
    let ptt_key = match talking.ptt_key.as_deref() {
        Some(name) => Some(name.parse::<KeySpec>().with_context(|| format!("--ptt-key {name}"))?),
        None => None,
    };
    if !ui::is_terminal() || no_tui {
        if ptt {
            anyhow::bail!(
                "push-to-talk reads the key from the terminal: run it in a terminal without --no-tui, or use --mode hands-free"
            );
        }
        let renderer = PlainRenderer::new(Box::new(std::io::stdout()), std::time::Instant::now());
        return Ok((Box::new(renderer), Some(ui::stdin_lines(StdinEof::Ignore))));
    }
    let mut options = TerminalOptions::new(talking.mode);
    options.ptt_key = ptt_key;
    // it may wait (up to 2 s) for the terminal to answer its capability query: off a worker's time where
    // there are workers; on the live front end's single thread nothing else runs yet
    let (tui, input) = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| TerminalUi::start(options))?,
        _ => TerminalUi::start(options)?,
    };
    Ok((Box::new(tui), Some(input)))
}

/// `--input-device` / `--output-device`: the default device, a number from `voxlive devices`, or a name.
fn device_choice(flag: Option<&str>) -> voxlive::audio::DeviceChoice {
    // Parsing a device choice cannot fail: anything that is not "default" or a number is a name.
    flag.and_then(|f| f.parse().ok()).unwrap_or_default()
}
