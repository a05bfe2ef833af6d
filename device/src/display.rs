//! Displays: where screens are drawn. Every backend is an
//! `embedded_graphics` draw target in 24-bit colour plus `flush`, so the
//! screens are written once and shown on a framebuffer, an SPI panel, a PNG
//! file or a terminal alike.

mod any;
#[cfg(target_os = "linux")]
pub mod framebuffer;
pub mod panel;
pub mod png;
#[cfg(target_os = "linux")]
pub mod spi_panel;
pub mod terminal;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use std::convert::Infallible;
use thiserror::Error;

pub use any::AnyDisplay;

/// What went wrong while showing a screen.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// Opening or writing the device or file failed.
    #[error("display {device}: {source}")]
    Io {
        /// Device path or file.
        device: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The device reports a mode we cannot draw in.
    #[error("display {device} uses an unsupported mode: {detail}")]
    Unsupported {
        /// Device path.
        device: String,
        /// The mode it reported.
        detail: String,
    },
    /// The panel or bus did not accept a command.
    #[error("display {device}: {detail}")]
    Bus {
        /// Device path.
        device: String,
        /// What failed.
        detail: String,
    },
}

/// A screen the kiosk can draw on. Drawing goes to memory; `flush` shows it.
pub trait Display: DrawTarget<Color = Rgb888, Error = Infallible> {
    /// Sends what was drawn since the last flush to the device.
    fn flush(&mut self) -> Result<(), DisplayError>;

    /// A short description for logs and the provisioning report.
    fn describe(&self) -> String;

    /// Names the screen about to be drawn. Backends that keep pictures (PNG)
    /// use it for file names; panels ignore it.
    fn set_title(&mut self, _title: &str) {}
}

/// An in-memory RGB picture that backends draw into before they flush.
#[derive(Debug, Clone)]
pub struct Canvas {
    size: Size,
    pixels: Vec<Rgb888>,
}

impl Canvas {
    /// A black canvas of `width` × `height` pixels.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            size: Size::new(width, height),
            pixels: vec![Rgb888::BLACK; (width as usize) * (height as usize)],
        }
    }

    /// The pixels, row by row.
    pub fn pixels(&self) -> &[Rgb888] {
        &self.pixels
    }

    /// The colour at `(x, y)`, or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb888> {
        (x < self.size.width && y < self.size.height)
            .then(|| self.pixels[(y * self.size.width + x) as usize])
    }

    /// The canvas as an 8-bit RGB image.
    pub fn to_image(&self) -> image::RgbImage {
        let mut img = image::RgbImage::new(self.size.width, self.size.height);
        for (dst, src) in img.pixels_mut().zip(&self.pixels) {
            *dst = image::Rgb([src.r(), src.g(), src.b()]);
        }
        img
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (w, h) = (self.size.width as i32, self.size.height as i32);
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                self.pixels[(p.y * w + p.x) as usize] = c;
            }
        }
        Ok(())
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        self.pixels.fill(color);
        Ok(())
    }
}

/// Implements `DrawTarget` and `OriginDimensions` for a backend struct by
/// forwarding to its `canvas` field, so each backend only writes `flush`.
#[macro_export]
macro_rules! forward_draw_target {
    ($backend:ty) => {
        impl embedded_graphics::prelude::OriginDimensions for $backend {
            fn size(&self) -> embedded_graphics::prelude::Size {
                self.canvas.size()
            }
        }
        impl embedded_graphics::prelude::DrawTarget for $backend {
            type Color = embedded_graphics::pixelcolor::Rgb888;
            type Error = core::convert::Infallible;
            fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
            where
                I: IntoIterator<Item = embedded_graphics::Pixel<Self::Color>>,
            {
                self.canvas.draw_iter(pixels)
            }
            fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
                self.canvas.clear(color)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    #[test]
    fn canvas_clips_and_converts() {
        let mut c = Canvas::new(4, 3);
        Rectangle::new(Point::new(2, 1), Size::new(10, 10))
            .into_styled(PrimitiveStyle::with_fill(Rgb888::new(10, 20, 30)))
            .draw(&mut c)
            .unwrap();
        assert_eq!(c.pixel(3, 2), Some(Rgb888::new(10, 20, 30)));
        assert_eq!(c.pixel(1, 1), Some(Rgb888::BLACK));
        assert_eq!(c.pixel(4, 0), None);
        assert_eq!(c.to_image().get_pixel(2, 1).0, [10, 20, 30]);
    }
}
