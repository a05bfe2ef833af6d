//! The 3D head of one frame, in millimetres in the head frame: origin between
//! the eyes on the eye line, x towards the patient's left (the image's right),
//! y down, z out of the face towards the camera. The surface is a stack of
//! elliptic cross-sections (skull, cheeks, jaw, chin) plus smooth
//! displacements for bone, soft tissue and features, which follow the
//! expression. Feature outlines (eyes, brows, lips) are laid on this surface,
//! so shading, drawing and ground truth all see the same geometry.

use super::activation::Activation;
use super::brow::Brow;
use super::camera::Camera;
use super::eye::Eye;
use super::identity::{Identity, Sex};
use super::mouth::Mouth;
use super::nose::Nose;
pub(crate) use super::space::{sign, smoothstep, Bump, V3};
use super::surface::Surface;
use screening::geometry::{PerSide, Point, Side};

/// A monotone cubic through `(y, value)` knots (Fritsch–Carlson), so the
/// face outline has no wiggles between its control widths.
#[derive(Debug, Clone)]
struct Profile {
    knots: Vec<(f32, f32)>,
    slopes: Vec<f32>,
}

impl Profile {
    fn new(knots: Vec<(f32, f32)>) -> Profile {
        let n = knots.len();
        let d: Vec<f32> = knots
            .windows(2)
            .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
            .collect();
        let mut m = vec![0.0; n];
        for i in 0..n {
            m[i] = if i == 0 {
                d[0]
            } else if i == n - 1 {
                d[n - 2]
            } else if d[i - 1] * d[i] <= 0.0 {
                0.0
            } else {
                (d[i - 1] + d[i]) * 0.5
            };
        }
        for i in 0..n - 1 {
            if d[i] == 0.0 {
                m[i] = 0.0;
                m[i + 1] = 0.0;
                continue;
            }
            let (a, b) = (m[i] / d[i], m[i + 1] / d[i]);
            let s = a * a + b * b;
            if s > 9.0 {
                let t = 3.0 / s.sqrt();
                m[i] = t * a * d[i];
                m[i + 1] = t * b * d[i];
            }
        }
        Profile { knots, slopes: m }
    }

    fn at(&self, y: f32) -> f32 {
        let k = &self.knots;
        let n = k.len();
        if y <= k[0].0 {
            return k[0].1;
        }
        if y >= k[n - 1].0 {
            return k[n - 1].1;
        }
        let i = k.partition_point(|p| p.0 <= y).saturating_sub(1).min(n - 2);
        let (y0, v0, y1, v1) = (k[i].0, k[i].1, k[i + 1].0, k[i + 1].1);
        let h = y1 - y0;
        let t = (y - y0) / h;
        let (t2, t3) = (t * t, t * t * t);
        (2.0 * t3 - 3.0 * t2 + 1.0) * v0
            + (t3 - 2.0 * t2 + t) * h * self.slopes[i]
            + (-2.0 * t3 + 3.0 * t2) * v1
            + (t3 - t2) * h * self.slopes[i + 1]
    }
}

/// The nasolabial fold: the cheek mass lateral to the line from the nose
/// wing to beyond the mouth corner stands proud of the lip, more in a smile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fold {
    /// Upper end (beside the nose wing) and lower end (beyond the corner).
    pub a: [f32; 2],
    pub b: [f32; 2],
    /// Height of the cheek mass, millimetres.
    pub height: f32,
    side: f32,
}

impl Fold {
    fn at(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        let tau = ((x - self.a[0]) * dx + (y - self.a[1]) * dy) / len2;
        if !(-0.4..=1.5).contains(&tau) {
            return 0.0;
        }
        let len = len2.sqrt();
        // Lateral unit normal (pointing away from the midline).
        let (nx, ny) = (dy / len * self.side, -dx / len * self.side);
        let (nx, ny) = if nx * self.side < 0.0 {
            (-nx, -ny)
        } else {
            (nx, ny)
        };
        let d = (x - self.a[0]) * nx + (y - self.a[1]) * ny;
        if !(-6.0..=40.0).contains(&d) {
            return 0.0;
        }
        let along = smoothstep(-0.4, 0.05, tau) * (1.0 - smoothstep(1.0, 1.5, tau));
        let edge = 1.0 / (1.0 + (-d / 1.4).exp());
        let fall = (-(d.max(0.0) * d.max(0.0)) / (2.0 * 13.0 * 13.0)).exp();
        self.height * along * edge * fall
    }
}

