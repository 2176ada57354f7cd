//! One connection from accept to setupComplete: TLS, the WebSocket handshake (404 for unknown paths), the
//! key check (1008), the first message (must be setup, 1007 otherwise), setup validation against the model's
//! profile (`models::check_setup`: 1008 for an unknown or shut-down model, 1007 for what the model refuses) and resumption
//! (1008 for a handle this server did not issue). Then `live/` runs the conversation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::models::{check_setup, Catalog, SetupRefusal};
use crate::protocol::{ClientMessage, Setup};

use super::faults::Faults;
use super::handshake::{self, Credentials};
use super::live::Live;
use super::sessions::Conversation;
use super::vad_settings::VadSettings;
use super::Shared;

/// The reason the real service gives for a bad key.
pub const BAD_KEY_REASON: &str = "API key not valid. Please pass a valid API key.";

pub type Ws<S> = WebSocketStream<S>;

/// Serves one accepted TCP connection; every failure is logged here, none escapes.
pub async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    // the bench's network conditions (`--net`), under TLS like a real network; none: the socket itself
    let tcp = super::net::Shaped::new(tcp, shared.config.net.as_ref());
    let index = shared.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let faults = shared.config.faults.for_connection(index);
    // held until the connection ends; None: over the limit, closed with a reason after the upgrade
    let slot = Arc::clone(&shared.slots).try_acquire_owned().ok();
    let _slot = slot.as_ref();
    let over_limit = slot.is_none();
    let _active = shared.metrics.connected();
    if over_limit {
        shared
            .metrics
            .connections_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let outcome = match shared.tls.clone() {
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(tls) => connection(shared, tls, faults, over_limit).await,
            Err(e) => {
                tracing::info!(%peer, "TLS handshake failed: {e}");
                return;
            }
        },
        None => connection(shared, tcp, faults, over_limit).await,
    };
    match outcome {
        Ok(()) => tracing::debug!(%peer, "connection ended"),
        Err(e) => tracing::info!(%peer, "connection ended with error: {e}"),
    }
}

/// Why a connection goes no further than its setup.
enum Refusal {
    /// Close with this code and reason.
    Close(u16, String),
    /// The peer closed or went away first: nothing left to say.
    Gone,
    /// The socket failed (boxed: tungstenite's error is large, and this is the rare path).
    Failed(Box<tokio_tungstenite::tungstenite::Error>),
}

impl Refusal {
    /// Ends the connection as the refusal says.
    async fn end<S>(self, ws: &mut Ws<S>) -> Result<(), tokio_tungstenite::tungstenite::Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match self {
            Refusal::Close(code, reason) => close(ws, code, &reason).await,
            Refusal::Gone => Ok(()),
            Refusal::Failed(e) => Err(*e),
        }
    }
}

/// What an admitted connection goes on with: its setup (a token's locked fields applied), the
/// conversation it starts or resumes, and when its token expires.
struct Admitted {
    setup: Setup,
    /// The server's VAD as the setup tunes it; None when the client marks turns itself.
    vad: Option<VadSettings>,
    conversation: Arc<Conversation>,
    token_expires: Option<tokio::time::Instant>,
}

// The handshake closure returns tungstenite's `Callback` error type, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn connection<S>(
    shared: Arc<Shared>,
    stream: S,
    faults: Faults,
    over_limit: bool,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Some((mut ws, creds, headers)) = upgrade(&shared, stream).await? else {
        return Ok(());
    };
    let admitted = match admit(&shared, &mut ws, creds, headers, &faults, over_limit).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.end(&mut ws).await,
    };
    let Admitted {
        setup,
        vad,
        conversation,
        token_expires,
    } = admitted;
    tracing::info!(model = %setup.model_id(), resumed_turns = conversation.turns(), "session set up");
    Live::new(shared, ws, setup, vad, conversation, faults)
        .token_expires(token_expires)
        .run()
        .await
}

