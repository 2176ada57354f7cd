//! Real conversations through the session client against the embedded server on 127.0.0.1:0.

use std::time::Duration;

use serde_json::json;
use voxlive::protocol::ClientMessage;
use voxlive::protocol::{FunctionResponse, Modality};
use voxlive::server::{
    echo_reply_samples, CloseMidTurn, Faults, MessageLog, ResponderKind, ScriptedResponder, ServerConfig,
};
use voxlive::session::{self, CloseClass, Event, Events, SessionError, SessionMetrics};

use crate::util::*;

/// Collects events until TurnComplete (returned last) or Closed.
async fn until_turn_complete(events: &mut Events) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an event within 20 s")
            .expect("events did not end");
        let done = matches!(ev, Event::TurnComplete { .. } | Event::Closed { .. });
        out.push(ev);
        if done {
            return out;
        }
    }
}

fn audio_of(events: &[Event]) -> Vec<i16> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Audio { samples, rate, .. } => {
                assert_eq!(*rate, 24_000);
                Some(samples.clone())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[tokio::test]
async fn audio_turn_echoes_exact_samples_with_transcripts_and_usage() {
    let server = start_server(fast_config()).await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Audio, true)))
        .await
        .unwrap();
    let question = voice_like(1.2);
    s.activity_start().await.unwrap();
    for frame in question.chunks(320) {
        s.send(voxlive::protocol::ClientMessage::audio(16_000, frame))
            .await
            .unwrap();
    }
    s.activity_end().await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert_eq!(
        audio_of(&got),
        echo_reply_samples(&question),
        "echo reply differs from the expected samples"
    );
    assert!(got
        .iter()
        .any(|e| matches!(e, Event::InputTranscript(t) if !t.is_empty())));
    assert!(got
        .iter()
        .any(|e| matches!(e, Event::OutputTranscript(t) if !t.is_empty())));
    assert!(got.iter().any(|e| matches!(e, Event::GenerationComplete)));
    match got.last() {
        Some(Event::TurnComplete { usage: Some(u), .. }) => {
            assert!(u.total_token_count.unwrap_or(0) > 0);
            assert!(!u.prompt_tokens_details.is_empty());
        }
        other => panic!("turn did not complete with usage: {other:?}"),
    }
    s.close().await;
}

#[tokio::test]
async fn text_turn_in_text_modality_gets_text() {
    let server = start_server(fast_config()).await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Text, false)))
        .await
        .unwrap();
    s.send_text_turn("hello there").await.unwrap();
    let got = until_turn_complete(&mut events).await;
    let text: String = got
        .iter()
        .filter_map(|e| if let Event::Text(t) = e { Some(t.as_str()) } else { None })
        .collect();
    assert!(text.contains("hello there"), "reply text: {text:?}");
    assert!(audio_of(&got).is_empty());
}

#[tokio::test]
async fn resumption_update_arrives_and_handle_resumes() {
    let server = start_server(fast_config()).await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Text, false)))
        .await
        .unwrap();
    s.send_text_turn("first").await.unwrap();
    let got = until_turn_complete(&mut events).await;
    let mut handle = got.iter().find_map(|e| match e {
        Event::ResumptionUpdate {
            handle: Some(h),
            resumable: true,
            ..
        } => Some(h.clone()),
        _ => None,
    });
    // The update may follow turnComplete.
    while handle.is_none() {
        match tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
        {
            Some(Event::ResumptionUpdate { handle: Some(h), .. }) => handle = Some(h),
            Some(_) => {}
            None => break,
        }
    }
    let handle = handle.expect("a resumption handle");
    s.close().await;

    let mut resumed = setup(Modality::Text, false);
    resumed.session_resumption = Some(voxlive::protocol::SessionResumptionConfig {
        handle: Some(handle),
        transparent: None,
    });
    let (s2, mut events2) = session::start(options(&server, resumed))
        .await
        .expect("resumes with the handle");
    s2.send_text_turn("second").await.unwrap();
    let got = until_turn_complete(&mut events2).await;
    assert!(matches!(got.last(), Some(Event::TurnComplete { .. })));

    let mut bad = setup(Modality::Text, false);
    bad.session_resumption = Some(voxlive::protocol::SessionResumptionConfig {
        handle: Some("forged".into()),
        transparent: None,
    });
    let err = session::start(options(&server, bad))
        .await
        .err()
        .expect("a forged handle is refused");
    assert!(err.to_string().contains("resumption"), "{err}");
}

