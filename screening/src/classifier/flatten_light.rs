//! Light flattening: the step before normalisation that divides out slow
//! changes of brightness (side light, exposure, a bright wall behind the
//! patient), so the network sees the face's own shading.
//!
//! Each pixel is multiplied by `gain / (floor + L)`, where `L` is the
//! luminance `(R + G + B) / 3` box-blurred `passes` times with `radius`
//! (three passes are close to a Gaussian). Creases around a closed eye or a
//! smile are finer than the blur and stay; a lamp on one side does not. The
//! floor keeps a dark room from turning sensor noise into contrast.
//!
//! Training does the same in numpy (`models/train/data.py`,
//! `flatten_light`). Every operation here is the same one in the same order
//! and precision: f32 for the luminance and the product, f64 running sums
//! for the blur, rounded to f32 after each axis. So the network's input on
//! the kiosk is bit for bit the one training saw.

use image::RgbImage;

/// The manifest's `flatten_light` table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlattenLight {
    /// Half-width of the box, in pixels (the box is `2 radius + 1` wide).
    pub radius: usize,
    /// How many times the box blur runs.
    pub passes: usize,
    /// Added to the blurred luminance (0..255 scale) before dividing.
    pub floor: f32,
    /// The multiplier a pixel gets where the blurred luminance is `gain - floor`.
    pub gain: f32,
}

impl FlattenLight {
    /// Reads `{ radius, passes, floor, gain }` from a manifest value.
    pub fn from_toml(value: &toml::Value) -> Result<FlattenLight, String> {
        let table = value.as_table().ok_or_else(|| {
            format!("flatten_light must be a table {{ radius, passes, floor, gain }}, not {value}")
        })?;
        let int = |key: &str, max: i64| match table.get(key) {
            Some(toml::Value::Integer(i)) if (1..=max).contains(i) => Ok(*i as usize),
            Some(other) => Err(format!(
                "flatten_light.{key} must be an integer from 1 to {max}, not {other}"
            )),
            None => Err(format!("flatten_light.{key} is missing")),
        };
        let float = |key: &str| match table.get(key) {
            Some(toml::Value::Float(f)) if f.is_finite() && *f > 0.0 => Ok(*f as f32),
            Some(toml::Value::Integer(i)) if *i > 0 => Ok(*i as f32),
            Some(other) => Err(format!(
                "flatten_light.{key} must be a positive number, not {other}"
            )),
            None => Err(format!("flatten_light.{key} is missing")),
        };
        Ok(FlattenLight {
            radius: int("radius", 64)?,
            passes: int("passes", 8)?,
            floor: float("floor")?,
            gain: float("gain")?,
        })
    }

    /// The flattened pixels of `view`, interleaved RGB like the image, on
    /// the 0..255 scale (clamped to it).
    pub fn apply(&self, view: &RgbImage) -> Vec<f32> {
        let (w, h) = (view.width() as usize, view.height() as usize);
        let pixels = view.as_raw();
        let mut lum = vec![0f32; w * h];
        for (l, p) in lum.iter_mut().zip(pixels.chunks_exact(3)) {
            *l = (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / 3.0;
        }
        for _ in 0..self.passes {
            lum = box_blur(&lum, w, h, self.radius);
        }
        let mut out = vec![0f32; pixels.len()];
        for ((o, p), &l) in out
            .chunks_exact_mut(3)
            .zip(pixels.chunks_exact(3))
            .zip(&lum)
        {
            let gain = self.gain / (l + self.floor);
            for (o, &v) in o.iter_mut().zip(p) {
                *o = (f32::from(v) * gain).clamp(0.0, 255.0);
            }
        }
        out
    }
}

/// Mean over a `(2r + 1)²` window with edges clamped: down the columns
/// first, then along the rows, as numpy's axis 1 then axis 2.
///
/// Each output is the difference of two running sums `2r + 1` apart over
/// `2r + 1`, the sums taken in f64 over the line padded with `r + 1` copies
/// of its first value and `r` of its last (the extra leading copy makes
/// `sum[j + 2r + 1] − sum[j]` the window centred on `j`). The column pass
/// keeps one running sum per column and walks down the rows, so the inner
/// loop runs along memory; every column still adds its values in numpy's
/// order.
fn box_blur(plane: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let width = 2 * r + 1;
    let n = width as f64;
    // The running sums of the padded columns, row by row; only the last
    // `width + 1` rows are needed, so they live in a ring that stays in cache.
    let ring_rows = width + 1;
    let mut ring = vec![0f64; ring_rows * w];
    let mut acc = vec![0f64; w];
    let mut down = vec![0f32; w * h];
    for i in 0..h + width {
        let y = i.saturating_sub(r + 1).min(h - 1);
        for (a, &v) in acc.iter_mut().zip(&plane[y * w..(y + 1) * w]) {
            *a += f64::from(v);
        }
        let slot = i % ring_rows;
        ring[slot * w..(slot + 1) * w].copy_from_slice(&acc);
        if let Some(j) = i.checked_sub(width) {
            let lo = (j % ring_rows) * w;
            let out = &mut down[j * w..(j + 1) * w];
            for (x, o) in out.iter_mut().enumerate() {
                *o = ((acc[x] - ring[lo + x]) / n) as f32;
            }
        }
    }
    let mut out = vec![0f32; w * h];
    let mut line = vec![0f64; w + width];
    for (src, dst) in down.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        blur_line(src, r, &mut line, dst);
    }
    out
}

