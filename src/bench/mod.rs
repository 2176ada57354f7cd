//! `voxlive bench`: latency of the real pipeline on recorded WAVs. Each file is replayed through the audio
//! engine and the conversation core exactly as a live conversation runs them (`run.rs`), against the
//! embedded server (optionally behind shaped network conditions, `crate::server::net`) or any endpoint;
//! `--concurrency N` runs N sessions at once through a bounded pool. Per turn and per stage the figures come
//! from the pipeline's own monotonic timestamps; the reports (`report/`) are views of one [`Report`].
//!
//! - `inputs.rs`: the files, read and checked before the first session; `speech.rs`: where the user speaks
//!   in a file (the "end of speech" every turn is timed from).
//! - `run.rs`: one session; `replies.rs`: when its replies reached the player; `turns.rs`: its turns
//!   matched from the clocks; `stats.rs`: nearest-rank percentiles; `record.rs`: the report's data.
//! - `machine.rs`: CPU model, cores, OS, getrusage; `compare.rs`: `--compare OLD.json`.

pub mod compare;
pub mod inputs;
pub mod machine;
pub mod record;
mod replies;
pub mod report;
pub mod run;
pub mod speech;
pub mod stats;
mod turns;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::conversation::{TalkMode, VadSource};
use crate::protocol::Setup;
use crate::server::{Faults, NetShape, ServerConfig};
use crate::session::{ApiVersion, Credential, Endpoint, SessionOptions};

pub use record::{Counters, NetApplied, Report, SessionReport, Settings, Stage, StageStats, TurnRecord};

/// Most sessions run at once.
pub const MAX_CONCURRENCY: u32 = 64;
/// Most runs of the whole set.
pub const MAX_RUNS: u32 = 1000;
/// Most sessions in one bench (runs x files).
pub const MAX_SESSIONS: usize = 10_000;
/// Longest reply delay the embedded server may be given.
pub const MAX_REPLY_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A flag is out of range or inconsistent; fix the command line.
    #[error("{0}")]
    Invalid(String),
    /// An input file or directory is missing or holds no WAV.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Wav(#[from] crate::wav::WavError),
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error("cannot start the embedded server: {0}")]
    Server(#[from] crate::server::ServerError),
    #[error("{path}: {reason}")]
    Report { path: String, reason: String },
    /// Every session failed: nothing was measured.
    #[error("no session completed: {0}")]
    NothingMeasured(String),
}

/// Where the sessions go.
#[derive(Debug, Clone)]
pub enum Target {
    /// An embedded server started for the bench, with these network conditions and reply delay.
    Embedded {
        net: Option<NetShape>,
        reply_delay: Option<Duration>,
        api_version: ApiVersion,
    },
    /// Any Live endpoint (the real service, a `voxlive serve` process).
    Remote(Endpoint),
}

/// A validated bench.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub inputs: Vec<PathBuf>,
    pub runs: u32,
    pub concurrency: u32,
    pub mode: TalkMode,
    pub echo_cancellation: bool,
    pub reply_timeout: Duration,
    pub setup: Setup,
    pub target: Target,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// The command line, for the report.
    pub command: String,
}

impl BenchOptions {
    /// Checks every number before it sizes anything.
    pub fn validate(&self) -> Result<(), BenchError> {
        if !(1..=MAX_RUNS).contains(&self.runs) {
            return Err(BenchError::Invalid(format!(
                "--runs {}: give 1 to {MAX_RUNS}",
                self.runs
            )));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(BenchError::Invalid(format!(
                "--concurrency {}: give 1 to {MAX_CONCURRENCY}",
                self.concurrency
            )));
        }
        if self.inputs.is_empty() {
            return Err(BenchError::Input(
                "--input: give at least one WAV file or directory".into(),
            ));
        }
        if self.inputs.len().saturating_mul(self.runs as usize) > MAX_SESSIONS {
            return Err(BenchError::Invalid(format!(
                "{} files x {} runs: at most {MAX_SESSIONS} sessions",
                self.inputs.len(),
                self.runs
            )));
        }
        if let Target::Embedded {
            reply_delay: Some(d), ..
        } = &self.target
        {
            if *d > MAX_REPLY_DELAY {
                return Err(BenchError::Invalid(format!(
                    "--reply-delay {} ms: give 0 to {} ms",
                    d.as_millis(),
                    MAX_REPLY_DELAY.as_millis()
                )));
            }
        }
        Ok(())
    }
}

/// The summaries of every stage that has values.
pub fn summaries(values: &[(Stage, Vec<f64>)]) -> Vec<StageStats> {
    values
        .iter()
        .filter_map(|(stage, v)| {
            stats::summarize(v).map(|summary| StageStats {
                stage: *stage,
                label: stage.label().to_string(),
                unit: "ms".into(),
                summary,
            })
        })
        .collect()
}

