//! How a kiosk is assembled from its configuration: the one place that turns
//! `[camera]`, `[display]`, `[input]`, `[decision]` and the models folder
//! into working parts. `kiosk run`, `kiosk demo`, the bring-up commands and
//! the frame bench all build through here, so a part opened one way by the
//! kiosk is opened the same way by the command a technician checks it with.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

use screening::classifier::{Classifier, Variant};
use screening::decision::Rule;
use screening::face::FaceStage;
use screening::model::Manifest;
use screening::record::ModelRef;
use screening::series_model::{SeriesModel, SERIES_MODEL};

use crate::camera::Camera;
use crate::config::{CameraConfig, Config, DisplayConfig, InputConfig, RuleConfig};
use crate::display::png::{PngDisplay, PngFile};
use crate::display::terminal::TerminalDisplay;
use crate::display::AnyDisplay;
use crate::input::{Input, InputEvent, Scripted};
use crate::record_store::RecordStore;
use crate::session::SessionOptions;

/// Everything a kiosk screens with, opened from one configuration. Input is
/// opened per screening ([`open_input`]): a scripted start is used up by one.
pub struct KioskParts {
    /// Face stage, classifier and the resolved rule.
    pub models: Models,
    /// Where frames come from.
    pub camera: Box<dyn Camera>,
    /// Where screens go.
    pub display: AnyDisplay,
    /// The signed record log and its state files.
    pub store: RecordStore,
}

/// Parts that could not all be opened: the display that did open (to say
/// so on), and why the rest did not.
pub struct Unassembled {
    /// The display, open.
    pub display: AnyDisplay,
    /// What failed after it.
    pub error: anyhow::Error,
}

impl KioskParts {
    /// Opens display, models, camera and record store, in that order: the
    /// display first, since it is where a nurse would read what failed
    /// next; the store last, since it is the only part that writes.
    pub fn assemble(config: &Config) -> Result<KioskParts> {
        let display = open_display(&config.display)?;
        KioskParts::assemble_on(display, config).map_err(|u| u.error)
    }

    /// The rest of the parts, around a display already open; on failure the
    /// display comes back with the error, for a service screen.
    pub fn assemble_on(
        display: AnyDisplay,
        config: &Config,
    ) -> Result<KioskParts, Box<Unassembled>> {
        KioskParts::assemble_waiting_for_camera(display, config, |_, _| false)
    }

    /// [`KioskParts::assemble_on`], asking `wait` what to do when the camera
    /// does not open: it gets the display and the error, and returns `true`
    /// to try the camera again (a USB camera still enumerating at boot, or
    /// one a nurse is plugging back in), `false` to give up. Models are
    /// loaded once, before the camera, however long that takes.
    pub fn assemble_waiting_for_camera(
        mut display: AnyDisplay,
        config: &Config,
        mut wait: impl FnMut(&mut AnyDisplay, &anyhow::Error) -> bool,
    ) -> Result<KioskParts, Box<Unassembled>> {
        let models = match load_models(config) {
            Ok(m) => m,
            Err(error) => return Err(Box::new(Unassembled { display, error })),
        };
        let camera = loop {
            match open_camera(&config.camera) {
                Ok(camera) => break camera,
                Err(error) if wait(&mut display, &error) => continue,
                Err(error) => return Err(Box::new(Unassembled { display, error })),
            }
        };
        match open_store(&config.storage.data_dir) {
            Ok(store) => Ok(KioskParts {
                models,
                camera,
                display,
                store,
            }),
            Err(error) => Err(Box::new(Unassembled { display, error })),
        }
    }
}

/// The session options a configuration asks for, deciding by `rule` (see
/// [`load_models`], which resolves the configured rule against the model).
pub fn session_options(config: &Config, device_name: String, rule: Rule) -> SessionOptions {
    let p = &config.protocol;
    SessionOptions {
        protocol: p.expressions.clone(),
        hold_frames: p.hold_frames,
        settle: Duration::from_millis(p.settle_ms.into()),
        step_timeout: Duration::from_secs(p.step_timeout_s.into()),
        result_timeout: Duration::from_secs(p.result_timeout_s.into()),
        ask_patient_reference: p.ask_patient_reference,
        rule,
        retake_band: config.decision.retake_band_for(&rule),
        reopen_backoff: Duration::from_millis(500),
        device_name,
    }
}

