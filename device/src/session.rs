//! One screening, as an explicit state machine:
//!
//! ```text
//! Idle ─start─► PatientReference ─► Capturing(step 0) ─► … ─► Capturing(step n−1)
//!   ▲               │ cancel            │ hold N frames ► capture ► next step
//!   │               ▼                   │ timeout ► step skipped (partial series)
//!   └──── cancel / result timeout ◄── Result ◄── Saving ◄── Deciding
//! ```
//!
//! Every state draws its screen before it waits, so the patient always sees
//! what the kiosk expects of them. The record is written before the result
//! screen says "saved", and a failed write says so instead.

use image::RgbImage;
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{debug, info, warn};

use screening::classifier::Classifier;
use screening::decision::{self, ExpressionEvidence, Rule};
use screening::face::{Analysis, FaceStage};
use screening::geometry::{PerSide, Point};
use screening::protocol::Expression;
use screening::record::PatientRef;
use screening::series::Series;
pub use screening::series::{Capture, Screening};
use screening::series_model::SeriesModel;

use crate::camera::{Camera, CameraError, Frame};
use crate::display::Display;
use crate::input::{Input, InputEvent};
use crate::screens::{self, SaveState, Screen};

/// What a session needs to know beyond its parts.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Expressions in order.
    pub protocol: Vec<Expression>,
    /// Consecutive frames the gate must hold before a capture.
    pub hold_frames: u32,
    /// Camera time after a prompt before frames may count towards a capture:
    /// time to read the prompt and make the expression.
    pub settle: Duration,
    /// Camera time after which one expression is given up.
    pub step_timeout: Duration,
    /// How long the result stays up without input.
    pub result_timeout: Duration,
    /// Ask for a patient reference first.
    pub ask_patient_reference: bool,
    /// The decision rule.
    pub rule: Rule,
    /// Half-width of the band around the rule's threshold within which the
    /// deciding expression is photographed once more before the answer
    /// (`None`: never).
    pub retake_band: Option<f32>,
    /// First wait before reopening a lost camera; doubles up to 8×.
    pub reopen_backoff: Duration,
    /// Shown small on the welcome screen.
    pub device_name: String,
}

/// Where finished screenings go. `save` returns only once the result is
/// durable: the screen says "saved" on the strength of it.
pub trait ResultStore {
    /// Stores one screening durably; the string names where.
    fn save(&mut self, screening: &Screening) -> Result<String, SaveError>;
}

/// Why a finished screening was not stored; the result screen says "NOT
/// saved" and the log names this.
#[derive(Debug, Error)]
#[error(transparent)]
pub struct SaveError(Box<dyn std::error::Error + Send + Sync>);

impl SaveError {
    /// Wraps the store's own error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        SaveError(Box::new(e))
    }
}

/// Why a session ended without a result.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The display failed; nothing can be shown, so the kiosk stops.
    #[error(transparent)]
    Display(#[from] crate::display::DisplayError),
}

/// How one run of the state machine ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// A result was shown (and saved or not, as `saved` says).
    Completed {
        /// The screening.
        screening: Box<Screening>,
        /// Where it was stored, or why not.
        saved: Result<String, SaveError>,
    },
    /// Someone pressed cancel.
    Cancelled,
}

/// What the retake's prompt says while the gate has nothing to ask.
pub const RETAKE_HINT: &str = "Once more, please: the first picture was close to the line.";

/// How one expression's capture ended.
enum Taken {
    Capture(Capture),
    /// Given up after the step timeout, with the last reason.
    Skipped(String),
    Cancelled,
}

/// The states, each holding only what it needs.
enum State {
    Idle,
    PatientReference { typed: Option<PatientRef> },
    Capturing { step: usize },
    Retaking { expression: Expression },
    Deciding,
    Finished(SessionEnd),
}

/// Drives one screening from the welcome screen to the result.
pub struct Session<'a, D: Display> {
    camera: &'a mut dyn Camera,
    display: &'a mut D,
    input: &'a mut dyn Input,
    stage: &'a FaceStage,
    classifier: Option<&'a Classifier>,
    series_model: Option<&'a SeriesModel>,
    store: &'a mut dyn ResultStore,
    opts: SessionOptions,
    series: Series,
}

impl<'a, D: Display> Session<'a, D> {
    /// A session over the given parts.
    pub fn new(
        camera: &'a mut dyn Camera,
        display: &'a mut D,
        input: &'a mut dyn Input,
        stage: &'a FaceStage,
        store: &'a mut dyn ResultStore,
        opts: SessionOptions,
    ) -> Self {
        Self {
            camera,
            display,
            input,
            stage,
            classifier: None,
            series_model: None,
            store,
            opts,
            series: Series::default(),
        }
    }

