//! Small SPI TFT panels driven from user space: ST7789 and ILI9341
//! (240×320 controllers, used as 320×240 landscape) and ILI9486 (320×480,
//! the usual 3.5" 480×320 Pi hat), through `mipidsi` over
//! `linux-embedded-hal` (spidev for the bus, GPIO character device lines
//! for data/command, reset and backlight).
//!
//! Screens are drawn into a [`Canvas`]; `flush` converts it to the panel's
//! colour format (RGB565, or RGB666 for the ILI9486, which cannot take 16-bit
//! pixels over SPI) and sends the whole frame. A 320×240 RGB565 frame is
//! 150 KB: about 40 ms at 32 MHz, fine for a kiosk that redraws on events.
//!
//! Linux's spidev refuses transfers longer than its `bufsiz` parameter
//! (4096 bytes by default), so the transfer buffer is sized from
//! `/sys/module/spidev/parameters/bufsiz`. Enable the bus with
//! `dtparam=spi=on` and do not load an fbtft overlay for the same panel.
//! This module cannot be tested without the hardware (the VM has no SPI
//! panel); the colour conversion and the size checks are unit-tested.

use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::{Rgb565, Rgb666, Rgb888};
use embedded_graphics::prelude::*;
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};
use mipidsi::interface::{InterfacePixelFormat, SpiInterface};
use mipidsi::models::{ILI9341Rgb565, ILI9486Rgb666, Model, ST7789};
use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation};
use mipidsi::Builder;

pub use super::panel::PanelModel;
use super::{Canvas, Display, DisplayError};
use crate::forward_draw_target;

/// Converts the kiosk's 24-bit colour to a panel's format by dropping low bits.
pub trait FromRgb888: PixelColor {
    /// The panel colour for `c`.
    fn from_rgb888(c: Rgb888) -> Self;
}

impl FromRgb888 for Rgb565 {
    #[inline]
    fn from_rgb888(c: Rgb888) -> Self {
        Rgb565::new(c.r() >> 3, c.g() >> 2, c.b() >> 3)
    }
}

impl FromRgb888 for Rgb666 {
    #[inline]
    fn from_rgb888(c: Rgb888) -> Self {
        Rgb666::new(c.r() >> 2, c.g() >> 2, c.b() >> 2)
    }
}

/// The logical (drawn) size for a rotation, and whether the requested size fits.
pub fn logical_size(
    model: PanelModel,
    rotation_degrees: u32,
    size: (u32, u32),
) -> Result<Rotation, String> {
    let rotation = match rotation_degrees {
        0 => Rotation::Deg0,
        90 => Rotation::Deg90,
        180 => Rotation::Deg180,
        270 => Rotation::Deg270,
        other => return Err(format!("rotation {other}° (0, 90, 180 or 270)")),
    };
    let (nw, nh) = model.native_size();
    let (max_w, max_h) = if rotation.is_vertical() {
        (nh, nw)
    } else {
        (nw, nh)
    };
    let (w, h) = size;
    if w == 0 || h == 0 || w > max_w || h > max_h {
        return Err(format!(
            "{w}×{h} does not fit a {model:?} at {rotation_degrees}° (at most {max_w}×{max_h})"
        ));
    }
    Ok(rotation)
}

/// Settings for an [`SpiPanel`]; start with [`SpiPanel::builder`].
#[derive(Debug, Clone)]
pub struct SpiPanelBuilder {
    model: PanelModel,
    spidev: PathBuf,
    gpiochip: PathBuf,
    dc: u32,
    reset: Option<u32>,
    backlight: Option<u32>,
    size: (u32, u32),
    rotation: u32,
    speed_hz: u32,
    inverted: bool,
    bgr: bool,
}

impl SpiPanelBuilder {
    /// GPIO line (on the builder's chip) of the reset pin; without it a software reset is sent.
    #[must_use]
    pub fn reset(mut self, line: u32) -> Self {
        self.reset = Some(line);
        self
    }

