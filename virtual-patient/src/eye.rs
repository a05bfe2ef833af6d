//! The eye: canthi, upper and lower lid margins whose opening is the
//! palpebral fissure, and what shows through it (sclera, iris with limbal
//! ring, pupil, corneal highlight), plus lashes, lid crease, under-eye shadow
//! and crow's feet. The lid margins are the ground truth of the aperture.

use rand::Rng;
use tiny_skia::Pixmap;

use super::activation::Activation;
use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale, Rgb};
use super::identity::{Identity, Sex};
use super::space::sign;
use super::surface::Surface;
use screening::geometry::{Point, Side};

/// One eye's geometry in the head frame (millimetres, `[x, y]`).
#[derive(Debug, Clone)]
pub(crate) struct Eye {
    /// Which eye.
    pub side: Side,
    /// Midpoint of the canthi.
    pub centre: [f32; 2],
    /// Medial canthus.
    pub inner: [f32; 2],
    /// Lateral canthus.
    pub outer: [f32; 2],
    /// Canthus to canthus.
    pub width: f32,
    /// Upper lid margin height above the closure line at its peak.
    up: f32,
    /// Lower lid margin depth below the closure line at its peak.
    low: f32,
    /// Rest fissure height (for the crease and the iris position).
    rest: f32,
    /// Iris radius.
    pub iris_r: f32,
    /// Orbicularis squeeze (wrinkles) and cheek push.
    squeeze: f32,
    cheek: f32,
}

fn upper_shape(t: f32) -> f32 {
    (std::f32::consts::PI * t.clamp(0.0, 1.0).powf(0.85))
        .sin()
        .max(0.0)
        .powf(0.8)
}

fn lower_shape(t: f32) -> f32 {
    (std::f32::consts::PI * t.clamp(0.0, 1.0).powf(1.2))
        .sin()
        .max(0.0)
        .powf(0.9)
}

/// Samples along a lid margin, enough for smooth curves.
const SAMPLES: usize = 14;

impl Eye {
    /// The eye on `side` of `id` in the state `act`.
    pub fn new(id: &Identity, act: &Activation, side: Side) -> Eye {
        let s = sign(side);
        let a = act.side.get(side);
        let asym = id.asymmetry.get(side);
        let width = id.eye_width * asym.eye_size;
        let cx = s * id.eye_spacing * 0.5;
        let rise = 0.5 * width * id.canthal_tilt.to_radians().tan();
        let rest = id.eye_opening * asym.eye_size;
        let aperture = rest * a.aperture;
        let low_share = a.lower_lid_share.clamp(0.0, 0.9);
        Eye {
            side,
            centre: [cx, 0.0],
            inner: [cx - s * width * 0.5, rise],
            outer: [cx + s * width * 0.5, -rise],
            width,
            up: aperture * (1.0 - low_share),
            low: aperture * low_share,
            rest,
            iris_r: 5.9 * width / 30.0,
            squeeze: a.squeeze,
            cheek: a.cheek_raise,
        }
    }

    /// The canthal line at `t` (0 = inner canthus, 1 = outer).
    fn base(&self, t: f32) -> [f32; 2] {
        [
            self.inner[0] + (self.outer[0] - self.inner[0]) * t,
            self.inner[1] + (self.outer[1] - self.inner[1]) * t,
        ]
    }

    /// Where the lids meet when closed: a line sagging slightly below the
    /// canthi, more when squeezed.
    fn closure(&self, t: f32) -> [f32; 2] {
        let b = self.base(t);
        [
            b[0],
            b[1] + (0.8 + 0.8 * self.squeeze) * (std::f32::consts::PI * t).sin(),
        ]
    }

    /// Upper lid margin at `t`.
    pub fn upper(&self, t: f32) -> [f32; 2] {
        let k = self.closure(t);
        [k[0], k[1] - self.up * upper_shape(t)]
    }

    /// Lower lid margin at `t`.
    pub fn lower(&self, t: f32) -> [f32; 2] {
        let k = self.closure(t);
        [k[0], k[1] + self.low * lower_shape(t)]
    }

    /// Whether the head-frame point `p` lies inside the open fissure.
    fn shows(&self, p: [f32; 2]) -> bool {
        let t = (p[0] - self.inner[0]) / (self.outer[0] - self.inner[0]);
        (0.0..=1.0).contains(&t) && p[1] > self.upper(t)[1] + 0.2 && p[1] < self.lower(t)[1] - 0.2
    }

    /// Whether any of the eyeball shows.
    pub fn is_open(&self) -> bool {
        self.up + self.low > 0.2
    }

