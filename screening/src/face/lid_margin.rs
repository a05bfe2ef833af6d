//! The lid margins found in the pixels, across the iris.
//!
//! The iris model's lid contour is a regression: it is drawn towards the
//! eyes it was trained on, so when one eye narrows its points follow only
//! part of the way. Measured with a warp that narrows a real eye by a known
//! factor (`models/experiments/lid-measure`), the contour's gap saw about
//! half of the narrowing. The margins themselves are sharp in the photo:
//! above the iris the lid's skin gives way to the dark lash line, below it
//! the iris gives way to the lighter lower lid. This module looks for those
//! two edges near where the model put the lids, on the column through the
//! iris centre, and measures the gap between them.

use image::RgbImage;

use crate::geometry::{Point, Similarity};

/// How far from the model's lid point an edge is looked for, as a fraction
/// of the eye's corner-to-corner width.
pub const SEARCH: f32 = 0.20;

/// The columns sampled, as fractions of the iris radius either side of its
/// centre: wide enough that a lash or a catchlight covers few of them,
/// narrow enough to stay on the iris.
const COLUMNS: [f32; 5] = [-0.3, -0.15, 0.0, 0.15, 0.3];

/// Where the three groups of columns sit, in iris radii from its centre.
const GROUPS: [f32; 3] = [-0.45, 0.0, 0.45];

/// Which of the sorted column values stands for a row: a low one, because
/// the catchlights that would fake an edge inside the iris are bright and
/// small, while lids and lashes span every column.
const RANK: usize = 1;

/// Profile step, crop pixels.
const STEP: f32 = 0.25;

/// Weakest edge taken, luma levels per crop pixel: below it (a closed eye,
/// a blurred or flat-lit face) the model's own gap is kept.
const MIN_EDGE: f32 = 4.0;

/// Where the model put the eye, in crop coordinates (the crop's x axis
/// along the eye line, y down the face).
#[derive(Debug, Clone, Copy)]
pub struct LidGuess {
    /// Iris centre.
    pub iris: Point,
    /// Iris radius.
    pub iris_radius: f32,
    /// The model's upper lid height on the iris column.
    pub upper: f32,
    /// The model's lower lid height on the iris column.
    pub lower: f32,
    /// Corner-to-corner width of the eye.
    pub eye_width: f32,
}

/// The heights of the upper and lower lid margins on the iris column, crop
/// pixels, or `None` when either edge is too faint to trust.
pub fn margins(frame: &RgbImage, crop_to_frame: &Similarity, guess: &LidGuess) -> Option<[f32; 2]> {
    // Three places across the iris, each on its own; the median gap's pair
    // wins, so one place fooled by a catchlight or a frame does not decide.
    let mut found: Vec<[f32; 2]> = GROUPS
        .iter()
        .filter_map(|&shift| margins_at(frame, crop_to_frame, guess, shift))
        .collect();
    if found.len() < 2 {
        return None;
    }
    found.sort_by(|a, b| (a[1] - a[0]).total_cmp(&(b[1] - b[0])));
    Some(found[(found.len() - 1) / 2])
}

