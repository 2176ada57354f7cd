//! Handshake paths, keys and tokens, setup validation, malformed frames, pings and TLS.

use super::*;

#[tokio::test]
async fn handshake_accepts_live_paths_and_refuses_others_with_404() {
    let server = start(fast()).await;
    let base = server.base_url();
    for path in [
        PATH.to_string(),
        PATH.replace("v1beta", "v1"),
        PATH.replace("v1beta", "v1alpha"),
        format!("/{PATH}"),
        format!("/some/prefix{PATH}"),
        "//ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained".into(),
    ] {
        let mut c = connect(&format!("{base}{path}")).await;
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some(), "{path}");
    }
    for path in ["/ws/nothing", "/", &PATH.replace("v1beta", "v2")] {
        match tokio_tungstenite::connect_async(format!("{base}{path}")).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404, "{path}"),
            other => panic!("{path}: expected 404, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn key_is_accepted_from_header_query_and_token() {
    let server = start(ServerConfig {
        api_key: Some("s3cret".into()),
        ..fast()
    })
    .await;
    let base = server.base_url();
    let mut req = format!("{base}{PATH}").into_client_request().unwrap();
    req.headers_mut()
        .insert("x-goog-api-key", HeaderValue::from_static("s3cret"));
    let constrained =
        format!("{base}/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained");
    let mut token = constrained.as_str().into_client_request().unwrap();
    token
        .headers_mut()
        .insert("authorization", HeaderValue::from_static("Token s3cret"));
    let clients = vec![
        tokio_tungstenite::connect_async(req).await.unwrap().0,
        connect(&format!("{base}{PATH}?key=s3cret")).await,
        tokio_tungstenite::connect_async(token).await.unwrap().0,
        connect(&format!("{constrained}?access_token=s3cret")).await,
    ];
    for mut c in clients {
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some());
    }
}

#[tokio::test]
async fn wrong_or_missing_key_closes_1008() {
    let server = start(ServerConfig {
        api_key: Some("s3cret".into()),
        ..fast()
    })
    .await;
    for url in [
        format!("{}{PATH}?key=wrong", server.base_url()),
        format!("{}{PATH}", server.base_url()),
    ] {
        let mut c = connect(&url).await;
        let (code, reason) = expect_close(&mut c).await;
        assert_eq!(code, 1008);
        assert!(reason.contains("API key not valid"), "{reason}");
        assert!(!reason.contains("wrong"));
    }
}

#[tokio::test]
async fn setup_is_validated_against_the_catalog() {
    let server = start(fast()).await;
    let url = format!("{}{PATH}", server.base_url());
    let mut c = connect(&url).await;
    send(&mut c, json!({"setup": {"model": "models/gemini-9-live"}})).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1008);
    assert!(
        reason.contains("gemini-9-live") && reason.contains("known models: gemini-3.8-live"),
        "{reason}"
    );

    let mut c = connect(&url).await;
    send(&mut c, json!({"setup": {"model": "models/gemini-2.0-flash-live-001"}})).await;
    assert_eq!(expect_close(&mut c).await.0, 1008);

    let mut c = connect(&url).await;
    let bad_voice = json!({"generationConfig": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}}});
    send(&mut c, setup_json(bad_voice)).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("Nobody"), "{reason}");

    let mut c = connect(&url).await;
    send(&mut c, audio(&[0; 10])).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("setup"), "{reason}");
}

#[tokio::test]
async fn malformed_frames_and_unknown_keys_close_1007() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    c.send(Message::binary(b"{not json".to_vec())).await.unwrap();
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("malformed"), "{reason}");

    let mut c = session(&server, json!({})).await;
    send(&mut c, json!({"bogusMessage": {}})).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("bogusMessage"), "{reason}");
}

#[tokio::test]
async fn tls_serves_wss_with_a_trusted_generated_certificate() {
    let server = start(fast().with_generated_tls().unwrap()).await;
    assert!(server.base_url().starts_with("wss://127.0.0.1:"));
    let pem = server.cert_pem().unwrap().to_string();
    let path = std::env::temp_dir().join(format!("voxlive-test-cert-{}.pem", server.local_addr().port()));
    server.write_cert_pem(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    let _ = std::fs::remove_file(&path);

    let mut roots = rustls::RootCertStore::empty();
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    for host in ["127.0.0.1".to_string(), "localhost".to_string()] {
        let url = format!("wss://{host}:{}{PATH}", server.local_addr().port());
        let connector = tokio_tungstenite::Connector::Rustls(Arc::new(config.clone()));
        let (mut c, _) = tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
            .await
            .unwrap();
        send(&mut c, setup_json(json!({}))).await;
        assert!(recv_msg(&mut c).await.setup_complete.is_some());
    }
}

#[tokio::test]
async fn pings_are_answered() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    c.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, c.next()).await.expect("no pong") {
            Some(Ok(Message::Pong(p))) => break assert_eq!(&p[..], b"hi"),
            Some(Ok(_)) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn shutdown_closes_open_sessions_with_1001() {
    let server = start(fast()).await;
    let mut c = session(&server, json!({})).await;
    let stopping = tokio::spawn(server.shutdown());
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    drop(c);
    stopping.await.unwrap().unwrap();
}
