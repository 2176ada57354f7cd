//! `voxlive serve`: the embedded Live server as a process of its own, until Ctrl-C; optionally with TLS,
//! injected faults and Prometheus metrics.

use anyhow::{Context, Result};
use voxlive::cli::{CommonArgs, ServeArgs};
use voxlive::server::{FaultCounts, ResponderKind, ScriptedResponder, ServerConfig, ServerHandle};

/// Serves until Ctrl-C, then shuts down and says which faults were injected.
pub async fn serve(common: &CommonArgs, args: ServeArgs) -> Result<()> {
    let api_key = server_key(common)?;
    if let Some(key) = &api_key {
        voxlive::redact::register(key);
    }
    if args.addr.ip().is_unspecified() {
        eprintln!(
            "voxlive: warning: serving on {} makes the server reachable from other machines; use 127.0.0.1 unless that is what you want",
            args.addr
        );
    }
    let mut config = server_config(&args, api_key)?;
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
        Some(addr) => Some(serve_metrics(addr, &handle, &counts).await?),
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

/// The key clients must present (`--api-key-env VAR`); none is checked without the flag.
fn server_key(common: &CommonArgs) -> Result<Option<String>> {
    let Some(var) = common.api_key_env.as_deref() else {
        return Ok(None);
    };
    let key = std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .with_context(|| format!("--api-key-env {var}: the variable is not set or empty"))?;
    Ok(Some(key))
}

/// The server the flags describe: its responder (`echo` or `script:FILE`), pacing and faults.
fn server_config(args: &ServeArgs, api_key: Option<String>) -> Result<ServerConfig> {
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
    Ok(ServerConfig {
        api_key,
        responder,
        pace_replies: !args.no_pacing,
        faults,
        ..ServerConfig::default()
    })
}

/// `--metrics-addr`: the server's counters in Prometheus' text format, on a listener of their own.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    handle: &ServerHandle,
    counts: &FaultCounts,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-addr {addr}"))?;
    eprintln!(
        "voxlive: Prometheus metrics at http://{}/metrics",
        listener.local_addr()?
    );
    Ok(tokio::spawn(voxlive::server::metrics::serve_prometheus(
        listener,
        handle.metrics().clone(),
        counts.clone(),
    )))
}
