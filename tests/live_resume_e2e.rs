//! A saved conversation resumed in the live terminal UI says so on the screen while the UI is up (a log
//! line would be held until the UI exits, where nobody reads it at the moment it matters). The real
//! `voxlive` on the PulseAudio virtual devices in a real pseudo-terminal (tmux), against an embedded server
//! in this process that issues resumption handles; the data directory is the test's own.
//!
//! Needs `source scripts/virtual-audio.sh start` (scripts/test.sh and CI do it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::tmux::{sh_quote, wait_until, Tmux};
use crate::util::{fast_config, start_server};

const DEADLINE: Duration = Duration::from_secs(20);

fn quoted(p: &Path) -> String {
    sh_quote(p.to_str().expect("a UTF-8 temp path"))
}

#[test]
fn a_resumed_saved_session_is_announced_on_the_live_screen() {
    let _devices = crate::util::devices_lock();
    let tmux = Tmux::start(200, 40);
    let dir = tmux.path("run");
    let (data, empty) = (dir.join("data"), dir.join("no-config"));
    std::fs::create_dir_all(&empty).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(start_server(fast_config()));
    let url = server.base_url();

    // first: a short live session without a terminal, saved as "trip" (with the server's handle)
    let first = Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .args(["--endpoint", &url, "--session", "trip", "--duration", "2", "--no-tui"])
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env("XDG_CONFIG_HOME", &empty)
        .env("VOXLIVE_DATA_DIR", &data)
        .stdin(Stdio::null())
        .output()
        .expect("voxlive runs");
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "first run failed: {said}");
    assert!(said.contains("saving this conversation as trip"), "{said}");

    // then: resumed in the terminal UI; the notice must be on the screen while the UI is up
    wait_until("the shell prompt", DEADLINE, || {
        tmux.screen().contains("pty$").then_some(())
    });
    let xdg_runtime = std::env::var("XDG_RUNTIME_DIR")
        .map(|d| format!(" XDG_RUNTIME_DIR={}", sh_quote(&d)))
        .unwrap_or_default();
    tmux.text(&format!(
        "env -u GEMINI_API_KEY -u GOOGLE_API_KEY XDG_CONFIG_HOME={} VOXLIVE_DATA_DIR={}{xdg_runtime} {} \
         --endpoint {} --resume trip --duration 120; echo \"live\" \"finished\"",
        quoted(&empty),
        quoted(&data),
        sh_quote(env!("CARGO_BIN_EXE_voxlive")),
        sh_quote(&url),
    ));
    tmux.keys(&["Enter"]);
    let screen = wait_until("the resume notice on the live screen", DEADLINE, || {
        let s = tmux.screen();
        (s.contains("LISTENING") && s.contains("resumed saved session trip")).then_some(s)
    });
    assert!(screen.contains("just talk"), "the terminal UI is up: {screen}");
    tmux.keys(&["C-c"]);
    let done = wait_until("voxlive to exit", DEADLINE, || {
        let s = tmux.screen();
        s.contains("live finished").then_some(s)
    });
    assert!(!done.contains("panicked"), "{done}");
    // announced on the screen, not held back and printed again after the UI exits
    assert!(!done.contains("voxlive: resumed saved session"), "{done}");
}
