//! What the live terminal UI shows, as plain data ([`Screen`]) folded from notices and status snapshots, and
//! how it is drawn on a ratatui frame. No terminal here: tests draw it into ratatui's `TestBackend`.

use std::collections::VecDeque;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use crate::conversation::{Notice, State, Status, TalkMode};

use super::sanitize;

/// Finished transcript rows kept for scrolling back (older ones are dropped).
const HISTORY_ROWS: usize = 1000;
/// How far a meter falls per level read (at the render thread's 30 reads a second: 45 dB/s).
pub const METER_FALL_DB: f32 = 1.5;
/// The meters' range: -60 dBFS and below shows an empty bar.
const METER_FLOOR_DBFS: f32 = -60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    You,
    /// What the server hears so far (interim transcription): replaced as it changes.
    Hearing,
    Typed,
    Model,
    Tool,
    Meta,
    Info,
    Warning,
}

#[derive(Debug, Clone)]
struct Row {
    kind: RowKind,
    /// Already sanitized.
    text: String,
}

/// The turn being spoken now: shown live below the history, moved into it when the turn is done.
#[derive(Debug, Clone, Default)]
struct TurnView {
    turn: u32,
    user: String,
    /// What the server hears the user saying so far (interim transcription), until the final text comes.
    interim: String,
    model: String,
    /// Typed lines and tool calls, in order.
    extra: Vec<Row>,
}

/// What a change of status needs redrawn. The meters move on almost every status (30 a second while anyone
/// speaks) and are two lines: redrawing only them over the last full frame costs a fraction of a full draw
/// (the transcript's wrapping and the blocks' styling are most of that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Redraw {
    Nothing,
    /// Only the meter lines (levels, VAD) changed.
    Meters,
    Everything,
}

impl Redraw {
    pub fn any(self) -> bool {
        self != Redraw::Nothing
    }
}

/// The screen's content.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    mode: Option<TalkMode>,
    key_label: Option<String>,
    state: State,
    status: Status,
    history: VecDeque<Row>,
    current: Option<TurnView>,
    input: String,
    /// A y/n question shown in place of the input line (a tool call waiting for confirmation).
    question: Option<String>,
    /// Levels come from [`Screen::set_levels`], not from status snapshots.
    levels_pulled: bool,
}

impl Screen {
    /// `key_label`: the push-to-talk key mode's label (`None` in hands-free mode).
    pub fn new(mode: TalkMode, key_label: Option<String>) -> Self {
        Screen {
            mode: Some(mode),
            key_label,
            // no status yet: empty meters, not Status::default()'s 0 dBFS (full scale)
            status: Status {
                mic_dbfs: f32::NEG_INFINITY,
                speaker_dbfs: f32::NEG_INFINITY,
                ..Status::default()
            },
            ..Screen::default()
        }
    }

    /// The text being typed (not yet sent).
    pub fn set_input(&mut self, line: &str) {
        self.input.clear();
        self.input.push_str(&sanitize(line));
    }

    /// A fresh snapshot; a latency already reported by a `TurnDone` stays if the snapshot has none.
    /// Returns what on screen changes, so a steady status 30 times a second costs no redraw and moving meters
    /// cost only theirs.
    pub fn set_status(&mut self, status: &Status) -> Redraw {
        let (meters, rest) = (visible_meters(&self.status), visible_rest(&self.status, self.state));
        let last = self.status.last_first_reply;
        let levels = (self.status.mic_dbfs, self.status.speaker_dbfs);
        self.status = status.clone();
        if self.levels_pulled {
            (self.status.mic_dbfs, self.status.speaker_dbfs) = levels;
        }
        self.status.last_first_reply = status.last_first_reply.or(last);
        self.state = status.state;
        if visible_rest(&self.status, self.state) != rest {
            Redraw::Everything
        } else if visible_meters(&self.status) != meters {
            Redraw::Meters
        } else {
            Redraw::Nothing
        }
    }

    /// Levels read by the renderer itself; from now on status snapshots' levels are ignored.
    ///
    /// The meters rise at once and fall by at most [`METER_FALL_DB`] per read, as a level meter's ballistics
    /// do: the DSP thread's speaker level is that of the last block it handed to the device, and between the
    /// reply's chunks that is often silence, which made the bar flicker to the floor mid-sentence.
    pub fn set_levels(&mut self, levels: super::Levels) -> Redraw {
        self.levels_pulled = true;
        let before = visible_meters(&self.status);
        self.status.mic_dbfs = ballistics(self.status.mic_dbfs, levels.mic_dbfs);
        self.status.speaker_dbfs = ballistics(self.status.speaker_dbfs, levels.speaker_dbfs);
        if visible_meters(&self.status) != before {
            Redraw::Meters
        } else {
            Redraw::Nothing
        }
    }

