//! Thin drawing helpers over tiny-skia: smooth paths through points, solid
//! and gradient paints from our colours, and fills and strokes that never
//! fail (a degenerate shape simply draws nothing).

use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Mask, Paint, Path,
    PathBuilder, Pixmap, RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

use super::colour::Rgb;
use crate::geometry::Point;

/// A tiny-skia colour from ours, with alpha.
pub(crate) fn colour(c: Rgb, alpha: f32) -> Color {
    Color::from_rgba(
        c[0].clamp(0.0, 1.0),
        c[1].clamp(0.0, 1.0),
        c[2].clamp(0.0, 1.0),
        alpha.clamp(0.0, 1.0),
    )
    .unwrap_or(Color::BLACK)
}

/// An anti-aliased solid paint.
pub(crate) fn solid(c: Rgb, alpha: f32) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(colour(c, alpha));
    p.anti_alias = true;
    p
}

/// An anti-aliased paint with `shader`, or a solid paint of `fallback` when
/// the gradient was degenerate.
pub(crate) fn shaded(shader: Option<Shader<'static>>, fallback: Rgb) -> Paint<'static> {
    match shader {
        Some(shader) => Paint {
            shader,
            anti_alias: true,
            ..Paint::default()
        },
        None => solid(fallback, 1.0),
    }
}

fn stops(stops: &[(f32, Rgb, f32)]) -> Vec<GradientStop> {
    stops
        .iter()
        .map(|&(t, c, a)| GradientStop::new(t, colour(c, a)))
        .collect()
}

/// A linear gradient from `a` to `b` with `(position, colour, alpha)` stops.
pub(crate) fn linear(a: Point, b: Point, s: &[(f32, Rgb, f32)]) -> Option<Shader<'static>> {
    LinearGradient::new(
        tiny_skia::Point::from_xy(a.x, a.y),
        tiny_skia::Point::from_xy(b.x, b.y),
        stops(s),
        SpreadMode::Pad,
        Transform::identity(),
    )
}

/// A radial gradient around `centre`, stretched to an ellipse with radii
/// `rx`, `ry` and rotated by `angle` radians.
pub(crate) fn radial(
    centre: Point,
    rx: f32,
    ry: f32,
    angle: f32,
    s: &[(f32, Rgb, f32)],
) -> Option<Shader<'static>> {
    if !(rx > 0.01 && ry > 0.01) {
        return None;
    }
    let t = Transform::from_scale(1.0, ry / rx)
        .post_rotate(angle.to_degrees())
        .post_translate(centre.x, centre.y);
    let o = tiny_skia::Point::from_xy(0.0, 0.0);
    RadialGradient::new(o, o, rx, stops(s), SpreadMode::Pad, t)
}

/// A closed or open path through `pts` with Catmull-Rom smoothing.
pub(crate) fn smooth(pts: &[Point], closed: bool) -> Option<Path> {
    let mut pb = smooth_builder(pts, closed)?;
    if closed {
        pb.close();
    }
    pb.finish()
}

/// A smooth curve through `pts`, closed by a straight line from the last
/// point back to the first (a smooth closed path would bulge there).
pub(crate) fn smooth_capped(pts: &[Point]) -> Option<Path> {
    let mut pb = smooth_builder(pts, false)?;
    pb.close();
    pb.finish()
}

fn smooth_builder(pts: &[Point], closed: bool) -> Option<PathBuilder> {
    let n = pts.len();
    if n < 2 {
        return None;
    }
    let mut pb = PathBuilder::new();
    pb.move_to(pts[0].x, pts[0].y);
    let get = |i: isize| -> Point {
        if closed {
            pts[i.rem_euclid(n as isize) as usize]
        } else {
            pts[i.clamp(0, n as isize - 1) as usize]
        }
    };
    let segments = if closed { n } else { n - 1 };
    for i in 0..segments as isize {
        let (p0, p1, p2, p3) = (get(i - 1), get(i), get(i + 1), get(i + 2));
        let c1 = Point::new(p1.x + (p2.x - p0.x) / 6.0, p1.y + (p2.y - p0.y) / 6.0);
        let c2 = Point::new(p2.x - (p3.x - p1.x) / 6.0, p2.y - (p3.y - p1.y) / 6.0);
        pb.cubic_to(c1.x, c1.y, c2.x, c2.y, p2.x, p2.y);
    }
    Some(pb)
}

/// A polygon (or polyline) through `pts`.
pub(crate) fn poly(pts: &[Point], closed: bool) -> Option<Path> {
    let (first, rest) = pts.split_first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first.x, first.y);
    for p in rest {
        pb.line_to(p.x, p.y);
    }
    if closed {
        pb.close();
    }
    pb.finish()
}

/// An ellipse centred at `c`.
pub(crate) fn ellipse(c: Point, rx: f32, ry: f32) -> Option<Path> {
    let rect = tiny_skia::Rect::from_xywh(c.x - rx, c.y - ry, 2.0 * rx, 2.0 * ry)?;
    PathBuilder::from_oval(rect)
}

/// Fills `path` (when there is one) with `paint`, through `mask` if given.
pub(crate) fn fill(pixmap: &mut Pixmap, path: Option<&Path>, paint: &Paint, mask: Option<&Mask>) {
    if let Some(path) = path {
        pixmap.fill_path(path, paint, FillRule::Winding, Transform::identity(), mask);
    }
}

/// Strokes `path` with round caps and joins.
pub(crate) fn stroke(
    pixmap: &mut Pixmap,
    path: Option<&Path>,
    paint: &Paint,
    width: f32,
    mask: Option<&Mask>,
) {
    if let Some(path) = path {
        if width <= 0.0 {
            return;
        }
        let s = Stroke {
            width,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        pixmap.stroke_path(path, paint, &s, Transform::identity(), mask);
    }
}

/// A mask covering `path`, anti-aliased, or `None` for an empty shape.
pub(crate) fn mask(width: u32, height: u32, path: Option<&Path>) -> Option<Mask> {
    let path = path?;
    let b = path.bounds();
    if b.width() < 0.05 || b.height() < 0.05 {
        return None;
    }
    let mut m = Mask::new(width, height)?;
    m.fill_path(path, FillRule::Winding, true, Transform::identity());
    Some(m)
}
