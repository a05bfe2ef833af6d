//! Ray-free 3D shading of the head: the head surface is tessellated, posed,
//! projected and rasterised with a depth buffer into a per-pixel light
//! factor (diffuse with soft cast shadows and ambient occlusion, plus a
//! specular sheen). The painted albedo is multiplied by it, so every painted
//! feature gets the same relief, pose and light.

use super::camera::{normalize, Camera};
use super::head::{Head, V3};

/// Per-pixel light of the head over a window of the image.
#[derive(Debug, Clone)]
pub(crate) struct Shading {
    /// Left and top edges of the window in the image.
    pub x0: usize,
    pub y0: usize,
    /// Window size.
    pub width: usize,
    pub height: usize,
    /// Coverage of the head, 0..1 (anti-aliased at the silhouette).
    pub alpha: Vec<f32>,
    /// Light factor per channel and the specular term.
    pub light: Vec<[f32; 4]>,
}

/// A regular height map of the face front, for shadows and occlusion.
struct HeightMap {
    x0: f32,
    y0: f32,
    step: f32,
    nx: usize,
    ny: usize,
    z: Vec<f32>,
}

impl HeightMap {
    fn new(head: &Head, step: f32) -> HeightMap {
        let half = head.face_width * 1.12;
        let (x0, y0) = (-half, head.top_y);
        let nx = (2.0 * half / step).ceil() as usize + 1;
        let ny = ((head.chin_y - head.top_y) / step).ceil() as usize + 1;
        let mut z = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            let y = y0 + j as f32 * step;
            let row = head.row(y);
            let w = head.half_width(y);
            for i in 0..nx {
                let x = x0 + i as f32 * step;
                z.push(if x.abs() < w {
                    head.front_z_row(&row, x)
                } else {
                    head.z_c - 40.0
                });
            }
        }
        HeightMap {
            x0,
            y0,
            step,
            nx,
            ny,
            z,
        }
    }

    fn sample(grid: &[f32], nx: usize, ny: usize, fx: f32, fy: f32, outside: f32) -> f32 {
        if !(fx >= 0.0 && fy >= 0.0) {
            return outside;
        }
        let (i, j) = (fx as usize, fy as usize);
        if i + 1 >= nx || j + 1 >= ny {
            return outside;
        }
        let (tx, ty) = (fx - i as f32, fy - j as f32);
        let a = grid[j * nx + i] * (1.0 - tx) + grid[j * nx + i + 1] * tx;
        let b = grid[(j + 1) * nx + i] * (1.0 - tx) + grid[(j + 1) * nx + i + 1] * tx;
        a * (1.0 - ty) + b * ty
    }

    fn at(&self, grid: &[f32], x: f32, y: f32, outside: f32) -> f32 {
        Self::sample(
            grid,
            self.nx,
            self.ny,
            (x - self.x0) / self.step,
            (y - self.y0) / self.step,
            outside,
        )
    }

    /// Ambient occlusion from how far each point lies below its
    /// neighbourhood's mean height (eye sockets, folds, under the nose).
    fn occlusion(&self) -> Vec<f32> {
        let r = (7.0 / self.step).round().max(1.0) as usize;
        let blur = box_blur(
            &box_blur_t(&self.z, self.nx, self.ny, r),
            self.nx,
            self.ny,
            r,
        );
        self.z
            .iter()
            .zip(&blur)
            .map(|(&h, &b)| 1.0 - ((b - h) * 0.05).clamp(0.0, 0.5))
            .collect()
    }

    /// Soft cast shadow towards `light` (head frame): 1 lit, 0 shadowed.
    fn shadow(&self, light: V3) -> Vec<f32> {
        let mut out = vec![1.0; self.z.len()];
        if light[2] < 0.05 {
            return out;
        }
        let dxy = (light[0] * light[0] + light[1] * light[1]).sqrt();
        if dxy < 0.05 {
            return out;
        }
        let step = 2.4;
        let steps = 15;
        for j in 0..self.ny {
            for i in 0..self.nx {
                let h = self.z[j * self.nx + i];
                let (x, y) = (
                    self.x0 + i as f32 * self.step,
                    self.y0 + j as f32 * self.step,
                );
                let mut occ: f32 = 0.0;
                for k in 1..=steps {
                    let t = k as f32 * step;
                    let q = self.at(&self.z, x + t * light[0], y + t * light[1], f32::MIN);
                    let ray = h + t * light[2];
                    // Penumbra widens with the distance to the occluder.
                    occ = occ.max((q - ray) / (0.25 * t + 0.8));
                }
                out[j * self.nx + i] = 1.0 - occ.clamp(0.0, 1.0);
            }
        }
        out
    }
}