    /// Scores every capture with `classifier` (the classifier rule needs it;
    /// without one, captures carry no probability).
    #[must_use]
    pub fn with_classifier(mut self, classifier: Option<&'a Classifier>) -> Self {
        self.classifier = classifier;
        self
    }

    /// Decides with the series model (the `series` rule needs it; without
    /// one, that rule answers every series Incomplete).
    #[must_use]
    pub fn with_series_model(mut self, model: Option<&'a SeriesModel>) -> Self {
        self.series_model = model;
        self
    }

    /// Runs from the welcome screen until a result has been shown or the
    /// screening was cancelled.
    pub fn run(&mut self) -> Result<SessionEnd, SessionError> {
        let mut state = State::Idle;
        loop {
            state = match state {
                State::Idle => self.idle()?,
                State::PatientReference { typed } => self.patient_reference(typed)?,
                State::Capturing { step } => self.capture_step(step)?,
                State::Retaking { expression } => self.retake(expression)?,
                State::Deciding => self.deciding()?,
                State::Finished(end) => return Ok(end),
            };
        }
    }

    fn show(&mut self, screen: &Screen<'_>) -> Result<(), SessionError> {
        self.display.set_title(&screen.name());
        // Drawing into the canvas cannot fail; only flushing to the device can.
        let _ = screens::draw(screen, self.display);
        self.display.flush()?;
        Ok(())
    }

    fn idle(&mut self) -> Result<State, SessionError> {
        self.series = Series::default();
        let name = self.opts.device_name.clone();
        self.show(&Screen::Welcome { device: &name })?;
        // The welcome screen stays until someone presses start: a kiosk left
        // alone must not screen an empty chair over and over.
        while !matches!(
            self.input.poll(Duration::from_millis(500)),
            Some(InputEvent::Start)
        ) {}
        info!("screening started");
        Ok(if self.opts.ask_patient_reference {
            State::PatientReference { typed: None }
        } else {
            State::Capturing { step: 0 }
        })
    }

    /// Takes the reference the nurse types or scans. It is checked here,
    /// once, by the record's own rule ([`PatientRef::entered`]): a reference
    /// this screen accepts is never refused when the record is saved.
    fn patient_reference(&mut self, mut typed: Option<PatientRef>) -> Result<State, SessionError> {
        loop {
            let shown = typed.as_deref().unwrap_or("");
            self.show(&Screen::PatientReference { typed: shown })?;
            match self.input.poll(Duration::from_secs(60)) {
                Some(InputEvent::Text(text)) => match PatientRef::entered(&text) {
                    Ok(reference) => typed = Some(reference),
                    Err(why) => {
                        warn!("patient reference refused: {why}");
                        let detail = format!("The reference was not taken: {why}.");
                        self.show(&Screen::Error {
                            title: "Reference not accepted",
                            detail: &detail,
                        })?;
                        typed = None;
                    }
                },
                Some(InputEvent::Start) | None => {
                    self.series.patient_reference = typed;
                    return Ok(State::Capturing { step: 0 });
                }
                Some(InputEvent::Cancel) => return Ok(State::Finished(SessionEnd::Cancelled)),
                Some(InputEvent::Retake) => typed = None,
            }
        }
    }

    fn capture_step(&mut self, step: usize) -> Result<State, SessionError> {
        let Some(&expression) = self.opts.protocol.get(step) else {
            return Ok(State::Deciding);
        };
        match self.capture(expression, step, None)? {
            Taken::Capture(capture) => {
                self.series.captures.push(capture);
                Ok(State::Capturing { step: step + 1 })
            }
            Taken::Skipped(reason) => {
                let detail = format!(
                    "{}: skipped ({reason}).",
                    expression.name().replace('_', " ")
                );
                self.show(&Screen::Error {
                    title: "Could not take this picture",
                    detail: &detail,
                })?;
                self.series.skipped.push((expression, reason));
                Ok(State::Capturing { step: step + 1 })
            }
            Taken::Cancelled => Ok(State::Finished(SessionEnd::Cancelled)),
        }
    }

    /// Before answering: a series whose answer stands within the retake
    /// band of the threshold photographs its deciding expression once more.
    fn deciding(&mut self) -> Result<State, SessionError> {
        if self.series.retaken.is_none() {
            if let Some(band) = self.opts.retake_band {
                let provisional = self.series.provisional(self.opts.rule, self.series_model);
                if let (true, Some(expression)) =
                    (decision::in_doubt(&provisional, band), provisional.deciding)
                {
                    info!(
                        expression = expression.name(),
                        score = ?provisional.score,
                        threshold = provisional.threshold,
                        "answer close to the threshold: one retake"
                    );
                    return Ok(State::Retaking { expression });
                }
            }
        }
        self.decide_and_save()
    }

