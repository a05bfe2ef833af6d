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

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use v4l::v4l2 as raw;
use v4l::v4l2::vidioc;
use v4l::v4l_sys as sys;

use super::decode::{decode_jpeg, yuyv_to_rgb, MAX_SIDE};
use super::{Camera, CameraError, Frame};

/// The size asked for when none is configured.
pub const DEFAULT_SIZE: (u32, u32) = (640, 480);
/// How long `next_frame` waits for a frame before reporting a stall.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Buffers in the capture ring: one being converted, the rest being filled.
pub const DEFAULT_BUFFERS: u32 = 4;

const BUF_TYPE: u32 = sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
const MEMORY_MMAP: u32 = sys::v4l2_memory_V4L2_MEMORY_MMAP;

/// Packs a four-character code as V4L2 does.
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

const MJPG: u32 = fourcc(b"MJPG");
const JPEG: u32 = fourcc(b"JPEG");
const YUYV: u32 = fourcc(b"YUYV");

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
    fn from_code(code: u32) -> Option<Self> {
        match code {
            MJPG | JPEG => Some(Self::Mjpeg),
            YUYV => Some(Self::Yuyv),
            _ => None,
        }
    }
}

/// Which format to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatPreference {
    /// MJPEG if offered (less USB bandwidth), else YUYV.
    #[default]
    Auto,
    /// MJPEG only.
    Mjpeg,
    /// YUYV only.
    Yuyv,
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

/// Maps a system error to the camera error kind the session reacts to.
pub fn map_io_error(device: &str, op: &str, err: io::Error) -> CameraError {
    match err.raw_os_error() {
        Some(libc::ENODEV | libc::ENXIO | libc::EIO | libc::ENOENT | libc::ESHUTDOWN) => {
            CameraError::Disconnected {
                device: device.to_string(),
                detail: format!("{op}: {err}"),
            }
        }
        Some(libc::ETIMEDOUT) => CameraError::Stalled {
            device: device.to_string(),
            waited_ms: 0,
        },
        // ENOTTY is the kernel's answer to an ioctl a node does not know;
        // qemu-user answers ioctls it cannot translate with ENOSYS instead.
        Some(libc::ENOTTY | libc::ENOSYS) => CameraError::Unsupported {
            device: device.to_string(),
            detail: format!("{op}: not a V4L2 device ({err})"),
        },
        _ => CameraError::Io {
            device: device.to_string(),
            source: io::Error::new(err.kind(), format!("{op}: {err}")),
        },
    }
}

/// Runs one ioctl, retrying when a signal interrupts it.
///
/// # Safety
/// `request` must be a V4L2 ioctl whose argument type is `T`.
unsafe fn xioctl<T>(file: &File, request: vidioc::_IOC_TYPE, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: the caller pairs `request` with its argument type; `arg` is a live, exclusive reference.
        match unsafe { raw::ioctl(file.as_raw_fd(), request, (arg as *mut T).cast()) } {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A zeroed kernel struct (all V4L2 argument structs are plain data).
fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for bindgen'ed V4L2 structs of integers, arrays and unions thereof,
    // for which all-zero bytes is a valid value (and what the kernel API expects).
    unsafe { std::mem::zeroed() }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

fn open_node(path: &Path, name: &str) -> Result<File, CameraError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| map_io_error(name, "open", e))
}

struct Caps {
    card: String,
    driver: String,
    bus: String,
    capture: bool,
    streaming: bool,
}

