//! What the embedded server counts, and `serve --metrics-addr` serving it as Prometheus text over a
//! minimal HTTP/1.1 responder (any request gets the metrics; requests are read with a size and time
//! bound, so a scraper that never finishes costs nothing).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::faults::FaultCounts;

#[derive(Debug, Default)]
pub struct ServerMetrics {
    pub connections_total: AtomicU64,
    pub connections_active: AtomicU64,
    /// Closed at once because the connection limit was reached.
    pub connections_refused: AtomicU64,
    pub sessions_started: AtomicU64,
    pub sessions_resumed: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
}

/// Decrements the active count when a connection ends, however it ends.
pub struct Active(Arc<ServerMetrics>);

impl ServerMetrics {
    pub fn connected(self: &Arc<Self>) -> Active {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_active.fetch_add(1, Ordering::Relaxed);
        Active(Arc::clone(self))
    }

    /// The Prometheus text exposition of these counters and the injected faults.
    pub fn prometheus(&self, faults: &FaultCounts) -> String {
        let mut out = String::new();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "voxlive_connections_total",
                "counter",
                "WebSocket connections accepted",
                g(&self.connections_total),
            ),
            (
                "voxlive_connections_active",
                "gauge",
                "connections open now",
                g(&self.connections_active),
            ),
            (
                "voxlive_connections_refused_total",
                "counter",
                "connections over the limit",
                g(&self.connections_refused),
            ),
            (
                "voxlive_sessions_started_total",
                "counter",
                "fresh sessions set up",
                g(&self.sessions_started),
            ),
            (
                "voxlive_sessions_resumed_total",
                "counter",
                "connections that resumed a session",
                g(&self.sessions_resumed),
            ),
            (
                "voxlive_messages_received_total",
                "counter",
                "client messages consumed",
                g(&self.messages_received),
            ),
            (
                "voxlive_messages_sent_total",
                "counter",
                "server messages sent",
                g(&self.messages_sent),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP voxlive_faults_injected_total faults injected, by kind\n# TYPE voxlive_faults_injected_total counter"
        );
        for label in FaultCounts::LABELS {
            let _ = writeln!(
                out,
                "voxlive_faults_injected_total{{kind=\"{label}\"}} {}",
                faults.get(label)
            );
        }
        out
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.connections_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Largest request read from a scraper.
const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers every HTTP request on `listener` with the metrics, until the task is dropped.
pub async fn serve_prometheus(listener: TcpListener, metrics: Arc<ServerMetrics>, faults: FaultCounts) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let body = metrics.prometheus(&faults);
        tokio::spawn(async move {
            let read = async {
                let mut buf = vec![0u8; MAX_REQUEST];
                let mut len = 0;
                while len < buf.len() {
                    match stream.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, read).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, stream.write_all(response.as_bytes())).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_counter_and_fault_kind() {
        let m = Arc::new(ServerMetrics::default());
        let active = m.connected();
        let faults = FaultCounts::default();
        faults.add("drop");
        let text = m.prometheus(&faults);
        assert!(text.contains("voxlive_connections_total 1\n"));
        assert!(text.contains("voxlive_connections_active 1\n"));
        assert!(text.contains("voxlive_faults_injected_total{kind=\"drop\"} 1\n"));
        drop(active);
        assert!(m.prometheus(&faults).contains("voxlive_connections_active 0\n"));
    }
}
