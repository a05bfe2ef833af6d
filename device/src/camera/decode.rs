//! Frame decoding shared by the cameras: JPEG (V4L2 MJPEG buffers and replay
//! files) and packed YUYV 4:2:2 (V4L2), both to 8-bit RGB, with the size and
//! length checks that turn a bad frame into [`CameraError::Corrupt`] instead
//! of a panic or a wrong picture. Also the JPEG frame splitter for MJPEG
//! files (concatenated JPEGs).

use std::ops::Range;

use image::RgbImage;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::CameraError;

/// Largest picture side a camera or replay file may announce. Guards the
/// allocation against a corrupt header (zune-jpeg's own limit is 16384,
/// which would allow an 800 MB buffer).
pub const MAX_SIDE: u32 = 4096;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

fn corrupt(device: &str, detail: impl Into<String>) -> CameraError {
    CameraError::Corrupt {
        device: device.to_string(),
        detail: detail.into(),
    }
}

/// Decodes one JPEG (or MJPEG frame, whose Huffman tables may be omitted) to
/// RGB. With `expect = Some((w, h))` a picture of another size is refused
/// before any pixel is decoded. A missing start or end marker (a truncated
/// USB transfer) is refused too: zune-jpeg would otherwise fill the missing
/// part with grey and call it a picture.
pub fn decode_jpeg(
    data: &[u8],
    expect: Option<(u32, u32)>,
    device: &str,
) -> Result<RgbImage, CameraError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != SOI {
        return Err(corrupt(
            device,
            format!("not a JPEG frame ({} bytes, no start marker)", data.len()),
        ));
    }
    // Some cameras pad the payload with zeros after the end marker.
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end < 4 || data[end - 2] != 0xFF || data[end - 1] != EOI {
        return Err(corrupt(
            device,
            format!("truncated JPEG frame ({} bytes, no end marker)", data.len()),
        ));
    }
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&data[..end]), options);
    decoder
        .decode_headers()
        .map_err(|e| corrupt(device, format!("bad JPEG header: {e:?}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| corrupt(device, "JPEG header without picture information"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if let Some((w, h)) = expect {
        if (width, height) != (w, h) {
            return Err(corrupt(
                device,
                format!("frame is {width}×{height}, expected {w}×{h}"),
            ));
        }
    }
    let pixels = decoder
        .decode()
        .map_err(|e| corrupt(device, format!("bad JPEG data: {e:?}")))?;
    let components = decoder
        .output_colorspace()
        .map_or(3, |c| c.num_components());
    let rgb = match components {
        3 => pixels,
        1 => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        n => {
            return Err(corrupt(
                device,
                format!("JPEG decodes to {n} channels, expected 3"),
            ))
        }
    };
    RgbImage::from_raw(width, height, rgb).ok_or_else(|| {
        corrupt(
            device,
            format!("JPEG decoder returned too few pixels for {width}×{height}"),
        )
    })
}

/// Converts one BT.601 limited-range Y′CbCr sample to RGB with integer
/// arithmetic (the usual 8-bit fixed-point coefficients ×256).
#[inline]
pub fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(cb) - 128;
    let e = i32::from(cr) - 128;
    let clamp = |v: i32| ((v + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

/// Converts a packed YUYV (Y0 Cb Y1 Cr) picture to RGB. `stride` is the
/// driver's bytes per line (at least `2 × width`). A buffer shorter than the
/// picture, an odd width or a stride too small gives [`CameraError::Corrupt`].
pub fn yuyv_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    device: &str,
) -> Result<RgbImage, CameraError> {
    if width == 0 || height == 0 || width % 2 != 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(corrupt(
            device,
            format!("unusable YUYV size {width}×{height}"),
        ));
    }
    let row_bytes = width as usize * 2;
    if stride < row_bytes {
        return Err(corrupt(
            device,
            format!("YUYV stride {stride} shorter than a row of {row_bytes} bytes"),
        ));
    }
    let needed = stride * (height as usize - 1) + row_bytes;
    if data.len() < needed {
        return Err(corrupt(
            device,
            format!("short YUYV frame: {} of {needed} bytes", data.len()),
        ));
    }
    let mut out = vec![0u8; width as usize * height as usize * 3];
    for (row, dst) in out.chunks_exact_mut(width as usize * 3).enumerate() {
        let src = &data[row * stride..row * stride + row_bytes];
        for (quad, px) in src.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
            let (y0, cb, y1, cr) = (quad[0], quad[1], quad[2], quad[3]);
            px[..3].copy_from_slice(&ycbcr_to_rgb(y0, cb, cr));
            px[3..].copy_from_slice(&ycbcr_to_rgb(y1, cb, cr));
        }
    }
    RgbImage::from_raw(width, height, out)
        .ok_or_else(|| corrupt(device, "YUYV conversion size mismatch"))
}

