//! The live terminal UI: [`TerminalUi`] owns the terminal for the conversation. Two std threads do the work,
//! so the front end's task never waits on the terminal:
//! - the key thread reads crossterm events, folds them through [`KeyMapper`] and sends [`UserInput`] on a
//!   tokio channel (stamped with `Instant::now()` as each event is read);
//! - the render thread owns the ratatui terminal and redraws [`Screen`] when something changed, at most
//!   `max_fps` times a second; when only the meters moved (most frames while anyone speaks) it redraws only
//!   them over the last full frame.
//!
//! Raw mode, the alternate screen, the hidden cursor and the keyboard enhancement flags are undone on every
//! exit path: [`Renderer::finish`], `Drop`, and a panic hook (on any thread) that restores the terminal
//! before the panic message prints.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::event::{
    self, Event, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::{cursor, execute, terminal};
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::conversation::{Notice, Status, TalkMode};

use super::{Frames, KeyMapper, KeyMode, KeySpec, LevelSource, Redraw, Renderer, Screen, UiError, UserInput};

/// How long the key thread waits for an event before it looks at the stop flag (bounds shutdown time).
const KEY_POLL: Duration = Duration::from_millis(100);
/// How often the front end sends a status when the render thread reads the levels itself.
const PULLED_STATUS_EVERY: Duration = Duration::from_millis(50);
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
    /// The render thread reads the levels itself from now on.
    Levels(LevelSource),
    /// The terminal's new size in columns and rows.
    Resize(u16, u16),
    Stop,
}

/// The terminal is in UI mode (raw, alternate screen): restore it on exit or panic.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The keyboard enhancement flags were pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();
/// The render thread's queue while the terminal UI is up, for [`announce`].
static ANNOUNCE_TO: Mutex<Option<std_mpsc::Sender<UiMsg>>> = Mutex::new(None);

/// A line for the person rather than a log record (a saved session resumed or continued from its
/// transcript, say): an info row on the screen while the terminal UI is up, where a log line would be held
/// until it exits; else `voxlive: LINE` through the log writer (redacted like every log line).
pub fn announce(line: &str) {
    let to_screen = ANNOUNCE_TO
        .lock()
        .ok()
        .and_then(|tx| {
            tx.as_ref()
                .map(|tx| tx.send(UiMsg::Notice(Notice::Info(line.to_string()))).is_ok())
        })
        .unwrap_or(false);
    if !to_screen {
        use tracing_subscriber::fmt::MakeWriter as _;
        let mut w = super::UiLogWriter.make_writer();
        let _ = writeln!(w, "voxlive: {line}");
    }
}

fn announce_to(tx: Option<std_mpsc::Sender<UiMsg>>) {
    if let Ok(mut slot) = ANNOUNCE_TO.lock() {
        *slot = tx;
    }
}

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
    /// A y/n question is on screen: the key thread turns a bare y or n into the answer.
    asking: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    key_mode: Option<KeyMode>,
    key_label: Option<String>,
    frame: Duration,
    /// The render thread reads the levels itself ([`Renderer::levels_from`]).
    levels_pulled: bool,
    /// The last status sent to the render thread: an unchanged one is not sent (no wake-up).
    last_status: Option<Status>,
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
        let asking = Arc::new(AtomicBool::new(false));
        let mut ui = TerminalUi {
            tx: tx.clone(),
            stop: stop.clone(),
            asking: asking.clone(),
            threads: Vec::new(),
            key_mode: ptt.map(|(_, m)| m),
            key_label,
            frame,
            levels_pulled: false,
            last_status: None,
        };
        announce_to(Some(tx.clone()));
        let render = std::thread::Builder::new()
            .name("voxlive-ui".into())
            .spawn(move || render_loop(term, screen, rx, frame));
        ui.threads
            .push(render.map_err(|source| UiError::Thread { what: "render", source })?);
        let mapper = KeyMapper::new(ptt);
        let keys = std::thread::Builder::new()
            .name("voxlive-keys".into())
            .spawn(move || key_loop(mapper, input_tx, tx, stop, asking));
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
        announce_to(None);
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
        match notice {
            Notice::Question(_) => self.asking.store(true, Ordering::SeqCst),
            Notice::QuestionClosed => self.asking.store(false, Ordering::SeqCst),
            _ => {}
        }
        // a dead render thread (it panicked) must not take the conversation with it
        let _ = self.tx.send(UiMsg::Notice(notice.clone()));
    }

    fn status(&mut self, status: &Status) {
        let mut status = status.clone();
        if self.levels_pulled {
            // the render thread has fresher ones; these must not make every snapshot look new
            (status.mic_dbfs, status.speaker_dbfs) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        }
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        self.last_status = Some(status.clone());
        let _ = self.tx.send(UiMsg::Status(Box::new(status)));
    }

    fn status_interval(&self) -> Option<Duration> {
        // with levels pulled, snapshots only carry state, VAD and counters: the pump's own 50 ms tick will do
        Some(if self.levels_pulled {
            PULLED_STATUS_EVERY.max(self.frame)
        } else {
            self.frame
        })
    }

    fn levels_from(&mut self, source: LevelSource) {
        self.levels_pulled = true;
        let _ = self.tx.send(UiMsg::Levels(source));
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
type Term = Frames<CrosstermBackend<io::BufWriter<io::Stdout>>>;

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
    // the size is asked once here, then follows the terminal's resize events (see frames.rs)
    let (w, h) = terminal::size().map_err(UiError::Setup)?;
    let term = Frames::new(CrosstermBackend::new(out), screen_area(w, h)).map_err(UiError::Setup)?;
    Ok((term, enhanced))
}

