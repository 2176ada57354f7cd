//! A hostile server against the session client: absurd values, floods, oversized frames, silence and a
//! server that stops reading. Each case ends in a typed error or a clamp, within the client's limits,
//! never a panic or a hang.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use voxlive::protocol::{ClientMessage, Modality};
use voxlive::session::{self, ApiVersion, Credential, Endpoint, Event, Events, SessionError, SessionOptions};

use crate::util::setup;

type Ws = WebSocketStream<TcpStream>;

/// Hang guard only: each case ends far sooner.
const GUARD: Duration = Duration::from_secs(20);

/// Serves every connection with `behave` on 127.0.0.1:0; returns client options for it.
async fn hostile<F, Fut>(behave: F) -> SessionOptions
where
    F: Fn(Ws) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let behave = std::sync::Arc::new(behave);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let behave = behave.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    behave(ws).await;
                }
            });
        }
    });
    let endpoint = Endpoint::new(&format!("ws://{addr}"), ApiVersion::V1beta, Credential::None).unwrap();
    let mut o = SessionOptions::new(endpoint, setup(Modality::Audio, true));
    o.setup_timeout = Duration::from_millis(500);
    o.reconnect = false;
    o
}

/// Connections made to a [`by_connection`] server, and the text frames its behaviour chose to record.
struct Recorded {
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    got: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Recorded {
    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The next recorded frame, parsed.
    async fn next_message(&mut self) -> ClientMessage {
        let text = tokio::time::timeout(GUARD, self.got.recv()).await.unwrap().unwrap();
        ClientMessage::from_slice(text.as_bytes()).unwrap()
    }
}

/// A hostile server that behaves by the connection's number (0 first), reconnects on; `behave` gets a
/// sender for the frames it wants the test to see.
async fn by_connection<F, Fut>(behave: F) -> (SessionOptions, Recorded)
where
    F: Fn(usize, Ws, tokio::sync::mpsc::UnboundedSender<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (got_tx, got) = tokio::sync::mpsc::unbounded_channel::<String>();
    let seen = connections.clone();
    let mut options = hostile(move |ws| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        behave(n, ws, got_tx.clone())
    })
    .await;
    options.reconnect = true;
    (options, Recorded { connections, got })
}

/// Reads the setup message, then says setupComplete.
async fn handshake(ws: &mut Ws) {
    let _ = ws.next().await;
    let _ = ws.send(Message::text(json!({"setupComplete": {}}).to_string())).await;
}

async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(GUARD, events.recv())
        .await
        .expect("an event in time (hang guard)")
        .expect("an event")
}

async fn until_closed(events: &mut Events) -> (Vec<Event>, String) {
    let mut seen = Vec::new();
    loop {
        match next(events).await {
            Event::Closed { reason, .. } => return (seen, reason),
            other => seen.push(other),
        }
    }
}

