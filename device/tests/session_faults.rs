//! Whole screenings through the real session state machine, face stage and
//! signed record store, with a camera that misbehaves the way real ones do:
//! damaged MJPEG, frames of the wrong size, a camera that is unplugged in the
//! middle, nobody in front of it for a minute, two people in the picture.
//!
//! Each test starts from a record store that already holds a screening and
//! checks at the end that it is still there, unchanged, with the chain intact:
//! a fault during one screening must never cost an earlier one.
//!
//! The faults are injected between the virtual patient and the session. The
//! damaged frames go through the kiosk's own MJPEG decoder, so what the
//! session sees is exactly what a broken USB transfer would give it.

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use device::archive::SignedArchive;
use device::camera::decode::decode_jpeg;
use device::camera::virtual_patient::{Behaviour, VirtualPatientCamera};
use device::camera::{Camera, CameraError, Frame};
use device::display::{Canvas, Display, DisplayError};
use device::input::{InputEvent, Scripted};
use device::record_store::RecordStore;
use device::session::{Session, SessionEnd, SessionOptions};
use image::{imageops, RgbImage};
use screening::classifier::{Classifier, Variant};
use screening::decision::{Outcome, Rule};
use screening::face::FaceStage;
use screening::model::Manifest;
use screening::record::ModelRef;
use screening::series_model::SeriesModel;
use virtual_patient::{ConditionKind, Expression, Patient, Scene};

const W: u32 = 320;
const H: u32 = 240;
const FPS: f32 = 10.0;
const PROTOCOL: [Expression; 3] = [Expression::Rest, Expression::BigSmile, Expression::Pucker];

fn stage() -> &'static FaceStage {
    static STAGE: OnceLock<FaceStage> = OnceLock::new();
    STAGE.get_or_init(|| {
        FaceStage::load(&screening::model::default_models_dir()).expect("face models load")
    })
}

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| {
        Classifier::load_dir(&screening::model::default_models_dir(), Variant::Int8)
            .expect("classifier loads")
    })
}

fn series_model() -> &'static SeriesModel {
    static MODEL: OnceLock<SeriesModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let manifest = Manifest::load(&screening::model::default_models_dir()).expect("manifest");
        SeriesModel::load(&manifest).expect("series model loads")
    })
}

fn options() -> SessionOptions {
    SessionOptions {
        protocol: PROTOCOL.to_vec(),
        hold_frames: 3,
        settle: Duration::from_millis(1500),
        // The shipped default: a minute per expression before it is given up.
        step_timeout: Duration::from_secs(60),
        result_timeout: Duration::ZERO,
        ask_patient_reference: false,
        rule: Rule::EyeNarrowing { threshold: 0.2 },
        retake_band: None,
        reopen_backoff: Duration::from_millis(5),
        device_name: "test kiosk".into(),
    }
}

/// What the camera does at a given frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// An MJPEG frame cut short, as when a USB transfer is lost.
    TruncatedJpeg,
    /// Garbage in the middle of the entropy-coded data.
    GarbledJpeg,
    /// A frame of another size than negotiated.
    WrongSize,
    /// The device node is gone.
    Unplugged,
    /// An empty chair.
    NoFace,
    /// A second person looks over the patient's shoulder.
    TwoFaces,
}

/// A virtual patient behind a camera that fails on a schedule. It keeps its
/// own clock (frame count ÷ FPS), as the session times steps by camera time.
struct FaultyCamera {
    patient: VirtualPatientCamera,
    second: VirtualPatientCamera,
    schedule: Box<dyn FnMut(u64) -> Fault>,
    opened: Instant,
    sequence: u64,
    reopens: u32,
    faults_seen: Vec<Fault>,
    crowd: Option<RgbImage>,
    /// Every expression the session prompted for, in order.
    prompts: Vec<Expression>,
}

impl FaultyCamera {
    fn new(schedule: impl FnMut(u64) -> Fault + 'static) -> Self {
        let behaviour = Behaviour {
            fps: FPS,
            ..Behaviour::default()
        };
        let patient = VirtualPatientCamera::new(
            Patient::with_kind(11, ConditionKind::Healthy),
            Scene::studio(),
            W,
            H,
        )
        .with_behaviour(behaviour);
        let second = VirtualPatientCamera::new(
            Patient::with_kind(29, ConditionKind::Healthy),
            Scene::studio(),
            W,
            H,
        )
        .with_behaviour(behaviour);
        Self {
            patient,
            second,
            schedule: Box::new(schedule),
            opened: Instant::now(),
            sequence: 0,
            reopens: 0,
            faults_seen: Vec::new(),
            crowd: None,
            prompts: Vec::new(),
        }
    }

