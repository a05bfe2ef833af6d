//! `kiosk demo`: one whole screening of a virtual patient on the embedded
//! default — the virtual camera, PNG screens, automatic input and a real
//! signed record log — so anyone can see the product work without hardware.

use anyhow::{Context, Result};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use screening::decision::{relative_fissure_ratio, DISCLAIMER};
use screening::record::ModelRef;
use screening::synth::{ConditionKind, Patient, Scene};

use crate::archive::SignedArchive;
use crate::camera::virtual_patient::{Behaviour, VirtualPatientCamera};
use crate::config::{CameraConfig, Config, DisplayConfig};
use crate::display::png::PngDisplay;
use crate::input::{InputEvent, Scripted};
use crate::record_store::RecordStore;
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

/// The model reference recorded for screenings decided by the landmark rule:
/// FaceMesh is the network that produced the evidence.
pub fn landmark_model_ref(stage_models: &std::path::Path) -> Result<ModelRef> {
    crate::kiosk::model_ref(stage_models, screening::model::FACE_LANDMARKS)
}

/// Runs one screening of a virtual patient.
pub fn run(config: &Config, opts: &DemoOptions) -> Result<DemoReport> {
    let models = crate::kiosk::load_models(config)?;
    let patient = Patient::with_kind(opts.seed, opts.condition);
    let description = describe_patient(&patient);
    let fps = match config.camera {
        CameraConfig::Virtual { fps, .. } => fps,
        _ => Behaviour::default().fps,
    };
    let mut camera =
        VirtualPatientCamera::new(patient, Scene::studio().jittered(opts.seed), 640, 480)
            .with_behaviour(Behaviour {
                fps,
                ..Behaviour::default()
            });
    let (w, h) = match config.display {
        DisplayConfig::Png { width, height, .. } => (width, height),
        _ => (480, 320),
    };
    let mut display = PngDisplay::new(opts.out.join("screens"), w, h)?;
    let mut input = Scripted::new([InputEvent::Start]);
    let mut store =
        RecordStore::open(&opts.out.join("data")).context("opening the kiosk's record store")?;
    let mut archive = SignedArchive {
        model: models.evidence.clone(),
        store: &mut store,
    };
    let mut session_opts =
        crate::kiosk::session_options(config, "demo kiosk (virtual patient)".into(), models.rule);
    session_opts.ask_patient_reference = false;
    session_opts.reopen_backoff = Duration::from_millis(250);
    let started = Instant::now();
    let end = Session::new(
        &mut camera,
        &mut display,
        &mut input,
        &models.stage,
        &mut archive,
        session_opts,
    )
    .with_classifier(models.classifier.as_ref())
    .run()?;
    display.finish()?;
    Ok(DemoReport {
        patient: description,
        end,
        screens: display.files().to_vec(),
        wall: started.elapsed(),
    })
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
                let rest = screening
                    .captures
                    .iter()
                    .find(|c| c.evidence.expression == screening::synth::Expression::Rest);
                for c in &screening.captures {
                    let e = &c.evidence;
                    let rel = relative_fissure_ratio(e, rest.map(|r| &r.evidence));
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
