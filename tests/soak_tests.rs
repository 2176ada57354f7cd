//! Soak: a conversation through the real session supervisor against the real embedded server injecting a
//! fault of every kind every few hundred milliseconds (drop, 1011 close, goAway, malformed and oversized
//! frames, reply delay and jitter). The server's MessageLog records what it consumed; every must-deliver
//! message the client sent must be there exactly once and in order, and every turn must complete.
//!
//! The CI version runs `VOXLIVE_SOAK_TURNS` turns (default 12); the long version is the same test run by
//! hand with more turns: `VOXLIVE_SOAK_TURNS=1200 cargo test --test tests soak -- --nocapture`. A second
//! soak adds refused resumption handles (`reject-resume=0.2`): the conversation restarts seeded with its
//! history, and each message is still consumed once.

use std::time::{Duration, Instant};

use voxlive::protocol::{ClientMessage, Modality, SessionResumptionConfig};
use voxlive::server::{FaultCounts, Faults, MessageLog, ServerConfig};
use voxlive::session::{self, is_droppable, Event, SessionMetrics};

use crate::util::*;

const SPEC: &str = "drop-every=700ms,close-1011-every=1100ms,goaway-every=1300ms:timeleft=300ms,\
                    malformed-every=500ms,oversized-every=1700ms:bytes=1200000,delay=20ms,jitter=10ms,seed=7";

/// Hang guard only (a turn normally takes about a second): never a timing under test. It bounds the
/// whole turn, not each event: reconnect events alone must not keep a turn whose reply was lost alive.
const TURN_GUARD: Duration = Duration::from_secs(60);

/// The same faults, and one resumption in five refused: the conversation restarts as a fresh session
/// seeded with its history, and goes on.
const SPEC_REFUSING: &str = "drop-every=700ms,close-1011-every=1100ms,goaway-every=1300ms:timeleft=300ms,\
                             malformed-every=500ms,oversized-every=1700ms:bytes=1200000,delay=20ms,jitter=10ms,\
                             reject-resume=0.2,seed=11";

#[tokio::test]
async fn soak_every_must_deliver_message_arrives_once_in_order_across_faults() {
    let r = soak(SPEC).await;
    assert_eq!(r.consumed, r.sent, "every must-deliver message once, in order");
    assert!(
        r.counts.get("drop") + r.counts.get("close") + r.counts.get("goaway") > 0,
        "faults were injected: {}",
        r.counts.summary()
    );
    assert!(r.resumed > 0, "the session resumed at least once");
    assert_eq!(
        r.restarted, 0,
        "no handle was refused, so the conversation never restarted"
    );
}

#[tokio::test]
async fn soak_with_refused_handles_restarts_seeded_and_still_delivers_each_message_once() {
    let r = soak(SPEC_REFUSING).await;
    // a refused handle's conversation is gone: what it had consumed is in the history seed, what it had
    // not is replayed on the fresh session, so each message is still consumed once
    assert_eq!(r.consumed, r.sent, "every must-deliver message once, in order");
    assert!(
        r.counts.get("reject-resume") > 0,
        "handles were refused: {}",
        r.counts.summary()
    );
    assert!(r.restarted > 0, "the conversation restarted after a refused handle");
    assert!(r.seeds > 0, "a restarted conversation was seeded with its history");
}

/// What a soak run saw.
struct Soak {
    sent: Vec<ClientMessage>,
    /// The must-deliver messages the server consumed, in order (history seeds apart).
    consumed: Vec<ClientMessage>,
    /// History seeds the server consumed (a fresh session after a refused handle).
    seeds: usize,
    counts: FaultCounts,
    resumed: usize,
    restarted: usize,
}

