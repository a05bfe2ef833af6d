//! SSD anchor centres for BlazeFace, generated from MediaPipe's anchor options
//! rather than stored as a table, so a change of model size or strides is one
//! edit to [`SsdOptions`].

use crate::geometry::Point;

/// The subset of MediaPipe's `SsdAnchorsCalculatorOptions` that BlazeFace
/// uses (fixed anchor size, so only centres matter).
#[derive(Debug, Clone, PartialEq)]
pub struct SsdOptions {
    /// Input width, pixels.
    pub input_width: u32,
    /// Input height, pixels.
    pub input_height: u32,
    /// Horizontal offset of an anchor inside its cell, in cells.
    pub anchor_offset_x: f32,
    /// Vertical offset of an anchor inside its cell, in cells.
    pub anchor_offset_y: f32,
    /// Stride of each feature layer, pixels.
    pub strides: Vec<u32>,
    /// 1.0 adds an interpolated-scale anchor per aspect ratio (two anchors per
    /// layer and cell); anything else gives one.
    pub interpolated_scale_aspect_ratio: f32,
}

impl SsdOptions {
    /// BlazeFace short range (MediaPipe `face_detection_short_range_common`).
    pub fn blazeface_short_range() -> SsdOptions {
        SsdOptions {
            input_width: 128,
            input_height: 128,
            anchor_offset_x: 0.5,
            anchor_offset_y: 0.5,
            strides: vec![8, 16, 16, 16],
            interpolated_scale_aspect_ratio: 1.0,
        }
    }

    /// Anchor centres, normalised to `0..1` of the input, in the order the
    /// network emits its predictions: layer groups of equal stride, then rows,
    /// then columns, then the anchors of one cell.
    pub fn anchors(&self) -> Vec<Point> {
        let per_layer = if self.interpolated_scale_aspect_ratio == 1.0 {
            2
        } else {
            1
        };
        let mut anchors = Vec::new();
        let mut layer = 0;
        while layer < self.strides.len() {
            let stride = self.strides[layer];
            // Consecutive layers of equal stride share one feature map: their
            // anchors are emitted together, cell by cell.
            let mut last = layer;
            while last < self.strides.len() && self.strides[last] == stride {
                last += 1;
            }
            let repeats = per_layer * (last - layer);
            let rows = self.input_height.div_ceil(stride.max(1));
            let cols = self.input_width.div_ceil(stride.max(1));
            for y in 0..rows {
                let cy = (y as f32 + self.anchor_offset_y) / rows as f32;
                for x in 0..cols {
                    let cx = (x as f32 + self.anchor_offset_x) / cols as f32;
                    anchors.extend(std::iter::repeat_n(Point::new(cx, cy), repeats));
                }
            }
            layer = last;
        }
        anchors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_range_has_896_anchors_in_network_order() {
        let a = SsdOptions::blazeface_short_range().anchors();
        assert_eq!(a.len(), 896);
        // 16x16 cells with 2 anchors, then 8x8 cells with 6.
        assert_eq!(a[0], Point::new(0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], Point::new(1.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[511], Point::new(15.5 / 16.0, 15.5 / 16.0));
        assert_eq!(a[512], Point::new(0.5 / 8.0, 0.5 / 8.0));
        assert!(a[512..518].iter().all(|p| *p == a[512]));
        assert_eq!(a[895], Point::new(7.5 / 8.0, 7.5 / 8.0));
    }
}
