//! Colour arithmetic for the renderer: sRGB triples in 0..1, mixing, and the
//! tint a light of a given colour temperature leaves after white balance.

/// An sRGB colour with channels in 0..1 (values above 1 are allowed while
/// lighting and clamped when written out).
pub(crate) type Rgb = [f32; 3];

/// An sRGB byte triple as a 0..1 colour.
pub(crate) fn rgb(c: [u8; 3]) -> Rgb {
    c.map(|v| f32::from(v) / 255.0)
}

/// `a` moved towards `b` by `t`.
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// `c` with every channel multiplied by `k`.
pub(crate) fn scale(c: Rgb, k: f32) -> Rgb {
    c.map(|v| v * k)
}

/// Rec. 601 luma.
pub(crate) fn luma(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// The colour of a black body at `kelvin` relative to daylight (5500 K),
/// after a camera white balance that corrects half of the difference, so warm
/// light still looks warm. Normalised to luma 1.
pub(crate) fn white_balance(kelvin: f32) -> Rgb {
    let raw = black_body(kelvin);
    let day = black_body(5500.0);
    let t = [raw[0] / day[0], raw[1] / day[1], raw[2] / day[2]];
    // Half correction: geometric midpoint between the raw tint and neutral.
    let half = t.map(|v| v.max(1e-3).sqrt());
    let l = luma(half).max(1e-3);
    half.map(|v| v / l)
}

/// Approximate sRGB of a black body (Tanner Helland's fit), 0..1.
fn black_body(kelvin: f32) -> Rgb {
    let t = (kelvin / 100.0).clamp(10.0, 400.0);
    let r = if t <= 66.0 {
        255.0
    } else {
        329.699 * (t - 60.0).powf(-0.133_204_76)
    };
    let g = if t <= 66.0 {
        99.470_8 * t.ln() - 161.119_57
    } else {
        288.122_16 * (t - 60.0).powf(-0.075_514_85)
    };
    let b = if t >= 66.0 {
        255.0
    } else if t <= 19.0 {
        0.0
    } else {
        138.517_73 * (t - 10.0).ln() - 305.044_8
    };
    [r, g, b].map(|v: f32| (v / 255.0).clamp(0.01, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_light_is_red_and_cool_light_is_blue() {
        let warm = white_balance(3200.0);
        let cool = white_balance(7500.0);
        let day = white_balance(5500.0);
        assert!(warm[0] > warm[2] * 1.1, "{warm:?}");
        assert!(cool[2] > cool[0] * 1.05, "{cool:?}");
        assert!(day.iter().all(|v| (v - 1.0).abs() < 0.02), "{day:?}");
    }
}
