//! Thin drawing helpers over tiny-skia: smooth paths through points, solid
//! and gradient paints from our colours, and fills and strokes that never
//! fail (a degenerate shape simply draws nothing).

use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Mask, Paint, Path,
    PathBuilder, Pixmap, RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

use super::colour::Rgb;
use screening::geometry::Point;

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

/// Where `(x, y)` falls along the segment `a → b`, clamped to 0..1 (the
/// parameter of a linear gradient).
pub(crate) fn along(a: Point, b: Point, x: f32, y: f32) -> f32 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let n = dx * dx + dy * dy;
    if n <= 1e-9 {
        return 0.0;
    }
    (((x - a.x) * dx + (y - a.y) * dy) / n).clamp(0.0, 1.0)
}

/// Anti-aliased coverage of a shape over its bounding box, for large fills
/// whose colour is computed per pixel in plain Rust (much cheaper than a
/// gradient shader over many pixels) and for combining shapes.
#[derive(Debug, Clone)]
pub(crate) struct Coverage {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    data: Vec<u8>,
}

impl Coverage {
    /// The coverage of `path` within a `width × height` frame, or `None`
    /// when it covers nothing.
    pub fn of(path: Option<&Path>, width: u32, height: u32) -> Option<Coverage> {
        let path = path?;
        let b = path.bounds();
        let x0 = b.left().floor().max(0.0) as usize;
        let y0 = b.top().floor().max(0.0) as usize;
        let x1 = (b.right().ceil() as i64 + 1).clamp(0, i64::from(width)) as usize;
        let y1 = (b.bottom().ceil() as i64 + 1).clamp(0, i64::from(height)) as usize;
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        let (w, h) = (x1 - x0, y1 - y0);
        let mut m = Mask::new(w as u32, h as u32)?;
        m.fill_path(
            path,
            FillRule::Winding,
            true,
            Transform::from_translate(-(x0 as f32), -(y0 as f32)),
        );
        Some(Coverage {
            x0,
            y0,
            w,
            h,
            data: m.data().to_vec(),
        })
    }

    /// Removes `other` from this shape.
    pub fn subtract(&mut self, other: &Coverage) {
        let x0 = self.x0.max(other.x0);
        let y0 = self.y0.max(other.y0);
        let x1 = (self.x0 + self.w).min(other.x0 + other.w);
        let y1 = (self.y0 + self.h).min(other.y0 + other.h);
        for y in y0..y1 {
            let mine = (y - self.y0) * self.w;
            let theirs = (y - other.y0) * other.w;
            let a = &mut self.data[mine + x0 - self.x0..mine + x1 - self.x0];
            let b = &other.data[theirs + x0 - other.x0..theirs + x1 - other.x0];
            for (v, &o) in a.iter_mut().zip(b) {
                *v = ((u16::from(*v) * u16::from(255 - o)) / 255) as u8;
            }
        }
    }

    /// Keeps only what `other` also covers.
    pub fn intersect(&mut self, other: &Coverage) {
        for y in 0..self.h {
            let fy = self.y0 + y;
            for x in 0..self.w {
                let fx = self.x0 + x;
                let inside = fx >= other.x0
                    && fy >= other.y0
                    && fx < other.x0 + other.w
                    && fy < other.y0 + other.h;
                let o = if inside {
                    other.data[(fy - other.y0) * other.w + fx - other.x0]
                } else {
                    0
                };
                let v = &mut self.data[y * self.w + x];
                *v = ((u16::from(*v) * u16::from(o)) / 255) as u8;
            }
        }
    }

