//! Scalp hair in several styles. The hair mass is painted in front of the
//! head with the face cut out of it along the hairline (or fringe) and down
//! the face's sides, so it frames the face and covers ears where the style
//! does; hair hanging behind the neck and a bun go behind the head; the
//! scalp under the hair is also painted into the albedo so short and
//! clipped hair take the head's relief. Strands give it texture.

use rand::Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas::{self, Coverage};
use super::colour::{mix, rgb, scale, Rgb};
use super::head::Head;
use super::identity::{HairStyle, Identity, Sex};
use screening::geometry::Point;

/// How far the hair stands off the skull at the top, millimetres.
fn thickness(style: HairStyle) -> f32 {
    match style {
        HairStyle::Bald => 0.0,
        HairStyle::Buzz => 1.5,
        HairStyle::Bun => 5.0,
        HairStyle::Receding => 6.0,
        HairStyle::Short => 10.0,
        HairStyle::Medium => 15.0,
        HairStyle::Long => 14.0,
    }
}

/// Lowest point of the hair at the sides (head frame y) and how much the
/// mass widens below the temples.
fn extent(head: &Head, style: HairStyle) -> (f32, f32) {
    match style {
        HairStyle::Long => (head.chin_y + 90.0, 0.5),
        HairStyle::Medium => (head.chin_y - 45.0, 0.05),
        _ => (-14.0, 0.0),
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
    let short = matches!(
        id.hair_style,
        HairStyle::Short | HairStyle::Buzz | HairStyle::Receding
    );
    let w = |y: f32| head.half_width(y);
    let half = |s: f32| -> Vec<[f32; 2]> {
        let mut v = vec![];
        if short && male {
            v.push([s * (w(14.0) - 0.5), 14.0]);
        }
        v.extend([
            [s * (w(-6.0) - 1.5), -6.0],
            [s * (w(-18.0) - 3.5), -18.0],
            [s * (w(yh + 30.0) - 7.0), yh + 24.0 + 0.6 * recess],
            [s * 0.74 * w(yh), yh + 8.0 + recess],
            [s * 0.42 * w(yh), yh + 2.0 + 0.5 * recess],
        ]);
        v
    };
    let mut pts = half(-1.0);
    pts.push([
        0.0,
        yh + if id.hair_style == HairStyle::Receding {
            7.0
        } else {
            0.0
        },
    ]);
    pts.extend(half(1.0).into_iter().rev());
    pts
}

fn hair_colours(id: &Identity) -> (Rgb, Rgb, Rgb) {
    let base = rgb(id.hair_colour);
    (base, scale(base, 0.5), mix(base, [1.0, 0.97, 0.9], 0.28))
}

/// Outer half-width of the hair mass at height `y`.
fn outer(head: &Head, t: f32, flare: f32, y: f32) -> f32 {
    head.half_width(-35.0) + 0.6 * t + flare * ((y + 35.0) / 100.0).max(0.0).powf(1.3) * 40.0
}

/// The hair mass outline, from the patient's right at `bottom` over the top
/// to their left, in image pixels.
fn volume_outline(head: &Head, cam: &Camera, t: f32, bottom: f32, flare: f32) -> Vec<Point> {
    // Straight sides from the bottom up to the skull's widest line, then an
    // elliptical arc over the top.
    let side_top = -35.0f32;
    let n = 10;
    let ys: Vec<f32> = (0..n)
        .map(|k| bottom + (side_top - bottom) * k as f32 / n as f32)
        .collect();
    let r = outer(head, t, flare, side_top);
    let v = side_top - (head.top_y - t);
    let arc = 14;
    let mut half: Vec<[f32; 2]> = ys.iter().map(|&y| [outer(head, t, flare, y), y]).collect();
    for k in 0..arc {
        let phi = std::f32::consts::FRAC_PI_2 * k as f32 / arc as f32;
        half.push([r * phi.cos(), side_top - v * phi.sin()]);
    }
    let mut pts: Vec<Point> = half
        .iter()
        .map(|p| cam.project([-p[0], p[1], head.z_c]))
        .collect();
    pts.push(cam.project([0.0, head.top_y - t, head.z_c]));
    pts.extend(
        half.iter()
            .rev()
            .map(|p| cam.project([p[0], p[1], head.z_c])),
    );
    pts
}

/// Paints the hair behind the head: long hair hanging behind the neck, a bun.
pub(crate) fn draw_back(
    head: &Head,
    cam: &Camera,
    pixmap: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    let style = id.hair_style;
    let (_, dark, _) = hair_colours(id);
    let base = rgb(id.hair_colour);
    let lit = scale(base, cam.shade([0.0, -0.7, 0.7]));
    if matches!(style, HairStyle::Medium | HairStyle::Long) {
        let (bottom, flare) = extent(head, style);
        let outline = volume_outline(head, cam, thickness(style), bottom, flare);
        canvas::fill(
            pixmap,
            canvas::smooth_capped(&outline).as_ref(),
            &canvas::solid(scale(dark, 0.8), 1.0),
            None,
        );
    }
    if style == HairStyle::Bun {
        let c = cam.project([0.0, head.top_y + 18.0, head.z_c - 45.0]);
        let rr = 24.0 * cam.ppmm;
        let shader = canvas::radial(
            Point::new(c.x, c.y - 0.3 * rr),
            rr * 1.2,
            rr * 1.2,
            0.0,
            &[(0.0, lit, 1.0), (1.0, dark, 1.0)],
        );
        canvas::fill(
            pixmap,
            canvas::ellipse(c, rr, rr * 0.9).as_ref(),
            &canvas::shaded(shader, base),
            None,
        );
        for _ in 0..25 {
            let a: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
            let p0 = Point::new(c.x + 0.3 * rr * a.cos(), c.y + 0.3 * rr * a.sin());
            let p1 = Point::new(
                c.x + 0.9 * rr * (a + 0.6).cos(),
                c.y + 0.8 * rr * (a + 0.6).sin(),
            );
            let c = scale(base, rng.gen_range(0.6..1.2));
            canvas::hairline(pixmap, &[p0, p1], c, 0.3, 0.5 * cam.ppmm);
        }
    }
}

/// Paints scalp hair into the albedo, above the hairline.
pub(crate) fn draw_scalp(
    head: &Head,
    cam: &Camera,
    albedo: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    if id.hair_style == HairStyle::Bald {
        return;
    }
    let (base, dark, sheen) = hair_colours(id);
    let line = hairline(head, id);
    let mut region: Vec<Point> = line
        .iter()
        .map(|p| head.image_at(cam, p[0], p[1]))
        .collect();
    let far = head.face_width * 1.6;
    for p in [
        [far, line[line.len() - 1][1] + 10.0],
        [far, head.top_y - 60.0],
        [-far, head.top_y - 60.0],
        [-far, line[0][1] + 10.0],
    ] {
        region.push(cam.project([p[0], p[1], head.z_c]));
    }
    let alpha = match id.hair_style {
        HairStyle::Buzz => 0.55,
        HairStyle::Receding => 0.85,
        _ => 1.0,
    };
    let path = canvas::smooth(&region, true);
    canvas::fill(
        albedo,
        path.as_ref(),
        &canvas::solid(scale(base, 0.9), alpha),
        None,
    );
    // Soften the hairline: a few millimetres of sparse hair into the forehead.
    let edge: Vec<Point> = line
        .iter()
        .map(|p| head.image_at(cam, p[0], p[1] + 1.0))
        .collect();
    canvas::stroke(
        albedo,
        canvas::smooth(&edge, false).as_ref(),
        &canvas::solid(base, 0.3 * alpha),
        2.5 * cam.ppmm,
        None,
    );

    // Strands from the hairline back over the scalp, combed away from the face.
    let count = match id.hair_style {
        HairStyle::Buzz => 0,
        HairStyle::Receding => 100,
        _ => 200,
    };
    for _ in 0..count {
        let k = rng.gen_range(0..line.len() - 1);
        let f = rng.gen_range(0.0..1.0);
        let h = [
            line[k][0] + (line[k + 1][0] - line[k][0]) * f,
            line[k][1] + (line[k + 1][1] - line[k][1]) * f,
        ];
        let w = head.half_width(h[1]).max(1.0);
        let out = h[0] / w;
        let dir = [1.1 * out, -(1.0 - 0.6 * out.abs())];
        let n = (dir[0] * dir[0] + dir[1] * dir[1]).sqrt().max(1e-3);
        let dir = [dir[0] / n, dir[1] / n];
        let start = rng.gen_range(0.5..4.0);
        let len = rng.gen_range(25.0..60.0);
        let bend = rng.gen_range(-0.25..0.25);
        let at = |u: f32| {
            let d = start + u * len;
            [
                h[0] + d * (dir[0] - bend * dir[1] * u),
                h[1] + d * (dir[1] + bend * dir[0] * u),
            ]
        };
        let pts: Vec<Point> = [0.0, 0.5, 1.0]
            .iter()
            .map(|&u| {
                let p = at(u);
                head.image_at(cam, p[0], p[1])
            })
            .collect();
        let c = if rng.gen_bool(0.25) {
            sheen
        } else {
            scale(base, rng.gen_range(0.55..1.15))
        };
        let a = rng.gen_range(0.2..0.45) * alpha;
        let width = rng.gen_range(0.3..0.6) * cam.ppmm;
        canvas::hairline(albedo, &pts, c, a, width);
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
            canvas::hairline(albedo, &[a, b], dark, 0.4, 0.3 * cam.ppmm);
        }
    }
}

