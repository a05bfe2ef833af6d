//! Scalp hair in several styles: the volume around the skull (behind the
//! head), the hair on the scalp (painted into the albedo so the head's
//! relief shades it), and curtains and fringes that fall in front of the
//! face's sides without hiding eyes or brows. Strands give it texture.

use rand::Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale, Rgb};
use super::head::{sign, Head};
use super::identity::{HairStyle, Identity, Sex};
use crate::geometry::Point;

/// How far the hair stands off the skull at the top, millimetres.
fn thickness(style: HairStyle) -> f32 {
    match style {
        HairStyle::Bald => 0.0,
        HairStyle::Buzz => 1.5,
        HairStyle::Bun => 5.0,
        HairStyle::Receding => 6.0,
        HairStyle::Short => 10.0,
        HairStyle::Medium => 16.0,
        HairStyle::Long => 15.0,
    }
}

/// The hairline in the head frame, from the patient's right (negative x) to
/// their left.
pub(crate) fn hairline(head: &Head, id: &Identity) -> Vec<[f32; 2]> {
    let yh = -id.forehead_height;
    let male = id.sex == Sex::Male;
    let recess = match id.hair_style {
        HairStyle::Receding => 16.0,
        _ if male => 5.0,
        _ => 0.0,
    };
    let short = matches!(id.hair_style, HairStyle::Short | HairStyle::Buzz | HairStyle::Receding);
    let w = |y: f32| head.half_width(y);
    let half = |s: f32| -> Vec<[f32; 2]> {
        let mut v = vec![];
        if short && male {
            v.push([s * (w(14.0) - 0.5), 14.0]);
        }
        v.extend([
            [s * (w(-6.0) - 1.5), -6.0],
            [s * (w(-18.0) - 3.5), -18.0],
            [s * 0.8 * w(yh + 20.0), yh + 18.0 + recess],
            [s * 0.5 * w(yh), yh + 3.0 + 0.6 * recess],
        ]);
        v
    };
    let mut pts = half(-1.0);
    pts.push([0.0, yh + if id.hair_style == HairStyle::Receding { 7.0 } else { 0.0 }]);
    pts.extend(half(1.0).into_iter().rev());
    pts
}

fn hair_colours(id: &Identity) -> (Rgb, Rgb, Rgb) {
    let base = rgb(id.hair_colour);
    (base, scale(base, 0.55), mix(base, [1.0, 0.97, 0.9], 0.3))
}

/// The hair mass outline around the skull, from the patient's right at
/// `bottom` over the top to their left, in image pixels.
fn volume_outline(head: &Head, cam: &Camera, t: f32, bottom: f32, flare: f32) -> Vec<Point> {
    let wmax = head.half_width(-35.0);
    let mut pts = Vec::new();
    let outer = |y: f32| -> f32 {
        if y < -35.0 {
            head.half_width(y) + t
        } else {
            wmax + t + flare * ((y + 35.0) / 100.0).max(0.0).powf(1.3) * 40.0
        }
    };
    let n = 14;
    let ys: Vec<f32> = (0..=n).map(|k| bottom + (head.top_y - bottom) * (k as f32 / n as f32).powf(0.8)).collect();
    for &y in &ys {
        pts.push(cam.project([-outer(y), y, head.z_c]));
    }
    pts.push(cam.project([0.0, head.top_y - t, head.z_c]));
    for &y in ys.iter().rev() {
        pts.push(cam.project([outer(y), y, head.z_c]));
    }
    pts
}