    /// Photographs `expression` again; the new capture replaces the first.
    /// When the retake cannot be taken, the first capture stands.
    fn retake(&mut self, expression: Expression) -> Result<State, SessionError> {
        self.series.retaken = Some(expression);
        let step = self
            .opts
            .protocol
            .iter()
            .position(|&e| e == expression)
            .unwrap_or(0);
        match self.capture(expression, step, Some(RETAKE_HINT))? {
            Taken::Capture(capture) => self.series.replace(capture),
            Taken::Skipped(reason) => {
                warn!(expression = expression.name(), %reason, "retake not taken; the first picture stands");
            }
            Taken::Cancelled => return Ok(State::Finished(SessionEnd::Cancelled)),
        }
        Ok(State::Deciding)
    }

    /// Watches the gate until `expression` is held, the step times out or
    /// the screening is cancelled. `note` is shown while the gate has
    /// nothing to say.
    fn capture(
        &mut self,
        expression: Expression,
        step: usize,
        note: Option<&'static str>,
    ) -> Result<Taken, SessionError> {
        self.camera.follow_prompt(Some(expression));
        let mut attempt = StepAttempt::default();
        let mut previous: Option<Analysis> = None;
        // Replaced by the gate's or the camera's reason as soon as there is one.
        let mut last_reason = String::from("the expression was not held long enough");
        loop {
            match self.input.poll(Duration::ZERO) {
                Some(InputEvent::Cancel) => {
                    self.camera.follow_prompt(None);
                    return Ok(Taken::Cancelled);
                }
                Some(InputEvent::Retake) => attempt.reset_hold(),
                _ => {}
            }
            let frame = match self.camera.next_frame() {
                Ok(frame) => frame,
                Err(err) => {
                    if self.camera_trouble(&err, &mut attempt)? {
                        continue;
                    }
                    last_reason = err.to_string();
                    break;
                }
            };
            let started = *attempt.started.get_or_insert(frame.captured);
            if frame.captured.saturating_duration_since(started) > self.opts.step_timeout {
                break;
            }
            attempt.frames += 1;
            let mut analysis = match self.stage.analyse(&frame.image, previous.as_ref()) {
                Ok(a) => a,
                Err(e) => {
                    // A frame the face stage cannot read is skipped like a corrupt frame.
                    warn!("face stage refused a frame: {e}");
                    continue;
                }
            };
            let hint = analysis.message();
            let settling = frame.captured.saturating_duration_since(started) < self.opts.settle;
            match hint {
                None if settling => attempt.reset_hold(),
                None => {
                    // Only frames that may be captured pay for the iris model.
                    match self.stage.refine_eyelids(&frame.image, &mut analysis) {
                        Ok(()) => attempt.hold(&analysis, &frame),
                        Err(e) => {
                            warn!("eyelid refinement refused a frame: {e}");
                            attempt.reset_hold();
                        }
                    }
                }
                Some(h) => {
                    last_reason = h.to_string();
                    attempt.reset_hold();
                }
            }
            let hold = attempt.held as f32 / self.opts.hold_frames.max(1) as f32;
            let face = analysis.face().map(|d| d.bbox);
            self.show(&Screen::Prompt {
                step,
                steps: self.opts.protocol.len(),
                expression,
                preview: Some(&frame.image),
                face,
                hint: hint.or(note),
                hold,
            })?;
            if attempt.held >= self.opts.hold_frames {
                if let Some(mut capture) = attempt.take_best(expression) {
                    self.classify(&mut capture);
                    info!(
                        expression = expression.name(),
                        frames = capture.frames_seen,
                        probability = ?capture.evidence.probability,
                        "captured"
                    );
                    return Ok(Taken::Capture(capture));
                }
            }
            previous = Some(analysis);
        }
        warn!(expression = expression.name(), reason = %last_reason, "expression skipped after the step timeout");
        Ok(Taken::Skipped(last_reason))
    }

    /// Adds the classifier's probability and heatmap to a capture. A failure
    /// leaves the capture without a probability: the decision then counts
    /// that expression as missing rather than guessing.
    fn classify(&self, capture: &mut Capture) {
        let Some(classifier) = self.classifier else {
            return;
        };
        match classifier.classify(&capture.view) {
            Ok(c) => {
                capture.evidence.probability = Some(c.probability);
                capture.heatmap = Some(c.cam);
            }
            Err(e) => warn!(
                expression = capture.evidence.expression.name(),
                "classifier failed: {e}"
            ),
        }
    }

