//! The Linux framebuffer (`/dev/fb0`: an HDMI or DSI screen under the Pi's
//! KMS fbdev emulation, an fbtft SPI panel, `vfb` in the VM test).
//!
//! Screens are drawn into a [`Canvas`]; `flush` packs it into the device's
//! pixel layout and writes the visible area with `pwrite`. The layout comes
//! from `FBIOGET_VSCREENINFO` / `FBIOGET_FSCREENINFO`: 16 bpp (RGB565 and
//! its BGR or 555 variants), 24 bpp and 32 bpp (XRGB8888, XBGR8888), with
//! the driver's bitfield offsets, `line_length` (rows may be padded) and
//! panning offsets honoured. Palette (8 bpp) modes are refused with a clear
//! message. [`FramebufferDisplay::read_back`] reads the screen back into an
//! RGB image, for `kiosk fb-dump` and the VM test.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use embedded_graphics::prelude::*;
use image::RgbImage;

use super::{Canvas, Display, DisplayError};
use crate::forward_draw_target;

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;
const FB_VISUAL_TRUECOLOR: u32 = 2;
const FB_VISUAL_DIRECTCOLOR: u32 = 4;
const FB_TYPE_PACKED_PIXELS: u32 = 0;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbBitfield {
    offset: u32,
    length: u32,
    msb_right: u32,
}

/// `struct fb_var_screeninfo` from `<linux/fb.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbVarScreeninfo {
    xres: u32,
    yres: u32,
    xres_virtual: u32,
    yres_virtual: u32,
    xoffset: u32,
    yoffset: u32,
    bits_per_pixel: u32,
    grayscale: u32,
    red: FbBitfield,
    green: FbBitfield,
    blue: FbBitfield,
    transp: FbBitfield,
    nonstd: u32,
    activate: u32,
    height: u32,
    width: u32,
    accel_flags: u32,
    pixclock: u32,
    left_margin: u32,
    right_margin: u32,
    upper_margin: u32,
    lower_margin: u32,
    hsync_len: u32,
    vsync_len: u32,
    sync: u32,
    vmode: u32,
    rotate: u32,
    colorspace: u32,
    reserved: [u32; 4],
}

/// `struct fb_fix_screeninfo` from `<linux/fb.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct FbFixScreeninfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

/// Where one colour channel sits in a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    /// Bit offset from the least significant bit.
    pub offset: u32,
    /// Bits, 1 to 8.
    pub length: u32,
}

impl Channel {
    /// Places an 8-bit value (its top `length` bits) in the pixel.
    #[inline]
    fn pack(self, value: u8) -> u32 {
        let length = self.length.clamp(1, 8);
        (u32::from(value) >> (8 - length))
            .checked_shl(self.offset)
            .unwrap_or(0)
    }

    /// Reads the channel back as 8 bits, spreading `length` bits over 0..=255.
    #[inline]
    fn unpack(self, pixel: u32) -> u8 {
        let max = (1u32 << self.length.clamp(1, 8)) - 1;
        let v = pixel.checked_shr(self.offset).unwrap_or(0) & max;
        ((v * 255 + max / 2) / max) as u8
    }
}

/// A framebuffer's memory layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FbLayout {
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Bytes per pixel: 2, 3 or 4.
    pub bytes_per_pixel: u32,
    /// Bytes from one row to the next.
    pub line_length: u32,
    /// First visible column (panning).
    pub xoffset: u32,
    /// First visible row (panning, double buffering).
    pub yoffset: u32,
    /// Red channel.
    pub red: Channel,
    /// Green channel.
    pub green: Channel,
    /// Blue channel.
    pub blue: Channel,
}