    fn stamp(&mut self, image: RgbImage) -> Frame {
        let captured = self.opened + Duration::from_secs_f32(self.sequence as f32 / FPS);
        Frame {
            image,
            sequence: self.sequence,
            captured,
        }
    }

    fn saw(&self, fault: Fault) -> bool {
        self.faults_seen.contains(&fault)
    }
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(image)
        .expect("encode jpeg");
    out.into_inner()
}

/// An empty room: the studio wall with sensor noise, no one in front of it.
fn empty_room(sequence: u64) -> RgbImage {
    let mut state = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    RgbImage::from_fn(W, H, |_, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % 9) as i32 - 4;
        let base = 170 + (y as i32 * 30 / H as i32);
        let v = (base + n).clamp(0, 255) as u8;
        image::Rgb([v, v.saturating_add(2), v.saturating_add(4)])
    })
}

/// Two people side by side, each filling half the frame.
fn two_people(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let half_a = imageops::resize(a, W / 2, H / 2, imageops::FilterType::Triangle);
    let half_b = imageops::resize(b, W / 2, H / 2, imageops::FilterType::Triangle);
    let mut out = empty_room(0);
    imageops::overlay(&mut out, &half_a, 0, i64::from(H / 4));
    imageops::overlay(&mut out, &half_b, i64::from(W / 2), i64::from(H / 4));
    out
}

impl Camera for FaultyCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let fault = (self.schedule)(self.sequence);
        self.faults_seen.push(fault);
        let device = "faulty-test-camera";
        // The unplugged camera's clock runs on: the session's back-off is
        // what waits, and the step timeout is measured in camera time.
        self.sequence += 1;
        let image = match fault {
            Fault::Unplugged => {
                return Err(CameraError::Disconnected {
                    device: device.into(),
                    detail: "No such device (os error 19)".into(),
                })
            }
            Fault::NoFace => empty_room(self.sequence),
            Fault::TwoFaces => {
                // Rendered once: two people standing still is enough here,
                // and rendering both for every frame is what would cost.
                if self.crowd.is_none() {
                    let a = self.patient.next_frame()?.image;
                    let b = self.second.next_frame()?.image;
                    self.crowd = Some(two_people(&a, &b));
                }
                self.crowd.clone().expect("rendered above")
            }
            Fault::None => self.patient.next_frame()?.image,
            Fault::TruncatedJpeg => {
                let bytes = jpeg(&self.patient.next_frame()?.image);
                decode_jpeg(&bytes[..bytes.len() * 2 / 3], Some((W, H)), device)?
            }
            Fault::GarbledJpeg => {
                let mut bytes = jpeg(&self.patient.next_frame()?.image);
                let mid = bytes.len() / 2;
                bytes[mid..mid + 64].fill(0xFF);
                decode_jpeg(&bytes, Some((W, H)), device)?
            }
            Fault::WrongSize => {
                let small = imageops::resize(
                    &self.patient.next_frame()?.image,
                    W / 2,
                    H / 2,
                    imageops::FilterType::Nearest,
                );
                decode_jpeg(&jpeg(&small), Some((W, H)), device)?
            }
        };
        Ok(self.stamp(image))
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        self.reopens += 1;
        Ok(())
    }

    fn follow_prompt(&mut self, prompt: Option<Expression>) {
        self.prompts.extend(prompt);
        self.patient.follow_prompt(prompt);
        self.second.follow_prompt(prompt);
    }

    fn describe(&self) -> String {
        "virtual patient behind a faulty camera".into()
    }
}

/// A display that keeps the title of every screen it was asked to show, so
/// tests can check what the nurse saw.
struct Recorder {
    canvas: Canvas,
    titles: Vec<String>,
}

device::forward_draw_target!(Recorder);

impl Display for Recorder {
    fn flush(&mut self) -> Result<(), DisplayError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
    fn set_title(&mut self, title: &str) {
        if self.titles.last().map(String::as_str) != Some(title) {
            self.titles.push(title.to_string());
        }
    }
}

impl Recorder {
    fn new() -> Self {
        Self {
            canvas: Canvas::new(320, 240),
            titles: Vec::new(),
        }
    }

    fn showed(&self, needle: &str) -> bool {
        self.titles.iter().any(|t| t.contains(needle))
    }
}

fn model_ref() -> ModelRef {
    device::parts::landmark_model_ref(&screening::model::default_models_dir()).expect("model ref")
}

/// The bytes of every record in the store, in order.
fn stored(store: &RecordStore) -> Vec<Vec<u8>> {
    (0..store.len())
        .map(|seq| {
            let r = store.log().get(seq).expect("read").expect("present");
            r.record_bytes().to_vec()
        })
        .collect()
}

