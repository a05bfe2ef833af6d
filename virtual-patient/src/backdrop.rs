//! The background behind the patient: a plain wall, a studio gradient or a
//! clinic room, lit from the scene's light with a vignette and the patient's
//! soft shadow on the wall.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{rgb, scale, Rgb};
use super::scene::{Background, Scene};
use screening::geometry::Point;

/// Paints the background of `scene` over the whole pixmap.
pub(crate) fn draw(scene: &Scene, cam: &Camera, pixmap: &mut Pixmap) {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    match scene.background {
        Background::Plain { colour } => pixmap.fill(canvas::colour(rgb(colour), 1.0)),
        Background::Gradient { top, bottom } => {
            let (a, b) = (rgb(top), rgb(bottom));
            for (y, row) in pixmap.data_mut().chunks_exact_mut(w * 4).enumerate() {
                let t = y as f32 / (h.max(2) - 1) as f32;
                let c = [
                    a[0] + (b[0] - a[0]) * t,
                    a[1] + (b[1] - a[1]) * t,
                    a[2] + (b[2] - a[2]) * t,
                ];
                let px = [to_byte(c[0]), to_byte(c[1]), to_byte(c[2]), 255];
                for p in row.chunks_exact_mut(4) {
                    p.copy_from_slice(&px);
                }
            }
        }
        Background::Clinic { wall, trim, layout } => clinic(pixmap, rgb(wall), rgb(trim), layout),
    }
    light(scene, cam, pixmap);
}

