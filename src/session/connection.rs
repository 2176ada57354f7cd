//! One WebSocket to a Live endpoint: connect, send setup, wait for setupComplete. It never reconnects;
//! whoever owns it decides what a lost connection means.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::{Endpoint, SessionError};
use crate::protocol::{ClientMessage, ServerMessage, Setup};

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket and completes the setup handshake within `timeout` (both steps together).
/// Messages that arrive with or before setupComplete (the server may send a resumption update at once)
/// are returned so nothing is lost.
pub async fn connect(
    endpoint: &Endpoint,
    setup: &Setup,
    timeout: Duration,
) -> Result<(WsStream, Vec<ServerMessage>), SessionError> {
    let request = endpoint.request()?;
    let connector = if endpoint.is_tls() {
        Some(Connector::Rustls(endpoint.tls_config()?))
    } else {
        Some(Connector::Plain)
    };
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(64 << 20);
    let open = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    let (mut ws, _response) = tokio::time::timeout(timeout, open)
        .await
        .map_err(|_| SessionError::Unreachable {
            endpoint: endpoint.to_string(),
            detail: format!("no answer within {timeout:?}"),
        })?
        .map_err(|e| handshake_error(endpoint, e))?;

    let setup_msg = ClientMessage::Setup(Box::new(setup.clone()));
    ws.send(Message::text(setup_msg.to_json()))
        .await
        .map_err(|e| SessionError::ConnectionLost(e.to_string()))?;

    let mut early = Vec::new();
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let msg = ServerMessage::from_slice(t.as_bytes())?;
                    if take_setup_complete(msg, &mut early) {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    let msg = ServerMessage::from_slice(&b)?;
                    if take_setup_complete(msg, &mut early) {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(SessionError::from_close(code, &reason));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(SessionError::ConnectionLost(e.to_string())),
                None => return Err(SessionError::ConnectionLost("closed before setupComplete".into())),
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(())) => Ok((ws, early)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(SessionError::SetupTimeout(timeout)),
    }
}

/// Keeps what came with setupComplete; true once it has arrived.
fn take_setup_complete(mut msg: ServerMessage, early: &mut Vec<ServerMessage>) -> bool {
    let done = msg.setup_complete.take().is_some();
    if msg != ServerMessage::default() {
        early.push(msg);
    }
    done
}

fn handshake_error(endpoint: &Endpoint, e: tungstenite::Error) -> SessionError {
    let endpoint_text = endpoint.to_string();
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).chars().take(200).collect::<String>())
                .unwrap_or_default();
            match status {
                401 | 403 => SessionError::Auth(format!("HTTP {status} {body}").trim().to_string()),
                404 => SessionError::HandshakeRefused {
                    endpoint: endpoint_text,
                    status,
                    detail: "HTTP 404: no Live API at this URL (check --endpoint and --api-version)".into(),
                },
                _ => SessionError::HandshakeRefused {
                    endpoint: endpoint_text,
                    status,
                    detail: format!("HTTP {status} {body}").trim().to_string(),
                },
            }
        }
        // rustls reports certificate problems through the I/O error of the TLS stream.
        tungstenite::Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => SessionError::Tls(
            format!("{io} (for a local `voxlive serve --tls`, pass its certificate with --ca-cert)"),
        ),
        tungstenite::Error::Io(io) => SessionError::Unreachable {
            endpoint: endpoint_text,
            detail: io.to_string(),
        },
        tungstenite::Error::Tls(t) => SessionError::Tls(t.to_string()),
        tungstenite::Error::Url(u) => SessionError::InvalidEndpoint(u.to_string()),
        other => SessionError::ConnectionLost(other.to_string()),
    }
}