/// Runs one screening and returns how it ended, what was shown, and the
/// store's content before and after.
struct Outcomes {
    end: SessionEnd,
    display: Recorder,
    camera: FaultyCamera,
    before: Vec<Vec<u8>>,
    after: Vec<Vec<u8>>,
}

fn screen(
    data: &Path,
    mut camera: FaultyCamera,
    input: Vec<InputEvent>,
    opts: SessionOptions,
) -> Outcomes {
    let mut store = RecordStore::open(data).expect("open store");
    if store.is_empty() {
        // One earlier screening that no later fault may touch.
        let mut cam = FaultyCamera::new(|_| Fault::None);
        let mut display = Recorder::new();
        let mut input = Scripted::new([InputEvent::Start]);
        let mut archive = SignedArchive {
            store: &mut store,
            model: model_ref(),
        };
        let end = Session::new(
            &mut cam,
            &mut display,
            &mut input,
            stage(),
            &mut archive,
            options(),
        )
        .run()
        .expect("earlier screening");
        assert!(matches!(end, SessionEnd::Completed { saved: Ok(_), .. }));
    }
    let before = stored(&store);
    let mut display = Recorder::new();
    let mut input = Scripted::new(input);
    let mut archive = SignedArchive {
        store: &mut store,
        model: model_ref(),
    };
    // The classifier rule scores captures with the shipped int8 model.
    let scorer = matches!(opts.rule, Rule::Classifier { .. }).then(classifier);
    let opts_rule = opts.rule;
    let end = Session::new(
        &mut camera,
        &mut display,
        &mut input,
        stage(),
        &mut archive,
        opts,
    )
    .with_classifier(scorer)
    .with_series_model(matches!(opts_rule, Rule::Series { .. }).then(series_model))
    .run()
    .expect("the session carries on through camera faults");
    drop(store);
    // Reopening verifies the whole chain and cuts nothing.
    let store = RecordStore::open(data).expect("reopen store");
    assert_eq!(store.open_report().torn_bytes, 0, "no torn tail expected");
    let after = stored(&store);
    Outcomes {
        end,
        display,
        camera,
        before,
        after,
    }
}

fn completed(end: &SessionEnd) -> &device::session::Screening {
    match end {
        SessionEnd::Completed { screening, saved } => {
            assert!(saved.is_ok(), "result not saved: {saved:?}");
            screening
        }
        SessionEnd::Cancelled => panic!("session was cancelled"),
    }
}

fn assert_nothing_lost(o: &Outcomes) {
    assert_eq!(o.before.len(), 1, "the earlier screening is in the store");
    assert_eq!(o.after.len(), 2, "the earlier screening plus this one");
    assert_eq!(o.after[0], o.before[0], "the earlier record is unchanged");
}

#[test]
fn damaged_and_misshapen_frames_are_skipped_and_the_screening_completes() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|seq| match seq % 7 {
        1 => Fault::TruncatedJpeg,
        3 => Fault::GarbledJpeg,
        5 => Fault::WrongSize,
        _ => Fault::None,
    });
    let mut opts = options();
    opts.rule = Rule::Classifier {
        threshold: classifier().threshold(),
    };
    let o = screen(dir.path(), camera, vec![InputEvent::Start], opts);
    let s = completed(&o.end);
    assert!(o.camera.saw(Fault::TruncatedJpeg) && o.camera.saw(Fault::WrongSize));
    assert_eq!(s.captures.len(), PROTOCOL.len(), "skipped: {:?}", s.skipped);
    // The short protocol leaves out tight eye closure, so the classifier rule
    // can only refer or call the series incomplete; either way it has a score.
    assert!(s.decision.score.is_some(), "{:?}", s.decision);
    for c in &s.captures {
        let p = c.evidence.probability.expect("every capture is scored");
        assert!((0.0..=1.0).contains(&p));
        assert!(c.heatmap.is_some(), "every capture has its heatmap");
    }
    assert_nothing_lost(&o);
}

#[test]
fn a_camera_unplugged_mid_screening_is_reopened_and_the_screening_completes() {
    let dir = tempfile::tempdir().unwrap();
    // Gone for two seconds of camera time during the second expression.
    let camera = FaultyCamera::new(|seq| {
        if (40..60).contains(&seq) {
            Fault::Unplugged
        } else {
            Fault::None
        }
    });
    let o = screen(dir.path(), camera, vec![InputEvent::Start], options());
    let s = completed(&o.end);
    assert!(o.camera.reopens >= 1, "the session reopened the camera");
    assert!(
        o.display.showed("error-camera-not-available"),
        "{:?}",
        o.display.titles
    );
    assert_eq!(s.captures.len(), PROTOCOL.len(), "skipped: {:?}", s.skipped);
    assert_nothing_lost(&o);
}