    /// Handles a camera error during capture. Returns whether to keep trying.
    fn camera_trouble(
        &mut self,
        err: &CameraError,
        attempt: &mut StepAttempt,
    ) -> Result<bool, SessionError> {
        if !err.needs_reopen() {
            attempt.corrupt += 1;
            debug!("skipping a frame: {err}");
            // A run of bad frames is worth telling the nurse about; one is not.
            if attempt.corrupt % 30 == 0 {
                self.show(&Screen::Error {
                    title: "Camera picture damaged",
                    detail: "Check the camera cable.",
                })?;
            }
            return Ok(attempt.corrupt < 10_000 && !matches!(err, CameraError::EndOfStream(_)));
        }
        let wait = self.opts.reopen_backoff * 2u32.pow(attempt.reopens.min(3));
        attempt.waited += wait;
        attempt.reopens += 1;
        warn!("camera lost ({err}); reopening in {wait:?}");
        let detail = format!(
            "Check the camera cable. Trying again in {:.0} s.",
            wait.as_secs_f32().ceil()
        );
        self.show(&Screen::Error {
            title: "Camera not available",
            detail: &detail,
        })?;
        std::thread::sleep(wait);
        if let Err(e) = self.camera.reopen() {
            debug!("reopen failed: {e}");
        }
        Ok(attempt.waited < self.opts.step_timeout)
    }

    fn decide_and_save(&mut self) -> Result<State, SessionError> {
        self.camera.follow_prompt(None);
        let screening = std::mem::take(&mut self.series).decide(self.opts.rule, self.series_model);
        let decision = &screening.decision;
        info!(outcome = decision.outcome.name(), score = ?decision.score, "decided");
        let face = screening.deciding_picture();
        self.show(&Screen::Result {
            decision: &screening.decision,
            face: face.as_ref(),
            saved: SaveState::Saving,
        })?;
        let saved = self.store.save(&screening);
        let state = match &saved {
            Ok(where_) => {
                info!("record saved: {where_}");
                SaveState::Saved
            }
            Err(why) => {
                warn!("record NOT saved: {why}");
                SaveState::Failed
            }
        };
        self.show(&Screen::Result {
            decision: &screening.decision,
            face: face.as_ref(),
            saved: state,
        })?;
        let _ = self.input.poll(self.opts.result_timeout);
        Ok(State::Finished(SessionEnd::Completed {
            screening: Box::new(screening),
            saved,
        }))
    }
}

/// One frame of a hold, as measured.
struct Candidate {
    sharpness: f32,
    /// Palpebral fissures, left then right.
    fissures: [f32; 2],
    /// Mouth corners in the face frame.
    mouth: PerSide<Point>,
    view: RgbImage,
}

/// Bookkeeping for one expression while the gate is watched.
#[derive(Default)]
struct StepAttempt {
    started: Option<Instant>,
    frames: u32,
    held: u32,
    /// The frames of the current hold.
    candidates: Vec<Candidate>,
    corrupt: u32,
    reopens: u32,
    waited: Duration,
}

impl StepAttempt {
    fn reset_hold(&mut self) {
        self.held = 0;
        self.candidates.clear();
    }

    /// Counts a frame that passed the gate and keeps it as a candidate.
    fn hold(&mut self, analysis: &Analysis, _frame: &Frame) {
        let (Some(aligned), Some(measures)) =
            (analysis.aligned.as_ref(), analysis.measures.as_ref())
        else {
            self.reset_hold();
            return;
        };
        self.held += 1;
        let fissures = [
            measures.palpebral_fissure.left,
            measures.palpebral_fissure.right,
        ];
        let sharpness = analysis.figures.sharpness.unwrap_or(0.0);
        self.candidates.push(Candidate {
            sharpness,
            fissures,
            mouth: measures.commissure_face,
            view: aligned.image.clone(),
        });
    }

    /// The sharpest frame of the hold, leaving out frames caught mid-blink
    /// (eyes much less open than in the hold's most open frame): a blink
    /// would read as eye narrowing.
    fn take_best(&mut self, expression: Expression) -> Option<Capture> {
        let most_open = self
            .candidates
            .iter()
            .map(|c| c.fissures[0] + c.fissures[1])
            .fold(0.0f32, f32::max);
        let best = std::mem::take(&mut self.candidates)
            .into_iter()
            .filter(|c| c.fissures[0] + c.fissures[1] >= BLINK_FRACTION * most_open)
            .max_by(|a, b| a.sharpness.total_cmp(&b.sharpness))?;
        let [fissure_left, fissure_right] = best.fissures;
        Some(Capture {
            evidence: ExpressionEvidence {
                expression,
                probability: None,
                fissure_left,
                fissure_right,
                mouth: Some(best.mouth),
            },
            view: best.view,
            sharpness: best.sharpness,
            heatmap: None,
            frames_seen: self.frames,
        })
    }
}

/// Frames whose summed eye opening is below this share of the hold's most
/// open frame are taken for blinks.
const BLINK_FRACTION: f32 = 0.8;