/// Opens the camera the configuration names.
pub fn open_camera(config: &CameraConfig) -> Result<Box<dyn Camera>> {
    Ok(match config {
        #[cfg(feature = "virtual-camera")]
        CameraConfig::Virtual {
            condition,
            seed,
            width,
            height,
            fps,
        } => {
            use crate::camera::virtual_patient::{Behaviour, VirtualPatientCamera};
            use ::virtual_patient::{Patient, Scene};
            let camera = VirtualPatientCamera::new(
                Patient::with_kind(*seed, *condition),
                Scene::studio().jittered(*seed),
                *width,
                *height,
            )
            .with_behaviour(Behaviour {
                fps: *fps,
                ..Behaviour::default()
            });
            Box::new(camera)
        }
        #[cfg(not(feature = "virtual-camera"))]
        CameraConfig::Virtual { .. } => anyhow::bail!(crate::camera::NO_VIRTUAL_CAMERA),
        CameraConfig::Replay { path, looped } => Box::new(
            crate::camera::replay::ReplayCamera::open(path)
                .with_context(|| format!("opening the recording {}", path.display()))?
                .looping(*looped),
        ),
        #[cfg(target_os = "linux")]
        CameraConfig::V4l2 {
            device,
            width,
            height,
            format,
        } => Box::new(
            crate::camera::v4l2::V4l2Camera::builder(device)
                .size(*width, *height)
                .format(*format)
                .open()
                .with_context(|| format!("opening the camera {}", device.display()))?,
        ),
        #[cfg(not(target_os = "linux"))]
        CameraConfig::V4l2 { .. } => anyhow::bail!("V4L2 cameras need Linux"),
    })
}

/// Opens the input the configuration names.
pub fn open_input(config: &InputConfig) -> Result<Box<dyn Input>> {
    Ok(match config {
        // One start per screening; the kiosk opens a fresh one each time.
        InputConfig::Automatic {} => Box::new(Scripted::new([InputEvent::Start])),
        InputConfig::Keyboard {} => Box::new(crate::input::keyboard::Keyboard::stdin()),
        #[cfg(target_os = "linux")]
        InputConfig::Gpio { chip, line } => Box::new(
            crate::input::gpio::GpioButton::open(chip, *line)
                .with_context(|| format!("opening the button on {} line {line}", chip.display()))?,
        ),
        #[cfg(not(target_os = "linux"))]
        InputConfig::Gpio { .. } => anyhow::bail!("GPIO buttons need Linux"),
    })
}

/// How long `kiosk run` waits for its display's device to appear: at boot a
/// framebuffer (KMS fbdev emulation) or an SPI bus can come after systemd
/// starts the kiosk.
pub const DISPLAY_APPEARS_WITHIN: Duration = Duration::from_secs(30);

/// The device files a display opens, which must exist before it can.
fn display_devices(config: &DisplayConfig) -> Vec<&Path> {
    match config {
        DisplayConfig::Framebuffer { device } => vec![device.as_path()],
        DisplayConfig::Spi(s) => vec![s.spi.as_path(), s.gpio_chip.as_path()],
        _ => Vec::new(),
    }
}