fn margins_at(
    frame: &RgbImage,
    crop_to_frame: &Similarity,
    guess: &LidGuess,
    shift: f32,
) -> Option<[f32; 2]> {
    let search = SEARCH * guess.eye_width;
    let mid = 0.5 * (guess.upper + guess.lower);
    let top = guess.upper - search;
    let bottom = guess.lower + search;
    if !(bottom - top).is_finite() || bottom <= top || guess.iris_radius <= 0.0 {
        return None;
    }
    let n = ((bottom - top) / STEP).ceil() as usize + 1;
    let profile: Vec<f32> = (0..n)
        .map(|i| {
            let y = top + i as f32 * STEP;
            let mut row = COLUMNS.map(|c| {
                let p = crop_to_frame.apply(Point::new(
                    guess.iris.x + (shift + c) * guess.iris_radius,
                    y,
                ));
                luma_at(frame, p)
            });
            row.sort_by(f32::total_cmp);
            row[RANK]
        })
        .collect();
    let profile = smooth(&profile);
    // Derivative in luma levels per crop pixel, at sample i.
    let slope = |i: usize| (profile[i + 1] - profile[i - 1]) / (2.0 * STEP);
    let y_of = |i: usize| top + i as f32 * STEP;
    let inner = 1..n.saturating_sub(1);
    // An edge counts less the further it is from the model's guess, so a
    // lid crease or a spectacle frame near the window's end does not win
    // over the margin itself.
    let near = |i: usize, at: f32| {
        let d = (y_of(i) - at) / search;
        (-d * d).exp()
    };
    // Upper margin: bright lid above, dark lashes and iris below.
    let upper = inner
        .clone()
        .filter(|&i| (y_of(i) - guess.upper).abs() <= search && y_of(i) < mid)
        .max_by(|&a, &b| {
            (-slope(a) * near(a, guess.upper)).total_cmp(&(-slope(b) * near(b, guess.upper)))
        })?;
    // Lower margin: dark iris above, lighter lower lid below.
    let lower = inner
        .filter(|&i| (y_of(i) - guess.lower).abs() <= search && y_of(i) > mid)
        .max_by(|&a, &b| {
            (slope(a) * near(a, guess.lower)).total_cmp(&(slope(b) * near(b, guess.lower)))
        })?;
    if -slope(upper) < MIN_EDGE || slope(lower) < MIN_EDGE {
        return None;
    }
    let (upper, lower) = (y_of(upper), y_of(lower));
    (lower > upper).then_some([upper, lower])
}

/// A [1 4 6 4 1] / 16 smoothing (about one crop pixel at a quarter-pixel step).
fn smooth(p: &[f32]) -> Vec<f32> {
    const K: [f32; 5] = [1.0, 4.0, 6.0, 4.0, 1.0];
    let n = p.len() as isize;
    (0..n)
        .map(|i| {
            K.iter()
                .enumerate()
                .map(|(j, w)| w * p[(i + j as isize - 2).clamp(0, n - 1) as usize])
                .sum::<f32>()
                / 16.0
        })
        .collect()
}

/// Rec. 601 luma at a frame point, bilinear, edges clamped.
fn luma_at(img: &RgbImage, p: Point) -> f32 {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if w == 0 || h == 0 || !p.x.is_finite() || !p.y.is_finite() {
        return 0.0;
    }
    let (x0, y0) = (p.x.floor(), p.y.floor());
    let (fx, fy) = (p.x - x0, p.y - y0);
    let at = |x: i64, y: i64| {
        let px = img
            .get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32)
            .0;
        0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32
    };
    let (x0, y0) = (x0 as i64, y0 as i64);
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A level eye: skin (200) above y = 20 and below y = 30, iris (60) between.
    fn eye(upper: u32, lower: u32) -> RgbImage {
        RgbImage::from_fn(64, 64, |_, y| {
            let v = if (upper..lower).contains(&y) { 60 } else { 200 };
            image::Rgb([v, v, v])
        })
    }

    fn guess(upper: f32, lower: f32) -> LidGuess {
        LidGuess {
            iris: Point::new(32.0, 25.0),
            iris_radius: 6.0,
            upper,
            lower,
            eye_width: 28.0,
        }
    }

    #[test]
    fn finds_the_margins_the_model_missed() {
        // The margins are 10 px apart; the model guessed 14.
        let [upper, lower] =
            margins(&eye(20, 30), &Similarity::IDENTITY, &guess(18.0, 32.0)).unwrap();
        assert!((upper - 19.5).abs() < 0.6, "{upper}");
        assert!((lower - 29.5).abs() < 0.6, "{lower}");
    }

    #[test]
    fn a_flat_patch_keeps_the_model() {
        let flat = RgbImage::from_pixel(64, 64, image::Rgb([120, 120, 120]));
        assert_eq!(
            margins(&flat, &Similarity::IDENTITY, &guess(20.0, 30.0)),
            None
        );
    }
}
