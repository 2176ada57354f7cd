//! One WebSocket to a Live endpoint: connect, send setup, wait for setupComplete. It never reconnects;
//! whoever owns it decides what a lost connection means.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::{CloseInfo, Endpoint, SessionError};
use crate::protocol::{ClientMessage, ServerMessage, Setup};

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The official SDK refuses server messages over 1 MiB; so do we unless told otherwise.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// Limits for one connection; every one is configurable through [`super::SessionOptions`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TCP connect + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// From setup written to setupComplete read.
    pub setup_timeout: Duration,
    /// One message written (a server that stops reading fills the socket buffers, then this fires).
    pub write_timeout: Duration,
    /// Largest server message (and frame) accepted.
    pub max_message_size: usize,
}

/// One set-up connection. Dropping it drops the socket; [`Connection::close`] closes it politely.
pub struct Connection {
    ws: WsStream,
    limits: Limits,
    /// Messages that came with or before setupComplete (a resumption update may come at once).
    pub early: Vec<ServerMessage>,
}

/// What one read from the server gave.
#[derive(Debug)]
pub enum Incoming {
    Message(Box<ServerMessage>),
    /// A frame that is not a valid message (skipped by the caller).
    Malformed(crate::protocol::ProtocolError),
    /// A ping, pong or other control frame: the peer is alive.
    Alive,
    /// The connection ended: a close frame with its code, or an error.
    Ended(SessionError),
}

/// How much tungstenite reads from the socket at once. Its default, 128 KiB, is zeroed before every read
/// attempt, including the ones that find nothing to read, and the session polls the socket on every uplink
/// frame: that memset was 2% of the client's CPU in a live conversation (`perf`). A TLS record holds at most
/// 16 KiB, so a larger read rarely gets more in one call; a longer message takes several reads, as before.
const READ_BUFFER: usize = 16 * 1024;

impl Connection {
    /// Opens the WebSocket and completes the setup handshake, each step within its own limit.
    pub async fn open(endpoint: &Endpoint, setup: &Setup, limits: Limits) -> Result<Connection, SessionError> {
        let request = endpoint.request()?;
        let connector = if endpoint.is_tls() {
            Some(Connector::Rustls(endpoint.tls_config()?))
        } else {
            Some(Connector::Plain)
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(limits.max_message_size);
        config.max_frame_size = Some(limits.max_message_size);
        config.read_buffer_size = READ_BUFFER;
        let open = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
        let (mut ws, _response) = tokio::time::timeout(limits.connect_timeout, open)
            .await
            .map_err(|_| SessionError::ConnectTimeout {
                endpoint: endpoint.to_string(),
                timeout: limits.connect_timeout,
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
                    Some(Ok(Message::Close(frame))) => return Err(close_error(frame)),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(read_error(e)),
                    None => return Err(SessionError::ConnectionLost("closed before setupComplete".into())),
                }
                // A flood before setupComplete must not grow memory without bound.
                if early.len() > MAX_EARLY {
                    return Err(SessionError::TooManyEarly(MAX_EARLY));
                }
            }
        };
        match tokio::time::timeout(limits.setup_timeout, wait).await {
            Ok(Ok(())) => Ok(Connection { ws, limits, early }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SessionError::SetupTimeout(limits.setup_timeout)),
        }
    }

    /// Writes one message within the write limit.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), SessionError> {
        let limit = self.limits.write_timeout;
        match tokio::time::timeout(limit, self.ws.send(Message::text(msg.to_json()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SessionError::ConnectionLost(e.to_string())),
            Err(_) => Err(SessionError::WriteTimeout(limit)),
        }
    }

