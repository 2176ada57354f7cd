//! The embedded Live server: speaks the server side of ../shared/protocol.md over ws or wss on loopback.
//!
//! It is voxlive's offline default endpoint, the target of the integration tests and a fault injector.
//! [`run`] serves connections from a listener until a shutdown future resolves (library code, like
//! mini-redis' `server::run`); [`spawn`] binds, runs it on tokio and returns a [`ServerHandle`].
//!
//! - `handshake.rs`: which paths exist (others get HTTP 404) and where the key or token is read from.
//! - `handler.rs`: one connection up to setupComplete: key check, setup validation, resumption.
//! - `live/`: the set-up connection: client messages in, paced replies out, barge-in, faults.
//! - `turns.rs`: user audio in, turn ends out (activityEnd, audioStreamEnd, or its own VAD: `vad.rs`,
//!   tuned by the setup's automaticActivityDetection in `vad_settings.rs`).
//! - `reply.rs`: what a responder answers, rendered into wire messages; `usage.rs` counts its tokens.
//! - `responder/`: Echo and Scripted, behind the [`Responder`] trait.
//! - `http.rs`: plain HTTP beside the upgrade: `POST /v1alpha/auth_tokens` mints an ephemeral token.
//! - `tokens.rs`: minted tokens (uses, expiry, locked setup) admitted on the Constrained path.
//! - `sessions.rs`: resumption handles and the conversation state they continue.
//! - `faults.rs`: injected failures; `tls.rs`: the generated certificate and the rustls acceptor.
//! - `net.rs`: network conditions on what the server sends (delay, jitter, loss, bursts: `bench --net`).

mod config;
pub mod faults;
mod handler;
mod handshake;
mod http;
pub mod images;
mod limits;
mod live;
pub mod metrics;
pub mod net;
pub mod reply;
pub mod responder;
mod sessions;
pub mod tls;
pub mod tokens;
mod tool_calls;
mod turns;
mod usage;
mod vad;
mod vad_settings;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

pub use config::{MessageLog, ResponderFactory, ResponderKind, ServerConfig, ServerLimits, SetupLog, SetupRecord};
pub use faults::{CloseMidTurn, FaultCounts, FaultSpecError, Faults, Periodic, PeriodicKind};
pub use net::{NetShape, NetSpecError};
pub use reply::{Reply, ReplyPart, UserTurn};
pub use responder::echo::echo_reply_samples;
pub use responder::scripted::{ScriptError, ScriptedResponder};
pub use responder::Responder;
pub use tls::TlsIdentity;

/// Where the server listens unless told otherwise: loopback only, any free port. Never reachable from
/// outside the machine unless a caller binds another address on purpose.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0));

/// How long open connections get to close cleanly when the server stops.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Why the server could not start or stopped. Per-connection failures are logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or accepting failed (address in use, no permission). Retrying helps only with another address.
    #[error("server socket error")]
    Io(#[from] std::io::Error),
    /// The TLS certificate could not be generated or loaded. Not retryable.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The scripted responder's script is invalid. Not retryable: fix the file.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The server task ended abnormally (panicked or was cancelled).
    #[error("server task failed: {0}")]
    Task(String),
}

/// State shared by every connection of one server.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub sessions: sessions::Sessions,
    pub tokens: tokens::Tokens,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub connections: std::sync::atomic::AtomicU32,
    /// Turns true when the server stops: set-up connections close with 1001.
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// When the server started: scheduled faults count from here.
    pub origin: tokio::time::Instant,
    /// Every random draw of the faults, seeded by `--faults seed=N` for repeatable runs.
    pub fault_rng: Arc<std::sync::Mutex<rand::rngs::StdRng>>,
    /// One permit per connection served at once.
    pub slots: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<metrics::ServerMetrics>,
}

/// Serves WebSocket connections from `listener` until `shutdown` resolves; set-up connections are then
/// closed with 1001 "server shutting down" (those still in the handshake are dropped).
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    run_counted(listener, config, Default::default(), shutdown).await
}

/// [`run`], counting into `metrics`.
pub async fn run_counted(
    listener: TcpListener,
    config: ServerConfig,
    metrics: Arc<metrics::ServerMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let tls = match &config.tls {
        Some(identity) => Some(identity.acceptor()?),
        None => None,
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let seed = config.faults.seed.unwrap_or_else(rand::random);
    let fault_rng = Arc::new(std::sync::Mutex::new(
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
    ));
    let shared = Arc::new(Shared {
        sessions: sessions::Sessions::default(),
        tokens: tokens::Tokens::default(),
        tls,
        connections: std::sync::atomic::AtomicU32::new(0),
        stop,
        origin: tokio::time::Instant::now(),
        fault_rng,
        slots: Arc::new(tokio::sync::Semaphore::new(config.limits.max_connections.max(1))),
        metrics,
        config,
    });
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Accept errors are per connection (e.g. too many open files); keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tasks.spawn(handler::serve(Arc::clone(&shared), stream, peer));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("embedded server shutting down");
    // Set-up connections close with 1001; whatever has not finished after a grace period is dropped.
    let _ = stop_tx.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
    tasks.shutdown().await;
    Ok(())
}

/// Binds `addr`, runs the server on tokio and returns a handle. Use `127.0.0.1:0` for a free port.
pub async fn spawn(config: ServerConfig, addr: SocketAddr) -> Result<ServerHandle, ServerError> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let cert_pem = config.tls.as_ref().map(|t| t.cert_pem().to_string());
    // Build the acceptor now so a TLS error is reported here, not inside the task.
    if let Some(identity) = &config.tls {
        identity.acceptor()?;
    }
    let (tx, rx) = oneshot::channel::<()>();
    let metrics: Arc<metrics::ServerMetrics> = Default::default();
    let task = tokio::spawn(run_counted(listener, config, metrics.clone(), async move {
        let _ = rx.await;
    }));
    tracing::info!(%local_addr, tls = cert_pem.is_some(), "embedded Live server listening");
    Ok(ServerHandle {
        local_addr,
        metrics,
        cert_pem,
        stop: Some(tx),
        task: Some(task),
    })
}

/// A running server. Dropping it stops the server; [`ServerHandle::shutdown`] stops it and waits.
pub struct ServerHandle {
    local_addr: SocketAddr,
    metrics: Arc<metrics::ServerMetrics>,
    cert_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the server has counted so far.
    pub fn metrics(&self) -> &Arc<metrics::ServerMetrics> {
        &self.metrics
    }

    /// `ws://127.0.0.1:PORT`, or `wss://...` with TLS; clients append `/ws/...` as the SDKs do.
    pub fn base_url(&self) -> String {
        let scheme = if self.cert_pem.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The full v1beta endpoint URL (no key in it).
    pub fn endpoint_url(&self) -> String {
        format!(
            "{}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
            self.base_url()
        )
    }

    /// The PEM of the self-signed certificate when serving wss.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Writes the certificate PEM to `path` (for SSL_CERT_FILE or a client root store).
    pub fn write_cert_pem(&self, path: &std::path::Path) -> Result<(), ServerError> {
        let pem = self
            .cert_pem
            .as_deref()
            .ok_or_else(|| ServerError::Tls("server is not using TLS".into()))?;
        std::fs::write(path, pem)?;
        Ok(())
    }

    /// Stops accepting, closes open connections (1001) and waits for the server task.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| ServerError::Task(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
