//! Facial hair: stubble (a fine, partly transparent stipple) or a full beard
//! and moustache over jaw, chin and upper lip, leaving the lips visible.

use rand::Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{rgb, scale};
use super::head::Head;
use super::identity::Identity;
use screening::geometry::{Point, Side};

/// Paints the beard into the albedo (before the lips, which go on top).
pub(crate) fn draw(
    head: &Head,
    cam: &Camera,
    albedo: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    if !id.beard {
        return;
    }
    let density = id.beard_density.clamp(0.05, 1.0);
    let hair = rgb(id.hair_colour);
    let px = cam.ppmm;
    let m = &head.mouth;
    let (cr, cl) = (m.corner(Side::Right), m.corner(Side::Left));
    let sn = head.nose.subnasale;
    let w = |y: f32| head.half_width(y);
    // Outline: sideburn, down the cheek line to beside the moustache, across
    // under the nose, and mirrored; then round under the jaw.
    let upper: Vec<[f32; 2]> = vec![
        [-(w(10.0) - 1.0), 10.0],
        [-(w(25.0) - 8.0), 28.0],
        [cr[0] - 10.0, cr[1] - 8.0],
        [cr[0] - 2.0, sn + 3.0],
        [0.0, sn + 1.5],
        [cl[0] + 2.0, sn + 3.0],
        [cl[0] + 10.0, cl[1] - 8.0],
        [w(25.0) - 8.0, 28.0],
        [w(10.0) - 1.0, 10.0],
    ];
    let mut pts: Vec<Point> = upper
        .iter()
        .map(|p| head.image_at(cam, p[0], p[1]))
        .collect();
    let far = head.face_width * 1.2;
    for p in [
        [far, 10.0],
        [far, head.chin_y + 12.0],
        [-far, head.chin_y + 12.0],
        [-far, 10.0],
    ] {
        pts.push(cam.project([p[0], p[1], head.z_c + 20.0]));
    }
    let alpha = 0.25 + 0.65 * density;
    canvas::fill(
        albedo,
        canvas::smooth(&pts, true).as_ref(),
        &canvas::solid(scale(hair, 0.95), alpha),
        None,
    );
    // Texture: short hairs, denser for a full beard.
    let count = (80.0 + 260.0 * density) as usize;
    let len = 0.8 + 3.5 * density;
    for _ in 0..count {
        let x = rng.gen_range(-1.0..1.0) * head.face_width;
        let y = rng.gen_range(sn..head.chin_y);
        if head.half_width(y) < x.abs() + 1.0 {
            continue;
        }
        // Keep off the cheeks above the beard line.
        if y < 30.0 + 0.5 * x.abs() - 10.0 && y > sn + 6.0 {
            continue;
        }
        let a = head.image_at(cam, x, y);
        let b = head.image_at(cam, x + 0.3 * x.signum() * len, y + len);
        let c = scale(hair, rng.gen_range(0.5..1.3));
        let width = rng.gen_range(0.25..0.45) * px;
        canvas::hairline(albedo, &[a, b], c, 0.35, width);
    }
}
