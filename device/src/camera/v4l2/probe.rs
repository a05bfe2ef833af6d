//! Probing a device node: its capabilities, the formats and sizes it
//! offers, and the list `kiosk cameras` prints.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use v4l::v4l2::vidioc;
use v4l::v4l_sys as sys;

use super::format::{fourcc_name, FormatInfo, FrameSizes, PixelFormat};
use super::ioctl::{c_string, map_io_error, open_node, xioctl, zeroed, BUF_TYPE};
use crate::camera::CameraError;

pub(super) struct Caps {
    pub(super) card: String,
    pub(super) driver: String,
    pub(super) bus: String,
    pub(super) capture: bool,
    pub(super) streaming: bool,
}

pub(super) fn query_caps(file: &File, name: &str) -> Result<Caps, CameraError> {
    let mut cap: sys::v4l2_capability = zeroed();
    // SAFETY: VIDIOC_QUERYCAP takes a v4l2_capability.
    unsafe { xioctl(file, vidioc::VIDIOC_QUERYCAP, &mut cap) }
        .map_err(|e| map_io_error(name, "VIDIOC_QUERYCAP", e))?;
    let caps = if cap.capabilities & sys::V4L2_CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    Ok(Caps {
        card: c_string(&cap.card),
        driver: c_string(&cap.driver),
        bus: c_string(&cap.bus_info),
        capture: caps & sys::V4L2_CAP_VIDEO_CAPTURE != 0,
        streaming: caps & sys::V4L2_CAP_STREAMING != 0,
    })
}

/// Upper bound on enumeration indexes, against a driver that never says "no more".
pub(super) const ENUM_LIMIT: u32 = 256;

pub(super) fn enum_formats(file: &File, name: &str) -> Result<Vec<FormatInfo>, CameraError> {
    let mut formats = Vec::new();
    for index in 0..ENUM_LIMIT {
        let mut desc: sys::v4l2_fmtdesc = zeroed();
        desc.index = index;
        desc.type_ = BUF_TYPE;
        // SAFETY: VIDIOC_ENUM_FMT takes a v4l2_fmtdesc.
        match unsafe { xioctl(file, vidioc::VIDIOC_ENUM_FMT, &mut desc) } {
            Ok(()) => formats.push(FormatInfo {
                fourcc: fourcc_name(desc.pixelformat),
                code: desc.pixelformat,
                description: c_string(&desc.description),
                sizes: enum_sizes(file, desc.pixelformat),
            }),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(map_io_error(name, "VIDIOC_ENUM_FMT", e)),
        }
    }
    Ok(formats)
}

pub(super) fn enum_sizes(file: &File, code: u32) -> FrameSizes {
    let mut discrete = Vec::new();
    for index in 0..ENUM_LIMIT {
        let mut size: sys::v4l2_frmsizeenum = zeroed();
        size.index = index;
        size.pixel_format = code;
        // SAFETY: VIDIOC_ENUM_FRAMESIZES takes a v4l2_frmsizeenum.
        if unsafe { xioctl(file, vidioc::VIDIOC_ENUM_FRAMESIZES, &mut size) }.is_err() {
            break;
        }
        match size.type_ {
            sys::v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_DISCRETE => {
                // SAFETY: the driver set type DISCRETE, so the union holds `discrete`.
                let d = unsafe { size.__bindgen_anon_1.discrete };
                discrete.push((d.width, d.height));
            }
            sys::v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_STEPWISE
            | sys::v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_CONTINUOUS
                if index == 0 =>
            {
                // SAFETY: the driver set type STEPWISE/CONTINUOUS, so the union holds `stepwise`.
                let s = unsafe { size.__bindgen_anon_1.stepwise };
                return FrameSizes::Stepwise {
                    min: (s.min_width, s.min_height),
                    max: (s.max_width, s.max_height),
                    step: (s.step_width.max(1), s.step_height.max(1)),
                };
            }
            _ => break,
        }
    }
    if discrete.is_empty() {
        FrameSizes::Unknown
    } else {
        FrameSizes::Discrete(discrete)
    }
}

/// Describes one device node: capabilities and capture formats with sizes.
pub fn query_device(path: impl AsRef<Path>) -> Result<DeviceInfo, CameraError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = open_node(path, &name)?;
    let caps = query_caps(&file, &name)?;
    let formats = if caps.capture {
        enum_formats(&file, &name)?
    } else {
        Vec::new()
    };
    Ok(DeviceInfo {
        path: path.to_path_buf(),
        card: caps.card,
        driver: caps.driver,
        bus: caps.bus,
        formats,
    })
}

/// Lists the V4L2 video capture devices (`/dev/video*`, in number order).
/// Nodes that are not capture devices (a UVC camera's metadata node, an
/// encoder) or that cannot be opened are left out.
pub fn list_devices() -> Vec<DeviceInfo> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let number = name.strip_prefix("video")?.parse().ok()?;
                    Some((number, entry.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
        .into_iter()
        .filter_map(|(_, path)| match query_device(&path) {
            Ok(info) if !info.formats.is_empty() => Some(info),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("skipping {}: {e}", path.display());
                None
            }
        })
        .collect()
}

/// A V4L2 capture device, as `kiosk cameras` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device node, e.g. `/dev/video0`.
    pub path: PathBuf,
    /// Card (product) name.
    pub card: String,
    /// Kernel driver, e.g. `uvcvideo`.
    pub driver: String,
    /// Bus position, e.g. `usb-0000:01:00.0-1.2`.
    pub bus: String,
    /// Capture formats, in the driver's order.
    pub formats: Vec<FormatInfo>,
}

impl DeviceInfo {
    /// Whether the kiosk can decode at least one offered format.
    pub fn usable(&self) -> bool {
        self.formats
            .iter()
            .any(|f| PixelFormat::from_code(f.code).is_some())
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} (driver {}, bus {})",
            self.path.display(),
            self.card,
            self.driver,
            self.bus
        )?;
        for format in &self.formats {
            let usable = if PixelFormat::from_code(format.code).is_some() {
                ""
            } else {
                " [not used]"
            };
            writeln!(
                f,
                "  {} {}{usable}: {}",
                format.fourcc, format.description, format.sizes
            )?;
        }
        Ok(())
    }
}
