//! Ephemeral tokens and Vertex AI against the real embedded server: a token minted by `voxlive token` from
//! our server and used until its uses run out, one past its new-session time, an unknown one, a locked
//! setup that overrides the client's; the Vertex URL, model path and bearer token; and neither the token
//! nor the bearer in any output at trace level (client and `voxlive serve`).

use std::process::Stdio;
use std::time::Duration;

use voxlive::auth::{self, MintOptions};
use voxlive::server::ServerConfig;
use voxlive::session::{self, ApiVersion, Credential, Endpoint, Secret, SessionError, SessionOptions, Vertex};

use crate::util::{err, fast_config, out, run_with, start_server, Serve, MODEL};

const KEY: &str = "the-servers-key-4f1b";

fn keyed() -> ServerConfig {
    ServerConfig {
        api_key: Some(KEY.into()),
        ..fast_config()
    }
}

/// `voxlive token ARGS` against `url` with the server's key: the token printed on stdout.
fn mint_cli(dir: &std::path::Path, url: &str, extra: &[&str]) -> String {
    let args = [&["token", "--endpoint", url][..], extra].concat();
    let o = run_with(dir, &args, &[("GEMINI_API_KEY", KEY)], "");
    assert!(o.status.success(), "{}", err(&o));
    let token = out(&o).trim().to_string();
    assert!(token.starts_with("auth_tokens/") && !token.contains('\n'), "{token}");
    assert!(err(&o).contains("ephemeral token for"), "{}", err(&o));
    token
}

/// A model with TEXT replies (gemini-3.8-live, the default, answers in AUDIO only), unless the test names
/// its own.
fn text_model(extra: &[&str]) -> &'static [&'static str] {
    if extra.contains(&"--model") {
        &[]
    } else {
        &["--model", "gemini-2.5-flash-native-audio-preview-12-2025"]
    }
}

fn chat_with_token(dir: &std::path::Path, url: &str, token: &str, extra: &[&str]) -> std::process::Output {
    let args = [
        &[
            "chat",
            "--endpoint",
            url,
            "--modality",
            "text",
            "--no-save",
            "--token",
            token,
        ][..],
        text_model(extra),
        extra,
    ]
    .concat();
    run_with(dir, &args, &[], "hello token\n")
}

#[test]
fn a_minted_token_starts_as_many_sessions_as_its_uses_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(keyed()));
    let url = server.base_url();
    let token = mint_cli(dir.path(), &url, &["--uses", "2"]);
    for n in 1..=2 {
        let o = chat_with_token(dir.path(), &url, &token, &[]);
        assert!(o.status.success(), "use {n}: {}", err(&o));
        assert!(out(&o).contains("assistant: You said: hello token"), "{}", out(&o));
    }
    let o = chat_with_token(dir.path(), &url, &token, &[]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("the token was rejected: the ephemeral token is used up"),
        "{}",
        err(&o)
    );

    let o = chat_with_token(dir.path(), &url, "auth_tokens/never-minted-0000", &[]);
    assert!(!o.status.success());
    assert!(err(&o).contains("unknown token"), "{}", err(&o));

    let wrong = run_with(
        dir.path(),
        &["token", "--endpoint", &url],
        &[("GEMINI_API_KEY", "not-the-key")],
        "",
    );
    assert!(!wrong.status.success());
    assert!(
        err(&wrong).contains("HTTP 400") && err(&wrong).contains("API key not valid"),
        "{}",
        err(&wrong)
    );
    let bad = run_with(
        dir.path(),
        &["token", "--endpoint", &url, "--expire", "21h"],
        &[("GEMINI_API_KEY", KEY)],
        "",
    );
    assert!(!bad.status.success());
    assert!(err(&bad).contains("--expire"), "{}", err(&bad));
}

fn token_endpoint(server: &voxlive::server::ServerHandle, token: &str) -> Endpoint {
    let credential = Credential::EphemeralToken(Secret::new(token));
    Endpoint::new(&server.base_url(), ApiVersion::V1alpha, credential).unwrap()
}