    /// GPIO line that switches the backlight on (driven high after init).
    #[must_use]
    pub fn backlight(mut self, line: u32) -> Self {
        self.backlight = Some(line);
        self
    }

    /// Drawn size after rotation (default 320×240 for 240×320 controllers, 480×320 for ILI9486).
    #[must_use]
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Rotation in degrees: 0, 90 (default, landscape), 180 or 270.
    #[must_use]
    pub fn rotation(mut self, degrees: u32) -> Self {
        self.rotation = degrees;
        self
    }

    /// SPI clock (default 32 MHz).
    #[must_use]
    pub fn speed_hz(mut self, hz: u32) -> Self {
        self.speed_hz = hz;
        self
    }

    /// Colour inversion (defaults per model).
    #[must_use]
    pub fn inverted(mut self, yes: bool) -> Self {
        self.inverted = yes;
        self
    }

    /// BGR subpixel order (defaults per model).
    #[must_use]
    pub fn bgr(mut self, yes: bool) -> Self {
        self.bgr = yes;
        self
    }

    /// Checks the settings, opens the bus and lines and initialises the panel.
    pub fn build(self) -> Result<SpiPanel, DisplayError> {
        let device = self.spidev.display().to_string();
        let rotation = logical_size(self.model, self.rotation, self.size).map_err(|detail| {
            DisplayError::Unsupported {
                device: device.clone(),
                detail,
            }
        })?;
        if !(100_000..=125_000_000).contains(&self.speed_hz) {
            return Err(DisplayError::Unsupported {
                device,
                detail: format!("SPI clock {} Hz (100 kHz to 125 MHz)", self.speed_hz),
            });
        }
        let bus = |what: &str, e: &dyn std::fmt::Display| DisplayError::Bus {
            device: device.clone(),
            detail: format!("{what}: {e}"),
        };

        let mut spi = SpidevDevice::open(&self.spidev).map_err(|e| bus("open spidev", &e))?;
        let options = SpidevOptions::new()
            .bits_per_word(8)
            .max_speed_hz(self.speed_hz)
            .mode(SpiModeFlags::SPI_MODE_0)
            .build();
        spi.configure(&options)
            .map_err(|e| bus("configure spidev", &e))?;

        let mut chip = Chip::new(&self.gpiochip).map_err(|e| bus("open GPIO chip", &e))?;
        let mut output = |line: u32, initial: u8, label: &str| -> Result<CdevPin, DisplayError> {
            let handle = chip
                .get_line(line)
                .and_then(|l| l.request(LineRequestFlags::OUTPUT, initial, label))
                .map_err(|e| bus(&format!("GPIO line {line} ({label})"), &e))?;
            CdevPin::new(handle).map_err(|e| bus(&format!("GPIO line {line} ({label})"), &e))
        };
        let dc = output(self.dc, 0, "kiosk-panel-dc")?;
        let reset = self
            .reset
            .map(|line| output(line, 1, "kiosk-panel-reset"))
            .transpose()?;
        let backlight = self
            .backlight
            .map(|line| output(line, 0, "kiosk-panel-backlight"))
            .transpose()?;

        // mipidsi keeps a `&'static mut` transfer buffer; one small buffer per opened panel.
        let buffer: &'static mut [u8] = Box::leak(vec![0u8; spidev_bufsiz()].into_boxed_slice());
        let di = SpiInterface::new(spi, dc, buffer);
        let settings = PanelSettings {
            rotation,
            size: self.size,
            inverted: self.inverted,
            bgr: self.bgr,
        };
        let driver: Box<dyn PanelDriver> = match self.model {
            PanelModel::St7789 => init(ST7789, di, reset, &settings),
            PanelModel::Ili9341 => init(ILI9341Rgb565, di, reset, &settings),
            PanelModel::Ili9486 => init(ILI9486Rgb666, di, reset, &settings),
        }
        .map_err(|detail| DisplayError::Bus {
            device: device.clone(),
            detail,
        })?;

        let mut backlight = backlight;
        if let Some(pin) = backlight.as_mut() {
            use embedded_hal::digital::OutputPin;
            pin.set_high().map_err(|e| bus("backlight on", &e))?;
        }
        Ok(SpiPanel {
            canvas: Canvas::new(self.size.0, self.size.1),
            driver,
            _backlight: backlight,
            name: format!(
                "{:?} panel on {} ({}×{}, {}°)",
                self.model, device, self.size.0, self.size.1, self.rotation
            ),
            device,
        })
    }
}