fn mode_names(mode: TalkMode) -> (&'static str, &'static str) {
    match mode {
        TalkMode::PushToTalk => ("ptt", "none (key)"),
        TalkMode::HandsFree(VadSource::Local) => ("hands-free", "local"),
        TalkMode::HandsFree(VadSource::Server) => ("hands-free", "server"),
    }
}

/// Where the sessions go once started: the endpoint, the embedded server (kept alive for the run), and
/// the network shape and reply delay it applies.
struct Started {
    endpoint: Endpoint,
    server: Option<crate::server::ServerHandle>,
    net: Option<NetShape>,
    reply_delay: Option<Duration>,
}

/// Starts the embedded server when the bench targets it.
async fn start_target(target: &Target) -> Result<Started, BenchError> {
    Ok(match target {
        Target::Remote(e) => Started {
            endpoint: e.clone(),
            server: None,
            net: None,
            reply_delay: None,
        },
        Target::Embedded {
            net,
            reply_delay,
            api_version,
        } => {
            let config = ServerConfig {
                faults: Faults {
                    reply_delay: *reply_delay,
                    ..Faults::default()
                },
                net: net.clone(),
                ..ServerConfig::default()
            };
            let handle = crate::server::spawn(config, crate::server::DEFAULT_ADDR).await?;
            Started {
                endpoint: Endpoint::new(&handle.base_url(), *api_version, Credential::None)?,
                server: Some(handle),
                net: net.clone(),
                reply_delay: *reply_delay,
            }
        }
    })
}

/// One session's place in the bench (file index, run number), its outcome and its file.
type Outcome = (usize, u32, Result<run::SessionOutcome, BenchError>, PathBuf);

/// The progress bar, on stderr when that is a terminal (the table goes to stdout, which may be a file):
/// audio seconds replayed out of all the bench's, ticking on its own so it shows from the start and moves
/// while long files play, with the files playing now as its message.
struct Progress {
    bar: indicatif::ProgressBar,
    playing: std::sync::Mutex<Vec<String>>,
}