fn to_byte(v: f32) -> u8 {
    (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
}

/// The key light brightens the wall on its side, the corners fall off, and
/// the patient throws a soft shadow on the wall away from the light. One
/// multiplicative pass, computed directly because it covers every pixel.
fn light(scene: &Scene, cam: &Camera, pixmap: &mut Pixmap) {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let (wf, hf) = (w as f32, h as f32);
    let l = cam.light.dir;
    let (lx, ly) = (wf * (0.5 + 0.35 * l[0]), hf * (0.35 + 0.3 * l[1]));
    let inv_r = 1.0 / (wf.max(hf) * 0.95);
    let head = cam.project_body([0.0, 20.0, -200.0]);
    let off = 55.0 * cam.ppmm;
    let (sx, sy) = (head.x - l[0] * off, head.y - l[1] * off * 0.6);
    let (inv_rx, inv_ry) = (
        1.0 / (95.0 * cam.ppmm).max(1.0),
        1.0 / (140.0 * cam.ppmm).max(1.0),
    );
    let shadow = 0.16 * (1.0 - scene.ambient);
    // Brightness as a function of the squared distance from the light's
    // spot, tabulated: a square root per pixel is the loop's main cost.
    const STEPS: usize = 512;
    const MAX_T2: f32 = 4.0;
    let falloff: Vec<f32> = (0..=STEPS)
        .map(|i| {
            let t = (i as f32 / STEPS as f32 * MAX_T2).sqrt();
            1.0 + 0.12 * (1.0 - 2.0 * t).max(0.0) - 0.28 * ((t - 0.75) * 4.0).clamp(0.0, 1.0)
        })
        .collect();
    let scale_t2 = STEPS as f32 / MAX_T2;
    // The factor changes by well under a grey level per pixel, so it is
    // evaluated on every fourth column and applied in fixed point.
    let mut factors = vec![0u32; w];
    for (y, row) in pixmap.data_mut().chunks_exact_mut(w * 4).enumerate() {
        let fy = y as f32 + 0.5;
        let (dy, ey) = ((fy - ly) * inv_r, (fy - sy) * inv_ry);
        let (dy2, ey2) = (dy * dy, ey * ey);
        for x in (0..w).step_by(4) {
            let fx = x as f32 + 2.0;
            let dx = (fx - lx) * inv_r;
            let t2 = dx * dx + dy2;
            let mut f = falloff[((t2 * scale_t2) as usize).min(STEPS)];
            if ey2 < 1.0 {
                let ex = (fx - sx) * inv_rx;
                let e2 = ex * ex + ey2;
                if e2 < 1.0 {
                    let k = 1.0 - e2;
                    f *= 1.0 - shadow * k * k;
                }
            }
            let fixed = (f * 256.0) as u32;
            for v in factors.iter_mut().skip(x).take(4) {
                *v = fixed;
            }
        }
        for (p, &f) in row.chunks_exact_mut(4).zip(&factors) {
            p[0] = ((u32::from(p[0]) * f + 128) >> 8).min(255) as u8;
            p[1] = ((u32::from(p[1]) * f + 128) >> 8).min(255) as u8;
            p[2] = ((u32::from(p[2]) * f + 128) >> 8).min(255) as u8;
        }
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Option<tiny_skia::Path> {
    canvas::poly(
        &[
            Point::new(x, y),
            Point::new(x + w, y),
            Point::new(x + w, y + h),
            Point::new(x, y + h),
        ],
        true,
    )
}

/// A clinic wall with a door or cabinet, a wall panel and a dado rail,
/// placed by `layout`.
fn clinic(pixmap: &mut Pixmap, wall: Rgb, trim: Rgb, layout: u32) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let mut r = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(u64::from(layout));
    canvas::fill(
        pixmap,
        rect(0.0, 0.0, w, h).as_ref(),
        &canvas::solid(wall, 1.0),
        None,
    );
    // Lower wall and rail.
    let rail = h * r.gen_range(0.62..0.8);
    canvas::fill(
        pixmap,
        rect(0.0, rail, w, h - rail).as_ref(),
        &canvas::solid(scale(wall, 0.88), 1.0),
        None,
    );
    canvas::fill(
        pixmap,
        rect(0.0, rail - 0.012 * h, w, 0.02 * h).as_ref(),
        &canvas::solid(trim, 1.0),
        None,
    );
    // A door frame on one side.
    let left = r.gen_bool(0.5);
    let dw = w * r.gen_range(0.18..0.28);
    let dx = if left {
        w * r.gen_range(-0.05..0.06)
    } else {
        w - dw - w * r.gen_range(-0.05..0.06)
    };
    let top = h * r.gen_range(0.02..0.15);
    canvas::fill(
        pixmap,
        rect(dx, top, dw, h).as_ref(),
        &canvas::solid(scale(trim, 0.92), 1.0),
        None,
    );
    canvas::fill(
        pixmap,
        rect(dx + 0.02 * w, top + 0.02 * w, dw - 0.04 * w, h).as_ref(),
        &canvas::solid(scale(trim, 0.8), 1.0),
        None,
    );
    let knob = Point::new(
        if left {
            dx + dw - 0.05 * w
        } else {
            dx + 0.05 * w
        },
        h * 0.62,
    );
    canvas::fill(
        pixmap,
        canvas::ellipse(knob, 0.008 * w, 0.008 * w).as_ref(),
        &canvas::solid([0.75, 0.72, 0.6], 1.0),
        None,
    );
    // A chart or notice board on the other side.
    if r.gen_bool(0.7) {
        let pw = w * r.gen_range(0.1..0.18);
        let ph = pw * r.gen_range(1.2..1.45);
        let px = if left {
            w * r.gen_range(0.78..0.86)
        } else {
            w * r.gen_range(0.03..0.1)
        };
        let py = h * r.gen_range(0.08..0.25);
        canvas::fill(
            pixmap,
            rect(px, py, pw, ph).as_ref(),
            &canvas::solid([0.95, 0.95, 0.93], 1.0),
            None,
        );
        let ink = canvas::solid([0.25, 0.3, 0.4], 0.55);
        for k in 0..7 {
            let ly = py + ph * (0.12 + 0.11 * k as f32);
            let lw = pw * (0.8 - 0.09 * k as f32);
            canvas::fill(
                pixmap,
                rect(px + 0.5 * (pw - lw), ly, lw, ph * 0.035).as_ref(),
                &ink,
                None,
            );
        }
    }
}
