//! Streaming: the negotiated format, the ring of mmap'ed buffers, one
//! frame dequeued, converted and queued again, and a teardown that never
//! fails loudly.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use image::RgbImage;
use v4l::v4l2::vidioc;
use v4l::v4l_sys as sys;

use super::format::{choose_format, convert_buffer, fourcc_name, Negotiated, PixelFormat};
use super::ioctl::{map_io_error, open_node, xioctl, zeroed, BUF_TYPE, MEMORY_MMAP};
use super::probe::{enum_formats, query_caps};
use super::V4l2Builder;
use crate::camera::decode::MAX_SIDE;
use crate::camera::CameraError;

pub(super) struct Mapping {
    pub(super) ptr: *mut libc::c_void,
    pub(super) len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this process; moving the owner
// to another thread is fine (access stays exclusive through `&mut self`).
unsafe impl Send for Mapping {}

impl Mapping {
    pub(super) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` bytes until `Stream` drops it.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

/// An open, streaming device with its buffer ring.
pub(super) struct Stream {
    pub(super) file: File,
    pub(super) card: String,
    pub(super) format: Negotiated,
    pub(super) buffers: Vec<Mapping>,
    pub(super) streaming: bool,
}

impl Stream {
    pub(super) fn start(config: &V4l2Builder, name: &str) -> Result<Self, CameraError> {
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

    pub(super) fn map_buffers(&mut self, count: u32, name: &str) -> Result<(), CameraError> {
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

    pub(super) fn queue(&self, index: u32, name: &str) -> Result<(), CameraError> {
        let mut buf: sys::v4l2_buffer = zeroed();
        buf.index = index;
        buf.type_ = BUF_TYPE;
        buf.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_QBUF takes a v4l2_buffer.
        unsafe { xioctl(&self.file, vidioc::VIDIOC_QBUF, &mut buf) }
            .map_err(|e| map_io_error(name, "VIDIOC_QBUF", e))
    }

    /// Waits for, converts and gives back one buffer.
    pub(super) fn capture(
        &mut self,
        timeout: Duration,
        name: &str,
    ) -> Result<RgbImage, CameraError> {
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
