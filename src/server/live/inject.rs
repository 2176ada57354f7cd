//! Faults injected into a set-up connection (`--faults`): the periodic ones (a drop, a close, a goAway,
//! a malformed or oversized frame) and the abrupt drop a mid-turn fault also uses. Apart from the
//! connection's event loop so that loop reads as what a well-behaved server does.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::protocol::codec::format_duration;
use crate::protocol::{GoAway, ServerMessage};

use super::{Flow, Live};
use crate::server::faults::{PeriodicKind, MALFORMED_FRAME};
use crate::server::handler::{close, send_json, Ws};

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Live<S> {
    /// Injects periodic fault `i`.
    pub(super) async fn inject(&mut self, i: usize) -> Result<Flow, WsError> {
        let kind = self.clock.fire(i);
        tracing::info!(fault = kind.label(), "fault: injecting");
        self.shared.config.fault_counts.add(kind.label());
        match kind {
            PeriodicKind::Drop => {
                drop_abruptly(&mut self.ws).await;
                return Ok(Flow::Stop);
            }
            PeriodicKind::Close { code } => {
                close(&mut self.ws, code, "injected fault").await?;
                return Ok(Flow::Stop);
            }
            PeriodicKind::GoAway { time_left } => {
                if let Some(at) = Instant::now().checked_add(time_left) {
                    self.go_away_deadline.get_or_insert(at);
                }
                self.send(ServerMessage {
                    go_away: Some(GoAway {
                        time_left: format_duration(time_left),
                    }),
                    ..ServerMessage::default()
                })
                .await?;
            }
            PeriodicKind::Malformed => {
                send_json(
                    &mut self.ws,
                    MALFORMED_FRAME.to_string(),
                    self.shared.config.text_frames,
                )
                .await?
            }
            PeriodicKind::Oversized { bytes } => {
                // valid JSON with an unknown field, so a client with a larger limit just ignores it
                let pad = bytes.saturating_sub(16);
                let json = format!("{{\"padding\":\"{}\"}}", "x".repeat(pad));
                send_json(&mut self.ws, json, self.shared.config.text_frames).await?;
                // a client that refuses the frame reads nothing after it: what would follow is kept for the
                // connection that resumes, not sent into a connection the client has given up
                drop_abruptly(&mut self.ws).await;
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

/// Ends the connection without a close frame, as a network failure would, but with a TCP FIN after what
/// was already written (not a reset that could discard it): the client sees an abrupt end and still gets
/// every message sent before it, so what it must replay is exactly what the server did not consume.
pub(in crate::server) async fn drop_abruptly<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = ws.get_mut();
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

/// Sleeps until the next periodic fault is due and says which; never, without one.
pub(super) async fn fault_due(next: Option<(Instant, usize)>) -> usize {
    match next {
        Some((at, i)) => {
            tokio::time::sleep_until(at).await;
            i
        }
        None => std::future::pending().await,
    }
}
