//! A display that draws into a terminal with 24-bit colour half blocks: one
//! character cell shows two pixels stacked, after scaling the screen down to
//! the terminal's width. For bench tests and SSH sessions on a kiosk.

use std::io::Write;

use super::{Canvas, Display, DisplayError};

/// Draws each flushed screen on a writer (normally stdout).
pub struct TerminalDisplay<W: Write> {
    canvas: Canvas,
    out: W,
    columns: u32,
}

impl<W: Write> TerminalDisplay<W> {
    /// A `width` × `height` screen shown `columns` characters wide on `out`.
    pub fn new(out: W, width: u32, height: u32, columns: u32) -> Self {
        Self {
            canvas: Canvas::new(width, height),
            out,
            columns: columns.clamp(8, 400),
        }
    }

    /// The writer, for tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> embedded_graphics::prelude::OriginDimensions for TerminalDisplay<W> {
    fn size(&self) -> embedded_graphics::prelude::Size {
        self.canvas.size()
    }
}

impl<W: Write> embedded_graphics::prelude::DrawTarget for TerminalDisplay<W> {
    type Color = embedded_graphics::pixelcolor::Rgb888;
    type Error = core::convert::Infallible;
    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = embedded_graphics::Pixel<Self::Color>>,
    {
        self.canvas.draw_iter(pixels)
    }
}

impl<W: Write> Display for TerminalDisplay<W> {
    fn flush(&mut self) -> Result<(), DisplayError> {
        use embedded_graphics::prelude::{OriginDimensions, RgbColor};
        let size = self.canvas.size();
        let cols = self.columns.min(size.width.max(1));
        let step = size.width as f32 / cols as f32;
        let rows = ((size.height as f32 / step) as u32 / 2).max(1);
        let mut text = String::with_capacity((cols * rows * 40) as usize);
        text.push_str("\x1b[H");
        for row in 0..rows {
            for col in 0..cols {
                let x = (col as f32 * step) as u32;
                let top = self
                    .canvas
                    .pixel(x, ((row * 2) as f32 * step) as u32)
                    .unwrap_or_default();
                let bottom = self
                    .canvas
                    .pixel(x, ((row * 2 + 1) as f32 * step) as u32)
                    .unwrap_or(top);
                text.push_str(&format!(
                    "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m\u{2580}",
                    top.r(),
                    top.g(),
                    top.b(),
                    bottom.r(),
                    bottom.g(),
                    bottom.b()
                ));
            }
            text.push_str("\x1b[0m\n");
        }
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|source| DisplayError::Io {
                device: "terminal".into(),
                source,
            })
    }

    fn describe(&self) -> String {
        format!("terminal, {} columns", self.columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::prelude::*;

    #[test]
    fn draws_half_blocks_in_colour() {
        let mut d = TerminalDisplay::new(Vec::new(), 20, 10, 10);
        d.clear(Rgb888::new(1, 2, 3)).unwrap();
        d.flush().unwrap();
        let out = String::from_utf8(d.into_inner()).unwrap();
        assert_eq!(
            out.matches('\u{2580}').count(),
            10 * 2,
            "10 columns × 2 rows of cells"
        );
        assert!(out.contains("38;2;1;2;3"));
    }
}
