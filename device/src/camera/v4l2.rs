//! The real camera: Video4Linux2 capture from `/dev/videoN` (USB UVC webcams,
//! the Pi camera through its V4L2 bridge, `vivid` in the VM test).
//!
//! It negotiates MJPEG first, then YUYV, at the configured size (default
//! 640×480), streams through a few mmap'ed buffers, and turns each buffer
//! into an RGB [`Frame`]: MJPEG is sliced to `bytesused` and decoded with
//! zune-jpeg, YUYV is converted in plain Rust (see [`super::decode`]).
//!
//! Failure mapping, which the session's recovery relies on:
//! - `ENODEV`, `ENXIO`, `EIO`, `ENOENT` (node gone) → [`CameraError::Disconnected`];
//! - no frame within the timeout → [`CameraError::Stalled`];
//! - a frame flagged bad by the driver, of the wrong size or too short → [`CameraError::Corrupt`];
//! - nothing we can decode on offer → [`CameraError::Unsupported`].
//!
//! We use the `v4l` crate's generated kernel bindings and ioctl numbers but
//! not its higher-level types: in 0.14 those unwrap on device data (a card
//! name cut inside a UTF-8 character, an unknown colorspace value) and panic
//! in `Drop` when `STREAMOFF` fails on a dying device. A kiosk must survive
//! whatever a cheap camera answers, so the few ioctls are done here, each
//! failure mapped to a typed error, and teardown ignores errors.

mod format;
mod ioctl;
mod probe;
mod stream;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::decode::MAX_SIDE;
pub use super::FormatPreference;
use super::{Camera, CameraError, Frame};
pub use format::{
    choose_format, convert_buffer, fourcc, fourcc_name, FormatInfo, FrameSizes, Negotiated,
    PixelFormat,
};
pub use ioctl::map_io_error;
pub use probe::{list_devices, query_device, DeviceInfo};
use stream::Stream;

/// The size asked for when none is configured.
pub const DEFAULT_SIZE: (u32, u32) = (640, 480);
/// How long `next_frame` waits for a frame before reporting a stall.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Buffers in the capture ring: one being converted, the rest being filled.
pub const DEFAULT_BUFFERS: u32 = 4;

/// Settings for a [`V4l2Camera`]; build with [`V4l2Camera::builder`].
#[derive(Debug, Clone)]
pub struct V4l2Builder {
    path: PathBuf,
    size: (u32, u32),
    format: FormatPreference,
    buffers: u32,
    timeout: Duration,
}

impl V4l2Builder {
    /// Frame size to ask for (default 640×480).
    #[must_use]
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Format preference (default: MJPEG, then YUYV).
    #[must_use]
    pub fn format(mut self, format: FormatPreference) -> Self {
        self.format = format;
        self
    }

    /// Buffers in the capture ring, 2 to 32 (default 4).
    #[must_use]
    pub fn buffers(mut self, count: u32) -> Self {
        self.buffers = count;
        self
    }

    /// How long to wait for a frame before [`CameraError::Stalled`] (default 2 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings, opens the device and starts streaming.
    pub fn open(self) -> Result<V4l2Camera, CameraError> {
        let name = self.path.display().to_string();
        let invalid = |detail: String| CameraError::Unsupported {
            device: name.clone(),
            detail,
        };
        let (w, h) = self.size;
        if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
            return Err(invalid(format!(
                "frame size {w}×{h} outside 1..={MAX_SIDE}"
            )));
        }
        if !(2..=32).contains(&self.buffers) {
            return Err(invalid(format!(
                "{} capture buffers; use 2 to 32",
                self.buffers
            )));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err(invalid(format!(
                "frame timeout {:?}; use up to 60 s",
                self.timeout
            )));
        }
        let stream = Stream::start(&self, &name)?;
        Ok(V4l2Camera {
            config: self,
            name,
            stream: Some(stream),
            sequence: 0,
        })
    }
}

/// A V4L2 camera (see the module documentation).
pub struct V4l2Camera {
    config: V4l2Builder,
    name: String,
    stream: Option<Stream>,
    sequence: u64,
}

