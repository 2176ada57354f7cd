//! The command line as typed: clap types only. `config.rs` turns these into a resolved [`crate::config::Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::session::ApiVersion;

/// voxlive: talk to Gemini Live in real time. With no command it holds a live spoken conversation through
/// the default microphone and speaker. Without an API key (GEMINI_API_KEY or GOOGLE_API_KEY) it talks to an
/// embedded offline Live server that echoes what you say, so everything works on any machine.
#[derive(Debug, Parser)]
#[command(name = "voxlive", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Live API base URL (https://host, wss://host, ws://127.0.0.1:PORT). Default: the real service when
    /// GEMINI_API_KEY or GOOGLE_API_KEY is set, else an embedded server started in-process on a free port
    /// (`bench`: always the embedded server unless given).
    #[arg(long, global = true, value_name = "BASE_URL")]
    pub endpoint: Option<String>,
    /// Model id (`voxlive models` lists them); default gemini-3.8-live.
    #[arg(long, global = true)]
    pub model: Option<String>,
    /// Prebuilt voice for spoken replies (Puck, Charon, Kore, Fenrir, Aoede, Leda, Orus, Zephyr, ...).
    #[arg(long, global = true)]
    pub voice: Option<String>,
    /// System instruction: how the assistant should behave. `@FILE` reads it from a UTF-8 file (at most
    /// 256 KiB); `@@TEXT` is text that starts with `@`. Replaces a preset's instruction.
    #[arg(long, global = true, value_name = "TEXT|@FILE")]
    pub system: Option<String>,
    /// Reply modality: spoken audio or text.
    #[arg(long, global = true, value_enum)]
    pub modality: Option<ModalityArg>,
    /// API version in the endpoint path.
    #[arg(long, global = true, value_enum)]
    pub api_version: Option<ApiVersion>,
    /// Read the API key from this environment variable instead of GEMINI_API_KEY / GOOGLE_API_KEY. With
    /// `serve`: the key clients must present (x-goog-api-key header or key= query); none is checked without it.
    #[arg(long, global = true, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Read an ephemeral token (auth_tokens/...) from this environment variable; uses the Constrained endpoint.
    #[arg(long, global = true, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Extra CA or server certificate (PEM) to trust, e.g. the one `voxlive serve --tls --cert-out` wrote.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Configuration file (TOML). Default: voxlive/config.toml in the user's config directory, if present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Give up connecting (TCP, TLS and the WebSocket upgrade) after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Give up waiting for setupComplete after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10.0)]
    pub setup_timeout: f64,
    /// A connection that sends nothing (not even a pong to our 20 s pings) for this many seconds is dead:
    /// reconnect.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Largest server message accepted, in bytes (the official SDK's 1 MiB by default).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_message_size: u64,
    /// Write the session's metrics (messages, latency percentiles, reconnects, resumes, replayed, dropped)
    /// as JSON to FILE at the end, also when the session failed.
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Mask e-mail addresses, card and phone numbers in typed text and transcripts before they are
    /// logged or saved.
    #[arg(long, global = true)]
    pub redact_pii: bool,
    /// End the conversation on the first lost connection instead of reconnecting and resuming.
    #[arg(long, global = true)]
    pub no_reconnect: bool,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub images: ImageArgs,
    #[command(flatten)]
    pub saved: SavedArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub tools: ToolArgs,
}

/// Presets, generation and safety settings, extra headers (see `voxlive presets`).
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// A named preset (assistant, support, translator, tutor, low-latency): instruction, generation settings
    /// and turn taking in one word; other flags override what it sets. `voxlive presets` lists them.
    #[arg(long, global = true, value_name = "NAME")]
    pub preset: Option<String>,
    /// translator / tutor: the language spoken (translator) or the learner's own language (tutor).
    #[arg(long, global = true, value_name = "LANGUAGE")]
    pub from: Option<String>,
    /// translator / tutor: the language to translate into, or to practise.
    #[arg(long, global = true, value_name = "LANGUAGE")]
    pub to: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[arg(long, global = true, value_name = "T", allow_negative_numbers = true)]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    #[arg(long, global = true, value_name = "P", allow_negative_numbers = true)]
    pub top_p: Option<f32>,
    /// Sample from the K likeliest tokens, 1 to 1000.
    #[arg(long, global = true, value_name = "K")]
    pub top_k: Option<u32>,
    /// Longest reply, in tokens (1 to 65536).
    #[arg(long, global = true, value_name = "N")]
    pub max_output_tokens: Option<u32>,
    /// Thinking level, for the models that take one (gemini-3.8-live-extended-thinking).
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub thinking_level: Option<crate::settings::ThinkingLevel>,
    /// Thinking budget in tokens (0 off, -1 the model decides), for the models that take one (2.5).
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true)]
    pub thinking_budget: Option<i32>,
    /// Resolution the model reads images at.
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub media_resolution: Option<crate::settings::MediaResolution>,
    /// A safety setting, e.g. harassment=block_only_high (repeatable; HARM_CATEGORY_ prefix optional).
    #[arg(long, global = true, value_name = "CATEGORY=THRESHOLD")]
    pub safety: Vec<String>,
    /// An extra request header on the WebSocket handshake, e.g. 'User-Agent: MyApp/1.0' (repeatable).
    #[arg(long, global = true, value_name = "NAME: VALUE")]
    pub header: Vec<String>,
}

