//! `kiosk run`: the kiosk proper. Builds the camera, display and input the
//! configuration names, opens the record store, and runs screenings one
//! after another until it is stopped.

use anyhow::{Context, Result};
use std::time::Duration;
use tracing::{error, info, warn};

use screening::classifier::{Classifier, Variant};
use screening::decision::Rule;
use screening::face::FaceStage;
use screening::record::ModelRef;
use screening::synth::{Patient, Scene};
use std::path::{Path, PathBuf};

use crate::archive::SignedArchive;
use crate::camera::virtual_patient::{Behaviour, VirtualPatientCamera};
use crate::camera::Camera;
use crate::config::{CameraConfig, Config, DisplayConfig, InputConfig, ModelChoice, RuleConfig};
use crate::display::png::PngDisplay;
use crate::display::terminal::TerminalDisplay;
use crate::display::Display;
use crate::input::{Input, InputEvent, Scripted};
use crate::record_store::RecordStore;
use crate::session::{Session, SessionEnd, SessionOptions};
use crate::sync::PairedHost;
use crate::watchdog::{self, Beating, NotifySocket};

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
        reopen_backoff: Duration::from_millis(500),
        device_name,
    }
}

/// Opens the camera the configuration names.
pub fn open_camera(config: &CameraConfig) -> Result<Box<dyn Camera>> {
    Ok(match config {
        CameraConfig::Virtual {
            condition,
            seed,
            width,
            height,
            fps,
        } => Box::new(
            VirtualPatientCamera::new(
                Patient::with_kind(*seed, *condition),
                Scene::studio().jittered(*seed),
                *width,
                *height,
            )
            .with_behaviour(Behaviour {
                fps: *fps,
                ..Behaviour::default()
            }),
        ),
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
        } => Box::new(
            crate::camera::v4l2::V4l2Camera::builder(device)
                .size(*width, *height)
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
        // One start per screening; the loop below hands a fresh one each time.
        InputConfig::Automatic => Box::new(Scripted::new([InputEvent::Start])),
        InputConfig::Keyboard => Box::new(crate::input::keyboard::Keyboard::stdin()),
        #[cfg(target_os = "linux")]
        InputConfig::Gpio { chip, line } => Box::new(
            crate::input::gpio::GpioButton::open(chip, *line)
                .with_context(|| format!("opening the button on {} line {line}", chip.display()))?,
        ),
        #[cfg(not(target_os = "linux"))]
        InputConfig::Gpio { .. } => anyhow::bail!("GPIO buttons need Linux"),
    })
}

/// Runs screenings until `limit` have completed (forever when `None`).
pub fn run(config: &Config, limit: Option<usize>) -> Result<()> {
    match &config.display {
        DisplayConfig::Png { dir, width, height } => {
            run_on(PngDisplay::new(dir, *width, *height)?, config, limit)
        }
        DisplayConfig::Terminal {
            width,
            height,
            columns,
        } => run_on(
            TerminalDisplay::new(std::io::stdout(), *width, *height, *columns),
            config,
            limit,
        ),
        #[cfg(target_os = "linux")]
        DisplayConfig::Framebuffer { device } => run_on(
            crate::display::framebuffer::FramebufferDisplay::open(device)
                .with_context(|| format!("opening the framebuffer {}", device.display()))?,
            config,
            limit,
        ),
        #[cfg(target_os = "linux")]
        DisplayConfig::Spi(s) => {
            use crate::display::spi_panel::{PanelModel, SpiPanel};
            let model: PanelModel = s.controller.parse().map_err(anyhow::Error::msg)?;
            let mut b = SpiPanel::builder(model, &s.spi, &s.gpio_chip, s.dc_line)
                .reset(s.reset_line)
                .size(s.width, s.height)
                .rotation(s.rotation.into())
                .speed_hz(s.speed_hz);
            if let Some(bl) = s.backlight_line {
                b = b.backlight(bl);
            }
            run_on(b.build().context("starting the SPI panel")?, config, limit)
        }
        #[cfg(not(target_os = "linux"))]
        _ => anyhow::bail!("this display needs Linux"),
    }
}

/// The models folder the configuration names, and the face stage loaded
/// from it with the configured gate.
pub fn load_stage(config: &Config) -> Result<(PathBuf, FaceStage)> {
    let models = config
        .models
        .clone()
        .unwrap_or_else(screening::model::default_models_dir);
    let stage = FaceStage::load(&models)
        .with_context(|| format!("loading the face models from {}", models.display()))?
        .with_gate(config.gate.clone());
    Ok((models, stage))
}

/// Everything the kiosk loads from the models folder.
pub struct Models {
    /// The folder.
    pub dir: PathBuf,
    /// Detector, landmarks, eyelids, alignment and gate.
    pub stage: FaceStage,
    /// The synkinesis CNN, when the rule uses it.
    pub classifier: Option<Classifier>,
    /// The decision rule with its threshold resolved.
    pub rule: Rule,
    /// The network that produced the deciding evidence, for the records.
    pub evidence: ModelRef,
}