impl fmt::Debug for V4l2Camera {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4l2Camera")
            .field("path", &self.config.path)
            .field("format", &self.format())
            .finish()
    }
}

impl V4l2Camera {
    /// Settings for the device at `path` (e.g. `/dev/video0`), with the defaults.
    pub fn builder(path: impl AsRef<Path>) -> V4l2Builder {
        V4l2Builder {
            path: path.as_ref().to_path_buf(),
            size: DEFAULT_SIZE,
            format: FormatPreference::Auto,
            buffers: DEFAULT_BUFFERS,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Opens `path` at 640×480, MJPEG then YUYV, and starts streaming.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CameraError> {
        Self::builder(path).open()
    }

    /// The format in use, or `None` while the device is lost.
    pub fn format(&self) -> Option<Negotiated> {
        self.stream.as_ref().map(|s| s.format)
    }
}

impl Camera for V4l2Camera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(Stream::start(&self.config, &self.name)?),
        };
        match stream.capture(self.config.timeout, &self.name) {
            Ok(image) => {
                self.sequence += 1;
                Ok(Frame {
                    image,
                    sequence: self.sequence - 1,
                    captured: Instant::now(),
                })
            }
            Err(err) => {
                if err.needs_reopen() {
                    // Release the buffers now; the next call or `reopen` starts afresh.
                    self.stream = None;
                }
                Err(err)
            }
        }
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        self.stream = None;
        self.sequence = 0;
        self.stream = Some(Stream::start(&self.config, &self.name)?);
        Ok(())
    }

    fn describe(&self) -> String {
        match &self.stream {
            Some(s) => format!(
                "V4L2 {} ({}, {} {}×{})",
                self.name,
                s.card,
                fourcc_name(s.format.code),
                s.format.width,
                s.format.height
            ),
            None => format!("V4L2 {} (not open)", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::decode::tests::test_jpeg;
    use std::io;

    fn fmt(code: &[u8; 4], sizes: FrameSizes) -> FormatInfo {
        FormatInfo {
            fourcc: fourcc_name(fourcc(code)),
            code: fourcc(code),
            description: String::new(),
            sizes,
        }
    }

    #[test]
    fn prefers_mjpeg_then_yuyv_at_the_wanted_size() {
        let vga = FrameSizes::Discrete(vec![(320, 240), (640, 480)]);
        let small = FrameSizes::Discrete(vec![(320, 240), (1280, 720)]);
        let both = [fmt(b"YUYV", vga.clone()), fmt(b"MJPG", vga.clone())];
        assert_eq!(
            choose_format(&both, (640, 480), FormatPreference::Auto),
            Ok((PixelFormat::Mjpeg, fourcc(b"MJPG"), (640, 480)))
        );
        assert_eq!(
            choose_format(&both, (640, 480), FormatPreference::Yuyv)
                .unwrap()
                .0,
            PixelFormat::Yuyv
        );
        // MJPEG lacks the size but YUYV has it: the size wins.
        let mixed = [fmt(b"MJPG", small.clone()), fmt(b"YUYV", vga)];
        assert_eq!(
            choose_format(&mixed, (640, 480), FormatPreference::Auto)
                .unwrap()
                .0,
            PixelFormat::Yuyv
        );
        // Nobody has it: first preferred format at its nearest size.
        let only_small = [fmt(b"MJPG", small)];
        assert_eq!(
            choose_format(&only_small, (640, 480), FormatPreference::Auto)
                .unwrap()
                .2,
            (320, 240)
        );
        // Nothing decodable on offer.
        let h264 = [fmt(b"H264", FrameSizes::Unknown)];
        let err = choose_format(&h264, (640, 480), FormatPreference::Auto).unwrap_err();
        assert!(err.contains("H264"), "{err}");
        assert!(choose_format(&mixed[..1], (640, 480), FormatPreference::Yuyv).is_err());
    }

    #[test]
    fn stepwise_sizes_contain_and_snap() {
        let s = FrameSizes::Stepwise {
            min: (16, 16),
            max: (1920, 1080),
            step: (16, 8),
        };
        assert!(s.contains((640, 480)));
        assert!(!s.contains((641, 480)));
        assert!(!s.contains((4000, 480)));
        assert_eq!(s.nearest((641, 5000)), Some((640, 1080)));
        assert_eq!(FrameSizes::Unknown.nearest((640, 480)), None);
        assert_eq!(s.to_string(), "16x16 to 1920x1080 step 16x8");
    }

    #[test]
    fn fourcc_names_are_printable() {
        assert_eq!(fourcc_name(fourcc(b"YUYV")), "YUYV");
        assert_eq!(fourcc_name(0x0001_4D4A), "JM??");
    }

    fn negotiated(pixel: PixelFormat, w: u32, h: u32) -> Negotiated {
        Negotiated {
            pixel,
            code: 0,
            width: w,
            height: h,
            bytes_per_line: w * 2,
            size_image: w * h * 2,
        }
    }

    #[test]
    fn buffers_are_validated_before_conversion() {
        let yuyv = negotiated(PixelFormat::Yuyv, 4, 2);
        let data = [128u8; 64];
        assert_eq!(
            convert_buffer(&yuyv, &data, 16, 0, "t")
                .unwrap()
                .dimensions(),
            (4, 2)
        );
        for (used, flags, why) in [
            (15, 0, "short"),
            (0, 0, "empty"),
            (65, 0, "claims"),
            (16, 0x40, "flagged"),
        ] {
            let err = convert_buffer(&yuyv, &data, used, flags, "t").unwrap_err();
            assert!(
                matches!(&err, CameraError::Corrupt { detail, .. } if detail.contains(why)),
                "{why}: {err}"
            );
        }
        let jpeg = test_jpeg(32, 16);
        let mut buffer = jpeg.clone();
        buffer.resize(4096, 0xAA); // stale bytes of an earlier, larger frame after `bytesused`
        let mjpeg = negotiated(PixelFormat::Mjpeg, 32, 16);
        assert!(convert_buffer(&mjpeg, &buffer, jpeg.len() as u32, 0, "t").is_ok());
        assert!(convert_buffer(&mjpeg, &buffer, 4096, 0, "t").is_err());
        let wrong_size = negotiated(PixelFormat::Mjpeg, 640, 480);
        assert!(convert_buffer(&wrong_size, &buffer, jpeg.len() as u32, 0, "t").is_err());
    }

    #[test]
    fn errors_map_to_the_kinds_the_session_needs() {
        let dis = |code| map_io_error("cam", "op", io::Error::from_raw_os_error(code));
        for code in [libc::ENODEV, libc::EIO, libc::ENXIO, libc::ENOENT] {
            assert!(
                matches!(dis(code), CameraError::Disconnected { .. }),
                "{code}"
            );
        }
        assert!(matches!(dis(libc::ETIMEDOUT), CameraError::Stalled { .. }));
        assert!(matches!(dis(libc::ENOTTY), CameraError::Unsupported { .. }));
        assert!(matches!(dis(libc::ENOSYS), CameraError::Unsupported { .. }));
        assert!(matches!(dis(libc::EBUSY), CameraError::Io { .. }));
    }

    #[test]
    fn missing_node_is_disconnected_and_non_v4l2_node_unsupported() {
        assert!(matches!(
            V4l2Camera::open("/dev/video-does-not-exist"),
            Err(CameraError::Disconnected { .. })
        ));
        assert!(matches!(
            query_device("/dev/null"),
            Err(CameraError::Unsupported { .. })
        ));
        assert!(matches!(
            V4l2Camera::builder("/dev/null").buffers(1).open(),
            Err(CameraError::Unsupported { detail, .. }) if detail.contains("buffers")
        ));
        assert!(matches!(
            V4l2Camera::builder("/dev/null").size(0, 480).open(),
            Err(CameraError::Unsupported { detail, .. }) if detail.contains("size")
        ));
    }
}