#[test]
fn a_camera_that_never_comes_back_gives_an_incomplete_saved_result() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|_| Fault::Unplugged);
    let mut opts = options();
    // Keeps the test short: the back-off sum is what ends each step.
    opts.step_timeout = Duration::from_millis(200);
    opts.settle = Duration::ZERO;
    let o = screen(dir.path(), camera, vec![InputEvent::Start], opts);
    let s = completed(&o.end);
    assert_eq!(
        s.skipped.len(),
        PROTOCOL.len(),
        "skipped {:?}, captured {}",
        s.skipped,
        s.captures.len()
    );
    assert_eq!(s.decision.outcome, Outcome::Incomplete);
    for (_, why) in &s.skipped {
        assert!(
            why.contains("not connected"),
            "skip reason names the camera: {why}"
        );
    }
    assert!(o.display.showed("error-camera-not-available"));
    assert_nothing_lost(&o);
}

#[test]
fn no_face_for_a_minute_skips_that_expression_with_the_reason_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody for the first 65 s of camera time (the whole first step and a
    // little of the second), then the patient sits down.
    let empty_frames = (65.0 * FPS) as u64;
    let camera = FaultyCamera::new(move |seq| {
        if seq < empty_frames {
            Fault::NoFace
        } else {
            Fault::None
        }
    });
    let o = screen(dir.path(), camera, vec![InputEvent::Start], options());
    let s = completed(&o.end);
    assert_eq!(
        s.skipped.len(),
        1,
        "only the first expression is lost: {:?}",
        s.skipped
    );
    let (expression, why) = &s.skipped[0];
    assert_eq!(*expression, Expression::Rest);
    assert!(why.contains("sit in front of the camera"), "reason: {why}");
    assert!(o.display.showed("error-could-not-take-this-picture"));
    assert_eq!(s.captures.len(), PROTOCOL.len() - 1);
    assert_nothing_lost(&o);
}

#[test]
fn two_faces_are_refused_with_their_reason_until_one_person_remains() {
    let dir = tempfile::tempdir().unwrap();
    // A visitor stands beside the patient for the whole first step.
    let visitor_frames = (61.0 * FPS) as u64;
    let camera = FaultyCamera::new(move |seq| {
        if seq < visitor_frames {
            Fault::TwoFaces
        } else {
            Fault::None
        }
    });
    let o = screen(dir.path(), camera, vec![InputEvent::Start], options());
    let s = completed(&o.end);
    let (expression, why) = s.skipped.first().expect("the first expression is skipped");
    assert_eq!(*expression, Expression::Rest);
    assert!(why.contains("Only one person"), "reason: {why}");
    assert!(
        s.captures.len() >= PROTOCOL.len() - 1,
        "the rest is captured: {:?}",
        s.skipped
    );
    assert_nothing_lost(&o);
}

/// A screening whose nurse types `refused` first, sees it refused on the
/// panel, and types `retyped`.
fn retyped_reference(data: &Path, refused: String, retyped: &str) -> Outcomes {
    let camera = FaultyCamera::new(|_| Fault::None);
    let mut opts = options();
    opts.ask_patient_reference = true;
    let input = vec![
        InputEvent::Start,
        InputEvent::Text(refused),
        InputEvent::Text(retyped.into()),
        InputEvent::Start,
    ];
    let o = screen(data, camera, input, opts);
    assert!(
        o.display.showed("error-reference-not-accepted"),
        "{:?}",
        o.display.titles
    );
    o
}

#[test]
fn a_patient_reference_with_control_characters_is_refused_and_retyped() {
    let dir = tempfile::tempdir().unwrap();
    let o = retyped_reference(dir.path(), "AB\u{1b}[2J12".into(), "AB-12");
    let s = completed(&o.end);
    assert_eq!(s.patient_reference.as_deref(), Some("AB-12"));
    assert_nothing_lost(&o);
}

/// The record body of the last screening in the store at `data`.
fn last_body(data: &Path) -> screening::record::RecordBody {
    let store = RecordStore::open(data).expect("reopen store");
    let last = store
        .log()
        .get(store.len() - 1)
        .expect("read")
        .expect("present");
    last.decode_unverified().expect("decodes").body
}