impl FbLayout {
    /// RGB565 with no padding, as most SPI panels' fbtft drivers use.
    pub fn rgb565(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            bytes_per_pixel: 2,
            line_length: width * 2,
            xoffset: 0,
            yoffset: 0,
            red: Channel {
                offset: 11,
                length: 5,
            },
            green: Channel {
                offset: 5,
                length: 6,
            },
            blue: Channel {
                offset: 0,
                length: 5,
            },
        }
    }

    /// XRGB8888 with no padding, as KMS fbdev emulation uses.
    pub fn xrgb8888(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            bytes_per_pixel: 4,
            line_length: width * 4,
            xoffset: 0,
            yoffset: 0,
            red: Channel {
                offset: 16,
                length: 8,
            },
            green: Channel {
                offset: 8,
                length: 8,
            },
            blue: Channel {
                offset: 0,
                length: 8,
            },
        }
    }

    /// Checks that the layout is one we can draw and that the visible area
    /// fits in `memory` bytes (`None`: do not check).
    pub fn validate(&self, memory: Option<u64>) -> Result<(), String> {
        if !(2..=4).contains(&self.bytes_per_pixel) {
            return Err(format!(
                "{} bits per pixel (16, 24 or 32 supported)",
                self.bytes_per_pixel * 8
            ));
        }
        if self.width == 0 || self.height == 0 || self.width > 8192 || self.height > 8192 {
            return Err(format!("visible size {}×{}", self.width, self.height));
        }
        let bits = self.bytes_per_pixel * 8;
        for (name, c) in [
            ("red", self.red),
            ("green", self.green),
            ("blue", self.blue),
        ] {
            if c.length == 0 || c.length > 8 || c.offset + c.length > bits {
                return Err(format!(
                    "{name} bitfield {}+{} in a {bits}-bit pixel",
                    c.offset, c.length
                ));
            }
        }
        let row_end = u64::from(self.xoffset + self.width) * u64::from(self.bytes_per_pixel);
        if row_end > u64::from(self.line_length) {
            return Err(format!(
                "rows of {row_end} bytes exceed line length {}",
                self.line_length
            ));
        }
        if let Some(memory) = memory {
            let needed = u64::from(self.yoffset + self.height) * u64::from(self.line_length);
            if needed > memory {
                return Err(format!(
                    "visible area needs {needed} bytes, device memory has {memory}"
                ));
            }
        }
        Ok(())
    }

    fn visible_bytes(&self) -> usize {
        self.height as usize * self.line_length as usize
    }

    fn start_offset(&self) -> u64 {
        u64::from(self.yoffset) * u64::from(self.line_length)
    }

    /// Packs a canvas into the device's bytes for the visible rows (padding zeroed).
    /// Pixels that would fall outside `out` (a layout that fails
    /// [`FbLayout::validate`]) are dropped rather than panicking.
    pub fn pack(&self, canvas: &Canvas, out: &mut Vec<u8>) {
        out.clear();
        out.resize(self.visible_bytes(), 0);
        let (bpp, x0) = (
            (self.bytes_per_pixel as usize).clamp(1, 4),
            self.xoffset as usize,
        );
        let width = (self.width as usize).min(canvas.size().width as usize);
        for (row, line) in canvas
            .pixels()
            .chunks_exact(canvas.size().width.max(1) as usize)
            .take(self.height as usize)
            .enumerate()
        {
            let Some(dst) = out.get_mut(row * self.line_length as usize + x0 * bpp..) else {
                break;
            };
            for (c, px) in line[..width].iter().zip(dst.chunks_exact_mut(bpp)) {
                let value = self.red.pack(c.r()) | self.green.pack(c.g()) | self.blue.pack(c.b());
                px.copy_from_slice(&value.to_ne_bytes()[..bpp]);
            }
        }
    }

    /// Unpacks the device's bytes for the visible rows into an RGB image
    /// (black where `bytes` is too short).
    pub fn unpack(&self, bytes: &[u8]) -> RgbImage {
        let (bpp, x0) = (
            (self.bytes_per_pixel as usize).clamp(1, 4),
            self.xoffset as usize,
        );
        RgbImage::from_fn(self.width, self.height, |x, y| {
            let at = y as usize * self.line_length as usize + (x0 + x as usize) * bpp;
            let mut word = [0u8; 4];
            if let Some(src) = bytes.get(at..at + bpp) {
                word[..bpp].copy_from_slice(src);
            }
            let value = u32::from_ne_bytes(word);
            image::Rgb([
                self.red.unpack(value),
                self.green.unpack(value),
                self.blue.unpack(value),
            ])
        })
    }
}

