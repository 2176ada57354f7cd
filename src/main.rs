//! voxlive's command-line entry: parse flags, resolve the configuration, run one command. anyhow lives here
//! and nowhere else; every error reaches the user as one clear line and a non-zero exit.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use tokio::sync::mpsc;
use voxlive::cli::{BenchArgs, ChatArgs, Cli, Command, ImageArgs, LiveArgs, ServeArgs, TalkArgs, TurnArg};
use voxlive::config::{Config, Talking};
use voxlive::conversation::{Policy, TalkMode, VadSource};
use voxlive::modes::{chat, endpoint, live, talk};
use voxlive::protocol::INPUT_RATE;
use voxlive::ui::{self, sanitize, KeySpec, PlainRenderer, Renderer, StdinEof, TerminalOptions, TerminalUi, UserInput};

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
        Some(Command::Bench(args)) => run_bench(&Config::resolve(&cli.common)?, args).await,
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

/// The configuration of a conversation that is saved (unless `--no-save`): a new session under
/// `--session NAME` or a name from the time, or the one `--resume [NAME]` continues (keeping its model
/// unless `--model` says otherwise).
fn resolve_saved(
    common: &voxlive::cli::CommonArgs,
) -> Result<(Config, Option<std::sync::Arc<voxlive::persist::SessionJournal>>)> {
    use voxlive::persist::{Plan, Store};
    let flags = &common.saved;
    let plan = if flags.no_save {
        None
    } else {
        let store = Store::open_default()?;
        Some(match flags.resume.as_deref() {
            Some(name) => Plan::resume(store, Some(name).filter(|n| !n.is_empty()))?,
            None => Plan::new_session(store, flags.session.as_deref())?,
        })
    };
    let mut common = common.clone();
    if let (Some(model), None) = (plan.as_ref().and_then(|p| p.saved_model()), &common.model) {
        common.model = Some(model.to_string());
    }
    let mut config = Config::resolve(&common)?;
    let Some(plan) = plan else {
        return Ok((config, None));
    };
    // on the screen while the terminal UI is up (a log line would wait until it exits), else on stderr
    let notice: voxlive::persist::Notice = Box::new(ui::announce);
    let (resume, journal) = plan.start(&config.model, notice);
    config.resume_from = resume;
    config.journal = Some(voxlive::session::JournalRef(journal.clone()));
    Ok((config, Some(journal)))
}

/// Writes the last state of a saved session before voxlive exits.
fn finish_saved(saved: Option<std::sync::Arc<voxlive::persist::SessionJournal>>) {
    if let Some(journal) = saved {
        journal.finish();
    }
}

/// `voxlive token`: mints an ephemeral token and prints its name alone on stdout (for `$(voxlive token)`).
async fn run_token(config: &Config, common: &voxlive::cli::CommonArgs, args: voxlive::cli::TokenArgs) -> Result<()> {
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

/// `voxlive sessions list|show|rm`.
fn run_sessions(args: voxlive::cli::SessionsArgs) -> Result<()> {
    use voxlive::cli::SessionsAction;
    use voxlive::persist::{listing, Store};
    let store = Store::open_default()?;
    let now = time::OffsetDateTime::now_utc();
    match args.action {
        SessionsAction::List => print!("{}", listing::list(&store, now)?),
        SessionsAction::Show { name } => print!("{}", listing::show(&store.load(&name)?, now)),
        SessionsAction::Rm { name } => {
            store.remove(&name)?;
            println!("removed saved session {name}");
        }
    }
    Ok(())
}

/// Runs a session command, then writes `--metrics FILE` whether it succeeded or not.
async fn with_metrics(
    config: &Config,
    common: &voxlive::cli::CommonArgs,
    run: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    let result = run.await;
    if let Some(path) = &common.metrics {
        config
            .link
            .metrics
            .write_json(path)
            .with_context(|| format!("writing the metrics to {}", path.display()))?;
    }
    result
}

fn warn_config(config: &Config) {
    for w in &config.warnings {
        eprintln!("voxlive: warning: {w}");
    }
}

async fn run_talk(config: &Config, args: TalkArgs, cli_images: &ImageArgs) -> Result<()> {
    warn_config(config);
    let (question, info) = voxlive::wav::read_pcm16(&args.input, INPUT_RATE)?;
    eprintln!(
        "voxlive: question {} ({}, {:.2} s)",
        args.input.display(),
        info.source_format,
        info.duration_secs()
    );
    let mut talking = config.talking(&args.talking, None, TalkMode::PushToTalk);
    match args.turn {
        Some(TurnArg::Manual) => talking.mode = TalkMode::PushToTalk,
        Some(TurnArg::Auto) => talking.mode = TalkMode::HandsFree(VadSource::Server),
        None => {}
    }
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
            // what arrived before the failure is kept, not thrown away
            if !reply.audio.is_empty() {
                voxlive::wav::write_pcm16(&args.output, reply.rate, &reply.audio)?;
                eprintln!(
                    "voxlive: warning: kept the {:.2} s of reply received before the error in {}",
                    reply.audio.len() as f64 / f64::from(reply.rate.max(1)),
                    args.output.display()
                );
            }
            return Err((*error).into());
        }
        Err(e) => return Err(e.into()),
    };
    for w in &reply.warnings {
        eprintln!("voxlive: warning: {w}");
    }
    // one line per turn: "you" and the spoken reply side by side
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
    if reply.audio.is_empty() && reply.text.is_empty() {
        anyhow::bail!("the server completed the turn without any reply");
    }
    voxlive::wav::write_pcm16(&args.output, reply.rate, &reply.audio)?;
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
        args.output.display()
    );
    Ok(())
}