/// Images sent as video frames once the session is up.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// An image (JPEG, PNG, WebP, GIF) to show the model (repeatable; sent in order).
    #[arg(long, global = true, value_name = "FILE")]
    pub image: Vec<PathBuf>,
    /// Every image in a directory, or the files a pattern matches (`shots/*.png`), in name order.
    #[arg(long, global = true, value_name = "DIR|GLOB")]
    pub images: Vec<String>,
    /// Frames a second (at most 1, the service's rate; faster is clamped with a warning).
    #[arg(
        long,
        global = true,
        value_name = "FPS",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub image_rate: f64,
    /// Largest size an image is sent at: the longest side (768) or a box (1024x768); never enlarged.
    #[arg(long, global = true, value_name = "PX|WxH", default_value = "768")]
    pub image_size: String,
}

/// Other ways in: an ephemeral token, or Vertex AI.
#[derive(Debug, Clone, Default, Args)]
pub struct AccessArgs {
    /// Connect with this ephemeral token (auth_tokens/..., from `voxlive token`) to the v1alpha Constrained
    /// endpoint; GEMINI_EPHEMERAL_TOKEN is read when neither this nor --token-env is given.
    #[arg(long, global = true, value_name = "TOKEN", conflicts_with = "token_env")]
    pub token: Option<String>,
    /// Use Vertex AI (needs --project and --location; the OAuth access token comes from
    /// GOOGLE_CLOUD_ACCESS_TOKEN, e.g. `gcloud auth print-access-token`). --endpoint still overrides the host.
    #[arg(long, global = true, requires_all = ["project", "location"])]
    pub vertex: bool,
    /// Vertex AI: the Google Cloud project id.
    #[arg(long, global = true, value_name = "PROJECT", requires = "vertex")]
    pub project: Option<String>,
    /// Vertex AI: the region, e.g. us-central1 (or global).
    #[arg(long, global = true, value_name = "LOCATION", requires = "vertex")]
    pub location: Option<String>,
}

/// Saved sessions (talk, chat and the live conversation): where the conversation is kept across restarts.
#[derive(Debug, Clone, Default, Args)]
pub struct SavedArgs {
    /// Continue a saved conversation (the most recent without NAME; put the flag after the command):
    /// with its resumption handle while valid (2 h), else with its transcript as history.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "", value_name = "NAME",
          conflicts_with_all = ["session", "no_save"])]
    pub resume: Option<String>,
    /// Save this conversation under NAME (default: the date and time it started).
    #[arg(long, global = true, value_name = "NAME")]
    pub session: Option<String>,
    /// Do not save this conversation.
    #[arg(long, global = true, conflicts_with = "session")]
    pub no_save: bool,
}