/// The head of one frame: identity plus expression, as a surface and features.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// Top of the skull (vertex), negative y.
    pub top_y: f32,
    /// Bottom of the chin (menton).
    pub chin_y: f32,
    /// Depth of the widest cross-section (the ear plane).
    pub z_c: f32,
    /// Cheekbone half-width.
    pub face_width: f32,
    /// 0 at 35 years and younger, 1 at 80: how much age shows.
    pub age: f32,
    width: Profile,
    front: Profile,
    /// Jaw angle height and the jaw's and chin's half-widths.
    gonion: f32,
    jaw: f32,
    chin: f32,
    cranium_depth: f32,
    bumps: Vec<Bump>,
    pub folds: PerSide<Fold>,
    /// The muscle state this head was built for.
    pub act: Activation,
    /// Eyes, by the patient's side.
    pub eyes: PerSide<Eye>,
    /// Eyebrows, by the patient's side.
    pub brows: PerSide<Brow>,
    /// Lips and mouth opening.
    pub mouth: Mouth,
    /// Nose.
    pub nose: Nose,
}

/// Where the skull's rounding starts above the brows (head frame y).
const CRANIUM_Y: f32 = -20.0;

/// How far behind the face front the ear plane lies.
const HEAD_CENTRE_Z: f32 = -80.0;

impl Head {
    /// The head of `id` making the faces in `act`.
    pub fn new(id: &Identity, act: &Activation) -> Head {
        let w = id.face_width;
        let chin = id.face_length;
        let top = -(id.forehead_height + 46.0);
        let age = ((id.age - 35.0) / 45.0).clamp(0.0, 1.0);
        let wc = w * 1.01;
        let jaw = w * id.jaw_width;
        let cw = w * id.chin_width;
        let gonion = chin - 33.0;
        let width = Profile::new(vec![
            (-35.0, wc),
            (-12.0, 0.965 * w),
            (14.0, w),
            (gonion - 16.0, jaw + 0.4 * (w - jaw)),
            (gonion, jaw),
        ]);
        let front = Profile::new(vec![
            (CRANIUM_Y, 13.0),
            (0.0, 10.5),
            (40.0, 8.0),
            (chin - 10.0, 5.0),
            (chin, 3.0),
        ]);

        let nose = Nose::new(id);
        let mouth = Mouth::new(id, act, &nose);
        let eyes = PerSide::new(
            Eye::new(id, act, Side::Left),
            Eye::new(id, act, Side::Right),
        );
        let brows = PerSide::new(
            Brow::new(id, act, &eyes, Side::Left),
            Brow::new(id, act, &eyes, Side::Right),
        );

        let mut bumps = Vec::with_capacity(48);
        let male = if id.sex == Sex::Male { 1.0 } else { 0.0 };
        // Forehead, glabella, nasion.
        bumps.push(Bump::new(0.0, -10.0, 10.0, 6.0, 1.6 + 1.0 * male));
        bumps.push(Bump::new(0.0, -1.0, 8.0, 5.0, -3.0));
        let bl = 0.5 * (act.side.left.brow_lower + act.side.right.brow_lower);
        bumps.push(Bump::new(0.0, -9.0, 5.0, 4.0, 1.5 * bl));
        for side in Side::BOTH {
            let s = sign(side);
            let a = act.side.get(side);
            let e = eyes.get(side);
            let ex = e.centre[0];
            bumps.push(Bump::new(s * 22.0, -38.0, 18.0, 18.0, 1.5));
            bumps.push(Bump::new(s * 0.9 * w, -18.0, 9.0, 12.0, -4.0));
            // Brow ridge, eye socket and the eyeball inside it.
            bumps.push(Bump::new(ex - s * 2.0, -14.0, 15.0, 5.5, 3.0 + 1.5 * male));
            bumps.push(Bump::new(ex, -1.0, 12.0, 10.0, -6.0));
            bumps.push(Bump::new(ex - s * 12.0, 1.0, 5.0, 5.0, -2.0));
            bumps.push(Bump::new(ex, e.centre[1] - 0.5, e.width * 0.3, 6.0, 6.5));
            // Soft tissue the brow drags along: a raised brow lifts the lid fold.
            let b = brows.get(side);
            bumps.push(Bump::new(
                ex,
                b.mid_y() + 3.0,
                12.0,
                3.0,
                1.5 + 1.5 * a.brow_lower,
            ));
            // Lower lid pushed up by the cheek; bags under the eyes with age.
            bumps.push(Bump::new(
                ex + s * 1.0,
                8.5 - 2.0 * a.cheek_raise,
                9.0,
                3.0,
                1.2 * age + 2.2 * a.cheek_raise,
            ));
            // Cheekbone, cheek fat pad (rises with a smile), hollow, jaw angle.
            bumps.push(Bump::new(s * 0.66 * w, 14.0, 14.0, 9.0, 5.0));
            bumps.push(Bump::new(
                s * 0.47 * w,
                31.0 - 9.0 * a.cheek_raise,
                13.0,
                10.0,
                2.5 + 5.0 * a.cheek_raise + 1.0 * a.squeeze,
            ));
            bumps.push(Bump::new(s * 0.62 * w, 44.0, 10.0, 10.0, -1.0 - 2.0 * age));
            bumps.push(Bump::new(s * jaw * 0.92, chin - 32.0, 10.0, 10.0, 2.0));
            // Philtrum columns.
            bumps.push(Bump::new(
                s * 4.5,
                nose.subnasale + 0.45 * (mouth.stomion - nose.subnasale),
                1.8,
                4.5,
                1.0,
            ));
        }
        // Chin and the sulcus above it.
        bumps.push(Bump::new(0.0, chin - 17.0, 13.0, 9.0, 6.0 + male));
        bumps.push(Bump::new(
            mouth.centre_x,
            mouth.lower_lip_bottom() + 6.0,
            13.0,
            3.5,
            -2.5,
        ));
        // Pucker pushes the whole perioral region forward.
        let pucker = 0.5 * (act.side.left.pucker + act.side.right.pucker);
        bumps.push(Bump::new(
            mouth.centre_x,
            mouth.stomion,
            16.0,
            14.0,
            5.0 * pucker,
        ));

        let folds = PerSide::new(
            Fold::for_side(act, &nose, &mouth, Side::Left, age),
            Fold::for_side(act, &nose, &mouth, Side::Right, age),
        );

        Head {
            top_y: top,
            chin_y: chin,
            z_c: HEAD_CENTRE_Z,
            face_width: w,
            age,
            width,
            front,
            gonion,
            jaw,
            chin: cw,
            cranium_depth: 13.0 - HEAD_CENTRE_Z,
            bumps,
            folds,
            act: *act,
            eyes,
            brows,
            mouth,
            nose,
        }
    }