    pub fn apply(&mut self, notice: &Notice) {
        match notice {
            Notice::State(s) => self.state = *s,
            Notice::UserTranscript { turn, text } => {
                let view = self.turn(*turn);
                view.interim.clear();
                view.user.push_str(&sanitize(text))
            }
            Notice::InterimUserTranscript { turn, text } => self.turn(*turn).interim = sanitize(text),
            Notice::ModelTranscript { turn, text } | Notice::ModelText { turn, text } => {
                self.turn(*turn).model.push_str(&sanitize(text))
            }
            Notice::UserTyped { turn, text } => {
                let row = row(RowKind::Typed, sanitize(text));
                self.turn(*turn).extra.push(row)
            }
            Notice::ToolCall { turn, names } => {
                let row = row(RowKind::Tool, sanitize(&names.join(", ")));
                self.turn(*turn).extra.push(row)
            }
            Notice::TurnDone {
                turn,
                first_reply,
                interrupted,
                ..
            } => {
                if self.current.as_ref().is_some_and(|t| t.turn == *turn) {
                    self.flush_turn();
                }
                let mut text = format!("(turn {turn}");
                if let Some(d) = first_reply {
                    text.push_str(&format!(": first reply after {} ms", d.as_millis()));
                    self.status.last_first_reply = Some(*d);
                }
                if *interrupted {
                    text.push_str(", interrupted");
                }
                text.push(')');
                self.push(row(RowKind::Meta, text));
            }
            Notice::Info(t) => self.push_now(row(RowKind::Info, sanitize(t))),
            Notice::Warning(t) => self.push_now(row(RowKind::Warning, format!("warning: {}", sanitize(t)))),
            Notice::Question(q) => {
                self.push_now(row(RowKind::Info, format!("asks: {}", sanitize(q))));
                self.question = Some(sanitize(q));
            }
            Notice::QuestionClosed => self.question = None,
        }
    }

    fn turn(&mut self, turn: u32) -> &mut TurnView {
        if self.current.as_ref().is_some_and(|t| t.turn != turn) {
            self.flush_turn();
        }
        self.current.get_or_insert_with(|| TurnView {
            turn,
            ..TurnView::default()
        })
    }

    fn flush_turn(&mut self) {
        if let Some(t) = self.current.take() {
            for r in turn_rows(&t) {
                self.push(r);
            }
        }
    }

    /// A row about something happening now: inside the turn in progress (after its tool call row, say),
    /// else at the end of the history.
    fn push_now(&mut self, r: Row) {
        match self.current.as_mut() {
            Some(t) => t.extra.push(r),
            None => self.push(r),
        }
    }

    fn push(&mut self, r: Row) {
        if self.history.len() == HISTORY_ROWS {
            self.history.pop_front();
        }
        self.history.push_back(r);
    }