/// Reads the layout of an open framebuffer device.
fn query_layout(file: &File, name: &str) -> Result<FbLayout, DisplayError> {
    let io_err = |op: &str, e: io::Error| DisplayError::Io {
        device: name.to_string(),
        source: io::Error::new(e.kind(), format!("{op}: {e}")),
    };
    let mut var = FbVarScreeninfo::default();
    let mut fix = FbFixScreeninfo::default();
    // SAFETY: FBIOGET_VSCREENINFO fills a fb_var_screeninfo, which the repr(C) struct mirrors.
    if unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            FBIOGET_VSCREENINFO as _,
            &mut var as *mut FbVarScreeninfo,
        )
    } < 0
    {
        return Err(io_err("FBIOGET_VSCREENINFO", io::Error::last_os_error()));
    }
    // SAFETY: FBIOGET_FSCREENINFO fills a fb_fix_screeninfo, which the repr(C) struct mirrors.
    if unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            FBIOGET_FSCREENINFO as _,
            &mut fix as *mut FbFixScreeninfo,
        )
    } < 0
    {
        return Err(io_err("FBIOGET_FSCREENINFO", io::Error::last_os_error()));
    }
    let unsupported = |detail: String| DisplayError::Unsupported {
        device: name.to_string(),
        detail,
    };
    if fix.type_ != FB_TYPE_PACKED_PIXELS
        || !matches!(fix.visual, FB_VISUAL_TRUECOLOR | FB_VISUAL_DIRECTCOLOR)
    {
        return Err(unsupported(format!(
            "{} bpp, type {} visual {} (need packed true colour; set 16 or 32 bpp, e.g. `fbset -depth 32`)",
            var.bits_per_pixel, fix.type_, fix.visual
        )));
    }
    if var.bits_per_pixel % 8 != 0 {
        return Err(unsupported(format!(
            "{} bits per pixel",
            var.bits_per_pixel
        )));
    }
    let channel = |b: FbBitfield| Channel {
        offset: b.offset,
        length: b.length,
    };
    let layout = FbLayout {
        width: var.xres,
        height: var.yres,
        bytes_per_pixel: var.bits_per_pixel / 8,
        line_length: fix.line_length,
        xoffset: var.xoffset,
        yoffset: var.yoffset,
        red: channel(var.red),
        green: channel(var.green),
        blue: channel(var.blue),
    };
    if var.red.msb_right != 0 || var.green.msb_right != 0 || var.blue.msb_right != 0 {
        return Err(unsupported("bit-reversed colour fields".into()));
    }
    layout
        .validate(Some(u64::from(fix.smem_len)))
        .map_err(unsupported)?;
    Ok(layout)
}

/// A framebuffer device as a [`Display`].
pub struct FramebufferDisplay {
    canvas: Canvas,
    file: File,
    path: PathBuf,
    layout: FbLayout,
    scratch: Vec<u8>,
}

forward_draw_target!(FramebufferDisplay);

impl std::fmt::Debug for FramebufferDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramebufferDisplay")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .finish()
    }
}

impl FramebufferDisplay {
    /// Opens a framebuffer device (e.g. `/dev/fb0`) and reads its mode.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DisplayError> {
        let path = path.as_ref().to_path_buf();
        let name = path.display().to_string();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| DisplayError::Io {
                device: name.clone(),
                source,
            })?;
        let layout = query_layout(&file, &name)?;
        Ok(Self::with_file(file, path, layout))
    }

    /// Draws into any file with a known layout: a framebuffer whose mode was
    /// read elsewhere, or a plain file in tests.
    pub fn with_layout(path: impl AsRef<Path>, layout: FbLayout) -> Result<Self, DisplayError> {
        let path = path.as_ref().to_path_buf();
        let device = path.display().to_string();
        layout
            .validate(None)
            .map_err(|detail| DisplayError::Unsupported {
                device: device.clone(),
                detail,
            })?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| DisplayError::Io { device, source })?;
        Ok(Self::with_file(file, path, layout))
    }

    fn with_file(file: File, path: PathBuf, layout: FbLayout) -> Self {
        Self {
            canvas: Canvas::new(layout.width, layout.height),
            file,
            path,
            layout,
            scratch: Vec::new(),
        }
    }

    /// The device's layout.
    pub fn layout(&self) -> FbLayout {
        self.layout
    }

    /// What was drawn (not necessarily flushed yet).
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// Reads the visible screen back from the device.
    pub fn read_back(&self) -> Result<RgbImage, DisplayError> {
        let mut bytes = vec![0u8; self.layout.visible_bytes()];
        self.file
            .read_exact_at(&mut bytes, self.layout.start_offset())
            .map_err(|source| DisplayError::Io {
                device: self.path.display().to_string(),
                source,
            })?;
        Ok(self.layout.unpack(&bytes))
    }
}