async fn run_live(config: &Config, args: LiveArgs, cli_images: &ImageArgs) -> Result<()> {
    use voxlive::audio::AudioConfig;
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
    let audio = AudioConfig {
        input_device: device_choice(args.input_device.as_deref()),
        output_device: device_choice(args.output_device.as_deref()),
        buffer_frames: args.buffer_frames,
        record_dir: args.record.clone(),
        echo_cancellation: !args.no_aec,
        ..AudioConfig::default()
    };
    let policy = Policy {
        barge_in: !args.no_barge_in,
        text_route: config.text_route,
        ..Policy::new(talking.mode)
    };
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
    .map_err(|e| match e {
        // The most common cause on a fresh machine: no sound server (or no sound card) at all.
        voxlive::modes::ModeError::Audio(a)
            if a.to_string().contains("Connection refused") || a.to_string().contains("no audio") =>
        {
            anyhow::anyhow!(
                "{a} (is an audio server running? Without a sound card, `source scripts/virtual-audio.sh start` \
                 provides virtual devices; `voxlive talk` works without any)"
            )
        }
        other => other.into(),
    })?;
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

/// A transcript's turns, one per line, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
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

fn device_choice(flag: Option<&str>) -> voxlive::audio::DeviceChoice {
    // Parsing a device choice cannot fail: anything that is not "default" or a number is a name.
    flag.and_then(|f| f.parse().ok()).unwrap_or_default()
}

async fn run_chat(config: &Config, args: ChatArgs, cli_images: &ImageArgs) -> Result<()> {
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

async fn serve(common: &voxlive::cli::CommonArgs, args: ServeArgs) -> Result<()> {
    use voxlive::server::{ResponderKind, ScriptedResponder, ServerConfig};
    let api_key = match common.api_key_env.as_deref() {
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .with_context(|| format!("--api-key-env {var}: the variable is not set or empty"))?,
        ),
        None => None,
    };
    if let Some(key) = &api_key {
        voxlive::redact::register(key);
    }
    if args.addr.ip().is_unspecified() {
        eprintln!(
            "voxlive: warning: serving on {} makes the server reachable from other machines; use 127.0.0.1 unless that is what you want",
            args.addr
        );
    }
    let responder = match args.responder.as_str() {
        "echo" => ResponderKind::Echo,
        other => match other.strip_prefix("script:") {
            Some(path) => ResponderKind::Scripted(ScriptedResponder::from_path(std::path::Path::new(path))?),
            None => anyhow::bail!("--responder {other:?}: use `echo` or `script:FILE`"),
        },
    };
    let faults = match &args.faults {
        Some(spec) => spec.parse::<voxlive::server::Faults>()?,
        None => voxlive::server::Faults::default(),
    };
    let mut config = ServerConfig {
        api_key,
        responder,
        pace_replies: !args.no_pacing,
        faults,
        ..ServerConfig::default()
    };
    let counts = config.fault_counts.clone();
    if args.tls {
        config = config.with_generated_tls()?;
    } else if args.cert_out.is_some() {
        anyhow::bail!("--cert-out needs --tls");
    }
    let handle = voxlive::server::spawn(config, args.addr)
        .await
        .with_context(|| format!("starting the server on {}", args.addr))?;
    if let Some(path) = &args.cert_out {
        handle
            .write_cert_pem(path)
            .with_context(|| format!("writing the certificate to {}", path.display()))?;
    }
    let _metrics_task = match args.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics-addr {addr}"))?;
            eprintln!(
                "voxlive: Prometheus metrics at http://{}/metrics",
                listener.local_addr()?
            );
            Some(tokio::spawn(voxlive::server::metrics::serve_prometheus(
                listener,
                handle.metrics().clone(),
                counts.clone(),
            )))
        }
        None => None,
    };
    println!("voxlive: serving {}", handle.base_url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    handle.shutdown().await?;
    if args.faults.is_some() {
        let summary = counts.summary();
        eprintln!(
            "voxlive: faults injected: {}",
            if summary.is_empty() { "none" } else { &summary }
        );
    }
    Ok(())
}

