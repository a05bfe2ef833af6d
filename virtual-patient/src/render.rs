//! Puts one frame together: background, body and ears behind; the head as
//! painted albedo times ray-free 3D shading; hair, glasses and corneal
//! highlights in front; then the camera's imperfections. Also measures the
//! ground truth from the same geometry and projection.

use image::RgbImage;
use tiny_skia::Pixmap;

use super::activation::Activation;
use super::camera::Camera;
use super::colour::rgb;
use super::face_state::FaceState;
use super::head::Head;
use super::identity::{stream, Patient};
use super::scene::Scene;
use super::truth::{GroundTruth, Rendered};
use super::{backdrop, beard, body, canvas, ear, glasses, hair, raster, rng, sensor, skin};
use screening::geometry::{PerSide, Point, Rect, Side};

/// Random streams for painted detail, one per feature, so that a feature's
/// look never depends on how much randomness another feature used.
mod detail {
    pub const BODY: u64 = 0;
    pub const HAIR_BACK: u64 = 1;
    pub const HAIR_SCALP: u64 = 2;
    pub const HAIR_FRONT: u64 = 3;
    pub const SKIN: u64 = 4;
    pub const BEARD: u64 = 5;
    pub const BROWS: u64 = 6;
    pub const EYES: u64 = 8;
}

fn detail_rng(patient: &Patient, which: u64) -> rand_chacha::ChaCha8Rng {
    rng(
        patient.seed ^ 0xD5A1_1ED0_0000_0000,
        stream::DETAIL * 100 + which,
    )
}

/// Renders `patient` in `state` photographed in `scene` at `width × height`.
pub fn render(
    patient: &Patient,
    state: &FaceState,
    scene: &Scene,
    width: u32,
    height: u32,
) -> Rendered {
    let (width, height) = (width.max(1), height.max(1));
    let id = &patient.identity;
    let act = Activation::new(patient, state);
    let head = Head::new(id, &act);
    let cam = Camera::new(scene, width, height, head.chin_y);
    let image = match paint(patient, &head, &cam, scene, width, height) {
        Some(canvas) => sensor::develop(&canvas, scene),
        // Only an absurd frame size gets here; a blank frame still carries
        // the ground truth.
        None => RgbImage::new(width, height),
    };
    Rendered {
        image,
        truth: truth(patient, state, scene, &head, &cam),
    }
}

fn paint(
    patient: &Patient,
    head: &Head,
    cam: &Camera,
    scene: &Scene,
    width: u32,
    height: u32,
) -> Option<Pixmap> {
    let id = &patient.identity;
    let mut out = Pixmap::new(width, height)?;
    backdrop::draw(scene, cam, &mut out);
    hair::draw_back(
        head,
        cam,
        &mut out,
        id,
        &mut detail_rng(patient, detail::HAIR_BACK),
    );
    body::draw(
        head,
        cam,
        &mut out,
        id,
        &mut detail_rng(patient, detail::BODY),
    );
    ear::draw(head, cam, &mut out, id);

    let frame_cam = cam;
    let shading = raster::shade(head, cam, width, height);
    // The albedo is only needed where the head is: paint it in the head's
    // window of the frame.
    let win = cam.windowed(shading.x0 as f32, shading.y0 as f32);
    let cam = &win;
    let mut albedo = Pixmap::new(shading.width.max(1) as u32, shading.height.max(1) as u32)?;
    let skin_rgb = rgb(id.skin);
    albedo.fill(canvas::colour(skin_rgb, 1.0));
    skin::draw_tone(
        head,
        cam,
        &mut albedo,
        id,
        &mut detail_rng(patient, detail::SKIN),
    );
    hair::draw_scalp(
        head,
        cam,
        &mut albedo,
        id,
        &mut detail_rng(patient, detail::HAIR_SCALP),
    );
    beard::draw(
        head,
        cam,
        &mut albedo,
        id,
        &mut detail_rng(patient, detail::BEARD),
    );
    skin::draw_lines(head, cam, &mut albedo, id);
    head.nose.draw(head, cam, &mut albedo, skin_rgb);
    for side in Side::BOTH {
        let k = if side == Side::Left { 0 } else { 1 };
        head.brows.get(side).draw(
            head,
            cam,
            &mut albedo,
            id,
            &mut detail_rng(patient, detail::BROWS + k),
        );
        head.eyes.get(side).draw(
            head,
            cam,
            &mut albedo,
            id,
            &mut detail_rng(patient, detail::EYES + k),
        );
    }
    head.mouth.draw(head, cam, &mut albedo, id);
    let cam = frame_cam;
    composite(&mut out, &albedo, &shading, cam.ppmm, patient.seed);

    for side in Side::BOTH {
        if let Some((c, r)) = head.eyes.get(side).highlight(head, cam) {
            let shader = canvas::radial(
                c,
                r,
                r,
                0.0,
                &[
                    (0.0, [1.0; 3], 0.95),
                    (0.55, [1.0; 3], 0.8),
                    (1.0, [1.0; 3], 0.0),
                ],
            );
            canvas::fill(
                &mut out,
                canvas::ellipse(c, r, r).as_ref(),
                &canvas::shaded(shader, [1.0; 3]),
                None,
            );
        }
    }
    hair::draw_front(
        head,
        cam,
        &mut out,
        id,
        &mut detail_rng(patient, detail::HAIR_FRONT),
    );
    glasses::draw(head, cam, &mut out, id);
    Some(out)
}

