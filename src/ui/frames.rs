//! What is on the terminal and what changed: the terminal UI's own double buffer over a ratatui backend.
//!
//! ratatui's `Terminal` renders and diffs the whole screen on every draw, and asks the terminal for its size
//! first (crossterm opens /dev/tty for that). At 30 fps with moving meters that was most of the UI's CPU.
//! Here a full frame is drawn only when something outside the meters changed; when only the meters moved
//! (most frames while anyone speaks), their two lines are rendered and diffed alone, and copied into the
//! record of what the terminal shows, so the next full frame's diff stays true. The size comes from the
//! terminal's resize events.

use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::Screen;

/// Draws [`Screen`]s on a backend, sending only the cells that changed.
pub struct Frames<B: Backend> {
    backend: B,
    /// What the terminal shows now.
    shown: Buffer,
    /// Scratch for the next full frame (swapped with `shown` after a draw).
    next: Buffer,
    /// The meter lines as shown, and scratch for the next ones.
    meters_shown: Buffer,
    meters_next: Buffer,
}

impl<B: Backend> Frames<B> {
    /// Clears the terminal: what it shows is then known (blank).
    pub fn new(backend: B, area: Rect) -> Result<Self, B::Error> {
        let mut frames = Frames {
            backend,
            shown: Buffer::empty(Rect::default()),
            next: Buffer::empty(Rect::default()),
            meters_shown: Buffer::empty(Rect::default()),
            meters_next: Buffer::empty(Rect::default()),
        };
        frames.resize(area)?;
        Ok(frames)
    }

    /// A new terminal size: clears the terminal; the next draw must be [`Frames::draw_full`].
    pub fn resize(&mut self, area: Rect) -> Result<(), B::Error> {
        self.backend.clear()?;
        self.backend.flush()?;
        self.shown = Buffer::empty(area);
        self.next = Buffer::empty(area);
        let meters = Screen::meters_area(area);
        self.meters_shown = Buffer::empty(meters);
        self.meters_next = Buffer::empty(meters);
        Ok(())
    }

    pub fn area(&self) -> Rect {
        self.shown.area
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Draws the whole screen, sending the cells that differ from what is shown.
    pub fn draw_full(&mut self, screen: &Screen) -> Result<(), B::Error> {
        self.next.reset();
        screen.render_into(self.next.area, &mut self.next);
        self.backend.draw(self.shown.diff_iter(&self.next))?;
        self.backend.flush()?;
        std::mem::swap(&mut self.shown, &mut self.next);
        copy_region(&self.shown, &mut self.meters_shown);
        Ok(())
    }

    /// Draws only the meter lines: the rest of the screen must not have changed since the last full frame.
    pub fn draw_meters(&mut self, screen: &Screen) -> Result<(), B::Error> {
        self.meters_next.reset();
        screen.render_meters(self.meters_next.area, &mut self.meters_next);
        self.backend.draw(self.meters_shown.diff_iter(&self.meters_next))?;
        self.backend.flush()?;
        copy_region(&self.meters_next, &mut self.shown);
        std::mem::swap(&mut self.meters_shown, &mut self.meters_next);
        Ok(())
    }
}

/// Copies the cells of `from` that lie inside `to`'s area into `to`, at the same positions.
fn copy_region(from: &Buffer, to: &mut Buffer) {
    let area = from.area.intersection(to.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let (Some(src), Some(dst)) = (from.cell((x, y)), to.cell_mut((x, y))) {
                dst.clone_from(src);
            }
        }
    }
}