#[test]
fn a_reference_too_long_for_the_record_is_refused_at_entry_not_at_save() {
    let dir = tempfile::tempdir().unwrap();
    // 33 letters on the screen, 66 bytes in the record, whose limit is 64.
    let fits = "é".repeat(32);
    let o = retyped_reference(dir.path(), "é".repeat(33), &fits);
    // `completed` also asserts that the record was saved.
    let s = completed(&o.end);
    assert_eq!(s.patient_reference.as_deref(), Some(fits.as_str()));
    let body = last_body(dir.path());
    assert_eq!(body.patient.as_deref(), Some(fits.as_str()));
    assert_nothing_lost(&o);
}

#[test]
fn the_recorded_eye_ratios_are_the_ones_the_decision_used() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|_| Fault::None);
    let o = screen(dir.path(), camera, vec![InputEvent::Start], options());
    let s = completed(&o.end);
    let body = last_body(dir.path());
    let recorded = |name: &str| -> f32 {
        let e = body
            .expressions
            .iter()
            .find(|e| e.expression == name)
            .unwrap_or_else(|| panic!("{name} is recorded"));
        e.ratios
            .iter()
            .find(|f| f.name == "palpebral_fissure_ratio")
            .expect("the ratio is recorded")
            .value
    };
    for c in &s.captures {
        let name = c.evidence.expression.name();
        let used = s.fissure_ratio(c).expect("both eyes measured");
        assert_eq!(recorded(name), used, "{name}");
    }
    // The eye-narrowing rule scores 1 − ratio of the expression that decided.
    let deciding = s.decision.deciding.expect("a sign expression decided");
    let score = s.decision.score.expect("the rule gave a score");
    assert!(
        (1.0 - recorded(deciding.name()) - score).abs() < 1e-6,
        "recorded {} against score {score}",
        recorded(deciding.name())
    );
    // Normalising by rest matters here: the raw ratio differs for this patient.
    let rest = s.rest().expect("rest captured");
    assert_ne!(rest.evidence.fissure_left, rest.evidence.fissure_right);
    assert_nothing_lost(&o);
}

#[test]
fn an_answer_close_to_the_threshold_retakes_the_deciding_expression_once() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|_| Fault::None);
    // A band that holds every score: the series is always in doubt, so the
    // test shows the retake happens, and happens only once.
    let opts = SessionOptions {
        rule: Rule::EyeNarrowing { threshold: 0.5 },
        retake_band: Some(0.49),
        ..options()
    };
    let o = screen(dir.path(), camera, vec![InputEvent::Start], opts);
    let s = completed(&o.end);
    let deciding = s.decision.deciding.expect("a sign expression decided");
    assert_eq!(
        s.retaken,
        Some(deciding),
        "the deciding expression was retaken"
    );
    let mut expected = PROTOCOL.to_vec();
    expected.push(deciding);
    assert_eq!(
        o.camera.prompts, expected,
        "the protocol, then the one retake"
    );
    assert_eq!(
        s.captures
            .iter()
            .filter(|c| c.evidence.expression == deciding)
            .count(),
        1,
        "the retake replaced the first picture"
    );
    assert_eq!(s.captures.len(), PROTOCOL.len());
    assert_nothing_lost(&o);
}

#[test]
fn no_retake_without_a_band() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|_| Fault::None);
    let o = screen(dir.path(), camera, vec![InputEvent::Start], options());
    assert_eq!(completed(&o.end).retaken, None);
    assert_eq!(o.camera.prompts, PROTOCOL.to_vec());
}

#[test]
fn the_series_model_decides_the_whole_series_from_landmarks() {
    let dir = tempfile::tempdir().unwrap();
    let camera = FaultyCamera::new(|_| Fault::None);
    let opts = SessionOptions {
        rule: series_model().rule(),
        ..options()
    };
    let o = screen(dir.path(), camera, vec![InputEvent::Start], opts);
    let s = completed(&o.end);
    assert_eq!(s.decision.rule, series_model().rule());
    let p = s
        .decision
        .score
        .expect("the series model gave a probability");
    assert!((0.0..=1.0).contains(&p), "{p}");
    // The short protocol has no tight eye closure: the model never clears
    // a series with a sign expression missing.
    assert_ne!(s.decision.outcome, Outcome::NoSynkinesisDetected);
    if s.decision.outcome == Outcome::Incomplete {
        assert_eq!(s.decision.missing, vec![Expression::TightEyeClosure]);
    }
    assert!(
        s.captures.iter().all(|c| c.evidence.mouth.is_some()),
        "every capture carries its mouth corners"
    );
    assert!(
        s.captures.iter().all(|c| c.evidence.probability.is_none()),
        "this model reads no classifier, so none ran"
    );
    assert_nothing_lost(&o);
}
