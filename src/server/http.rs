//! The plain HTTP the server speaks beside the WebSocket upgrade on the same listener: it reads the
//! request head first; `POST .../v1alpha/auth_tokens` (mint an ephemeral token) is answered here, and
//! every other request is handed on to the WebSocket handshake with the bytes already read replayed
//! ([`Replay`]). Heads and bodies are bounded; a malformed request gets a 400 with a reason.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::Shared;
use crate::protocol::CreateAuthToken;

/// A request head longer than this is refused.
pub const MAX_HEAD: usize = 16 << 10;
/// A token request body longer than this is refused.
pub const MAX_BODY: usize = 1 << 20;
/// The path (after any prefix) that mints tokens.
const AUTH_TOKENS: &str = "/v1alpha/auth_tokens";

/// A stream whose first bytes come from `head` (already read), then from `inner`.
pub struct Replay<S> {
    head: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.head[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the head of a request asked for.
pub enum Route<S> {
    /// Anything else: the WebSocket handshake reads it again from this stream.
    Upgrade(Replay<S>),
    /// The token request was answered here.
    Answered,
}

/// Reads the request head; answers a token request, else hands the stream on.
pub async fn route<S>(shared: &Shared, mut stream: S) -> std::io::Result<Route<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            respond(&mut stream, 431, &error_json(431, "the request head is too large")).await?;
            return Ok(Route::Answered);
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            // closed before a whole head: let the handshake report it
            break buf.len();
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let is_token_request = matches!(req.parse(&buf[..head_len]), Ok(httparse::Status::Complete(_)))
        && req.method == Some("POST")
        && req
            .path
            .is_some_and(|p| p.split('?').next().unwrap_or("").ends_with(AUTH_TOKENS));
    if !is_token_request {
        return Ok(Route::Upgrade(Replay {
            head: buf,
            pos: 0,
            inner: stream,
        }));
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let presented = header("x-goog-api-key").map(str::to_string).or_else(|| {
        let query = req.path.and_then(|p| p.split_once('?')).map(|(_, q)| q).unwrap_or("");
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned())
    });
    let (status, body) = match length {
        None => (411, error_json(411, "a Content-Length is required")),
        Some(n) if n > MAX_BODY => (
            413,
            error_json(413, &format!("the body is larger than {MAX_BODY} bytes")),
        ),
        Some(n) => {
            if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
                // curl asks before it sends a larger body
                stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            let mut body = buf[head_len..].to_vec();
            body.truncate(n);
            let mut rest = vec![0u8; n - body.len()];
            stream.read_exact(&mut rest).await?;
            body.extend_from_slice(&rest);
            mint(shared, presented.as_deref(), &body)
        }
    };
    respond(&mut stream, status, &body).await?;
    Ok(Route::Answered)
}

/// Checks the key and mints: the status and JSON body of the answer.
fn mint(shared: &Shared, presented: Option<&str>, body: &[u8]) -> (u16, String) {
    if let Some(expected) = shared.config.api_key.as_deref() {
        let creds = super::handshake::Credentials {
            presented: presented.map(str::to_string),
            ..Default::default()
        };
        if !creds.matches(expected) {
            tracing::info!("refusing a token request: missing or wrong API key");
            return (400, error_json(400, super::handler::BAD_KEY_REASON));
        }
    }
    let request: CreateAuthToken = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return (400, error_json(400, &format!("invalid auth_tokens request: {e}"))),
    };
    match shared.tokens.mint(&request, time::OffsetDateTime::now_utc()) {
        Ok(token) => {
            tracing::info!(uses = token.uses, "minted an ephemeral token");
            (200, serde_json::to_string(&token).unwrap_or_default())
        }
        Err(reason) => (400, error_json(400, &reason)),
    }
}

/// Google's error body: `{"error": {"code", "message", "status"}}`.
fn error_json(code: u16, message: &str) -> String {
    let status = match code {
        400 | 411 | 413 | 431 => "INVALID_ARGUMENT",
        _ => "UNKNOWN",
    };
    serde_json::json!({"error": {"code": code, "message": message, "status": status}}).to_string()
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}