/// Splits a stream of concatenated JPEGs (an `.mjpeg` file) into frames.
///
/// It walks the marker segments rather than searching for byte pairs, so a
/// `FF D8` inside a table or an APP segment does not start a false frame.
/// A frame cut short (the data ends, or a new start marker appears before
/// its end) is still returned, up to the next start marker, so that decoding
/// it reports the damage and the frames after it are kept. Bytes between
/// frames are skipped.
pub fn split_mjpeg(data: &[u8]) -> Vec<Range<usize>> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_soi(data, pos) {
        match jpeg_end(data, start) {
            Some(end) => {
                frames.push(start..end);
                pos = end;
            }
            None => {
                // A damaged frame runs to the next start marker: a cut inside a
                // header segment would otherwise swallow the next frame's start.
                let end = find_soi(data, start + 2).unwrap_or(data.len());
                frames.push(start..end);
                pos = end;
            }
        }
    }
    frames
}

/// The next `FF D8 FF` (start marker followed by another marker) at or after `from`.
fn find_soi(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0xFF, SOI, 0xFF])
        .map(|i| from + i)
}

/// Walks one JPEG from its start marker. `Some(end)` is one past its end
/// marker; `None` means it broke off (end of data, a new start marker,
/// or garbage where a marker should be).
fn jpeg_end(data: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 2;
    loop {
        // A marker: one or more 0xFF fill bytes, then the code.
        if data.get(pos) != Some(&0xFF) {
            return None;
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let code = *data.get(pos)?;
        pos += 1;
        match code {
            EOI => return Some(pos),
            SOI => return None,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = data
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))?;
        if len < 2 {
            return None;
        }
        pos += len;
        if pos > data.len() {
            return None;
        }
        if code == SOS {
            // Entropy-coded data: 0xFF is followed by 0x00 (stuffing) or a
            // restart marker; anything else is the next marker.
            loop {
                match data.get(pos..pos + 2)? {
                    [0xFF, 0x00] | [0xFF, 0xD0..=0xD7] => pos += 2,
                    [0xFF, 0xFF] => pos += 1,
                    [0xFF, _] => break,
                    _ => pos += 1,
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::Rgb;

    /// A JPEG of `w` × `h` with four coloured quadrants.
    pub(crate) fn test_jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
            (true, true) => Rgb([220, 30, 30]),
            (false, true) => Rgb([30, 200, 40]),
            (true, false) => Rgb([30, 40, 210]),
            (false, false) => Rgb([240, 240, 240]),
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter()
            .zip(b)
            .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= tol)
    }

    #[test]
    fn jpeg_round_trip_keeps_size_and_colours() {
        let img = decode_jpeg(&test_jpeg(64, 48), Some((64, 48)), "t").unwrap();
        assert_eq!(img.dimensions(), (64, 48));
        assert!(
            close(img.get_pixel(8, 8).0, [220, 30, 30], 12),
            "{:?}",
            img.get_pixel(8, 8)
        );
        assert!(close(img.get_pixel(56, 40).0, [240, 240, 240], 12));
    }

    #[test]
    fn jpeg_of_wrong_size_is_corrupt() {
        let err = decode_jpeg(&test_jpeg(64, 48), Some((640, 480)), "cam").unwrap_err();
        assert!(
            matches!(&err, CameraError::Corrupt { detail, .. } if detail.contains("64×48")),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_garbage_jpegs_are_corrupt() {
        let jpeg = test_jpeg(64, 48);
        for bad in [
            &jpeg[..jpeg.len() / 2],
            &jpeg[..3],
            &[][..],
            &b"hello world, not a jpeg"[..],
        ] {
            assert!(matches!(
                decode_jpeg(bad, None, "cam"),
                Err(CameraError::Corrupt { .. })
            ));
        }
        // Start and end markers intact, scrambled middle: must not panic, must not pass as good.
        let mut scrambled = jpeg.clone();
        for b in &mut scrambled[2..200] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        assert!(decode_jpeg(&scrambled, None, "cam").is_err());
    }

    #[test]
    fn jpeg_with_zero_padding_after_end_marker_decodes() {
        let mut jpeg = test_jpeg(32, 16);
        jpeg.extend_from_slice(&[0; 100]);
        assert_eq!(
            decode_jpeg(&jpeg, Some((32, 16)), "t")
                .unwrap()
                .dimensions(),
            (32, 16)
        );
    }

    #[test]
    fn ycbcr_known_values() {
        // BT.601 limited range: black, white, 75 % and 100 % colour bars.
        assert_eq!(ycbcr_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(ycbcr_to_rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(ycbcr_to_rgb(180, 128, 128), [191, 191, 191]);
        assert!(close(ycbcr_to_rgb(81, 90, 240), [255, 0, 0], 2));
        assert!(close(ycbcr_to_rgb(145, 54, 34), [0, 255, 0], 2));
        assert!(close(ycbcr_to_rgb(41, 240, 110), [0, 0, 255], 2));
        assert!(close(ycbcr_to_rgb(162, 44, 142), [191, 191, 0], 2));
        // Out-of-range input clamps instead of wrapping.
        assert_eq!(ycbcr_to_rgb(255, 255, 255)[0], 255);
        assert_eq!(ycbcr_to_rgb(0, 0, 0)[2], 0);
    }

    #[test]
    fn yuyv_converts_pairs_and_honours_stride() {
        // 2×2 picture, stride 8 (4 padding bytes per row): red pair, then white/black.
        let data = [81, 90, 81, 240, 9, 9, 9, 9, 235, 128, 16, 128, 9, 9, 9, 9];
        let img = yuyv_to_rgb(&data, 2, 2, 8, "t").unwrap();
        assert!(close(img.get_pixel(0, 0).0, [255, 0, 0], 2));
        assert!(close(img.get_pixel(1, 0).0, [255, 0, 0], 2));
        assert_eq!(img.get_pixel(0, 1).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(1, 1).0, [0, 0, 0]);
    }

    #[test]
    fn short_or_misshapen_yuyv_is_corrupt() {
        let full = vec![128u8; 8 * 4 * 2];
        assert!(yuyv_to_rgb(&full, 8, 4, 16, "t").is_ok());
        // The last row may omit its padding, but not its pixels.
        assert!(yuyv_to_rgb(&full[..full.len() - 1], 8, 4, 16, "t").is_err());
        assert!(yuyv_to_rgb(&full, 7, 4, 16, "t").is_err());
        assert!(yuyv_to_rgb(&full, 8, 4, 8, "t").is_err());
        assert!(yuyv_to_rgb(&full, 0, 4, 16, "t").is_err());
        assert!(yuyv_to_rgb(&full, 8, 0, 16, "t").is_err());
    }

    #[test]
    fn splits_concatenated_jpegs_and_keeps_going_after_damage() {
        let a = test_jpeg(16, 16);
        let b = test_jpeg(32, 16);
        let mut stream = b"junk before".to_vec();
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&a[..a.len() / 2]); // cut short: next SOI follows
        stream.extend_from_slice(&b);
        stream.extend_from_slice(b"\x00\x00trailer");
        stream.extend_from_slice(&b[..40]); // truncated at end of file
        let frames = split_mjpeg(&stream);
        assert_eq!(frames.len(), 4, "{frames:?}");
        let decoded: Vec<_> = frames
            .iter()
            .map(|r| decode_jpeg(&stream[r.clone()], None, "t"))
            .collect();
        assert_eq!(decoded[0].as_ref().unwrap().dimensions(), (16, 16));
        assert!(decoded[1].is_err());
        assert_eq!(decoded[2].as_ref().unwrap().dimensions(), (32, 16));
        assert!(decoded[3].is_err());
        assert_eq!(&stream[frames[0].clone()], &a[..]);
        assert_eq!(&stream[frames[2].clone()], &b[..]);
    }

    #[test]
    fn start_marker_bytes_inside_a_segment_do_not_split() {
        // Insert an APP15 segment whose payload contains FF D8 FF right after SOI.
        let a = test_jpeg(16, 16);
        let payload = [0xFF, 0xD8, 0xFF, 0xD9, 0x12];
        let mut jpeg = a[..2].to_vec();
        jpeg.extend_from_slice(&[0xFF, 0xEF, 0x00, (payload.len() + 2) as u8]);
        jpeg.extend_from_slice(&payload);
        jpeg.extend_from_slice(&a[2..]);
        let mut stream = jpeg.clone();
        stream.extend_from_slice(&jpeg);
        assert_eq!(
            split_mjpeg(&stream),
            vec![0..jpeg.len(), jpeg.len()..2 * jpeg.len()]
        );
        assert!(decode_jpeg(&stream[..jpeg.len()], Some((16, 16)), "t").is_ok());
    }

    #[test]
    fn splitter_handles_empty_and_markerless_input() {
        assert!(split_mjpeg(&[]).is_empty());
        assert!(split_mjpeg(&[0xFF; 64]).is_empty());
        assert_eq!(split_mjpeg(&[0xFF, 0xD8, 0xFF]).len(), 1);
    }
}