/// One row of the box blur (see [`box_blur`]); `sums` is scratch space of
/// `len + 2r + 1` values.
fn blur_line(line: &[f32], r: usize, sums: &mut [f64], out: &mut [f32]) {
    let len = line.len();
    let width = 2 * r + 1;
    let mut acc = 0f64;
    for (i, s) in sums[..len + width].iter_mut().enumerate() {
        acc += f64::from(line[i.saturating_sub(r + 1).min(len - 1)]);
        *s = acc;
    }
    for (j, o) in out.iter_mut().enumerate() {
        *o = ((sums[j + width] - sums[j]) / width as f64) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    const PARAMS: FlattenLight = FlattenLight {
        radius: 8,
        passes: 3,
        floor: 16.0,
        gain: 128.0,
    };

    #[test]
    fn a_uniform_grey_keeps_its_level_scaled_by_the_gain() {
        let view = RgbImage::from_pixel(40, 30, Rgb([100, 100, 100]));
        let out = PARAMS.apply(&view);
        let expected = 100.0 * 128.0 / 116.0;
        assert!(
            out.iter().all(|v| (v - expected).abs() < 1e-3),
            "{}",
            out[0]
        );
    }

    #[test]
    fn a_brightness_ramp_is_flattened() {
        // Side light: the same grey face-sized patch, lit from 40 to 200.
        let view = RgbImage::from_fn(112, 112, |x, _| {
            let level = 40 + (160 * x / 111) as u8;
            Rgb([level, level, level])
        });
        let out = PARAMS.apply(&view);
        let at = |x: usize| out[(56 * 112 + x) * 3];
        // Away from the edges the five-fold brightness difference shrinks
        // to under 1.3-fold (the floor keeps a little of it).
        let (dark, bright) = (at(30), at(82));
        assert!(bright / dark < 1.3, "{dark} {bright}");
        assert!(bright > dark, "the order of brightness survives");
    }

    #[test]
    fn blur_line_matches_a_direct_clamped_window_mean() {
        let line: Vec<f32> = (0..20).map(|i| ((i * 37) % 11) as f32 + 0.25).collect();
        let r = 3;
        let mut out = vec![0f32; line.len()];
        blur_line(&line, r, &mut vec![0f64; line.len() + 2 * r + 1], &mut out);
        for (j, v) in out.iter().enumerate() {
            let direct: f32 = (j as i64 - r as i64..=j as i64 + r as i64)
                .map(|i| line[i.clamp(0, 19) as usize])
                .sum::<f32>()
                / 7.0;
            assert!((v - direct).abs() < 1e-5, "{j}: {v} vs {direct}");
        }
    }

    #[test]
    fn box_blur_runs_the_line_blur_down_the_columns_then_along_the_rows() {
        let (w, h, r) = (9, 13, 2);
        let plane: Vec<f32> = (0..w * h)
            .map(|i| ((i * 7919) % 101) as f32 / 3.0)
            .collect();
        let blur = |l: &[f32]| {
            let mut out = vec![0f32; l.len()];
            blur_line(l, r, &mut vec![0f64; l.len() + 2 * r + 1], &mut out);
            out
        };
        let mut down = vec![0f32; w * h];
        for x in 0..w {
            let column: Vec<f32> = (0..h).map(|y| plane[y * w + x]).collect();
            for (y, v) in blur(&column).into_iter().enumerate() {
                down[y * w + x] = v;
            }
        }
        let expected: Vec<f32> = down.chunks_exact(w).flat_map(blur).collect();
        // Bit for bit: the same additions in the same order.
        assert_eq!(box_blur(&plane, w, h, r), expected);
    }

    #[test]
    fn manifest_table_is_checked() {
        let ok: toml::Value = toml::from_str::<toml::Table>(
            "t = { radius = 8, passes = 3, floor = 16.0, gain = 128 }",
        )
        .unwrap()["t"]
            .clone();
        assert_eq!(FlattenLight::from_toml(&ok), Ok(PARAMS));
        let bad: toml::Value =
            toml::from_str::<toml::Table>("t = { radius = 0, passes = 3 }").unwrap()["t"].clone();
        let err = FlattenLight::from_toml(&bad).unwrap_err();
        assert!(err.contains("flatten_light.radius"), "{err}");
        let err = FlattenLight::from_toml(&toml::Value::Integer(3)).unwrap_err();
        assert!(err.contains("must be a table"), "{err}");
    }
}
