//! Where and how a virtual patient is photographed: background, light, camera
//! distance, head pose and the camera's imperfections (noise, blur, JPEG).

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::rng;
use screening::geometry::Point;

/// What is behind the patient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Background {
    /// A plain wall.
    Plain {
        /// Wall colour.
        colour: [u8; 3],
    },
    /// A studio backdrop fading from top to bottom.
    Gradient {
        /// Colour at the top edge.
        top: [u8; 3],
        /// Colour at the bottom edge.
        bottom: [u8; 3],
    },
    /// A clinic room: painted wall, a door frame or cabinet, a wall panel.
    Clinic {
        /// Wall colour.
        wall: [u8; 3],
        /// Colour of the door, cabinet and panel.
        trim: [u8; 3],
        /// Picks the layout of the room's furniture.
        layout: u32,
    },
}

/// A photo setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// What is behind the patient.
    pub background: Background,
    /// Direction the key light comes from, degrees around the vertical axis:
    /// 0 = from the camera, positive = from the image's right.
    pub light_azimuth_deg: f32,
    /// Height of the key light, degrees above the horizontal.
    pub light_elevation_deg: f32,
    /// Share of the light that is soft ambient fill (0..1).
    pub ambient: f32,
    /// Colour temperature of the light in kelvin; the camera's white balance
    /// only half corrects it, so low values look warm and high values cool.
    pub light_temperature_k: f32,
    /// Overall brightness factor (1 = well exposed).
    pub exposure: f32,
    /// Brow-to-chin face height as a fraction of the frame height.
    pub face_height: f32,
    /// Head turn, degrees; positive when the patient turns towards their own
    /// left (the nose moves towards the image's right).
    pub yaw_deg: f32,
    /// Head tilt, degrees; positive chin up.
    pub pitch_deg: f32,
    /// Head roll, degrees; positive clockwise in the image.
    pub roll_deg: f32,
    /// Face centre offset from the frame centre, as fractions of the frame
    /// width (x) and height (y).
    pub offset: Point,
    /// Sensor noise standard deviation, in 8-bit levels.
    pub noise_sigma: f32,
    /// Gaussian blur standard deviation (focus, motion), in pixels of a
    /// 480-line frame (scaled with the output height).
    pub blur_sigma: f32,
    /// When set, the frame goes through a JPEG round trip at this quality.
    pub jpeg_quality: Option<u8>,
    /// Seeds the sensor noise, so a live camera can vary it per frame.
    pub noise_seed: u64,
}

const WALLS: [[u8; 3]; 10] = [
    [222, 222, 218],
    [200, 206, 212],
    [186, 200, 190],
    [228, 218, 196],
    [150, 164, 180],
    [110, 120, 130],
    [240, 240, 240],
    [206, 190, 176],
    [90, 100, 96],
    [170, 182, 196],
];

impl Scene {
    /// A frontal, evenly lit, noise-free photo against a neutral grey wall.
    pub fn studio() -> Scene {
        Scene {
            background: Background::Plain {
                colour: [196, 198, 200],
            },
            light_azimuth_deg: 0.0,
            light_elevation_deg: 25.0,
            ambient: 0.35,
            light_temperature_k: 5500.0,
            exposure: 1.0,
            face_height: 0.5,
            yaw_deg: 0.0,
            pitch_deg: 0.0,
            roll_deg: 0.0,
            offset: Point::new(0.0, 0.0),
            noise_sigma: 0.0,
            blur_sigma: 0.0,
            jpeg_quality: None,
            noise_seed: 0,
        }
    }

