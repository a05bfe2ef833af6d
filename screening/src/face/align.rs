//! The standard view: the square face crop, eyes at fixed places, that the
//! classifier sees on the kiosk, in the clinic tool and in training. This is
//! the one function that makes it, so all three see the same pixels.

use image::{Rgb, RgbImage};

use super::resample;
use super::FaceError;
use crate::geometry::{PerSide, Point, Similarity};
use crate::model::StandardView;

/// A face resampled into the standard view.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    /// The crop, `view.size` pixels square.
    pub image: RgbImage,
    /// Frame pixels → crop pixels.
    pub transform: Similarity,
}

impl Aligned {
    /// Maps a frame point into the crop.
    pub fn to_crop(&self, p: Point) -> Point {
        self.transform.apply(p)
    }
}

/// Eye centres are snapped to this fraction of a frame pixel before the
/// transform is solved. FaceMesh runs in float, and tract sums in a different
/// order on each CPU, so the same frame gives eye centres that differ in the
/// last bits between an x86_64 and an ARM build. Through the resampler that
/// moves a few view pixels by one level, and the int8 classifier turns one
/// level into a visible change of probability (0.015 on the demo before
/// snapping). On the grid the view is bit-identical unless a centre lies
/// within about 1e-4 px of a grid line; 1/16 px is far below what alignment
/// can resolve, so nothing is lost.
pub const EYE_GRID: f32 = 1.0 / 16.0;

fn snapped(p: Point) -> Point {
    Point::new(
        (p.x / EYE_GRID).round() * EYE_GRID,
        (p.y / EYE_GRID).round() * EYE_GRID,
    )
}

/// The frame → crop transform that puts `eyes` (patient's sides, frame
/// pixels, snapped to [`EYE_GRID`]) on the view's eye positions, or `None`
/// when the eyes coincide.
pub fn view_transform(eyes: PerSide<Point>, view: &StandardView) -> Option<Similarity> {
    let target = view.eyes();
    let eyes = eyes.map(snapped);
    let t = Similarity::from_pairs((eyes.right, eyes.left), (target.right, target.left))?;
    (t.a.is_finite() && t.b.is_finite() && t.tx.is_finite() && t.ty.is_finite()).then_some(t)
}

/// Resamples `frame` into the standard view so that the patient's eye
/// centres `eyes` land on `view.left_eye` / `view.right_eye`. Bilinear, with
/// supersampling when the face is larger than the view so that the crop does
/// not depend on the camera's resolution. Pixels outside the frame repeat its
/// edge.
pub fn align(
    frame: &RgbImage,
    eyes: PerSide<Point>,
    view: &StandardView,
) -> Result<Aligned, FaceError> {
    if frame.width() == 0 || frame.height() == 0 {
        return Err(FaceError::EmptyImage);
    }
    let transform = view_transform(eyes, view).ok_or(FaceError::DegenerateEyes)?;
    let crop_to_frame = transform.inverse().ok_or(FaceError::DegenerateEyes)?;
    let mut image = RgbImage::new(view.size, view.size);
    resample::warp(
        frame,
        &crop_to_frame,
        view.size,
        view.size,
        true,
        |x, y, rgb| {
            let px = rgb.map(|v| (v + 0.5).clamp(0.0, 255.0) as u8);
            image.put_pixel(x, y, Rgb(px));
        },
    );
    Ok(Aligned { image, transform })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn view() -> StandardView {
        StandardView {
            size: 112,
            left_eye: [72.8, 42.56],
            right_eye: [39.2, 42.56],
        }
    }

    #[test]
    fn eyes_land_on_the_view_positions() {
        let frame = RgbImage::from_fn(320, 240, |x, y| Rgb([x as u8, y as u8, 0]));
        let eyes = PerSide::new(Point::new(190.0, 110.0), Point::new(130.0, 100.0));
        let a = align(&frame, eyes, &view()).unwrap();
        assert_eq!(a.image.dimensions(), (112, 112));
        let v = view().eyes();
        assert!(a.to_crop(eyes.left).distance(v.left) < 1e-3);
        assert!(a.to_crop(eyes.right).distance(v.right) < 1e-3);
    }

    #[test]
    fn eye_centres_a_hair_apart_give_the_same_view() {
        // The size of the difference between an x86_64 and an aarch64 build.
        let frame = RgbImage::from_fn(320, 240, |x, y| Rgb([x as u8, (x * y) as u8, y as u8]));
        let eyes = PerSide::new(Point::new(190.03, 110.41), Point::new(130.77, 100.2));
        let nudged = eyes.map(|p| Point::new(p.x + 1e-4, p.y - 1e-4));
        assert_eq!(
            align(&frame, eyes, &view()).unwrap(),
            align(&frame, nudged, &view()).unwrap()
        );
    }

    #[test]
    fn coincident_eyes_are_an_error_not_a_panic() {
        let frame = RgbImage::new(10, 10);
        let p = Point::new(5.0, 5.0);
        assert!(matches!(
            align(&frame, PerSide::new(p, p), &view()),
            Err(FaceError::DegenerateEyes)
        ));
        let nan = Point::new(f32::NAN, 1.0);
        assert!(align(&frame, PerSide::new(nan, p), &view()).is_err());
    }

    proptest! {
        #[test]
        fn transform_round_trips(
            lx in 0.0f32..2000.0, ly in 0.0f32..2000.0,
            dx in -500.0f32..500.0, dy in -500.0f32..500.0,
            px in -100.0f32..2100.0, py in -100.0f32..2100.0,
        ) {
            prop_assume!(dx.hypot(dy) > 4.0);
            let eyes = PerSide::new(Point::new(lx, ly), Point::new(lx + dx, ly + dy));
            let t = view_transform(eyes, &view()).unwrap();
            let back = t.inverse().unwrap();
            let p = Point::new(px, py);
            let q = back.apply(t.apply(p));
            prop_assert!(q.distance(p) < 1e-2 * (1.0 + p.x.abs().max(p.y.abs()) / 100.0), "{p:?} -> {q:?}");
            // The snapped eyes land on the view's positions; the raw ones
            // are off by at most half a grid diagonal, scaled into the view.
            let v = view().eyes();
            prop_assert!(t.apply(snapped(eyes.left)).distance(v.left) < 1e-2);
            prop_assert!(t.apply(snapped(eyes.right)).distance(v.right) < 1e-2);
            let slack = EYE_GRID * std::f32::consts::FRAC_1_SQRT_2 * t.scale() + 1e-2;
            prop_assert!(t.apply(eyes.left).distance(v.left) < slack);
            prop_assert!(t.apply(eyes.right).distance(v.right) < slack);
        }
    }
}
