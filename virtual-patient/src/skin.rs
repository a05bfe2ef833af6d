//! Skin detail painted into the albedo: uneven tone (rosy cheeks and nose,
//! darker around the eyes on dark skin), freckles and moles, and the lines
//! that expressions and age fold into the skin: forehead lines when the
//! brows rise, frown lines, nasolabial creases.

use rand::Rng;
use tiny_skia::Pixmap;

use super::camera::Camera;
use super::canvas;
use super::colour::{mix, rgb, scale, Rgb};
use super::head::{sign, Head};
use super::identity::Identity;
use screening::geometry::{Point, Side};

fn blotch(albedo: &mut Pixmap, c: Point, rx: f32, ry: f32, colour: Rgb, alpha: f32, angle: f32) {
    canvas::spot(albedo, c, rx, ry, angle, colour, alpha);
}

/// Tone variation, freckles and moles.
pub(crate) fn draw_tone(
    head: &Head,
    cam: &Camera,
    albedo: &mut Pixmap,
    id: &Identity,
    rng: &mut impl Rng,
) {
    let px = cam.ppmm;
    let skin = rgb(id.skin);
    let fair = (1.0 - f32::from(id.fitzpatrick - 1) / 5.0).clamp(0.0, 1.0);
    let red = mix(skin, [0.85, 0.35, 0.35], 0.5);
    let roll = cam.roll();
    for side in Side::BOTH {
        let s = sign(side);
        let c = head.image_at(cam, s * 0.45 * head.face_width, 24.0);
        blotch(
            albedo,
            c,
            22.0 * px,
            16.0 * px,
            red,
            0.06 + 0.14 * fair,
            roll,
        );
        // Periorbital darkening, stronger on darker skin.
        let e = head.eyes.get(side).centre;
        let c = head.image_at(cam, e[0], e[1] + 1.0);
        blotch(
            albedo,
            c,
            17.0 * px,
            11.0 * px,
            scale(skin, 0.7),
            0.1 + 0.18 * (1.0 - fair),
            roll,
        );
    }
    let nose = head.image_at(cam, 0.0, head.nose.tip_y);
    blotch(
        albedo,
        nose,
        9.0 * px,
        8.0 * px,
        red,
        0.05 + 0.12 * fair,
        roll,
    );
    let forehead = head.image_at(cam, 0.0, -40.0);
    blotch(
        albedo,
        forehead,
        35.0 * px,
        18.0 * px,
        mix(skin, [1.0, 0.95, 0.85], 0.4),
        0.12,
        roll,
    );
    let chin = head.image_at(cam, 0.0, head.chin_y - 14.0);
    blotch(
        albedo,
        chin,
        16.0 * px,
        10.0 * px,
        red,
        0.05 + 0.08 * fair,
        roll,
    );

    // Freckles on fair skin, a few moles on anyone.
    let freckles = if id.fitzpatrick <= 2 && rng.gen_bool(0.25) {
        rng.gen_range(25..70)
    } else {
        0
    };
    let spot = mix(skin, [0.45, 0.25, 0.15], 0.35);
    for _ in 0..freckles {
        let x = rng.gen_range(-45.0..45.0);
        let y = rng.gen_range(5.0..40.0) - 10.0 * (1.0 - (x / 45.0f32).abs());
        let c = head.image_at(cam, x, y);
        let r = rng.gen_range(0.35..0.8) * px;
        canvas::fill(
            albedo,
            canvas::ellipse(c, r, r).as_ref(),
            &canvas::solid(spot, rng.gen_range(0.1..0.3)),
            None,
        );
    }
    for _ in 0..rng.gen_range(0..4) {
        let x: f32 = rng.gen_range(-55.0..55.0);
        let y = rng.gen_range(-40.0..head.chin_y - 10.0);
        if head.half_width(y) < x.abs() + 5.0 {
            continue;
        }
        let c = head.image_at(cam, x, y);
        let r = rng.gen_range(0.6..1.4) * px;
        canvas::fill(
            albedo,
            canvas::ellipse(c, r, r).as_ref(),
            &canvas::solid(scale(skin, 0.45), 0.7),
            None,
        );
    }
}