#[tokio::test]
async fn scripted_tool_call_is_answered_by_the_client() {
    let script = ScriptedResponder::from_path(fixture("tool_script.toml")).expect("fixture script loads");
    let server = start_server(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast_config()
    })
    .await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Text, false)))
        .await
        .unwrap();
    s.send_text_turn("what time is it in Tokyo?").await.unwrap();
    let call = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Event::ToolCall(calls) => break calls.into_iter().next().expect("one call"),
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    };
    assert_eq!(call.name, "get_time");
    assert_eq!(call.args.get("city"), Some(&json!("Tokyo")));
    let mut response = serde_json::Map::new();
    response.insert("result".into(), json!("12:00"));
    s.tool_response(vec![FunctionResponse {
        id: call.id.clone(),
        name: call.name.clone(),
        response,
        ..Default::default()
    }])
    .await
    .unwrap();
    let got = until_turn_complete(&mut events).await;
    let text: String = got
        .iter()
        .filter_map(|e| if let Event::Text(t) = e { Some(t.as_str()) } else { None })
        .collect();
    assert!(text.contains("noon"), "after the tool: {text:?}");
}

#[tokio::test]
async fn wrong_key_is_reported_as_a_rejected_key() {
    let server = start_server(ServerConfig {
        api_key: Some("right-key".into()),
        ..fast_config()
    })
    .await;
    let mut opts = options(&server, setup(Modality::Text, false));
    opts.endpoint = endpoint(&server, Some("wrong-key"));
    let err = session::start(opts).await.err().expect("wrong key refused");
    assert!(matches!(err, SessionError::Auth(_)), "{err:?}");
    assert!(err.to_string().starts_with("the API key was rejected"), "{err}");
    assert!(!err.to_string().contains("wrong-key"));

    let mut ok = options(&server, setup(Modality::Text, false));
    ok.endpoint = endpoint(&server, Some("right-key"));
    assert!(session::start(ok).await.is_ok());
}

#[tokio::test]
async fn unknown_model_names_the_known_ones() {
    let server = start_server(fast_config()).await;
    let mut bad = setup(Modality::Audio, false);
    bad.model = "models/gemini-9-imaginary".into();
    let err = session::start(options(&server, bad))
        .await
        .err()
        .expect("unknown model refused");
    let text = err.to_string();
    assert!(
        text.contains("gemini-9-imaginary") && text.contains("known models"),
        "{text}"
    );
    assert!(text.contains("gemini-3.8-live"), "{text}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn server_closing_mid_turn_resumes_and_the_reply_completes() {
    // every connection closes with 1011 after two reply chunks: the supervisor resumes each time and the
    // server continues the reply where it stopped, so the whole echo arrives, in order, once
    let faults = Faults {
        close_mid_turn: Some(CloseMidTurn {
            after_chunks: 2,
            code: 1011,
            reason: "injected failure".into(),
        }),
        ..Faults::default()
    };
    let server = start_server(ServerConfig {
        faults,
        ..fast_config()
    })
    .await;
    let mut transparent = setup(Modality::Audio, true);
    transparent.session_resumption = Some(voxlive::protocol::SessionResumptionConfig {
        handle: None,
        transparent: Some(true),
    });
    let (s, mut events) = session::start(options(&server, transparent)).await.unwrap();
    let question = voice_like(0.5);
    s.activity_start().await.unwrap();
    s.send(voxlive::protocol::ClientMessage::audio(16_000, &question))
        .await
        .unwrap();
    s.activity_end().await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert!(matches!(got.last(), Some(Event::TurnComplete { .. })), "{got:?}");
    let reconnects = got
        .iter()
        .filter(|e| matches!(e, Event::Reconnecting { reason, .. } if reason.contains("injected failure")))
        .count();
    let resumed = got.iter().filter(|e| matches!(e, Event::Resumed { .. })).count();
    assert!(reconnects >= 2, "{reconnects} reconnects");
    assert_eq!(reconnects, resumed);
    let (a, b) = (audio_of(&got), echo_reply_samples(&question));
    assert_eq!(
        a.len(),
        b.len(),
        "{:?}",
        got.iter()
            .filter(|e| !matches!(e, Event::Audio { .. }))
            .collect::<Vec<_>>()
    );
    assert_eq!(a, b, "the reply went on across the closes");
    assert!(SessionMetrics::get(&s.metrics().resumes) >= 2);
    s.close().await;
}

#[tokio::test]
async fn terminal_close_mid_session_stops_at_once_with_the_reason() {
    let faults = Faults {
        close_mid_turn: Some(CloseMidTurn {
            after_chunks: 1,
            code: 1007,
            reason: "invalid argument: injected".into(),
        }),
        ..Faults::default()
    };
    let server = start_server(ServerConfig {
        faults,
        ..fast_config()
    })
    .await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Audio, true)))
        .await
        .unwrap();
    s.activity_start().await.unwrap();
    s.send(voxlive::protocol::ClientMessage::audio(16_000, &voice_like(0.5)))
        .await
        .unwrap();
    s.activity_end().await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert!(!got.iter().any(|e| matches!(e, Event::Reconnecting { .. })), "{got:?}");
    match got.last() {
        Some(Event::Closed {
            code: Some(1007),
            reason,
            class: CloseClass::Terminal,
        }) => assert!(reason.contains("injected"), "{reason}"),
        other => panic!("expected a terminal 1007 close, got {other:?}"),
    }
    assert!(events.recv().await.is_none(), "nothing after Closed");
    assert!(s.send_text_turn("still there?").await.is_err());
}