/// `voxlive bench`: flags checked, the bench run, the reports written.
async fn run_bench(config: &Config, args: BenchArgs) -> Result<()> {
    use voxlive::bench::{self, report, BenchOptions, Target};
    use voxlive::config::Target as ConfigTarget;
    warn_config(config);
    let net = args
        .net
        .as_deref()
        .map(str::parse::<voxlive::server::NetShape>)
        .transpose()?;
    if !(1..=600).contains(&args.reply_timeout) {
        anyhow::bail!("--reply-timeout {}: give 1 to 600 seconds", args.reply_timeout);
    }
    let reply_delay = match args.reply_delay {
        Some(ms) if ms > bench::MAX_REPLY_DELAY.as_millis() as u64 => {
            anyhow::bail!(
                "--reply-delay {ms}: give 0 to {} ms",
                bench::MAX_REPLY_DELAY.as_millis()
            )
        }
        Some(ms) => Some(Duration::from_millis(ms)),
        None => None,
    };
    let target = match &config.target {
        ConfigTarget::Embedded => Target::Embedded {
            net,
            reply_delay,
            api_version: config.api_version,
        },
        ConfigTarget::Remote(_) if net.is_some() || reply_delay.is_some() => {
            anyhow::bail!(
                "--net and --reply-delay shape the embedded server: drop --endpoint (or the API key) to use them"
            )
        }
        ConfigTarget::Remote(endpoint) => Target::Remote(endpoint.clone()),
    };
    if config.modality == voxlive::protocol::Modality::Text {
        anyhow::bail!(
            "bench times spoken replies (the first reply byte, the first sample heard): drop --modality text"
        );
    }
    let talking = config.talking(&args.talking, None, TalkMode::HandsFree(VadSource::Server));
    // the old report first: a bad --compare file is an error before minutes of benchmarking
    let old = args.compare.as_deref().map(report::json::read).transpose()?;
    let options = BenchOptions {
        inputs: args.input.clone(),
        runs: args.runs,
        concurrency: args.concurrency,
        mode: talking.mode,
        echo_cancellation: !args.no_aec,
        reply_timeout: Duration::from_secs(args.reply_timeout),
        setup: config.voice_setup(&talking),
        target,
        progress: true,
        command: std::env::args()
            .skip(1)
            .map(|a| redact_key(&a))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let report = bench::run(options).await?;
    print!("{}", report::table::to_table(&report));
    if let Some(path) = &args.json {
        report::write(path, &report::json::to_json(&report))?;
    }
    if let Some(path) = &args.csv {
        report::write(path, &report::csv::to_csv(&report))?;
    }
    if let Some(path) = &args.svg {
        report::write(path, &report::svg::to_svg(&report))?;
    }
    if let Some(old) = &old {
        println!(
            "\ncompared with {}:",
            args.compare.as_deref().unwrap_or(std::path::Path::new("")).display()
        );
        print!("{}", bench::compare::compare(old, &report));
    }
    Ok(())
}

/// `key=SECRET` inside an argument (an endpoint URL with its key) becomes `key=***`: a report never holds a key.
fn redact_key(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(i) = rest.find("key=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("***");
        rest = &rest[i + 4..];
        rest = rest.find('&').map_or("", |j| &rest[j..]);
    }
    out.push_str(rest);
    out
}
