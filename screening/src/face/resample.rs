//! Pixel resampling for the face stage: the detector's letterbox, rotated
//! crops (landmark ROI, standard view) and box downscaling of huge frames.
//!
//! Coordinates are continuous with pixel centres at `i + 0.5`, as in
//! [`crate::geometry`]. Every function writes through a `put(x, y, [r, g, b])`
//! callback with channel values in `0..=255`, so the same sampler fills a
//! normalised NCHW tensor or an [`RgbImage`] without an intermediate buffer.
//! Samples outside the frame repeat the nearest edge pixel (MediaPipe's
//! default border mode), so a face near the edge is not framed in black.

use image::RgbImage;

use crate::geometry::{Point, Similarity};

/// How an axis-aligned resize placed the frame inside a square input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Side of the square input, pixels.
    pub size: u32,
    /// Left edge of the frame's content inside the input, pixels.
    pub offset_x: u32,
    /// Top edge of the frame's content, pixels.
    pub offset_y: u32,
    /// Width of the content, pixels.
    pub content_width: u32,
    /// Height of the content, pixels.
    pub content_height: u32,
    /// Frame pixels per input pixel, horizontally.
    pub frame_per_input_x: f32,
    /// Frame pixels per input pixel, vertically.
    pub frame_per_input_y: f32,
}

impl Letterbox {
    /// Fits a `width`×`height` frame into a `size`-pixel square keeping its
    /// aspect ratio; the content is snapped to whole input pixels (the aspect
    /// error is below half a pixel) so the padding is exactly black.
    pub fn fit(width: u32, height: u32, size: u32) -> Letterbox {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        let scale = size as f32 / w.max(h);
        let cw = ((w * scale).round() as u32).clamp(1, size);
        let ch = ((h * scale).round() as u32).clamp(1, size);
        Letterbox {
            size,
            offset_x: (size - cw) / 2,
            offset_y: (size - ch) / 2,
            content_width: cw,
            content_height: ch,
            frame_per_input_x: w / cw as f32,
            frame_per_input_y: h / ch as f32,
        }
    }

    /// Maps a point of the square input back to the frame.
    pub fn to_frame(&self, p: Point) -> Point {
        Point::new(
            (p.x - self.offset_x as f32) * self.frame_per_input_x,
            (p.y - self.offset_y as f32) * self.frame_per_input_y,
        )
    }
}

/// Filter taps of a 1-D resize: for each output index, `width` weights
/// starting at source index `start`.
struct Taps {
    start: Vec<usize>,
    width: usize,
    weights: Vec<f32>,
}

impl Taps {
    /// Triangle filter, widened to the output pixel's footprint when
    /// shrinking (an antialiased "bilinear" resize, like Pillow's), plain
    /// linear interpolation when enlarging.
    fn triangle(src: usize, dst: usize) -> Taps {
        let ratio = src as f32 / dst as f32;
        let radius = ratio.max(1.0);
        let width = (2.0 * radius).ceil() as usize + 1;
        let mut start = Vec::with_capacity(dst);
        let mut weights = vec![0.0f32; dst * width];
        for o in 0..dst {
            let centre = (o as f32 + 0.5) * ratio;
            let first = (centre - radius).floor().max(0.0) as usize;
            let first = first.min(src.saturating_sub(1));
            let ws = &mut weights[o * width..(o + 1) * width];
            let mut sum = 0.0;
            for (k, w) in ws.iter_mut().enumerate() {
                let i = first + k;
                if i >= src {
                    break;
                }
                let d = ((i as f32 + 0.5) - centre).abs() / radius;
                *w = (1.0 - d).max(0.0);
                sum += *w;
            }
            if sum > 0.0 {
                ws.iter_mut().for_each(|w| *w /= sum);
            } else {
                ws[0] = 1.0;
            }
            start.push(first);
        }
        Taps {
            start,
            width,
            weights,
        }
    }

    fn of(&self, o: usize) -> (usize, &[f32]) {
        (
            self.start[o],
            &self.weights[o * self.width..(o + 1) * self.width],
        )
    }
}