    /// Sends a WebSocket ping (keep-alive; the pong proves the server is still there).
    pub async fn ping(&mut self) -> Result<(), SessionError> {
        let limit = self.limits.write_timeout;
        match tokio::time::timeout(limit, self.ws.send(Message::Ping(Vec::new().into()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SessionError::ConnectionLost(e.to_string())),
            Err(_) => Err(SessionError::WriteTimeout(limit)),
        }
    }

    /// The next thing the server sent. Cancel-safe (a select! may drop it between frames).
    pub async fn recv(&mut self) -> Incoming {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) => parse(t.as_bytes()),
            Some(Ok(Message::Binary(b))) => parse(&b),
            Some(Ok(Message::Close(frame))) => Incoming::Ended(close_error(frame)),
            Some(Ok(_)) => Incoming::Alive,
            Some(Err(e)) => Incoming::Ended(read_error(e)),
            None => Incoming::Ended(SessionError::ConnectionLost(
                "the server went away without a close frame".into(),
            )),
        }
    }

    /// Closes with 1000 and reads until the server acknowledges (at most `drain`), so the last replies
    /// are not cut off mid-frame.
    pub async fn close(mut self, drain: Duration) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "client closed the session".into(),
        };
        let _ = tokio::time::timeout(self.limits.write_timeout, self.ws.close(Some(frame))).await;
        let wait = async {
            while let Some(Ok(msg)) = self.ws.next().await {
                if let Message::Close(_) = msg {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(drain, wait).await;
    }
}

impl Connection {
    /// Closes with 1000 like [`Connection::close`], but what the server had already written before it saw
    /// the close (the end of a reply, its turnComplete) goes to `leftover` instead of being dropped: the
    /// server hands a resumed connection only what it had not yet sent, so a message in flight on the old
    /// socket exists nowhere else. Found by the long soak: a turnComplete lost this way left a turn waiting
    /// for ever.
    pub async fn close_forwarding(mut self, drain: Duration, leftover: tokio::sync::mpsc::Sender<ServerMessage>) {
        self.send_close().await;
        self.forward_until_closed(drain, leftover).await;
    }

    /// Writes a 1000 close frame (within the write limit); what the server sent before it still arrives.
    pub async fn send_close(&mut self) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "client closed the session".into(),
        };
        let _ = tokio::time::timeout(self.limits.write_timeout, self.ws.close(Some(frame))).await;
    }

    /// After [`Connection::send_close`]: reads what the server wrote before its close, up to `max` messages
    /// and for at most `wait`. Returns them and whether the server's close (or the end of the stream) came.
    pub async fn read_until_closed(&mut self, wait: Duration, max: usize) -> (Vec<ServerMessage>, bool) {
        let mut got = Vec::new();
        let read = async {
            while got.len() < max {
                match self.recv().await {
                    Incoming::Message(m) => got.push(*m),
                    Incoming::Ended(_) => return true,
                    Incoming::Malformed(_) | Incoming::Alive => {}
                }
            }
            false
        };
        let closed = tokio::time::timeout(wait, read).await.unwrap_or(false);
        (got, closed)
    }

    /// After [`Connection::send_close`]: forwards what the server still sends until its close (at most
    /// `drain`).
    pub async fn forward_until_closed(mut self, drain: Duration, leftover: tokio::sync::mpsc::Sender<ServerMessage>) {
        let wait = async {
            loop {
                match self.recv().await {
                    Incoming::Message(m) => {
                        if leftover.send(*m).await.is_err() {
                            break;
                        }
                    }
                    Incoming::Ended(_) => break,
                    Incoming::Malformed(_) | Incoming::Alive => {}
                }
            }
        };
        let _ = tokio::time::timeout(drain, wait).await;
    }
}

/// At most this many server messages may precede setupComplete.
const MAX_EARLY: usize = 64;

fn parse(bytes: &[u8]) -> Incoming {
    match ServerMessage::from_slice(bytes) {
        Ok(m) => Incoming::Message(Box::new(m)),
        Err(e) => Incoming::Malformed(e),
    }
}

fn close_error(frame: Option<CloseFrame>) -> SessionError {
    match frame {
        Some(f) => SessionError::from_close(u16::from(f.code), &f.reason),
        None => SessionError::Closed(CloseInfo {
            code: 1005,
            reason: String::new(),
        }),
    }
}

fn read_error(e: tungstenite::Error) -> SessionError {
    match e {
        tungstenite::Error::Capacity(c) => SessionError::MessageTooBig(c.to_string()),
        other => SessionError::ConnectionLost(other.to_string()),
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