/// Hash of a lattice point to 0..1, for value noise.
fn lattice(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x8DA6_B343)
        ^ (y as u32).wrapping_mul(0xD816_3841)
        ^ seed.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5BD1_E995);
    h ^= h >> 15;
    (h & 0xFFFF) as f32 / 65535.0
}

/// `out = mix(out, albedo × light × texture + specular, coverage)` over the
/// head. The texture is skin's blotchiness and pores, at their real sizes.
/// `albedo` covers the shading's window.
fn composite(out: &mut Pixmap, albedo: &Pixmap, shading: &raster::Shading, ppmm: f32, seed: u64) {
    let width = out.width() as usize;
    let aw = albedo.width() as usize;
    let src = albedo.data();
    let dst = out.data_mut();
    let seed = (seed ^ (seed >> 32)) as u32;
    // Blotchiness: value noise on a lattice of 4 mm cells, tabulated for the
    // window once; pores: per-pixel noise, fainter when they are sub-pixel.
    let cell = (4.0 * ppmm).max(2.0);
    let (gx0, gy0) = (
        (shading.x0 as f32 / cell).floor() as i32,
        (shading.y0 as f32 / cell).floor() as i32,
    );
    let gw = (shading.width as f32 / cell).ceil() as usize + 3;
    let gh = (shading.height as f32 / cell).ceil() as usize + 3;
    let grid: Vec<f32> = (0..gw * gh)
        .map(|i| lattice(gx0 + (i % gw) as i32, gy0 + (i / gw) as i32, seed) - 0.5)
        .collect();
    let pore_amp = 0.05 * (ppmm / 2.5).min(1.0);
    for y in 0..shading.height {
        let fy = (shading.y0 + y) as f32 / cell - gy0 as f32;
        let (jy, ty) = (fy.floor(), fy - fy.floor());
        let ty = ty * ty * (3.0 - 2.0 * ty);
        let jy = (jy.max(0.0) as usize).min(gh - 2);
        for x in 0..shading.width {
            let k = y * shading.width + x;
            let a = shading.alpha[k];
            if a <= 0.0 {
                continue;
            }
            let l = shading.light[k];
            let (px, py) = (shading.x0 + x, shading.y0 + y);
            let fx = px as f32 / cell - gx0 as f32;
            let (jx, tx) = (fx.floor(), fx - fx.floor());
            let tx = tx * tx * (3.0 - 2.0 * tx);
            let jx = (jx.max(0.0) as usize).min(gw - 2);
            let g = |i: usize, j: usize| grid[j * gw + i];
            let top = g(jx, jy) + (g(jx + 1, jy) - g(jx, jy)) * tx;
            let bottom = g(jx, jy + 1) + (g(jx + 1, jy + 1) - g(jx, jy + 1)) * tx;
            let blotch = top + (bottom - top) * ty;
            let pore = lattice(px as i32, py as i32, seed ^ 0xA5A5) - 0.5;
            let tex = 1.0 + 0.045 * blotch + pore_amp * pore;
            let o = (py * width + px) * 4;
            let i = (y * aw + x) * 4;
            for c in 0..3 {
                let lit = f32::from(src[i + c]) * l[c] * tex + 255.0 * l[3];
                let v = f32::from(dst[o + c]) * (1.0 - a) + lit * a;
                dst[o + c] = (v + 0.5).clamp(0.0, 255.0) as u8;
            }
            dst[o + 3] = 255;
        }
    }
}

