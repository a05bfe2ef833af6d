//! Hardware bring-up commands: `kiosk cameras`, `kiosk capture`,
//! `kiosk screen` and the hidden `kiosk fb-dump`. A technician uses them to
//! check a new box's camera and screen; the VM test (`vm/run-vm-test.sh`)
//! uses them to drive the real V4L2 and framebuffer paths against the
//! `vivid` and `vfb` kernel drivers. CLI glue only: the work is in
//! [`crate::camera`] and [`crate::display`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

use crate::camera::{Camera, CameraError, FormatPreference};
use crate::config::{CameraConfig, DisplayConfig};
use crate::display::{Canvas, Display};

/// `kiosk capture` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// V4L2 device (`/dev/videoN`), or a folder of pictures / an MJPEG file to replay.
    #[arg(long, default_value = "/dev/video0")]
    pub device: PathBuf,
    /// Frames to capture.
    #[arg(long, default_value_t = 10)]
    pub frames: u32,
    /// Frame size to ask for.
    #[arg(long, default_value = "640x480", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Pixel format: auto (MJPEG, then YUYV), mjpeg or yuyv.
    #[arg(long, default_value = "auto")]
    pub format: FormatPreference,
    /// Write the last good frame here (PNG).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print a line per frame (sequence and milliseconds since the start) on stderr.
    #[arg(long)]
    pub progress: bool,
}

/// `kiosk screen` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ScreenArgs {
    /// Where to draw: `fb:/dev/fb0`, `png:FILE`, or
    /// `spi:MODEL:SPIDEV:GPIOCHIP:DC[:RST[:BACKLIGHT]]` (MODEL st7789, ili9341, ili9486).
    #[arg(long, default_value = "fb:/dev/fb0")]
    pub display: String,
    /// Which screen: welcome, result-demo (a fixed "refer" result) or test-card.
    #[arg(long, default_value = "welcome")]
    pub show: String,
    /// Size for `png:` (framebuffers and panels have their own).
    #[arg(long, default_value = "640x480", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Panel rotation in degrees for `spi:`.
    #[arg(long, default_value_t = 90)]
    pub rotation: u16,
    /// Also write what was drawn (before the device's colour reduction) to this PNG.
    #[arg(long)]
    pub reference: Option<PathBuf>,
}

/// `kiosk fb-dump` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct FbDumpArgs {
    /// Framebuffer device.
    #[arg(long, default_value = "/dev/fb0")]
    pub device: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("`{s}`: expected WIDTHxHEIGHT"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("`{s}`: bad width"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("`{s}`: bad height"))?;
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err(format!("`{s}`: size out of range"));
    }
    Ok((w, h))
}

/// `kiosk cameras`: lists V4L2 capture devices with formats and sizes.
pub fn cmd_cameras() -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let devices = crate::camera::v4l2::list_devices();
        if devices.is_empty() {
            println!("no V4L2 capture devices (/dev/video*)");
        }
        for device in devices {
            print!("{device}");
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    bail!("V4L2 cameras need Linux")
}

impl CaptureArgs {
    /// The camera these flags name, as `kiosk.toml` would: a `/dev` node is
    /// a V4L2 camera, anything else a recording to replay once.
    pub fn camera_config(&self) -> CameraConfig {
        if self.device.starts_with("/dev") {
            CameraConfig::V4l2 {
                device: self.device.clone(),
                width: self.size.0,
                height: self.size.1,
                format: self.format,
            }
        } else {
            CameraConfig::Replay {
                path: self.device.clone(),
                looped: false,
            }
        }
    }
}

