//! The nose: a ridge from the nasion to a rounded tip, nostril wings, and the
//! dark nostrils and alar creases painted on top. Its relief makes the
//! strongest shading cue of a frontal face.

use super::camera::Camera;
use super::canvas;
use super::colour::{mix, scale, Rgb};
use super::identity::Identity;
use super::space::{smoothstep, Bump};
use super::surface::Surface;
use screening::geometry::{Point, Side};
use tiny_skia::Pixmap;

/// Nose geometry in the head frame (millimetres).
#[derive(Debug, Clone)]
pub(crate) struct Nose {
    /// Nasion height (top of the ridge).
    pub nasion_y: f32,
    /// Height of the tip (pronasale).
    pub tip_y: f32,
    /// Height of the subnasale, where the nose meets the upper lip.
    pub subnasale: f32,
    /// How far the tip stands out, millimetres.
    pub projection: f32,
    /// Half the width across the nostril wings.
    pub half_width: f32,
    tip: Bump,
    wings: [Bump; 2],
}

impl Nose {
    /// The nose of `id`.
    pub fn new(id: &Identity) -> Nose {
        let sn = id.nose_length;
        let tip_y = sn - 6.5;
        let p = id.nose_projection * 0.85;
        let hw = id.nose_width;
        Nose {
            nasion_y: -4.0,
            tip_y,
            subnasale: sn,
            projection: p,
            half_width: hw,
            tip: Bump::new(0.0, tip_y + 0.5, 5.5, 4.5, 0.14 * p),
            wings: [
                Bump::new(0.74 * hw, sn - 4.5, 4.6, 4.2, 0.33 * p),
                Bump::new(-0.74 * hw, sn - 4.5, 4.6, 4.2, 0.33 * p),
            ],
        }
    }

    /// Height of the nose above the face at `(x, y)`.
    pub fn height(&self, x: f32, y: f32) -> f32 {
        if y < self.nasion_y - 12.0 || y > self.subnasale + 6.0 || x.abs() > 30.0 {
            return 0.0;
        }
        let u = ((y - self.nasion_y) / (self.tip_y - self.nasion_y)).clamp(0.0, 1.0);
        let (ridge, sigma) = if y <= self.tip_y {
            let start = smoothstep(self.nasion_y - 12.0, self.nasion_y + 2.0, y);
            (
                self.projection * (0.16 + 0.84 * u.powf(1.6)) * start,
                5.8 + 1.8 * u,
            )
        } else {
            let d = (y - self.tip_y) / 3.6;
            (self.projection * (-d * d).exp(), 7.6)
        };
        let cross = (-(x * x) / (2.0 * sigma * sigma)).exp();
        ridge * cross + self.tip.at(x, y) + self.wings[0].at(x, y) + self.wings[1].at(x, y)
    }

    /// Paints nostrils, alar creases and the columella shadow into the albedo.
    pub fn draw(&self, head: &impl Surface, cam: &Camera, albedo: &mut Pixmap, skin: Rgb) {
        let px = cam.ppmm;
        let dark = mix(scale(skin, 0.3), [0.18, 0.06, 0.05], 0.3);
        let crease = scale(skin, 0.55);
        for side in Side::BOTH {
            let s = super::space::sign(side);
            let hw = self.half_width;
            let sn = self.subnasale;
            // Nostril: a dark teardrop under the tip, seen from the front as a
            // crescent between the columella and the wing.
            let nostril: Vec<Point> = [
                (0.24, -1.6),
                (0.37, -2.3),
                (0.54, -2.3),
                (0.62, -1.7),
                (0.53, -1.1),
                (0.34, -1.0),
            ]
            .iter()
            .map(|&(fx, dy)| cam.project(head.surface(s * fx * hw, sn + dy)))
            .collect();
            let paint = canvas::solid(dark, 0.5);
            canvas::fill(
                albedo,
                canvas::smooth(&nostril, true).as_ref(),
                &paint,
                None,
            );
            // Alar crease: where the wing meets the cheek.
            let wing: Vec<Point> = [
                (0.62, -9.5),
                (0.92, -7.5),
                (1.04, -4.5),
                (0.98, -1.8),
                (0.8, -0.6),
            ]
            .iter()
            .map(|&(fx, dy)| cam.project(head.surface(s * fx * hw, sn + dy)))
            .collect();
            let paint = canvas::solid(crease, 0.45);
            canvas::stroke(
                albedo,
                canvas::smooth(&wing, false).as_ref(),
                &paint,
                0.9 * px,
                None,
            );
        }
        // Soft shadow of the columella base onto the lip.
        let c = cam.project(head.surface(0.0, self.subnasale + 0.6));
        let shader = canvas::radial(
            c,
            5.0 * px,
            1.6 * px,
            cam.roll(),
            &[(0.0, scale(skin, 0.6), 0.45), (1.0, skin, 0.0)],
        );
        let paint = canvas::shaded(shader, skin);
        canvas::fill(
            albedo,
            canvas::ellipse(c, 5.0 * px, 1.6 * px).as_ref(),
            &paint,
            None,
        );
    }
}