/// Function calling: which tools the model may call and how calls are allowed.
#[derive(Debug, Clone, Default, Args)]
pub struct ToolArgs {
    /// Built-in tools the model may call, comma-separated: time, calc, read_file (tools declared in the
    /// config file's [[tool]] tables are always on).
    #[arg(long, global = true, value_delimiter = ',', value_name = "LIST")]
    pub tools: Vec<String>,
    /// A folder read_file may read from (repeatable); nothing outside it, symlinks included.
    #[arg(long = "allow-dir", global = true, value_name = "DIR")]
    pub allow_dir: Vec<PathBuf>,
    /// Tools whose every call needs your yes first, comma-separated (built-in or config names).
    #[arg(long, global = true, value_delimiter = ',', value_name = "LIST")]
    pub confirm_tools: Vec<String>,
    /// How long a confirmation question waits for an answer (default 30 s), then the default answer.
    #[arg(long, global = true, value_name = "SECS")]
    pub confirm_timeout: Option<f64>,
    /// The answer when nobody answers in time or no terminal can ask: deny (default) or allow.
    #[arg(long, global = true, value_enum)]
    pub confirm_default: Option<ConfirmDefaultArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmDefaultArg {
    Allow,
    Deny,
}

/// Flags of the live conversation (no command).
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Microphone: a name (case-insensitive substring) or an index from `voxlive devices`.
    #[arg(long, value_name = "NAME|INDEX")]
    pub input_device: Option<String>,
    /// Speaker: a name (case-insensitive substring) or an index from `voxlive devices`.
    #[arg(long, value_name = "NAME|INDEX")]
    pub output_device: Option<String>,
    /// Device buffer size in frames (>= 128); default: the device's own.
    #[arg(long, value_name = "FRAMES")]
    pub buffer_frames: Option<u32>,
    /// Print per-stage latency percentiles and overrun/underrun/drop counts at the end.
    #[arg(long)]
    pub stats: bool,
    /// Write what the microphone sent and what the speaker played as WAV files into DIR.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Keep playing a reply when you start speaking over it (default: stop it at once).
    #[arg(long)]
    pub no_barge_in: bool,
    /// Turn off echo cancellation (with headphones there is no echo to cancel).
    #[arg(long)]
    pub no_aec: bool,
    #[command(flatten)]
    pub talking: TalkingArgs,
    /// The push-to-talk key: space (default), enter, tab, f1..f12, a letter or digit, ctrl+LETTER.
    #[arg(long, value_name = "KEY")]
    pub ptt_key: Option<String>,
    /// Plain timestamped lines even on a terminal (no full-screen UI).
    #[arg(long)]
    pub no_tui: bool,
}