/// The edge of the face opening in the hair, head frame, from the bottom on
/// the patient's right, up the face's side, along the hairline (or fringe)
/// and down the other side.
fn opening(head: &Head, id: &Identity) -> Vec<[f32; 3]> {
    let line = hairline(head, id);
    let style = id.hair_style;
    let (end, _) = extent(head, style);
    let w = |y: f32| head.half_width(y.min(head.chin_y - 25.0));
    let mut pts: Vec<[f32; 3]> = Vec::new();
    let on = |x: f32, y: f32, lift: f32| [x, y, head.front_z(x, y) + lift];
    let side = |s: f32| -> Vec<[f32; 3]> {
        // Down the face's side, top to bottom.
        let mut v = Vec::new();
        if matches!(style, HairStyle::Medium | HairStyle::Long) {
            for &(y, inset) in &[(-6.0f32, 6.0f32), (12.0, 5.5), (35.0, 4.5), (55.0, 3.0)] {
                if y < end {
                    v.push(on(s * (w(y) - inset), y, 1.5));
                }
            }
            let jaw = head.chin_y - 30.0;
            let k = 5;
            for i in 1..=k {
                let y = 55.0 + (end + 20.0 - 55.0) * i as f32 / k as f32;
                let spread = if end > head.chin_y {
                    0.1 * (y - 55.0).max(0.0)
                } else {
                    0.0
                };
                v.push([s * (w(jaw) + 4.0 + spread), y, head.z_c + 50.0]);
            }
        } else {
            // Short styles: the opening leaves the ears free.
            v.push([s * (head.face_width * 1.6), 10.0, head.z_c]);
            v.push([s * (head.face_width * 1.6), 80.0, head.z_c]);
        }
        v
    };
    // Patient's right side, bottom up.
    let mut right = side(-1.0);
    right.reverse();
    pts.extend(right);
    let fringe = id.fringe;
    let brow_top = head.brows.left.top(0.4)[1].min(head.brows.right.top(0.4)[1]);
    for p in &line {
        let mut y = p[1];
        if fringe && p[0].abs() < 0.75 * head.face_width {
            // The fringe ends a few millimetres above the brows.
            let u = p[0] / (0.75 * head.face_width);
            y = y.max(brow_top - 6.0 + 6.0 * u * u);
        }
        pts.push(on(p[0], y, 2.0));
    }
    pts.extend(side(1.0));
    pts
}