/// The largest screen drawn, in columns and rows: a terminal (or a peer on a pty) reporting an absurd size
/// must not size the frame buffers (two cells per position, a few dozen bytes each) by it.
const MAX_COLUMNS: u16 = 1000;
const MAX_ROWS: u16 = 500;

fn screen_area(columns: u16, rows: u16) -> ratatui::layout::Rect {
    ratatui::layout::Rect::new(0, 0, columns.min(MAX_COLUMNS), rows.min(MAX_ROWS))
}

fn render_loop(mut term: Term, mut screen: Screen, rx: std_mpsc::Receiver<UiMsg>, frame: Duration) {
    let mut pending = Redraw::Everything;
    // meter-only redraws need a full frame of this size under them
    let mut full_shown = false;
    let mut levels: Option<LevelSource> = None;
    let mut next_frame = Instant::now();
    loop {
        // with a level source the thread wakes every frame to read it; else only when told something changed
        let wait = if pending.any() || levels.is_some() {
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
            let change = match msg {
                UiMsg::Stop => return,
                UiMsg::Notice(n) => {
                    screen.apply(&n);
                    Redraw::Everything
                }
                UiMsg::Status(s) => screen.set_status(&s),
                UiMsg::Input(line) => {
                    screen.set_input(&line);
                    Redraw::Everything
                }
                UiMsg::Levels(source) => {
                    levels = Some(source);
                    Redraw::Nothing
                }
                UiMsg::Resize(w, h) => {
                    if let Err(e) = term.resize(screen_area(w, h)) {
                        tracing::warn!(error = %e, "terminal UI cannot resize; it stops");
                        return;
                    }
                    full_shown = false;
                    Redraw::Everything
                }
            };
            pending = pending.max(change);
        }
        let now = Instant::now();
        if now < next_frame {
            continue;
        }
        if let Some(read) = levels.as_mut() {
            let l = read();
            pending = pending.max(screen.set_levels(l));
        }
        let polled = levels.is_some();
        let draw = pending.any();
        if draw {
            let drawn = if full_shown && pending == Redraw::Meters {
                term.draw_meters(&screen)
            } else {
                full_shown = true;
                term.draw_full(&screen)
            };
            if let Err(e) = drawn {
                tracing::warn!(error = %e, "terminal UI cannot draw; it stops");
                return;
            }
            pending = Redraw::Nothing;
        }
        // a notice after a quiet spell draws at once; after a draw or a level read, the next comes a frame on
        if draw || polled {
            next_frame = now + frame;
        }
    }
}

/// While a question is shown, a bare y or n (nothing typed yet) is the answer, sent as a typed line.
fn question_answer(key: &event::KeyEvent, asking: bool, line_empty: bool) -> Option<&'static str> {
    if !asking || !line_empty || key.kind == event::KeyEventKind::Release {
        return None;
    }
    match key.code {
        event::KeyCode::Char('y' | 'Y') => Some("y"),
        event::KeyCode::Char('n' | 'N') => Some("n"),
        _ => None,
    }
}

fn key_loop(
    mut mapper: KeyMapper,
    input: mpsc::Sender<UserInput>,
    ui: std_mpsc::Sender<UiMsg>,
    stop: Arc<AtomicBool>,
    asking: Arc<AtomicBool>,
) {
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
            Event::Resize(w, h) => {
                let _ = ui.send(UiMsg::Resize(w, h));
                continue;
            }
            _ => continue,
        };
        let at = Instant::now();
        if let Some(answer) = question_answer(&key, asking.load(Ordering::SeqCst), mapper.line().is_empty()) {
            let _ = input.try_send(UserInput::Line {
                text: answer.to_string(),
                at,
            });
            continue;
        }
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