/// How turns are taken, shared by the live conversation and `talk`.
#[derive(Debug, Clone, Default, Args)]
pub struct TalkingArgs {
    /// ptt: hold a key to talk (the service's activity detection is off); hands-free: talk any time.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Hands-free: who detects the turns: the service (server, default) or voxlive's own VAD (local: activity
    /// signals, silence never sent).
    #[arg(long, value_enum)]
    pub vad: Option<VadArg>,
    /// Server VAD: how readily the service hears speech start (high, low).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub start_sensitivity: Option<SensitivityArg>,
    /// Server VAD: how readily the service hears speech end (high, low).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub end_sensitivity: Option<SensitivityArg>,
    /// Server VAD: audio kept before the detected start of speech, in ms (0 to 10000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub prefix_padding_ms: Option<u32>,
    /// Server VAD: silence that ends the user's turn, in ms (0 to 10000: longer is not turn-taking).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub silence_ms: Option<u32>,
    /// Write one JSON line per finished utterance (role, text, start/end ms, turn, interrupted) to FILE.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeArg {
    Ptt,
    HandsFree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VadArg {
    Server,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensitivityArg {
    High,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModalityArg {
    Audio,
    Text,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded Live server (same wire protocol as Gemini Live) for tests, demos and offline use.
    Serve(ServeArgs),
    /// Send a recorded question (any WAV) and write the spoken answer to a WAV file.
    Talk(TalkArgs),
    /// Typed conversation: each line you type is a turn; replies print as text (or transcripts of audio).
    Chat(ChatArgs),
    /// List audio hosts, input and output devices with their default configurations.
    Devices(DevicesArgs),
    /// List the Live models voxlive knows (the default first), with what each one's setup may ask for.
    Models,
    /// List the presets (`--preset NAME`) and what each one sets.
    Presets,
    /// Latency benchmark: replay WAVs through the real audio engine and conversation core, in real time,
    /// and report per-turn and per-stage percentiles (table, JSON, CSV, SVG).
    Bench(BenchArgs),
    /// Saved conversations (continue one with --resume NAME): list, show or remove them.
    Sessions(SessionsArgs),
    /// Mint an ephemeral token (POST v1alpha/auth_tokens with the API key) for an app that must not hold
    /// the key; prints its name (auth_tokens/...). Connect with it: --token TOKEN.
    Token(TokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Sessions the token may start (resuming one is free); 0 = no limit.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub uses: u32,
    /// Sessions using the token end after this (e.g. 30m, 2h, 90s; under 20h).
    #[arg(long, default_value = "30m", value_name = "DURATION")]
    pub expire: String,
    /// New sessions must start within this (e.g. 60s, 5m; at most --expire).
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub new_session_expire: String,
    /// Lock the setup these flags build (model, voice, system instruction, modality) into the token: the
    /// token's user cannot change it.
    #[arg(long)]
    pub lock_setup: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    pub action: SessionsAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SessionsAction {
    /// Every saved session: name, model, last update, turns, whether its resumption handle is still valid.
    List,
    /// A saved session's transcript.
    Show { name: String },
    /// Delete a saved session.
    Rm { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// WAV files or directories of them (every *.wav inside, in name order).
    #[arg(long, short, required = true, num_args = 1.., value_name = "WAV_OR_DIR")]
    pub input: Vec<PathBuf>,
    /// Replay the whole set this many times (1..=1000).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub runs: u32,
    /// Sessions at once (1..=64), through a bounded pool.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: u32,
    /// Network conditions on the embedded server's replies: delay=40ms,jitter=20ms,loss=1%,burst=100ms,seed=1
    /// (each part optional; delay/jitter/burst up to 10 s, loss up to 50%). Not with --endpoint.
    #[arg(long, value_name = "SPEC")]
    pub net: Option<String>,
    /// The embedded server waits this long before each reply (a model's thinking time), in ms (0..=30000).
    #[arg(long, value_name = "MS")]
    pub reply_delay: Option<u64>,
    /// Turn off echo cancellation (default on, as in a live conversation).
    #[arg(long)]
    pub no_aec: bool,
    /// Give up on a session whose reply has not completed this many seconds after a turn (1..=600).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub reply_timeout: u64,
    /// Write the whole report as JSON (every turn, stage, the settings, the machine).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write stage summaries and per-turn values as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the latency distributions and the per-turn waterfall as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print every metric's change against an earlier --json report.
    #[arg(long, value_name = "OLD.json")]
    pub compare: Option<PathBuf>,
    /// Hands-free (default) or push-to-talk (the key goes down before each utterance and up at its end).
    #[command(flatten)]
    pub talking: TalkingArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DevicesArgs {
    /// Also list the devices that did not open (ALSA plugins without their backend). Indexes stay the same.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: the server is never reachable from outside unless asked.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub addr: SocketAddr,
    /// Serve wss:// with a self-signed certificate generated at start.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: write the certificate (PEM) here so clients can trust it (SSL_CERT_FILE, --ca-cert).
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,
    /// How the server answers: `echo` plays your turn back; `script:FILE` follows a TOML/JSON script.
    #[arg(long, default_value = "echo")]
    pub responder: String,
    /// Send replies as fast as possible instead of in real time.
    #[arg(long)]
    pub no_pacing: bool,
    /// Inject faults: e.g. `drop-every=3s,goaway-every=5s:timeleft=2s,close-1011-every=7s,delay=40ms,
    /// jitter=20ms,reject-resume=0.2,malformed-every=4s,oversized-every=6s,random,seed=7,first=N`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Serve Prometheus metrics (connections, messages, resumes, faults) over HTTP at this address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone, Args)]
pub struct TalkArgs {
    /// The question: a WAV file of any rate, channel count and 16/24/32-bit int or float samples.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Where to write the spoken answer (24 kHz mono 16-bit WAV).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Send the audio as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
    /// Deprecated spelling of --mode: `manual` = `--mode ptt` (the whole file is one held turn), `auto` =
    /// `--mode hands-free --vad server`.
    #[arg(long, value_enum, conflicts_with = "mode")]
    pub turn: Option<TurnArg>,
    /// With --mode ptt (the default for talk) the file is one turn; with --mode hands-free each utterance
    /// in the file is a turn (real time only), and the answer WAV keeps the file's timeline.
    #[command(flatten)]
    pub talking: TalkingArgs,
    /// Give up if the reply has not completed this many seconds after the question ends.
    #[arg(long, default_value_t = 60)]
    pub reply_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TurnArg {
    Manual,
    Auto,
}

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// With audio replies, write each one as reply-N.wav into this directory.
    #[arg(long, value_name = "DIR")]
    pub save_audio: Option<PathBuf>,
    /// Give up if a reply has not completed this many seconds after the line was sent.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub reply_timeout: f64,
}