fn truth(
    patient: &Patient,
    state: &FaceState,
    scene: &Scene,
    head: &Head,
    cam: &Camera,
) -> GroundTruth {
    let eye = |side: Side| {
        let e = head.eyes.get(side);
        let inner = head.image_at(cam, e.inner[0], e.inner[1]);
        let outer = head.image_at(cam, e.outer[0], e.outer[1]);
        let aperture = if e.is_open() {
            let (u, l) = (e.upper(0.5), e.lower(0.5));
            head.image_at(cam, u[0], u[1])
                .distance(head.image_at(cam, l[0], l[1]))
        } else {
            0.0
        };
        (inner, outer, aperture)
    };
    let (l, r) = (eye(Side::Left), eye(Side::Right));
    let corner = |side: Side| {
        let c = head.mouth.corner(side);
        let z = head.front_z(c[0], c[1]);
        cam.project([c[0], c[1], z])
    };
    let mut pts: Vec<Point> = Vec::new();
    for side in Side::BOTH {
        let b = head.brows.get(side);
        for t in [0.0, 0.35, 0.7, 1.0] {
            let p = b.top(t);
            pts.push(head.image_at(cam, p[0], p[1]));
        }
        for y in [0.0f32, 15.0, 30.0] {
            let x = if side == Side::Left { 1.0 } else { -1.0 } * head.half_width(y);
            pts.push(cam.project([x, y, head.z_c]));
        }
    }
    pts.push(head.image_at(cam, 0.0, head.chin_y - 1.0));
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &pts {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    GroundTruth {
        condition: patient.condition,
        expression: state.expression,
        fitzpatrick: patient.identity.fitzpatrick,
        eye_centre: PerSide::new(l.0.midpoint(l.1), r.0.midpoint(r.1)),
        eye_corners: PerSide::new((l.0, l.1), (r.0, r.1)),
        eyelid_aperture: PerSide::new(l.2, r.2),
        mouth_corners: PerSide::new(corner(Side::Left), corner(Side::Right)),
        face_box: Rect::new(x0, y0, x1 - x0, y1 - y0),
        yaw_deg: scene.yaw_deg,
        pitch_deg: scene.pitch_deg,
        roll_deg: scene.roll_deg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use screening::protocol::Expression;
    use screening::protocol::{Condition, Pattern, Severity};

    fn studio(p: &Patient, e: Expression) -> Rendered {
        render(p, &FaceState::full(e), &Scene::studio(), 320, 240)
    }

    #[test]
    fn same_inputs_give_identical_bytes() {
        for seed in [1u64, 2, 3] {
            let p = Patient::random(seed);
            let scene = Scene::random(seed + 100);
            let state = FaceState {
                expression: Expression::BigSmile,
                intensity: 0.7,
                blink: 0.2,
            };
            let a = render(&p, &state, &scene, 200, 160);
            let b = render(&p, &state, &scene, 200, 160);
            assert_eq!(a.image.as_raw(), b.image.as_raw());
            assert_eq!(a.truth, b.truth);
        }
        let p = Patient::random(1);
        let a = studio(&p, Expression::Rest);
        let b = studio(&Patient::random(2), Expression::Rest);
        assert_ne!(a.image.as_raw(), b.image.as_raw());
    }

    #[test]
    fn patients_left_eye_is_on_the_images_right() {
        for seed in 0..10 {
            let t = studio(&Patient::random(seed), Expression::Rest).truth;
            assert!(t.eye_centre.left.x > t.eye_centre.right.x + 20.0, "{t:?}");
            assert!(t.mouth_corners.left.x > t.mouth_corners.right.x);
            let (inner, outer) = t.eye_corners.left;
            assert!(
                outer.x > inner.x,
                "left eye's lateral canthus is further right"
            );
            let (inner, outer) = t.eye_corners.right;
            assert!(outer.x < inner.x);
            for p in [
                t.eye_centre.left,
                t.eye_centre.right,
                t.mouth_corners.left,
                t.mouth_corners.right,
            ] {
                assert!(t.face_box.contains(p), "{p:?} outside {:?}", t.face_box);
            }
            assert!(t.eye_centre.left.y < t.mouth_corners.left.y);
            let frac = t.face_box.height / 240.0;
            assert!((0.4..0.62).contains(&frac), "face height fraction {frac}");
        }
    }

    #[test]
    fn eye_closure_closes_the_apertures() {
        for seed in 0..6 {
            let p = Patient::with_condition(seed, Condition::Healthy);
            let rest = studio(&p, Expression::Rest).truth.eyelid_aperture;
            assert!(rest.left > 3.0 && rest.right > 3.0, "{rest:?}");
            for e in [Expression::GentleEyeClosure, Expression::TightEyeClosure] {
                let shut = studio(&p, e).truth.eyelid_aperture;
                assert!(
                    shut.left < 0.05 * rest.left && shut.right < 0.05 * rest.right,
                    "{e}: {shut:?}"
                );
            }
            let blink = render(
                &p,
                &FaceState {
                    expression: Expression::Rest,
                    intensity: 1.0,
                    blink: 0.5,
                },
                &Scene::studio(),
                320,
                240,
            );
            let half = blink.truth.eyelid_aperture.left / rest.left;
            assert!((0.4..0.6).contains(&half), "{half}");
        }
    }

    fn big_smile_ratio(c: Condition, seed: u64) -> f32 {
        let p = Patient::with_condition(seed, c);
        let side = c.side().unwrap_or(Side::Left);
        let t = studio(&p, Expression::BigSmile).truth;
        t.aperture_ratio(side).unwrap_or(f32::NAN)
    }

    #[test]
    fn synkinesis_narrows_the_affected_eye_in_a_big_smile() {
        for seed in 0..8 {
            let side = if seed % 2 == 0 {
                Side::Left
            } else {
                Side::Right
            };
            let severe = Condition::Synkinetic {
                side,
                severity: Severity::Severe,
                pattern: Pattern::OralOcular,
            };
            let r = big_smile_ratio(severe, seed);
            assert!(r < 0.6, "seed {seed}: severe ratio {r}");
            let healthy = big_smile_ratio(Condition::Healthy, seed);
            assert!(
                (0.9..1.1).contains(&healthy),
                "seed {seed}: healthy ratio {healthy}"
            );
            let flaccid = big_smile_ratio(Condition::Flaccid { side }, seed);
            assert!(flaccid >= 0.85, "seed {seed}: flaccid ratio {flaccid}");
            // Ocular-oral only: the eye is spared.
            let oo = Condition::Synkinetic {
                side,
                severity: Severity::Severe,
                pattern: Pattern::OcularOral,
            };
            assert!(big_smile_ratio(oo, seed) > 0.85);
        }
    }

    #[test]
    fn ocular_oral_synkinesis_lifts_the_affected_corner_during_eye_closure() {
        let side = Side::Right;
        let c = Condition::Synkinetic {
            side,
            severity: Severity::Severe,
            pattern: Pattern::OcularOral,
        };
        let p = Patient::with_condition(4, c);
        let rest = studio(&p, Expression::Rest).truth;
        let shut = studio(&p, Expression::TightEyeClosure).truth;
        let lift =
            |t: &GroundTruth, s: Side| rest.mouth_corners.get(s).y - t.mouth_corners.get(s).y;
        assert!(
            lift(&shut, side) > lift(&shut, side.opposite()) + 3.0,
            "{rest:?} {shut:?}"
        );
    }

    #[test]
    fn pose_moves_the_landmarks_and_is_reported() {
        let p = Patient::random(9);
        let mut scene = Scene::studio();
        let front = render(&p, &FaceState::rest(), &scene, 320, 240).truth;
        scene.yaw_deg = 15.0;
        scene.roll_deg = -10.0;
        let turned = render(&p, &FaceState::rest(), &scene, 320, 240).truth;
        assert_eq!((turned.yaw_deg, turned.roll_deg), (15.0, -10.0));
        // Turning towards the patient's left moves the face to the image's right
        // and foreshortens the interocular distance.
        assert!(turned.eye_centre.left.x > front.eye_centre.left.x);
        assert!(turned.interocular() < front.interocular());
        // Negative roll (anticlockwise) raises the image-right (patient's left) eye.
        assert!(turned.eye_centre.left.y < turned.eye_centre.right.y);
    }

    #[test]
    fn expressions_change_the_pixels_where_they_should() {
        let p = Patient::with_condition(21, Condition::Healthy);
        let rest = studio(&p, Expression::Rest);
        let shut = studio(&p, Expression::TightEyeClosure);
        let region_diff = |a: &RgbImage, b: &RgbImage, c: Point, r: i32| -> f32 {
            let mut sum = 0.0;
            let mut n = 0.0;
            for dy in -r..=r {
                for dx in -r..=r {
                    let (x, y) = ((c.x as i32 + dx) as u32, (c.y as i32 + dy) as u32);
                    let (pa, pb) = (a.get_pixel(x, y), b.get_pixel(x, y));
                    sum += (0..3)
                        .map(|k| (f32::from(pa[k]) - f32::from(pb[k])).abs())
                        .sum::<f32>();
                    n += 3.0;
                }
            }
            sum / n
        };
        let eye = rest.truth.eye_centre.left;
        assert!(region_diff(&rest.image, &shut.image, eye, 4) > 15.0);
        // The open eye is darker in its centre (iris, pupil) than the skin of
        // the closed lid.
        let lum = |img: &RgbImage, c: Point| {
            let p = img.get_pixel(c.x as u32, c.y as u32);
            f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])
        };
        assert!(lum(&rest.image, eye) + 60.0 < lum(&shut.image, eye));
    }
}
