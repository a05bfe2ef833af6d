//! The eyebrow: a tapered arch above the eye, painted as a faint base tone
//! and many short hair strokes whose direction follows real brow growth
//! (upwards at the head, sideways along the body, down at the tail). Brow
//! elevation lifts it, squeezing pulls its head down and in, palsy drops its
//! tail.

use rand::Rng;
use tiny_skia::Pixmap;

use super::activation::Activation;
use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale};
use super::eye::Eye;
use super::identity::Identity;
use super::space::sign;
use super::surface::Surface;
use screening::geometry::{PerSide, Point, Side};

/// One brow in the head frame.
#[derive(Debug, Clone)]
pub(crate) struct Brow {
    side: Side,
    /// Medial and lateral ends of the brow's centre line, x.
    x0: f32,
    x1: f32,
    /// Centre-line height at the medial and lateral ends.
    y0: f32,
    y1: f32,
    arch: f32,
    thickness: f32,
    /// Vertical shift by muscles, per end (medial, lateral).
    lift: (f32, f32),
    /// Medial end pulled towards the midline.
    pull_in: f32,
}

impl Brow {
    /// The brow on `side` of `id` in the state `act`.
    pub fn new(id: &Identity, act: &Activation, eyes: &PerSide<Eye>, side: Side) -> Brow {
        let s = sign(side);
        let a = act.side.get(side);
        let eye = eyes.get(side);
        let asym = id.asymmetry.get(side);
        let raise = 8.5 * a.brow_raise;
        let lower = 3.5 * a.brow_lower;
        let droop = 3.5 * a.brow_droop;
        Brow {
            side,
            x0: eye.inner[0] + s * 1.0,
            x1: eye.outer[0] + s * 7.5,
            y0: -13.0,
            y1: -13.5,
            arch: id.brow_arch,
            thickness: id.brow_thickness,
            lift: (
                raise - lower * 1.2 - 0.4 * droop + asym.brow_height_mm,
                0.9 * raise - 0.6 * lower - droop + asym.brow_height_mm,
            ),
            pull_in: 3.0 * a.brow_lower,
        }
    }

    /// Centre line at `t` (0 medial .. 1 lateral) and the half-thickness there.
    pub fn centre(&self, t: f32) -> ([f32; 2], f32) {
        let s = sign(self.side);
        let x = self.x0 + (self.x1 - self.x0) * t - s * self.pull_in * (1.0 - t).powi(2);
        let arch = self.arch * (std::f32::consts::PI * t.powf(1.35)).sin();
        let lift = self.lift.0 + (self.lift.1 - self.lift.0) * t;
        let y = self.y0 + (self.y1 - self.y0) * t - arch - lift;
        // Thick rounded head, tapering tail.
        let half =
            0.5 * self.thickness * (5.6 - 4.0 * t.powf(1.2)) * (0.75 + 0.25 * (t * 12.0).min(1.0));
        ([x, y], half)
    }

    /// Mean height of the brow (for the forehead lines and lid fold).
    pub fn mid_y(&self) -> f32 {
        self.centre(0.5).0[1]
    }

    /// Top edge of the brow at `t`.
    pub fn top(&self, t: f32) -> [f32; 2] {
        let (c, h) = self.centre(t);
        [c[0], c[1] - h]
    }

    /// Paints the brow (tone and hairs) into the albedo.
    pub fn draw(
        &self,
        head: &impl Surface,
        cam: &Camera,
        albedo: &mut Pixmap,
        id: &Identity,
        rng: &mut impl Rng,
    ) {
        let px = cam.ppmm;
        let colour = rgb(id.brow_colour);
        let skin = rgb(id.skin);
        let s = sign(self.side);
        // Light brows on dark skin barely show, so keep contrast as hair does.
        let n = 16;
        let mut outline: Vec<Point> = Vec::with_capacity(2 * n + 2);
        for i in 0..=n {
            let (c, h) = self.centre(i as f32 / n as f32);
            outline.push(head.image_at(cam, c[0], c[1] - h * 0.85));
        }
        for i in (0..=n).rev() {
            let (c, h) = self.centre(i as f32 / n as f32);
            outline.push(head.image_at(cam, c[0], c[1] + h * 0.85));
        }
        canvas::fill(
            albedo,
            canvas::smooth(&outline, true).as_ref(),
            &canvas::solid(mix(skin, colour, 0.85), 0.5),
            None,
        );

        let count = (55.0 + 65.0 * self.thickness) as usize;
        for _ in 0..count {
            let t: f32 = rng.gen_range(0.0f32..1.0).powf(0.9);
            let v: f32 = rng.gen_range(-1.0f32..1.0);
            let (c, h) = self.centre(t);
            let root = [c[0], c[1] + v * h * 0.9];
            // Growth direction: up and slightly out at the head, out and a
            // little down along the body and tail; hairs from the lower edge
            // point more upwards so the brow converges on its centre line.
            let up = (1.0 - t / 0.25).clamp(0.0, 1.0);
            let ang = (-80.0f32 * up
                + (1.0 - up) * (-18.0 + 25.0 * t)
                + 14.0 * v
                + rng.gen_range(-10.0..10.0))
            .to_radians();
            let len = rng.gen_range(2.6..4.6) * (1.0 - 0.35 * t);
            let dir = [s * ang.cos(), ang.sin()];
            let tip = [root[0] + len * dir[0], root[1] + len * dir[1]];
            let mid = [
                root[0] + 0.5 * len * dir[0],
                root[1] + 0.5 * len * dir[1] - 0.25,
            ];
            let pts = [
                head.image_at(cam, root[0], root[1]),
                head.image_at(cam, mid[0], mid[1]),
                head.image_at(cam, tip[0], tip[1]),
            ];
            let shade = rng.gen_range(0.7..1.15);
            let alpha = rng.gen_range(0.55..0.95);
            let width = rng.gen_range(0.22..0.36) * px;
            canvas::hairline(albedo, &pts, scale(colour, shade), alpha, width);
        }
    }
}
