//! Typed lines from a standard input that is not a terminal (a pipe, a file, CI's closed stdin).

use std::io::BufRead;
use std::time::Instant;

use tokio::sync::mpsc;

use super::UserInput;

/// What the end of standard input means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinEof {
    /// Send [`UserInput::Quit`] (a script of lines piped into push-to-talk or chat).
    Quit,
    /// Send nothing: a hands-free conversation goes on when CI's stdin is closed or /dev/null.
    Ignore,
}

/// Each non-empty line of standard input as [`UserInput::Line`], read on a std thread.
pub fn stdin_lines(eof: StdinEof) -> mpsc::Receiver<UserInput> {
    lines_from(std::io::BufReader::new(std::io::stdin()), eof)
}

/// [`stdin_lines`] over any reader. The thread ends at EOF, on a read error (treated as EOF) or when the
/// receiver is dropped.
pub fn lines_from(reader: impl BufRead + Send + 'static, eof: StdinEof) -> mpsc::Receiver<UserInput> {
    let (tx, rx) = mpsc::channel(64);
    let spawned = std::thread::Builder::new().name("voxlive-stdin".into()).spawn(move || {
        for line in reader.lines() {
            let text = match line {
                Ok(text) => text,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read standard input");
                    break;
                }
            };
            let at = Instant::now();
            let text = text.trim_end_matches('\r').to_string();
            if text.trim().is_empty() {
                continue;
            }
            if tx.blocking_send(UserInput::Line { text, at }).is_err() {
                return;
            }
        }
        if eof == StdinEof::Quit {
            let _ = tx.blocking_send(UserInput::Quit);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the stdin thread; typed lines are off");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &'static str, eof: StdinEof) -> Vec<UserInput> {
        let mut rx = lines_from(std::io::Cursor::new(input), eof);
        let mut out = Vec::new();
        // the channel closes when the thread ends: no timing involved
        while let Some(i) = rx.blocking_recv() {
            out.push(i);
        }
        out
    }

    fn texts(inputs: &[UserInput]) -> Vec<String> {
        inputs
            .iter()
            .map(|i| match i {
                UserInput::Line { text, .. } => text.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_line_is_sent_and_eof_quits_when_asked() {
        let got = collect("hello\r\n\n  \nsecond line\n", StdinEof::Quit);
        assert_eq!(texts(&got), vec!["hello", "second line", "Quit"]);
    }

    #[test]
    fn eof_of_a_closed_stdin_sends_nothing_when_ignored() {
        assert_eq!(collect("", StdinEof::Ignore), vec![]);
        assert_eq!(texts(&collect("one", StdinEof::Ignore)), vec!["one"]);
    }
}
