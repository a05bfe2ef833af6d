//! The kiosk's per-frame cost and one expression's capture-to-result time,
//! single thread, on 640×480 MJPEG frames of a virtual patient:
//!
//! - `decode`: one MJPEG frame to RGB (the V4L2 and replay path);
//! - `decode_detect_gate`: decode, then the face stage as the session runs it
//!   on every frame (detector, landmarks, alignment, quality gate);
//! - `decode_detect_gate_refine`: the same plus the iris model's eyelid
//!   refinement, which the session adds only on frames that pass the gate
//!   while it waits for the hold (the frames it may capture);
//! - `capture_to_result`: a whole one-expression screening from a recording
//!   (settle 0, hold 5 frames) through decision and a durable, signed record.
//!
//! Frames per second = 1 / the `decode_detect_gate` time. Target on the x86
//! development machine: ≥ 30 fps.

use std::io::Cursor;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use device::archive::SignedArchive;
use device::camera::decode::decode_jpeg;
use device::camera::replay::ReplayCamera;
use device::camera::virtual_patient::VirtualPatientCamera;
use device::camera::Camera;
use device::config::{Config, RuleConfig};
use device::display::{Canvas, Display, DisplayError};
use device::input::{InputEvent, Scripted};
use device::record_store::RecordStore;
use device::session::{Session, SessionEnd};
use virtual_patient::{ConditionKind, Expression, Patient, Scene};

/// A panel that draws into memory and sends nothing: the bench times the
/// kiosk, not a display bus.
struct NullPanel {
    canvas: Canvas,
}

device::forward_draw_target!(NullPanel);

impl Display for NullPanel {
    fn flush(&mut self) -> Result<(), DisplayError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "null panel".into()
    }
}

/// An MJPEG recording of a virtual patient making a big smile.
fn recording(frames: usize) -> Vec<u8> {
    let mut camera = VirtualPatientCamera::new(
        Patient::with_kind(7, ConditionKind::Synkinetic),
        Scene::studio(),
        640,
        480,
    );
    camera.follow_prompt(Some(Expression::BigSmile));
    let mut out = Vec::new();
    for _ in 0..frames {
        let frame = camera.next_frame().expect("virtual frame");
        let mut jpeg = Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
            .encode_image(&frame.image)
            .expect("encode");
        out.extend_from_slice(&jpeg.into_inner());
    }
    out
}

/// The kiosk's own assembly (`device::parts`) for one big smile decided by
/// the landmark rule, so the bench loads and configures what `kiosk run` does.
fn bench_config() -> Config {
    let mut config = Config::default();
    config.decision.rule = RuleConfig::EyeNarrowing { threshold: 0.2 };
    let p = &mut config.protocol;
    p.expressions = vec![Expression::BigSmile];
    p.hold_frames = 5;
    p.settle_ms = 0;
    p.step_timeout_s = 30;
    p.result_timeout_s = 0;
    p.ask_patient_reference = false;
    config
}

fn frame_path(c: &mut Criterion) {
    let config = bench_config();
    let models = device::parts::load_models(&config).expect("models");
    let stage = &models.stage;
    let mjpeg = recording(40);
    let frames = device::camera::decode::split_mjpeg(&mjpeg);
    // A frame from the end, when the smile is full and the face still.
    let one = &mjpeg[frames[frames.len() - 1].clone()];
    let rgb = decode_jpeg(one, Some((640, 480)), "bench").expect("decode");
    let first = stage.analyse(&rgb, None).expect("analyse");
    assert!(
        first.passed(),
        "bench frame must pass the gate: {:?}",
        first.verdict
    );

    let mut g = c.benchmark_group("frame_640x480");
    g.bench_function("decode", |b| {
        b.iter(|| decode_jpeg(one, Some((640, 480)), "bench").unwrap())
    });
    g.bench_function("decode_detect_gate", |b| {
        b.iter(|| {
            let image = decode_jpeg(one, Some((640, 480)), "bench").unwrap();
            stage.analyse(&image, Some(&first)).unwrap()
        })
    });
    g.bench_function("decode_detect_gate_refine", |b| {
        b.iter(|| {
            let image = decode_jpeg(one, Some((640, 480)), "bench").unwrap();
            let mut a = stage.analyse(&image, Some(&first)).unwrap();
            stage.refine_eyelids(&image, &mut a).unwrap();
            a
        })
    });
    g.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big_smile.mjpeg");
    // The last twelve frames: the smile is already full when it starts.
    std::fs::write(&file, &mjpeg[frames[frames.len() - 12].start..]).expect("write recording");
    let mut store = RecordStore::open(&dir.path().join("data")).expect("record store");
    let model = models.evidence.clone();
    let mut opts = device::parts::session_options(&config, "bench".into(), models.rule);
    opts.reopen_backoff = Duration::from_millis(10);
    let mut g = c.benchmark_group("expression");
    g.sample_size(10);
    g.bench_function("capture_to_result", |b| {
        b.iter(|| {
            let mut camera = ReplayCamera::open(&file)
                .expect("replay")
                .expect_size(640, 480);
            let mut panel = NullPanel {
                canvas: Canvas::new(480, 320),
            };
            let mut input = Scripted::new([InputEvent::Start]);
            let mut archive = SignedArchive {
                store: &mut store,
                model: model.clone(),
            };
            let end = Session::new(
                &mut camera,
                &mut panel,
                &mut input,
                stage,
                &mut archive,
                opts.clone(),
            )
            .run()
            .expect("session");
            assert!(matches!(end, SessionEnd::Completed { saved: Ok(_), .. }));
        })
    });
    g.finish();
}

criterion_group!(benches, frame_path);
criterion_main!(benches);
