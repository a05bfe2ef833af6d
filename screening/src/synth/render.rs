//! Puts one frame together: background, body and ears behind; the head as
//! painted albedo times ray-free 3D shading; hair, glasses and corneal
//! highlights in front; then the camera's imperfections. Also measures the
//! ground truth from the same geometry and projection.

use image::RgbImage;
use tiny_skia::{Color, Pixmap};

use super::activation::Activation;
use super::camera::Camera;
use super::colour::rgb;
use super::expression::FaceState;
use super::head::Head;
use super::identity::{stream, Patient};
use super::scene::Scene;
use super::truth::{GroundTruth, Rendered};
use super::{backdrop, beard, body, canvas, ear, glasses, hair, raster, rng, sensor, skin};
use crate::geometry::{PerSide, Point, Rect, Side};

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
    rng(patient.seed ^ 0xD5A1_1ED0_0000_0000, stream::DETAIL * 100 + which)
}

/// Renders `patient` in `state` photographed in `scene` at `width × height`.
pub fn render(patient: &Patient, state: &FaceState, scene: &Scene, width: u32, height: u32) -> Rendered {
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
    Rendered { image, truth: truth(patient, state, scene, &head, &cam) }
}

fn paint(patient: &Patient, head: &Head, cam: &Camera, scene: &Scene, width: u32, height: u32) -> Option<Pixmap> {
    let id = &patient.identity;
    let mut out = Pixmap::new(width, height)?;
    backdrop::draw(scene, cam, &mut out);
    hair::draw_back(head, cam, &mut out, id, &mut detail_rng(patient, detail::HAIR_BACK));
    body::draw(head, cam, &mut out, id, &mut detail_rng(patient, detail::BODY));
    ear::draw(head, cam, &mut out, id);

    let shading = raster::shade(head, cam, width, height);
    let mut albedo = Pixmap::new(width, height)?;
    let skin_rgb = rgb(id.skin);
    albedo.fill(canvas::colour(skin_rgb, 1.0));
    skin::draw_tone(head, cam, &mut albedo, id, &mut detail_rng(patient, detail::SKIN));
    hair::draw_scalp(head, cam, &mut albedo, id, &mut detail_rng(patient, detail::HAIR_SCALP));
    beard::draw(head, cam, &mut albedo, id, &mut detail_rng(patient, detail::BEARD));
    skin::draw_lines(head, cam, &mut albedo, id);
    head.nose.draw(head, cam, &mut albedo, skin_rgb);
    for side in Side::BOTH {
        let k = if side == Side::Left { 0 } else { 1 };
        head.brows.get(side).draw(head, cam, &mut albedo, id, &mut detail_rng(patient, detail::BROWS + k));
        head.eyes.get(side).draw(head, cam, &mut albedo, id, &mut detail_rng(patient, detail::EYES + k));
    }
    head.mouth.draw(head, cam, &mut albedo, id);
    composite(&mut out, &albedo, &shading);

    for side in Side::BOTH {
        if let Some((c, r)) = head.eyes.get(side).highlight(head, cam) {
            let shader = canvas::radial(c, r, r, 0.0, &[(0.0, [1.0; 3], 0.95), (0.55, [1.0; 3], 0.8), (1.0, [1.0; 3], 0.0)]);
            canvas::fill(&mut out, canvas::ellipse(c, r, r).as_ref(), &canvas::shaded(shader, [1.0; 3]), None);
        }
    }
    hair::draw_front(head, cam, &mut out, id, &mut detail_rng(patient, detail::HAIR_FRONT));
    glasses::draw(head, cam, &mut out, id);
    Some(out)
}

/// `out = mix(out, albedo × light + specular, coverage)` over the head.
fn composite(out: &mut Pixmap, albedo: &Pixmap, shading: &raster::Shading) {
    let width = out.width() as usize;
    let src = albedo.data();
    let dst = out.data_mut();
    for y in 0..shading.height {
        for x in 0..shading.width {
            let k = y * shading.width + x;
            let a = shading.alpha[k];
            if a <= 0.0 {
                continue;
            }
            let l = shading.light[k];
            let o = ((shading.y0 + y) * width + shading.x0 + x) * 4;
            for c in 0..3 {
                let lit = f32::from(src[o + c]) * l[c] + 255.0 * l[3];
                let v = f32::from(dst[o + c]) * (1.0 - a) + lit * a;
                dst[o + c] = v.round().clamp(0.0, 255.0) as u8;
            }
            dst[o + 3] = 255;
        }
    }
    let _ = Color::BLACK;
}

fn truth(patient: &Patient, state: &FaceState, scene: &Scene, head: &Head, cam: &Camera) -> GroundTruth {
    let eye = |side: Side| {
        let e = head.eyes.get(side);
        let inner = head.image_at(cam, e.inner[0], e.inner[1]);
        let outer = head.image_at(cam, e.outer[0], e.outer[1]);
        let aperture = if e.is_open() {
            let (u, l) = (e.upper(0.5), e.lower(0.5));
            head.image_at(cam, u[0], u[1]).distance(head.image_at(cam, l[0], l[1]))
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