    /// The screen's parts, top to bottom: state and counters, meters, transcript, input line, help line.
    fn layout(area: Rect) -> [Rect; 5] {
        Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(2),
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area)
    }

    /// Draws the whole screen on `frame`.
    pub fn render(&self, frame: &mut Frame) {
        let area = frame.area();
        self.render_into(area, frame.buffer_mut());
    }

    /// Draws the whole screen on `buf` (whose area is `area`).
    pub fn render_into(&self, area: Rect, buf: &mut Buffer) {
        let [top, meters, transcript, input, help] = Self::layout(area);
        self.render_top(top, buf);
        self.render_meters(meters, buf);
        self.render_transcript(transcript, buf);
        let prompt = match &self.question {
            Some(q) => Line::from(vec![Span::styled(
                format!("? {}", tail_fitting(q, (input.width as usize).saturating_sub(3))),
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )]),
            None => Line::from(vec![
                Span::styled("> ", Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
                Span::raw(tail_fitting(&self.input, (input.width as usize).saturating_sub(3))),
                Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            ]),
        };
        Paragraph::new(prompt).render(input, buf);
        let help_text = match (&self.question, &self.key_label) {
            (Some(_), _) => "y: allow the tool call | n: refuse it | Ctrl-C: quit",
            (None, Some(_)) => {
                "push-to-talk key: talk | type + Enter: send text | Esc: clear line / quit | Ctrl-C: quit"
            }
            (None, None) => "just talk | type + Enter: send text | Esc: clear line / quit | Ctrl-C: quit",
        };
        Paragraph::new(help_text)
            .style(Style::new().fg(Color::DarkGray))
            .render(help, buf);
    }

    fn render_top(&self, area: Rect, buf: &mut Buffer) {
        let [banner, info] = Layout::horizontal([Constraint::Length(28), Constraint::Min(10)]).areas(area);
        let style = Style::new()
            .fg(Color::Black)
            .bg(state_colour(self.state))
            .add_modifier(Modifier::BOLD);
        // a tool call waiting for y/n holds the conversation: say so where the eye goes first
        let (label, style) = match self.question {
            Some(_) => ("ANSWER Y OR N".to_string(), style.bg(Color::Yellow)),
            None => (self.state.label().to_uppercase(), style),
        };
        let big = Paragraph::new(vec![Line::raw(""), Line::raw(label), Line::raw("")])
            .alignment(Alignment::Center)
            .style(style);
        big.render(banner, buf);
        let s = &self.status;
        let mode = self.mode.or(s.mode).map_or("", TalkMode::label);
        let key = self
            .key_label
            .as_deref()
            .or(s.key_mode.as_deref())
            .unwrap_or("no push-to-talk key: just talk");
        let reply = s
            .last_first_reply
            .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
        let counters = format!(
            "turns {} | first reply {} | underruns {} | drops {}/{} | reconnects {}",
            s.turns, reply, s.underruns, s.frames_dropped, s.chunks_dropped, s.reconnects
        );
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let lines = vec![
            Line::from(vec![Span::styled(format!(" {mode}"), bold)]),
            Line::raw(format!(" {}", sanitize(key))),
            Line::styled(format!(" {counters}"), Style::new().fg(Color::Gray)),
        ];
        Paragraph::new(lines).render(info, buf);
    }

    /// Where the meter lines are on a screen of `area`.
    pub fn meters_area(area: Rect) -> Rect {
        let [_, meters, ..] = Self::layout(area);
        meters
    }

    /// Draws the meter lines (at [`Screen::meters_area`]) on `buf`.
    pub fn render_meters(&self, area: Rect, buf: &mut Buffer) {
        let bar_width = (area.width as usize).saturating_sub(32).clamp(4, 40);
        let vad = if self.status.vad_speech {
            Span::styled(" VAD speech ", Style::new().fg(Color::Black).bg(Color::Green))
        } else {
            Span::styled(" VAD quiet ", Style::new().fg(Color::DarkGray))
        };
        // the server's view (voiceActivity), under the local one
        let server = match self.status.server_vad {
            Some(true) => Span::styled(" server speech ", Style::new().fg(Color::Black).bg(Color::Cyan)),
            Some(false) => Span::styled(" server quiet ", Style::new().fg(Color::DarkGray)),
            None => Span::raw(""),
        };
        let mic = meter_line("mic    ", self.status.mic_dbfs, bar_width, Color::Green, vad);
        let spk = meter_line("speaker", self.status.speaker_dbfs, bar_width, Color::Magenta, server);
        Paragraph::new(vec![mic, spk]).render(area, buf);
    }

    fn render_transcript(&self, area: Rect, buf: &mut Buffer) {
        let block = Block::new()
            .borders(Borders::TOP)
            .title(" conversation ")
            .border_style(Style::new().fg(Color::DarkGray));
        let inner = block.inner(area);
        block.render(area, buf);
        let width = inner.width as usize;
        let height = inner.height as usize;
        let live: Vec<Row> = self.current.as_ref().map(turn_rows).unwrap_or_default();
        // newest last: wrap from the end until the area is full, so cost does not grow with the history
        let mut lines: Vec<Line> = Vec::with_capacity(height);
        for r in live.iter().rev().chain(self.history.iter().rev()) {
            if lines.len() >= height {
                break;
            }
            let text = format!("{}{}", prefix(r.kind), r.text);
            for piece in wrap(&text, width).into_iter().rev() {
                lines.push(Line::styled(piece, row_style(r.kind)));
            }
        }
        lines.truncate(height);
        lines.reverse();
        Paragraph::new(lines).render(inner, buf);
    }
}

