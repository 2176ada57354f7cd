//! Saved sessions through the `voxlive` binary: `--resume` after the client restarts, by handle (a separate
//! `voxlive serve` that outlives the client continues the same conversation) and by history (the server
//! restarted, or the handle expired: the saved turns reach the new server as clientContent), `sessions
//! list|show|rm`, a corrupt file, and a client killed mid-conversation leaving a whole file.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use voxlive::persist::{Role, Store};
use voxlive::protocol::ClientMessage;
use voxlive::server::{MessageLog, ServerConfig};

use crate::util::{err, fast_config, out, run, start_server, voxlive_command, Serve};

fn two_turn_script(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("script.toml");
    std::fs::write(
        &path,
        "[[turn]]\nparts = [{ text = \"first scripted reply\" }]\n\n[[turn]]\nparts = [{ text = \"second scripted reply\" }]\n",
    )
    .unwrap();
    path
}

fn store(data: &Path) -> Store {
    Store::at(data.join("sessions"))
}

#[test]
fn resume_by_handle_after_the_client_restarts_continues_the_same_server_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let script = two_turn_script(dir.path());
    let server = Serve::start(&["--no-pacing", "--responder", &format!("script:{}", script.display())]);
    let chat = [
        "chat",
        "--endpoint",
        &server.url,
        "--model",
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "--modality",
        "text",
    ];

    let first = run(dir.path(), &[&chat[..], &["--session", "kept"]].concat(), "hello\n");
    assert!(first.status.success(), "{}", err(&first));
    assert!(
        out(&first).contains("assistant: first scripted reply"),
        "{}",
        out(&first)
    );
    assert!(
        err(&first).contains("saving this conversation as kept"),
        "{}",
        err(&first)
    );
    let saved = store(dir.path()).load("kept").unwrap();
    assert!(saved.handle.is_some(), "the newest handle was saved");

    // a new client process; `--resume` without a name takes the most recent session
    let second = run(dir.path(), &[&chat[..], &["--resume"]].concat(), "again\n");
    assert!(second.status.success(), "{}", err(&second));
    assert!(
        err(&second).contains("resumed saved session kept with its resumption handle"),
        "{}",
        err(&second)
    );
    // the server went on from its first turn: a fresh session would have answered with the first reply
    assert!(
        out(&second).contains("assistant: second scripted reply"),
        "{}",
        out(&second)
    );
    let saved = store(dir.path()).load("kept").unwrap();
    let texts: Vec<_> = saved.turns.iter().map(|t| (t.role, t.text.as_str())).collect();
    assert_eq!(
        texts,
        [
            (Role::User, "hello"),
            (Role::Model, "first scripted reply"),
            (Role::User, "again"),
            (Role::Model, "second scripted reply")
        ]
    );
}

