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
    /// Size of the frame the shape lives in.
    frame: (usize, usize),
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
            frame: (width as usize, height as usize),
        })
    }

    /// Coverage at frame pixel `(x, y)`, 0..255.
    fn at(&self, x: usize, y: usize) -> u8 {
        if x < self.x0 || y < self.y0 || x >= self.x0 + self.w || y >= self.y0 + self.h {
            return 0;
        }
        self.data[(y - self.y0) * self.w + (x - self.x0)]
    }

    /// Removes `other` from this shape.
    pub fn subtract(&mut self, other: &Coverage) {
        for y in 0..self.h {
            for x in 0..self.w {
                let o = other.at(self.x0 + x, self.y0 + y);
                if o > 0 {
                    let v = &mut self.data[y * self.w + x];
                    *v = ((u16::from(*v) * u16::from(255 - o)) / 255) as u8;
                }
            }
        }
    }

    /// This shape softened by a box blur of radius `r` pixels (twice, so
    /// nearly Gaussian), its box grown to hold the blur.
    pub fn blurred(&self, r: usize) -> Coverage {
        let g = 2 * r;
        let (x0, y0) = (self.x0.saturating_sub(g), self.y0.saturating_sub(g));
        let w = (self.x0 + self.w + g).min(self.frame.0) - x0;
        let h = (self.y0 + self.h + g).min(self.frame.1) - y0;
        let mut a: Vec<f32> = (0..w * h)
            .map(|i| f32::from(self.at(x0 + i % w, y0 + i / w)))
            .collect();
        let mut b = vec![0.0f32; w * h];
        for _ in 0..2 {
            box_pass(&a, &mut b, h, w, r, 1, w);
            box_pass(&b, &mut a, w, h, r, w, 1);
        }
        let data = a
            .iter()
            .map(|&v| (v + 0.5).clamp(0.0, 255.0) as u8)
            .collect();
        Coverage {
            x0,
            y0,
            w,
            h,
            data,
            frame: self.frame,
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

/// One box-filter pass along lines of `len` samples `step` apart, `lines`
/// of them `line_step` apart.
fn box_pass(
    src: &[f32],
    dst: &mut [f32],
    lines: usize,
    len: usize,
    r: usize,
    step: usize,
    line_step: usize,
) {
    let norm = 1.0 / (2 * r + 1) as f32;
    for l in 0..lines {
        let base = l * line_step;
        let get = |i: isize| -> f32 {
            if i < 0 || i >= len as isize {
                0.0
            } else {
                src[base + i as usize * step]
            }
        };
        let mut acc: f32 = (-(r as isize)..=r as isize).map(get).sum();
        for i in 0..len {
            dst[base + i * step] = acc * norm;
            acc += get(i as isize + r as isize + 1) - get(i as isize - r as isize);
        }
    }
}
