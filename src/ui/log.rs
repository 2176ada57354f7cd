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
        // no credential leaves in a log line, whichever library wrote it
        if let Ok(text) = std::str::from_utf8(&self.0) {
            if let std::borrow::Cow::Owned(clean) = crate::redact::redact(text) {
                self.0 = clean.into_bytes();
            }
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
    release_to(&mut io::stderr().lock());
}

fn release_to(out: &mut impl Write) {
    let Ok(mut held) = HELD.try_lock() else { return };
    if held.dropped > 0 {
        let _ = writeln!(out, "({} earlier log lines dropped while the UI was up)", held.dropped);
        held.dropped = 0;
    }
    for line in held.lines.drain(..) {
        let _ = out.write_all(&line);
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Vec<String> {
        let held = HELD.lock().unwrap();
        held.lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn lines_are_held_while_the_ui_is_up_and_released_after() {
        super::super::terminal::set_active_for_test(true);
        for i in 0..HELD_LINES + 3 {
            let mut w = UiLogWriter.make_writer();
            write!(w, "log line {i}").unwrap();
            writeln!(w, " (whole)").unwrap();
        }
        let lines = held();
        assert_eq!(lines.len(), HELD_LINES);
        assert_eq!(
            lines[0], "log line 3 (whole)\n",
            "the oldest are dropped, each event is one line"
        );
        assert_eq!(HELD.lock().unwrap().dropped, 3);
        super::super::terminal::set_active_for_test(false);
        let mut out = Vec::new();
        release_to(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("(3 earlier log lines dropped while the UI was up)\nlog line 3 (whole)\n"));
        assert!(out.ends_with(&format!("log line {} (whole)\n", HELD_LINES + 2)));
        assert!(held().is_empty());
        assert_eq!(HELD.lock().unwrap().dropped, 0);
    }
}
