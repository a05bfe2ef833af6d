//! Cameras: where frames come from. One trait, with the real V4L2 camera
//! beside the virtual patient and replay from files; configuration picks one.

pub mod decode;
pub mod replay;
#[cfg(target_os = "linux")]
pub mod v4l2;
#[cfg(feature = "virtual-camera")]
pub mod virtual_patient;

use image::RgbImage;
use std::time::Instant;
use thiserror::Error;

use screening::protocol::Expression;

/// Which pixel format to ask a V4L2 camera for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatPreference {
    /// MJPEG if offered (less USB bandwidth), else YUYV.
    #[default]
    Auto,
    /// MJPEG only.
    Mjpeg,
    /// YUYV only.
    Yuyv,
}

impl std::str::FromStr for FormatPreference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(FormatPreference::Auto),
            "mjpeg" => Ok(FormatPreference::Mjpeg),
            "yuyv" => Ok(FormatPreference::Yuyv),
            other => Err(format!("unknown format `{other}` (auto, mjpeg, yuyv)")),
        }
    }
}

/// Why a kiosk built without the renderer cannot show a virtual patient.
pub const NO_VIRTUAL_CAMERA: &str = "this kiosk was built without the virtual patient \
     (cargo feature `virtual-camera`): set [camera] source to \"v4l2\" or \"replay\", \
     or rebuild with the feature";

/// One captured frame, converted to RGB.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The picture.
    pub image: RgbImage,
    /// Counts frames since the camera was opened.
    pub sequence: u64,
    /// When the frame was taken (monotonic).
    pub captured: Instant,
}

/// What went wrong with a camera. The session reacts by kind: a corrupt
/// frame is skipped, a lost camera is reopened with back-off.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CameraError {
    /// The device is gone (unplugged, driver unloaded).
    #[error("camera {device} is not connected: {detail}")]
    Disconnected {
        /// Device path or name.
        device: String,
        /// What the system said.
        detail: String,
    },
    /// No frame arrived within the time limit.
    #[error("camera {device} sent no frame for {waited_ms} ms")]
    Stalled {
        /// Device path or name.
        device: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// A frame arrived but cannot be used (bad JPEG, wrong size, short buffer).
    #[error("unusable frame from {device}: {detail}")]
    Corrupt {
        /// Device path or name.
        device: String,
        /// Why it was refused.
        detail: String,
    },
    /// The camera cannot deliver any format or size we can use.
    #[error("camera {device} offers no usable format: {detail}")]
    Unsupported {
        /// Device path or name.
        device: String,
        /// Formats it offered.
        detail: String,
    },
    /// A replay source ran out of frames.
    #[error("end of recording {0}")]
    EndOfStream(String),
    /// Any other input/output failure.
    #[error("camera {device}: {source}")]
    Io {
        /// Device path or name.
        device: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CameraError {
    /// Whether a fresh open of the device may help (as opposed to skipping one frame).
    pub fn needs_reopen(&self) -> bool {
        matches!(
            self,
            CameraError::Disconnected { .. } | CameraError::Stalled { .. } | CameraError::Io { .. }
        )
    }
}

/// A source of frames.
pub trait Camera {
    /// Blocks until the next frame (or an error) arrives.
    fn next_frame(&mut self) -> Result<Frame, CameraError>;

    /// Closes and opens the device again after it was lost.
    fn reopen(&mut self) -> Result<(), CameraError> {
        Ok(())
    }

    /// Tells the camera what the screen currently asks of the patient.
    /// Real cameras ignore it; the virtual patient follows it.
    fn follow_prompt(&mut self, _prompt: Option<Expression>) {}

    /// A short description for logs and the provisioning report.
    fn describe(&self) -> String;
}