#[tokio::test]
async fn a_session_ends_at_its_tokens_expire_time_and_new_ones_are_refused_after_new_session_time() {
    let server = start_server(keyed()).await;
    let endpoint = crate::util::endpoint(&server, Some(KEY));
    let mint = |expire: u64, new_session: u64| {
        let options = MintOptions {
            uses: 0,
            expire: Duration::from_secs(expire),
            new_session_expire: Duration::from_secs(new_session),
            locked_setup: None,
        };
        let endpoint = endpoint.clone();
        async move { auth::mint(&endpoint, &options, Duration::from_secs(10)).await.unwrap() }
    };
    // a: new sessions for 1 s; b: sessions end after 2 s (truncated to whole seconds, so after a's 1 s)
    let a = mint(600, 1).await.name.unwrap();
    let b = mint(2, 1).await.name.unwrap();
    let setup = crate::util::setup(voxlive::protocol::Modality::Text, false);
    let (_session, mut events) = session::start(SessionOptions::new(token_endpoint(&server, &b), setup.clone()))
        .await
        .expect("a fresh token starts a session");
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Some(session::Event::Closed { reason, .. }) => return reason,
                Some(_) => {}
                None => return "events ended without Closed".into(),
            }
        }
    })
    .await
    .expect("the server ends the session when its token expires");
    assert!(closed.contains("the ephemeral token has expired"), "{closed}");
    let refused = session::start(SessionOptions::new(token_endpoint(&server, &a), setup)).await;
    match refused {
        Err(SessionError::Auth(reason)) => assert!(reason.contains("newSessionExpireTime"), "{reason}"),
        Err(other) => panic!("expected a token refusal, got {other}"),
        Ok(_) => panic!("a token past its newSessionExpireTime started a session"),
    }
}

#[test]
fn a_locked_setup_overrides_what_the_client_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(keyed()));
    let url = server.base_url();
    let model = MODEL.trim_start_matches("models/");
    // the token's minter fixes the model; the client then asks for one the server does not know
    let locked = mint_cli(
        dir.path(),
        &url,
        &["--uses", "0", "--lock-setup", "--modality", "text", "--model", model],
    );
    let unlocked = mint_cli(dir.path(), &url, &["--uses", "0"]);
    let imaginary = ["--model", "gemini-9-imaginary"];
    let o = chat_with_token(dir.path(), &url, &unlocked, &imaginary);
    assert!(!o.status.success(), "without a lock the client's model is used");
    assert!(err(&o).contains("gemini-9-imaginary does not exist"), "{}", err(&o));
    let o = chat_with_token(dir.path(), &url, &locked, &imaginary);
    assert!(
        o.status.success(),
        "the locked model replaced the client's: {}",
        err(&o)
    );
    assert!(out(&o).contains("assistant: You said: hello token"), "{}", out(&o));
}

#[test]
fn vertex_builds_its_url_model_path_and_bearer_and_our_server_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // the server's key is the bearer token it expects on the Vertex path
    let server = rt.block_on(start_server(keyed()));
    let url = server.base_url();
    let vertex = ["--vertex", "--project", "my-project-42", "--location", "europe-west4"];
    let chat = |bearer: &str, extra: &[&str]| {
        let args = [
            &["chat", "--endpoint", &url, "--modality", "text", "--no-save"][..],
            text_model(extra),
            &vertex,
            extra,
        ]
        .concat();
        run_with(
            dir.path(),
            &args,
            &[("GOOGLE_CLOUD_ACCESS_TOKEN", bearer)],
            "hello vertex\n",
        )
    };
    let o = chat(KEY, &[]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("assistant: You said: hello vertex"), "{}", out(&o));
    let o = chat("ya29.a-wrong-bearer", &[]);
    assert!(!o.status.success());
    assert!(err(&o).contains("API key was rejected"), "{}", err(&o));
    // the server read the model from the resource name's last segment
    let o = chat(KEY, &["--model", "gemini-9-imaginary"]);
    assert!(err(&o).contains("gemini-9-imaginary does not exist"), "{}", err(&o));

    let missing = run_with(dir.path(), &[&["chat", "--no-save"][..], &vertex].concat(), &[], "x\n");
    assert!(!missing.status.success());
    assert!(err(&missing).contains("GOOGLE_CLOUD_ACCESS_TOKEN"), "{}", err(&missing));
    let bad = run_with(
        dir.path(),
        &["chat", "--vertex", "--project", "../evil", "--location", "us-central1"],
        &[("GOOGLE_CLOUD_ACCESS_TOKEN", KEY)],
        "",
    );
    assert!(!bad.status.success());
    assert!(err(&bad).contains("--project"), "{}", err(&bad));

    // what the client puts on the wire
    let v = Vertex::new("my-project-42", "europe-west4").unwrap();
    let mut e = Endpoint::new(&url, ApiVersion::V1beta, Credential::Bearer(Secret::new(KEY))).unwrap();
    e.vertex = Some(v);
    assert!(e
        .ws_url()
        .as_str()
        .ends_with("/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"));
    let o = SessionOptions::new(e, crate::util::setup(voxlive::protocol::Modality::Text, false));
    assert_eq!(
        o.setup.model,
        format!(
            "projects/my-project-42/locations/europe-west4/publishers/google/models/{}",
            MODEL.trim_start_matches("models/")
        )
    );
}

