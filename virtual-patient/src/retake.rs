//! The scene-invariance set: virtual patients photographed in one scene and
//! again in other rooms with the same pose and framing. A classifier that
//! reads the patient rather than the room gives every retake the first
//! photo's decision. The classifier test and the `scene_swap` diagnosis both
//! draw from here, so they always judge the same photos.

use image::RgbImage;

use super::face_state::FaceState;
use super::identity::Patient;
use super::render::render;
use super::scene::Scene;
use screening::protocol::Expression;

/// Cases in the set.
pub const CASES: u64 = 24;
/// Other rooms each case is retaken in.
pub const RETAKES: u64 = 4;

/// One patient and expression, its first scene and the rooms of its retakes.
#[derive(Debug, Clone)]
pub struct Retakes {
    /// Position in the set, 0..[`CASES`].
    pub case: u64,
    /// The patient photographed (`Patient::random(1000 + case)`).
    pub patient: Patient,
    /// Big smile, pucker and tight eye closure in turn: the series' sign expressions.
    pub expression: Expression,
    /// The first photo's scene.
    pub base: Scene,
    /// The rooms of the retakes; combine with [`Scene::in_setting_of`].
    pub others: Vec<Scene>,
}

impl Retakes {
    /// The case photographed in `scene`, a 640x480 frame as the kiosk's
    /// camera gives.
    pub fn photo(&self, scene: &Scene) -> RgbImage {
        render(
            &self.patient,
            &FaceState::full(self.expression),
            scene,
            640,
            480,
        )
        .image
    }
}

/// The whole set, in a fixed order.
pub fn invariance_set() -> impl Iterator<Item = Retakes> {
    retakes(0..CASES)
}

/// Cases `cases` of the same sequence: `0..CASES` is the set; further cases
/// (new patients and rooms) make a larger sample for a diagnosis.
pub fn retakes(cases: std::ops::Range<u64>) -> impl Iterator<Item = Retakes> {
    const EXPRESSIONS: [Expression; 3] = [
        Expression::BigSmile,
        Expression::Pucker,
        Expression::TightEyeClosure,
    ];
    cases.map(|case| Retakes {
        case,
        patient: Patient::random(1000 + case),
        expression: EXPRESSIONS[(case % 3) as usize],
        base: Scene::random(5000 + case),
        others: (0..RETAKES)
            .map(|j| Scene::random(9000 + 10 * case + j))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retakes_keep_the_pose_and_change_the_room() {
        for r in invariance_set() {
            for other in &r.others {
                let s = r.base.in_setting_of(other);
                assert_eq!(
                    (s.yaw_deg, s.pitch_deg, s.roll_deg, s.face_height),
                    (
                        r.base.yaw_deg,
                        r.base.pitch_deg,
                        r.base.roll_deg,
                        r.base.face_height
                    )
                );
                assert_eq!(s.offset, r.base.offset);
                assert_eq!(
                    (s.light_azimuth_deg, s.exposure, s.noise_seed),
                    (other.light_azimuth_deg, other.exposure, other.noise_seed)
                );
            }
        }
        assert_eq!(invariance_set().count() as u64, CASES);
    }
}