/// Everything between the upgrade and setupComplete, in the order the service checks it: the connection
/// limit, the key, the first message (setup), an ephemeral token, the setup against the catalog, and the
/// resumption handle.
async fn admit<S>(
    shared: &Shared,
    ws: &mut Ws<S>,
    creds: Option<Credentials>,
    mut headers: Vec<(String, String)>,
    faults: &Faults,
    over_limit: bool,
) -> Result<Admitted, Refusal>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if over_limit {
        let reason = format!(
            "quota exceeded: too many concurrent connections (limit {}); try again later",
            shared.config.limits.max_connections
        );
        tracing::warn!("{reason}");
        return Err(Refusal::Close(1011, reason));
    }
    // an ephemeral token stands in for the key; it is checked once the setup says new or resumed
    let token = creds.as_ref().and_then(|c| c.token()).map(str::to_string);
    if let (Some(expected), None) = (shared.config.api_key.as_deref(), &token) {
        if !creds.as_ref().is_some_and(|c| c.matches(expected)) {
            tracing::info!("refusing connection: missing or wrong API key");
            return Err(Refusal::Close(1008, BAD_KEY_REASON.to_string()));
        }
    }
    let setup = read_setup(ws, shared.config.limits.setup_timeout).await?;
    let (setup, token_expires) = match &token {
        Some(token) => admit_token(shared, token, setup).map_err(|(code, reason)| {
            tracing::info!("refusing connection: {reason}");
            Refusal::Close(code, reason)
        })?,
        None => (setup, None),
    };
    if let Some(log) = &shared.config.setup_log {
        log.push(super::config::SetupRecord {
            headers: std::mem::take(&mut headers),
            setup: setup.clone(),
        });
    }
    let api_version = creds.as_ref().and_then(|c| c.api_version);
    if let Err((code, reason)) = validate(&setup, api_version) {
        tracing::info!(model = %setup.model, "refusing setup: {reason}");
        return Err(Refusal::Close(code, reason));
    }
    let vertex = creds.as_ref().and_then(|c| c.endpoint) == Some(handshake::Endpoint::Vertex);
    let vad = vad_settings(&setup, vertex)?;
    let conversation = conversation_for(shared, &setup, faults)?;
    Ok(Admitted {
        setup,
        vad,
        conversation,
        token_expires,
    })
}

/// The server's VAD settings for this setup (None in manual activity mode), or the 1007 close for a
/// duration out of range. Checked after the catalog, which refuses unknown sensitivity names.
fn vad_settings(setup: &Setup, vertex: bool) -> Result<Option<VadSettings>, Refusal> {
    match VadSettings::from_setup(setup, vertex) {
        Ok(settings) => Ok((!setup.manual_activity()).then_some(settings)),
        Err(e) => {
            tracing::info!(model = %setup.model, "refusing setup: {e}");
            Err(Refusal::Close(e.code(), close_reason(&e.to_string())))
        }
    }
}

/// Waits for the first message, which must be setup, within the setup limit.
async fn read_setup<S>(ws: &mut Ws<S>, setup_timeout: Duration) -> Result<Setup, Refusal>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = tokio::time::Instant::now() + setup_timeout;
    loop {
        let next = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(next) => next,
            Err(_) => {
                let reason = format!("no setup message within {setup_timeout:?}");
                return Err(Refusal::Close(1008, reason));
            }
        };
        let bytes = match next {
            None | Some(Ok(Message::Close(_))) => return Err(Refusal::Gone),
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(e))) => {
                return Err(Refusal::Close(1009, format!("message too big: {e}")));
            }
            Some(Err(e)) => return Err(Refusal::Failed(Box::new(e))),
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(_)) => continue,
        };
        return match ClientMessage::from_slice(&bytes) {
            Ok(ClientMessage::Setup(setup)) => Ok(*setup),
            Ok(other) => {
                let reason = format!("the first message must be setup, not {}", other.kind());
                Err(Refusal::Close(1007, reason))
            }
            Err(e) => Err(Refusal::Close(1007, format!("invalid setup: {e}"))),
        };
    }
}

/// The conversation this setup continues (its resumption handle, unless the faults refuse it), or a new
/// one.
fn conversation_for(shared: &Shared, setup: &Setup, faults: &Faults) -> Result<Arc<Conversation>, Refusal> {
    match setup.session_resumption.as_ref().and_then(|r| r.handle.as_deref()) {
        Some(handle) => shared
            .sessions
            .resume(handle)
            .filter(|_| !reject_resume(shared, faults))
            .ok_or_else(|| Refusal::Close(1008, "invalid session resumption handle".into())),
        None => {
            shared
                .metrics
                .sessions_started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Arc::new(Conversation::default()))
        }
    }
}

