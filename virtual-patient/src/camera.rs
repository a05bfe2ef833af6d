//! The camera and the key light: rotates the head frame by the pose, projects
//! with a mild perspective onto the output image, and shades surface normals.
//! Everything drawn and every ground-truth point goes through `project`, so
//! pixels and truth cannot disagree.

use super::scene::Scene;
use super::space::V3;
use screening::geometry::Point;

/// The brow-top height used to scale faces (the typical brow top, so the
/// scale does not change while the brows move).
pub(crate) const BROW_REF_Y: f32 = -21.0;

type M3 = [[f32; 3]; 3];

fn mat_mul(a: &M3, b: &M3) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

fn apply(m: &M3, v: V3) -> V3 {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

fn transpose(m: &M3) -> M3 {
    [
        [m[0][0], m[1][0], m[2][0]],
        [m[0][1], m[1][1], m[2][1]],
        [m[0][2], m[1][2], m[2][2]],
    ]
}

/// Roll · pitch · yaw, with the sign conventions documented on [`Scene`].
fn rotation(yaw_deg: f32, pitch_deg: f32, roll_deg: f32) -> M3 {
    let (sy, cy) = yaw_deg.to_radians().sin_cos();
    let (sp, cp) = pitch_deg.to_radians().sin_cos();
    let (sr, cr) = roll_deg.to_radians().sin_cos();
    // Yaw: the nose (+z) swings towards +x.
    let yaw = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    // Pitch, chin up: the nose tip moves up (−y), the chin forward (+z).
    let pitch = [[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]];
    // Roll, clockwise in an image whose y axis points down.
    let roll = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
    mat_mul(&roll, &mat_mul(&pitch, &yaw))
}

/// Normalised `v`.
pub(crate) fn normalize(v: V3) -> V3 {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if n > 1e-12 {
        [v[0] / n, v[1] / n, v[2] / n]
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// Dot product.
pub(crate) fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The key light and soft ambient fill, in camera space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Light {
    /// Unit vector towards the light.
    pub dir: V3,
    /// Share of ambient fill.
    pub ambient: f32,
    half: V3,
}

impl Light {
    fn new(scene: &Scene) -> Light {
        let (sa, ca) = scene.light_azimuth_deg.to_radians().sin_cos();
        let (se, ce) = scene.light_elevation_deg.to_radians().sin_cos();
        let dir = normalize([sa * ce, -se, ca * ce]);
        let half = normalize([dir[0], dir[1], dir[2] + 1.0]);
        Light {
            dir,
            ambient: scene.ambient.clamp(0.05, 0.95),
            half,
        }
    }

    /// Diffuse brightness of a surface with camera-space normal `n`, times
    /// `shadow` (1 = lit) and `occlusion` (1 = open sky). About 1 for a
    /// surface facing a frontal light.
    pub fn diffuse(&self, n: V3, shadow: f32, occlusion: f32) -> f32 {
        // Wrapped Lambert: skin scatters light past the terminator.
        let wrap = 0.45;
        let d = ((dot(n, self.dir) + wrap) / (1.0 + wrap)).max(0.0);
        // Sky-like fill: surfaces facing up and towards the camera get more.
        let sky = 0.72 + 0.16 * (-n[1]) + 0.12 * n[2];
        1.12 * ((1.0 - self.ambient) * d * shadow + self.ambient * sky * occlusion)
    }

    /// Specular (Blinn-Phong) highlight of a surface with normal `n`.
    pub fn specular(&self, n: V3, shininess: i32) -> f32 {
        let h = dot(n, self.half).max(0.0);
        (1.0 - self.ambient) * h.powi(shininess)
    }
}

/// Pose, projection and light of one frame.
#[derive(Debug, Clone)]
pub(crate) struct Camera {
    rot: M3,
    rot_t: M3,
    body_rot: M3,
    pivot: V3,
    /// Head-frame point placed at the face centre at zero pose.
    reference: V3,
    dist: f32,
    focal: f32,
    centre: Point,
    roll: f32,
    /// Pixels per millimetre at the face plane.
    pub ppmm: f32,
    /// The key light.
    pub light: Light,
}

impl Camera {
    /// The camera of `scene` for a `width × height` frame and a face whose
    /// chin is at `chin_y`.
    pub fn new(scene: &Scene, width: u32, height: u32, chin_y: f32) -> Camera {
        let face_mm = chin_y - BROW_REF_Y;
        let ppmm = scene.face_height.clamp(0.05, 2.0) * height as f32 / face_mm;
        // Closer cameras frame bigger faces: a 0.5 face is shot from 650 mm.
        let dist = 325.0 / scene.face_height.clamp(0.1, 2.0);
        let rot = rotation(scene.yaw_deg, scene.pitch_deg, scene.roll_deg);
        Camera {
            rot,
            rot_t: transpose(&rot),
            body_rot: rotation(0.15 * scene.yaw_deg, 0.0, 0.35 * scene.roll_deg),
            // The head turns about the top of the neck.
            pivot: [0.0, 45.0, -65.0],
            reference: [0.0, 0.5 * (BROW_REF_Y + chin_y), 0.0],
            dist,
            focal: ppmm * dist,
            centre: Point::new(
                width as f32 * (0.5 + scene.offset.x),
                height as f32 * (0.5 + scene.offset.y),
            ),
            roll: scene.roll_deg.to_radians(),
            ppmm,
            light: Light::new(scene),
        }
    }

    /// A head-frame point in camera space (pose applied, origin at the face
    /// centre, z towards the camera).
    pub fn to_camera(&self, p: V3) -> V3 {
        let q = apply(
            &self.rot,
            [
                p[0] - self.pivot[0],
                p[1] - self.pivot[1],
                p[2] - self.pivot[2],
            ],
        );
        [
            q[0] + self.pivot[0] - self.reference[0],
            q[1] + self.pivot[1] - self.reference[1],
            q[2] + self.pivot[2] - self.reference[2],
        ]
    }

    /// A camera-space point on the image.
    pub fn image_of(&self, c: V3) -> Point {
        let k = self.focal / (self.dist - c[2]).max(1.0);
        Point::new(self.centre.x + k * c[0], self.centre.y + k * c[1])
    }

    /// A head-frame point on the image.
    pub fn project(&self, p: V3) -> Point {
        self.image_of(self.to_camera(p))
    }

    /// A point of the torso (which barely follows the head) on the image.
    pub fn project_body(&self, p: V3) -> Point {
        let q = apply(
            &self.body_rot,
            [
                p[0] - self.pivot[0],
                p[1] - self.pivot[1],
                p[2] - self.pivot[2],
            ],
        );
        self.image_of([
            q[0] + self.pivot[0] - self.reference[0],
            q[1] + self.pivot[1] - self.reference[1],
            q[2] + self.pivot[2] - self.reference[2],
        ])
    }

    /// The same camera drawing into a window whose top-left corner is at
    /// `(x0, y0)` of the frame.
    pub fn windowed(&self, x0: f32, y0: f32) -> Camera {
        let mut c = self.clone();
        c.centre = Point::new(self.centre.x - x0, self.centre.y - y0);
        c
    }

    /// A head-frame direction in camera space.
    pub fn rotate(&self, v: V3) -> V3 {
        apply(&self.rot, v)
    }

    /// A camera-space direction in the head frame.
    pub fn unrotate(&self, v: V3) -> V3 {
        apply(&self.rot_t, v)
    }

    /// Head roll in radians (for orienting painted ellipses).
    pub fn roll(&self) -> f32 {
        self.roll
    }

    /// Brightness of a head-frame normal under the key light, for flat
    /// painted parts (ears, neck, hair) that are not ray-shaded.
    pub fn shade(&self, n_head: V3) -> f32 {
        self.light.diffuse(normalize(self.rotate(n_head)), 1.0, 0.9)
    }

    /// Brightness of a torso-frame normal.
    pub fn shade_body(&self, n: V3) -> f32 {
        self.light
            .diffuse(normalize(apply(&self.body_rot, n)), 1.0, 0.9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_signs_follow_the_documented_conventions() {
        let mut scene = Scene::studio();
        let nose = [0.0, 30.0, 30.0];
        let base = Camera::new(&scene, 400, 400, 115.0).project(nose);
        scene.yaw_deg = 10.0;
        assert!(Camera::new(&scene, 400, 400, 115.0).project(nose).x > base.x + 2.0);
        scene.yaw_deg = 0.0;
        scene.pitch_deg = 10.0;
        assert!(Camera::new(&scene, 400, 400, 115.0).project(nose).y < base.y - 2.0);
        scene.pitch_deg = 0.0;
        scene.roll_deg = 10.0;
        let top = [0.0, -90.0, 0.0];
        let c0 = Camera::new(&Scene::studio(), 400, 400, 115.0).project(top);
        assert!(Camera::new(&scene, 400, 400, 115.0).project(top).x > c0.x + 2.0);
    }

    #[test]
    fn face_height_sets_the_scale() {
        let cam = Camera::new(&Scene::studio(), 640, 480, 115.0);
        let brow = cam.project([0.0, BROW_REF_Y, 0.0]);
        let chin = cam.project([0.0, 115.0, 0.0]);
        let frac = (chin.y - brow.y) / 480.0;
        assert!((frac - 0.5).abs() < 0.01, "{frac}");
        assert!((brow.y + chin.y) * 0.5 - 240.0 < 1.0);
    }
}