    /// Blends `colour(x, y) → (rgb, alpha)` over an opaque `pixmap` where
    /// the shape covers it.
    pub fn paint(&self, pixmap: &mut Pixmap, colour: impl Fn(f32, f32) -> (Rgb, f32)) {
        let stride = pixmap.width() as usize * 4;
        let data = pixmap.data_mut();
        for y in 0..self.h {
            for x in 0..self.w {
                let cov = self.data[y * self.w + x];
                if cov == 0 {
                    continue;
                }
                let (px, py) = (self.x0 + x, self.y0 + y);
                let (c, a) = colour(px as f32 + 0.5, py as f32 + 0.5);
                let a = (a * f32::from(cov) / 255.0).clamp(0.0, 1.0);
                let o = py * stride + px * 4;
                for k in 0..3 {
                    let d = f32::from(data[o + k]);
                    data[o + k] = (d + (c[k] * 255.0 - d) * a + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }

    /// A transparent pixmap over this shape's box, to draw detail into
    /// (frame coordinates minus [`Coverage::origin`]) before [`Coverage::composite`].
    pub fn layer(&self) -> Option<Pixmap> {
        Pixmap::new(self.w as u32, self.h as u32)
    }

    /// Top-left corner of the shape's box in the frame.
    pub fn origin(&self) -> Point {
        Point::new(self.x0 as f32, self.y0 as f32)
    }

    /// Composites a [`Coverage::layer`] over an opaque `pixmap`, clipped to
    /// the shape.
    pub fn composite(&self, pixmap: &mut Pixmap, layer: &Pixmap) {
        let stride = pixmap.width() as usize * 4;
        let data = pixmap.data_mut();
        let src = layer.data();
        for y in 0..self.h {
            for x in 0..self.w {
                let cov = u32::from(self.data[y * self.w + x]);
                let i = (y * self.w + x) * 4;
                let a = u32::from(src[i + 3]);
                if cov == 0 || a == 0 {
                    continue;
                }
                let o = (self.y0 + y) * stride + (self.x0 + x) * 4;
                for k in 0..3 {
                    // Premultiplied source over opaque destination, scaled by coverage.
                    let d = u32::from(data[o + k]);
                    let s = u32::from(src[i + k]);
                    let v = d * (255 * 255 - a * cov) / (255 * 255) + s * cov / 255;
                    data[o + k] = v.min(255) as u8;
                }
            }
        }
    }
}

/// Blends `colour` at `alpha` into pixel `(x, y)` of an opaque pixmap.
#[inline]
fn blend_px(
    data: &mut [u8],
    stride: usize,
    size: (usize, usize),
    x: i32,
    y: i32,
    colour: [f32; 3],
    alpha: f32,
) {
    if x < 0 || y < 0 || x as usize >= size.0 || y as usize >= size.1 || alpha <= 0.0 {
        return;
    }
    let o = y as usize * stride + x as usize * 4;
    for k in 0..3 {
        let d = f32::from(data[o + k]);
        data[o + k] = (d + (colour[k] * 255.0 - d) * alpha + 0.5).clamp(0.0, 255.0) as u8;
    }
}

/// A thin anti-aliased line through `pts` (hairs, lashes, fibres): splats a
/// bilinear footprint every half pixel, far cheaper than a stroked path for
/// the hundreds of hairs a face has. `width` in pixels; widths above one
/// pixel lay parallel lines.
pub(crate) fn hairline(pixmap: &mut Pixmap, pts: &[Point], colour: Rgb, alpha: f32, width: f32) {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let stride = w * 4;
    let data = pixmap.data_mut();
    let passes = width.ceil().clamp(1.0, 4.0) as usize;
    // Half-pixel steps overlap, so each sample carries about half the ink.
    let ink = (alpha * (width / passes as f32).min(1.0) * 0.55).clamp(0.0, 1.0);
    for seg in pts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt();
        if !len.is_finite() {
            continue;
        }
        let steps = (len * 2.0).ceil().max(1.0) as usize;
        let (nx, ny) = if len > 1e-6 {
            (-dy / len, dx / len)
        } else {
            (0.0, 0.0)
        };
        for p in 0..passes {
            let off = p as f32 - 0.5 * (passes as f32 - 1.0);
            for i in 0..steps {
                let t = (i as f32 + 0.5) / steps as f32;
                let x = a.x + dx * t + nx * off - 0.5;
                let y = a.y + dy * t + ny * off - 0.5;
                let (fx, fy) = (x.floor(), y.floor());
                let (tx, ty) = (x - fx, y - fy);
                let (ix, iy) = (fx as i32, fy as i32);
                blend_px(
                    data,
                    stride,
                    (w, h),
                    ix,
                    iy,
                    colour,
                    ink * (1.0 - tx) * (1.0 - ty),
                );
                blend_px(
                    data,
                    stride,
                    (w, h),
                    ix + 1,
                    iy,
                    colour,
                    ink * tx * (1.0 - ty),
                );
                blend_px(
                    data,
                    stride,
                    (w, h),
                    ix,
                    iy + 1,
                    colour,
                    ink * (1.0 - tx) * ty,
                );
                blend_px(data, stride, (w, h), ix + 1, iy + 1, colour, ink * tx * ty);
            }
        }
    }
}

/// A soft elliptical spot: `alpha` at the centre falling smoothly to 0 at
/// the rim (a radial gradient without the shader's cost). `angle` rotates
/// the ellipse, radians.
pub(crate) fn spot(
    pixmap: &mut Pixmap,
    c: Point,
    rx: f32,
    ry: f32,
    angle: f32,
    colour: Rgb,
    alpha: f32,
) {
    if !(rx > 0.1 && ry > 0.1) {
        return;
    }
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let stride = w * 4;
    let data = pixmap.data_mut();
    let r = rx.max(ry);
    let x0 = (c.x - r).floor().max(0.0) as i32;
    let x1 = (c.x + r).ceil().min(w as f32 - 1.0) as i32;
    let y0 = (c.y - r).floor().max(0.0) as i32;
    let y1 = (c.y + r).ceil().min(h as f32 - 1.0) as i32;
    let (sin, cos) = angle.sin_cos();
    let (irx, iry) = (1.0 / rx, 1.0 / ry);
    for y in y0..=y1 {
        let dy = y as f32 + 0.5 - c.y;
        for x in x0..=x1 {
            let dx = x as f32 + 0.5 - c.x;
            let u = (dx * cos + dy * sin) * irx;
            let v = (-dx * sin + dy * cos) * iry;
            let e = u * u + v * v;
            if e >= 1.0 {
                continue;
            }
            let k = 1.0 - e;
            blend_px(data, stride, (w, h), x, y, colour, alpha * k * k);
        }
    }
}
