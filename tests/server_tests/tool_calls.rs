//! The server's side of function calling on the raw wire: gemini-3.8-live's turn closed at once with
//! IN_PROGRESS for NON_BLOCKING calls and IDLE at the end; a BLOCKING call cancelled by new user input;
//! toolResponse shapes refused with a reason.

use super::*;

fn script_server(toml: &str) -> (tempfile::TempDir, ServerConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.toml");
    std::fs::write(&path, toml).unwrap();
    let config = ServerConfig {
        responder: ResponderKind::Scripted(ScriptedResponder::from_path(&path).unwrap()),
        ..fast()
    };
    (dir, config)
}

fn text_turn(text: &str) -> Value {
    json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}})
}

const THREE_EIGHT: &str = "models/gemini-3.8-live";

fn tools(behavior: &str) -> Value {
    json!([{"functionDeclarations": [{"name": "f", "behavior": behavior}]}])
}

#[tokio::test]
async fn non_blocking_on_38_closes_the_turn_in_progress_and_answers_as_an_idle_turn() {
    let (_dir, config) = script_server(
        "[[turn]]\nparts = [{ tool_call = { name = \"f\", id = \"n\" } }]\nafter_tool = [{ text = \"said {result}\" }]\n",
    );
    let server = start(config).await;
    let mut c = session(
        &server,
        json!({"model": THREE_EIGHT, "outputAudioTranscription": {}, "tools": tools("NON_BLOCKING")}),
    )
    .await;
    send(&mut c, text_turn("go")).await;
    while recv_msg(&mut c).await.tool_call.is_none() {}
    let closed = recv_msg(&mut c).await.server_content.expect("the turn closes at once");
    assert_eq!(closed.turn_complete, Some(true));
    assert_eq!(
        closed.interaction_status,
        Some(voxlive::protocol::InteractionStatus::InProgress)
    );
    send(&mut c, json!({"toolResponse": {"functionResponses": [{"id": "n", "name": "f", "response": {"v": 1}, "scheduling": "WHEN_IDLE"}]}})).await;
    let mut output = String::new();
    let status = loop {
        let sc = recv_msg(&mut c).await.server_content.unwrap_or_default();
        output.push_str(sc.output_transcription.and_then(|t| t.text).as_deref().unwrap_or(""));
        if sc.turn_complete == Some(true) {
            break sc.interaction_status;
        }
    };
    assert_eq!(output, "said f {\"v\":1}");
    assert_eq!(status, Some(voxlive::protocol::InteractionStatus::Idle));
}

#[tokio::test]
async fn a_blocking_call_on_38_is_cancelled_by_new_user_input() {
    let (_dir, config) = script_server(
        "[[turn]]\nparts = [{ tool_call = { name = \"f\", id = \"b\" } }]\nafter_tool = [{ text = \"late\" }]\n[[turn]]\nparts = [{ text = \"second\" }]\n",
    );
    let server = start(config).await;
    let mut c = session(
        &server,
        json!({"model": THREE_EIGHT, "outputAudioTranscription": {}, "tools": tools("BLOCKING")}),
    )
    .await;
    send(&mut c, text_turn("first")).await;
    while recv_msg(&mut c).await.tool_call.is_none() {}
    send(&mut c, text_turn("never mind")).await;
    let cancelled = loop {
        if let Some(x) = recv_msg(&mut c).await.tool_call_cancellation {
            break x;
        }
    };
    assert_eq!(cancelled.ids, vec!["b".to_string()]);
    let turn = read_turn(&mut c).await;
    assert_eq!(turn.output, "second");
    // an answer that crossed the cancellation is ignored, not an error
    send(
        &mut c,
        json!({"toolResponse": {"functionResponses": [{"id": "b", "name": "f", "response": {}}]}}),
    )
    .await;
    send(&mut c, text_turn("still there?")).await;
    assert!(read_turn(&mut c).await.output.contains("end of script"));
}

#[tokio::test]
async fn bad_tool_responses_are_refused_with_a_reason() {
    let cases = [
        (json!({"id": "x1", "name": "g", "response": {}}), "names \"g\""),
        (json!({"name": "f", "response": {}}), "has no id"),
        (
            json!({"id": "x1", "name": "f", "response": {}, "scheduling": "SOON"}),
            "SOON",
        ),
        (json!({"id": "other", "name": "f", "response": {}}), "not an open call"),
    ];
    for (response, expect) in cases {
        let (_dir, config) = script_server("[[turn]]\nparts = [{ tool_call = { name = \"f\", id = \"x1\" } }]\n");
        let server = start(config).await;
        let mut c = session(&server, json!({})).await;
        send(&mut c, text_turn("go")).await;
        while recv_msg(&mut c).await.tool_call.is_none() {}
        send(&mut c, json!({"toolResponse": {"functionResponses": [response]}})).await;
        let (code, reason) = expect_close(&mut c).await;
        assert_eq!(code, 1007, "{reason}");
        assert!(reason.contains(expect), "{reason:?} should mention {expect:?}");
    }
}
