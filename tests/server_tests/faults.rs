//! Injected faults: mid-turn close and drop, malformed frame, goAway, reply delay, rejected resumption.

use super::*;

#[tokio::test]
async fn faults_close_mid_turn_malformed_frame_and_go_away() {
    let faults = Faults {
        close_mid_turn: Some(CloseMidTurn {
            after_chunks: 2,
            code: 1011,
            reason: "injected failure".into(),
        }),
        malformed_frame: true,
        first_connections: Some(1),
        go_away_after_turn: Some(Duration::from_millis(1500)),
        ..Faults::default()
    };
    let server = start(ServerConfig { faults, ..fast() }).await;
    let mut c = session(&server, manual()).await;
    match c.next().await {
        Some(Ok(Message::Binary(b))) => assert!(ServerMessage::from_slice(&b).is_err()),
        other => panic!("expected the malformed frame, got {other:?}"),
    }
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    send(&mut c, audio(&ramp(16_000))).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let mut chunks = 0;
    let (code, reason) = loop {
        match recv(&mut c).await {
            Got::Msg(m) => chunks += usize::from(m.server_content.and_then(|s| s.model_turn).is_some()),
            Got::Closed(code, reason) => break (code, reason),
        }
    };
    assert_eq!((code, reason.as_str(), chunks), (1011, "injected failure", 2));

    // The faults apply to the first connection only: the next one completes its (empty) turn.
    let mut c = session(&server, manual()).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert!(turn.audio.is_empty());
}

#[tokio::test]
async fn go_away_fault_follows_the_turn_and_text_frames_flag() {
    let faults = Faults {
        go_away_after_turn: Some(Duration::from_millis(1500)),
        ..Faults::default()
    };
    let server = start(ServerConfig {
        faults,
        text_frames: true,
        ..fast()
    })
    .await;
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(manual())).await;
    assert!(matches!(c.next().await, Some(Ok(Message::Text(_)))));
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    read_turn(&mut c).await;
    assert_eq!(
        recv_msg(&mut c).await.go_away.map(|g| g.time_left),
        Some("1.500s".to_string())
    );
}

#[tokio::test]
async fn faults_drop_connection_delay_replies_and_reject_resumption() {
    let faults = Faults {
        drop_after_chunks: Some(1),
        reply_delay: Some(Duration::from_millis(20)),
        reject_resumption: true,
        ..Faults::default()
    };
    let server = start(ServerConfig { faults, ..fast() }).await;
    let mut c = session(&server, json!({"sessionResumption": {}})).await;
    let handle = recv_msg(&mut c)
        .await
        .session_resumption_update
        .unwrap()
        .new_handle
        .unwrap();
    send(&mut c, audio(&ramp(8000))).await;
    send(&mut c, json!({"realtimeInput": {"audioStreamEnd": true}})).await;
    let mut chunks = 0;
    let code = loop {
        match recv(&mut c).await {
            Got::Msg(m) => chunks += usize::from(m.server_content.and_then(|s| s.model_turn).is_some()),
            Got::Closed(code, _) => break code,
        }
    };
    assert_eq!(chunks, 1);
    assert!(code == 1005 || code == 0, "dropped without a close frame, got {code}");

    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(json!({"sessionResumption": {"handle": handle}}))).await;
    assert_eq!(expect_close(&mut c).await.0, 1008);
}
