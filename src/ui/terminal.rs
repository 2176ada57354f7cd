//! The live terminal UI: [`TerminalUi`] owns the terminal for the conversation. Two std threads do the work,
//! so the front end's task never waits on the terminal:
//! - the key thread reads crossterm events, folds them through [`KeyMapper`] and sends [`UserInput`] on a
//!   tokio channel (stamped with `Instant::now()` as each event is read);
//! - the render thread owns the ratatui terminal and redraws [`Screen`] when something changed, at most
//!   `max_fps` times a second.
//!
//! Raw mode, the alternate screen, the hidden cursor and the keyboard enhancement flags are undone on every
//! exit path: [`Renderer::finish`], `Drop`, and a panic hook (on any thread) that restores the terminal
//! before the panic message prints.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::event::{
    self, Event, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::{cursor, execute, terminal};
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::conversation::{Notice, Status, TalkMode};

use super::{KeyMapper, KeyMode, KeySpec, Renderer, Screen, UiError, UserInput};

/// How long the key thread waits for an event before it looks at the stop flag (bounds shutdown time).
const KEY_POLL: Duration = Duration::from_millis(50);
/// Key presses waiting for the front end; beyond this they are dropped (with a warning), never blocking.
const INPUT_QUEUE: usize = 256;

/// How to start the terminal UI.
#[derive(Debug, Clone)]
pub struct TerminalOptions {
    pub mode: TalkMode,
    /// The push-to-talk key (push-to-talk mode only; `None`: space). Hands-free has no key: everything types.
    pub ptt_key: Option<KeySpec>,
    /// Ask the terminal to report key releases (hold to talk) where it can; `false` forces tap-to-toggle.
    pub key_release: bool,
    /// Most redraws per second (also how often the UI asks for a [`Status`]).
    pub max_fps: u32,
}

impl TerminalOptions {
    pub fn new(mode: TalkMode) -> Self {
        TerminalOptions {
            mode,
            ptt_key: None,
            key_release: true,
            max_fps: 30,
        }
    }
}

/// Whether both standard input and output are terminals (the live UI needs both; else use plain lines).
pub fn is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

enum UiMsg {
    Notice(Notice),
    Status(Box<Status>),
    Input(String),
    Resize,
    Stop,
}

/// The terminal is in UI mode (raw, alternate screen): restore it on exit or panic.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The keyboard enhancement flags were pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Whether the UI owns the terminal now (log lines must not be written to it).
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Pretends the UI owns the terminal (the log writer's tests), without touching the terminal.
#[cfg(test)]
pub(crate) fn set_active_for_test(active: bool) {
    ACTIVE.store(active, Ordering::SeqCst);
}

/// Puts the terminal back as it was; idempotent, safe from a panic hook.
pub(crate) fn restore_terminal() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(out, cursor::Show, terminal::LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
    super::log::terminal_restored();
}

fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// The live terminal UI; a [`Renderer`] whose key presses arrive on the receiver `start` returns.
pub struct TerminalUi {
    tx: std_mpsc::Sender<UiMsg>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    key_mode: Option<KeyMode>,
    key_label: Option<String>,
    frame: Duration,
}

impl TerminalUi {
    /// Takes over the terminal (raw mode, alternate screen, hidden cursor, key release reporting where the
    /// terminal supports it) and starts the key and render threads. Call it outside any tokio runtime
    /// worker's blocking section: it may wait up to 2 s for a silent terminal to answer the capability query.
    pub fn start(opts: TerminalOptions) -> Result<(TerminalUi, mpsc::Receiver<UserInput>), UiError> {
        if !is_terminal() {
            return Err(UiError::NotATerminal);
        }
        install_panic_hook();
        let setup = setup_terminal(opts.key_release && opts.mode == TalkMode::PushToTalk);
        let (term, enhanced) = setup.inspect_err(|_| restore_terminal())?;
        let ptt = (opts.mode == TalkMode::PushToTalk).then(|| {
            let key = opts.ptt_key.unwrap_or_default();
            let mode = if enhanced {
                KeyMode::HoldRelease
            } else {
                KeyMode::TapToggle
            };
            (key, mode)
        });
        let key_label = ptt.map(|(k, m)| m.label(&k));
        tracing::info!(key_mode = key_label.as_deref().unwrap_or("none"), "terminal UI started");
        let screen = Screen::new(opts.mode, key_label.clone());
        let frame = Duration::from_secs(1) / opts.max_fps.clamp(1, 120);
        let (tx, rx) = std_mpsc::channel();
        let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let mut ui = TerminalUi {
            tx: tx.clone(),
            stop: stop.clone(),
            threads: Vec::new(),
            key_mode: ptt.map(|(_, m)| m),
            key_label,
            frame,
        };
        let render = std::thread::Builder::new()
            .name("voxlive-ui".into())
            .spawn(move || render_loop(term, screen, rx, frame));
        ui.threads
            .push(render.map_err(|source| UiError::Thread { what: "render", source })?);
        let mapper = KeyMapper::new(ptt);
        let keys = std::thread::Builder::new()
            .name("voxlive-keys".into())
            .spawn(move || key_loop(mapper, input_tx, tx, stop));
        ui.threads
            .push(keys.map_err(|source| UiError::Thread { what: "key", source })?);
        Ok((ui, input_rx))
    }

    /// How the push-to-talk key works here (`None` in hands-free mode).
    pub fn key_mode(&self) -> Option<KeyMode> {
        self.key_mode
    }

    /// The key mode as shown on screen, e.g. "tap space to start and stop talking", for `Status::key_mode`.
    pub fn key_label(&self) -> Option<&str> {
        self.key_label.as_deref()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.send(UiMsg::Stop);
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::warn!("a terminal UI thread panicked");
            }
        }
        restore_terminal();
    }
}

