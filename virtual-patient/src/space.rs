//! The head frame's small vocabulary: points in millimetres, which side is
//! which sign, a smooth step, and the Gaussian bumps the surface is made of.
//! A leaf: the camera, the surface and every feature use it.

use screening::geometry::Side;

/// A 3D point or vector in the head frame (millimetres).
pub(crate) type V3 = [f32; 3];

/// `+1` for the patient's left (positive x), `-1` for their right.
pub(crate) fn sign(side: Side) -> f32 {
    match side {
        Side::Left => 1.0,
        Side::Right => -1.0,
    }
}

/// Hermite smoothstep of `x` between `a` and `b`.
pub(crate) fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A smooth anisotropic Gaussian displacement of the surface.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bump {
    x: f32,
    y: f32,
    /// 1 / (2 σx²) and 1 / (2 σy²).
    kx: f32,
    ky: f32,
    /// 3 σ, beyond which the bump is skipped.
    rx: f32,
    ry: f32,
    h: f32,
}

impl Bump {
    /// A bump of height `h` at `(x, y)` with standard deviations `sx`, `sy`.
    pub fn new(x: f32, y: f32, sx: f32, sy: f32, h: f32) -> Bump {
        Bump {
            x,
            y,
            kx: 0.5 / (sx * sx),
            ky: 0.5 / (sy * sy),
            rx: 3.0 * sx,
            ry: 3.0 * sy,
            h,
        }
    }

    /// Whether the bump reaches height `y` at all.
    pub(crate) fn reaches_row(&self, y: f32) -> bool {
        (y - self.y).abs() <= self.ry
    }

    /// The bump's height at `(x, y)`.
    #[inline]
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.x, y - self.y);
        if dx.abs() > self.rx || dy.abs() > self.ry {
            return 0.0;
        }
        self.h * (-(dx * dx * self.kx + dy * dy * self.ky)).exp()
    }
}