/// Paints the hair mass in front of the face, with the face cut out.
pub(crate) fn draw_front(
    head: &Head,
    cam: &Camera,
    pixmap: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    let style = id.hair_style;
    if matches!(style, HairStyle::Bald | HairStyle::Buzz) {
        return;
    }
    let (base, dark, sheen) = hair_colours(id);
    let t = thickness(style);
    let (bottom, flare) = extent(head, style);
    let outline = volume_outline(head, cam, t, bottom, flare);
    let hole3 = opening(head, id);
    let hole: Vec<Point> = hole3.iter().map(|p| cam.project(*p)).collect();
    let (w, h) = (pixmap.width(), pixmap.height());
    let hole_path = canvas::smooth(&hole, true);
    let outer_path = canvas::smooth_capped(&outline);
    let Some(outer) = Coverage::of(outer_path.as_ref(), w, h) else {
        return;
    };
    let mut hair = outer.clone();
    // The face inside the hair's outline, which the hair shades.
    let face = Coverage::of(hole_path.as_ref(), w, h).map(|mut face| {
        hair.subtract(&face);
        face.intersect(&outer);
        face
    });

    // Lit from above and from the key light's side; darker at the ends: an
    // elliptical radial gradient, computed per pixel.
    let top = cam.project([0.0, head.top_y - t, head.z_c + 40.0]);
    let lit = scale(base, cam.shade([0.0, -0.6, 0.8]));
    let r = (head.face_width + t) * cam.ppmm * 1.5;
    let light = cam.light.dir;
    let centre = Point::new(top.x + light[0] * r * 0.3, top.y + r * 0.25);
    let (sin, cos) = (-cam.roll()).sin_cos();
    let stops = [
        (0.0, lit),
        (0.5, scale(lit, 0.85)),
        (0.85, scale(lit, 0.6)),
        (1.0, scale(dark, 0.9)),
    ];
    let table: Vec<[f32; 3]> = (0..=64)
        .map(|i| {
            let t = i as f32 / 64.0;
            let k = stops
                .windows(2)
                .position(|s| t <= s[1].0)
                .unwrap_or(stops.len() - 2);
            let (a, b) = (stops[k], stops[k + 1]);
            mix(a.1, b.1, (t - a.0) / (b.0 - a.0))
        })
        .collect();
    let inv_r = 1.0 / r.max(1.0);
    hair.paint(pixmap, |x, y| {
        let (dx, dy) = (x - centre.x, y - centre.y);
        let (u, v) = (dx * cos - dy * sin, (dx * sin + dy * cos) * (1.0 / 1.35));
        let t = ((u * u + v * v).sqrt() * inv_r).min(1.0);
        // A sheen band arcs over the crown, above the gradient's centre.
        let band = (t - 0.42) * 12.0;
        let above = (-v * inv_r * 3.0).clamp(0.0, 1.0);
        let glow = 0.16 * above * (-band * band).exp();
        (mix(table[(t * 64.0) as usize], sheen, glow), 1.0)
    });

    // Strands: parallel to the outline near the outside and to the opening
    // near the face.
    let px = cam.ppmm;
    let face_centre = cam.project([0.0, 30.0, 0.0]);
    // Along the opening only where it borders the face, not its far
    // construction points.
    let face_edge: Vec<Point> = hole3
        .iter()
        .zip(&hole)
        .filter(|(h3, _)| {
            h3[0].abs() < 1.2 * head.face_width && h3[1] < head.chin_y.min(bottom - 4.0)
        })
        .map(|(_, p)| *p)
        .collect();
    for (edge, count, depth, sign) in [
        (&outline, 160usize, 0.8 * t, 1.0f32),
        (&face_edge, 120, 6.0, -1.0),
    ] {
        if edge.len() < 6 {
            continue;
        }
        for _ in 0..count {
            // Not the cut ends at the outline's bottom.
            let i = rng.gen_range(1..edge.len() - 4);
            let inset = sign * rng.gen_range(0.0..1.0) * depth * px;
            let pts: Vec<Point> = edge[i..i + 3]
                .iter()
                .map(|p| toward(*p, face_centre, inset))
                .collect();
            let c = if rng.gen_bool(0.22) {
                sheen
            } else {
                scale(base, rng.gen_range(0.5..1.2))
            };
            let a = rng.gen_range(0.15..0.35);
            let width = rng.gen_range(0.3..0.7) * px;
            canvas::hairline(pixmap, &pts, c, a, width);
        }
    }
    // The hair's soft shadow on the forehead and cheeks beside it.
    if let Some(face) = &face {
        if let Some(mut layer) = face.layer() {
            let o = face.origin();
            // Only the edge along the face casts it, not the opening's far
            // construction points.
            let edge: Vec<Point> = hole3
                .iter()
                .zip(&hole)
                .filter(|(h3, _)| h3[0].abs() < 1.2 * head.face_width && h3[1] < head.chin_y)
                .map(|(_, p)| Point::new(p.x - o.x, p.y - o.y))
                .collect();
            let path = canvas::smooth(&edge, false);
            let shade = canvas::solid([0.0; 3], 0.12);
            canvas::stroke(&mut layer, path.as_ref(), &shade, 5.0 * px, None);
            canvas::stroke(&mut layer, path.as_ref(), &shade, 2.0 * px, None);
            face.composite(pixmap, &layer);
        }
    }
}

/// `p` moved `by` pixels towards `centre` (away from it when negative).
fn toward(p: Point, centre: Point, by: f32) -> Point {
    let (dx, dy) = (centre.x - p.x, centre.y - p.y);
    let d = (dx * dx + dy * dy).sqrt().max(1e-3);
    Point::new(p.x + dx / d * by, p.y + dy / d * by)
}