impl Renderer for TerminalUi {
    fn show(&mut self, notice: &Notice) {
        // a dead render thread (it panicked) must not take the conversation with it
        let _ = self.tx.send(UiMsg::Notice(notice.clone()));
    }

    fn status(&mut self, status: &Status) {
        let _ = self.tx.send(UiMsg::Status(Box::new(status.clone())));
    }

    fn status_interval(&self) -> Option<Duration> {
        Some(self.frame)
    }

    fn finish(&mut self) {
        self.shutdown();
    }
}

impl Drop for TerminalUi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Buffered: stdout is line-buffered with a small buffer, which would cost several writes per frame.
type Term = ratatui::Terminal<CrosstermBackend<io::BufWriter<io::Stdout>>>;

/// Raw mode, the capability query, alternate screen, hidden cursor, enhancement flags. Returns the ratatui
/// terminal and whether key releases will be reported. On error the caller restores the terminal.
fn setup_terminal(want_release: bool) -> Result<(Term, bool), UiError> {
    terminal::enable_raw_mode().map_err(UiError::Setup)?;
    ACTIVE.store(true, Ordering::SeqCst);
    // the query needs raw mode and must come before the key thread reads events
    let enhanced = want_release && terminal::supports_keyboard_enhancement().unwrap_or(false);
    let mut out = io::stdout();
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide).map_err(UiError::Setup)?;
    if enhanced {
        let flags = KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES
            | KeyboardEnhancementFlags::REPORT_EVENT_TYPES
            | KeyboardEnhancementFlags::REPORT_ALL_KEYS_AS_ESCAPE_CODES
            | KeyboardEnhancementFlags::REPORT_ALTERNATE_KEYS;
        execute!(out, PushKeyboardEnhancementFlags(flags)).map_err(UiError::Setup)?;
        ENHANCED.store(true, Ordering::SeqCst);
    }
    let out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut term = ratatui::Terminal::new(CrosstermBackend::new(out)).map_err(UiError::Setup)?;
    term.clear().map_err(UiError::Setup)?;
    Ok((term, enhanced))
}

fn render_loop(mut term: Term, mut screen: Screen, rx: std_mpsc::Receiver<UiMsg>, frame: Duration) {
    let mut dirty = true;
    let mut next_frame = Instant::now();
    loop {
        let wait = if dirty {
            next_frame.saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(1)
        };
        let first = match rx.recv_timeout(wait) {
            Ok(msg) => Some(msg),
            Err(std_mpsc::RecvTimeoutError::Timeout) => None,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        for msg in first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            dirty |= match msg {
                UiMsg::Stop => return,
                UiMsg::Notice(n) => {
                    screen.apply(&n);
                    true
                }
                UiMsg::Status(s) => screen.set_status(&s),
                UiMsg::Input(line) => {
                    screen.set_input(&line);
                    true
                }
                UiMsg::Resize => true,
            };
        }
        let now = Instant::now();
        if dirty && now >= next_frame {
            if let Err(e) = term.draw(|f| screen.render(f)) {
                tracing::warn!(error = %e, "terminal UI cannot draw; it stops");
                return;
            }
            dirty = false;
            next_frame = now + frame;
        }
    }
}

fn key_loop(mut mapper: KeyMapper, input: mpsc::Sender<UserInput>, ui: std_mpsc::Sender<UiMsg>, stop: Arc<AtomicBool>) {
    let mut dropped = 0u64;
    while !stop.load(Ordering::SeqCst) {
        match event::poll(KEY_POLL) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the keyboard");
                return;
            }
        }
        let ev = match event::read() {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the keyboard");
                return;
            }
        };
        let key = match ev {
            Event::Key(key) => key,
            Event::Resize(..) => {
                let _ = ui.send(UiMsg::Resize);
                continue;
            }
            _ => continue,
        };
        let at = Instant::now();
        let before = mapper.line().to_owned();
        let out = mapper.on_key(&key, at);
        if mapper.line() != before {
            let _ = ui.send(UiMsg::Input(mapper.line().to_owned()));
        }
        if let Some(out) = out {
            if input.try_send(out).is_err() {
                dropped += 1;
                if dropped == 1 || dropped % 100 == 0 {
                    tracing::warn!(dropped, "key input not consumed; dropping it");
                }
            }
        }
    }
}
