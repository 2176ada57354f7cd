//! `voxlive bench`: the flags checked before minutes of benchmarking, the bench run, the reports written.

use std::time::Duration;

use std::path::Path;

use anyhow::Result;
use voxlive::bench::{self, report, BenchOptions, Report, Target};
use voxlive::cli::{BenchArgs, CommonArgs};
use voxlive::config::{Config, Target as ConfigTarget};
use voxlive::conversation::{TalkMode, VadSource};
use voxlive::session::GEMINI_BASE_URL;

use super::warn_config;

/// Runs the bench and prints its table; `--json`, `--csv`, `--svg` and `--compare` as asked. Exits with an
/// error when any session failed, after the reports are written.
pub async fn run_bench(config: &Config, common: &CommonArgs, args: BenchArgs) -> Result<()> {
    warn_config(config);
    let target = bench_target(config, common, &args)?;
    if config.modality == voxlive::protocol::Modality::Text {
        anyhow::bail!(
            "bench times spoken replies (the first reply byte, the first sample heard): drop --modality text"
        );
    }
    let talking = config.talking(&args.talking, None, TalkMode::HandsFree(VadSource::Server));
    if let Some(w) = talking.ignored_tuning() {
        eprintln!("voxlive: warning: {w}");
    }
    // the old report and the output paths first: a bad one is an error before minutes of benchmarking
    let old = args.compare.as_deref().map(bench::compare::read_old).transpose()?;
    for path in [&args.json, &args.csv, &args.svg].into_iter().flatten() {
        writable(path)?;
    }
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
    write_reports(&args, &report, old.as_ref())?;
    let failed = report.settings.failed_sessions;
    if failed > 0 {
        let first = report
            .sessions
            .iter()
            .find_map(|s| s.error.as_deref())
            .unwrap_or_default();
        let total = report.sessions.len();
        let figures = if failed as usize >= total {
            "the figures above are what it measured before failing"
        } else {
            "the figures above include what the failed ones measured before failing"
        };
        anyhow::bail!("{failed} of {total} sessions failed (the first: {first}); {figures}");
    }
    Ok(())
}

/// Fails unless `path` can be written: its folder exists and a file can be created there (tried and,
/// if it was not there before, removed again).
fn writable(path: &Path) -> Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report there: {e}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Where the sessions go, with `--net` and `--reply-delay` checked: they shape the embedded server only.
/// The embedded server unless `--endpoint` or `--vertex` names another, or the config file names a host
/// other than Google's (a config file's Google URL is what a key alone would give): an API key in the
/// environment does not send a benchmark to the real, billed service.
fn bench_target(config: &Config, common: &CommonArgs, args: &BenchArgs) -> Result<Target> {
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
    let only_by_key = matches!(&config.target, ConfigTarget::Remote(e) if common.endpoint.is_none()
        && !common.access.vertex
        && e.ws_url().host_str() == url::Url::parse(GEMINI_BASE_URL).ok().as_ref().and_then(|u| u.host_str()));
    if only_by_key {
        eprintln!(
            "voxlive: bench runs against the embedded server; give --endpoint {GEMINI_BASE_URL} to bench the real service"
        );
    }
    Ok(match &config.target {
        _ if only_by_key => Target::Embedded {
            net,
            reply_delay,
            api_version: config.api_version,
        },
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
    })
}

/// The table on stdout, the files the flags name, and the comparison with `--compare OLD.json`.
fn write_reports(args: &BenchArgs, report: &Report, old: Option<&serde_json::Value>) -> Result<()> {
    print!("{}", report::table::to_table(report));
    if let Some(path) = &args.json {
        report::write(path, &report::json::to_json(report))?;
    }
    if let Some(path) = &args.csv {
        report::write(path, &report::csv::to_csv(report))?;
    }
    if let Some(path) = &args.svg {
        report::write(path, &report::svg::to_svg(report))?;
    }
    if let Some(old) = old {
        println!(
            "\ncompared with {}:",
            args.compare.as_deref().unwrap_or(std::path::Path::new("")).display()
        );
        print!("{}", bench::compare::compare_old(old, report));
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