/// [`open_display`], first waiting up to `within` for the display's device
/// files to appear (polled every 100 ms); a display that is still missing,
/// or fails to open, is the same error as without the wait.
pub fn open_display_waiting(config: &DisplayConfig, within: Duration) -> Result<AnyDisplay> {
    let started = std::time::Instant::now();
    let mut told = false;
    while let Some(missing) = display_devices(config).into_iter().find(|p| !p.exists()) {
        if started.elapsed() >= within {
            break;
        }
        if !told {
            tracing::info!(device = %missing.display(), within_s = within.as_secs(), "waiting for the display's device to appear");
            told = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    open_display(config)
}

/// Opens the display the configuration names.
pub fn open_display(config: &DisplayConfig) -> Result<AnyDisplay> {
    Ok(match config {
        DisplayConfig::Png { dir, width, height } => AnyDisplay::Png(
            PngDisplay::new(dir, *width, *height)
                .with_context(|| format!("opening the screens folder {}", dir.display()))?,
        ),
        DisplayConfig::PngFile {
            path,
            width,
            height,
        } => AnyDisplay::PngFile(PngFile::new(path, *width, *height)),
        DisplayConfig::Terminal {
            width,
            height,
            columns,
        } => AnyDisplay::Terminal(TerminalDisplay::new(
            std::io::stdout(),
            *width,
            *height,
            *columns,
        )),
        #[cfg(target_os = "linux")]
        DisplayConfig::Framebuffer { device } => AnyDisplay::Framebuffer(
            crate::display::framebuffer::FramebufferDisplay::open(device)
                .with_context(|| format!("opening the framebuffer {}", device.display()))?,
        ),
        #[cfg(target_os = "linux")]
        DisplayConfig::Spi(s) => {
            use crate::display::spi_panel::SpiPanel;
            let mut b = SpiPanel::builder(s.controller, &s.spi, &s.gpio_chip, s.dc_line)
                .size(s.width, s.height)
                .rotation(s.rotation.into())
                .speed_hz(s.speed_hz);
            if let Some(rst) = s.reset_line {
                b = b.reset(rst);
            }
            if let Some(bl) = s.backlight_line {
                b = b.backlight(bl);
            }
            AnyDisplay::Spi(b.build().context("starting the SPI panel")?)
        }
        #[cfg(not(target_os = "linux"))]
        DisplayConfig::Framebuffer { .. } | DisplayConfig::Spi(_) => {
            anyhow::bail!("this display needs Linux")
        }
    })
}

/// Opens the kiosk's record store in `data_dir`.
pub fn open_store(data_dir: &Path) -> Result<RecordStore> {
    RecordStore::open(data_dir)
        .with_context(|| format!("opening the record store in {}", data_dir.display()))
}

/// Everything the kiosk loads from the models folder.
pub struct Models {
    /// The folder.
    pub dir: PathBuf,
    /// Detector, landmarks, eyelids, alignment and gate.
    pub stage: FaceStage,
    /// The synkinesis CNN, when the rule uses it.
    pub classifier: Option<Classifier>,
    /// The series model, when the rule uses it.
    pub series_model: Option<SeriesModel>,
    /// The decision rule with its threshold resolved.
    pub rule: Rule,
    /// The network that produced the deciding evidence, for the records.
    pub evidence: ModelRef,
}

/// The models folder the configuration names.
pub fn models_dir(config: &Config) -> PathBuf {
    config
        .models
        .clone()
        .unwrap_or_else(screening::model::default_models_dir)
}

/// Reads the manifest once and loads from it the face stage (with the
/// configured gate) and, for the classifier rule (or a series model that
/// reads its logits), the synkinesis CNN;
/// resolves the rule's threshold (the manifest's unless the configuration
/// overrides it).
pub fn load_models(config: &Config) -> Result<Models> {
    let dir = models_dir(config);
    let manifest = Manifest::load(&dir)
        .with_context(|| format!("reading the model manifest in {}", dir.display()))?;
    let stage = FaceStage::from_manifest(&manifest)
        .with_context(|| format!("loading the face models from {}", dir.display()))?
        .with_gate(config.gate.clone());
    let mut series_model = None;
    let (classifier, rule, evidence) = match config.decision.rule {
        RuleConfig::Classifier { threshold, model } => {
            let classifier = Classifier::load(&manifest, model).with_context(|| {
                format!(
                    "loading the synkinesis classifier ({model}) from {}",
                    dir.display()
                )
            })?;
            let threshold = threshold.unwrap_or_else(|| classifier.threshold());
            let evidence = model_ref(&manifest, model.entry())?;
            (Some(classifier), Rule::Classifier { threshold }, evidence)
        }
        RuleConfig::Series { threshold } => {
            let model = SeriesModel::load(&manifest)
                .with_context(|| format!("loading the series model from {}", dir.display()))?;
            let threshold = threshold.unwrap_or_else(|| model.threshold());
            // A series model that reads the classifier's logits needs the
            // kiosk's own (int8) network beside it.
            let classifier = if model.needs_classifier() {
                let c = Classifier::load(&manifest, Variant::Int8).with_context(|| {
                    format!(
                        "loading the synkinesis classifier the series model reads, from {}",
                        dir.display()
                    )
                })?;
                Some(c)
            } else {
                None
            };
            series_model = Some(model);
            (
                classifier,
                Rule::Series { threshold },
                model_ref(&manifest, SERIES_MODEL)?,
            )
        }
        RuleConfig::EyeNarrowing { threshold } => (
            None,
            Rule::EyeNarrowing { threshold },
            model_ref(&manifest, screening::model::FACE_LANDMARKS)?,
        ),
    };
    Ok(Models {
        dir,
        stage,
        classifier,
        series_model,
        rule,
        evidence,
    })
}

/// The record's reference to manifest entry `entry`: its name and sha256.
pub fn model_ref(manifest: &Manifest, entry: &str) -> Result<ModelRef> {
    let e = manifest.entry(entry)?;
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(&e.sha256, &mut sha256)
        .with_context(|| format!("manifest sha256 of {entry} is not 64 hex digits"))?;
    Ok(ModelRef {
        name: entry.into(),
        sha256,
    })
}

/// The model reference recorded for screenings decided by the landmark
/// rule: FaceMesh is the network that produced the evidence.
pub fn landmark_model_ref(models_dir: &Path) -> Result<ModelRef> {
    model_ref(
        &Manifest::load(models_dir)?,
        screening::model::FACE_LANDMARKS,
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_display_device_is_waited_for_then_opened_or_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let fb = dir.path().join("fb0");
        let config = DisplayConfig::Framebuffer { device: fb.clone() };
        // Missing for good: the wait ends and the open's error names it.
        let started = std::time::Instant::now();
        let Err(err) = open_display_waiting(&config, Duration::from_millis(300)) else {
            panic!("a framebuffer opened from nothing");
        };
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(format!("{err:#}").contains("fb0"), "{err:#}");
        // Appearing during the wait: the open is tried as soon as it is there
        // (a plain file is no framebuffer, so it fails, but at once).
        let appear = fb.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::write(appear, b"not a framebuffer").unwrap();
        });
        let started = std::time::Instant::now();
        assert!(open_display_waiting(&config, Duration::from_secs(20)).is_err());
        writer.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