/// `VOXLIVE_SOAK_TURNS` x 2 turns (an audio turn, a typed turn) against a server injecting `spec`.
async fn soak(spec: &str) -> Soak {
    let turns: usize = std::env::var("VOXLIVE_SOAK_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let log = MessageLog::default();
    let counts = FaultCounts::default();
    let faults: Faults = spec.parse().expect("the soak spec parses");
    let server = start_server(ServerConfig {
        faults,
        message_log: Some(log.clone()),
        fault_counts: counts.clone(),
        ..ServerConfig::default()
    })
    .await;
    let mut setup = setup(Modality::Audio, true);
    setup.session_resumption = Some(SessionResumptionConfig {
        handle: None,
        transparent: Some(true),
    });
    let (s, mut events) = session::start(options(&server, setup)).await.expect("connects");

    let mut sent: Vec<ClientMessage> = Vec::new();
    let question = voice_like(0.4);
    let mut seen = Seen::default();
    for turn in 0..turns {
        // an audio turn: activityStart, 20 ms frames, activityEnd
        let start = ClientMessage::RealtimeInput(voxlive::protocol::RealtimeInput {
            activity_start: Some(voxlive::protocol::Empty {}),
            ..Default::default()
        });
        let end = ClientMessage::RealtimeInput(voxlive::protocol::RealtimeInput {
            activity_end: Some(voxlive::protocol::Empty {}),
            ..Default::default()
        });
        s.send(start.clone()).await.unwrap();
        sent.push(start);
        for frame in question.chunks(320) {
            s.send_audio(frame, None).unwrap();
        }
        s.send(end.clone()).await.unwrap();
        sent.push(end);
        until_turn_complete(&mut events, &mut seen).await;
        // then a typed turn
        let text = ClientMessage::user_text(format!("msg-{turn}"));
        s.send(text.clone()).await.unwrap();
        sent.push(text);
        until_turn_complete(&mut events, &mut seen).await;
        if (turn + 1) % 100 == 0 {
            eprintln!("soak: {} x 2 turns done; faults so far: {}", turn + 1, counts.summary());
        }
    }
    s.close().await;

    let is_seed = |m: &ClientMessage| matches!(m, ClientMessage::ClientContent(c) if c.turn_complete == Some(false));
    let must: Vec<ClientMessage> = log
        .snapshot()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| !is_droppable(m))
        .collect();
    let seeds = must.iter().filter(|m| is_seed(m)).count();
    let consumed: Vec<ClientMessage> = must.into_iter().filter(|m| !is_seed(m)).collect();
    let lost = sent.iter().filter(|m| !consumed.contains(m)).count();
    let duplicated = consumed.len().saturating_sub(sent.len());
    eprintln!(
        "soak: {turns} x 2 turns; faults injected: {}; must-deliver messages checked: {}, lost: {lost}, \
         duplicated: {duplicated}; reconnects: {}, resumed: {}, restarted: {} (history seeds {seeds}), \
         replayed: {}, dropped audio frames: {}; longest gap between reply audio chunks: {} ms",
        counts.summary(),
        sent.len(),
        seen.reconnects,
        seen.resumed,
        seen.restarted,
        SessionMetrics::get(&s.metrics().replayed),
        SessionMetrics::get(&s.metrics().audio_frames_dropped),
        seen.longest_gap.as_millis()
    );
    Soak {
        sent,
        consumed,
        seeds,
        counts,
        resumed: seen.resumed,
        restarted: seen.restarted,
    }
}

/// Session events counted over a soak.
#[derive(Default)]
struct Seen {
    reconnects: usize,
    resumed: usize,
    restarted: usize,
    /// The longest gap between two reply audio chunks of a turn (reported, not asserted: timings are not
    /// pass/fail).
    longest_gap: Duration,
}

/// Reads events until TurnComplete, or until the conversation restarted (a refused handle: the fresh
/// session does not answer what the old one was asked); the session must never end.
async fn until_turn_complete(events: &mut session::Events, seen: &mut Seen) {
    let mut last_audio: Option<Instant> = None;
    let deadline = tokio::time::Instant::now() + TURN_GUARD;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the turn completes (hang guard: its reply was lost)")
            .expect("the session goes on");
        match ev {
            Event::Audio { .. } => {
                let now = Instant::now();
                if let Some(t) = last_audio {
                    seen.longest_gap = seen.longest_gap.max(now - t);
                }
                last_audio = Some(now);
            }
            Event::TurnComplete { .. } => return,
            Event::Reconnecting { .. } => seen.reconnects += 1,
            Event::Resumed { .. } => seen.resumed += 1,
            Event::Restarted { .. } => {
                seen.restarted += 1;
                return;
            }
            Event::Closed { reason, class, .. } => panic!("the session ended ({class:?}): {reason}"),
            _ => {}
        }
    }
}
