//! Replay camera: frames from a folder of pictures (taken in file-name
//! order) or from an MJPEG file (concatenated JPEGs), optionally looping and
//! paced. A damaged file or frame gives [`CameraError::Corrupt`] and the next
//! call goes on with the next one, exactly as a real camera's bad frame would.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::decode::{decode_jpeg, split_mjpeg, MAX_SIDE};
use super::{Camera, CameraError, Frame};

/// File extensions read from a folder (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

enum Source {
    Images(Vec<PathBuf>),
    Mjpeg {
        data: Vec<u8>,
        frames: Vec<Range<usize>>,
    },
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Images(files) => files.len(),
            Source::Mjpeg { frames, .. } => frames.len(),
        }
    }
}

/// Plays back recorded frames as a [`Camera`].
pub struct ReplayCamera {
    path: PathBuf,
    name: String,
    source: Source,
    next: usize,
    looping: bool,
    expect: Option<(u32, u32)>,
    interval: Option<Duration>,
    last_delivery: Option<Instant>,
    sequence: u64,
}

impl std::fmt::Debug for ReplayCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCamera")
            .field("path", &self.path)
            .field("frames", &self.source.len())
            .finish()
    }
}

impl ReplayCamera {
    /// Opens a folder of pictures (`.jpg`, `.jpeg`, `.png`, sorted by file
    /// name) or an MJPEG file. Plays once, unpaced, at any frame size; see the
    /// setters to change that.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CameraError> {
        let path = path.as_ref().to_path_buf();
        let name = path.display().to_string();
        let io = |source| CameraError::Io {
            device: name.clone(),
            source,
        };
        let source = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(io)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && has_image_extension(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(CameraError::Unsupported {
                    device: name,
                    detail: format!(
                        "no pictures ({}) in the folder",
                        IMAGE_EXTENSIONS.join(", ")
                    ),
                });
            }
            Source::Images(files)
        } else {
            let data = std::fs::read(&path).map_err(io)?;
            let frames = split_mjpeg(&data);
            if frames.is_empty() {
                return Err(CameraError::Unsupported {
                    device: name,
                    detail: "no JPEG frame in the file".into(),
                });
            }
            Source::Mjpeg { data, frames }
        };
        Ok(Self {
            path,
            name,
            source,
            next: 0,
            looping: false,
            expect: None,
            interval: None,
            last_delivery: None,
            sequence: 0,
        })
    }

    /// Starts again from the first frame after the last one instead of
    /// ending with [`CameraError::EndOfStream`].
    #[must_use]
    pub fn looping(mut self, yes: bool) -> Self {
        self.looping = yes;
        self
    }

    /// Refuses frames of any other size, as the V4L2 camera does.
    #[must_use]
    pub fn expect_size(mut self, width: u32, height: u32) -> Self {
        self.expect = Some((width, height));
        self
    }

    /// Delivers at most one frame per `interval` (sleeping as needed), to
    /// play a recording at camera speed. `None` (the default) is as fast as
    /// possible.
    #[must_use]
    pub fn pace(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }

    /// How many frames (files or JPEGs) the recording holds, bad ones included.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// Whether the recording holds no frame (never true for an opened one).
    pub fn is_empty(&self) -> bool {
        self.source.len() == 0
    }

    fn decode(&self, index: usize) -> Result<image::RgbImage, CameraError> {
        match &self.source {
            Source::Mjpeg { data, frames } => {
                decode_jpeg(&data[frames[index].clone()], self.expect, &self.name)
            }
            Source::Images(files) => {
                let file = &files[index];
                let device = format!(
                    "{} ({})",
                    self.name,
                    file.file_name().unwrap_or_default().to_string_lossy()
                );
                let bytes = std::fs::read(file).map_err(|e| CameraError::Corrupt {
                    device: device.clone(),
                    detail: e.to_string(),
                })?;
                if bytes.starts_with(&[0xFF, 0xD8]) {
                    return decode_jpeg(&bytes, self.expect, &device);
                }
                let img = decode_other(&bytes).map_err(|detail| CameraError::Corrupt {
                    device: device.clone(),
                    detail,
                })?;
                match self.expect {
                    Some((w, h)) if img.dimensions() != (w, h) => Err(CameraError::Corrupt {
                        device,
                        detail: format!(
                            "frame is {}×{}, expected {w}×{h}",
                            img.width(),
                            img.height()
                        ),
                    }),
                    _ => Ok(img),
                }
            }
        }
    }
}

fn has_image_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

/// Decodes a non-JPEG picture (PNG) with the size limit of the cameras.
fn decode_other(bytes: &[u8]) -> Result<image::RgbImage, String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    Ok(reader.decode().map_err(|e| e.to_string())?.into_rgb8())
}