/// Resizes the whole `frame` to `out_w`×`out_h` (separable triangle filter,
/// antialiased when shrinking) and hands each output pixel to `put`.
///
/// Works row by row with one accumulator row, so memory stays at one source
/// row of floats whatever the frame size.
pub fn resize(frame: &RgbImage, out_w: u32, out_h: u32, mut put: impl FnMut(u32, u32, [f32; 3])) {
    let (sw, sh) = (frame.width() as usize, frame.height() as usize);
    if sw == 0 || sh == 0 || out_w == 0 || out_h == 0 {
        return;
    }
    let xs = Taps::triangle(sw, out_w as usize);
    let ys = Taps::triangle(sh, out_h as usize);
    let raw = frame.as_raw();
    let stride = sw * 3;
    let mut acc = vec![0.0f32; stride];
    for oy in 0..out_h as usize {
        acc.iter_mut().for_each(|a| *a = 0.0);
        let (y0, wy) = ys.of(oy);
        for (k, &w) in wy.iter().enumerate() {
            let y = y0 + k;
            if w == 0.0 || y >= sh {
                continue;
            }
            let row = &raw[y * stride..(y + 1) * stride];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += w * v as f32;
            }
        }
        for ox in 0..out_w as usize {
            let (x0, wx) = xs.of(ox);
            let mut rgb = [0.0f32; 3];
            for (k, &w) in wx.iter().enumerate() {
                let x = x0 + k;
                if x >= sw {
                    break;
                }
                let px = &acc[x * 3..x * 3 + 3];
                rgb[0] += w * px[0];
                rgb[1] += w * px[1];
                rgb[2] += w * px[2];
            }
            put(ox as u32, oy as u32, rgb);
        }
    }
}

/// Letterboxes `frame` into a square of `size` pixels: the resized content at
/// `letterbox`'s place, black (0) padding around it.
///
/// A frame more than twice the input's size is first box-shrunk by the
/// integer part of the ratio (cheap: each byte is read once), and the
/// triangle filter only does the last, less-than-2× step. The returned
/// mapping already accounts for both steps.
pub fn letterbox(
    frame: &RgbImage,
    size: u32,
    mut put: impl FnMut(u32, u32, [f32; 3]),
) -> Letterbox {
    let m = (frame.width().max(frame.height()) / size.max(1)).max(1);
    let shrunk;
    let src = if m >= 2 {
        shrunk = box_shrink(frame, m);
        &shrunk
    } else {
        frame
    };
    let mut lb = Letterbox::fit(src.width(), src.height(), size);
    for y in 0..size {
        for x in 0..size {
            let inside = (lb.offset_x..lb.offset_x + lb.content_width).contains(&x)
                && (lb.offset_y..lb.offset_y + lb.content_height).contains(&y);
            if !inside {
                put(x, y, [0.0; 3]);
            }
        }
    }
    resize(src, lb.content_width, lb.content_height, |x, y, rgb| {
        put(x + lb.offset_x, y + lb.offset_y, rgb)
    });
    lb.frame_per_input_x *= m as f32;
    lb.frame_per_input_y *= m as f32;
    lb
}

/// Bilinear sample of `frame` at continuous point `(x, y)`, edges repeated.
#[inline]
fn bilinear(raw: &[u8], w: usize, h: usize, x: f32, y: f32) -> [f32; 3] {
    // Shift to pixel-index space (centres at integers).
    let fx = (x - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = (y - 0.5).clamp(0.0, (h - 1) as f32);
    let x0 = fx as usize;
    let y0 = fy as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let p = |xx: usize, yy: usize| {
        let i = (yy * w + xx) * 3;
        [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32]
    };
    let (p00, p10, p01, p11) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0.0; 3];
    for c in 0..3 {
        let top = p00[c] + ax * (p10[c] - p00[c]);
        let bottom = p01[c] + ax * (p11[c] - p01[c]);
        out[c] = top + ay * (bottom - top);
    }
    out
}

