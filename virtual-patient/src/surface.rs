//! What a feature needs of the head it is drawn on: depth and image
//! position of the skin, and how much age shows. The head builds its surface
//! from the features (the nose and lips raise it), and the features are then
//! painted onto that surface; this trait is the one way back, so neither
//! file imports the other.

use super::camera::Camera;
use super::space::V3;
use screening::geometry::Point;

/// The skin of one frame's head, in the head frame (millimetres).
pub(crate) trait Surface {
    /// Depth of the face surface at `(x, y)`; `x` is clamped to the outline.
    fn front_z(&self, x: f32, y: f32) -> f32;

    /// The surface point in front of `(x, y)`.
    fn surface(&self, x: f32, y: f32) -> V3;

    /// The image position of the surface point in front of `(x, y)`.
    fn image_at(&self, cam: &Camera, x: f32, y: f32) -> Point;

    /// 0 at 35 years and younger, 1 at 80: how much age shows.
    fn age(&self) -> f32;
}
