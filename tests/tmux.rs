//! A real pseudo-terminal for tests: a tmux server of our own (its socket in a fresh directory), typed at with
//! `send-keys` and read with `capture-pane`. Shared by the terminal UI tests (`ui_pty`) and the push-to-talk
//! conversation (`ptt_e2e`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A tmux server running `sh` (prompt `pty$ `) in one window, killed when the test ends, pass or fail.
pub struct Tmux {
    dir: PathBuf,
}

impl Tmux {
    pub fn start(width: u16, height: u16) -> Tmux {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let unique = format!("voxlive-tmux-{}-{n}-{nanos}", std::process::id());
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        let tmux = Tmux { dir };
        let (w, h) = (width.to_string(), height.to_string());
        let ok = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-x",
                &w,
                "-y",
                &h,
                "-s",
                "t",
                "env RUST_BACKTRACE=0 PS1='pty$ ' sh",
            ])
            .status()
            .expect("tmux is not installed: run scripts/setup.sh (or apt-get install -y tmux)");
        assert!(ok.success(), "tmux new-session failed");
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(self.dir.join("sock")).args(args);
        c.env_remove("TMUX");
        c
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().unwrap().success(), "send-keys {keys:?}");
    }

    pub fn text(&self, text: &str) {
        self.keys(&["-l", text]);
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "t"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The normal screen with up to `lines` of scrollback above it (what a program printed after it left the
    /// alternate screen, even when it has scrolled off).
    pub fn history(&self, lines: u32) -> String {
        let start = format!("-{lines}");
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "t", "-S", &start])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A file in this test's own directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` every 20 ms until it holds (waiting for an event, with a deadline, not a fixed sleep).
pub fn wait_until<T>(what: &str, deadline: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `s` quoted for a POSIX shell command line.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
