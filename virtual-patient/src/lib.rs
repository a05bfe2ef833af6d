#![warn(missing_docs)]
//! Virtual patients: a seeded procedural renderer of frontal face photos.
//!
//! A tool of its own, not part of the screening: the kiosk's demo camera
//! (behind its default `virtual-camera` feature), `clinic synth` and the
//! tests use it; the clinical vocabulary it draws from ([`Expression`],
//! [`Condition`]) lives in `screening::protocol`, so a kiosk built without
//! the renderer still speaks it.
//!
//! A [`Patient`] is an [`Identity`] (face shape, colours, hair, age,
//! accessories) and a [`Condition`] (healthy, flaccid palsy, synkinesis), all
//! drawn from one seed. [`render`] photographs the patient making an
//! [`Expression`] in a [`Scene`] and returns the image with its
//! [`GroundTruth`] (eye corners, eyelid apertures, mouth corners, face box),
//! measured on the same 3D geometry the pixels come from.
//!
//! How a frame is made (one private module each): the clinical model
//! (`activation`) turns condition and expression into per-side muscle
//! activity; the `head` builds a 3D surface and feature outlines from it
//! (`eye`, `brow`, `nose`, `mouth`); the `camera` poses and projects it;
//! `raster` shades the posed surface under the scene's light; the features
//! are painted as albedo and multiplied by that shading; background, body,
//! ears, hair and glasses are painted around it; the `sensor` adds white
//! balance, blur, noise and JPEG. The same projection gives the ground truth.
//! Everything is seeded: the same inputs give byte-identical images.
//!
//! A 640×480 frame takes about 13 ms (one core, release build), so a live
//! virtual camera can animate [`FaceState::intensity`] and
//! [`FaceState::blink`] frame by frame.
//!
//! ```
//! use virtual_patient::{self as synth, Expression, FaceState, Patient, Scene};
//!
//! let patient = Patient::random(42);
//! let frame = synth::render(&patient, &FaceState::full(Expression::BigSmile), &Scene::studio(), 320, 240);
//! assert_eq!(frame.image.dimensions(), (320, 240));
//! // The patient's left eye is on the image's right.
//! assert!(frame.truth.eye_centre.left.x > frame.truth.eye_centre.right.x);
//! ```

mod activation;
mod backdrop;
mod beard;
mod body;
mod brow;
mod camera;
mod canvas;
mod colour;
mod ear;
mod eye;
mod face_state;
mod glasses;
mod hair;
mod head;
mod identity;
mod mouth;
mod nose;
mod raster;
mod render;
pub mod retake;
mod scene;
mod sensor;
mod skin;
mod space;
mod surface;
mod truth;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use face_state::FaceState;
pub use identity::{Asymmetry, HairStyle, Identity, Patient, Sex};
pub use render::render;
pub use scene::{Background, Scene};
pub use screening::geometry::Side;
pub use screening::protocol::{Condition, ConditionKind, Expression, Pattern, Severity};
pub use truth::{GroundTruth, Rendered};

/// The generator of one random stream of one seed.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// A patient's standard photo series: the eight expressions at full
/// intensity, in [`Expression::ALL`] order, shot in one random setting
/// (from `scene_seed`) with small per-shot changes of pose, framing and noise.
pub fn series(patient: &Patient, scene_seed: u64, width: u32, height: u32) -> Vec<Rendered> {
    let base = Scene::random(scene_seed);
    let mut shots = rng(scene_seed, 13);
    Expression::ALL
        .iter()
        .map(|&e| {
            let scene = base.jittered(shots.gen());
            render(patient, &FaceState::full(e), &scene, width, height)
        })
        .collect()
}