/// spidev's largest transfer, from its module parameter (4096 if unknown), capped at 64 KiB.
fn spidev_bufsiz() -> usize {
    std::fs::read_to_string("/sys/module/spidev/parameters/bufsiz")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(4096)
        .clamp(64, 65536)
}

struct PanelSettings {
    rotation: Rotation,
    size: (u32, u32),
    inverted: bool,
    bgr: bool,
}

/// The initialised mipidsi driver, with its model type erased.
trait PanelDriver: Send {
    fn write_frame(&mut self, canvas: &Canvas) -> Result<(), String>;
}

type Interface = SpiInterface<'static, SpidevDevice, CdevPin>;

impl<M, RST> PanelDriver for mipidsi::Display<Interface, M, RST>
where
    M: Model + Send,
    M::ColorFormat: InterfacePixelFormat<u8> + FromRgb888,
    RST: embedded_hal::digital::OutputPin + Send,
{
    fn write_frame(&mut self, canvas: &Canvas) -> Result<(), String> {
        let (w, h) = (canvas.size().width as u16, canvas.size().height as u16);
        let pixels = canvas
            .pixels()
            .iter()
            .map(|&c| M::ColorFormat::from_rgb888(c));
        self.set_pixels(0, 0, w - 1, h - 1, pixels)
            .map_err(|e| format!("writing the frame: {e:?}"))
    }
}

fn init<M>(
    model: M,
    di: Interface,
    reset: Option<CdevPin>,
    s: &PanelSettings,
) -> Result<Box<dyn PanelDriver>, String>
where
    M: Model + Send + 'static,
    M::ColorFormat: InterfacePixelFormat<u8> + FromRgb888,
{
    // mipidsi's display size is in the controller's native orientation.
    let (w, h) = (s.size.0 as u16, s.size.1 as u16);
    let native = if s.rotation.is_vertical() {
        (h, w)
    } else {
        (w, h)
    };
    let builder = Builder::new(model, di)
        .display_size(native.0, native.1)
        .orientation(Orientation::new().rotate(s.rotation))
        .invert_colors(if s.inverted {
            ColorInversion::Inverted
        } else {
            ColorInversion::Normal
        })
        .color_order(if s.bgr {
            ColorOrder::Bgr
        } else {
            ColorOrder::Rgb
        });
    let mut delay = Delay;
    match reset {
        Some(rst) => {
            let display = builder
                .reset_pin(rst)
                .init(&mut delay)
                .map_err(|e| format!("panel init: {e:?}"))?;
            Ok(Box::new(display))
        }
        None => {
            let display = builder
                .init(&mut delay)
                .map_err(|e| format!("panel init: {e:?}"))?;
            Ok(Box::new(display))
        }
    }
}

/// An SPI TFT panel as a [`Display`].
pub struct SpiPanel {
    canvas: Canvas,
    driver: Box<dyn PanelDriver>,
    _backlight: Option<CdevPin>,
    name: String,
    device: String,
}

forward_draw_target!(SpiPanel);

impl std::fmt::Debug for SpiPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl SpiPanel {
    /// Settings for a `model` panel on `spidev` (e.g. `/dev/spidev0.0`) whose
    /// data/command pin is line `dc` of `gpiochip` (e.g. `/dev/gpiochip0`).
    /// Defaults: landscape (90°), the largest size for the model, 32 MHz.
    pub fn builder(
        model: PanelModel,
        spidev: impl AsRef<Path>,
        gpiochip: impl AsRef<Path>,
        dc: u32,
    ) -> SpiPanelBuilder {
        let (nw, nh) = model.native_size();
        let (inverted, bgr) = model.defaults();
        SpiPanelBuilder {
            model,
            spidev: spidev.as_ref().to_path_buf(),
            gpiochip: gpiochip.as_ref().to_path_buf(),
            dc,
            reset: None,
            backlight: None,
            size: (nh, nw),
            rotation: 90,
            speed_hz: 32_000_000,
            inverted,
            bgr,
        }
    }
}