/// Reads the request: a token request is answered over plain HTTP (`None`), anything else goes on to the
/// WebSocket upgrade (404 for unknown paths), each within the setup limit; the WebSocket and the
/// credentials the handshake found.
// The handshake closure returns tungstenite's `Callback` error type, not ours to shrink.
#[allow(clippy::result_large_err)]
/// An upgraded connection: the socket, the credentials its request carried, and its headers when a
/// setup log records them.
type Upgraded<S> = (Ws<super::http::Replay<S>>, Option<Credentials>, Vec<(String, String)>);

// the handshake callback's error type (tungstenite's ErrorResponse) is fixed by its signature
#[allow(clippy::result_large_err)]
async fn upgrade<S>(shared: &Shared, stream: S) -> Result<Option<Upgraded<S>>, tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let limits = shared.config.limits;
    let stream = match tokio::time::timeout(limits.setup_timeout, super::http::route(shared, stream)).await {
        Ok(Ok(super::http::Route::Upgrade(stream))) => stream,
        Ok(Ok(super::http::Route::Answered)) => return Ok(None),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => {
            tracing::info!("closing a connection that did not send a whole request in time");
            return Ok(None);
        }
    };
    let mut creds: Option<Credentials> = None;
    let mut headers = Vec::new();
    let log_headers = shared.config.setup_log.is_some();
    let mut ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    ws_config.max_message_size = Some(limits.max_message_size);
    ws_config.max_frame_size = Some(limits.max_message_size);
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |req: &Request, resp: Response| {
            if log_headers {
                headers = handshake::logged_headers(req);
            }
            handshake::check(req, resp, &mut creds)
        },
        Some(ws_config),
    );
    // a peer that opens TCP and never finishes the upgrade holds a slot only this long
    match tokio::time::timeout(limits.setup_timeout, upgrade).await {
        Ok(ws) => Ok(Some((ws?, creds, headers))),
        Err(_) => {
            tracing::info!("closing a connection that did not finish the WebSocket upgrade in time");
            Ok(None)
        }
    }
}

/// Admits an ephemeral token for this setup (a new session spends a use): the setup with the token's
/// locked fields applied, and when the session must end.
fn admit_token(
    shared: &Shared,
    token: &str,
    setup: Setup,
) -> Result<(Setup, Option<tokio::time::Instant>), (u16, String)> {
    let resuming = setup.session_resumption.as_ref().is_some_and(|r| r.handle.is_some());
    let now = time::OffsetDateTime::now_utc();
    let admitted = shared
        .tokens
        .admit(token, resuming, now)
        .map_err(|reason| (1008, reason))?;
    let left = Duration::try_from(admitted.expires - now).unwrap_or_default();
    let expires = Some(tokio::time::Instant::now() + left);
    match &admitted.locked {
        None => Ok((setup, expires)),
        Some(locked) => Ok((
            super::tokens::apply_lock(&setup, locked).map_err(|r| (1007, r))?,
            expires,
        )),
    }
}

/// Whether the faults refuse this resumption (always, or with their probability, seeded).
fn reject_resume(shared: &Shared, faults: &Faults) -> bool {
    let p = faults.reject_resume_probability;
    let reject = faults.reject_resumption
        || (p > 0.0
            && shared
                .fault_rng
                .lock()
                .map(|mut r| rand::Rng::random::<f64>(&mut *r) < p)
                .unwrap_or(false));
    if reject {
        shared.config.fault_counts.add("reject-resume");
        tracing::info!("fault: refusing a resumption handle");
    }
    reject
}

/// Checks setup against the model's profile (the check the client also runs, `models::check_setup`): the
/// close code and reason when it is refused, the reason already fitted to a close frame.
pub fn validate(setup: &Setup, api_version: Option<&str>) -> Result<(), (u16, String)> {
    match check_setup(Catalog::builtin(), setup, api_version) {
        Ok(_) => Ok(()),
        Err(SetupRefusal::UnknownModel { id, known }) => Err((1008, unknown_model_reason(&id, &known))),
        Err(refusal) => Err((refusal.code(), close_reason(&refusal.to_string()))),
    }
}

/// The longest close reason a control frame holds (125 bytes less the 2-byte code).
pub const MAX_CLOSE_REASON: usize = 123;
const ELLIPSIS: &str = "…";