/// Fills an `out_w`×`out_h` crop whose pixel `(u, v)` shows the frame at
/// `crop_to_frame(u + 0.5, v + 0.5)`.
///
/// With `antialias`, when one crop pixel spans m ≥ 2 frame pixels, the part
/// of the frame under the crop is first box-shrunk by m, then sampled
/// bilinearly, so shrinking a large face does not alias and costs about the
/// same whatever its size. Without it, one bilinear sample per pixel (what
/// MediaPipe's landmark model was trained on).
pub fn warp(
    frame: &RgbImage,
    crop_to_frame: &Similarity,
    out_w: u32,
    out_h: u32,
    antialias: bool,
    mut put: impl FnMut(u32, u32, [f32; 3]),
) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w == 0 || h == 0 || out_w == 0 || out_h == 0 {
        return;
    }
    let footprint = crop_to_frame.scale();
    let m = if antialias && footprint.is_finite() {
        footprint.floor().clamp(1.0, 64.0) as u32
    } else {
        1
    };
    if m >= 2 {
        // The frame pixels under the crop (plus a pixel for the bilinear
        // neighbours), clipped to the frame: what lies outside repeats the
        // edge either way.
        let corners = [
            (0.0, 0.0),
            (out_w as f32, 0.0),
            (0.0, out_h as f32),
            (out_w as f32, out_h as f32),
        ]
        .map(|(u, v)| crop_to_frame.apply(Point::new(u, v)));
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for c in corners {
            x0 = x0.min(c.x);
            y0 = y0.min(c.y);
            x1 = x1.max(c.x);
            y1 = y1.max(c.y);
        }
        let mf = m as f32;
        let clip = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
        // Align the region on multiples of m so blocks are the same whatever the crop.
        let rx0 = clip((x0 - mf).floor() / mf, w / m as usize) * m as usize;
        let ry0 = clip((y0 - mf).floor() / mf, h / m as usize) * m as usize;
        let rx1 = clip((x1 + mf).ceil(), w);
        let ry1 = clip((y1 + mf).ceil(), h);
        if rx1 > rx0 + m as usize && ry1 > ry0 + m as usize {
            let patch = box_shrink_region(frame, rx0, ry0, rx1, ry1, m);
            // Frame point p → patch point (p − origin) / m.
            let inv = 1.0 / mf;
            let t = Similarity {
                a: crop_to_frame.a * inv,
                b: crop_to_frame.b * inv,
                tx: (crop_to_frame.tx - rx0 as f32) * inv,
                ty: (crop_to_frame.ty - ry0 as f32) * inv,
            };
            sample(&patch, &t, out_w, out_h, put);
            return;
        }
    }
    sample(frame, crop_to_frame, out_w, out_h, &mut put);
}

/// One bilinear sample of `src` per output pixel.
fn sample(
    src: &RgbImage,
    t: &Similarity,
    out_w: u32,
    out_h: u32,
    mut put: impl FnMut(u32, u32, [f32; 3]),
) {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let raw = src.as_raw();
    for v in 0..out_h {
        // Step along the row instead of a full transform per pixel.
        let mut p = t.apply(Point::new(0.5, v as f32 + 0.5));
        for u in 0..out_w {
            put(u, v, bilinear(raw, w, h, p.x, p.y));
            p.x += t.a;
            p.y += t.b;
        }
    }
}

/// Box-shrinks the frame region `[x0, x1) × [y0, y1)` by `m`: each output
/// pixel is the mean of an m×m block (a trailing partial block is dropped; a
/// region narrower than `m` gives one pixel averaging all of it).
fn box_shrink_region(
    frame: &RgbImage,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    m: u32,
) -> RgbImage {
    let m = m.max(1) as usize;
    let (rw, rh) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if rw == 0 || rh == 0 {
        return RgbImage::new(0, 0);
    }
    let block = Block {
        x0,
        y0,
        bw: m.min(rw),
        bh: m.min(rh),
        pw: rw / m.min(rw),
        ph: rh / m.min(rh),
    };
    // u16 sums are twice as wide per SIMD register; they hold 257 rows of 255.
    let out = if block.bh <= 257 {
        block.shrink::<u16>(frame)
    } else {
        block.shrink::<u32>(frame)
    };
    RgbImage::from_raw(block.pw as u32, block.ph as u32, out).unwrap_or_default()
}

/// The blocks of a box shrink: region origin, block size, output size.
struct Block {
    x0: usize,
    y0: usize,
    bw: usize,
    bh: usize,
    pw: usize,
    ph: usize,
}

impl Block {
    fn shrink<T>(&self, frame: &RgbImage) -> Vec<u8>
    where
        T: Copy + Default + From<u8> + std::ops::AddAssign + Into<u32>,
    {
        let fw = frame.width() as usize;
        let raw = frame.as_raw();
        let span = self.pw * self.bw * 3;
        let mut out = vec![0u8; self.pw * self.ph * 3];
        // Sum bh rows first (one long, vectorisable loop per row), then the
        // blocks of that sum: each frame byte is read once.
        let mut acc = vec![T::default(); span];
        let n = (self.bw * self.bh) as u32;
        for (py, row_out) in out.chunks_exact_mut(self.pw * 3).enumerate() {
            acc.iter_mut().for_each(|a| *a = T::default());
            for y in self.y0 + py * self.bh..self.y0 + (py + 1) * self.bh {
                let start = (y * fw + self.x0) * 3;
                for (a, &v) in acc.iter_mut().zip(&raw[start..start + span]) {
                    *a += T::from(v);
                }
            }
            for (o, block) in row_out
                .chunks_exact_mut(3)
                .zip(acc.chunks_exact(self.bw * 3))
            {
                let mut sum = [0u32; 3];
                for k in block.chunks_exact(3) {
                    sum[0] += k[0].into();
                    sum[1] += k[1].into();
                    sum[2] += k[2].into();
                }
                for (o, s) in o.iter_mut().zip(sum) {
                    *o = ((s + n / 2) / n) as u8;
                }
            }
        }
        out
    }
}