impl Display for SpiPanel {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.driver
            .write_frame(&self.canvas)
            .map_err(|detail| DisplayError::Bus {
                device: self.device.clone(),
                detail,
            })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::raw::RawU16;

    #[test]
    fn rgb888_to_rgb565_keeps_the_top_bits() {
        let raw = |c: Rgb888| RawU16::from(Rgb565::from_rgb888(c)).into_inner();
        assert_eq!(raw(Rgb888::new(255, 255, 255)), 0xFFFF);
        assert_eq!(raw(Rgb888::new(0, 0, 0)), 0x0000);
        assert_eq!(raw(Rgb888::new(255, 0, 0)), 0xF800);
        assert_eq!(raw(Rgb888::new(0, 255, 0)), 0x07E0);
        assert_eq!(raw(Rgb888::new(0, 0, 255)), 0x001F);
        assert_eq!(raw(Rgb888::new(255, 128, 8)), 0xFC01);
        assert_eq!(
            raw(Rgb888::new(7, 3, 7)),
            0x0000,
            "below one step rounds down"
        );
    }

    #[test]
    fn rgb888_to_rgb666_keeps_six_bits() {
        let c = Rgb666::from_rgb888(Rgb888::new(255, 130, 3));
        assert_eq!((c.r(), c.g(), c.b()), (63, 32, 0));
    }

    #[test]
    fn sizes_and_rotations_are_checked_against_the_controller() {
        assert_eq!(
            logical_size(PanelModel::St7789, 90, (320, 240)),
            Ok(Rotation::Deg90)
        );
        assert_eq!(
            logical_size(PanelModel::Ili9341, 0, (240, 320)),
            Ok(Rotation::Deg0)
        );
        assert_eq!(
            logical_size(PanelModel::Ili9486, 270, (480, 320)),
            Ok(Rotation::Deg270)
        );
        assert!(
            logical_size(PanelModel::St7789, 0, (320, 240)).is_err(),
            "portrait is 240 wide"
        );
        assert!(
            logical_size(PanelModel::Ili9341, 90, (480, 320)).is_err(),
            "needs an ILI9486"
        );
        assert!(logical_size(PanelModel::St7789, 45, (320, 240)).is_err());
        assert!(logical_size(PanelModel::St7789, 90, (0, 240)).is_err());
    }

    #[test]
    fn default_builder_sizes_are_landscape() {
        let b = SpiPanel::builder(PanelModel::Ili9486, "/dev/spidev0.0", "/dev/gpiochip0", 24);
        assert_eq!((b.size, b.rotation), ((480, 320), 90));
        let b = SpiPanel::builder(PanelModel::St7789, "/dev/spidev0.0", "/dev/gpiochip0", 24);
        assert_eq!((b.size, b.inverted, b.bgr), ((320, 240), true, false));
        assert_eq!("ILI9341".parse::<PanelModel>(), Ok(PanelModel::Ili9341));
        assert!("ssd1306".parse::<PanelModel>().is_err());
    }

    #[test]
    fn missing_bus_is_an_error_not_a_panic() {
        let err = SpiPanel::builder(
            PanelModel::St7789,
            "/dev/spidev-none",
            "/dev/gpiochip-none",
            24,
        )
        .build();
        assert!(matches!(err, Err(DisplayError::Bus { .. })));
        let err = SpiPanel::builder(
            PanelModel::St7789,
            "/dev/spidev-none",
            "/dev/gpiochip-none",
            24,
        )
        .size(480, 320)
        .build();
        assert!(matches!(err, Err(DisplayError::Unsupported { .. })));
    }
}
