//! The class-activation map: where in the standard view the network saw
//! synkinesis, and that map laid over the view for the nurse and the web page.

use image::RgbImage;

/// A class-activation map: a small grid over the standard view, row-major,
/// positive where the network sees synkinesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height` values, row by row.
    pub values: Vec<f32>,
}

impl Heatmap {
    /// Bilinear sample at `(x, y)` in grid units where cell centres sit at
    /// half-integers (the convention of `align_corners = false`).
    fn sample(&self, x: f32, y: f32) -> f32 {
        let (w, h) = (self.width as usize, self.height as usize);
        let fx = (x - 0.5).clamp(0.0, (w - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let v = |x: usize, y: usize| self.values[y * w + x];
        let top = v(x0, y0) * (1.0 - tx) + v(x1, y0) * tx;
        let bottom = v(x0, y1) * (1.0 - tx) + v(x1, y1) * tx;
        top * (1.0 - ty) + bottom * ty
    }

    /// The map upsampled (bilinear) to `width × height`, scaled so that the
    /// largest positive value is 1; negative evidence (against synkinesis)
    /// is 0. A map with no positive value gives all zeros.
    pub fn upsampled(&self, width: u32, height: u32) -> Vec<f32> {
        let peak = self.values.iter().copied().fold(0.0f32, f32::max);
        if self.values.is_empty() || peak <= 0.0 || !peak.is_finite() {
            return vec![0.0; width as usize * height as usize];
        }
        let (sx, sy) = (
            self.width as f32 / width as f32,
            self.height as f32 / height as f32,
        );
        let mut out = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                let v = self.sample((x as f32 + 0.5) * sx, (y as f32 + 0.5) * sy);
                out.push((v / peak).clamp(0.0, 1.0));
            }
        }
        out
    }

    /// The view with the map laid over it: upsampled to the view's size,
    /// coloured from dark purple (weak) to pale yellow (strongest), and
    /// blended more opaquely where the evidence is stronger, so regions
    /// without evidence show the face unchanged.
    pub fn to_overlay(&self, view: &RgbImage) -> RgbImage {
        let heat = self.upsampled(view.width(), view.height());
        let mut out = view.clone();
        for (p, &t) in out.pixels_mut().zip(&heat) {
            let colour = colour_map(t);
            let alpha = MAX_OVERLAY_ALPHA * t;
            for c in 0..3 {
                let v = f32::from(p[c]) * (1.0 - alpha) + colour[c] * alpha;
                p[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }
}

/// Opacity of the overlay where the map is strongest.
const MAX_OVERLAY_ALPHA: f32 = 0.6;

/// An "inferno"-like colour map, `t` in `0..=1` to sRGB.
fn colour_map(t: f32) -> [f32; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [87.0, 16.0, 110.0],
        [188.0, 55.0, 84.0],
        [249.0, 142.0, 9.0],
        [252.0, 255.0, 164.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn heatmap_upsampling_keeps_the_peak_where_it_is() {
        let mut values = vec![0.0; 16];
        values[4 + 2] = 2.0; // row 1, column 2
        values[0] = -5.0;
        let map = Heatmap {
            width: 4,
            height: 4,
            values,
        };
        let up = map.upsampled(16, 16);
        let (ix, peak) = up
            .iter()
            .enumerate()
            .fold((0, 0.0f32), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        // Cell centres fall between output pixels, so the peak is sampled near, not at, 1.
        assert!(peak > 0.7 && peak <= 1.0, "{peak}");
        let (x, y) = (ix % 16, ix / 16);
        assert!(
            (8..12).contains(&x) && (4..8).contains(&y),
            "peak at {x},{y}"
        );
        assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
        // Negative evidence draws nothing.
        assert_eq!(up[0], 0.0);
    }

    #[test]
    fn overlay_leaves_pixels_without_evidence_alone() {
        let view = RgbImage::from_pixel(8, 8, Rgb([100, 120, 140]));
        let none = Heatmap {
            width: 2,
            height: 2,
            values: vec![-1.0; 4],
        };
        assert_eq!(none.to_overlay(&view), view);
        let some = Heatmap {
            width: 2,
            height: 2,
            values: vec![0.0, 0.0, 0.0, 1.0],
        };
        let out = some.to_overlay(&view);
        assert_eq!(out.get_pixel(0, 0), view.get_pixel(0, 0));
        assert_ne!(out.get_pixel(7, 7), view.get_pixel(7, 7));
    }
}