    /// Half the head's width at height `y`.
    pub fn half_width(&self, y: f32) -> f32 {
        if y <= -35.0 {
            let u = ((y + 35.0) / (self.top_y + 35.0)).clamp(0.0, 1.0);
            return self.width.at(-35.0) * (1.0 - u * u).max(0.0).sqrt();
        }
        if y >= self.gonion {
            // Jaw line: nearly straight from the jaw angle towards the chin,
            // rounding off at the menton.
            let v = ((y - self.gonion) / (self.chin_y - self.gonion)).clamp(0.0, 1.0);
            return (self.jaw + (self.chin - self.jaw) * v.powf(1.15))
                * (1.0 - v.powi(8)).max(0.0).sqrt();
        }
        self.width.at(y)
    }

    /// Distance from the ear plane to the face's front on the midline,
    /// before features.
    fn half_depth(&self, y: f32) -> f32 {
        // The forehead leans back from the brow ridge and rounds into the
        // skull: an ellipse from the brow line to the vertex.
        if y <= CRANIUM_Y {
            let u = ((y - CRANIUM_Y) / (self.top_y - CRANIUM_Y)).clamp(0.0, 1.0);
            return self.cranium_depth * (1.0 - u * u).max(0.0).sqrt();
        }
        let d = self.front.at(y) - self.z_c;
        if y >= self.gonion {
            let v = ((y - self.gonion) / (self.chin_y - self.gonion)).clamp(0.0, 1.0);
            return d * (1.0 - v.powi(10)).max(0.0).sqrt();
        }
        d
    }

    /// What the surface needs at height `y`, computed once for a row of
    /// samples: outline, depth, cross-section and the bumps that reach it.
    pub fn row(&self, y: f32) -> Row {
        let mut bumps = [0u8; MAX_BUMPS];
        let mut count = 0;
        for (i, b) in self.bumps.iter().enumerate().take(MAX_BUMPS) {
            if b.reaches_row(y) {
                bumps[count] = i as u8;
                count += 1;
            }
        }
        Row {
            y,
            w: self.half_width(y).max(1e-3),
            d: self.half_depth(y),
            bumps,
            count,
        }
    }

    /// Depth of the face surface at `x` on `row`; `x` is clamped to the outline.
    pub fn front_z_row(&self, row: &Row, x: f32) -> f32 {
        let y = row.y;
        let q = (x / row.w).abs().min(1.0);
        let base = self.z_c + row.d * (1.0 - q * q).max(0.0).sqrt();
        let fade = 1.0 - smoothstep(0.8, 1.0, q);
        if fade <= 0.0 {
            return base;
        }
        let mut z = 0.0;
        for &i in &row.bumps[..row.count] {
            z += self.bumps[usize::from(i)].at(x, y);
        }
        z += self.nose.height(x, y);
        z += self.mouth.height(x, y);
        z += self.folds.left.at(x, y) + self.folds.right.at(x, y);
        base + fade * z
    }

