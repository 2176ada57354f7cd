//! `voxlive bench`: the flags checked before minutes of benchmarking, the bench run, the reports written.

use std::time::Duration;

use anyhow::Result;
use voxlive::bench::{self, report, BenchOptions, Report, Target};
use voxlive::cli::BenchArgs;
use voxlive::config::{Config, Target as ConfigTarget};
use voxlive::conversation::{TalkMode, VadSource};

use super::warn_config;

/// Runs the bench and prints its table; `--json`, `--csv`, `--svg` and `--compare` as asked.
pub async fn run_bench(config: &Config, args: BenchArgs) -> Result<()> {
    warn_config(config);
    let target = bench_target(config, &args)?;
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
    write_reports(&args, &report, old.as_ref())
}

/// Where the sessions go, with `--net` and `--reply-delay` checked: they shape the embedded server only.
fn bench_target(config: &Config, args: &BenchArgs) -> Result<Target> {
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
    Ok(match &config.target {
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
fn write_reports(args: &BenchArgs, report: &Report, old: Option<&Report>) -> Result<()> {
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
        print!("{}", bench::compare::compare(old, report));
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