fn query_caps(file: &File, name: &str) -> Result<Caps, CameraError> {
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
const ENUM_LIMIT: u32 = 256;

fn enum_formats(file: &File, name: &str) -> Result<Vec<FormatInfo>, CameraError> {
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

fn enum_sizes(file: &File, code: u32) -> FrameSizes {
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

struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this process; moving the owner
// to another thread is fine (access stays exclusive through `&mut self`).
unsafe impl Send for Mapping {}

impl Mapping {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` bytes until `Stream` drops it.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

/// An open, streaming device with its buffer ring.
struct Stream {
    file: File,
    card: String,
    format: Negotiated,
    buffers: Vec<Mapping>,
    streaming: bool,
}

impl Stream {
    fn start(config: &V4l2Builder, name: &str) -> Result<Self, CameraError> {
        let file = open_node(&config.path, name)?;
        let caps = query_caps(&file, name)?;
        if !caps.capture || !caps.streaming {
            return Err(CameraError::Unsupported {
                device: name.to_string(),
                detail: format!(
                    "{} ({}) is not a streaming capture device",
                    caps.card, caps.driver
                ),
            });
        }
        let formats = enum_formats(&file, name)?;
        let (pixel, code, (width, height)) = choose_format(&formats, config.size, config.format)
            .map_err(|detail| CameraError::Unsupported {
                device: name.to_string(),
                detail,
            })?;

        let mut fmt: sys::v4l2_format = zeroed();
        fmt.type_ = BUF_TYPE;
        // Writing a union field is safe; the driver reads `pix` for a capture buffer type.
        fmt.fmt.pix.width = width;
        fmt.fmt.pix.height = height;
        fmt.fmt.pix.pixelformat = code;
        fmt.fmt.pix.field = sys::v4l2_field_V4L2_FIELD_NONE;
        // SAFETY: VIDIOC_S_FMT takes a v4l2_format.
        unsafe { xioctl(&file, vidioc::VIDIOC_S_FMT, &mut fmt) }
            .map_err(|e| map_io_error(name, "VIDIOC_S_FMT", e))?;
        // SAFETY: for a VIDEO_CAPTURE buffer type the driver fills `pix`.
        let pix = unsafe { fmt.fmt.pix };
        if PixelFormat::from_code(pix.pixelformat) != Some(pixel) {
            return Err(CameraError::Unsupported {
                device: name.to_string(),
                detail: format!(
                    "asked for {}, driver set {}",
                    fourcc_name(code),
                    fourcc_name(pix.pixelformat)
                ),
            });
        }
        if pix.width == 0 || pix.height == 0 || pix.width > MAX_SIDE || pix.height > MAX_SIDE {
            return Err(CameraError::Unsupported {
                device: name.to_string(),
                detail: format!("driver set an unusable size {}×{}", pix.width, pix.height),
            });
        }
        if (pix.width, pix.height) != config.size {
            tracing::warn!(
                "{name}: {}×{} not offered, using {}×{}",
                config.size.0,
                config.size.1,
                pix.width,
                pix.height
            );
        }
        let format = Negotiated {
            pixel,
            code: pix.pixelformat,
            width: pix.width,
            height: pix.height,
            bytes_per_line: pix.bytesperline.max(if pixel == PixelFormat::Yuyv {
                pix.width * 2
            } else {
                0
            }),
            size_image: pix.sizeimage,
        };
        let mut stream = Stream {
            file,
            card: caps.card,
            format,
            buffers: Vec::new(),
            streaming: false,
        };
        stream.map_buffers(config.buffers, name)?;
        for index in 0..stream.buffers.len() {
            stream.queue(index as u32, name)?;
        }
        let mut kind = BUF_TYPE as libc::c_int;
        // SAFETY: VIDIOC_STREAMON takes an int buffer type.
        unsafe { xioctl(&stream.file, vidioc::VIDIOC_STREAMON, &mut kind) }
            .map_err(|e| map_io_error(name, "VIDIOC_STREAMON", e))?;
        stream.streaming = true;
        Ok(stream)
    }

    fn map_buffers(&mut self, count: u32, name: &str) -> Result<(), CameraError> {
        let mut req: sys::v4l2_requestbuffers = zeroed();
        req.count = count;
        req.type_ = BUF_TYPE;
        req.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_REQBUFS takes a v4l2_requestbuffers.
        unsafe { xioctl(&self.file, vidioc::VIDIOC_REQBUFS, &mut req) }
            .map_err(|e| map_io_error(name, "VIDIOC_REQBUFS", e))?;
        if req.count < 2 {
            return Err(CameraError::Unsupported {
                device: name.to_string(),
                detail: format!("driver granted {} capture buffers", req.count),
            });
        }
        for index in 0..req.count {
            let mut buf: sys::v4l2_buffer = zeroed();
            buf.index = index;
            buf.type_ = BUF_TYPE;
            buf.memory = MEMORY_MMAP;
            // SAFETY: VIDIOC_QUERYBUF takes a v4l2_buffer.
            unsafe { xioctl(&self.file, vidioc::VIDIOC_QUERYBUF, &mut buf) }
                .map_err(|e| map_io_error(name, "VIDIOC_QUERYBUF", e))?;
            let len = buf.length as usize;
            // SAFETY: for MMAP memory the driver set `m.offset`.
            let offset = unsafe { buf.m.offset };
            // SAFETY: mapping a driver buffer of `len` bytes at the offset it gave; checked below.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    self.file.as_raw_fd(),
                    offset as libc::off_t,
                )
            };
            if ptr == libc::MAP_FAILED || len == 0 {
                return Err(map_io_error(name, "mmap", io::Error::last_os_error()));
            }
            self.buffers.push(Mapping { ptr, len });
        }
        Ok(())
    }

    fn queue(&self, index: u32, name: &str) -> Result<(), CameraError> {
        let mut buf: sys::v4l2_buffer = zeroed();
        buf.index = index;
        buf.type_ = BUF_TYPE;
        buf.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_QBUF takes a v4l2_buffer.
        unsafe { xioctl(&self.file, vidioc::VIDIOC_QBUF, &mut buf) }
            .map_err(|e| map_io_error(name, "VIDIOC_QBUF", e))
    }

    /// Waits for, converts and gives back one buffer.
    fn capture(&mut self, timeout: Duration, name: &str) -> Result<RgbImage, CameraError> {
        let started = Instant::now();
        let stalled = || CameraError::Stalled {
            device: name.to_string(),
            waited_ms: started.elapsed().as_millis() as u64,
        };
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe {
                libc::poll(
                    &mut pfd,
                    1,
                    left.as_millis().min(i32::MAX as u128) as libc::c_int,
                )
            };
            if ready < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(map_io_error(name, "poll", err));
            }
            if ready == 0 {
                return Err(stalled());
            }
            let mut buf: sys::v4l2_buffer = zeroed();
            buf.type_ = BUF_TYPE;
            buf.memory = MEMORY_MMAP;
            // SAFETY: VIDIOC_DQBUF takes a v4l2_buffer.
            match unsafe { xioctl(&self.file, vidioc::VIDIOC_DQBUF, &mut buf) } {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if started.elapsed() >= timeout {
                        return Err(stalled());
                    }
                    // Woken without a buffer (POLLERR before streaming settles): wait a little.
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(e) => return Err(map_io_error(name, "VIDIOC_DQBUF", e)),
            }
            let Some(mapping) = self.buffers.get(buf.index as usize) else {
                return Err(CameraError::Corrupt {
                    device: name.to_string(),
                    detail: format!(
                        "driver returned buffer {} of {}",
                        buf.index,
                        self.buffers.len()
                    ),
                });
            };
            let converted = convert_buffer(
                &self.format,
                mapping.bytes(),
                buf.bytesused,
                buf.flags,
                name,
            );
            self.queue(buf.index, name)?;
            return converted;
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Teardown never fails loudly: on an unplugged camera every step may error.
        if self.streaming {
            let mut kind = BUF_TYPE as libc::c_int;
            // SAFETY: VIDIOC_STREAMOFF takes an int buffer type.
            let _ = unsafe { xioctl(&self.file, vidioc::VIDIOC_STREAMOFF, &mut kind) };
        }
        for m in self.buffers.drain(..) {
            // SAFETY: unmapping a mapping this stream made and nothing borrows any more.
            unsafe { libc::munmap(m.ptr, m.len) };
        }
        let mut req: sys::v4l2_requestbuffers = zeroed();
        req.type_ = BUF_TYPE;
        req.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_REQBUFS takes a v4l2_requestbuffers; count 0 frees the buffers.
        let _ = unsafe { xioctl(&self.file, vidioc::VIDIOC_REQBUFS, &mut req) };
    }
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