/// Paints the hair behind the head: volume beyond the skull, long hair down
/// the back, a bun.
pub(crate) fn draw_back(head: &Head, cam: &Camera, pixmap: &mut Pixmap, id: &Identity, rng: &mut impl Rng) {
    let style = id.hair_style;
    if matches!(style, HairStyle::Bald | HairStyle::Buzz) {
        return;
    }
    let (base, dark, _) = hair_colours(id);
    let t = thickness(style);
    let (bottom, flare) = match style {
        HairStyle::Long => (head.chin_y + 85.0, 0.5),
        HairStyle::Medium => (head.chin_y - 55.0, 0.2),
        _ => (-8.0, 0.0),
    };
    let outline = volume_outline(head, cam, t, bottom, flare);
    let top = cam.project([0.0, head.top_y - t, head.z_c]);
    let lit = scale(base, cam.shade([0.0, -0.7, 0.7]));
    let r = (head.face_width + t) * cam.ppmm * 1.4;
    let shader = canvas::radial(top, r, r * 1.3, cam.roll(), &[(0.0, lit, 1.0), (0.55, scale(lit, 0.8), 1.0), (1.0, scale(dark, 0.8), 1.0)]);
    canvas::fill(pixmap, canvas::smooth(&outline, true).as_ref(), &canvas::shaded(shader, base), None);
    if style == HairStyle::Bun {
        let c = cam.project([0.0, head.top_y + 18.0, head.z_c - 45.0]);
        let rr = 24.0 * cam.ppmm;
        let shader = canvas::radial(Point::new(c.x, c.y - 0.3 * rr), rr * 1.2, rr * 1.2, 0.0, &[(0.0, lit, 1.0), (1.0, dark, 1.0)]);
        canvas::fill(pixmap, canvas::ellipse(c, rr, rr * 0.9).as_ref(), &canvas::shaded(shader, base), None);
    }
    strands_along(pixmap, cam, &outline, rng, base, 0.6 * t * cam.ppmm, 60);
}

/// Strands following an outline, a little inside it.
fn strands_along(pixmap: &mut Pixmap, cam: &Camera, outline: &[Point], rng: &mut impl Rng, base: Rgb, depth: f32, count: usize) {
    if outline.len() < 3 {
        return;
    }
    let centre = outline.iter().fold(Point::new(0.0, 0.0), |a, p| Point::new(a.x + p.x, a.y + p.y));
    let centre = Point::new(centre.x / outline.len() as f32, centre.y / outline.len() as f32);
    for _ in 0..count {
        let i = rng.gen_range(0..outline.len() - 2);
        let (a, b, c) = (outline[i], outline[i + 1], outline[i + 2]);
        let inset = rng.gen_range(0.1..1.0) * depth;
        let pull = |p: Point| {
            let (dx, dy) = (centre.x - p.x, centre.y - p.y);
            let d = (dx * dx + dy * dy).sqrt().max(1e-3);
            Point::new(p.x + dx / d * inset, p.y + dy / d * inset)
        };
        let pts = [pull(a), pull(b), pull(c)];
        let paint = canvas::solid(scale(base, rng.gen_range(0.55..1.25)), rng.gen_range(0.15..0.35));
        canvas::stroke(pixmap, canvas::smooth(&pts, false).as_ref(), &paint, rng.gen_range(0.3..0.7) * cam.ppmm, None);
    }
}