impl Camera for ReplayCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.next >= self.source.len() {
            if !self.looping {
                return Err(CameraError::EndOfStream(self.name.clone()));
            }
            self.next = 0;
        }
        let index = self.next;
        self.next += 1;
        let image = self.decode(index)?;
        if let (Some(interval), Some(last)) = (self.interval, self.last_delivery) {
            if let Some(wait) = interval.checked_sub(last.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        self.last_delivery = Some(Instant::now());
        self.sequence += 1;
        Ok(Frame {
            image,
            sequence: self.sequence - 1,
            captured: Instant::now(),
        })
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        self.next = 0;
        self.sequence = 0;
        Ok(())
    }

    fn describe(&self) -> String {
        let kind = match self.source {
            Source::Images(_) => "pictures",
            Source::Mjpeg { .. } => "MJPEG frames",
        };
        format!(
            "replay of {} ({} {kind}{})",
            self.name,
            self.len(),
            if self.looping { ", looping" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::decode::tests::test_jpeg;

    #[test]
    fn folder_plays_sorted_skips_corrupt_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("02.jpg"), test_jpeg(32, 16)).unwrap();
        std::fs::write(dir.path().join("01.JPG"), test_jpeg(16, 16)).unwrap();
        std::fs::write(dir.path().join("03.jpeg"), b"\xFF\xD8 broken").unwrap();
        image::RgbImage::new(8, 8)
            .save(dir.path().join("04.png"))
            .unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut cam = ReplayCamera::open(dir.path()).unwrap();
        assert_eq!(cam.len(), 4);
        assert_eq!(cam.next_frame().unwrap().image.dimensions(), (16, 16));
        let second = cam.next_frame().unwrap();
        assert_eq!((second.image.dimensions(), second.sequence), ((32, 16), 1));
        assert!(matches!(cam.next_frame(), Err(CameraError::Corrupt { .. })));
        assert_eq!(cam.next_frame().unwrap().image.dimensions(), (8, 8));
        assert!(matches!(cam.next_frame(), Err(CameraError::EndOfStream(_))));
        assert!(matches!(cam.next_frame(), Err(CameraError::EndOfStream(_))));
        cam.reopen().unwrap();
        assert_eq!(cam.next_frame().unwrap().image.dimensions(), (16, 16));
    }

    #[test]
    fn mjpeg_file_loops_and_refuses_wrong_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clip.mjpeg");
        let good = test_jpeg(32, 24);
        let mut data = good.clone();
        data.extend_from_slice(&test_jpeg(16, 16)); // wrong size
        data.extend_from_slice(&good[..good.len() - 30]); // truncated, followed by a good one
        data.extend_from_slice(&good);
        std::fs::write(&file, data).unwrap();
        let mut cam = ReplayCamera::open(&file)
            .unwrap()
            .looping(true)
            .expect_size(32, 24);
        assert_eq!(cam.len(), 4);
        let results: Vec<_> = (0..8)
            .map(|_| cam.next_frame().map(|f| f.image.dimensions()))
            .collect();
        for lap in [0, 4] {
            assert_eq!(results[lap].as_ref().unwrap(), &(32, 24));
            assert!(
                matches!(&results[lap + 1], Err(CameraError::Corrupt { detail, .. }) if detail.contains("expected"))
            );
            assert!(matches!(
                &results[lap + 2],
                Err(CameraError::Corrupt { .. })
            ));
            assert_eq!(results[lap + 3].as_ref().unwrap(), &(32, 24));
        }
    }

    #[test]
    fn empty_sources_are_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            ReplayCamera::open(dir.path()),
            Err(CameraError::Unsupported { .. })
        ));
        let file = dir.path().join("empty.mjpeg");
        std::fs::write(&file, b"no frames here").unwrap();
        assert!(matches!(
            ReplayCamera::open(&file),
            Err(CameraError::Unsupported { .. })
        ));
        assert!(matches!(
            ReplayCamera::open(dir.path().join("missing")),
            Err(CameraError::Io { .. })
        ));
    }

    #[test]
    fn pacing_spaces_frames() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clip.mjpeg");
        std::fs::write(&file, test_jpeg(8, 8)).unwrap();
        let mut cam = ReplayCamera::open(&file)
            .unwrap()
            .looping(true)
            .pace(Some(Duration::from_millis(30)));
        let start = Instant::now();
        for _ in 0..4 {
            cam.next_frame().unwrap();
        }
        assert!(start.elapsed() >= Duration::from_millis(90));
    }
}