/// "model X does not exist; known models: a, b, …" with as many whole ids as fit in a close frame; when
/// not even one does (a very long id), "unknown model X; see voxlive models", the id cut if need be.
fn unknown_model_reason(id: &str, known: &[String]) -> String {
    let full = format!("model {id} does not exist; known models: {}", known.join(", "));
    if full.len() <= MAX_CLOSE_REASON {
        return full;
    }
    let mut text = format!("model {id} does not exist; known models: ");
    let mut listed = 0;
    for k in known {
        // room for this id, and for ", …" after it when more follow
        if text.len() + k.len() + ", ".len() + ELLIPSIS.len() > MAX_CLOSE_REASON {
            break;
        }
        text.push_str(k);
        text.push_str(", ");
        listed += 1;
    }
    if listed == 0 {
        return close_reason(&format!("unknown model {id}; see voxlive models"));
    }
    text.push_str(ELLIPSIS);
    text
}

/// A close reason fits in a control frame: at most [`MAX_CLOSE_REASON`] bytes; a longer one is cut at a
/// character boundary and ends with "…", never mid-UTF-8.
pub fn close_reason(text: &str) -> String {
    if text.len() <= MAX_CLOSE_REASON {
        return text.to_string();
    }
    let mut end = MAX_CLOSE_REASON - ELLIPSIS.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &text[..end])
}

/// Sends a close frame, then reads until the peer closes too (at most 2 s) so the frame is not lost to a
/// TCP reset.
pub async fn close<S>(ws: &mut Ws<S>, code: u16, reason: &str) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(code, "closing connection");
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: close_reason(reason).into(),
    };
    ws.close(Some(frame)).await?;
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    Ok(())
}

/// Sends one server message as a binary frame (like the real service) or a text frame.
pub async fn send_json<S>(
    ws: &mut Ws<S>,
    json: String,
    text_frames: bool,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let message = if text_frames {
        Message::text(json)
    } else {
        Message::binary(json.into_bytes())
    };
    ws.send(message).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame_cut_at_a_char_boundary() {
        for len in 0..130 {
            // 2-byte and 3-byte characters after an ASCII prefix of every length: every cut position
            for ch in ["é", "語", "🎙"] {
                let long = format!("{}{}", "a".repeat(len), ch.repeat(80));
                let r = close_reason(&long);
                assert!(r.len() <= MAX_CLOSE_REASON, "{len}: {} bytes", r.len());
                let kept = r.strip_suffix(ELLIPSIS).expect("a cut reason ends with an ellipsis");
                assert!(long.starts_with(kept), "{len}: {r:?}");
            }
        }
        assert_eq!(close_reason("short"), "short", "a short reason is left alone");
    }

    #[test]
    fn unknown_model_is_a_policy_close_listing_whole_ids_that_fit() {
        let setup = Setup {
            model: "models/nope".into(),
            ..Setup::default()
        };
        let (code, reason) = validate(&setup, None).unwrap_err();
        assert_eq!(code, 1008);
        assert!(reason.len() <= MAX_CLOSE_REASON, "{reason}");
        let list = reason
            .strip_prefix("model nope does not exist; known models: ")
            .unwrap_or_else(|| panic!("{reason}"));
        let served = Catalog::builtin().served_ids();
        let ids: Vec<&str> = list.split(", ").filter(|s| *s != ELLIPSIS).collect();
        assert!(!ids.is_empty() && ids.len() < served.len(), "{reason}");
        assert_eq!(ids, served[..ids.len()], "whole ids, in catalog order");
        assert!(reason.ends_with(ELLIPSIS), "{reason}");
    }

    #[test]
    fn an_unknown_model_too_long_to_list_anything_points_to_the_listing() {
        let setup = Setup {
            model: format!("models/{}", "ü".repeat(80)),
            ..Setup::default()
        };
        let (code, reason) = validate(&setup, None).unwrap_err();
        assert_eq!(code, 1008);
        assert!(reason.len() <= MAX_CLOSE_REASON);
        assert!(reason.starts_with("unknown model üü"), "{reason}");
        let short = Setup {
            model: format!("models/{}", "x".repeat(40)),
            ..Setup::default()
        };
        let (_, reason) = validate(&short, None).unwrap_err();
        assert!(reason.contains("known models: gemini-3.8-live"), "{reason}");
    }
}