#[tokio::test]
async fn malformed_frame_is_skipped_and_the_turn_completes() {
    let faults = Faults {
        malformed_frame: true,
        ..Faults::default()
    };
    let server = start_server(ServerConfig {
        faults,
        ..fast_config()
    })
    .await;
    let (s, mut events) = session::start(options(&server, setup(Modality::Text, false)))
        .await
        .unwrap();
    s.send_text_turn("hello").await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert!(
        got.iter().any(|e| matches!(e, Event::ProtocolError(_))),
        "the malformed frame is reported: {got:?}"
    );
    assert!(matches!(got.last(), Some(Event::TurnComplete { .. })), "{got:?}");
    assert_eq!(voxlive::session::SessionMetrics::get(&s.metrics().malformed_frames), 1);
}

#[tokio::test]
async fn unreachable_endpoint_is_a_clear_retryable_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = voxlive::session::Endpoint::new(
        &format!("ws://127.0.0.1:{port}"),
        voxlive::session::ApiVersion::V1beta,
        Default::default(),
    )
    .unwrap();
    let err = session::start(voxlive::session::SessionOptions::new(
        endpoint,
        setup(Modality::Text, false),
    ))
    .await
    .err()
    .expect("nothing listens there");
    assert!(matches!(err, SessionError::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn ephemeral_token_goes_to_the_constrained_endpoint() {
    let server = start_server(ServerConfig {
        api_key: Some("the-key-that-mints".into()),
        ..fast_config()
    })
    .await;
    // a token the server minted (it admits only those on the Constrained path)
    let options = voxlive::auth::MintOptions {
        uses: 1,
        expire: Duration::from_secs(600),
        new_session_expire: Duration::from_secs(60),
        locked_setup: None,
    };
    let token = voxlive::auth::mint(
        &endpoint(&server, Some("the-key-that-mints")),
        &options,
        Duration::from_secs(10),
    )
    .await
    .expect("the server mints a token")
    .name
    .unwrap();
    let credential = voxlive::session::Credential::EphemeralToken(voxlive::session::Secret::new(token));
    let endpoint =
        voxlive::session::Endpoint::new(&server.base_url(), voxlive::session::ApiVersion::V1alpha, credential).unwrap();
    assert!(endpoint.ws_url().path().ends_with("BidiGenerateContentConstrained"));
    let (s, mut events) = session::start(voxlive::session::SessionOptions::new(
        endpoint,
        setup(Modality::Text, false),
    ))
    .await
    .expect("the token is accepted");
    s.send_text_turn("hi").await.unwrap();
    assert!(matches!(
        until_turn_complete(&mut events).await.last(),
        Some(Event::TurnComplete { .. })
    ));
}

#[tokio::test]
async fn wss_with_the_generated_certificate() {
    let server = start_server(fast_config().with_generated_tls().unwrap()).await;
    assert!(server.base_url().starts_with("wss://"));
    let mut endpoint = endpoint(&server, None);
    endpoint.extra_roots_pem = Some(std::sync::Arc::new(server.cert_pem().unwrap().as_bytes().to_vec()));
    let (s, mut events) = session::start(voxlive::session::SessionOptions::new(
        endpoint,
        setup(Modality::Text, false),
    ))
    .await
    .expect("the client trusts the server's certificate");
    s.send_text_turn("over tls").await.unwrap();
    assert!(matches!(
        until_turn_complete(&mut events).await.last(),
        Some(Event::TurnComplete { .. })
    ));

    // Without the certificate the same server is refused, with a TLS error.
    let err = session::start(options(&server, setup(Modality::Text, false)))
        .await
        .err()
        .expect("untrusted");
    assert!(matches!(err, SessionError::Tls(_)), "{err:?}");
}

fn transparent_setup(modality: Modality) -> voxlive::protocol::Setup {
    let mut s = setup(modality, false);
    s.session_resumption = Some(voxlive::protocol::SessionResumptionConfig {
        handle: None,
        transparent: Some(true),
    });
    s
}

/// The texts of the clientContent turns the server consumed, in order.
fn consumed_texts(log: &MessageLog) -> Vec<String> {
    log.snapshot()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::ClientContent(c) => {
                Some(c.turns.iter().map(|t| t.joined_text()).collect::<Vec<_>>().join("|"))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn go_away_switches_to_a_new_connection_before_the_deadline() {
    let log = MessageLog::default();
    let faults = Faults {
        go_away_after_turn: Some(Duration::from_secs(3)),
        first_connections: Some(1),
        ..Faults::default()
    };
    let server = start_server(ServerConfig {
        faults,
        message_log: Some(log.clone()),
        ..fast_config()
    })
    .await;
    let (s, mut events) = session::start(options(&server, transparent_setup(Modality::Text)))
        .await
        .unwrap();
    s.send_text_turn("one").await.unwrap();
    until_turn_complete(&mut events).await;
    // goAway follows the turn; the next connection is made before the old one breaks
    let switched = loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an event")
            .expect("events go on");
        match ev {
            Event::Resumed { downtime, .. } => break downtime,
            Event::Reconnecting { reason, .. } => panic!("the connection broke before the switch: {reason}"),
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    };
    assert_eq!(switched, None, "a make-before-break switch has no downtime");
    s.send_text_turn("two").await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert!(matches!(got.last(), Some(Event::TurnComplete { .. })), "{got:?}");
    assert_eq!(consumed_texts(&log), ["one", "two"]);
    assert_eq!(SessionMetrics::get(&s.metrics().go_aways), 1);
    s.close().await;
}

#[tokio::test]
async fn refused_handle_falls_back_to_a_fresh_session_seeded_with_the_history() {
    let log = MessageLog::default();
    // connection 0 drops after one reply chunk; connection 1 (the resume) is refused; 2 is fresh
    let faults = Faults {
        drop_after_chunks: Some(1),
        reject_resumption: true,
        first_connections: Some(2),
        ..Faults::default()
    };
    let server = start_server(ServerConfig {
        faults,
        message_log: Some(log.clone()),
        ..fast_config()
    })
    .await;
    let (s, mut events) = session::start(options(&server, transparent_setup(Modality::Audio)))
        .await
        .unwrap();
    s.send_text_turn("remember the number 42").await.unwrap();
    let history_turns = loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an event")
            .expect("events go on");
        match ev {
            Event::Restarted { history_turns, .. } => break history_turns,
            Event::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    };
    assert!(history_turns >= 1);
    s.send_text_turn("what was the number?").await.unwrap();
    let got = until_turn_complete(&mut events).await;
    assert!(matches!(got.last(), Some(Event::TurnComplete { .. })), "{got:?}");
    let texts = consumed_texts(&log);
    assert_eq!(texts.first().map(String::as_str), Some("remember the number 42"));
    assert!(
        texts[1].starts_with("remember the number 42"),
        "the seed carries the history: {texts:?}"
    );
    assert_eq!(texts.last().map(String::as_str), Some("what was the number?"));
    assert_eq!(texts.len(), 3, "{texts:?}");
    s.close().await;
}

#[tokio::test]
async fn gives_up_after_max_attempts_when_the_server_is_gone() {
    let server = start_server(fast_config()).await;
    let (_s, mut events) = session::start(options(&server, transparent_setup(Modality::Text)))
        .await
        .unwrap();
    // the server goes away for good (1001 to the open connection): every reconnect is refused
    server.shutdown().await.unwrap();
    // the backoff waits are timers: let the paused clock run them
    tokio::time::pause();
    let mut attempts = 0;
    let last = loop {
        match events.recv().await.expect("a Closed event ends the stream") {
            Event::Reconnecting { attempt, .. } => {
                attempts += 1;
                assert_eq!(attempt, attempts);
            }
            closed @ Event::Closed { .. } => break closed,
            _ => {}
        }
    };
    match last {
        Event::Closed { reason, class, .. } => {
            assert_eq!(class, CloseClass::Terminal);
            assert!(reason.starts_with("gave up reconnecting after"), "{reason}");
        }
        _ => unreachable!(),
    }
    assert_eq!(
        attempts,
        voxlive::session::MAX_ATTEMPTS,
        "MAX_ATTEMPTS failed opens, then it gives up"
    );
}
