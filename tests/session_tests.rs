//! Real conversations through the session client against the embedded server on 127.0.0.1:0.

use std::time::Duration;

use serde_json::json;
use voxlive::protocol::{FunctionResponse, Modality};
use voxlive::server::{echo_reply_samples, CloseMidTurn, Faults, ResponderKind, ScriptedResponder, ServerConfig};
use voxlive::session::{self, Event, Events, SessionError};

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
async fn server_closing_mid_turn_ends_the_session_with_its_reason() {
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
    let (s, mut events) = session::start(options(&server, setup(Modality::Audio, true)))
        .await
        .unwrap();
    s.activity_start().await.unwrap();
    s.send(voxlive::protocol::ClientMessage::audio(16_000, &voice_like(1.0)))
        .await
        .unwrap();
    s.activity_end().await.unwrap();
    let got = until_turn_complete(&mut events).await;
    match got.last() {
        Some(Event::Closed {
            code: Some(1011),
            reason,
            class: voxlive::session::CloseClass::Retryable,
        }) => assert!(reason.contains("injected failure"), "{reason}"),
        other => panic!("expected a 1011 close, got {other:?}"),
    }
    assert!(!audio_of(&got).is_empty(), "audio before the close is delivered");
    assert!(s.send_text_turn("still there?").await.is_err() || events.recv().await.is_none());
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
        api_key: Some("auth_tokens/abc".into()),
        ..fast_config()
    })
    .await;
    let credential = voxlive::session::Credential::EphemeralToken(voxlive::session::Secret::new("auth_tokens/abc"));
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
