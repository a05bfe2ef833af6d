//! Thin-framed glasses: two rims a little in front of the eyes, a bridge over
//! the nose and temples running back to the ears, with a faint lens tint and
//! reflection that leave the eyes visible.

use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::rgb;
use super::head::{sign, Head};
use super::identity::Identity;
use screening::geometry::{Point, Side};

/// Paints the glasses over the finished face.
pub(crate) fn draw(head: &Head, cam: &Camera, pixmap: &mut Pixmap, id: &Identity) {
    if !id.glasses {
        return;
    }
    let frame = rgb(id.frame_colour);
    let px = cam.ppmm;
    let half_w = 0.37 * id.eye_spacing + 1.5;
    let half_h = 0.64 * half_w;
    let mut inner_tops = Vec::new();
    for side in Side::BOTH {
        let s = sign(side);
        let e = head.eyes.get(side).centre;
        let (cx, cy) = (e[0] + s * 1.5, e[1] + 1.0);
        let z = head.front_z(e[0], e[1]) + 13.0;
        // A rounded rectangle (superellipse) rim.
        let rim: Vec<Point> = (0..32)
            .map(|k| {
                let a = k as f32 / 32.0 * std::f32::consts::TAU;
                let (c, sn) = (a.cos(), a.sin());
                let x = cx + half_w * c.signum() * c.abs().powf(0.6);
                let y = cy
                    + half_h
                        * sn.signum()
                        * sn.abs().powf(0.6)
                        * if sn > 0.0 { 1.05 } else { 0.95 };
                cam.project([x, y, z - 2.0 * (c * c)])
            })
            .collect();
        let path = canvas::smooth(&rim, true);
        canvas::fill(
            pixmap,
            path.as_ref(),
            &canvas::solid([0.85, 0.9, 0.95], 0.06),
            None,
        );
        // A soft reflection of the room in the lens's upper part.
        let glint = cam.project([cx - half_w * 0.35, cy - half_h * 0.45, z]);
        let r = 0.45 * half_w * px;
        canvas::spot(pixmap, glint, r, 0.6 * r, -0.5 + cam.roll(), [1.0; 3], 0.06);
        canvas::stroke(
            pixmap,
            path.as_ref(),
            &canvas::solid(frame, 0.95),
            1.3 * px,
            None,
        );
        inner_tops.push(cam.project([cx - s * half_w * 0.95, cy - half_h * 0.45, z]));
        // Temple arm from the rim's outer edge back towards the ear.
        let start = cam.project([cx + s * half_w, cy - half_h * 0.5, z - 2.0]);
        let end_y = cy - 3.0;
        let end = cam.project([s * (head.half_width(end_y) + 3.0), end_y, head.z_c + 10.0]);
        canvas::stroke(
            pixmap,
            canvas::poly(&[start, end], false).as_ref(),
            &canvas::solid(frame, 0.9),
            1.2 * px,
            None,
        );
    }
    if let [a, b] = inner_tops[..] {
        let mid_z = head.front_z(0.0, -2.0) + 6.0;
        let mid = cam.project([0.0, -4.0, mid_z]);
        canvas::stroke(
            pixmap,
            canvas::smooth(&[a, mid, b], false).as_ref(),
            &canvas::solid(frame, 0.95),
            1.3 * px,
            None,
        );
    }
}