    /// Depth of the face surface at `(x, y)`; `x` is clamped to the outline.
    pub fn front_z(&self, x: f32, y: f32) -> f32 {
        self.front_z_row(&self.row(y), x)
    }

    /// The surface point in front of `(x, y)`.
    pub fn surface(&self, x: f32, y: f32) -> V3 {
        [x, y, self.front_z(x, y)]
    }

    /// The image position of the surface point in front of `(x, y)`.
    pub fn image_at(&self, cam: &Camera, x: f32, y: f32) -> Point {
        cam.project(self.surface(x, y))
    }

    /// A point on the head's skin by mesh parameters: `s` runs across the
    /// front (-1..1, the face's outline at ±1) and on around the sides towards
    /// the back (|s| up to 1.6) on `row`.
    pub fn mesh_point(&self, row: &Row, s: f32) -> V3 {
        let y = row.y;
        if s.abs() <= 1.0 {
            let x = (s * std::f32::consts::FRAC_PI_2).sin() * row.w;
            return [x, y, self.front_z_row(row, x)];
        }
        // Behind the ear plane: a rounder back of the head, no features.
        let phi = (s.abs() - 1.0) * std::f32::consts::FRAC_PI_2;
        let (c, sn) = (phi.cos().max(0.0), phi.sin().max(0.0));
        [s.signum() * row.w * c, y, self.z_c - row.d * 1.05 * sn]
    }
}

impl Surface for Head {
    fn front_z(&self, x: f32, y: f32) -> f32 {
        Head::front_z(self, x, y)
    }

    fn surface(&self, x: f32, y: f32) -> V3 {
        Head::surface(self, x, y)
    }

    fn image_at(&self, cam: &Camera, x: f32, y: f32) -> Point {
        Head::image_at(self, cam, x, y)
    }

    fn age(&self) -> f32 {
        self.age
    }
}

/// Most bumps a head has (the row index is a byte).
const MAX_BUMPS: usize = 64;

/// The surface at one height: see [`Head::row`].
#[derive(Debug, Clone)]
pub(crate) struct Row {
    y: f32,
    w: f32,
    d: f32,
    bumps: [u8; MAX_BUMPS],
    count: usize,
}

impl Fold {
    fn for_side(act: &Activation, nose: &Nose, mouth: &Mouth, side: Side, age: f32) -> Fold {
        let s = sign(side);
        let a = act.side.get(side);
        let c = mouth.corner(side);
        Fold {
            a: [s * (nose.half_width + 2.5), nose.subnasale - 7.0],
            b: [c[0] + s * 5.5, c[1] + 9.0],
            height: a.fold * (1.0 + 5.0 * a.smile + 1.0 * a.cheek_raise + 1.8 * age),
            side: s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::identity::Patient;
    use super::*;
    use crate::FaceState;
    use screening::protocol::Expression;

    fn head(seed: u64, e: Expression) -> Head {
        let p = Patient::random(seed);
        Head::new(&p.identity, &Activation::new(&p, &FaceState::full(e)))
    }

    #[test]
    fn outline_is_smooth_and_closed() {
        let h = head(5, Expression::Rest);
        assert!(h.half_width(h.top_y) < 1.0 && h.half_width(h.chin_y) < 1.0);
        let mut prev = h.half_width(-20.0);
        for i in 1..200 {
            let y = -20.0 + i as f32 * 0.6;
            let w = h.half_width(y);
            assert!((w - prev).abs() < 2.0, "jump at {y}: {prev} -> {w}");
            prev = w;
        }
    }

    #[test]
    fn nose_stands_out_and_eyes_are_recessed() {
        for seed in 0..20 {
            let h = head(seed, Expression::Rest);
            let tip = h.front_z(0.0, h.nose.tip_y);
            let eye = h.front_z(h.eyes.left.centre[0], h.eyes.left.centre[1]);
            let cheek = h.front_z(0.5 * h.face_width, 25.0);
            assert!(tip > eye + 12.0, "seed {seed}: tip {tip} eye {eye}");
            assert!(eye > cheek - 5.0, "seed {seed}: eye {eye} cheek {cheek}");
            let side = h.front_z(0.97 * h.half_width(0.0), 0.0);
            assert!(side < eye - 30.0, "seed {seed}: side {side}");
        }
    }
}
