//! A display that writes PNG files: the embedded default, so a screening can
//! be watched afterwards without a panel. Each new screen title starts a new
//! numbered file; redraws of the same screen (a live preview) overwrite it,
//! so the folder ends with one picture per screen shown.

use embedded_graphics::prelude::OriginDimensions;
use std::path::{Path, PathBuf};

use super::{Canvas, Display, DisplayError};

/// Writes every screen to `dir/NN-title.png`.
#[derive(Debug)]
pub struct PngDisplay {
    canvas: Canvas,
    dir: PathBuf,
    index: usize,
    title: String,
    written: Vec<PathBuf>,
}

impl PngDisplay {
    /// A `width` × `height` display writing into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, width: u32, height: u32) -> Result<Self, DisplayError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| DisplayError::Io { device: dir.display().to_string(), source })?;
        Ok(Self { canvas: Canvas::new(width, height), dir, index: 0, title: String::new(), written: Vec::new() })
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
        if title != self.title {
            self.title = title.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
            self.index += 1;
        }
    }

    fn flush(&mut self) -> Result<(), DisplayError> {
        let name = if self.title.is_empty() { "screen" } else { &self.title };
        let path = self.dir.join(format!("{:02}-{name}.png", self.index));
        self.canvas
            .to_image()
            .save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| DisplayError::Io { device: path.display().to_string(), source: std::io::Error::other(e) })?;
        if self.written.last() != Some(&path) {
            self.written.push(path);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let s = self.canvas.size();
        format!("PNG files in {} ({}×{})", self.dir.display(), s.width, s.height)
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
        for title in ["welcome", "step1", "step1", "result"] {
            d.set_title(title);
            d.clear(Rgb888::RED).unwrap();
            d.flush().unwrap();
        }
        let names: Vec<_> = d.files().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["01-welcome.png", "02-step1.png", "03-result.png"]);
        let img = image::open(&d.files()[2]).unwrap().to_rgb8();
        assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
    }
}
