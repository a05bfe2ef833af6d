//! The camera's imperfections, applied to the finished scene: white balance
//! and exposure, lens blur, sensor noise and a JPEG round trip. All seeded,
//! so the same scene gives the same bytes.

use image::RgbImage;
use tiny_skia::Pixmap;

use super::colour::white_balance;
use super::scene::Scene;

/// SplitMix64: a tiny, fast, well-mixed generator for per-pixel noise.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An approximately standard-normal number (sum of four uniforms); the
    /// tests check the noise statistics with it.
    #[cfg(test)]
    fn gauss(&mut self) -> f32 {
        let r = self.next();
        let s: u32 = (0..4).map(|k| ((r >> (16 * k)) & 0xFFFF) as u32).sum();
        (s as f32 / 65535.0 - 2.0) * 1.732_050_8
    }
}

fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i32;
    let mut k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Separable Gaussian blur of an interleaved RGB float image. Rows are
/// padded by edge replication so the inner loops run over whole rows without
/// bounds logic (and vectorise).
fn blur(buf: &mut [f32], w: usize, h: usize, sigma: f32) {
    let k = gaussian_kernel(sigma);
    let r = k.len() / 2;
    let stride = w * 3;
    // Horizontal.
    let mut padded = vec![0.0f32; (w + 2 * r) * 3];
    let mut tmp = vec![0.0f32; buf.len()];
    for y in 0..h {
        let row = &buf[y * stride..(y + 1) * stride];
        for x in 0..w + 2 * r {
            let sx = x.saturating_sub(r).min(w - 1);
            padded[x * 3..x * 3 + 3].copy_from_slice(&row[sx * 3..sx * 3 + 3]);
        }
        let out = &mut tmp[y * stride..(y + 1) * stride];
        for (i, &kv) in k.iter().enumerate() {
            let src = &padded[i * 3..i * 3 + stride];
            for (o, s) in out.iter_mut().zip(src) {
                *o += kv * s;
            }
        }
    }
    // Vertical.
    for y in 0..h {
        let out = &mut buf[y * stride..(y + 1) * stride];
        out.iter_mut().for_each(|v| *v = 0.0);
        for (i, &kv) in k.iter().enumerate() {
            let sy = (y + i).saturating_sub(r).min(h - 1);
            let src = &tmp[sy * stride..(sy + 1) * stride];
            for (o, s) in out.iter_mut().zip(src) {
                *o += kv * s;
            }
        }
    }
}

/// Turns the rendered scene into the photo the camera delivers.
pub(crate) fn develop(pixmap: &Pixmap, scene: &Scene) -> RgbImage {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let wb = white_balance(scene.light_temperature_k);
    let gain = wb.map(|v| v * scene.exposure.clamp(0.2, 3.0));
    // Blur is specified for a 480-line frame so a scene looks the same at
    // any output size.
    let sigma_px = scene.blur_sigma * h as f32 / 480.0;
    let sigma = scene.noise_sigma.max(0.0);
    let mut out = Vec::with_capacity(w * h * 3);
    if sigma_px > 0.1 {
        let mut buf: Vec<f32> = Vec::with_capacity(w * h * 3);
        for px in pixmap.data().chunks_exact(4) {
            for c in 0..3 {
                buf.push(f32::from(px[c]) * gain[c]);
            }
        }
        blur(&mut buf, w, h, sigma_px.min(8.0));
        out.extend(buf.iter().map(|&v| (v + 0.5).clamp(0.0, 255.0) as u8));
    } else {
        // Without blur, white balance and exposure are a per-channel table.
        let lut: [[u8; 256]; 3] = std::array::from_fn(|c| {
            std::array::from_fn(|v| (v as f32 * gain[c] + 0.5).clamp(0.0, 255.0) as u8)
        });
        for px in pixmap.data().chunks_exact(4) {
            out.extend_from_slice(&[
                lut[0][usize::from(px[0])],
                lut[1][usize::from(px[1])],
                lut[2][usize::from(px[2])],
            ]);
        }
    }
    if sigma > 0.0 {
        add_noise(&mut out, sigma, scene.noise_seed);
    }
    let img = RgbImage::from_raw(w as u32, h as u32, out)
        .unwrap_or_else(|| RgbImage::new(w as u32, h as u32));
    match scene.jpeg_quality {
        Some(q) => jpeg_round_trip(img, q.clamp(1, 100)),
        None => img,
    }
}

/// Sensor noise: shot noise that grows with brightness, luminance noise
/// shared by the channels and a little chroma noise.
fn add_noise(rgb: &mut [u8], sigma: f32, seed: u64) {
    let mut rng = SplitMix(seed ^ 0x5EED_0F5E_4501_25AA);
    // Noise standard deviation per 8-bit level.
    let scale: [f32; 256] =
        std::array::from_fn(|v| sigma * (0.35 + 0.65 * (v as f32 / 255.0).sqrt()));
    for px in rgb.chunks_exact_mut(3) {
        let r = rng.next();
        // Luminance: sum of three 12-bit uniforms (about normal), chroma:
        // three 8-bit uniforms.
        let s: u32 = (0..3).map(|k| ((r >> (12 * k)) & 0xFFF) as u32).sum();
        let lum = (s as f32 / 4095.0 - 1.5) * 2.0;
        for (c, v) in px.iter_mut().enumerate() {
            let u = ((r >> (36 + 8 * c)) & 0xFF) as f32 / 255.0 - 0.5;
            let n = scale[usize::from(*v)] * (0.85 * lum + 0.9 * u);
            *v = (f32::from(*v) + n + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
}

/// Encodes and decodes as JPEG; on the (unexpected) failure of either, the
/// uncompressed frame is returned, since rendering must not fail.
fn jpeg_round_trip(img: RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if enc.encode_image(&img).is_err() {
        return img;
    }
    match image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg) {
        Ok(decoded) => decoded.to_rgb8(),
        Err(_) => img,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seeded_and_centred() {
        let mut a = SplitMix(5);
        let mut b = SplitMix(5);
        let xs: Vec<f32> = (0..20000).map(|_| a.gauss()).collect();
        assert!(xs
            .iter()
            .zip((0..20000).map(|_| b.gauss()))
            .all(|(x, y)| *x == y));
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn blur_keeps_flat_images_flat() {
        let mut buf = vec![100.0f32; 10 * 8 * 3];
        blur(&mut buf, 10, 8, 1.5);
        assert!(buf.iter().all(|v| (v - 100.0).abs() < 1e-3));
    }
}