/// Paints scalp hair into the albedo, above the hairline.
pub(crate) fn draw_scalp(head: &Head, cam: &Camera, albedo: &mut Pixmap, id: &Identity, rng: &mut impl Rng) {
    if id.hair_style == HairStyle::Bald {
        return;
    }
    let (base, dark, sheen) = hair_colours(id);
    let line = hairline(head, id);
    let mut region: Vec<Point> = line.iter().map(|p| head.image_at(cam, p[0], p[1])).collect();
    let far = head.face_width * 1.6;
    for p in [[far, line[line.len() - 1][1] + 10.0], [far, head.top_y - 60.0], [-far, head.top_y - 60.0], [-far, line[0][1] + 10.0]] {
        region.push(cam.project([p[0], p[1], head.z_c]));
    }
    let alpha = match id.hair_style {
        HairStyle::Buzz => 0.55,
        HairStyle::Receding => 0.85,
        _ => 1.0,
    };
    let path = canvas::smooth(&region, true);
    canvas::fill(albedo, path.as_ref(), &canvas::solid(scale(base, 0.9), alpha), None);
    // Soften the hairline: a few millimetres of sparse hair into the forehead.
    let edge: Vec<Point> = line.iter().map(|p| head.image_at(cam, p[0], p[1] + 1.0)).collect();
    canvas::stroke(albedo, canvas::smooth(&edge, false).as_ref(), &canvas::solid(base, 0.3 * alpha), 2.5 * cam.ppmm, None);

    // Strands from the hairline back towards the crown.
    let crown = [0.0, head.top_y + 25.0];
    let count = match id.hair_style {
        HairStyle::Buzz => 0,
        HairStyle::Receding => 90,
        _ => 160,
    };
    for _ in 0..count {
        let k = rng.gen_range(0..line.len() - 1);
        let f = rng.gen_range(0.0..1.0);
        let h = [line[k][0] + (line[k + 1][0] - line[k][0]) * f, line[k][1] + (line[k + 1][1] - line[k][1]) * f];
        let start = rng.gen_range(0.0..0.25);
        let end = rng.gen_range(0.55..0.95);
        let bend = rng.gen_range(-6.0..6.0);
        let at = |u: f32| [h[0] + (crown[0] - h[0]) * u + bend * (u * std::f32::consts::PI).sin(), h[1] + (crown[1] - h[1]) * u];
        let pts: Vec<Point> = [start, 0.5 * (start + end), end].iter().map(|&u| { let p = at(u); head.image_at(cam, p[0], p[1]) }).collect();
        let c = if rng.gen_bool(0.25) { sheen } else { scale(base, rng.gen_range(0.55..1.15)) };
        canvas::stroke(albedo, canvas::smooth(&pts, false).as_ref(), &canvas::solid(c, rng.gen_range(0.2..0.45) * alpha), rng.gen_range(0.3..0.6) * cam.ppmm, None);
    }
    if id.hair_style == HairStyle::Buzz {
        // Clipped hair: a fine stipple over the scalp.
        for _ in 0..260 {
            let x = rng.gen_range(-1.0..1.0) * head.face_width;
            let y = rng.gen_range(head.top_y..line[line.len() / 2][1] + 30.0);
            if y > -12.0 || head.half_width(y) < x.abs() + 2.0 {
                continue;
            }
            let a = head.image_at(cam, x, y);
            let b = head.image_at(cam, x + rng.gen_range(-0.6..0.6), y - 1.2);
            canvas::stroke(albedo, canvas::poly(&[a, b], false).as_ref(), &canvas::solid(dark, 0.4), 0.3 * cam.ppmm, None);
        }
    }
}

