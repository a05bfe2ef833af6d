//! A landmark-driven warp that narrows one eye of a real photograph by a
//! known factor, so a real face can play a synkinetic patient whose eye
//! closes while they smile.
//!
//! The warp is a vertical scaling about the line through the eye's two
//! corners: every point within [`CORE`] eye widths of that line moves to `k`
//! times its distance, so both lid margins, wherever they really are in the
//! photo, end up `k` times as far apart. The truth of the narrowing is
//! therefore `k` itself and does not depend on any lid landmark, which is
//! what lets the warp test the lid measure instead of echoing it. Beyond the
//! core the skin is stretched back to the unwarped photo by [`OUTER`] eye
//! widths, and along the eye line the warp fades out past the corners, so
//! the brow, nose and cheek stay as they were.

use image::RgbImage;
use screening::face::landmarks::Landmarks;
use screening::geometry::{Point, Side};

/// Half-height of the band scaled exactly by `k`, in eye widths (corner to
/// corner). An open adult eye is about a third as high as it is wide, so
/// both lids lie well inside half a width of the corner line.
pub const CORE: f32 = 0.5;

/// Where the warp has returned to the photo, in eye widths from the corner
/// line (below the brow on most faces).
pub const OUTER: f32 = 1.0;

/// Along the eye line: full warp up to this many eye widths from the eye's
/// centre (the corners are at 0.5), none beyond [`FADE_END`].
const FADE_START: f32 = 0.6;
const FADE_END: f32 = 1.0;

/// `frame` with the patient's `side` eye narrowed to `k` of its opening
/// (`0 < k <= 1`), located by the FaceMesh eye corners of `landmarks`.
pub fn narrow_eye(frame: &RgbImage, landmarks: &Landmarks, side: Side, k: f32) -> RgbImage {
    let eye = landmarks.eye(side);
    let centre = eye.centre();
    let width = eye.outer.distance(eye.inner).max(1.0);
    // Unit vectors along the eye line and across it.
    let (ux, uy) = (
        (eye.inner.x - eye.outer.x) / width,
        (eye.inner.y - eye.outer.y) / width,
    );
    let (vx, vy) = (-uy, ux);
    let core = CORE * width;
    let outer = OUTER * width;
    let reach = (FADE_END.max(OUTER) * width).ceil() as i64 + 2;

    let mut out = frame.clone();
    let (w, h) = (frame.width() as i64, frame.height() as i64);
    let (cx, cy) = (centre.x.round() as i64, centre.y.round() as i64);
    for y in (cy - reach).max(0)..(cy + reach).min(h) {
        for x in (cx - reach).max(0)..(cx + reach).min(w) {
            let (dx, dy) = (x as f32 - centre.x, y as f32 - centre.y);
            let u = dx * ux + dy * uy;
            let v = dx * vx + dy * vy;
            let along = fade(u.abs() / width);
            if along <= 0.0 || v.abs() >= outer {
                continue;
            }
            let v_src = v + along * (source_offset(v, k, core, outer) - v);
            let src = Point::new(
                centre.x + u * ux + v_src * vx,
                centre.y + u * uy + v_src * vy,
            );
            out.put_pixel(x as u32, y as u32, bilinear(frame, src));
        }
    }
    out
}

/// Where the output's distance `v` from the corner line comes from in the
/// photo: inside `k * core` from `v / k` (the scaled band), then stretched
/// linearly so that `outer` maps to itself.
fn source_offset(v: f32, k: f32, core: f32, outer: f32) -> f32 {
    let k = k.clamp(0.05, 1.0);
    let a = v.abs();
    let s = if a <= k * core {
        a / k
    } else if a < outer {
        core + (a - k * core) * (outer - core) / (outer - k * core)
    } else {
        a
    };
    s.copysign(v)
}

/// 1 near the eye, 0 past [`FADE_END`], smooth between.
fn fade(t: f32) -> f32 {
    if t <= FADE_START {
        1.0
    } else if t >= FADE_END {
        0.0
    } else {
        let x = (FADE_END - t) / (FADE_END - FADE_START);
        x * x * (3.0 - 2.0 * x)
    }
}

fn bilinear(img: &RgbImage, p: Point) -> image::Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x0 = p.x.floor();
    let y0 = p.y.floor();
    let (fx, fy) = (p.x - x0, p.y - y0);
    let at = |x: i64, y: i64| {
        let x = x.clamp(0, w - 1) as u32;
        let y = y.clamp(0, h - 1) as u32;
        img.get_pixel(x, y).0
    };
    let (x0, y0) = (x0 as i64, y0 as i64);
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1, y0),
        at(x0, y0 + 1),
        at(x0 + 1, y0 + 1),
    );
    let mut px = [0u8; 3];
    for i in 0..3 {
        let top = a[i] as f32 * (1.0 - fx) + b[i] as f32 * fx;
        let bottom = c[i] as f32 * (1.0 - fx) + d[i] as f32 * fx;
        px[i] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    image::Rgb(px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_scales_by_k_and_the_edge_stays() {
        let (k, core, outer) = (0.6, 10.0, 20.0);
        // A lid 5 px from the corner line ends up 3 px from it: the output
        // at 3 px samples the photo at 5 px.
        assert!((source_offset(3.0, k, core, outer) - 5.0).abs() < 1e-5);
        assert!((source_offset(-3.0, k, core, outer) + 5.0).abs() < 1e-5);
        assert!((source_offset(k * core, k, core, outer) - core).abs() < 1e-4);
        assert!((source_offset(outer, k, core, outer) - outer).abs() < 1e-4);
        // Monotonic, so nothing folds over.
        let mut last = -1.0;
        for i in 0..200 {
            let s = source_offset(i as f32 * 0.1, k, core, outer);
            assert!(s >= last);
            last = s;
        }
    }

    #[test]
    fn k_one_is_the_photo() {
        assert_eq!(source_offset(4.2, 1.0, 10.0, 20.0), 4.2);
        assert_eq!(fade(0.3), 1.0);
        assert_eq!(fade(1.2), 0.0);
    }
}
