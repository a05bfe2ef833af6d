//! The few V4L2 ioctls, done by hand (see the module documentation of
//! [`super`]): retrying on signals, zeroed argument structs, and each system
//! error mapped to the camera error kind the session reacts to.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use v4l::v4l2 as raw;
use v4l::v4l2::vidioc;
use v4l::v4l_sys as sys;

use crate::camera::CameraError;

pub(super) const BUF_TYPE: u32 = sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
pub(super) const MEMORY_MMAP: u32 = sys::v4l2_memory_V4L2_MEMORY_MMAP;

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
pub(super) unsafe fn xioctl<T>(
    file: &File,
    request: vidioc::_IOC_TYPE,
    arg: &mut T,
) -> io::Result<()> {
    loop {
        // SAFETY: the caller pairs `request` with its argument type; `arg` is a live, exclusive reference.
        match unsafe { raw::ioctl(file.as_raw_fd(), request, (arg as *mut T).cast()) } {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A zeroed kernel struct (all V4L2 argument structs are plain data).
pub(super) fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for bindgen'ed V4L2 structs of integers, arrays and unions thereof,
    // for which all-zero bytes is a valid value (and what the kernel API expects).
    unsafe { std::mem::zeroed() }
}

pub(super) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

pub(super) fn open_node(path: &Path, name: &str) -> Result<File, CameraError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| map_io_error(name, "open", e))
}