#[tokio::test]
async fn a_flood_before_setup_complete_is_refused() {
    let options = hostile(|mut ws| async move {
        let _ = ws.next().await;
        for _ in 0..1000 {
            if ws
                .send(Message::text(
                    json!({"serverContent": {"turnComplete": true}}).to_string(),
                ))
                .await
                .is_err()
            {
                return;
            }
        }
    })
    .await;
    let err = session::start(options).await.err().expect("refused");
    assert!(matches!(err, SessionError::TooManyEarly(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_completes_setup_is_a_setup_timeout() {
    let options = hostile(|mut ws| async move { while ws.next().await.is_some() {} }).await;
    let err = session::start(options).await.err().expect("times out");
    assert!(matches!(err, SessionError::SetupTimeout(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_oversized_frame_is_a_typed_error() {
    let options = hostile(|mut ws| async move {
        handshake(&mut ws).await;
        let big = format!("{{\"padding\":\"{}\"}}", "x".repeat(2 << 20));
        let _ = ws.send(Message::text(big)).await;
        while ws.next().await.is_some() {}
    })
    .await;
    let (_s, mut events) = session::start(options).await.unwrap();
    let (_, reason) = until_closed(&mut events).await;
    assert!(reason.contains("size limit"), "{reason}");
}

#[tokio::test]
async fn absurd_numbers_from_the_server_are_clamped_or_ignored() {
    let options = hostile(|mut ws| async move {
        handshake(&mut ws).await;
        let pcm = voxlive::protocol::codec::encode_base64(&[1, 0, 2, 0]);
        for msg in [
            json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=0", "data": pcm}}]}}}),
            json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=4294967295", "data": pcm}}]}}}),
            json!({"sessionResumptionUpdate": {"newHandle": "h".repeat(100_000), "resumable": true, "lastConsumedClientMessageIndex": "-9223372036854775808"}}),
            json!({"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "99999999999999999999"}}),
            json!({"goAway": {"timeLeft": "1e300s"}}),
            json!({"usageMetadata": {"totalTokenCount": 4294967295u64}}),
            json!({"serverContent": {"turnComplete": true}}),
        ] {
            let _ = ws.send(Message::text(msg.to_string())).await;
        }
        while ws.next().await.is_some() {}
    })
    .await;
    let (s, mut events) = session::start(options).await.unwrap();
    let mut rates = Vec::new();
    let mut go_away = None;
    loop {
        match next(&mut events).await {
            Event::Audio { rate, .. } => rates.push(rate),
            Event::GoAway { time_left } => go_away = Some(time_left),
            Event::TurnComplete { .. } => break,
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    assert_eq!(rates, [24_000, 24_000], "absurd rates fall back to 24 kHz");
    assert_eq!(go_away, Some(None), "an absurd timeLeft is not believed");
    s.close().await;
}

#[tokio::test]
async fn a_server_that_goes_silent_is_an_idle_timeout() {
    let mut options = hostile(|mut ws| async move {
        handshake(&mut ws).await;
        // never reads again: no pongs, no replies
        std::future::pending::<()>().await;
        drop(ws);
    })
    .await;
    options.ping_interval = Duration::from_millis(50);
    options.idle_timeout = Duration::from_millis(300);
    let (_s, mut events) = session::start(options).await.unwrap();
    let (_, reason) = until_closed(&mut events).await;
    assert!(reason.contains("sent nothing"), "{reason}");
}

#[tokio::test]
async fn a_server_that_stops_reading_is_a_write_timeout() {
    let mut options = hostile(|mut ws| async move {
        handshake(&mut ws).await;
        std::future::pending::<()>().await;
        drop(ws);
    })
    .await;
    options.write_timeout = Duration::from_millis(300);
    options.idle_timeout = Duration::from_secs(600);
    let (s, mut events) = session::start(options).await.unwrap();
    // typed turns are must-deliver (a single audio message longer than the outage bound would just be
    // dropped): 100 x 400 kB, far beyond what the socket buffers hold
    let big = "x".repeat(400_000);
    let keep = s.clone();
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            if s.send(ClientMessage::user_text(big.clone())).await.is_err() {
                break;
            }
        }
    });
    let (_, reason) = until_closed(&mut events).await;
    assert!(reason.contains("stopped reading"), "{reason}");
    writer.abort();
    drop(keep);
}

#[tokio::test]
async fn go_away_then_silence_mid_reply_switches_at_the_deadline() {
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    let mut options = hostile(move |mut ws| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            handshake(&mut ws).await;
            if n == 0 {
                // a reply starts, goAway arrives, then the old connection goes silent: no turn boundary
                let pcm = voxlive::protocol::codec::encode_base64(&[1, 0, 2, 0]);
                let chunk = json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": pcm}}]}}});
                let _ = ws.send(Message::text(chunk.to_string())).await;
                let _ = ws.send(Message::text(json!({"goAway": {"timeLeft": "1.5s"}}).to_string())).await;
                std::future::pending::<()>().await;
            } else {
                let done = json!({"serverContent": {"turnComplete": true}});
                let _ = ws.send(Message::text(done.to_string())).await;
                while ws.next().await.is_some() {}
            }
        }
    })
    .await;
    options.reconnect = true;
    let (s, mut events) = session::start(options).await.unwrap();
    let mut order = Vec::new();
    loop {
        match next(&mut events).await {
            Event::Audio { .. } => order.push("audio"),
            Event::GoAway { .. } => order.push("goaway"),
            Event::Resumed { downtime, .. } => {
                assert_eq!(downtime, None, "made before break");
                order.push("resumed");
            }
            Event::TurnComplete { .. } => break,
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    assert_eq!(order, ["audio", "goaway", "resumed"]);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    s.close().await;
}

#[tokio::test]
async fn what_the_server_did_not_acknowledge_is_replayed_after_the_reconnect() {
    let (options, mut recorded) = by_connection(|n, mut ws, got| async move {
        if n == 0 {
            handshake(&mut ws).await;
            // acknowledge the first message only, read the second, then fail
            let _ = ws.next().await;
            let ack = json!({"sessionResumptionUpdate": {"newHandle": "h1", "resumable": true, "lastConsumedClientMessageIndex": "0"}});
            let _ = ws.send(Message::text(ack.to_string())).await;
            let _ = ws.next().await;
            let _ = ws
                .send(Message::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: 1011u16.into(),
                    reason: "internal error".into(),
                })))
                .await;
        } else {
            // the setup first (it must carry the handle), then everything else
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                let _ = got.send(t.to_string());
            }
            let _ = ws.send(Message::text(json!({"setupComplete": {}}).to_string())).await;
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let _ = got.send(t.to_string());
            }
        }
    })
    .await;
    let (s, mut events) = session::start(options).await.unwrap();
    s.send_text_turn("first").await.unwrap();
    s.send_text_turn("second").await.unwrap();
    loop {
        if let Event::Resumed { replayed, .. } = next(&mut events).await {
            assert_eq!(replayed, 1, "only the unacknowledged message");
            break;
        }
    }
    match recorded.next_message().await {
        ClientMessage::Setup(s) => assert_eq!(s.session_resumption.and_then(|r| r.handle).as_deref(), Some("h1")),
        other => panic!("expected setup, got {other:?}"),
    }
    assert_eq!(recorded.next_message().await, ClientMessage::user_text("second"));
    s.send_text_turn("third").await.unwrap();
    assert_eq!(recorded.next_message().await, ClientMessage::user_text("third"));
    assert_eq!(recorded.connections(), 2);
    s.close().await;
}

#[tokio::test]
async fn an_acknowledgement_still_in_flight_at_a_go_away_switch_is_not_replayed() {
    // Found by the 1200-turn soak (2 of 3600 messages consumed twice): a goAway whose deadline is already
    // due switches at once, while the acknowledgement of the last message is still on its way. That
    // acknowledgement must count, so the message is not written again on the next connection.
    let (options, mut recorded) = by_connection(|n, mut ws, got| async move {
        handshake(&mut ws).await;
        if n == 0 {
            // consume the first message, say goAway with no time left, acknowledge a moment later
            let _ = ws.next().await;
            let _ = ws.send(Message::text(json!({"goAway": {"timeLeft": "0s"}}).to_string())).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let ack = json!({"sessionResumptionUpdate": {"newHandle": "h1", "resumable": true, "lastConsumedClientMessageIndex": "0"}});
            let _ = ws.send(Message::text(ack.to_string())).await;
            // then answer the client's close
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Close(_) = m {
                    let _ = ws.close(None).await;
                    break;
                }
            }
        } else {
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let _ = got.send(t.to_string());
            }
        }
    })
    .await;
    let (s, mut events) = session::start(options).await.unwrap();
    s.send_text_turn("first").await.unwrap();
    loop {
        match next(&mut events).await {
            Event::Resumed { replayed, .. } => {
                assert_eq!(replayed, 0, "the acknowledged message is not replayed");
                break;
            }
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    s.send_text_turn("after").await.unwrap();
    assert_eq!(recorded.next_message().await, ClientMessage::user_text("after"));
    assert_eq!(recorded.connections(), 2);
    s.close().await;
}

#[tokio::test]
async fn audio_captured_while_reconnecting_is_sent_after_the_resume() {
    // the first connection fails at once; the next one takes its time to set up, and the microphone goes
    // on meanwhile: that audio waits in the outage buffer (up to 5 s) and goes up, in order, once resumed
    let (options, mut recorded) = by_connection(|n, mut ws, got| async move {
        if n == 0 {
            handshake(&mut ws).await;
            let _ = ws.next().await;
            let _ = ws
                .send(Message::Close(Some(
                    tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: 1011u16.into(),
                        reason: "internal error".into(),
                    },
                )))
                .await;
        } else {
            let _ = ws.next().await; // the setup
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = ws.send(Message::text(json!({"setupComplete": {}}).to_string())).await;
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let _ = got.send(t.to_string());
            }
        }
    })
    .await;
    let (s, mut events) = session::start(options).await.unwrap();
    s.send_text_turn("hello").await.unwrap();
    loop {
        if let Event::Reconnecting { .. } = next(&mut events).await {
            break;
        }
    }
    // 10 frames of 20 ms while no connection is up, each with its own value
    for k in 1..=10i16 {
        s.send_audio(&[k; 320], None).unwrap();
    }
    loop {
        if let Event::Resumed { .. } = next(&mut events).await {
            break;
        }
    }
    // the turn the failed connection never acknowledged comes first, then the audio captured meanwhile
    assert_eq!(recorded.next_message().await, ClientMessage::user_text("hello"));
    let mut values = Vec::new();
    while values.len() < 10 {
        match recorded.next_message().await {
            ClientMessage::RealtimeInput(r) => {
                for blob in r.audio_blobs() {
                    values.push(i16::from_le_bytes([blob.data[0], blob.data[1]]));
                }
            }
            other => panic!("only the buffered audio is pending, got {other:?}"),
        }
    }
    assert_eq!(values, (1..=10).collect::<Vec<i16>>(), "every frame, in order");
    assert_eq!(recorded.connections(), 2);
    s.close().await;
}