    /// Centre of the iris: looking at the camera, so it shifts in the head as
    /// the head turns.
    pub fn iris_centre(&self, cam: &Camera) -> [f32; 2] {
        let to_cam = cam.unrotate([0.0, 0.0, 1.0]);
        let k = self.closure(0.5);
        [
            k[0] + 11.0 * to_cam[0] - sign(self.side) * 0.4,
            k[1] - 0.2 * self.rest + 0.4 + 11.0 * to_cam[1],
        ]
    }

    /// The corneal reflection of the key light, if the fissure shows it:
    /// `(centre, radius)` in image pixels.
    pub fn highlight(&self, head: &impl Surface, cam: &Camera) -> Option<(Point, f32)> {
        if self.up + self.low < 1.5 {
            return None;
        }
        let l = cam.unrotate(cam.light.dir);
        let c = self.iris_centre(cam);
        let p = [c[0] + 2.6 * l[0], c[1] + 2.6 * l[1]];
        let t = ((p[0] - self.inner[0]) / (self.outer[0] - self.inner[0])).clamp(0.0, 1.0);
        let (u, d) = (self.upper(t)[1], self.lower(t)[1]);
        if p[1] < u + 0.6 || p[1] > d - 0.4 {
            return None;
        }
        let z = head.front_z(p[0], p[1]) + 1.0;
        Some((cam.project([p[0], p[1], z]), 0.65 * cam.ppmm))
    }

    fn image(
        &self,
        head: &impl Surface,
        cam: &Camera,
        f: impl Fn(&Eye, f32) -> [f32; 2],
        t0: f32,
        t1: f32,
        n: usize,
    ) -> Vec<Point> {
        (0..=n)
            .map(|i| {
                let t = t0 + (t1 - t0) * i as f32 / n as f32;
                let p = f(self, t);
                head.image_at(cam, p[0], p[1])
            })
            .collect()
    }