/// `chat --modality text` on a TEXT model against `url`, saving nothing, with `extra` flags and `env`;
/// "hi" is the one line typed.
fn text_chat(dir: &std::path::Path, url: &str, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let args = [
        &["chat", "--endpoint", url, "--modality", "text", "--no-save"][..],
        text_model(extra),
        extra,
    ]
    .concat();
    run_with(dir, &args, env, "hi\n")
}

#[test]
fn tokens_and_bearers_never_appear_in_trace_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Serve::start_with(
        &["--api-key-env", "VOX_SERVE_KEY", "--no-pacing"],
        &[("VOX_SERVE_KEY", KEY), ("RUST_LOG", "trace")],
        Stdio::from(log),
    );
    let trace = [("RUST_LOG", "trace")];
    let o = run_with(
        dir.path(),
        &["token", "--endpoint", &server.url],
        &[("GEMINI_API_KEY", KEY), trace[0]],
        "",
    );
    assert!(o.status.success(), "{}", err(&o));
    let token = out(&o).trim().to_string();
    assert!(
        !err(&o).contains(&token) && !err(&o).contains(KEY),
        "the minting client's log"
    );
    let token_id = token.trim_start_matches("auth_tokens/");

    let o = text_chat(dir.path(), &server.url, &["--token", &token], &trace);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).lines().count() > 5, "trace logging was on");
    assert!(
        !err(&o).contains(token_id) && !out(&o).contains(token_id),
        "{}",
        err(&o)
    );

    let bearer = "ya29.bearer-secret-77aa";
    let vertex = ["--vertex", "--project", "my-project-42", "--location", "us-east1"];
    let o = text_chat(
        dir.path(),
        &server.url,
        &vertex,
        &[("GOOGLE_CLOUD_ACCESS_TOKEN", bearer), trace[0]],
    );
    assert!(!o.status.success(), "our server wants its key as the bearer");
    assert!(
        !err(&o).contains(bearer) && !err(&o).contains("bearer-secret"),
        "{}",
        err(&o)
    );
    drop(server);
    let server_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        server_log.contains("minted an ephemeral token"),
        "the server logged at trace level"
    );
    assert!(!server_log.contains(token_id), "the server never logs a token");
    assert!(!server_log.contains(KEY) && !server_log.contains("bearer-secret"));
}

#[tokio::test]
async fn a_token_in_the_access_token_query_parameter_is_admitted_too() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = start_server(keyed()).await;
    let options = MintOptions {
        uses: 1,
        expire: Duration::from_secs(600),
        new_session_expire: Duration::from_secs(60),
        locked_setup: None,
    };
    let endpoint = crate::util::endpoint(&server, Some(KEY));
    let token = auth::mint(&endpoint, &options, Duration::from_secs(10))
        .await
        .unwrap()
        .name
        .unwrap();
    // the form Google's JS SDK and hand-made clients use: the token in the query, no header
    let url = format!(
        "{}/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained?access_token={token}",
        server.base_url()
    );
    let setup =
        voxlive::protocol::ClientMessage::Setup(Box::new(crate::util::setup(voxlive::protocol::Modality::Text, false)));
    let first_reply = |url: String| {
        let setup = setup.to_json();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            ws.send(Message::text(setup)).await.unwrap();
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap() {
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(Message::Close(frame))) => format!("close {frame:?}"),
                other => format!("{other:?}"),
            }
        }
    };
    let reply = first_reply(url.clone()).await;
    assert!(reply.contains("setupComplete"), "{reply}");
    let reply = first_reply(url).await;
    assert!(reply.contains("close") && reply.contains("used up"), "{reply}");
}
