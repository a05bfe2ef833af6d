//! A display that writes PNG files: the embedded default, so a screening can
//! be watched afterwards without a panel. Each new screen title starts a new
//! numbered file; redraws of the same screen (a live preview) overwrite it,
//! so the folder ends with one picture per screen shown. Encoding a PNG costs
//! more than drawing the screen, so a live preview is written on its first
//! frame, every [`PREVIEW_EVERY`]th frame and when the screen changes.

use embedded_graphics::prelude::OriginDimensions;
use std::path::{Path, PathBuf};

use super::{Canvas, Display, DisplayError};

/// A live preview is written once every this many flushes of one screen.
pub const PREVIEW_EVERY: u32 = 15;

/// Writes every screen to `dir/NN-title.png`.
#[derive(Debug)]
pub struct PngDisplay {
    canvas: Canvas,
    dir: PathBuf,
    index: usize,
    title: String,
    written: Vec<PathBuf>,
    /// Flushes of the current screen so far, and whether the last is unwritten.
    flushes: u32,
    pending: bool,
}

impl PngDisplay {
    /// A `width` × `height` display writing into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, width: u32, height: u32) -> Result<Self, DisplayError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| DisplayError::Io {
            device: dir.display().to_string(),
            source,
        })?;
        Ok(Self {
            canvas: Canvas::new(width, height),
            dir,
            index: 0,
            title: String::new(),
            written: Vec::new(),
            flushes: 0,
            pending: false,
        })
    }

    /// Writes the last flushed picture if it has not been written yet; the
    /// session's screens are all on disk after this.
    pub fn finish(&mut self) -> Result<(), DisplayError> {
        if self.pending {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<(), DisplayError> {
        let name = if self.title.is_empty() {
            "screen"
        } else {
            &self.title
        };
        let path = self.dir.join(format!("{:02}-{name}.png", self.index));
        self.canvas
            .to_image()
            .save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| DisplayError::Io {
                device: path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
        if self.written.last() != Some(&path) {
            self.written.push(path);
        }
        self.pending = false;
        Ok(())
    }

    /// The files written so far, in the order the screens were first shown.
    pub fn files(&self) -> &[PathBuf] {
        &self.written
    }

    /// The folder the screens go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What is currently drawn.
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }
}

crate::forward_draw_target!(PngDisplay);

impl Display for PngDisplay {
    fn set_title(&mut self, title: &str) {
        let title: String = title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if title != self.title {
            // The canvas still shows the previous screen's last frame.
            if let Err(e) = self.finish() {
                tracing::warn!("{e}");
            }
            self.title = title;
            self.index += 1;
            self.flushes = 0;
        }
    }

    fn flush(&mut self) -> Result<(), DisplayError> {
        self.pending = true;
        let due = self.flushes % PREVIEW_EVERY == 0;
        self.flushes += 1;
        if due {
            self.write()?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let s = self.canvas.size();
        format!(
            "PNG files in {} ({}×{})",
            self.dir.display(),
            s.width,
            s.height
        )
    }
}

/// Writes every flush over one file: the latest screen only. The bring-up
/// command's `png:FILE` (the offscreen reference the VM test compares a
/// framebuffer with), and a way to look at a kiosk's screen from afar.
#[derive(Debug)]
pub struct PngFile {
    canvas: Canvas,
    path: PathBuf,
}

impl PngFile {
    /// A `width` × `height` display written to `path`.
    pub fn new(path: impl Into<PathBuf>, width: u32, height: u32) -> Self {
        Self {
            canvas: Canvas::new(width, height),
            path: path.into(),
        }
    }
}

crate::forward_draw_target!(PngFile);

impl Display for PngFile {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.canvas
            .to_image()
            .save_with_format(&self.path, image::ImageFormat::Png)
            .map_err(|e| DisplayError::Io {
                device: self.path.display().to_string(),
                source: std::io::Error::other(e),
            })
    }

    fn describe(&self) -> String {
        format!("PNG file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::prelude::*;

    #[test]
    fn one_file_per_screen_title() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = PngDisplay::new(dir.path(), 32, 16).unwrap();
        for (title, colour) in [
            ("welcome", Rgb888::RED),
            ("step1", Rgb888::RED),
            ("step1", Rgb888::BLUE),
            ("result", Rgb888::RED),
        ] {
            d.set_title(title);
            d.clear(colour).unwrap();
            d.flush().unwrap();
        }
        d.finish().unwrap();
        let names: Vec<_> = d
            .files()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["01-welcome.png", "02-step1.png", "03-result.png"]);
        let img = image::open(&d.files()[2]).unwrap().to_rgb8();
        assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
        let step = image::open(&d.files()[1]).unwrap().to_rgb8();
        assert_eq!(
            step.get_pixel(0, 0).0,
            [0, 0, 255],
            "a screen's file holds its last frame"
        );
    }
}
