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

    /// An approximately standard-normal number (sum of four uniforms).
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

/// Separable Gaussian blur of an interleaved RGB float image.
fn blur(buf: &mut [f32], w: usize, h: usize, sigma: f32) {
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as isize;
    let mut tmp = vec![0.0f32; buf.len()];
    for y in 0..h {
        let row = &buf[y * w * 3..(y + 1) * w * 3];
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (i, kv) in k.iter().enumerate() {
                let xx = (x as isize + i as isize - r).clamp(0, w as isize - 1) as usize;
                for c in 0..3 {
                    acc[c] += kv * row[xx * 3 + c];
                }
            }
            tmp[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (i, kv) in k.iter().enumerate() {
                let yy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
                let o = (yy * w + x) * 3;
                for c in 0..3 {
                    acc[c] += kv * tmp[o + c];
                }
            }
            buf[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
}

/// Turns the rendered scene into the photo the camera delivers.
pub(crate) fn develop(pixmap: &Pixmap, scene: &Scene) -> RgbImage {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let wb = white_balance(scene.light_temperature_k);
    let gain = wb.map(|v| v * scene.exposure.clamp(0.2, 3.0));
    let mut buf: Vec<f32> = Vec::with_capacity(w * h * 3);
    for px in pixmap.data().chunks_exact(4) {
        for c in 0..3 {
            buf.push(f32::from(px[c]) * gain[c]);
        }
    }
    // Blur is specified for a 480-line frame so a scene looks the same at
    // any output size.
    let sigma_px = scene.blur_sigma * h as f32 / 480.0;
    if sigma_px > 0.1 {
        blur(&mut buf, w, h, sigma_px.min(8.0));
    }
    let sigma = scene.noise_sigma.max(0.0);
    let mut out = Vec::with_capacity(w * h * 3);
    if sigma > 0.0 {
        let mut rng = SplitMix(scene.noise_seed ^ 0x5EED_0F_5E45_0125);
        for px in buf.chunks_exact(3) {
            // Shot noise grows with brightness; luminance noise is shared by
            // the channels, chroma noise is not.
            let lum = rng.gauss();
            let chroma = rng.next();
            for c in 0..3 {
                let v = px[c];
                let s = sigma * (0.35 + 0.65 * (v.max(0.0) / 255.0).sqrt());
                let u = ((chroma >> (16 * c)) & 0xFFFF) as f32 / 65535.0 - 0.5;
                out.push((v + s * (0.8 * lum + 0.9 * u)).round().clamp(0.0, 255.0) as u8);
            }
        }
    } else {
        out.extend(buf.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    let img = RgbImage::from_raw(w as u32, h as u32, out)
        .unwrap_or_else(|| RgbImage::new(w as u32, h as u32));
    match scene.jpeg_quality {
        Some(q) => jpeg_round_trip(img, q.clamp(1, 100)),
        None => img,
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