/// The clientContent messages a server received that ask for no reply (seeded history).
fn seeded_history(log: &MessageLog) -> Vec<Vec<(String, String)>> {
    log.snapshot()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::ClientContent(c) if c.turn_complete != Some(true) => Some(
                c.turns
                    .iter()
                    .map(|t| (t.role.clone().unwrap_or_default(), t.joined_text()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn logged_server(log: &MessageLog) -> ServerConfig {
    ServerConfig {
        message_log: Some(log.clone()),
        ..fast_config()
    }
}

#[test]
fn resume_by_history_when_the_server_no_longer_knows_the_handle() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let old = rt.block_on(start_server(fast_config()));
    let url = old.base_url();
    let chat = |url: &str, extra: &[&str], input: &str| {
        let args = [
            &[
                "chat",
                "--endpoint",
                url,
                "--model",
                "gemini-2.5-flash-native-audio-preview-12-2025",
                "--modality",
                "text",
            ][..],
            extra,
        ]
        .concat();
        run(dir.path(), &args, input)
    };
    let first = chat(&url, &["--session", "alice"], "my name is Alice\n");
    assert!(first.status.success(), "{}", err(&first));
    drop(old);

    // a new server (a restart): it never issued the saved handle
    let log = MessageLog::default();
    let new = rt.block_on(start_server(logged_server(&log)));
    let second = chat(&new.base_url(), &["--resume", "alice"], "what is my name\n");
    assert!(second.status.success(), "{}", err(&second));
    assert!(
        err(&second).contains("continued saved session alice from its transcript: 2 turns sent as history (the server refused the saved handle"),
        "{}",
        err(&second)
    );
    assert_eq!(
        seeded_history(&log),
        [vec![
            ("user".to_string(), "my name is Alice".to_string()),
            ("model".to_string(), "You said: my name is Alice".to_string())
        ]],
        "the saved turns reached the new server as history"
    );
    assert!(out(&second).contains("assistant: You said: what is my name"));
    let saved = store(dir.path()).load("alice").unwrap();
    assert_eq!(saved.turns.len(), 4, "the resumed conversation goes on saving");
}

#[test]
fn an_expired_handle_is_not_tried_and_the_history_is_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = MessageLog::default();
    let server = rt.block_on(start_server(logged_server(&log)));
    let url = server.base_url();
    let chat = [
        "chat",
        "--endpoint",
        &url,
        "--model",
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "--modality",
        "text",
    ];
    let first = run(
        dir.path(),
        &[&chat[..], &["--session", "old"]].concat(),
        "remember 42\n",
    );
    assert!(first.status.success(), "{}", err(&first));
    // three hours pass (the file says so)
    let store = store(dir.path());
    let mut saved = store.load("old").unwrap();
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(3);
    saved.updated = past;
    saved.handle.as_mut().expect("a handle was saved").received = past;
    store.save(&saved).unwrap();
    let listed = run(dir.path(), &["sessions", "list"], "");
    assert!(out(&listed).contains("expired"), "{}", out(&listed));

    let second = run(
        dir.path(),
        &[&chat[..], &["--resume", "old"]].concat(),
        "which number\n",
    );
    assert!(second.status.success(), "{}", err(&second));
    assert!(err(&second).contains("has expired"), "{}", err(&second));
    let seeded = seeded_history(&log);
    assert_eq!(seeded.len(), 1, "{seeded:?}");
    assert_eq!(seeded[0][0], ("user".to_string(), "remember 42".to_string()));
}

#[test]
fn sessions_list_show_and_rm() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(fast_config()));
    let url = server.base_url();
    for (name, line) in [("one", "first line"), ("two", "second line")] {
        let o = run(
            dir.path(),
            &[
                "chat",
                "--endpoint",
                &url,
                "--model",
                "gemini-2.5-flash-native-audio-preview-12-2025",
                "--modality",
                "text",
                "--session",
                name,
            ],
            &format!("{line}\n"),
        );
        assert!(o.status.success(), "{}", err(&o));
    }
    let listed = out(&run(dir.path(), &["sessions", "list"], ""));
    let lines: Vec<_> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[1].starts_with("two ") && lines[1].ends_with("valid"),
        "newest first: {listed}"
    );
    assert!(lines[2].starts_with("one "), "{listed}");

    let shown = run(dir.path(), &["sessions", "show", "one"], "");
    assert!(shown.status.success());
    assert!(
        out(&shown).contains("you: first line\nassistant: You said: first line"),
        "{}",
        out(&shown)
    );

    let taken = run(dir.path(), &["chat", "--endpoint", &url, "--session", "one"], "x\n");
    assert!(!taken.status.success());
    assert!(err(&taken).contains("exists already"), "{}", err(&taken));

    let removed = run(dir.path(), &["sessions", "rm", "one"], "");
    assert!(removed.status.success(), "{}", err(&removed));
    let gone = run(dir.path(), &["sessions", "show", "one"], "");
    assert!(!gone.status.success());
    assert!(err(&gone).contains("no saved session named \"one\""), "{}", err(&gone));
    let misplaced = run(dir.path(), &["--resume", "chat"], "");
    assert!(!misplaced.status.success());
    assert!(
        err(&misplaced).contains("put --resume after the command"),
        "{}",
        err(&misplaced)
    );
    for bad in ["../etc/passwd", "a/b", ".."] {
        let o = run(dir.path(), &["sessions", "rm", bad], "");
        assert!(!o.status.success());
        assert!(err(&o).contains("invalid session name"), "{bad}: {}", err(&o));
    }
}

#[test]
fn a_corrupt_saved_file_is_one_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    std::fs::write(
        sessions.join("broken.json"),
        "{\"version\": 1, \"name\": \"broken\", \"turns\": [",
    )
    .unwrap();
    // valid JSON of another session, copied under a new name
    let other = voxlive::persist::SavedSession::new("other", "m", time::OffsetDateTime::now_utc());
    std::fs::write(sessions.join("renamed.json"), other.to_json()).unwrap();
    for args in [
        vec!["sessions", "show", "broken"],
        vec!["chat", "--resume", "broken"],
        vec!["chat", "--resume", "renamed"],
    ] {
        let o = run(dir.path(), &args, "");
        assert!(!o.status.success(), "{args:?}");
        let e = err(&o);
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        assert!(
            e.starts_with("voxlive: error: saved session ") && e.contains("is corrupt"),
            "{e}"
        );
        assert!(e.contains(".json"), "the file is named: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let listed = run(dir.path(), &["sessions", "list"], "");
    assert!(listed.status.success());
    assert!(
        out(&listed).contains("broken") && out(&listed).contains("unreadable"),
        "{}",
        out(&listed)
    );
}

#[test]
fn a_client_killed_mid_conversation_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start_server(fast_config()));
    let mut child = voxlive_command(dir.path(), &dir.path().join("no-config"))
        .args([
            "chat",
            "--endpoint",
            &server.base_url(),
            "--model",
            "gemini-2.5-flash-native-audio-preview-12-2025",
            "--modality",
            "text",
            "--session",
            "k",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
    // every reply is followed by a save; keep the writer busy and kill the client while it writes
    for i in 0..30 {
        writeln!(stdin, "line number {i} {}", "x".repeat(2000)).unwrap();
        let reply = replies.next().expect("a reply").unwrap();
        assert!(reply.contains(&format!("line number {i}")), "{reply}");
    }
    writeln!(stdin, "the last line").unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let saved = store(dir.path()).load("k").expect("the saved file is whole and valid");
    // saved while it ran (nothing is written at a kill): at least the first turn is there
    assert!(
        saved.turns.len() >= 2,
        "turns saved before the kill: {}",
        saved.turns.len()
    );
    let listed = out(&run(dir.path(), &["sessions", "list"], ""));
    assert!(!listed.contains(".part") && !listed.contains("unreadable"), "{listed}");
}