/// What a status snapshot puts in the meter lines: levels to the whole dB they are printed with, and the VAD.
fn visible_meters(s: &Status) -> impl PartialEq {
    (
        whole_db(s.mic_dbfs),
        whole_db(s.speaker_dbfs),
        s.vad_speech,
        s.server_vad,
    )
}

/// What a status snapshot puts on screen outside the meter lines.
fn visible_rest(s: &Status, state: State) -> impl PartialEq {
    (
        (state, s.mode, s.key_mode.clone()),
        (
            s.turns,
            s.last_first_reply,
            s.underruns,
            s.frames_dropped,
            s.chunks_dropped,
            s.reconnects,
        ),
    )
}

/// A meter's next reading: up at once, down by at most [`METER_FALL_DB`].
fn ballistics(shown: f32, now: f32) -> f32 {
    if shown.is_finite() && now < shown {
        now.max(shown - METER_FALL_DB)
    } else {
        now
    }
}

/// A level as printed: whole dB from -99 (silence, or no level yet) to 0.
fn whole_db(dbfs: f32) -> i32 {
    if dbfs.is_finite() {
        dbfs.clamp(-99.0, 0.0).round() as i32
    } else {
        -99
    }
}

fn row(kind: RowKind, text: String) -> Row {
    Row { kind, text }
}

fn turn_rows(t: &TurnView) -> Vec<Row> {
    let mut rows = Vec::new();
    if !t.user.trim().is_empty() {
        rows.push(row(RowKind::You, t.user.trim().to_string()));
    }
    if !t.interim.trim().is_empty() {
        rows.push(row(RowKind::Hearing, format!("{}…", t.interim.trim())));
    }
    rows.extend(t.extra.iter().cloned());
    if !t.model.trim().is_empty() {
        rows.push(row(RowKind::Model, t.model.trim().to_string()));
    }
    rows
}

fn prefix(kind: RowKind) -> &'static str {
    match kind {
        RowKind::You | RowKind::Hearing => "you: ",
        RowKind::Typed => "you (typed): ",
        RowKind::Model => "voxlive: ",
        RowKind::Tool => "tool call: ",
        RowKind::Meta => "  ",
        RowKind::Info => "voxlive: ",
        RowKind::Warning => "voxlive: ",
    }
}

fn row_style(kind: RowKind) -> Style {
    match kind {
        RowKind::You | RowKind::Typed => Style::new().fg(Color::Cyan),
        RowKind::Hearing => Style::new()
            .fg(Color::Cyan)
            .add_modifier(Modifier::DIM | Modifier::ITALIC),
        RowKind::Model => Style::new(),
        RowKind::Tool => Style::new().fg(Color::Yellow),
        RowKind::Meta | RowKind::Info => Style::new().fg(Color::DarkGray),
        RowKind::Warning => Style::new().fg(Color::Red),
    }
}

fn state_colour(state: State) -> Color {
    match state {
        State::Listening => Color::Blue,
        State::UserSpeaking => Color::Green,
        State::WaitingForReply => Color::Yellow,
        State::AssistantSpeaking => Color::Magenta,
        State::Interrupted => Color::Red,
    }
}

/// `mic     ████████░░░░░░░░  -23 dBFS`
fn meter_line<'a>(name: &'a str, dbfs: f32, width: usize, colour: Color, tail: Span<'a>) -> Line<'a> {
    // the bar follows the printed whole dB, so `visible` knows exactly when this line changes
    let db = whole_db(dbfs) as f32;
    let ratio = ((db - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS).clamp(0.0, 1.0);
    let filled = (ratio * width as f32).round() as usize;
    Line::from(vec![
        Span::raw(format!(" {name} ")),
        Span::styled("█".repeat(filled), Style::new().fg(colour)),
        Span::styled("░".repeat(width - filled), Style::new().fg(Color::DarkGray)),
        Span::raw(format!(" {db:>4.0} dBFS ")),
        tail,
    ])
}

/// The end of `text` that fits in `width` columns: what is being typed stays in view.
fn tail_fitting(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &text[i + c.len_utf8()..];
        }
    }
    text
}

/// Greedy word wrap by display width; words longer than a line are split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
        if used > 0 && used + 1 + w <= width {
            line.push(' ');
            used += 1;
        } else if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