impl Display for FramebufferDisplay {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.layout.pack(&self.canvas, &mut self.scratch);
        self.file
            .write_all_at(&self.scratch, self.layout.start_offset())
            .map_err(|source| DisplayError::Io {
                device: self.path.display().to_string(),
                source,
            })
    }

    fn describe(&self) -> String {
        let l = &self.layout;
        format!(
            "framebuffer {} ({}×{}, {} bpp, R{}:{} G{}:{} B{}:{})",
            self.path.display(),
            l.width,
            l.height,
            l.bytes_per_pixel * 8,
            l.red.offset,
            l.red.length,
            l.green.offset,
            l.green.length,
            l.blue.offset,
            l.blue.length
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    fn paint(display: &mut impl DrawTarget<Color = Rgb888, Error = std::convert::Infallible>) {
        display.clear(Rgb888::new(0, 0, 255)).unwrap();
        Rectangle::new(Point::new(1, 0), Size::new(2, 1))
            .into_styled(PrimitiveStyle::with_fill(Rgb888::new(255, 128, 8)))
            .draw(display)
            .unwrap();
    }

    #[test]
    fn rgb565_bytes_are_packed_as_the_kernel_expects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb");
        let mut fb = FramebufferDisplay::with_layout(&path, FbLayout::rgb565(4, 2)).unwrap();
        paint(&mut fb);
        fb.flush().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 16);
        // (255,128,8) → R 31, G 32, B 1 → 0xFC01; blue → 0x001F (little-endian in memory on LE hosts).
        let word = |i: usize| u16::from_ne_bytes([bytes[2 * i], bytes[2 * i + 1]]);
        assert_eq!(
            [word(0), word(1), word(2), word(3)],
            [0x001F, 0xFC01, 0xFC01, 0x001F]
        );
        let back = fb.read_back().unwrap();
        assert_eq!(back.get_pixel(0, 0).0, [0, 0, 255]);
        assert_eq!(back.get_pixel(1, 0).0, [255, 130, 8]);
    }

    #[test]
    fn padded_bgr_32bpp_with_panning_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb");
        let layout = FbLayout {
            line_length: 4 * 4 + 8, // 2 pixels of padding per row
            xoffset: 1,
            yoffset: 1, // second buffer of a double-buffered device
            red: Channel {
                offset: 0,
                length: 8,
            },
            blue: Channel {
                offset: 16,
                length: 8,
            },
            ..FbLayout::xrgb8888(3, 2)
        };
        let mut fb = FramebufferDisplay::with_layout(&path, layout).unwrap();
        paint(&mut fb);
        fb.flush().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 3 * 24, "rows 1 and 2 written after row 0");
        assert!(
            bytes[..24].iter().all(|&b| b == 0),
            "row 0 is the other buffer"
        );
        let px = |row: usize, col: usize| {
            let at = row * 24 + col * 4;
            u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
        };
        assert_eq!(px(1, 0), 0, "column 0 is left of the visible area");
        assert_eq!(px(1, 1), 0x00FF_0000, "blue in bits 16..24");
        assert_eq!(px(1, 2), 0x0008_80FF);
        assert_eq!(fb.read_back().unwrap(), fb.canvas().to_image());
    }

    #[test]
    fn rejects_layouts_it_cannot_draw() {
        let bad = [
            FbLayout {
                bytes_per_pixel: 1,
                ..FbLayout::rgb565(4, 4)
            },
            FbLayout {
                line_length: 6,
                ..FbLayout::rgb565(4, 4)
            },
            FbLayout {
                red: Channel {
                    offset: 12,
                    length: 5,
                },
                ..FbLayout::rgb565(4, 4)
            },
            FbLayout {
                green: Channel {
                    offset: 0,
                    length: 0,
                },
                ..FbLayout::rgb565(4, 4)
            },
            FbLayout::rgb565(0, 4),
        ];
        let canvas = Canvas::new(4, 4);
        for layout in bad {
            assert!(layout.validate(None).is_err(), "{layout:?}");
            // Packing with an unchecked layout drops pixels instead of panicking.
            let mut out = Vec::new();
            layout.pack(&canvas, &mut out);
            let _ = layout.unpack(&out[..out.len() / 2]);
        }
        assert!(FbLayout::rgb565(4, 4).validate(Some(31)).is_err());
        assert!(FbLayout::rgb565(4, 4).validate(Some(32)).is_ok());
    }

    #[test]
    fn non_framebuffer_devices_give_errors_not_panics() {
        assert!(matches!(
            FramebufferDisplay::open("/dev/null"),
            Err(DisplayError::Io { .. })
        ));
        assert!(matches!(
            FramebufferDisplay::open("/dev/fb-does-not-exist"),
            Err(DisplayError::Io { .. })
        ));
    }

    #[test]
    fn channel_unpack_spreads_to_full_range() {
        let five = Channel {
            offset: 0,
            length: 5,
        };
        assert_eq!((five.unpack(0), five.unpack(31)), (0, 255));
        assert_eq!(five.unpack(five.pack(200)), 206);
    }
}
