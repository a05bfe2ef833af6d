//! One display of whichever backend the configuration chose. The
//! [`super::Display`] trait is not object-safe (embedded-graphics draws
//! through generic iterators), so the kiosk holds this enum rather than a
//! `Box<dyn Display>`; each call is one `match`, nothing next to drawing.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use std::convert::Infallible;

use super::png::{PngDisplay, PngFile};
use super::terminal::TerminalDisplay;
use super::{Display, DisplayError};

/// The display a kiosk was assembled with.
pub enum AnyDisplay {
    /// Numbered PNG files, one per screen.
    Png(PngDisplay),
    /// The latest screen in one PNG file.
    PngFile(PngFile),
    /// Colour blocks on standard output.
    Terminal(TerminalDisplay<std::io::Stdout>),
    /// The Linux framebuffer.
    #[cfg(target_os = "linux")]
    Framebuffer(super::framebuffer::FramebufferDisplay),
    /// An SPI panel.
    #[cfg(target_os = "linux")]
    Spi(super::spi_panel::SpiPanel),
}

/// Runs `$body` with `$d` bound to the backend inside `$any`.
macro_rules! each {
    ($any:expr, $d:ident => $body:expr) => {
        match $any {
            AnyDisplay::Png($d) => $body,
            AnyDisplay::PngFile($d) => $body,
            AnyDisplay::Terminal($d) => $body,
            #[cfg(target_os = "linux")]
            AnyDisplay::Framebuffer($d) => $body,
            #[cfg(target_os = "linux")]
            AnyDisplay::Spi($d) => $body,
        }
    };
}

impl Dimensions for AnyDisplay {
    fn bounding_box(&self) -> Rectangle {
        each!(self, d => d.bounding_box())
    }
}

impl DrawTarget for AnyDisplay {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        each!(self, d => d.draw_iter(pixels))
    }

    fn fill_contiguous<I>(&mut self, area: &Rectangle, colors: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Rgb888>,
    {
        each!(self, d => d.fill_contiguous(area, colors))
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Infallible> {
        each!(self, d => d.fill_solid(area, color))
    }

    fn clear(&mut self, color: Rgb888) -> Result<(), Infallible> {
        each!(self, d => d.clear(color))
    }
}

impl Display for AnyDisplay {
    fn flush(&mut self) -> Result<(), DisplayError> {
        each!(self, d => d.flush())
    }

    fn describe(&self) -> String {
        each!(self, d => d.describe())
    }

    fn set_title(&mut self, title: &str) {
        each!(self, d => d.set_title(title))
    }
}

impl std::fmt::Debug for AnyDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl AnyDisplay {
    /// Writes what a PNG display still holds back (a live preview's last
    /// frame); other backends show every flush at once.
    pub fn finish(&mut self) -> Result<(), DisplayError> {
        match self {
            AnyDisplay::Png(png) => png.finish(),
            _ => Ok(()),
        }
    }
}