impl Progress {
    fn new(jobs: &[(usize, u32, Arc<inputs::Input>)], tail: Duration, show: bool) -> Option<Progress> {
        if !(show && std::io::stderr().is_terminal()) {
            return None;
        }
        let total: f64 = jobs.iter().map(|(_, _, i)| i.secs + tail.as_secs_f64()).sum();
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total.ceil() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = format!(
            "{{bar:30}} {{pos}}/{{len}} s of audio, {} sessions  {{elapsed}}  {{msg}}",
            jobs.len()
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Some(Progress {
            bar,
            playing: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn playing(&self, name: &str, now: bool) {
        if let Ok(mut p) = self.playing.lock() {
            match now {
                true => p.push(name.to_string()),
                false => {
                    if let Some(k) = p.iter().position(|n| n == name) {
                        p.remove(k);
                    }
                }
            }
            self.bar.set_message(p.join(", "));
        }
    }
}

/// Runs every (file, run) at most `concurrency` at a time, moving the progress bar; sorted by run, file.
async fn run_pool(
    jobs: Vec<(usize, u32, Arc<inputs::Input>)>,
    plan: &run::SessionPlan,
    concurrency: u32,
    progress: bool,
) -> Vec<Outcome> {
    let progress = Progress::new(&jobs, plan.tail, progress);
    let progress = progress.as_ref();
    let mut outcomes: Vec<Outcome> = futures_util::stream::iter(jobs)
        .map(|(i, r, input)| async move {
            let name = input
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let out = match progress {
                Some(p) => {
                    p.playing(&name, true);
                    // the audio position moves with the session's clock, a second at a time
                    let secs = (input.secs + plan.tail.as_secs_f64()).ceil() as u64;
                    let second = Duration::from_secs(1);
                    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
                    let session = run::one(&input, r, plan);
                    tokio::pin!(session);
                    let mut ticks = 0;
                    let out = loop {
                        tokio::select! {
                            out = &mut session => break out,
                            _ = tick.tick() => if ticks < secs {
                                ticks += 1;
                                p.bar.inc(1);
                            },
                        }
                    };
                    p.bar.inc(secs - ticks);
                    p.playing(&name, false);
                    out
                }
                None => run::one(&input, r, plan).await,
            };
            (i, r, out, input.path.clone())
        })
        .buffer_unordered(concurrency as usize)
        .collect()
        .await;
    if let Some(p) = progress {
        p.bar.finish_and_clear();
    }
    outcomes.sort_by_key(|(i, r, _, _)| (*r, *i));
    outcomes
}

/// Every session's figures pooled: the sessions, all turns, each stage's values, summed counters, and
/// the first error seen.
#[derive(Default)]
struct Pooled {
    sessions: Vec<SessionReport>,
    turns: Vec<TurnRecord>,
    values: Vec<(Stage, Vec<f64>)>,
    counters: Counters,
    first_error: Option<String>,
}

fn pool(outcomes: Vec<Outcome>) -> Pooled {
    let mut p = Pooled {
        values: Stage::ALL.iter().map(|&s| (s, Vec::new())).collect(),
        ..Pooled::default()
    };
    for (_, r, out, path) in outcomes {
        match out {
            Ok(o) => {
                if let (Some(e), None) = (&o.report.error, &p.first_error) {
                    p.first_error = Some(e.clone());
                }
                p.counters.add(&o.report.counters);
                for ((_, all), (_, v)) in p.values.iter_mut().zip(o.values) {
                    all.extend(v);
                }
                p.turns.extend(o.turns);
                p.sessions.push(o.report);
            }
            Err(e) => {
                tracing::debug!("{}: {e}", path.display());
                p.first_error.get_or_insert_with(|| e.to_string());
                p.sessions.push(SessionReport {
                    input: path.display().to_string(),
                    run: r,
                    audio_secs: 0.0,
                    wall_secs: 0.0,
                    setup_ms: None,
                    stages: Vec::new(),
                    counters: Counters::default(),
                    error: Some(e.to_string()),
                });
            }
        }
    }
    p
}

/// What the shaped network did to the server's replies.
fn net_applied(net: &NetShape) -> NetApplied {
    let c = &net.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let writes = load(&c.writes);
    NetApplied {
        spec: net.to_string(),
        writes,
        retransmitted: load(&c.retransmitted),
        mean_hold_ms: if writes > 0 {
            load(&c.held_us) as f64 / writes as f64 / 1e3
        } else {
            0.0
        },
    }
}

/// The settings as the report records them.
fn settings(options: &BenchOptions, inputs: &[PathBuf], started: &Started, tail: Duration) -> Settings {
    let (mode, vad) = mode_names(options.mode);
    Settings {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        runs: options.runs,
        endpoint: match &options.target {
            Target::Embedded { .. } => "embedded".into(),
            Target::Remote(e) => e.ws_url().origin().ascii_serialization(),
        },
        mode: mode.into(),
        vad: vad.into(),
        aec: options.echo_cancellation,
        concurrency: options.concurrency,
        net: started.net.as_ref().map(|n| n.to_string()),
        reply_delay_ms: started.reply_delay.map(|d| d.as_secs_f64() * 1e3),
        command: options.command.clone(),
        tail_ms: Some(tail.as_secs_f64() * 1e3),
        failed_sessions: 0,
    }
}

/// Runs the bench and returns its report.
pub async fn run(options: BenchOptions) -> Result<Report, BenchError> {
    options.validate()?;
    // every file read and checked before the first session: a bad one fails now, not minutes in
    let files: Vec<Arc<inputs::Input>> = inputs::read_all(&options.inputs)?.into_iter().map(Arc::new).collect();
    let inputs: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let tail = inputs::tail_for(options.setup.vad_silence());
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut started = start_target(&options.target).await?;
    let plan = run::SessionPlan {
        options: SessionOptions::new(started.endpoint.clone(), options.setup.clone()),
        mode: options.mode,
        echo_cancellation: options.echo_cancellation,
        reply_timeout: options.reply_timeout,
        tail,
    };
    let jobs: Vec<(usize, u32, Arc<inputs::Input>)> = (1..=options.runs)
        .flat_map(|r| files.iter().cloned().enumerate().map(move |(i, f)| (i, r, f)))
        .collect();
    let usage_before = machine::usage();
    let began = Instant::now();
    let outcomes = run_pool(jobs, &plan, options.concurrency, options.progress).await;
    let wall_secs = began.elapsed().as_secs_f64();
    let usage_after = machine::usage();
    started.server.take();

    let pooled = pool(outcomes);
    if pooled.turns.is_empty() && pooled.sessions.iter().all(|s| s.error.is_some()) {
        return Err(BenchError::NothingMeasured(pooled.first_error.unwrap_or_default()));
    }
    let mut settings = settings(&options, &inputs, &started, tail);
    settings.failed_sessions = pooled.sessions.iter().filter(|s| s.error.is_some()).count() as u64;
    let audio_secs: f64 = pooled.sessions.iter().map(|s| s.audio_secs).sum();
    let cpu = match (usage_before, usage_after) {
        (Some(a), Some(b)) if audio_secs > 0.0 => Some((b.cpu_secs - a.cpu_secs) / audio_secs),
        _ => None,
    };
    Ok(Report {
        voxlive_version: env!("CARGO_PKG_VERSION").to_string(),
        machine: machine::Machine::this(),
        settings,
        started_at,
        wall_secs,
        audio_secs,
        cpu_per_audio_sec: cpu,
        peak_rss_mb: usage_after.map(|u| u.peak_rss_mb),
        stages: summaries(&pooled.values),
        counters: pooled.counters,
        net_applied: started.net.as_ref().map(net_applied),
        sessions: pooled.sessions,
        turns: pooled.turns,
    })
}
