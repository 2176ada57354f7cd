//! Log lines and the live UI share one terminal: a `tracing` line written to stderr while the UI owns the
//! screen would tear it. [`UiLogWriter`] writes to stderr as usual, except while the terminal UI is up: then
//! it holds the lines (the latest [`HELD_LINES`]) and prints them once the terminal is restored.
//!
//! ```no_run
//! tracing_subscriber::fmt().with_writer(voxlive::ui::UiLogWriter).init();
//! ```

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;

/// Log lines kept while the UI is up; older ones are dropped (and counted).
pub const HELD_LINES: usize = 500;

struct Held {
    lines: VecDeque<Vec<u8>>,
    dropped: u64,
}

static HELD: Mutex<Held> = Mutex::new(Held {
    lines: VecDeque::new(),
    dropped: 0,
});

/// A `tracing_subscriber` writer: stderr, held back while the terminal UI is up.
#[derive(Debug, Clone, Copy, Default)]
pub struct UiLogWriter;

/// One log event, buffered until it is complete.
pub struct LogLine(Vec<u8>);

impl<'a> MakeWriter<'a> for UiLogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        if super::terminal::is_active() {
            if let Ok(mut held) = HELD.lock() {
                if held.lines.len() == HELD_LINES {
                    held.lines.pop_front();
                    held.dropped += 1;
                }
                held.lines.push_back(std::mem::take(&mut self.0));
                return;
            }
        }
        let _ = io::stderr().write_all(&self.0);
    }
}

/// The terminal is back to normal: print what was held. `try_lock`: this also runs from the panic hook.
pub(crate) fn terminal_restored() {
    let Ok(mut held) = HELD.try_lock() else { return };
    let mut err = io::stderr().lock();
    if held.dropped > 0 {
        let _ = writeln!(err, "({} earlier log lines dropped while the UI was up)", held.dropped);
        held.dropped = 0;
    }
    for line in held.lines.drain(..) {
        let _ = err.write_all(&line);
    }
}
