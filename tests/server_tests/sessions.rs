//! Resumption and the Scripted responder (tool calls, script errors).

use super::*;

#[tokio::test]
async fn resumption_updates_resume_and_bad_handles() {
    let script = ScriptedResponder::from_path("tests/fixtures/script.toml").unwrap();
    let server = start(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast()
    })
    .await;
    let mut c = session(
        &server,
        json!({"sessionResumption": {}, "generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    let first = recv_msg(&mut c)
        .await
        .session_resumption_update
        .expect("update after setupComplete");
    assert_eq!(first.resumable, Some(true));
    assert_eq!(first.last_consumed_client_message_index, None);
    // Turn 1 of the script calls a tool; answer it.
    send(&mut c, json!({"realtimeInput": {"text": "what time is it"}})).await;
    let call = loop {
        if let Some(tc) = recv_msg(&mut c).await.tool_call {
            break tc;
        }
    };
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": call.function_calls[0].id, "name": "get_time", "response": {"t": "12:00"}}]}})).await;
    assert_eq!(read_turn(&mut c).await.text, "It is noon.");
    let update = recv_msg(&mut c)
        .await
        .session_resumption_update
        .expect("update after the turn");
    assert_eq!(update.last_consumed_client_message_index, Some(1));
    let handle = update.new_handle.unwrap();
    drop(c);

    // Resuming continues the conversation: the script's second turn comes next.
    let mut c = session(
        &server,
        json!({"sessionResumption": {"handle": handle}, "generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    assert!(recv_msg(&mut c).await.session_resumption_update.is_some());
    send(&mut c, json!({"realtimeInput": {"text": "thanks"}})).await;
    assert_eq!(read_turn(&mut c).await.text, "You are welcome.");
    assert!(recv_msg(&mut c).await.session_resumption_update.is_some());
    assert_eq!(
        recv_msg(&mut c).await.go_away.map(|g| g.time_left),
        Some("5s".to_string())
    );

    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(json!({"sessionResumption": {"handle": "made-up"}}))).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "invalid session resumption handle");
}

#[tokio::test]
async fn scripted_tool_call_round_trip_and_mismatched_id() {
    let script = ScriptedResponder::from_path("tests/fixtures/script.toml").unwrap();
    assert_eq!(script.len(), 2);
    let server = start(ServerConfig {
        responder: ResponderKind::Scripted(script),
        ..fast()
    })
    .await;
    let mut c = session(
        &server,
        json!({"inputAudioTranscription": {}, "outputAudioTranscription": {}}),
    )
    .await;
    send(
        &mut c,
        json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "time?"}]}], "turnComplete": true}}),
    )
    .await;
    let mut input = String::new();
    let call = loop {
        let m = recv_msg(&mut c).await;
        if let Some(t) = m
            .server_content
            .and_then(|s| s.input_transcription)
            .and_then(|t| t.text)
        {
            input.push_str(&t);
        }
        if let Some(tc) = m.tool_call {
            break tc;
        }
    };
    assert_eq!(input, "what time is it");
    let f = &call.function_calls[0];
    assert_eq!((f.id.as_deref(), f.name.as_str()), (Some("t1"), "get_time"));
    assert_eq!(f.args.get("zone"), Some(&json!("UTC")));
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": "t1", "name": "get_time", "response": {"result": "12:00"}}]}})).await;
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "It is noon.");
    // The speech-like tone for the text, then the 0.1 s WAV at 24 kHz.
    assert!(turn.audio.len() > 2400);

    let mut c = session(&server, json!({})).await;
    send(&mut c, json!({"realtimeInput": {"text": "time?"}})).await;
    while recv_msg(&mut c).await.tool_call.is_none() {}
    send(
        &mut c,
        json!({"toolResponse": {"functionResponses": [{"id": "nope", "name": "get_time", "response": {}}]}}),
    )
    .await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("nope"), "{reason}");
}

#[tokio::test]
async fn bad_scripts_are_typed_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("voxlive-script-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "unknown.toml",
            "[[turn]]\nparts = [{ sing = \"la\" }]\n",
            "invalid script",
        ),
        (
            "missing.json",
            r#"{"turn": [{"parts": [{"audio": "nope.wav"}]}]}"#,
            "cannot load audio",
        ),
        (
            "order.toml",
            "[[turn]]\nparts = [{ tool_call = { name = \"f\" } }, { text = \"x\" }]\n",
            "tool_call",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let err = ScriptedResponder::from_path(&path).unwrap_err().to_string();
        assert!(err.contains(expected) && err.contains(name), "{err}");
    }
    let err = ScriptedResponder::from_path(dir.join("absent.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A responder of the test's own, plugged in through `ResponderKind::Custom`.
struct Counter(u64);

impl Responder for Counter {
    fn on_turn(&mut self, _turn: &UserTurn, _modality: Modality) -> Reply {
        self.0 += 1;
        Reply::new(vec![ReplyPart::Text(format!("turn {}", self.0))])
    }
}

#[tokio::test]
async fn custom_responders_are_built_per_connection_with_the_conversation_state() {
    let factory: ResponderFactory = Arc::new(|done| Box::new(Counter(done)));
    let server = start(ServerConfig {
        responder: ResponderKind::Custom(factory),
        ..fast()
    })
    .await;
    let mut c = session(&server, json!({"generationConfig": {"responseModalities": ["TEXT"]}})).await;
    for expected in ["turn 1", "turn 2"] {
        send(&mut c, json!({"realtimeInput": {"text": "x"}})).await;
        assert_eq!(read_turn(&mut c).await.text, expected);
    }
}