/// Paints hair in front of the face: side curtains and fringes.
pub(crate) fn draw_front(head: &Head, cam: &Camera, pixmap: &mut Pixmap, id: &Identity, rng: &mut impl Rng) {
    let (base, dark, sheen) = hair_colours(id);
    let t = thickness(id.hair_style);
    let end = match id.hair_style {
        HairStyle::Long => Some(head.chin_y + 70.0),
        HairStyle::Medium => Some(head.chin_y - 50.0),
        _ => None,
    };
    let line = hairline(head, id);
    if let Some(end) = end {
        for s in [-1.0f32, 1.0] {
            // Inner edge: from the temple down beside the face; outer edge:
            // the hair mass's outline.
            let inner_top = if s < 0.0 { line[1] } else { line[line.len() - 2] };
            let mut pts: Vec<Point> = Vec::new();
            let ys: Vec<f32> = (0..=10).map(|k| inner_top[1] + (end - inner_top[1]) * k as f32 / 10.0).collect();
            for &y in &ys {
                let w = head.half_width(y.min(head.chin_y - 20.0));
                let inset = 9.0 * (1.0 - ((y - inner_top[1]) / 80.0).clamp(0.0, 1.0)) + 2.0;
                let x = s * (w - inset).max(0.55 * head.face_width);
                let z = if y < head.chin_y - 20.0 { head.front_z(x, y) + 2.0 } else { head.z_c + 30.0 };
                pts.push(cam.project([x, y, z]));
            }
            let wmax = head.half_width(-35.0);
            for &y in ys.iter().rev() {
                let flare = ((y + 35.0) / 100.0).max(0.0).powf(1.3) * 40.0 * if end > head.chin_y { 0.5 } else { 0.2 };
                pts.push(cam.project([s * (wmax + t + flare), y, head.z_c + 20.0]));
            }
            let path = canvas::smooth(&pts, true);
            let n = [s * 0.5, -0.1, 0.85];
            let lit = scale(base, cam.shade(n));
            let top = pts[0];
            let bottom = pts[10];
            let shader = canvas::linear(top, bottom, &[(0.0, lit, 1.0), (0.7, scale(lit, 0.85), 1.0), (1.0, scale(dark, 0.9), 1.0)]);
            canvas::fill(pixmap, path.as_ref(), &canvas::shaded(shader, base), None);
            // Shadow the hair throws on the cheek beside it.
            canvas::stroke(pixmap, canvas::smooth(&pts[..=10], false).as_ref(), &canvas::solid([0.0; 3], 0.12), 2.5 * cam.ppmm, None);
            for _ in 0..45 {
                let k = rng.gen_range(0..10);
                let f = rng.gen_range(0.0..1.0);
                let a = pts[k];
                let b = pts[pts.len() - 1 - k];
                let p0 = Point::new(a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f);
                let k2 = (k + rng.gen_range(2..5)).min(10);
                let a2 = pts[k2];
                let b2 = pts[pts.len() - 1 - k2];
                let p1 = Point::new(a2.x + (b2.x - a2.x) * f, a2.y + (b2.y - a2.y) * f);
                let c = if rng.gen_bool(0.2) { sheen } else { scale(base, rng.gen_range(0.5..1.2)) };
                canvas::stroke(pixmap, canvas::poly(&[p0, p1], false).as_ref(), &canvas::solid(c, 0.3), rng.gen_range(0.3..0.7) * cam.ppmm, None);
            }
        }
    }
    if id.fringe && id.hair_style != HairStyle::Bald {
        // A fringe ending a few millimetres above the brows.
        let brow_top = head.brows.left.top(0.4)[1].min(head.brows.right.top(0.4)[1]);
        let lowest = brow_top - 6.0;
        let span = 0.72 * head.face_width;
        let mut pts: Vec<Point> = Vec::new();
        let n = 12;
        for k in 0..=n {
            let x = -span + 2.0 * span * k as f32 / n as f32;
            let wave = if k % 2 == 0 { 0.0 } else { -3.0 };
            let y = lowest + wave + 10.0 * (x / span).powi(2);
            pts.push(cam.project([x, y, head.front_z(x, y) + 3.0]));
        }
        for k in (0..=n).rev() {
            let x = -span * 1.1 + 2.2 * span * k as f32 / n as f32;
            let y = -id.forehead_height - 8.0;
            pts.push(cam.project([x, y, head.front_z(x, y) + 6.0]));
        }
        let lit = scale(base, cam.shade([0.0, -0.2, 1.0]));
        let shader = canvas::linear(pts[3 * n / 2], pts[n / 2], &[(0.0, lit, 1.0), (1.0, scale(lit, 0.75), 1.0)]);
        canvas::fill(pixmap, canvas::smooth(&pts, true).as_ref(), &canvas::shaded(shader, base), None);
        for _ in 0..50 {
            let x = rng.gen_range(-span..span);
            let y0 = -id.forehead_height - 6.0;
            let y1 = lowest + 10.0 * (x / span).powi(2) - rng.gen_range(0.0..3.0);
            let a = cam.project([x, y0, head.front_z(x, y0) + 6.0]);
            let b = cam.project([x + rng.gen_range(-3.0..3.0), y1, head.front_z(x, y1) + 3.0]);
            let c = if rng.gen_bool(0.2) { sheen } else { scale(base, rng.gen_range(0.5..1.2)) };
            canvas::stroke(pixmap, canvas::poly(&[a, b], false).as_ref(), &canvas::solid(c, 0.35), rng.gen_range(0.3..0.6) * cam.ppmm, None);
        }
    }
    let _ = sign;
}
