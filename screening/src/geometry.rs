//! Plane geometry shared by the renderer and the face stage: points, boxes,
//! per-side pairs and similarity transforms, all in image pixel coordinates
//! (x to the right, y down, origin at the top-left corner of the top-left pixel).

use serde::{Deserialize, Serialize};

/// A point in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal position, pixels from the left edge.
    pub x: f32,
    /// Vertical position, pixels from the top edge.
    pub y: f32,
}

impl Point {
    /// A point at `(x, y)`.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// Euclidean distance to `other`.
    pub fn distance(self, other: Point) -> f32 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// The point halfway to `other`.
    pub fn midpoint(self, other: Point) -> Point {
        Point::new((self.x + other.x) * 0.5, (self.y + other.y) * 0.5)
    }
}

/// An axis-aligned box in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width, never negative.
    pub width: f32,
    /// Height, never negative.
    pub height: f32,
}

impl Rect {
    /// A box from its top-left corner and size.
    pub const fn new(x: f32, y: f32, width: f32, height: f32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// The centre of the box.
    pub fn centre(&self) -> Point {
        Point::new(self.x + self.width * 0.5, self.y + self.height * 0.5)
    }

    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with `other`, 0 when they do not overlap.
    pub fn iou(&self, other: &Rect) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// Whether `p` lies inside the box (edges included).
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.x <= self.x + self.width && p.y >= self.y && p.y <= self.y + self.height
    }
}

/// The patient's own side. In a frontal, non-mirrored photo the patient's
/// left appears on the right of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The patient's left.
    Left,
    /// The patient's right.
    Right,
}

impl Side {
    /// Both sides, left first.
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// Lower-case name, as written in data sets and records.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "left" | "l" => Ok(Side::Left),
            "right" | "r" => Ok(Side::Right),
            other => Err(format!("unknown side {other:?}: expected left or right")),
        }
    }
}

/// One value for each side of the face, named by the patient's own side.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PerSide<T> {
    /// The patient's left.
    pub left: T,
    /// The patient's right.
    pub right: T,
}

impl<T> PerSide<T> {
    /// A pair from its two values.
    pub const fn new(left: T, right: T) -> Self {
        Self { left, right }
    }

    /// The value of `side`.
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// The value of `side`, mutably.
    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        }
    }

    /// Borrows both values.
    pub fn as_ref(&self) -> PerSide<&T> {
        PerSide {
            left: &self.left,
            right: &self.right,
        }
    }

    /// Applies `f` to both values.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerSide<U> {
        PerSide {
            left: f(self.left),
            right: f(self.right),
        }
    }
}

/// A similarity transform (rotation, uniform scale, translation):
/// `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    /// Scale times cosine of the rotation.
    pub a: f32,
    /// Scale times sine of the rotation.
    pub b: f32,
    /// Horizontal translation.
    pub tx: f32,
    /// Vertical translation.
    pub ty: f32,
}

impl Similarity {
    /// The identity transform.
    pub const IDENTITY: Similarity = Similarity {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// The transform that maps `from.0` to `to.0` and `from.1` to `to.1`,
    /// or `None` when the two source points coincide.
    pub fn from_pairs(from: (Point, Point), to: (Point, Point)) -> Option<Similarity> {
        let (dx, dy) = (from.1.x - from.0.x, from.1.y - from.0.y);
        let (ux, uy) = (to.1.x - to.0.x, to.1.y - to.0.y);
        let norm = dx * dx + dy * dy;
        if norm <= f32::EPSILON {
            return None;
        }
        // Complex division (u / d) gives scale·e^{iθ}.
        let a = (ux * dx + uy * dy) / norm;
        let b = (uy * dx - ux * dy) / norm;
        let tx = to.0.x - (a * from.0.x - b * from.0.y);
        let ty = to.0.y - (b * from.0.x + a * from.0.y);
        Some(Similarity { a, b, tx, ty })
    }

    /// Maps a point.
    pub fn apply(&self, p: Point) -> Point {
        Point::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }

    /// The uniform scale factor.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// The rotation in radians.
    pub fn angle(&self) -> f32 {
        self.b.atan2(self.a)
    }

    /// The inverse transform, or `None` for a degenerate (zero-scale) one.
    pub fn inverse(&self) -> Option<Similarity> {
        let n = self.a * self.a + self.b * self.b;
        if n <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / n, -self.b / n);
        let tx = -(a * self.tx - b * self.ty);
        let ty = -(b * self.tx + a * self.ty);
        Some(Similarity { a, b, tx, ty })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_maps_pairs_and_inverts() {
        let from = (Point::new(10.0, 20.0), Point::new(50.0, 25.0));
        let to = (Point::new(30.0, 40.0), Point::new(66.0, 40.0));
        let t = Similarity::from_pairs(from, to).unwrap();
        for (f, g) in [(from.0, to.0), (from.1, to.1)] {
            let m = t.apply(f);
            assert!(m.distance(g) < 1e-3, "{m:?} != {g:?}");
        }
        let back = t.inverse().unwrap().apply(to.1);
        assert!(back.distance(from.1) < 1e-3);
    }

    #[test]
    fn coincident_points_have_no_transform() {
        let p = Point::new(1.0, 1.0);
        assert!(Similarity::from_pairs((p, p), (p, Point::new(2.0, 2.0))).is_none());
    }

    #[test]
    fn iou_of_disjoint_and_equal_boxes() {
        let a = Rect::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&Rect::new(20.0, 20.0, 5.0, 5.0)), 0.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
    }
}
