//! The ears: a helix rim, concha and lobule laid on a plane that flares out
//! from the side of the head, so turning the head shows one ear more and
//! hides the other behind the cheek.

use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale};
use super::head::{sign, Head};
use super::identity::Identity;
use screening::geometry::{Point, Side};

/// Ear outline in ear coordinates: `(back, y)`, back = millimetres behind
/// the attachment line, y relative to the ear top, for a 62 mm ear.
const HELIX: [(f32, f32); 11] = [
    (0.0, 10.0),
    (6.0, 2.0),
    (16.0, 0.0),
    (26.0, 5.0),
    (31.0, 17.0),
    (30.0, 32.0),
    (25.0, 44.0),
    (18.0, 54.0),
    (11.0, 62.0),
    (4.0, 60.0),
    (0.0, 52.0),
];

const CONCHA: [(f32, f32); 7] = [
    (3.0, 22.0),
    (10.0, 16.0),
    (18.0, 20.0),
    (20.0, 32.0),
    (15.0, 43.0),
    (7.0, 45.0),
    (2.0, 38.0),
];

/// Paints both ears (before the head, which then covers what it hides).
pub(crate) fn draw(head: &Head, cam: &Camera, pixmap: &mut Pixmap, id: &Identity) {
    let skin = mix(rgb(id.skin), [0.85, 0.45, 0.42], 0.08);
    for side in Side::BOTH {
        let s = sign(side);
        let size = id.ear_size;
        let top = 14.0 - 31.0 * size;
        let flare = 28f32.to_radians();
        let dir = [s * flare.sin(), -flare.cos()];
        let at = |b: f32, y: f32| -> [f32; 3] {
            let yy = top + y * size;
            let x = s * (head.half_width(yy.clamp(-30.0, 60.0)) - 3.0);
            [
                x + b * size * dir[0],
                yy,
                head.z_c + 8.0 + b * size * dir[1],
            ]
        };
        let outline: Vec<Point> = HELIX.iter().map(|&(b, y)| cam.project(at(b, y))).collect();
        let concha: Vec<Point> = CONCHA.iter().map(|&(b, y)| cam.project(at(b, y))).collect();
        // The ear faces outwards and forwards.
        let n = [s * flare.cos(), 0.0, flare.sin()];
        let lit = scale(skin, cam.shade(n));
        let root = cam.project(at(0.0, 30.0));
        let rim = cam.project(at(30.0, 30.0));
        let shader = canvas::linear(
            root,
            rim,
            &[
                (0.0, scale(lit, 0.7), 1.0),
                (0.6, lit, 1.0),
                (1.0, scale(lit, 1.05), 1.0),
            ],
        );
        canvas::fill(
            pixmap,
            canvas::smooth(&outline, true).as_ref(),
            &canvas::shaded(shader, lit),
            None,
        );
        canvas::fill(
            pixmap,
            canvas::smooth(&concha, true).as_ref(),
            &canvas::solid(scale(lit, 0.62), 0.85),
            None,
        );
        // Helix rim catches light; antihelix fold.
        let helix_rim: Vec<Point> = HELIX[1..8]
            .iter()
            .map(|&(b, y)| cam.project(at(b - 2.0, y + 1.5)))
            .collect();
        canvas::stroke(
            pixmap,
            canvas::smooth(&helix_rim, false).as_ref(),
            &canvas::solid(scale(lit, 0.75), 0.7),
            1.3 * cam.ppmm,
            None,
        );
        let anti: Vec<Point> = [(12.0, 8.0), (22.0, 14.0), (23.0, 30.0), (17.0, 44.0)]
            .iter()
            .map(|&(b, y)| cam.project(at(b, y)))
            .collect();
        canvas::stroke(
            pixmap,
            canvas::smooth(&anti, false).as_ref(),
            &canvas::solid(scale(lit, 1.1), 0.5),
            1.6 * cam.ppmm,
            None,
        );
    }
}
