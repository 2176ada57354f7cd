//! A hostile client against `voxlive serve`: each abuse ends in a clear close (the code protocol.md gives)
//! within the server's limits, and the server goes on serving the next, well-behaved client.

use super::*;
use voxlive::server::ServerLimits;

fn limited(limits: ServerLimits) -> ServerConfig {
    ServerConfig { limits, ..fast() }
}

/// A well-behaved client still gets a full turn.
async fn still_serves(server: &ServerHandle) {
    let mut c = session(server, manual()).await;
    send(&mut c, json!({"realtimeInput": {"activityStart": {}}})).await;
    send(&mut c, audio(&ramp(3200))).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut c).await;
    assert!(!turn.audio.is_empty());
}

#[tokio::test]
async fn over_the_connection_limit_is_a_quota_close_and_others_are_served() {
    let server = start(limited(ServerLimits {
        max_connections: 1,
        ..ServerLimits::default()
    }))
    .await;
    let first = session(&server, manual()).await;
    let mut second = connect(&format!("{}{PATH}", server.base_url())).await;
    let (code, reason) = expect_close(&mut second).await;
    assert_eq!(code, 1011);
    assert!(reason.contains("too many concurrent connections"), "{reason}");
    drop(first);
    // the slot comes back once the first connection is gone; a later client is served
    let mut served = false;
    for _ in 0..50 {
        let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
        send(&mut c, setup_json(manual())).await;
        if let Got::Msg(m) = recv(&mut c).await {
            served = m.setup_complete.is_some();
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(served, "the server serves again after the first client left");
}

#[tokio::test]
async fn no_setup_in_time_is_a_policy_close() {
    let server = start(limited(ServerLimits {
        setup_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    }))
    .await;
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("no setup message"), "{reason}");
    still_serves(&server).await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_closed_with_1009() {
    let server = start(limited(ServerLimits {
        max_message_size: 64 * 1024,
        ..ServerLimits::default()
    }))
    .await;
    let mut c = session(&server, manual()).await;
    send(&mut c, audio(&ramp(100_000))).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("too big"), "{reason}");
    still_serves(&server).await;
}

#[tokio::test]
async fn a_message_flood_is_closed_by_the_rate_limit() {
    let server = start(limited(ServerLimits {
        max_messages_per_sec: 20,
        ..ServerLimits::default()
    }))
    .await;
    let mut c = session(&server, manual()).await;
    // far more than the 40-message burst, as fast as the socket takes them
    for _ in 0..400 {
        if c.send(Message::text(audio(&ramp(16)).to_string())).await.is_err() {
            break;
        }
    }
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("rate limit"), "{reason}");
    still_serves(&server).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_1001() {
    let server = start(limited(ServerLimits {
        idle_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    }))
    .await;
    let mut c = session(&server, manual()).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("idle"), "{reason}");
}

#[tokio::test]
async fn absurd_values_are_refused_or_ignored_never_a_crash() {
    let server = start(fast()).await;
    let mut c = session(&server, manual()).await;
    // a sample rate of 1 Hz (would be a 16000-fold upsampling) and of 4 GHz: taken as 16 kHz
    for rate in ["1", "4294967295", "0", "-5", "nan"] {
        send(
            &mut c,
            json!({"realtimeInput": {"audio": {"mimeType": format!("audio/pcm;rate={rate}"), "data": encode_base64(&pcm16_to_bytes(&ramp(320)))}}}),
        )
        .await;
    }
    send(
        &mut c,
        json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": "%%% not base64"}}}),
    )
    .await;
    // a garbage message is a clear 1007, not a dead server
    send(&mut c, json!({"bogus": {"x": [1, 2, 3]}})).await;
    let (code, _) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    // a setup with an absurd handle: not one this server issued
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(
        &mut c,
        setup_json(json!({"sessionResumption": {"handle": "x".repeat(100_000)}})),
    )
    .await;
    assert_eq!(expect_close(&mut c).await.0, 1008);
    // a negative count where an unsigned one belongs: invalid argument
    let mut c = connect(&format!("{}{PATH}", server.base_url())).await;
    send(&mut c, setup_json(json!({"generationConfig": {"maxOutputTokens": -1}}))).await;
    assert_eq!(expect_close(&mut c).await.0, 1007);
    still_serves(&server).await;
}

#[tokio::test]
async fn prometheus_metrics_count_connections_messages_and_faults() {
    let config = fast();
    let counts = config.fault_counts.clone();
    let server = start(config).await;
    let mut c = session(&server, manual()).await;
    send(&mut c, json!({"realtimeInput": {"activityEnd": {}}})).await;
    read_turn(&mut c).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(voxlive::server::metrics::serve_prometheus(
        listener,
        server.metrics().clone(),
        counts,
    ));
    let mut http = TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tokio::time::timeout(WAIT, http.read_to_string(&mut body))
        .await
        .unwrap()
        .unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(body.contains("voxlive_connections_total 1\n"), "{body}");
    assert!(body.contains("voxlive_messages_received_total 1\n"), "{body}");
    assert!(body.contains("voxlive_sessions_started_total 1\n"), "{body}");
    assert!(
        body.contains("voxlive_faults_injected_total{kind=\"drop\"} 0\n"),
        "{body}"
    );
    task.abort();
}