/// Loads the face stage and, for the classifier rule, the synkinesis CNN;
/// resolves the rule's threshold (the manifest's unless the configuration
/// overrides it).
pub fn load_models(config: &Config) -> Result<Models> {
    let (dir, stage) = load_stage(config)?;
    let (classifier, rule, evidence) = match config.decision.rule {
        RuleConfig::Classifier { threshold, model } => {
            let variant = match model {
                ModelChoice::Int8 => Variant::Int8,
                ModelChoice::F32 => Variant::F32,
            };
            let classifier = Classifier::load_dir(&dir, variant).with_context(|| {
                format!(
                    "loading the synkinesis classifier ({variant}) from {}",
                    dir.display()
                )
            })?;
            let threshold = threshold.unwrap_or_else(|| classifier.threshold());
            let evidence = model_ref(&dir, variant.entry())?;
            (Some(classifier), Rule::Classifier { threshold }, evidence)
        }
        RuleConfig::EyeNarrowing { threshold } => (
            None,
            Rule::EyeNarrowing { threshold },
            model_ref(&dir, screening::model::FACE_LANDMARKS)?,
        ),
    };
    Ok(Models {
        dir,
        stage,
        classifier,
        rule,
        evidence,
    })
}

/// The record's reference to manifest entry `entry`: its name and sha256.
pub fn model_ref(models_dir: &Path, entry: &str) -> Result<ModelRef> {
    let manifest = screening::model::Manifest::load(models_dir)?;
    let e = manifest.entry(entry)?;
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(&e.sha256, &mut sha256)
        .with_context(|| format!("manifest sha256 of {entry} is not 64 hex digits"))?;
    Ok(ModelRef {
        name: entry.into(),
        sha256,
    })
}

fn run_on<D: Display>(mut display: D, config: &Config, limit: Option<usize>) -> Result<()> {
    let notify = NotifySocket::from_env();
    let heartbeat = watchdog::start(notify.clone(), watchdog::watchdog_period_from_env());
    let models = load_models(config)?;
    let mut camera = Beating::new(open_camera(&config.camera)?, heartbeat.clone());
    let mut store = RecordStore::open(&config.storage.data_dir).with_context(|| {
        format!(
            "opening the record store in {}",
            config.storage.data_dir.display()
        )
    })?;
    let name = format!("kiosk {}", store.device().short());
    let (camera_name, display_name) = (camera.describe(), display.describe());
    info!(camera = %camera_name, display = %display_name, "kiosk ready");
    if let Some(socket) = &notify {
        if let Err(e) = socket.notify("READY=1") {
            warn!("could not tell systemd the kiosk is ready: {e}");
        }
    }
    sync_between_screenings(config, &mut store);
    let mut done = 0usize;
    while limit.is_none_or(|l| done < l) {
        let mut input = Beating::new(open_input(&config.input)?, heartbeat.clone());
        let mut archive = SignedArchive {
            store: &mut store,
            model: models.evidence.clone(),
        };
        let opts = session_options(config, name.clone(), models.rule);
        match Session::new(
            &mut camera,
            &mut display,
            &mut input,
            &models.stage,
            &mut archive,
            opts,
        )
        .with_classifier(models.classifier.as_ref())
        .run()
        {
            Ok(SessionEnd::Completed { screening, saved }) => {
                info!(
                    outcome = screening.decision.outcome.name(),
                    saved = saved.is_ok(),
                    "screening finished"
                );
                done += 1;
                sync_between_screenings(config, &mut store);
            }
            Ok(SessionEnd::Cancelled) => info!("screening cancelled"),
            Err(e) => {
                // The display itself failed: nothing can be shown, so stop and let systemd restart us.
                error!("{e}");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Pushes unacknowledged records to the paired clinic, if the kiosk is
/// paired with an address and automatic sync is on. A failure is logged and
/// left for next time: the records stay in the log until a verified ack.
fn sync_between_screenings(config: &Config, store: &mut RecordStore) {
    if !config.sync.automatic || store.unacknowledged_count() == 0 {
        return;
    }
    let paired = match PairedHost::load(&config.storage.data_dir) {
        Ok(Some(paired)) => paired,
        Ok(None) => return,
        Err(e) => {
            warn!("automatic sync skipped: {e}");
            return;
        }
    };
    // Paired without an address: only USB export reaches that clinic.
    let Ok(url) = paired.address(None) else {
        return;
    };
    let timeout = Duration::from_secs(config.sync.timeout_s);
    match crate::sync::sync_paired(store, &paired, &url, timeout) {
        Ok(r) => info!(
            %url,
            sent = r.sent,
            stored = r.stored,
            remaining = r.remaining,
            "records synced with the clinic"
        ),
        Err(e) => {
            warn!("automatic sync with {url} failed; retrying after the next screening: {e}")
        }
    }
}
