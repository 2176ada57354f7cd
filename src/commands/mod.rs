//! The binary's commands, one file each, so `main.rs` holds only the entry point (runtime, logging, exit
//! status) and the dispatch. These are the edge of the program: anyhow errors and plain output live here,
//! the library's typed errors and the work itself in `voxlive::*`.

pub mod bench;
pub mod chat;
pub mod live;
pub mod saved;
pub mod serve;
pub mod sessions;
pub mod talk;
pub mod token;

use anyhow::{Context, Result};
use voxlive::config::Config;

/// Runs a session command, then writes `--metrics FILE` whether it succeeded or not.
pub async fn with_metrics(
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

/// The warnings found while resolving the configuration (an unknown model or voice), once, before the
/// command starts.
pub fn warn_config(config: &Config) {
    for w in &config.warnings {
        eprintln!("voxlive: warning: {w}");
    }
}