/// A crease: a dark line with a lighter edge just below it, as skin folds
/// show in a photo.
fn crease(albedo: &mut Pixmap, pts: &[Point], skin: Rgb, alpha: f32, width: f32, below: Point) {
    if alpha < 0.02 {
        return;
    }
    let lit: Vec<Point> = pts
        .iter()
        .map(|p| Point::new(p.x + below.x, p.y + below.y))
        .collect();
    canvas::stroke(
        albedo,
        canvas::smooth(&lit, false).as_ref(),
        &canvas::solid(mix(skin, [1.0; 3], 0.2), alpha * 0.6),
        width * 1.3,
        None,
    );
    canvas::stroke(
        albedo,
        canvas::smooth(pts, false).as_ref(),
        &canvas::solid(scale(skin, 0.55), alpha),
        width,
        None,
    );
}

/// Forehead lines, frown lines and nasolabial creases for this frame.
pub(crate) fn draw_lines(head: &Head, cam: &Camera, albedo: &mut Pixmap, id: &Identity) {
    let px = cam.ppmm;
    let skin = rgb(id.skin);
    let down = {
        let a = cam.project([0.0, 0.0, 0.0]);
        let b = cam.project([0.0, 1.0, 0.0]);
        Point::new(b.x - a.x, b.y - a.y)
    };
    let below = |mm: f32| Point::new(down.x * mm, down.y * mm);
    // Forehead lines follow the brows; each side's frontalis folds its own half.
    for side in Side::BOTH {
        let s = sign(side);
        let a = head.act.side.get(side);
        let brow = head.brows.get(side);
        let alpha = 0.35 * a.brow_raise + 0.18 * head.age;
        for k in 0..4 {
            let lift = 8.0 + 6.5 * k as f32;
            let pts: Vec<Point> = (0..=6)
                .map(|i| {
                    let t = i as f32 / 6.0;
                    let x = s * (1.0 + 43.0 * t);
                    let bt = brow.top((t * 1.1).min(1.0));
                    let y = bt[1].min(-16.0) - lift + 2.0 * (t * 3.0 + k as f32).sin();
                    head.image_at(cam, x, y)
                })
                .collect();
            crease(
                albedo,
                &pts,
                skin,
                alpha * (1.0 - 0.15 * k as f32),
                0.7 * px,
                below(0.8),
            );
        }
        // Vertical frown line between the brows when they pull together.
        let frown = 0.45 * a.brow_lower + 0.1 * head.age;
        let x = s * 4.5;
        let pts = [
            head.image_at(cam, x, -8.0),
            head.image_at(cam, x + s * 1.0, -20.0),
        ];
        crease(albedo, &pts, skin, frown, 0.7 * px, below(0.0));
        // Nasolabial crease: the edge of the fold's cheek mass.
        let f = head.folds.get(side);
        let depth = (0.03 + 0.22 * a.smile + 0.08 * head.age + 0.08 * a.cheek_raise)
            * a.fold.clamp(0.0, 1.2);
        let pts: Vec<Point> = (0..=6)
            .map(|i| {
                let t = -0.05 + 1.15 * i as f32 / 6.0;
                let x = f.a[0] + (f.b[0] - f.a[0]) * t + s * 2.0 * (t * std::f32::consts::PI).sin();
                let y = f.a[1] + (f.b[1] - f.a[1]) * t;
                head.image_at(cam, x, y)
            })
            .collect();
        let side_light = cam.project([s * 1.0, 0.0, 0.0]);
        let o = cam.project([0.0, 0.0, 0.0]);
        let lateral = Point::new((side_light.x - o.x) * 0.9, (side_light.y - o.y) * 0.9);
        crease(albedo, &pts, skin, depth, 1.8 * px, lateral);
    }
}
