//! Neck, shoulders and clothing: the torso below the head, which turns only a
//! little with it, shaded as a cylinder with the jaw's shadow on the neck.

use rand::Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale};
use super::head::Head;
use super::identity::{Identity, Sex};
use screening::geometry::Point;

/// Paints neck, shoulders and top.
pub(crate) fn draw(
    head: &Head,
    cam: &Camera,
    pixmap: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    let skin = rgb(id.skin);
    let male = id.sex == Sex::Male;
    let nk = head.face_width * if male { 0.74 } else { 0.64 };
    let shoulder = if male { 215.0 } else { 190.0 };
    let z = -45.0;
    let p = |x: f32, y: f32| cam.project_body([x, y, z]);
    let side = |s: f32| -> Vec<[f32; 2]> {
        vec![
            [s * nk * 0.92, 20.0],
            [s * nk * 0.95, 80.0],
            [s * nk * 1.02, 128.0],
            [s * (nk + 30.0), 152.0],
            [s * (nk + 80.0), 168.0],
            [s * (shoulder - 25.0), 182.0],
            [s * shoulder, 215.0],
            [s * (shoulder + 12.0), 300.0],
            [s * (shoulder + 15.0), 700.0],
        ]
    };
    let mut outline: Vec<Point> = side(-1.0).iter().map(|q| p(q[0], q[1])).collect();
    outline.extend(side(1.0).iter().rev().map(|q| p(q[0], q[1])));
    let path = canvas::smooth(&outline, true);

    // Cylinder shading across the neck from the light's side, and the jaw's
    // shadow on the upper neck, computed per pixel over the whole torso.
    let (l, r) = (p(-nk, 100.0), p(nk, 100.0));
    let c = |nx: f32| {
        scale(
            skin,
            cam.shade_body([nx, 0.0, (1.0 - nx * nx).max(0.0).sqrt()]) * 0.92,
        )
    };
    let (cl, cm, cr) = (c(-0.85), c(0.0), c(0.85));
    let (top, bottom) = (p(0.0, head.chin_y - 25.0), p(0.0, head.chin_y + 32.0));
    if let Some(cov) = canvas::Coverage::of(path.as_ref(), pixmap.width(), pixmap.height()) {
        cov.paint(pixmap, |x, y| {
            let t = canvas::along(l, r, x, y);
            let base = if t < 0.5 {
                mix(cl, cm, 2.0 * t)
            } else {
                mix(cm, cr, 2.0 * t - 1.0)
            };
            let u = canvas::along(top, bottom, x, y);
            let shadow = if u < 0.55 {
                0.6 - 0.25 * u / 0.55
            } else {
                0.35 * (1.0 - (u - 0.55) / 0.45)
            };
            (mix(base, [0.05, 0.02, 0.02], shadow), 1.0)
        });
    }
    // Sternocleidomastoid and the notch between the collarbones.
    let notch = p(0.0, 150.0);
    let rx = 10.0 * cam.ppmm;
    let shader = canvas::radial(
        notch,
        rx,
        rx * 0.7,
        0.0,
        &[(0.0, scale(skin, 0.6), 0.35), (1.0, skin, 0.0)],
    );
    canvas::fill(
        pixmap,
        canvas::ellipse(notch, rx, rx * 0.7).as_ref(),
        &canvas::shaded(shader, skin),
        None,
    );

    // Clothing: crew or V neck, shaded from the light.
    let cloth = rgb(id.clothing);
    let v_neck = rng.gen_bool(0.4);
    let depth = if v_neck {
        rng.gen_range(190.0..215.0)
    } else {
        rng.gen_range(160.0..172.0)
    };
    let mut top_edge: Vec<[f32; 2]> = vec![
        [-(shoulder + 20.0), 218.0],
        [-(shoulder - 20.0), 182.0],
        [-(nk + 60.0), 162.0],
        [-(nk + 10.0), 150.0],
    ];
    if v_neck {
        top_edge.extend([[-(nk * 0.6), 168.0], [0.0, depth], [nk * 0.6, 168.0]]);
    } else {
        top_edge.extend([
            [-(nk * 0.7), depth - 6.0],
            [0.0, depth],
            [nk * 0.7, depth - 6.0],
        ]);
    }
    top_edge.extend([
        [nk + 10.0, 150.0],
        [nk + 60.0, 162.0],
        [shoulder - 20.0, 182.0],
        [shoulder + 20.0, 218.0],
    ]);
    let mut cloth_pts: Vec<Point> = top_edge.iter().map(|q| p(q[0], q[1])).collect();
    cloth_pts.push(p(shoulder + 30.0, 800.0));
    cloth_pts.push(p(-(shoulder + 30.0), 800.0));
    let edge: Vec<Point> = top_edge.iter().map(|q| p(q[0], q[1])).collect();
    let path = canvas::smooth(&cloth_pts, true);
    let lc = |nx: f32| scale(cloth, cam.shade_body([nx, -0.3, 0.9]));
    let (cl, cm, cr) = (lc(-0.7), lc(0.0), lc(0.7));
    let (a, b) = (p(-shoulder, 250.0), p(shoulder, 250.0));
    if let Some(cov) = canvas::Coverage::of(path.as_ref(), pixmap.width(), pixmap.height()) {
        cov.paint(pixmap, |x, y| {
            let t = canvas::along(a, b, x, y);
            (
                if t < 0.5 {
                    mix(cl, cm, 2.0 * t)
                } else {
                    mix(cm, cr, 2.0 * t - 1.0)
                },
                1.0,
            )
        });
    }
    canvas::stroke(
        pixmap,
        canvas::smooth(&edge, false).as_ref(),
        &canvas::solid(mix(scale(cloth, 0.6), [0.0; 3], 0.2), 0.8),
        2.5 * cam.ppmm,
        None,
    );
}