    /// A random but plausible kiosk or clinic photo setting.
    pub fn random(seed: u64) -> Scene {
        let mut r = rng(seed, 11);
        let wall = *WALLS.choose(&mut r).unwrap_or(&WALLS[0]);
        let jitter = |r: &mut rand_chacha::ChaCha8Rng, c: [u8; 3]| {
            c.map(|v| (f32::from(v) + r.gen_range(-12.0f32..12.0)).clamp(0.0, 255.0) as u8)
        };
        let background = match r.gen_range(0..3) {
            0 => Background::Plain {
                colour: jitter(&mut r, wall),
            },
            1 => {
                let top = jitter(&mut r, wall);
                let k = r.gen_range(0.6f32..0.9);
                Background::Gradient {
                    top,
                    bottom: top.map(|v| (f32::from(v) * k) as u8),
                }
            }
            _ => Background::Clinic {
                wall: jitter(&mut r, wall),
                trim: *[
                    [245u8, 245, 242],
                    [150, 110, 80],
                    [120, 130, 140],
                    [60, 70, 90],
                ]
                .choose(&mut r)
                .unwrap_or(&[245, 245, 242]),
                layout: r.gen(),
            },
        };
        let pose = |r: &mut rand_chacha::ChaCha8Rng, sd: f32| {
            (r.gen_range(-1.0f32..1.0) * sd).clamp(-15.0, 15.0)
        };
        Scene {
            background,
            light_azimuth_deg: r.gen_range(-55.0..55.0),
            light_elevation_deg: r.gen_range(0.0..45.0),
            ambient: r.gen_range(0.3..0.6),
            light_temperature_k: r.gen_range(3200.0..7500.0),
            exposure: r.gen_range(0.85..1.12),
            face_height: r.gen_range(0.35..0.65),
            yaw_deg: pose(&mut r, 15.0),
            pitch_deg: pose(&mut r, 12.0),
            roll_deg: pose(&mut r, 10.0),
            offset: Point::new(r.gen_range(-0.08..0.08), r.gen_range(-0.06..0.06)),
            noise_sigma: if r.gen_bool(0.8) {
                r.gen_range(0.5..6.0)
            } else {
                0.0
            },
            blur_sigma: if r.gen_bool(0.6) {
                r.gen_range(0.2..1.3)
            } else {
                0.0
            },
            jpeg_quality: if r.gen_bool(0.7) {
                Some(r.gen_range(60..=95))
            } else {
                None
            },
            noise_seed: r.gen(),
        }
    }

    /// The same pose and framing photographed in `other`'s room: its light,
    /// exposure, background and sensor. What a retake elsewhere looks like.
    pub fn in_setting_of(&self, other: &Scene) -> Scene {
        Scene {
            yaw_deg: self.yaw_deg,
            pitch_deg: self.pitch_deg,
            roll_deg: self.roll_deg,
            offset: self.offset,
            face_height: self.face_height,
            ..*other
        }
    }

    /// This scene with small per-shot changes: the patient moves a little, the
    /// light flickers and the sensor noise is new. Used for a photo series.
    pub fn jittered(&self, seed: u64) -> Scene {
        let mut r = rng(seed, 12);
        let mut s = *self;
        let mut nudge = |v: f32, by: f32| (v + r.gen_range(-by..by)).clamp(-15.0, 15.0);
        s.yaw_deg = nudge(s.yaw_deg, 3.0);
        s.pitch_deg = nudge(s.pitch_deg, 2.5);
        s.roll_deg = nudge(s.roll_deg, 2.0);
        s.offset = Point::new(
            s.offset.x + r.gen_range(-0.015..0.015),
            s.offset.y + r.gen_range(-0.015..0.015),
        );
        s.face_height = (s.face_height * r.gen_range(0.96..1.04)).clamp(0.3, 0.7);
        s.exposure *= r.gen_range(0.97..1.03);
        s.noise_seed = r.gen();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_scenes_stay_in_range() {
        for seed in 0..300 {
            let s = Scene::random(seed);
            assert_eq!(s, Scene::random(seed));
            for a in [s.yaw_deg, s.pitch_deg, s.roll_deg] {
                assert!((-15.0..=15.0).contains(&a), "{a}");
            }
            assert!((0.35..=0.65).contains(&s.face_height));
            if let Some(q) = s.jpeg_quality {
                assert!((60..=95).contains(&q));
            }
            let j = s.jittered(seed);
            for a in [j.yaw_deg, j.pitch_deg, j.roll_deg] {
                assert!((-15.0..=15.0).contains(&a), "{a}");
            }
        }
    }

    #[test]
    fn random_scenes_vary() {
        let yaws: Vec<f32> = (0..50).map(|s| Scene::random(s).yaw_deg).collect();
        assert!(yaws.iter().any(|&y| y > 7.0) && yaws.iter().any(|&y| y < -7.0));
        let jpegs = (0..50)
            .filter(|&s| Scene::random(s).jpeg_quality.is_some())
            .count();
        assert!((20..50).contains(&jpegs));
    }
}
