//! The live terminal UI in a real pseudo-terminal: tmux runs `tests/examples/ui_probe.rs` (built as the `ui_probe` example) in a shell, the test types
//! at it with `send-keys`, reads what the probe received from a file and the screen with `capture-pane`,
//! and checks the shell's terminal settings are back afterwards. tmux reports no key releases, so this is
//! the tap-to-toggle path; the hold-and-release path is covered by the key mapping's unit tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use voxlive::ui::TAP_REPEAT_DELAY;

use crate::tmux::{wait_until, Tmux};

/// Generous: the probe's first start may wait on a cold disk on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `cond` until it holds (this is waiting for an event, with a deadline, not a fixed sleep).
fn wait_for(what: &str, cond: impl FnMut() -> Option<String>) -> String {
    wait_until(what, DEADLINE, cond)
}

fn received(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait_received(tmux: &Tmux, out: &Path, want: &[&str]) {
    let got = wait_for(&format!("inputs {want:?}"), || {
        let got = received(out);
        // the "ready" line, then the inputs
        (got.len() > want.len()).then(|| got.join("\n"))
    });
    let got: Vec<&str> = got.lines().skip(1).collect();
    assert_eq!(got, want, "screen:\n{}", tmux.screen());
}

fn wait_screen(tmux: &Tmux, needle: &str) -> String {
    wait_for(&format!("{needle:?} on screen"), || {
        let s = tmux.screen();
        s.contains(needle).then_some(s)
    })
}

/// target/debug/examples/ui_probe beside this test binary (target/debug/deps/tests-*). `cargo test
/// --all-targets` builds it; `cargo test --test tests` does not, so a missing probe, or one older than the
/// UI's sources, fails with what to run (building it from here would wait on the lock cargo test holds).
fn probe_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let probe = profile_dir.join("examples").join("ui_probe");
    let hint = "run `cargo build --example ui_probe` (or `cargo test --all-targets`)";
    let built = std::fs::metadata(&probe)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", probe.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ui_dir = std::fs::read_dir(root.join("src/ui")).unwrap();
    let sources = ui_dir
        .flatten()
        .map(|e| e.path())
        .chain([root.join("tests/examples/ui_probe.rs")]);
    for src in sources {
        let changed = std::fs::metadata(&src).and_then(|m| m.modified()).unwrap();
        assert!(
            changed <= built,
            "{} is older than {}: {hint}",
            probe.display(),
            src.display()
        );
    }
    probe
}

/// A probe run in the tmux shell: `stty -a` before and after it, then `probe finished` (a marker that the
/// command line itself does not contain).
struct Run {
    out: PathBuf,
    before: PathBuf,
    after: PathBuf,
}

impl Run {
    fn start(tmux: &Tmux, args: &[&str]) -> Run {
        let probe = probe_binary();
        let run = Run {
            out: tmux.path("out"),
            before: tmux.path("before"),
            after: tmux.path("after"),
        };
        let line = format!(
            "stty -a > {}; {} {} {}; stty -a > {}; echo \"probe\" \"finished\"",
            run.before.display(),
            probe.display(),
            run.out.display(),
            args.join(" "),
            run.after.display()
        );
        wait_screen(tmux, "pty$");
        tmux.text(&line);
        tmux.keys(&["Enter"]);
        wait_for("the probe to start", || {
            received(&run.out).first().filter(|l| l.starts_with("ready")).cloned()
        });
        run
    }

    /// After the probe exited: the alternate screen is gone and stty's settings are as before.
    fn assert_restored(&self, tmux: &Tmux) -> String {
        let screen = wait_screen(tmux, "probe finished");
        assert!(!screen.contains("LISTENING"), "the alternate screen is gone: {screen}");
        let before = std::fs::read_to_string(&self.before).unwrap();
        let after = std::fs::read_to_string(&self.after).unwrap();
        assert_eq!(before, after, "stty settings differ after the UI exited");
        let words: Vec<&str> = after.split_whitespace().collect();
        assert!(words.contains(&"icanon") && words.contains(&"echo"), "{after}");
        screen
    }
}

#[test]
fn tap_to_toggle_typing_and_quit_in_a_real_terminal_then_the_terminal_is_restored() {
    let tmux = Tmux::start(100, 30);
    let run = Run::start(&tmux, &[]);
    let out = &run.out;
    assert_eq!(received(out)[0], "ready tap space to start and stop talking");
    let screen = wait_screen(&tmux, "tap space to start and stop talking");
    assert!(
        screen.contains("LISTENING") && screen.contains("push-to-talk"),
        "{screen}"
    );

    tmux.keys(&["Space"]);
    wait_received(&tmux, out, &["KeyDown"]);
    wait_screen(&tmux, "YOU ARE SPEAKING");
    // the user's pause between the taps: a press sooner than this is taken as the held key's auto-repeat
    std::thread::sleep(TAP_REPEAT_DELAY + Duration::from_millis(100));
    tmux.keys(&["Space"]);
    wait_received(&tmux, out, &["KeyDown", "KeyUp"]);
    let screen = wait_screen(&tmux, "voxlive: a reply with [2Jan escape in it");
    assert!(screen.contains("you: spoken turn 1"), "{screen}");

    // space types once the line is not empty, Backspace edits, Enter sends
    tmux.text("hi therex");
    tmux.keys(&["BSpace"]);
    wait_screen(&tmux, "> hi there_");
    tmux.keys(&["Enter"]);
    wait_received(&tmux, out, &["KeyDown", "KeyUp", "Line hi there"]);
    wait_screen(&tmux, "you (typed): hi there");

    tmux.keys(&["C-c"]);
    wait_received(&tmux, out, &["KeyDown", "KeyUp", "Line hi there", "Quit"]);
    let screen = run.assert_restored(&tmux);
    assert!(screen.contains("ui_probe: terminal restored"), "{screen}");
}

#[test]
fn hands_free_has_no_key_everything_types_and_esc_quits() {
    let tmux = Tmux::start(100, 30);
    let run = Run::start(&tmux, &["hands-free"]);
    assert_eq!(received(&run.out)[0], "ready hands-free");
    let screen = wait_screen(&tmux, "hands-free (local VAD)");
    assert!(screen.contains("just talk"), "{screen}");
    tmux.text(" hello");
    wait_screen(&tmux, ">  hello_");
    tmux.keys(&["Enter"]);
    wait_received(&tmux, &run.out, &["Line  hello"]);
    tmux.keys(&["Escape"]);
    wait_received(&tmux, &run.out, &["Line  hello", "Quit"]);
    run.assert_restored(&tmux);
}

#[test]
fn a_panic_restores_the_terminal_before_its_message_prints() {
    let tmux = Tmux::start(100, 30);
    let run = Run::start(&tmux, &[]);
    wait_screen(&tmux, "LISTENING");
    tmux.text("panic");
    tmux.keys(&["Enter"]);
    let screen = run.assert_restored(&tmux);
    assert!(
        screen.contains("ui_probe panics on purpose"),
        "the message is on the normal screen: {screen}"
    );
    assert!(!screen.contains("ui_probe: terminal restored"), "{screen}");
}