fn box_blur(src: &[f32], nx: usize, ny: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0; src.len()];
    for j in 0..ny {
        let row = &src[j * nx..(j + 1) * nx];
        for i in 0..nx {
            let (a, b) = (i.saturating_sub(r), (i + r).min(nx - 1));
            out[j * nx + i] = row[a..=b].iter().sum::<f32>() / (b - a + 1) as f32;
        }
    }
    out
}

fn box_blur_t(src: &[f32], nx: usize, ny: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0; src.len()];
    for i in 0..nx {
        for j in 0..ny {
            let (a, b) = (j.saturating_sub(r), (j + r).min(ny - 1));
            let mut s = 0.0;
            for k in a..=b {
                s += src[k * nx + i];
            }
            out[j * nx + i] = s / (b - a + 1) as f32;
        }
    }
    out
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Shades the head of `cam`'s frame into a `width × height` image window.
pub(crate) fn shade(head: &Head, cam: &Camera, width: u32, height: u32) -> Shading {
    let px = cam.ppmm;
    // About one mesh vertex every 4 pixels, within sane bounds.
    let rows = (((head.chin_y - head.top_y) * px / 4.0) as usize).clamp(48, 200);
    let front_cols = ((2.2 * head.face_width * px / 4.0) as usize).clamp(40, 180) & !1;
    let back_cols = (front_cols / 10).max(5);
    let mut s_values = Vec::with_capacity(front_cols + 2 * back_cols + 1);
    for k in (1..=back_cols).rev() {
        s_values.push(-1.0 - 0.6 * k as f32 / back_cols as f32);
    }
    for k in 0..=front_cols {
        s_values.push(-1.0 + 2.0 * k as f32 / front_cols as f32);
    }
    for k in 1..=back_cols {
        s_values.push(1.0 + 0.6 * k as f32 / back_cols as f32);
    }
    let cols = s_values.len();
    // Rows bunch towards the top and bottom caps, where the surface turns fast.
    let y_values: Vec<f32> = (0..=rows)
        .map(|r| {
            let u = r as f32 / rows as f32;
            let v = u - 0.04 * (std::f32::consts::TAU * u).sin();
            head.top_y + (head.chin_y - head.top_y) * v
        })
        .collect();
    let nrows = y_values.len();

    let mut pos = Vec::with_capacity(nrows * cols);
    for &y in &y_values {
        let row = head.row(y);
        for &s in &s_values {
            pos.push(head.mesh_point(&row, s));
        }
    }

    let map = HeightMap::new(head, 2.5);
    let ao = map.occlusion();
    let light_head = normalize(cam.unrotate(cam.light.dir));
    let shadow = map.shadow(light_head);

    // Per-vertex light and projected position.
    let mut verts: Vec<[f32; 7]> = Vec::with_capacity(pos.len());
    for r in 0..nrows {
        for c in 0..cols {
            let p = pos[r * cols + c];
            let (r0, r1) = (r.saturating_sub(1), (r + 1).min(nrows - 1));
            let (c0, c1) = (c.saturating_sub(1), (c + 1).min(cols - 1));
            let ts = sub(pos[r * cols + c1], pos[r * cols + c0]);
            let ty = sub(pos[r1 * cols + c], pos[r0 * cols + c]);
            let mut n = normalize(cross(ts, ty));
            if r == 0 {
                n = [0.0, -1.0, 0.0];
            }
            let front = s_values[c].abs() <= 1.0;
            let (sh, oc) = if front {
                (
                    map.at(&shadow, p[0], p[1], 1.0),
                    map.at(&ao, p[0], p[1], 1.0),
                )
            } else {
                (1.0, 0.85)
            };
            let nc = normalize(cam.rotate(n));
            let d = cam.light.diffuse(nc, sh, oc);
            // Light that reaches the skin's depth comes back redder: warm the
            // dim side a little, as subsurface scattering does.
            let warm = (1.0 - d).clamp(0.0, 1.0);
            let spec = 0.13 * cam.light.specular(nc, 22) * sh;
            let c3 = cam.to_camera(p);
            let img = cam.image_of(c3);
            verts.push([
                img.x,
                img.y,
                c3[2],
                d,
                d * (1.0 - 0.07 * warm),
                d * (1.0 - 0.12 * warm),
                spec,
            ]);
        }
    }

    // Window of the image the head can touch.
    let (mut minx, mut miny, mut maxx, mut maxy) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for v in &verts {
        minx = minx.min(v[0]);
        maxx = maxx.max(v[0]);
        miny = miny.min(v[1]);
        maxy = maxy.max(v[1]);
    }
    let x0 = (minx.floor() - 2.0).clamp(0.0, width as f32) as usize;
    let y0 = (miny.floor() - 2.0).clamp(0.0, height as f32) as usize;
    let x1 = (maxx.ceil() + 2.0).clamp(0.0, width as f32) as usize;
    let y1 = (maxy.ceil() + 2.0).clamp(0.0, height as f32) as usize;
    let (ww, wh) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    let mut depth = vec![f32::MIN; ww * wh];
    let mut light = vec![[0.0f32; 4]; ww * wh];

    for r in 0..nrows - 1 {
        for c in 0..cols - 1 {
            let a = &verts[r * cols + c];
            let b = &verts[r * cols + c + 1];
            let cc = &verts[(r + 1) * cols + c];
            let d = &verts[(r + 1) * cols + c + 1];
            raster_triangle(a, b, cc, x0, y0, ww, wh, &mut depth, &mut light);
            raster_triangle(b, d, cc, x0, y0, ww, wh, &mut depth, &mut light);
        }
    }

    // Anti-alias the silhouette: coverage is the covered share of each 3×3
    // neighbourhood, and uncovered edge pixels borrow their neighbours' light.
    let covered: Vec<u8> = depth.iter().map(|&z| u8::from(z > f32::MIN)).collect();
    let mut rows3 = vec![0u8; ww * wh];
    for y in 0..wh {
        for x in 0..ww {
            let k = y * ww + x;
            let l = if x > 0 { covered[k - 1] } else { 0 };
            let r = if x + 1 < ww { covered[k + 1] } else { 0 };
            rows3[k] = l + covered[k] + r;
        }
    }
    let mut alpha = vec![0.0f32; ww * wh];
    for y in 0..wh {
        for x in 0..ww {
            let k = y * ww + x;
            let up = if y > 0 { rows3[k - ww] } else { 0 };
            let down = if y + 1 < wh { rows3[k + ww] } else { 0 };
            let n = up + rows3[k] + down;
            if n == 0 {
                continue;
            }
            if covered[k] == 1 {
                alpha[k] = if n == 9 {
                    1.0
                } else {
                    0.5 + 0.5 * f32::from(n) / 9.0
                };
                continue;
            }
            alpha[k] = 0.5 * f32::from(n) / 9.0;
            let mut sum = [0.0f32; 4];
            for yy in y.saturating_sub(1)..=(y + 1).min(wh - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(ww - 1) {
                    let kk = yy * ww + xx;
                    if covered[kk] == 1 {
                        for (s, l) in sum.iter_mut().zip(light[kk]) {
                            *s += l;
                        }
                    }
                }
            }
            light[k] = sum.map(|s| s / f32::from(n));
        }
    }
    Shading {
        x0,
        y0,
        width: ww,
        height: wh,
        alpha,
        light,
    }
}