/// `kiosk capture`: grabs frames, reports rate, size and damage, saves the last good one.
pub fn cmd_capture(args: &CaptureArgs) -> Result<()> {
    let mut camera = crate::parts::open_camera(&args.camera_config())
        .with_context(|| format!("opening {}", args.device.display()))?;
    println!("camera: {}", camera.describe());
    let started = Instant::now();
    let (mut good, mut corrupt) = (0u32, 0u32);
    let mut last = None;
    // Corrupt frames are counted and skipped, up to as many again as asked for.
    while good < args.frames && corrupt <= args.frames {
        match camera.next_frame() {
            Ok(frame) => {
                good += 1;
                if args.progress {
                    eprintln!(
                        "frame {good}: sequence {} at {} ms",
                        frame.sequence,
                        started.elapsed().as_millis()
                    );
                }
                last = Some(frame);
            }
            Err(e @ CameraError::Corrupt { .. }) => {
                corrupt += 1;
                eprintln!("skipped: {e}");
            }
            Err(CameraError::EndOfStream(_)) => break,
            Err(e) if e.needs_reopen() => {
                eprintln!("lost: {e}");
                reopen_with_backoff(camera.as_mut()).context("capturing")?;
            }
            Err(e) => return Err(e).context("capturing"),
        }
    }
    let elapsed = started.elapsed();
    let Some(frame) = last else {
        bail!("no usable frame ({corrupt} corrupt)")
    };
    let (mean, _) = colour_stats(&frame.image);
    println!(
        "captured {good} frames of {}x{} in {} ms ({:.1} fps), {corrupt} corrupt, last frame mean RGB {:?}",
        frame.image.width(),
        frame.image.height(),
        elapsed.as_millis(),
        f64::from(good) / elapsed.as_secs_f64().max(1e-6),
        mean
    );
    if let Some(out) = &args.out {
        frame
            .image
            .save_with_format(out, image::ImageFormat::Png)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// Reopens a lost camera, waiting 0.2, 0.4 then 0.8 s before each try, as
/// the session does (it goes on longer and says so on the screen).
fn reopen_with_backoff(camera: &mut dyn Camera) -> Result<(), CameraError> {
    let mut wait = Duration::from_millis(200);
    let mut last = None;
    for attempt in 1..=3 {
        std::thread::sleep(wait);
        wait *= 2;
        match camera.reopen() {
            Ok(()) => {
                eprintln!("reopened on try {attempt}: {}", camera.describe());
                return Ok(());
            }
            Err(e) => {
                eprintln!("reopen {attempt} failed: {e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| CameraError::EndOfStream(camera.describe())))
}

/// Mean and standard deviation of each channel.
fn colour_stats(img: &image::RgbImage) -> ([u8; 3], [u8; 3]) {
    let n = f64::from(img.width() * img.height()).max(1.0);
    let mut sum = [0f64; 3];
    let mut sq = [0f64; 3];
    for p in img.pixels() {
        for c in 0..3 {
            let v = f64::from(p.0[c]);
            sum[c] += v;
            sq[c] += v * v;
        }
    }
    let mean = sum.map(|s| s / n);
    let sd = [0, 1, 2].map(|c| (sq[c] / n - mean[c] * mean[c]).max(0.0).sqrt());
    (mean.map(|m| m.round() as u8), sd.map(|s| s.round() as u8))
}

/// The screens `kiosk screen --show` knows.
pub const SCREENS: &[&str] = &["welcome", "result-demo", "test-card"];

/// Draws the named bring-up screen: the kiosk's own welcome and result
/// screens (a fixed "refer" decision), or a colour-bar test card.
pub fn draw_screen<D>(show: &str, target: &mut D) -> Result<()>
where
    D: DrawTarget<Color = Rgb888, Error = std::convert::Infallible> + OriginDimensions,
{
    use crate::screens::{draw, SaveState, Screen};
    use screening::decision::{Decision, Outcome, Rule};
    use screening::protocol::Expression;
    let result = match show {
        "welcome" => draw(
            &Screen::Welcome {
                device: "kiosk screen --show welcome",
            },
            target,
        ),
        "result-demo" => {
            let decision = Decision {
                outcome: Outcome::Refer,
                score: Some(0.82),
                threshold: 0.5,
                rule: Rule::Classifier { threshold: 0.5 },
                deciding: Some(Expression::BigSmile),
                missing: Vec::new(),
            };
            draw(
                &Screen::Result {
                    decision: &decision,
                    face: None,
                    saved: SaveState::Saved,
                },
                target,
            )
        }
        "test-card" => {
            draw_test_card(target, "Test card", "kiosk screen");
            Ok(())
        }
        other => bail!("unknown screen `{other}` ({})", SCREENS.join(", ")),
    };
    match result {
        Ok(()) => Ok(()),
        Err(never) => match never {},
    }
}

/// Colour bars with a title: every channel at full and zero, for checking a
/// panel's colour order and inversion at a glance.
pub fn draw_test_card<D>(target: &mut D, title: &str, line: &str)
where
    D: DrawTarget<Color = Rgb888, Error = std::convert::Infallible> + OriginDimensions,
{
    use embedded_graphics::mono_font::{ascii::FONT_10X20, MonoTextStyle};
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
    use embedded_graphics::text::{Alignment, Text};
    let Size { width, height } = target.size();
    let bars = [
        Rgb888::WHITE,
        Rgb888::YELLOW,
        Rgb888::CYAN,
        Rgb888::GREEN,
        Rgb888::MAGENTA,
        Rgb888::RED,
        Rgb888::BLUE,
        Rgb888::BLACK,
    ];
    let _ = target.clear(Rgb888::new(0x10, 0x18, 0x28));
    let bar_w = width / bars.len() as u32;
    for (i, colour) in bars.iter().enumerate() {
        let _ = Rectangle::new(
            Point::new(i as i32 * bar_w as i32, (height / 2) as i32),
            Size::new(bar_w, height / 2),
        )
        .into_styled(PrimitiveStyle::with_fill(*colour))
        .draw(target);
    }
    let style = MonoTextStyle::new(&FONT_10X20, Rgb888::WHITE);
    let centre = (width / 2) as i32;
    let _ = Text::with_alignment(
        title,
        Point::new(centre, (height / 6) as i32),
        style,
        Alignment::Center,
    )
    .draw(target);
    let _ = Text::with_alignment(
        line,
        Point::new(centre, (height / 3) as i32),
        style,
        Alignment::Center,
    )
    .draw(target);
}

/// `kiosk screen`: draws one screen on a display and flushes it.
pub fn cmd_screen(args: &ScreenArgs) -> Result<()> {
    let config = DisplayConfig::from_spec(&args.display, args.size, args.rotation)
        .map_err(anyhow::Error::msg)?;
    let mut display = crate::parts::open_display(&config)
        .with_context(|| format!("opening display {}", args.display))?;
    show_on(&mut display, args)
}

fn show_on<D: Display>(display: &mut D, args: &ScreenArgs) -> Result<()> {
    let started = Instant::now();
    // Draw once into a canvas (kept as the reference), then copy it to the device.
    let size = display.bounding_box().size;
    let mut canvas = Canvas::new(size.width, size.height);
    draw_screen(&args.show, &mut canvas)?;
    let _ = display.fill_contiguous(&canvas.bounding_box(), canvas.pixels().iter().copied());
    display.set_title(&args.show);
    display.flush().context("showing the screen")?;
    println!(
        "drew {} on {} in {} ms",
        args.show,
        display.describe(),
        started.elapsed().as_millis()
    );
    if let Some(reference) = &args.reference {
        save_png(&canvas.to_image(), reference)?;
    }
    Ok(())
}

fn save_png(img: &image::RgbImage, path: &Path) -> Result<()> {
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", path.display()))
}

/// `kiosk fb-dump`: reads a framebuffer back to a PNG.
pub fn cmd_fb_dump(args: &FbDumpArgs) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let fb = crate::display::framebuffer::FramebufferDisplay::open(&args.device)
            .with_context(|| format!("opening {}", args.device.display()))?;
        let img = fb.read_back()?;
        save_png(&img, &args.out)?;
        println!(
            "read {} back ({}) to {}",
            args.device.display(),
            fb.describe(),
            args.out.display()
        );
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = args;
        bail!("framebuffers need Linux")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert_eq!(parse_size("320X240"), Ok((320, 240)));
        assert!(parse_size("640").is_err());
        assert!(parse_size("0x480").is_err());
        assert!(parse_size("axb").is_err());
    }

    #[test]
    fn png_screen_and_capture_from_replay() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("welcome.png");
        let args = ScreenArgs {
            display: format!("png:{}", out.display()),
            show: "test-card".into(),
            size: (320, 240),
            rotation: 90,
            reference: Some(dir.path().join("ref.png")),
        };
        cmd_screen(&args).unwrap();
        let drawn = image::open(&out).unwrap().into_rgb8();
        assert_eq!(drawn.dimensions(), (320, 240));
        assert_eq!(
            drawn,
            image::open(dir.path().join("ref.png")).unwrap().into_rgb8()
        );
        // The bottom half holds the bars: first white, last black.
        assert_eq!(drawn.get_pixel(5, 200).0, [255, 255, 255]);
        assert_eq!(drawn.get_pixel(315, 200).0, [0, 0, 0]);
        assert!(cmd_screen(&ScreenArgs {
            show: "nope".into(),
            ..args.clone()
        })
        .is_err());

        let frames = dir.path().join("frames");
        std::fs::create_dir(&frames).unwrap();
        std::fs::copy(&out, frames.join("a.png")).unwrap();
        let capture = CaptureArgs {
            device: frames,
            frames: 3,
            size: (320, 240),
            format: FormatPreference::Auto,
            out: Some(dir.path().join("last.png")),
            progress: true,
        };
        cmd_capture(&capture).unwrap();
        assert_eq!(
            image::open(dir.path().join("last.png"))
                .unwrap()
                .into_rgb8(),
            drawn
        );
    }
}