/// Shrinks `frame` by an integer `factor` by averaging factor×factor blocks
/// (a trailing partial block is dropped, so frame = result × factor exactly;
/// a side shorter than `factor` becomes one pixel).
pub fn box_shrink(frame: &RgbImage, factor: u32) -> RgbImage {
    box_shrink_region(
        frame,
        0,
        0,
        frame.width() as usize,
        frame.height() as usize,
        factor,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_of_640x480_pads_top_and_bottom() {
        let lb = Letterbox::fit(640, 480, 128);
        assert_eq!(
            (
                lb.offset_x,
                lb.offset_y,
                lb.content_width,
                lb.content_height
            ),
            (0, 16, 128, 96)
        );
        let p = lb.to_frame(Point::new(64.0, 64.0));
        assert!((p.x - 320.0).abs() < 1e-3 && (p.y - 240.0).abs() < 1e-3);
    }

    #[test]
    fn resize_keeps_a_flat_colour_flat() {
        let img = RgbImage::from_pixel(37, 23, image::Rgb([10, 100, 200]));
        for (w, h) in [(5, 3), (128, 96), (1, 1)] {
            resize(&img, w, h, |_, _, rgb| {
                assert!((rgb[0] - 10.0).abs() < 1e-3 && (rgb[2] - 200.0).abs() < 1e-3);
            });
        }
    }

    #[test]
    fn warp_identity_reproduces_the_frame() {
        let img = RgbImage::from_fn(9, 7, |x, y| image::Rgb([(x * 20) as u8, (y * 30) as u8, 5]));
        for aa in [false, true] {
            warp(&img, &Similarity::IDENTITY, 9, 7, aa, |u, v, rgb| {
                let p = img.get_pixel(u, v);
                assert!((rgb[0] - p[0] as f32).abs() < 1e-3, "{u} {v} {rgb:?} {p:?}");
                assert!((rgb[1] - p[1] as f32).abs() < 1e-3);
            });
        }
    }

    #[test]
    fn antialiased_warp_averages_the_footprint() {
        // Stripes one pixel wide: a 2× shrink must give their mean, not alias.
        let img = RgbImage::from_fn(64, 48, |x, _| {
            image::Rgb([if x % 2 == 0 { 0 } else { 200 }, 50, 0])
        });
        let half = Similarity {
            a: 2.0,
            b: 0.0,
            tx: 0.0,
            ty: 0.0,
        };
        warp(&img, &half, 32, 24, true, |u, v, rgb| {
            assert!((rgb[0] - 100.0).abs() < 1.0, "{u} {v} {rgb:?}");
            assert!((rgb[1] - 50.0).abs() < 1e-3);
        });
        // Off-frame parts repeat the edge rather than going black.
        let shifted = Similarity {
            a: 2.0,
            b: 0.0,
            tx: -40.0,
            ty: -40.0,
        };
        warp(&img, &shifted, 32, 24, true, |_, _, rgb| {
            assert!(rgb[1] > 49.0)
        });
    }

    #[test]
    fn box_shrink_averages_blocks() {
        let img = RgbImage::from_fn(4, 2, |x, _| {
            image::Rgb([if x % 2 == 0 { 0 } else { 200 }, 0, 0])
        });
        let s = box_shrink(&img, 2);
        assert_eq!(s.dimensions(), (2, 1));
        assert_eq!(s.get_pixel(0, 0)[0], 100);
        // A side shorter than the factor still gives a pixel.
        assert_eq!(box_shrink(&RgbImage::new(100, 3), 6).dimensions(), (16, 1));
        assert_eq!(box_shrink(&RgbImage::new(1, 1), 6).dimensions(), (1, 1));
    }

    #[test]
    fn letterbox_of_a_large_frame_maps_back_to_its_pixels() {
        let img = RgbImage::from_fn(1280, 960, |x, y| {
            image::Rgb([(x / 10) as u8, (y / 10) as u8, 0])
        });
        let mut centre = [0.0; 3];
        let lb = letterbox(&img, 128, |x, y, rgb| {
            if (x, y) == (64, 64) {
                centre = rgb;
            }
        });
        let p = lb.to_frame(Point::new(64.5, 64.5));
        assert!(
            (p.x - 645.0).abs() < 1e-3 && (p.y - 485.0).abs() < 1e-3,
            "{p:?}"
        );
        // Input pixel (64, 64) averages frame block x 640..650, y 480..490.
        assert!(
            (centre[0] - 64.0).abs() < 0.6 && (centre[1] - 48.0).abs() < 0.6,
            "{centre:?}"
        );
    }
}
