//! voxlive's command-line entry: parse flags, resolve the configuration, run one command. anyhow lives here
//! and nowhere else; every error reaches the user as one clear line and a non-zero exit.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use voxlive::cli::{Cli, Command};
use voxlive::config::Config;
use voxlive::ui;

mod commands;

use commands::bench::run_bench;
use commands::chat::run_chat;
use commands::live::run_live;
use commands::saved::{finish_saved, resolve_saved};
use commands::serve::serve;
use commands::sessions::run_sessions;
use commands::talk::run_talk;
use commands::token::run_token;
use commands::with_metrics;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.common.redact_pii {
        voxlive::redact::pii::enable();
    }
    init_logging(cli.common.verbose);
    // A live conversation is one pump and one session on one thread: the DSP thread's frames wake it, and
    // nothing else needs a second worker (measured: tasks handed between two workers cost wake-ups on every
    // 20 ms frame). The server and the file front ends keep the multi-threaded runtime.
    let mut builder = if cli.command.is_none() {
        // The session thread is on the audio path too (frame -> socket); cpal's reactor thread, spawned
        // from here later, inherits its priority.
        voxlive::audio::raise_this_thread_priority("live session");
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("voxlive: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voxlive: error: {}", voxlive::redact::redact(&format!("{e:#}")));
            exit_code(&e)
        }
    }
}

/// 2 for a value the user gave that can never work (like clap's own usage errors), else 1.
fn exit_code(e: &anyhow::Error) -> ExitCode {
    let usage = e
        .downcast_ref::<voxlive::config::ConfigError>()
        .is_some_and(|c| c.is_usage())
        || e.downcast_ref::<voxlive::media::MediaError>().is_some();
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

fn init_logging(verbose: u8) {
    // The pulseaudio crate behind cpal's native host logs "Reactor error: Client disconnected" at ERROR on
    // every normal exit; stream failures reach us through cpal anyway, so it stays quiet unless RUST_LOG asks.
    let default = match verbose {
        0 => "warn,pulseaudio=off",
        1 => "info,pulseaudio=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // tungstenite traces the upgrade request with its headers (the key among them): never that line. The
    // log writer redacts credentials anyway; this keeps the request out altogether.
    // The cap is the lower of debug and what the filter allows anyway: a directive also enables its target
    // up to its level, and "=debug" put tungstenite's "Client handshake done." on every plain run's stderr.
    let allowed = filter
        .max_level_hint()
        .unwrap_or(tracing_subscriber::filter::LevelFilter::TRACE);
    let cap = allowed.min(tracing_subscriber::filter::LevelFilter::DEBUG);
    let filter = match format!("tungstenite::handshake::client={cap}").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // held back while the terminal UI owns the screen, printed after it exits
        .with_writer(ui::UiLogWriter)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

/// Runs the one command the flags name (the live conversation without one).
async fn run(cli: Cli) -> Result<()> {
    // `--preset list`, whatever the command: the same listing as `voxlive presets`
    if cli.common.settings.preset.as_deref() == Some("list") {
        print!("{}", voxlive::settings::presets::listing()?);
        return Ok(());
    }
    match cli.command {
        Some(Command::Serve(args)) => serve(&cli.common, args).await,
        Some(Command::Talk(args)) => {
            let (config, saved) = resolve_saved(&cli.common)?;
            let result = with_metrics(&config, &cli.common, run_talk(&config, args, &cli.common.images)).await;
            finish_saved(saved);
            result
        }
        Some(Command::Chat(args)) => {
            let (config, saved) = resolve_saved(&cli.common)?;
            let result = with_metrics(&config, &cli.common, run_chat(&config, args, &cli.common.images)).await;
            finish_saved(saved);
            result
        }
        Some(Command::Sessions(args)) => run_sessions(args),
        Some(Command::Token(args)) => run_token(&Config::resolve(&cli.common)?, &cli.common, args).await,
        Some(Command::Bench(args)) => run_bench(&Config::resolve(&cli.common)?, &cli.common, args).await,
        Some(Command::Models) => {
            print!("{}", voxlive::models::Catalog::builtin().listing());
            Ok(())
        }
        Some(Command::Presets) => {
            print!("{}", voxlive::settings::presets::listing()?);
            Ok(())
        }
        Some(Command::Devices(args)) => {
            let listing = if args.all {
                voxlive::audio::Listing::All
            } else {
                voxlive::audio::Listing::Usable
            };
            print!("{}", voxlive::audio::list_devices()?.listing(listing));
            Ok(())
        }
        None => {
            let (config, saved) = resolve_saved(&cli.common)?;
            let result = with_metrics(&config, &cli.common, run_live(&config, cli.live, &cli.common.images)).await;
            finish_saved(saved);
            result
        }
    }
}
