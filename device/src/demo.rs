//! `kiosk demo`: one whole screening of a virtual patient on the embedded
//! default — the virtual camera, PNG screens, automatic input and a real
//! signed record log — so anyone can see the product work without hardware.

use anyhow::Result;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ::virtual_patient::{ConditionKind, Patient};
use screening::decision::DISCLAIMER;

use crate::archive::SignedArchive;
use crate::camera::virtual_patient::Behaviour;
use crate::config::{CameraConfig, Config, DisplayConfig, InputConfig};
use crate::display::AnyDisplay;
use crate::parts::{self, KioskParts};
use crate::session::{Session, SessionEnd};

/// What `kiosk demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The virtual patient's condition.
    pub condition: ConditionKind,
    /// Patient seed.
    pub seed: u64,
    /// Output folder: `screens/` and `data/` go in it.
    pub out: PathBuf,
}

/// What happened, for the terminal.
#[derive(Debug)]
pub struct DemoReport {
    /// Description of the patient.
    pub patient: String,
    /// The session's end.
    pub end: SessionEnd,
    /// PNG screens written.
    pub screens: Vec<PathBuf>,
    /// Wall time of the whole screening.
    pub wall: Duration,
}

/// Runs one screening of a virtual patient.
pub fn run(config: &Config, opts: &DemoOptions) -> Result<DemoReport> {
    let config = demo_config(config, opts);
    let KioskParts {
        models,
        mut camera,
        mut display,
        mut store,
    } = KioskParts::assemble(&config)?;
    let description = describe_patient(&Patient::with_kind(opts.seed, opts.condition));
    let mut input = parts::open_input(&config.input)?;
    let mut archive = SignedArchive {
        model: models.evidence.clone(),
        store: &mut store,
    };
    let mut session_opts =
        parts::session_options(&config, "demo kiosk (virtual patient)".into(), models.rule);
    session_opts.reopen_backoff = Duration::from_millis(250);
    let started = Instant::now();
    let end = Session::new(
        camera.as_mut(),
        &mut display,
        input.as_mut(),
        &models.stage,
        &mut archive,
        session_opts,
    )
    .with_classifier(models.classifier.as_ref())
    .with_series_model(models.series_model.as_ref())
    .run()?;
    display.finish()?;
    let screens = match &display {
        AnyDisplay::Png(png) => png.files().to_vec(),
        _ => Vec::new(),
    };
    Ok(DemoReport {
        patient: description,
        end,
        screens,
        wall: started.elapsed(),
    })
}

/// The configuration of a demo: the kiosk's own, with the virtual patient
/// asked for as its camera (at the configured frame rate), PNG screens of the
/// configured size (480×320 unless it names a PNG display), automatic input,
/// no patient reference, and data under `opts.out`.
fn demo_config(base: &Config, opts: &DemoOptions) -> Config {
    let mut config = base.clone();
    let fps = match base.camera {
        CameraConfig::Virtual { fps, .. } => fps,
        _ => Behaviour::default().fps,
    };
    config.camera = CameraConfig::Virtual {
        condition: opts.condition,
        seed: opts.seed,
        width: 640,
        height: 480,
        fps,
    };
    let (width, height) = match base.display {
        DisplayConfig::Png { width, height, .. } => (width, height),
        _ => (480, 320),
    };
    config.display = DisplayConfig::Png {
        dir: opts.out.join("screens"),
        width,
        height,
    };
    config.input = InputConfig::Automatic {};
    config.protocol.ask_patient_reference = false;
    config.storage.data_dir = opts.out.join("data");
    config
}

fn describe_patient(p: &Patient) -> String {
    let c = &p.condition;
    let mut s = format!("{} ({}", p.id, c.kind());
    if let Some(side) = c.side() {
        s += &format!(", {side} side");
    }
    if let Some(sev) = c.severity() {
        s += &format!(", {sev}");
    }
    if let Some(pat) = c.pattern() {
        s += &format!(", {pat}");
    }
    s + ")"
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Virtual patient {}", self.patient)?;
        match &self.end {
            SessionEnd::Cancelled => writeln!(f, "Screening cancelled.")?,
            SessionEnd::Completed { screening, saved } => {
                for c in &screening.captures {
                    let e = &c.evidence;
                    let rel = screening.fissure_ratio(c);
                    writeln!(
                        f,
                        "  {:<20} synkinesis probability {}  eye opening L {:.3} R {:.3}  relative ratio {}",
                        e.expression.name(),
                        e.probability.map_or("-".into(), |p| format!("{p:.3}")),
                        e.fissure_left,
                        e.fissure_right,
                        rel.map_or("-".into(), |r| format!("{r:.3}"))
                    )?;
                }
                for (e, why) in &screening.skipped {
                    writeln!(f, "  {:<20} skipped: {why}", e.name())?;
                }
                let d = &screening.decision;
                writeln!(f, "Result: {}", d.outcome.headline())?;
                writeln!(
                    f,
                    "  score {} against threshold {:.2} ({}{})",
                    d.score.map_or("-".into(), |s| format!("{s:.3}")),
                    d.threshold,
                    d.rule.name(),
                    d.deciding
                        .map_or(String::new(), |e| format!(", decided by {}", e.name()))
                )?;
                match saved {
                    Ok(where_) => writeln!(f, "  saved: {where_}")?,
                    Err(why) => writeln!(f, "  NOT SAVED: {why}")?,
                }
            }
        }
        if let Some(dir) = self.screens.first().and_then(|p| p.parent()) {
            writeln!(
                f,
                "Screens: {} PNG files in {}",
                self.screens.len(),
                dir.display()
            )?;
        }
        writeln!(f, "Wall time: {:.1} s", self.wall.as_secs_f32())?;
        write!(f, "{DISCLAIMER}")
    }
}