#[allow(clippy::too_many_arguments)]
fn raster_triangle(
    a: &[f32; 7],
    b: &[f32; 7],
    c: &[f32; 7],
    x0: usize,
    y0: usize,
    ww: usize,
    wh: usize,
    depth: &mut [f32],
    light: &mut [[f32; 4]],
) {
    let area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    // Back-facing or degenerate.
    if area <= 1e-6 {
        return;
    }
    let inv = 1.0 / area;
    let minx = a[0].min(b[0]).min(c[0]).floor().max(x0 as f32) as i64;
    let maxx = a[0].max(b[0]).max(c[0]).ceil().min((x0 + ww) as f32 - 1.0) as i64;
    let miny = a[1].min(b[1]).min(c[1]).floor().max(y0 as f32) as i64;
    let maxy = a[1].max(b[1]).max(c[1]).ceil().min((y0 + wh) as f32 - 1.0) as i64;
    if minx > maxx || miny > maxy {
        return;
    }
    // Edge functions step by a constant per pixel along a row.
    let (d0, d1, d2) = (b[1] - c[1], c[1] - a[1], a[1] - b[1]);
    let fx0 = minx as f32 + 0.5;
    for py in miny..=maxy {
        let fy = py as f32 + 0.5;
        let mut w0 = (b[0] - fx0) * (c[1] - fy) - (b[1] - fy) * (c[0] - fx0);
        let mut w1 = (c[0] - fx0) * (a[1] - fy) - (c[1] - fy) * (a[0] - fx0);
        let mut w2 = (a[0] - fx0) * (b[1] - fy) - (a[1] - fy) * (b[0] - fx0);
        let row = (py as usize - y0) * ww;
        for px in minx..=maxx {
            let inside = w0 >= 0.0 && w1 >= 0.0 && w2 >= 0.0;
            let (l0, l1, l2) = (w0 * inv, w1 * inv, w2 * inv);
            w0 += d0;
            w1 += d1;
            w2 += d2;
            if !inside {
                continue;
            }
            let z = l0 * a[2] + l1 * b[2] + l2 * c[2];
            let k = row + (px as usize - x0);
            if z <= depth[k] {
                continue;
            }
            depth[k] = z;
            light[k] = [
                l0 * a[3] + l1 * b[3] + l2 * c[3],
                l0 * a[4] + l1 * b[4] + l2 * c[4],
                l0 * a[5] + l1 * b[5] + l2 * c[5],
                l0 * a[6] + l1 * b[6] + l2 * c[6],
            ];
        }
    }
}
