//! Pixel formats: the four-character codes the kiosk decodes, what a
//! device offers, which one to ask for, and one dequeued buffer turned into
//! a picture.

use std::fmt;

use image::RgbImage;
use v4l::v4l_sys as sys;

use super::FormatPreference;
use crate::camera::decode::{decode_jpeg, yuyv_to_rgb};
use crate::camera::CameraError;

/// Packs a four-character code as V4L2 does.
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

pub(super) const MJPG: u32 = fourcc(b"MJPG");
pub(super) const JPEG: u32 = fourcc(b"JPEG");
pub(super) const YUYV: u32 = fourcc(b"YUYV");

/// A four-character code as text, with unprintable bytes shown as `?`.
pub fn fourcc_name(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// A pixel format this camera can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Motion JPEG (`MJPG` or `JPEG`): one JPEG per buffer.
    Mjpeg,
    /// Packed YUV 4:2:2 (`YUYV`).
    Yuyv,
}

impl PixelFormat {
    pub(super) fn from_code(code: u32) -> Option<Self> {
        match code {
            MJPG | JPEG => Some(Self::Mjpeg),
            YUYV => Some(Self::Yuyv),
            _ => None,
        }
    }
}

/// The frame sizes a device offers for one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameSizes {
    /// A list of sizes.
    Discrete(Vec<(u32, u32)>),
    /// Any size in a range, in steps.
    Stepwise {
        /// Smallest width and height.
        min: (u32, u32),
        /// Largest width and height.
        max: (u32, u32),
        /// Width and height steps (1 for continuous).
        step: (u32, u32),
    },
    /// The driver does not enumerate sizes.
    Unknown,
}

impl FrameSizes {
    /// Whether `size` is offered.
    pub fn contains(&self, (w, h): (u32, u32)) -> bool {
        match self {
            FrameSizes::Discrete(sizes) => sizes.contains(&(w, h)),
            FrameSizes::Stepwise { min, max, step } => {
                let fits = |v: u32, lo: u32, hi: u32, st: u32| {
                    v >= lo && v <= hi && (v - lo) % st.max(1) == 0
                };
                fits(w, min.0, max.0, step.0) && fits(h, min.1, max.1, step.1)
            }
            FrameSizes::Unknown => false,
        }
    }

    /// The offered size closest to `size` (`None` when sizes are unknown).
    pub fn nearest(&self, (w, h): (u32, u32)) -> Option<(u32, u32)> {
        let dist = |&(a, b): &(u32, u32)| {
            (i64::from(a) - i64::from(w)).pow(2) + (i64::from(b) - i64::from(h)).pow(2)
        };
        match self {
            FrameSizes::Discrete(sizes) => sizes.iter().copied().min_by_key(dist),
            FrameSizes::Stepwise { min, max, step } => {
                let snap = |v: u32, lo: u32, hi: u32, st: u32| {
                    let st = st.max(1);
                    let v = v.clamp(lo, hi);
                    (lo + (v - lo + st / 2) / st * st).min(hi)
                };
                Some((snap(w, min.0, max.0, step.0), snap(h, min.1, max.1, step.1)))
            }
            FrameSizes::Unknown => None,
        }
    }
}

impl fmt::Display for FrameSizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSizes::Discrete(sizes) => {
                let list: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
                f.write_str(&list.join(" "))
            }
            FrameSizes::Stepwise { min, max, step } => {
                write!(
                    f,
                    "{}x{} to {}x{} step {}x{}",
                    min.0, min.1, max.0, max.1, step.0, step.1
                )
            }
            FrameSizes::Unknown => f.write_str("(sizes not listed)"),
        }
    }
}

/// One pixel format a device offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatInfo {
    /// The four-character code, e.g. `YUYV`.
    pub fourcc: String,
    /// The code as the kernel packs it.
    pub code: u32,
    /// The driver's description.
    pub description: String,
    /// Offered frame sizes.
    pub sizes: FrameSizes,
}

/// The format agreed with the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Pixel format.
    pub pixel: PixelFormat,
    /// Four-character code the driver uses.
    pub code: u32,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Bytes per line (YUYV rows may be padded).
    pub bytes_per_line: u32,
    /// Buffer size the driver asks for.
    pub size_image: u32,
}

/// Chooses format and size: the preferred formats in order, each at the
/// wanted size if offered; failing that, the first preferred format at its
/// nearest size (or the wanted size when the driver does not list sizes).
pub fn choose_format(
    formats: &[FormatInfo],
    want: (u32, u32),
    preference: FormatPreference,
) -> Result<(PixelFormat, u32, (u32, u32)), String> {
    let order: &[u32] = match preference {
        FormatPreference::Auto => &[MJPG, JPEG, YUYV],
        FormatPreference::Mjpeg => &[MJPG, JPEG],
        FormatPreference::Yuyv => &[YUYV],
    };
    let offered = || {
        order
            .iter()
            .filter_map(|code| formats.iter().find(|f| f.code == *code))
    };
    let pick = |f: &FormatInfo, size| PixelFormat::from_code(f.code).map(|p| (p, f.code, size));
    if let Some(hit) = offered()
        .find(|f| f.sizes.contains(want))
        .and_then(|f| pick(f, want))
    {
        return Ok(hit);
    }
    if let Some(f) = offered().next() {
        let size = f.sizes.nearest(want).unwrap_or(want);
        if let Some(hit) = pick(f, size) {
            return Ok(hit);
        }
    }
    let names: Vec<String> = formats.iter().map(|f| f.fourcc.clone()).collect();
    Err(format!(
        "offers {} but the kiosk decodes MJPEG and YUYV (asked: {preference:?})",
        names.join(", ")
    ))
}

/// Turns one dequeued buffer into a picture, refusing damaged ones.
pub fn convert_buffer(
    format: &Negotiated,
    data: &[u8],
    bytesused: u32,
    flags: u32,
    device: &str,
) -> Result<RgbImage, CameraError> {
    let corrupt = |detail: String| CameraError::Corrupt {
        device: device.to_string(),
        detail,
    };
    if flags & sys::V4L2_BUF_FLAG_ERROR != 0 {
        return Err(corrupt("driver flagged the frame as damaged".into()));
    }
    let used = bytesused as usize;
    if used == 0 {
        return Err(corrupt("empty buffer".into()));
    }
    if used > data.len() {
        return Err(corrupt(format!(
            "driver claims {used} bytes in a {}-byte buffer",
            data.len()
        )));
    }
    let payload = &data[..used];
    match format.pixel {
        PixelFormat::Mjpeg => decode_jpeg(payload, Some((format.width, format.height)), device),
        PixelFormat::Yuyv => yuyv_to_rgb(
            payload,
            format.width,
            format.height,
            format.bytes_per_line as usize,
            device,
        ),
    }
}