    /// Paints the eye and its surrounding skin marks into the albedo.
    pub fn draw(
        &self,
        head: &impl Surface,
        cam: &Camera,
        albedo: &mut Pixmap,
        id: &Identity,
        rng: &mut impl Rng,
    ) {
        let px = cam.ppmm;
        let skin = rgb(id.skin);
        let lash = mix(scale(rgb(id.brow_colour), 0.45), [0.05, 0.04, 0.035], 0.6);
        let s = sign(self.side);
        let dark_skin = scale(skin, 0.62);

        // Upper-lid crease, and the slightly darker lid skin below it. It sits
        // at a fixed height above the open lid and flattens as the lid closes.
        let open = ((self.up + self.low) / self.rest.max(1e-3)).clamp(0.0, 1.2);
        let gap = 2.6 + 1.2 * (1.0 - head.age()) + 1.5 * open;
        let crease = |e: &Eye, t: f32| {
            let k = e.closure(t);
            [
                k[0],
                k[1] - (e.rest * 0.7 * open.min(1.0) + gap) * upper_shape(t) - 0.3,
            ]
        };
        let crease_pts = self.image(head, cam, crease, 0.06, 0.97, SAMPLES);
        let mut lid: Vec<Point> = crease_pts.clone();
        lid.extend(
            self.image(head, cam, Eye::upper, 0.0, 1.0, SAMPLES)
                .into_iter()
                .rev(),
        );
        canvas::fill(
            albedo,
            canvas::smooth(&lid, true).as_ref(),
            &canvas::solid(mix(skin, [0.45, 0.3, 0.3], 0.18), 0.15),
            None,
        );
        canvas::stroke(
            albedo,
            canvas::smooth(&crease_pts, false).as_ref(),
            &canvas::solid(dark_skin, 0.22 + 0.2 * open.min(1.0)),
            0.9 * px,
            None,
        );

        // Under-eye shadow (tear trough), deeper with age.
        let trough = self.image(
            head,
            cam,
            |e, t| {
                let l = e.lower(t);
                [l[0], l[1] + 2.6 + 0.8 * head.age()]
            },
            0.05,
            0.95,
            SAMPLES,
        );
        canvas::stroke(
            albedo,
            canvas::smooth(&trough, false).as_ref(),
            &canvas::solid(dark_skin, 0.1 + 0.2 * head.age()),
            2.4 * px,
            None,
        );

        // A squint bunches the lower lid into a roll with a fold below it.
        if self.cheek > 0.05 {
            let roll = self.image(
                head,
                cam,
                |e, t| {
                    let l = e.lower(t);
                    [l[0], l[1] + 2.2]
                },
                0.12,
                0.92,
                SAMPLES,
            );
            canvas::stroke(
                albedo,
                canvas::smooth(&roll, false).as_ref(),
                &canvas::solid(dark_skin, 0.3 * self.cheek.min(1.0)),
                0.8 * px,
                None,
            );
        }

        // Crow's feet: squeeze, smile and age fold the skin at the outer canthus.
        let crow = 0.12 * head.age() + 0.45 * self.squeeze + 0.2 * self.cheek;
        if crow > 0.04 {
            for k in 0..3 {
                let kf = k as f32;
                let start = [self.outer[0] + s * 3.5, self.outer[1] - 2.5 + 2.8 * kf];
                let pts = [
                    start,
                    [start[0] + s * 5.0, start[1] - 1.5 + 1.2 * kf],
                    [start[0] + s * (10.0 + 1.5 * kf), start[1] - 3.0 + 3.2 * kf],
                ];
                let img: Vec<Point> = pts.iter().map(|p| head.image_at(cam, p[0], p[1])).collect();
                canvas::stroke(
                    albedo,
                    canvas::smooth(&img, false).as_ref(),
                    &canvas::solid(dark_skin, crow.min(0.6)),
                    0.55 * px,
                    None,
                );
            }
        }

        let upper = self.image(head, cam, Eye::upper, 0.0, 1.0, SAMPLES);
        if self.is_open() {
            let lower = self.image(head, cam, Eye::lower, 0.0, 1.0, SAMPLES);
            let mut fissure = upper.clone();
            fissure.extend(lower.iter().rev().skip(1).take(SAMPLES - 1));
            let path = canvas::smooth(&fissure, true);
            let mask = canvas::mask(albedo.width(), albedo.height(), path.as_ref());
            let mask = mask.as_ref();

            // Sclera: white, greyer and pinker towards the corners.
            let ic = self.iris_centre(cam);
            let centre = head.image_at(cam, ic[0], ic[1]);
            let sclera: Rgb = [0.93, 0.9, 0.87];
            let shader = canvas::radial(
                centre,
                0.55 * self.width * px,
                0.55 * self.width * px,
                0.0,
                &[
                    (0.0, sclera, 1.0),
                    (0.6, scale(sclera, 0.93), 1.0),
                    (1.0, mix(scale(sclera, 0.8), [0.8, 0.5, 0.45], 0.3), 1.0),
                ],
            );
            canvas::fill(albedo, path.as_ref(), &canvas::shaded(shader, sclera), None);
            // Caruncle at the inner corner.
            let car = self.base(0.06);
            let c = head.image_at(cam, car[0], car[1] + 0.2);
            canvas::fill(
                albedo,
                canvas::ellipse(c, 1.5 * px, 1.1 * px).as_ref(),
                &canvas::solid([0.82, 0.52, 0.5], 0.8),
                mask,
            );

            // Iris with a dark limbal ring, lighter collarette and striations.
            let iris = rgb(id.iris_colour);
            let z = |x: f32, y: f32| head.front_z(x, y) - 0.3;
            let ring: Vec<Point> = (0..20)
                .map(|i| {
                    let a = i as f32 / 20.0 * std::f32::consts::TAU;
                    let (x, y) = (ic[0] + self.iris_r * a.cos(), ic[1] + self.iris_r * a.sin());
                    cam.project([x, y, z(x, y)])
                })
                .collect();
            let r_px = self.iris_r * px;
            let shader = canvas::radial(
                centre,
                r_px,
                r_px,
                0.0,
                &[
                    (0.0, scale(iris, 0.35), 1.0),
                    (0.3, scale(iris, 0.75), 1.0),
                    (0.5, scale(iris, 1.15), 1.0),
                    (0.82, scale(iris, 0.85), 1.0),
                    (0.93, scale(iris, 0.45), 1.0),
                    (1.0, scale(iris, 0.3), 1.0),
                ],
            );
            canvas::fill(
                albedo,
                canvas::smooth(&ring, true).as_ref(),
                &canvas::shaded(shader, iris),
                mask,
            );
            let fibre_light = mix(iris, [0.9, 0.85, 0.7], 0.35);
            let fibre_dark = scale(iris, 0.5);
            for i in 0..28 {
                let a = i as f32 / 28.0 * std::f32::consts::TAU + rng.gen_range(-0.08..0.08);
                let (r0, r1) = (self.iris_r * 0.38, self.iris_r * rng.gen_range(0.75..0.95));
                let p0 = [ic[0] + r0 * a.cos(), ic[1] + r0 * a.sin()];
                let p1 = [ic[0] + r1 * a.cos(), ic[1] + r1 * a.sin()];
                let line = [
                    cam.project([p0[0], p0[1], z(p0[0], p0[1])]),
                    cam.project([p1[0], p1[1], z(p1[0], p1[1])]),
                ];
                // Only fibres the lids leave uncovered (the splatted line
                // cannot be clipped by the fissure mask).
                if !(self.shows(p0) && self.shows(p1)) {
                    continue;
                }
                let colour = if i % 2 == 0 { fibre_light } else { fibre_dark };
                canvas::hairline(albedo, &line, colour, 0.25, 0.35 * px);
            }
            // Pupil.
            let pr = self.iris_r * 0.36;
            let pupil: Vec<Point> = (0..14)
                .map(|i| {
                    let a = i as f32 / 14.0 * std::f32::consts::TAU;
                    let (x, y) = (ic[0] + pr * a.cos(), ic[1] + pr * a.sin());
                    cam.project([x, y, z(x, y)])
                })
                .collect();
            canvas::fill(
                albedo,
                canvas::smooth(&pupil, true).as_ref(),
                &canvas::solid([0.03, 0.025, 0.025], 1.0),
                mask,
            );

            // The upper lid and lashes shade the top of the eyeball.
            canvas::stroke(
                albedo,
                canvas::smooth(&upper, false).as_ref(),
                &canvas::solid([0.1, 0.07, 0.06], 0.28),
                3.6 * px,
                mask,
            );
            canvas::stroke(
                albedo,
                canvas::smooth(&upper, false).as_ref(),
                &canvas::solid([0.1, 0.07, 0.06], 0.3),
                1.7 * px,
                mask,
            );

            // Lower lid: moist rim, then a faint lash line below it.
            let rim = self.image(head, cam, Eye::lower, 0.08, 0.96, SAMPLES);
            canvas::stroke(
                albedo,
                canvas::smooth(&rim, false).as_ref(),
                &canvas::solid(mix(skin, [0.85, 0.55, 0.52], 0.5), 0.7),
                0.7 * px,
                None,
            );
            let lash_low = self.image(
                head,
                cam,
                |e, t| {
                    let l = e.lower(t);
                    [l[0], l[1] + 0.55]
                },
                0.15,
                0.97,
                SAMPLES,
            );
            canvas::stroke(
                albedo,
                canvas::smooth(&lash_low, false).as_ref(),
                &canvas::solid(lash, 0.35),
                0.45 * px,
                None,
            );
        }

        // Upper lash line: thin at the inner corner, thick towards the outer.
        let closed = 1.0 - open.min(1.0);
        let line = canvas::solid(lash, 0.92);
        canvas::stroke(
            albedo,
            canvas::smooth(&upper, false).as_ref(),
            &line,
            (0.5 + 0.3 * closed) * px,
            None,
        );
        let outer_part = self.image(
            head,
            cam,
            |e, t| {
                let u = e.upper(t);
                [u[0], u[1] - 0.2]
            },
            0.3,
            1.02,
            SAMPLES,
        );
        canvas::stroke(
            albedo,
            canvas::smooth(&outer_part, false).as_ref(),
            &line,
            0.8 * px,
            None,
        );

        // Lashes curl up and out from an open lid and hang down from a closed one.
        let long = if id.sex == Sex::Female { 1.25 } else { 1.0 };
        for i in 0..24 {
            let t = 0.12 + 0.86 * (i as f32 + rng.gen_range(0.0..0.8)) / 24.0;
            let root = self.upper(t);
            let len =
                long * (2.0 + 2.2 * (std::f32::consts::PI * t).sin()) * rng.gen_range(0.8..1.1);
            let out = s * (0.2 + 0.9 * t);
            let dir = if closed > 0.85 {
                [out * 0.6, 1.0]
            } else {
                [out, -1.0 + 0.8 * closed]
            };
            let n = (dir[0] * dir[0] + dir[1] * dir[1]).sqrt();
            let tip = [root[0] + len * dir[0] / n, root[1] + len * dir[1] / n];
            let mid = [
                root[0] + 0.5 * len * dir[0] / n,
                root[1] + 0.5 * len * dir[1] / n - 0.2 * len,
            ];
            let zr = head.front_z(root[0], root[1]);
            let pts = [
                cam.project([root[0], root[1], zr]),
                cam.project([mid[0], mid[1], zr + 0.8 * len]),
                cam.project([tip[0], tip[1], zr + 1.2 * len]),
            ];
            canvas::hairline(albedo, &pts, lash, 0.7, 0.22 * px);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::identity::Patient;
    use super::*;
    use crate::FaceState;
    use screening::protocol::Expression;

    #[test]
    fn lids_meet_when_closed_and_open_at_rest() {
        let p = Patient::with_condition(11, crate::Condition::Healthy);
        let rest = Activation::new(&p, &FaceState::full(Expression::Rest));
        let shut = Activation::new(&p, &FaceState::full(Expression::TightEyeClosure));
        let open = Eye::new(&p.identity, &rest, Side::Left);
        let closed = Eye::new(&p.identity, &shut, Side::Left);
        let gap = |e: &Eye| e.lower(0.5)[1] - e.upper(0.5)[1];
        assert!(
            (gap(&open) - p.identity.eye_opening).abs() < 1.5,
            "{}",
            gap(&open)
        );
        assert_eq!(gap(&closed), 0.0);
        assert!(
            open.outer[0] > open.inner[0],
            "left eye: outer canthus further left (larger x)"
        );
    }
}
